/* The control socket server; see control.h. */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lineserver.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "loop.h"
#include "node.h"
#include "node_status.h"

enum {
	REQUEST_MAX = 64 * 1024,
	/* Concurrent connections; more are accepted and closed. */
	CONTROL_MAX_CLIENTS = 32,
};

struct control_server {
	struct node *node;
	struct lineserver *lines;
};

/* Commands: each takes the request and returns the result or sets *error. */
typedef json_t *(*control_fn)(struct node *node, const json_t *req, const char **error);

static json_t *cmd_status(struct node *node, const json_t *req, const char **error)
{
	json_t *doc;

	node_status_refresh(node);
	doc = node_status_current(node);
	if (!doc)
		*error = "out of memory";
	return doc;
}

/* ---- the coordinator's admin commands ---- */

static struct coordinator *need_coordinator(struct node *node, const char **error)
{
	if (!node->coordinator)
		*error = "this node is not the coordinator (coordinator.enabled)";
	return node->coordinator;
}

static json_t *cmd_invite(struct node *node, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);
	json_int_t ttl = json_integer_value(json_object_get(req, "ttl"));

	if (!c)
		return NULL;
	return coordinator_invite(c, ttl, json_is_true(json_object_get(req, "reusable")), error);
}

static json_t *cmd_invite_list(struct node *node, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);

	return c ? coordinator_invites(c, error) : NULL;
}

static json_t *cmd_invite_revoke(struct node *node, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);
	json_int_t id = json_integer_value(json_object_get(req, "id"));

	if (!c)
		return NULL;
	if (id < 1) {
		*error = "invite revoke: which invite id? (see meshgate invite list)";
		return NULL;
	}
	return coordinator_invite_revoke(c, (uint64_t)id, error);
}

static json_t *cmd_nodes(struct node *node, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);

	return c ? coordinator_nodes(c, error) : NULL;
}

static json_t *cmd_nodes_remove(struct node *node, const json_t *req, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);

	return c ? coordinator_node_remove(c, json_string_value(json_object_get(req, "node")),
					   error)
		 : NULL;
}

static json_t *routes_set(struct node *node, const json_t *req, bool approved, const char **error)
{
	struct coordinator *c = need_coordinator(node, error);

	return c ? coordinator_routes_set(c, json_string_value(json_object_get(req, "node")),
					  json_object_get(req, "prefixes"), approved, error)
		 : NULL;
}

static json_t *cmd_routes_approve(struct node *node, const json_t *req, const char **error)
{
	return routes_set(node, req, true, error);
}

static json_t *cmd_routes_unapprove(struct node *node, const json_t *req, const char **error)
{
	return routes_set(node, req, false, error);
}

/* ---- joining (any node but the coordinator) ---- */

static json_t *cmd_join(struct node *node, const json_t *req, const char **error)
{
	char *err = node->mesh_error;
	const size_t errlen = sizeof(node->mesh_error);
	const char *code = json_string_value(json_object_get(req, "code"));

	if (!code) {
		*error = "join: which code?";
		return NULL;
	}
	if (node_mesh_client(node, err, errlen) < 0 ||
	    mesh_client_join(node->mesh_client, code, err, errlen) < 0) {
		*error = err;
		return NULL;
	}
	return mesh_client_join_status(node->mesh_client);
}

static json_t *cmd_join_status(struct node *node, const json_t *req, const char **error)
{
	if (!node->mesh_client)
		return json_pack("{s:s}", "state", "idle");
	return mesh_client_join_status(node->mesh_client);
}

static const struct {
	const char *name;
	control_fn fn;
} commands[] = {
	{ "status", cmd_status },
	{ "invite", cmd_invite },
	{ "invite_list", cmd_invite_list },
	{ "invite_revoke", cmd_invite_revoke },
	{ "nodes", cmd_nodes },
	{ "nodes_remove", cmd_nodes_remove },
	{ "routes_approve", cmd_routes_approve },
	{ "routes_unapprove", cmd_routes_unapprove },
	{ "join", cmd_join },
	{ "join_status", cmd_join_status },
};

static json_t *error_doc(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

json_t *control_handle(struct node *node, const json_t *request)
{
	const char *cmd = json_string_value(json_object_get(request, "cmd"));
	const char *error = NULL;
	json_t *result;

	if (!cmd)
		return error_doc("request has no \"cmd\"");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		result = commands[i].fn(node, request, &error);
		if (!result)
			return error_doc(error ? error : "failed");
		return json_pack("{s:b, s:o}", "ok", 1, "result", result);
	}
	return error_doc("unknown command");
}

/* One request per connection: the reply, then the connection closes. */
static bool on_request(void *ctx, const char *req, size_t len, char **reply, size_t *reply_len)
{
	struct control_server *srv = ctx;
	json_error_t jerr;
	json_t *doc = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *resp = doc ? control_handle(srv->node, doc) : error_doc("request is not JSON");

	*reply = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	*reply_len = *reply ? strlen(*reply) : 0;
	json_decref(doc);
	json_decref(resp);
	return false;
}

static const struct lineserver_ops control_lines = {
	.name = "control",
	.framing = LINESERVER_LINE,
	.max_request = REQUEST_MAX,
	.max_clients = CONTROL_MAX_CLIENTS,
	.handle = on_request,
};

int control_server_start(struct control_server **out, struct loop *loop, struct node *node,
			 const char *path)
{
	struct control_server *srv = calloc(1, sizeof(*srv));
	int ret;

	if (!srv)
		return -ENOMEM;
	srv->node = node;
	ret = lineserver_start(&srv->lines, loop, path, &control_lines, srv);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

void control_server_stop(struct control_server *srv)
{
	if (!srv)
		return;
	lineserver_stop(srv->lines);
	free(srv);
}
