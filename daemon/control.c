/* The control socket server; see control.h. */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lineserver.h"
#include "loop.h"
#include "mesh/audit.h"
#include "mesh/roles.h"
#include "node.h"
#include "node_prefs.h"
#include "node_status.h"

enum {
	REQUEST_MAX = 64 * 1024,
	/* Concurrent connections; more are accepted and closed. */
	CONTROL_MAX_CLIENTS = 32,
};

struct control_server {
	struct node *node;
	struct lineserver *lines;
	/* Commands registered by the mesh roles (control_server_register). */
	const struct mesh_command *mesh;
	size_t n_mesh;
	struct mesh_roles *roles;
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

/* `meshgate set`: the node's overrides of its config (node_prefs.h). */
static json_t *cmd_set(struct node *node, const json_t *req, const char **error)
{
	return node_prefs_set(node, req, error);
}

/* The node's own commands; the mesh roles' come registered. */
static const struct {
	const char *name;
	control_fn fn;
} commands[] = {
	{ "status", cmd_status },
	{ "set", cmd_set },
};

static json_t *error_doc(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

static json_t *result_doc(json_t *result, const char *error)
{
	if (!result)
		return error_doc(error ? error : "failed");
	return json_pack("{s:b, s:o}", "ok", 1, "result", result);
}

void control_server_register(struct control_server *srv, const struct mesh_command *v, size_t n,
			     struct mesh_roles *roles)
{
	srv->mesh = v;
	srv->n_mesh = n;
	srv->roles = roles;
}

/* The node's commands, then those the roles registered. */
static json_t *dispatch(struct node *node, const struct control_server *srv, const json_t *request)
{
	const char *cmd = json_string_value(json_object_get(request, "cmd"));
	const char *error = NULL;
	json_t *result;

	if (!cmd)
		return error_doc("request has no \"cmd\"");
	/* The command runs before result_doc() reads error: as arguments of
	 * one call, their order would be unspecified. */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0) {
			result = commands[i].fn(node, request, &error);
			return result_doc(result, error);
		}
	for (size_t i = 0; srv && i < srv->n_mesh; i++)
		if (strcmp(srv->mesh[i].name, cmd) == 0) {
			result = srv->mesh[i].fn(srv->roles, request, &error);
			return result_doc(result, error);
		}
	return error_doc("unknown command");
}

json_t *control_handle(struct control_server *srv, const json_t *request)
{
	return dispatch(srv->node, srv, request);
}

/* Who asks, for the audit log (mesh/audit.h): set over whatever the client
 * sent, so no client names another user. */
static void set_caller(json_t *doc, uid_t uid)
{
	char user[256];

	audit_user_name(uid, user, sizeof(user));
	json_object_set_new(doc, "caller",
			    json_pack("{s:s, s:I}", "user", user, "uid", (json_int_t)uid));
}

/* One request per connection: the reply, then the connection closes. */
static bool on_request(void *ctx, uid_t peer_uid, const char *req, size_t len, char **reply,
		       size_t *reply_len)
{
	struct control_server *srv = ctx;
	json_error_t jerr;
	json_t *doc = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *resp;

	if (json_is_object(doc))
		set_caller(doc, peer_uid);
	resp = doc ? dispatch(srv->node, srv, doc) : error_doc("request is not JSON");

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

int control_server_share(struct control_server *srv, gid_t group)
{
	return lineserver_share(srv->lines, group);
}

void control_server_stop(struct control_server *srv)
{
	if (!srv)
		return;
	lineserver_stop(srv->lines);
	free(srv);
}
