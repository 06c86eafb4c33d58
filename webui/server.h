/*
 * The local status server (DESIGN.md "Web"): the page and its assets, the
 * status document as JSON, Prometheus metrics and a health check, over
 * libmicrohttpd driven from the daemon's event loop (no threads): each
 * listen address is one MHD daemon in epoll mode whose epoll fd sits in our
 * loop, and one timerfd carries MHD's connection timeouts.
 *
 * Read-only: GET and HEAD only, Host and cross-site checks on every request
 * (policy.h), strict security headers on every response. The server sees
 * only the status document the owner hands it, which holds no secrets.
 *
 * The snapshot rule: the document is one the owner published beforehand
 * (daemon/status.h); a request takes a reference to it and renders JSON or
 * metrics from it, and never reaches the engine, the router, netlink, /proc
 * or a database. How fresh it is is the owner's business (the node
 * republishes on each change and every second).
 */
#ifndef MESHGATE_WEBUI_SERVER_H
#define MESHGATE_WEBUI_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "netaddr.h"

struct loop;
struct web_server;

struct web_ops {
	/* The published status document: a new reference, or NULL (answered
	 * with 500). Called per request: it hands out a snapshot and does no
	 * work of its own. */
	json_t *(*status)(void *ctx);
};

enum {
	WEB_CONNECTION_LIMIT = 64, /* per listen address */
	WEB_PER_IP_CONNECTION_LIMIT = 8,
	WEB_CONNECTION_TIMEOUT = 10, /* seconds of silence before a connection closes */
	WEB_CONNECTION_MEMORY = 32 * 1024,
};

/* Returns a new server listening nowhere yet; free with web_server_stop().
 * NULL when out of resources (errno set). */
struct web_server *web_server_new(struct loop *loop, const struct web_ops *ops, void *ctx);

/*
 * Makes the server listen on exactly these addresses: listeners that stay
 * keep their connections, new ones start, others stop. Returns 0, or the
 * first error (-errno) with errbuf naming the address; the addresses that
 * worked listen anyway.
 */
int web_server_set_listen(struct web_server *srv, const union sockaddr_inet *addrs, size_t n,
			  char *errbuf, size_t errlen);

/* Stops listening, closes every connection and frees srv; NULL-safe. */
void web_server_stop(struct web_server *srv);

#endif
