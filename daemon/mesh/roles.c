/* The mesh roles and their control commands; see roles.h. */
#include "mesh/roles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "keys.h"
#include "log.h"
#include "mesh/apply.h"
#include "mesh/audit.h"
#include "mesh/client.h"
#include "mesh/client_state.h"
#include "mesh/coordinator.h"
#include "mesh/devices.h"
#include "mesh/invite.h"
#include "mesh/registry.h"

/* ---- the role file ---- */

static void role_path(const struct mg_config *cfg, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", cfg->state_dir, file);
}

bool mesh_roles_coordinator_wanted(const struct mg_config *cfg, enum mesh_role_origin *origin)
{
	char path[4096];
	json_t *doc;
	const char *role;
	bool coordinator = cfg->coordinator.enabled;
	enum mesh_role_origin from = MESH_ROLE_CONFIG;

	role_path(cfg, MESH_ROLE_FILE, path, sizeof(path));
	doc = json_load_file(path, 0, NULL);
	role = json_string_value(json_object_get(doc, "role"));
	if (role && strcmp(role, "coordinator") == 0) {
		coordinator = true;
		from = MESH_ROLE_INIT;
	} else if (role && strcmp(role, "member") == 0) {
		coordinator = false;
		from = MESH_ROLE_JOIN;
	}
	json_decref(doc);
	if (origin)
		*origin = from;
	return coordinator;
}

const char *mesh_roles_origin_name(enum mesh_role_origin origin)
{
	return origin == MESH_ROLE_INIT   ? "meshgate init"
	       : origin == MESH_ROLE_JOIN ? "meshgate join"
					  : "config";
}

void mesh_roles_origin_describe(const struct mg_config *cfg, enum mesh_role_origin origin,
				char *out, size_t len)
{
	if (origin == MESH_ROLE_CONFIG)
		snprintf(out, len, "coordinator.enabled");
	else
		snprintf(out, len, "%s, %.200s/%s", mesh_roles_origin_name(origin), cfg->state_dir,
			 MESH_ROLE_FILE);
}

int mesh_roles_check_join(const struct mg_config *cfg, char *errbuf, size_t errlen)
{
	enum mesh_role_origin origin;
	char from[300];

	if (!cfg->join || !mesh_roles_coordinator_wanted(cfg, &origin) ||
	    origin == MESH_ROLE_CONFIG)
		return 0;
	mesh_roles_origin_describe(cfg, origin, from, sizeof(from));
	/* `meshgate join` sets the registry aside and rewrites the role file;
	 * removing the file by hand would strand the registry's members. */
	snprintf(errbuf, errlen,
		 "join: this node is the coordinator (%s), which joins no other mesh; remove "
		 "join; to make it a member of the invite's mesh, run meshgate join CODE once "
		 "it runs (--force when it has members)",
		 from);
	return -EINVAL;
}

static int role_write(const struct mg_config *cfg, const char *role, char *errbuf, size_t errlen)
{
	char path[4096], text[64];
	int ret, n = snprintf(text, sizeof(text), "{\"role\": \"%s\"}\n", role);

	role_path(cfg, MESH_ROLE_FILE, path, sizeof(path));
	ret = atomicfile_write(path, text, (size_t)n, 0600, 0);
	if (ret < 0)
		snprintf(errbuf, errlen, "cannot write %.200s: %s", path, strerror(-ret));
	return ret;
}

int mesh_roles_start(struct mesh_roles *r, const struct mesh_host *host, char *errbuf,
		     size_t errlen)
{
	int ret;

	r->host = *host;
	ret = mesh_roles_check_join(host->cfg, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (mesh_roles_coordinator_wanted(host->cfg, &r->origin)) {
		r->coordinator_starting = true;
		ret = coordinator_start(&r->coordinator, &r->host, errbuf, errlen);
		r->coordinator_starting = false;
		return ret;
	}
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
	return r->coordinator || r->client || r->coordinator_starting ||
	       mesh_roles_coordinator_wanted(cfg, NULL) || cfg->join || mesh_client_wanted(cfg);
}

/* ---- changing roles at run time ---- */

/* Moves state_dir/REGISTRY_FILE (and SQLite's -wal and -shm, if any) to
 * REGISTRY_FILE.<unix time>: set aside, never deleted. */
static int registry_set_aside(const struct mg_config *cfg, char *errbuf, size_t errlen)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char from[4096], to[4200];
	long long now = (long long)time(NULL);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s%s", cfg->state_dir, REGISTRY_FILE, suffixes[i]);
		snprintf(to, sizeof(to), "%s/%s.%lld%s", cfg->state_dir, REGISTRY_FILE, now,
			 suffixes[i]);
		if (rename(from, to) < 0 && errno != ENOENT) {
			int err = errno;
			snprintf(errbuf, errlen, "cannot set %.200s aside: %s", from,
				 strerror(err));
			return -err;
		}
		if (i == 0)
			log_info("mesh: the coordinator's registry is kept as %s", to);
	}
	return 0;
}

/* Stops the coordinator and takes its mesh off the node: the node's mesh
 * addresses and peers go, its registry is set aside. */
