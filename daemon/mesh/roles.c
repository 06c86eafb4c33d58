/* The mesh roles and their control commands; see roles.h. */
#include "mesh/roles.h"

#include <errno.h>
#include <stdio.h>

#include "keys.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "mesh/devices.h"

int mesh_roles_start(struct mesh_roles *r, const struct mesh_host *host, char *errbuf,
		     size_t errlen)
{
	r->host = *host;
	if (host->cfg->coordinator.enabled)
		return coordinator_start(&r->coordinator, &r->host, errbuf, errlen);
	if (mesh_client_wanted(host->cfg))
		return mesh_client_start(&r->client, &r->host, errbuf, errlen);
	return 0;
}

int mesh_roles_client(struct mesh_roles *r, char *errbuf, size_t errlen)
{
	if (r->coordinator) {
		snprintf(errbuf, errlen, "this node is the coordinator");
		return -EEXIST;
	}
	if (r->client)
		return 0;
	return mesh_client_start(&r->client, &r->host, errbuf, errlen);
}

void mesh_roles_stop(struct mesh_roles *r)
{
	coordinator_stop(r->coordinator);
	r->coordinator = NULL;
	mesh_client_stop(r->client);
	r->client = NULL;
}

bool mesh_roles_member(const struct mesh_roles *r, const struct mg_config *cfg)
{
	return r->coordinator || r->client || cfg->coordinator.enabled || cfg->join ||
	       mesh_client_wanted(cfg);
}

/* ---- the coordinator's admin commands ---- */

static struct coordinator *need_coordinator(struct mesh_roles *r, const char **error)
{
	if (!r->coordinator)
		*error = "this node is not the coordinator (coordinator.enabled)";
	return r->coordinator;
}

static json_t *cmd_invite(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);
	json_int_t ttl = json_integer_value(json_object_get(req, "ttl"));

	if (!c)
		return NULL;
	return coordinator_invite(c, ttl, json_is_true(json_object_get(req, "reusable")), error);
}

static json_t *cmd_invite_list(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);

	return c ? coordinator_invites(c, error) : NULL;
}

static json_t *cmd_invite_revoke(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);
	json_int_t id = json_integer_value(json_object_get(req, "id"));

	if (!c)
		return NULL;
	if (id < 1) {
		*error = "invite revoke: which invite id? (see meshgate invite list)";
		return NULL;
	}
	return coordinator_invite_revoke(c, (uint64_t)id, error);
}

static json_t *cmd_nodes(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);

	return c ? coordinator_nodes(c, error) : NULL;
}

static json_t *cmd_nodes_remove(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);

	return c ? coordinator_node_remove(c, json_string_value(json_object_get(req, "node")),
					   error)
		 : NULL;
}

static json_t *routes_set(struct mesh_roles *r, const json_t *req, bool approved,
			  const char **error)
{
	struct coordinator *c = need_coordinator(r, error);

	return c ? coordinator_routes_set(c, json_string_value(json_object_get(req, "node")),
					  json_object_get(req, "prefixes"), approved, error)
		 : NULL;
}

static json_t *cmd_routes_approve(struct mesh_roles *r, const json_t *req, const char **error)
{
	return routes_set(r, req, true, error);
}

static json_t *cmd_routes_unapprove(struct mesh_roles *r, const json_t *req, const char **error)
{
	return routes_set(r, req, false, error);
}

/* ---- devices: stock WireGuard clients attached to this node ---- */

/* device_add and device_remove on a member: the request goes to the
 * coordinator over the control channel; the answer is
 * {"state": "pending", "request": ID}, then polled with device_status. */
static json_t *member_device_add(struct mesh_roles *r, const char *name, const uint8_t key[32],
				 bool exit_node, const char **error)
{
	json_t *out;

	if (!r->client) {
		*error = "this node is in no mesh (meshgate join, or coordinator.enabled)";
		return NULL;
	}
	out = key ? mesh_client_device_add(r->client, name, key, exit_node, r->error,
					   sizeof(r->error))
		  : mesh_client_device_remove(r->client, name, r->error, sizeof(r->error));
	if (!out)
		*error = r->error;
	return out;
}

