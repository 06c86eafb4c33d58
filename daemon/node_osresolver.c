/* The node's OS resolver; see node_osresolver.h. */
#include "node_osresolver.h"

#include "node.h"

static bool has_v6(const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == AF_INET6)
			return true;
	return false;
}

/*
 * The domain is the node's dns.domain: a member's should be its netmap's
 * once the node's view carries it. Split domains come with the subnet
 * routers' offers, which the view does not carry yet either.
 */
void node_osresolver_update(struct node *node)
{
	const struct mg_config *cfg = &node->cfg;
	struct resolved_want want = {
		.domain = cfg->dns.domain[0] ? cfg->dns.domain : NULL,
		.v6 = has_v6(node->mesh_addresses, node->n_mesh_addresses) ||
		      has_v6(cfg->addresses.v, cfg->addresses.n),
		.exit_node = cfg->use_exit_node.peer[0] != '\0',
	};

	if (!node->osresolver_ready) {
		osresolver_init(&node->osresolver, cfg->state_dir, node->dp.tun.ifindex);
		node->osresolver_ready = true;
	}
	osresolver_set(&node->osresolver,
		       cfg->dns.manage_resolv_conf && cfg->dns.enabled ? &want : NULL);
}

void node_osresolver_stop(struct node *node)
{
	if (node->osresolver_ready)
		osresolver_stop(&node->osresolver);
	node->osresolver_ready = false;
}

json_t *node_osresolver_json(const struct node *node)
{
	const struct osresolver *r = &node->osresolver;
	bool ready = node->osresolver_ready;
	const char *method = ready ? osresolver_method_name(r->method) : NULL;

	return json_pack("{s:b, s:s?, s:s?}", "managed", ready && r->managed, "method", method,
			 "error", ready && r->error[0] ? r->error : NULL);
}