static int coordinator_leave(struct mesh_roles *r, char *errbuf, size_t errlen)
{
	static const struct mesh_view no_view = { 0 };
	int ret;

	coordinator_stop(r->coordinator);
	r->coordinator = NULL;
	ret = r->host.ops->reconfigure(r->host.ctx, &no_view, errbuf, errlen);
	if (ret == 0)
		ret = registry_set_aside(r->host.cfg, errbuf, errlen);
	if (ret == 0)
		ret = role_write(r->host.cfg, "member", errbuf, errlen);
	if (ret == 0)
		r->origin = MESH_ROLE_JOIN;
	return ret;
}

/* Refuses to leave a coordinator with members unless force; the error
 * names how many would be stranded. */
static int coordinator_may_leave(struct mesh_roles *r, bool force, char *errbuf, size_t errlen)
{
	size_t nodes, devices;

	if (coordinator_members(r->coordinator, &nodes, &devices) < 0) {
		snprintf(errbuf, errlen, "cannot read the registry");
		return -EIO;
	}
	if (force || nodes + devices == 0)
		return 0;
	snprintf(errbuf, errlen,
		 "this node is the coordinator of a mesh with %zu other node(s) and %zu "
		 "device(s), which joining another mesh would strand; meshgate join --force "
		 "CODE does it anyway (the registry is set aside, not deleted)",
		 nodes, devices);
	return -EBUSY;
}

/* Makes this node a coordinator (`meshgate init`): kept in the role file. A
 * member of a mesh stays one. */
static int roles_init(struct mesh_roles *r, char *errbuf, size_t errlen)
{
	int ret;

	if (r->coordinator)
		return 0;
	if (r->client && mesh_client_wanted(r->host.cfg)) {
		snprintf(
		    errbuf, errlen,
		    "this node is a member of a mesh (%.150s/%s); it cannot be a coordinator too",
		    r->host.cfg->state_dir, MESH_STATE_FILE);
		return -EEXIST;
	}
	mesh_client_stop(r->client);
	r->client = NULL;
	r->coordinator_starting = true;
	ret = coordinator_start(&r->coordinator, &r->host, errbuf, errlen);
	r->coordinator_starting = false;
	if (ret == 0)
		ret = role_write(r->host.cfg, "coordinator", errbuf, errlen);
	if (ret == 0) {
		r->origin = MESH_ROLE_INIT;
		log_info("mesh: this node is now a coordinator (meshgate init)");
	} else if (r->coordinator) {
		coordinator_stop(r->coordinator);
		r->coordinator = NULL;
	}
	return ret;
}

/* ---- the coordinator's admin commands ---- */

static struct coordinator *need_coordinator(struct mesh_roles *r, const char **error)
{
	if (!r->coordinator)
		*error = "this node is not a coordinator (meshgate init makes it one)";
	return r->coordinator;
}

static json_t *cmd_invite(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);
	json_int_t ttl = json_integer_value(json_object_get(req, "ttl"));
	struct audit_actor who;

	if (!c)
		return NULL;
	audit_actor_from_request(req, &who);
	return coordinator_invite(c, ttl, json_is_true(json_object_get(req, "reusable")), &who,
				  error);
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
	struct audit_actor who;

	if (!c)
		return NULL;
	if (id < 1) {
		*error = "invite revoke: which invite id? (see meshgate invite list)";
		return NULL;
	}
	audit_actor_from_request(req, &who);
	return coordinator_invite_revoke(c, (uint64_t)id, &who, error);
}

static json_t *cmd_nodes(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);

	return c ? coordinator_nodes(c, error) : NULL;
}

static json_t *cmd_nodes_remove(struct mesh_roles *r, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(r, error);
	struct audit_actor who;

	audit_actor_from_request(req, &who);
	return c ? coordinator_node_remove(c, json_string_value(json_object_get(req, "node")), &who,
					   error)
		 : NULL;
}

