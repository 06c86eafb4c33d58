/* The path to each peer: direct, or relayed through the coordinator; see client_paths.h. */
#include "mesh/client_paths.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mesh/client_role.h"

struct path *client_path_find(struct mesh_client *mc, const uint8_t *key)
{
	for (size_t i = 0; i < mc->n_paths; i++)
		if (!memcmp(mc->paths[i].key, key, KEY_LEN))
			return &mc->paths[i];
	return NULL;
}

/* Keeps one path per non-coordinator peer; a new one that is online and
 * has no session yet starts a handshake. */
void client_paths_update(struct mesh_client *mc)
{
	struct path *next = calloc(mc->nm.n_peers + 1, sizeof(*next));
	size_t k = 0;

	if (!next)
		return;
	for (size_t i = 0; mc->have_nm && i < mc->nm.n_peers; i++) {
		const struct netmap_node *nn = &mc->nm.peers[i];
		struct path *old = client_path_find(mc, nn->public_key);
		struct mesh_peer_facts f;
		bool known = mc->host.ops->peer_facts(mc->host.ctx, nn->public_key, &f);
		if (nn->coordinator)
			continue;
		next[k] = old ? *old : (struct path){ .since = now_ns() };
		/* A new netmap may bring new candidates (a peer's NAT mapping
		 * changed): relayed peers try them at the next tick. */
		next[k].last_probe = 0;
		memcpy(next[k].key, nn->public_key, KEY_LEN);
		next[k].id = nn->id;
		if (!old && known && !f.session && nn->online)
			mc->host.ops->peer_kick(mc->host.ctx, nn->public_key);
		k++;
	}
	free(mc->paths);
	mc->paths = next;
	mc->n_paths = k;
	mc->host.ops->flush(mc->host.ctx);
}

/* ---- paths ---- */

static void to_relay(struct mesh_client *mc, const struct mesh_peer_facts *f, struct path *path)
{
	struct wg_endpoint ep = { 0 };

	memcpy(&ep.addr, &mc->relay_addr, sockaddr_len(&mc->relay_addr));
	ep.relay_via = path->id;
	mc->host.ops->peer_set_endpoint(mc->host.ctx, path->key, &ep);
	log_info("mesh: peer %s: no direct path answered; relaying", f->name);
	mc->host.ops->peer_kick(mc->host.ctx, path->key);
	path->last_probe = now_ns();
}

static void path_tick(struct mesh_client *mc, struct path *path, uint64_t now)
{
	struct mesh_peer_facts f;
	time_t wall = time(NULL);
	bool fresh;

	if (!mc->host.ops->peer_facts(mc->host.ctx, path->key, &f))
		return;
	fresh = f.last_handshake && wall - f.last_handshake < REJECT_AFTER_TIME;
	if (f.has_endpoint && wg_endpoint_is_relay(&f.endpoint)) {
		/* Copies of this initiation go to the direct candidates: one
		 * that answers takes over through roaming. The engine sends
		 * none within REKEY_TIMEOUT of its last handshake message, a
		 * response to the peer's own probe included: then the probe
		 * is due again at the next tick, or two peers probing at the
		 * same pace could silence one side for good. */
		if (now - path->last_probe > (uint64_t)MESH_RELAY_PROBE_S * NS &&
		    mc->host.ops->peer_kick(mc->host.ctx, path->key))
			path->last_probe = now;
		return;
	}
	if (fresh && f.session) {
		path->since = now;
		return;
	}
	if (now - path->since > (uint64_t)MESH_DIRECT_TIMEOUT_S * NS)
		to_relay(mc, &f, path);
}

void client_paths_tick(struct mesh_client *mc)
{
	uint64_t now = now_ns();

	for (size_t i = 0; mc->joined && i < mc->n_paths; i++)
		path_tick(mc, &mc->paths[i], now);
	mc->host.ops->flush(mc->host.ctx);
}
