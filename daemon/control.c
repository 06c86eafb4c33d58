/* The control socket server; see control.h. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "loop.h"
#include "node.h"
#include "node_status.h"
#include "unixsock.h"

enum { REQUEST_MAX = 64 * 1024 };

struct control_client {
	struct control_server *srv;
	struct control_client *next;
	int fd;
	struct loop_source *src;
	char *in;
	size_t in_len;
	char *out; /* the response, once computed */
	size_t out_len, out_sent;
};

struct control_server {
	struct loop *loop;
	struct node *node;
	int fd;
	struct loop_source *src;
	char path[108]; /* sizeof(sockaddr_un.sun_path) */
	struct unixsock_id id;
	struct control_client *clients;
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

static void client_free(struct control_client *c)
{
	struct control_server *srv = c->srv;

	for (struct control_client **pp = &srv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	loop_del_fd(srv->loop, c->src);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_respond(struct control_client *c)
{
	json_error_t jerr;
	json_t *req = json_loadb(c->in, c->in_len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *resp = req ? control_handle(c->srv->node, req) : error_doc("request is not JSON");

	c->out = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	c->out_len = c->out ? strlen(c->out) : 0;
	json_decref(req);
	json_decref(resp);
	if (!c->out) {
		client_free(c);
		return;
	}
	loop_mod_fd(c->srv->loop, c->src, EPOLLOUT);
}

static void client_write(struct control_client *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->out_sent += (size_t)n;
	}
	client_free(c);
}

static void client_read(struct control_client *c)
{
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0 || c->in_len + (size_t)n > REQUEST_MAX) {
		client_free(c);
		return;
	}
	if (n > 0) {
		char *grown = realloc(c->in, c->in_len + (size_t)n + 1);
		if (!grown) {
			client_free(c);
			return;
		}
		c->in = grown;
		memcpy(c->in + c->in_len, buf, (size_t)n);
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
	}
	/* A request ends at the first newline or when the client shuts down
	 * its side. */
	if (n == 0 || memchr(buf, '\n', (size_t)n)) {
		if (c->in_len == 0) {
			client_free(c);
			return;
		}
		client_respond(c);
	}
}

static void on_client(void *ctx, uint32_t events)
{
	struct control_client *c = ctx;

	if (c->out)
		client_write(c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(c);
}

static void on_accept(void *ctx, uint32_t events)
{
	struct control_server *srv = ctx;
	struct control_client *c;
	int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!unixsock_peer_allowed(fd)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	*c = (struct control_client){ .srv = srv, .fd = fd };
	c->src = loop_add_fd(srv->loop, fd, EPOLLIN, on_client, c);
	if (!c->src) {
		close(fd);
		free(c);
		return;
	}
	c->next = srv->clients;
	srv->clients = c;
}

int control_server_start(struct control_server **out, struct loop *loop, struct node *node,
			 const char *path)
{
	struct control_server *srv;
	int fd;

	if (strlen(path) >= sizeof(srv->path))
		return -ENAMETOOLONG;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	*srv = (struct control_server){ .loop = loop, .node = node };
	strcpy(srv->path, path);
	fd = unixsock_listen(path, &srv->id);
	if (fd < 0) {
		free(srv);
		return fd;
	}
	srv->fd = fd;
	srv->src = loop_add_fd(loop, fd, EPOLLIN, on_accept, srv);
	if (!srv->src) {
		fd = -errno;
		close(srv->fd);
		unixsock_unlink(path, &srv->id);
		free(srv);
		return fd;
	}
	*out = srv;
	return 0;
}

void control_server_stop(struct control_server *srv)
{
	if (!srv)
		return;
	while (srv->clients)
		client_free(srv->clients);
	loop_del_fd(srv->loop, srv->src);
	close(srv->fd);
	unixsock_unlink(srv->path, &srv->id);
	free(srv);
}