static json_t *routes_set(struct mesh_roles *r, const json_t *req, bool approved,
			  const char **error)
{
	struct coordinator *c = need_coordinator(r, error);
	struct audit_actor who;

	audit_actor_from_request(req, &who);
	return c ? coordinator_routes_set(c, json_string_value(json_object_get(req, "node")),
					  json_object_get(req, "prefixes"), approved, &who, error)
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

/* {"cmd": "log", "since": UNIX_TIME, "limit": N, "after": ID}: a page of
 * the audit log, oldest first (coordinator_audit_log); since 0 and limit 0
 * (or absent): all of it; after absent or 0: from the first entry. */
static json_t *cmd_log(struct mesh_roles *r, const json_t *req, const char **error)
{
	json_int_t since = json_integer_value(json_object_get(req, "since"));
	json_int_t limit = json_integer_value(json_object_get(req, "limit"));
	json_int_t after = json_integer_value(json_object_get(req, "after"));

	if (!r->coordinator) {
		*error = "the audit log is kept by the coordinator: run meshgate log there";
		return NULL;
	}
	if (limit < 0 || since < 0 || after < 0) {
		*error = "log: since, limit and after are 0 or more";
		return NULL;
	}
	return coordinator_audit_log(r->coordinator, since,
				     limit ? (size_t)limit : REGISTRY_AUDIT_KEEP, after, error);
}

/* ---- the access policy ---- */

/* {"cmd": "policy_check", "from", "to", "proto", "port"}: the coordinator
 * holds the policy and the mesh it is checked against. */
static json_t *cmd_policy_check(struct mesh_roles *r, const json_t *req, const char **error)
{
	if (!r->coordinator) {
		*error = "policy check runs on the coordinator, which holds the policy: run it "
			 "there";
		return NULL;
	}
	return coordinator_policy_check(r->coordinator, req, error);
}

/* {"cmd": "policy_show"}: the filter this node enforces, on any node. */
static json_t *cmd_policy_show(struct mesh_roles *r, const json_t *req, const char **error)
{
	if (r->coordinator)
		return coordinator_policy_show(r->coordinator, error);
	if (r->client)
		return mesh_client_policy_show(r->client);
	return mesh_apply_policy_json(NULL);
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
		*error = "this node is in no mesh (meshgate join CODE, or meshgate init)";
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
	struct audit_actor who;
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
	audit_actor_from_request(req, &who);
	result = coordinator_device_add(r->coordinator, json_string_value(name), pub,
					json_is_true(exit_node), &who, r->error, sizeof(r->error));
	*error = r->error;
	return result;
}

/* {"cmd": "device_remove", "name"} */
static json_t *cmd_device_remove(struct mesh_roles *r, const json_t *req, const char **error)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct audit_actor who;
	json_t *result;

	if (!name) {
		*error = "device remove: which device?";
		return NULL;
	}
	if (!r->coordinator)
		return member_device_remove(r, name, error);
	audit_actor_from_request(req, &who);
	result = coordinator_device_remove(r->coordinator, name, &who, r->error, sizeof(r->error));
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

/* ---- init and join ---- */

/* {"cmd": "init"}: {"role": "coordinator", "origin", "changed": bool}. */
static json_t *cmd_init(struct mesh_roles *r, const json_t *req, const char **error)
{
	bool was = r->coordinator != NULL;
	struct audit_actor who;

	if (roles_init(r, r->error, sizeof(r->error)) < 0) {
		*error = r->error;
		return NULL;
	}
	audit_actor_from_request(req, &who);
	if (!was && coordinator_audit_role(r->coordinator, &who, true) < 0)
		log_warn("mesh: cannot write the audit log's create-mesh entry");
	return json_pack("{s:s, s:s, s:b}", "role", "coordinator", "origin",
			 mesh_roles_origin_name(r->origin), "changed", !was);
}

/* On a coordinator: leaves its mesh for the invite's (see
 * coordinator_may_leave), unless the code is not one or is its own. */
static int join_from_coordinator(struct mesh_roles *r, const char *code, bool force,
				 const struct audit_actor *who, char *errbuf, size_t errlen)
{
	struct invite inv;
	int ret = invite_decode(code, &inv, errbuf, errlen);

	if (ret < 0)
		return ret;
	if (memcmp(inv.coordinator_key, r->host.public_key, KEY_LEN) == 0) {
		snprintf(errbuf, errlen, "this invite is this node's own: it joins other nodes");
		ret = -EINVAL;
	}
	invite_clear(&inv);
	if (ret == 0)
		ret = coordinator_may_leave(r, force, errbuf, errlen);
	if (ret == 0 && coordinator_audit_role(r->coordinator, who, false) < 0)
		log_warn("mesh: cannot write the audit log's leave-mesh entry");
	if (ret == 0)
		ret = coordinator_leave(r, errbuf, errlen);
	return ret;
}

/* {"cmd": "join", "code", "force": bool} */
static json_t *cmd_join(struct mesh_roles *r, const json_t *req, const char **error)
{
	const char *code = json_string_value(json_object_get(req, "code"));
	struct audit_actor who;

	if (!code) {
		*error = "join: which code?";
		return NULL;
	}
	audit_actor_from_request(req, &who);
	if (r->coordinator &&
	    join_from_coordinator(r, code, json_is_true(json_object_get(req, "force")), &who,
				  r->error, sizeof(r->error)) < 0) {
		*error = r->error;
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
	{ "init", cmd_init },
	{ "invite", cmd_invite },
	{ "invite_list", cmd_invite_list },
	{ "invite_revoke", cmd_invite_revoke },
	{ "nodes", cmd_nodes },
	{ "nodes_remove", cmd_nodes_remove },
	{ "routes_approve", cmd_routes_approve },
	{ "routes_unapprove", cmd_routes_unapprove },
	{ "log", cmd_log },
	{ "device_add", cmd_device_add },
	{ "device_remove", cmd_device_remove },
	{ "device_status", cmd_device_status },
	{ "policy_check", cmd_policy_check },
	{ "policy_show", cmd_policy_show },
	{ "join", cmd_join },
	{ "join_status", cmd_join_status },
};

const size_t mesh_n_commands = sizeof(mesh_commands) / sizeof(mesh_commands[0]);
