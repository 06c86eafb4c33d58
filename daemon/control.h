/*
 * The control socket: a Unix stream socket (mode 0600, or 0660 with its
 * operator group) where the `meshgate` CLI asks the daemon things. One request per connection: the
 * client sends one line of JSON ({"cmd": "status", ...}) and the daemon answers with one JSON
 * document, {"ok": true, "result": ...} or {"ok": false, "error": "..."}, then closes the
 * connection. The socket is the line server (lineserver.h): at most 32 connections, a request of at
 * most 64 KiB.
 */
#ifndef MESHGATE_CONTROL_H
#define MESHGATE_CONTROL_H

#include <jansson.h>
#include <sys/types.h>

struct control_server;
struct loop;
struct node;

/* Listens on path (a stale socket file is replaced; a live one is not:
 * -EADDRINUSE). 0 or -errno. */
int control_server_start(struct control_server **out, struct loop *loop, struct node *node,
			 const char *path) __attribute__((warn_unused_result));
/* Opens the socket to an operator group: mode 0660, its members may use
 * every command (lineserver_share()). 0 or -errno; the socket stays 0600
 * on failure. */
int control_server_share(struct control_server *srv, gid_t group)
    __attribute__((warn_unused_result));
/* Closes every client and removes the socket file; NULL-safe. */
void control_server_stop(struct control_server *srv);

/*
 * Answers one request document: the dispatch table behind the socket, also
 * used by tests. Returns a new reference to the response document.
 */
json_t *control_handle(struct control_server *srv, const json_t *request);

/* Serves the commands of v (mesh/roles.h) with roles, next to the node's
 * own ("status"). The mesh roles register theirs when the node starts. */
struct mesh_command;
struct mesh_roles;
void control_server_register(struct control_server *srv, const struct mesh_command *v, size_t n,
			     struct mesh_roles *roles);

#endif
