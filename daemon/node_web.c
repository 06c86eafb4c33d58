/* The node's status server; see node_web.h. */
#include "node_web.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "node_status.h"
#include "webui/server.h"

/* Per request: the published document, nothing built. */
static json_t *web_status(void *ctx)
{
	return node_status_current(ctx);
}

static const struct web_ops node_web_ops = { .status = web_status };

static void stop_server(struct node *node)
{
	web_server_stop(node->web);
	node->web = NULL;
}

static void host_sockaddr(const struct prefix *p, union sockaddr_inet *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (p->family == AF_INET) {
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons(NODE_WEB_DEFAULT_PORT);
		memcpy(&sa->in.sin_addr, p->addr, 4);
	} else {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(NODE_WEB_DEFAULT_PORT);
		memcpy(&sa->in6.sin6_addr, p->addr, 16);
	}
}

union sockaddr_inet *node_web_listen(const struct mg_config *cfg, const struct prefix *mesh,
				     size_t n_mesh, size_t *n)
{
	size_t max = cfg->web.listen.n + cfg->addresses.n + n_mesh;
	union sockaddr_inet *v = calloc(max + 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < cfg->web.listen.n; i++)
		v[(*n)++] = cfg->web.listen.v[i];
	if (!cfg->web.listen_default)
		return v;
	for (size_t i = 0; i < cfg->addresses.n; i++)
		host_sockaddr(&cfg->addresses.v[i], &v[(*n)++]);
	for (size_t i = 0; i < n_mesh; i++)
		host_sockaddr(&mesh[i], &v[(*n)++]);
	return v;
}

void node_web_sync(struct node *node)
{
	union sockaddr_inet *addrs;
	char err[256];
	size_t n;

	node_status_changed(node);
	if (!node->cfg.web.enabled) {
		stop_server(node);
		return;
	}
	if (!node->web)
		node->web = web_server_new(node->loop, &node_web_ops, node);
	addrs = node_web_listen(&node->cfg, node->mesh_addresses, node->n_mesh_addresses, &n);
	if (!node->web || !addrs)
		log_err("web: out of resources; no status page");
	else if (web_server_set_listen(node->web, addrs, n, err, sizeof(err)) < 0)
		log_err("%s", err);
	free(addrs);
}

void node_web_stop(struct node *node)
{
	stop_server(node);
	node_status_stop(node);
}
