/*
 * The node's views: its published status (node_status.h) and the status
 * server (webui/) that serves it, with the addresses it listens on. Default
 * (web.listen not set): 127.0.0.1:8080 and the node's own addresses, static
 * and mesh, on port 8080; web.listen replaces that list; web.enabled = false
 * turns the server off (the status is still published for the control
 * socket). The server answers from the published document only.
 */
#ifndef MESHGATE_NODE_WEB_H
#define MESHGATE_NODE_WEB_H

#include <stddef.h>

#include "netaddr.h"

struct node;
struct mg_config;

enum { NODE_WEB_DEFAULT_PORT = 8080 };

/*
 * After the node applied a change (start, reload, a netmap): republishes the
 * status with fresh system checks, then starts, reconfigures or stops
 * node->web to match the node's config and addresses. A listen address that cannot be bound is
 * logged, not fatal: the page is a view, the node runs without it.
 */
void node_web_sync(struct node *node);

/* Stops the server and the status publisher; NULL-safe on a node without
 * them. */
void node_web_stop(struct node *node);

/*
 * The addresses for cfg and the node's mesh addresses (see above). Returns
 * a malloc'd array (free it) and its length in *n; NULL when out of memory.
 */
union sockaddr_inet *node_web_listen(const struct mg_config *cfg, const struct prefix *mesh,
				     size_t n_mesh, size_t *n);

#endif