static json_t *member_device_remove(struct mesh_roles *r, const char *name, const char **error)
{
	return member_device_add(r, name, NULL, false, error);
}

/* {"cmd": "device_add", "name", "public_key": base64, "exit": bool}: the
 * key pair is made by the CLI; the daemon never sees the private key. */
static json_t *cmd_device_add(struct mesh_roles *r, const json_t *req, const char **error)
{
	const json_t *name = json_object_get(req, "name"),
		     *key = json_object_get(req, "public_key");
	const json_t *exit_node = json_object_get(req, "exit");
	uint8_t pub[KEY_LEN];
	json_t *result;

	if (!json_is_string(name)) {
		*error = "device add: which name?";
		return NULL;
	}
	if (!json_is_string(key) || json_string_length(key) != KEY_B64_LEN ||
	    !key_from_base64(pub, json_string_value(key))) {
		*error = "device add: public_key is not a WireGuard key (44 characters of base64)";
		return NULL;
	}
	if (exit_node && !json_is_boolean(exit_node)) {
		*error = "device add: exit must be true or false";
		return NULL;
	}
	if (!r->coordinator)
		return member_device_add(r, json_string_value(name), pub, json_is_true(exit_node),
					 error);
	result = coordinator_device_add(r->coordinator, json_string_value(name), pub,
					json_is_true(exit_node), r->error, sizeof(r->error));
	*error = r->error;
	return result;
}

/* {"cmd": "device_remove", "name"} */
static json_t *cmd_device_remove(struct mesh_roles *r, const json_t *req, const char **error)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *result;

	if (!name) {
		*error = "device remove: which device?";
		return NULL;
	}
	if (!r->coordinator)
		return member_device_remove(r, name, error);
	result = coordinator_device_remove(r->coordinator, name, r->error, sizeof(r->error));
	*error = r->error;
	return result;
}

/* {"cmd": "device_status", "request": ID}: a member's request pending,
 * done, or its error. The coordinator answers its own at once: it has
 * none. */
static json_t *cmd_device_status(struct mesh_roles *r, const json_t *req, const char **error)
{
	const json_t *v = json_object_get(req, "request");
	char id[24];
	json_t *out;

	if (json_is_integer(v))
		snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(id, sizeof(id), "%s", json_is_string(v) ? json_string_value(v) : "");
	if (!id[0]) {
		*error = "device status: which request?";
		return NULL;
	}
	if (!r->client) {
		snprintf(r->error, sizeof(r->error), "no device request %s", id);
		*error = r->error;
		return NULL;
	}
	out = mesh_client_device_status(r->client, id, r->error, sizeof(r->error));
	if (!out)
		*error = r->error;
	return out;
}

/* ---- joining (any node but the coordinator) ---- */

static json_t *cmd_join(struct mesh_roles *r, const json_t *req, const char **error)
{
	const char *code = json_string_value(json_object_get(req, "code"));

	if (!code) {
		*error = "join: which code?";
		return NULL;
	}
	if (mesh_roles_client(r, r->error, sizeof(r->error)) < 0 ||
	    mesh_client_join(r->client, code, r->error, sizeof(r->error)) < 0) {
		*error = r->error;
		return NULL;
	}
	return mesh_client_join_status(r->client);
}

static json_t *cmd_join_status(struct mesh_roles *r, const json_t *req, const char **error)
{
	if (!r->client)
		return json_pack("{s:s}", "state", "idle");
	return mesh_client_join_status(r->client);
}

const struct mesh_command mesh_commands[] = {
	{ "invite", cmd_invite },
	{ "invite_list", cmd_invite_list },
	{ "invite_revoke", cmd_invite_revoke },
	{ "nodes", cmd_nodes },
	{ "nodes_remove", cmd_nodes_remove },
	{ "routes_approve", cmd_routes_approve },
	{ "routes_unapprove", cmd_routes_unapprove },
	{ "device_add", cmd_device_add },
	{ "device_remove", cmd_device_remove },
	{ "device_status", cmd_device_status },
	{ "join", cmd_join },
	{ "join_status", cmd_join_status },
};

const size_t mesh_n_commands = sizeof(mesh_commands) / sizeof(mesh_commands[0]);
