/* The mesh roles' host; see node_mesh.h. */
#include "node_mesh.h"

#include <stdio.h>
#include <string.h>

#include "node.h"

static int host_reconfigure(void *ctx, const struct mesh_view *v, char *errbuf, size_t errlen)
{
	return node_set_mesh(ctx, v, errbuf, errlen);
}

static uint16_t host_listen_port(void *ctx)
{
	return node_listen_port(ctx);
}

static uint32_t host_fwmark(void *ctx)
{
	return node_fwmark(ctx);
}

static bool host_static_dh(void *ctx, uint8_t out[32], const uint8_t pub[32])
{
	struct node *node = ctx;

	return wg_device_static_dh(node->dev, out, pub);
}

static bool host_peer_facts(void *ctx, const uint8_t key[32], struct mesh_peer_facts *out)
{
	struct node *node = ctx;
	const struct wg_peer *p = wg_device_find_peer(node->dev, key);

	if (!p)
		return false;
	*out = (struct mesh_peer_facts){ .has_endpoint = p->has_endpoint,
					 .session = wg_peer_has_session(p),
					 .last_handshake = p->last_handshake.tv_sec,
					 .handshake_attempts = p->handshake_attempts };
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	if (p->has_endpoint)
		out->endpoint = p->endpoint;
	return true;
}

static bool host_peer_kick(void *ctx, const uint8_t key[32])
{
	struct node *node = ctx;
	struct wg_peer *p = wg_device_find_peer(node->dev, key);
	uint64_t before;

	if (!p)
		return false;
	before = p->last_sent_handshake;
	wg_peer_send_handshake(p, node->dp.udp_out);
	return p->last_sent_handshake != before;
}

static void host_peer_set_endpoint(void *ctx, const uint8_t key[32], const struct wg_endpoint *ep)
{
	struct node *node = ctx;
	struct wg_peer *p = wg_device_find_peer(node->dev, key);

	if (p)
		wg_peer_set_endpoint(p, ep);
}

/* The engine's relay path check, handed on to the role by key. */
static bool node_relay_check(void *ctx, const struct wg_peer *peer, uint32_t relay_via)
{
	struct node *node = ctx;

	return node->mesh_relay_check(node->mesh_relay_role, peer->public_key, relay_via);
}

static void host_set_hooks(void *ctx, const struct dataplane_mesh_ops *ops,
			   bool (*relay_check)(void *role, const uint8_t key[32],
					       uint32_t relay_via),
			   void *role)
{
	struct node *node = ctx;

	if (!ops) {
		if (node->dp.mesh.ctx == role)
			dataplane_set_mesh_ops(&node->dp, NULL, NULL);
		if (node->mesh_relay_role == role) {
			wg_device_set_relay_check(node->dev, NULL, NULL);
			node->mesh_relay_check = NULL;
			node->mesh_relay_role = NULL;
		}
		return;
	}
	dataplane_set_mesh_ops(&node->dp, ops, role);
	if (relay_check) {
		node->mesh_relay_check = relay_check;
		node->mesh_relay_role = role;
		wg_device_set_relay_check(node->dev, node_relay_check, node);
	}
}

static struct pkt_batch *host_udp_out(void *ctx)
{
	struct node *node = ctx;

	return node->dp.udp_out;
}

static void host_flush(void *ctx)
{
	struct node *node = ctx;

	dataplane_flush(&node->dp);
}

static const struct mesh_host_ops node_mesh_ops = {
	.reconfigure = host_reconfigure,
	.listen_port = host_listen_port,
	.fwmark = host_fwmark,
	.static_dh = host_static_dh,
	.peer_facts = host_peer_facts,
	.peer_kick = host_peer_kick,
	.peer_set_endpoint = host_peer_set_endpoint,
	.set_hooks = host_set_hooks,
	.udp_out = host_udp_out,
	.flush = host_flush,
};

void node_mesh_host(struct node *node, struct mesh_host *out)
{
	*out = (struct mesh_host){ .ops = &node_mesh_ops,
				   .ctx = node,
				   .loop = node->loop,
				   .resolver = node->resolver,
				   .cfg = &node->cfg,
				   .tun_name = node->dp.tun.name,
				   .public_key = node->public_key,
				   .counters = &node->mesh_counters };
}

int node_mesh_start(struct node *node, char *errbuf, size_t errlen)
{
	struct mesh_host host;

	node_mesh_host(node, &host);
	return mesh_roles_start(&node->roles, &host, errbuf, errlen);
}
