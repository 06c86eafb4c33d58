/* The view the client hands the node: from the netmap in use; see client_view.h. */
#include "mesh/client_view.h"

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
#include "mesh/apply.h"
#include "mesh/client_role.h"
#include "mesh/client_paths.h"
#include "mesh/client_state.h"

/* ---- applying the view ---- */

/* The coordinator as a peer: its mesh addresses, its endpoints; pointed at
 * the address that answered the join until roaming knows better. */
static void coordinator_peer(struct mesh_client *mc, struct mesh_peer *mp,
			     const struct netmap_node *nn)
{
	struct mesh_peer_facts existing;
	bool known = mc->host.ops->peer_facts(mc->host.ctx, mc->coord_key, &existing);

	if (!nn) {
		memset(mp, 0, sizeof(*mp));
		snprintf(mp->name, sizeof(mp->name), "coordinator");
		memcpy(mp->public_key, mc->coord_key, KEY_LEN);
		mp->allowed_ips = calloc(mc->n_coord_addrs + 1, sizeof(struct prefix));
		for (size_t i = 0; mp->allowed_ips && i < mc->n_coord_addrs; i++) {
			mp->allowed_ips[i] = mc->coord_addrs[i];
			mp->allowed_ips[i].len = mc->coord_addrs[i].family == AF_INET ? 32 : 128;
		}
		mp->n_allowed_ips = mp->allowed_ips ? mc->n_coord_addrs : 0;
	}
	for (size_t i = 0; i < mc->n_coord_eps && mp->n_candidates < 8; i++) {
		const struct client_name *cn = &mc->coord_names[i];
		struct wg_endpoint *c = &mp->candidates[mp->n_candidates];
		/* A name: its last answer (client_ddns.h). */
		if (cn->used && cn->dn.known) {
			memset(c, 0, sizeof(*c));
			memcpy(&c->addr, &cn->dn.addr, sockaddr_len(&cn->dn.addr));
			mp->n_candidates++;
		} else if (mesh_endpoint_to_wg(&mc->coord_eps[i], c)) {
			mp->n_candidates++;
		}
	}
	if (!known || !existing.has_endpoint) {
		mp->set_endpoint = true;
		memset(&mp->endpoint, 0, sizeof(mp->endpoint));
		memcpy(&mp->endpoint.addr, &mc->relay_addr, sockaddr_len(&mc->relay_addr));
	}
}

void client_apply_view(struct mesh_client *mc)
{
	struct mesh_approved approved;
	struct mesh_view view;
	struct mesh_peer *peers = NULL;
	struct mesh_device *devices = NULL;
	struct mesh_split_dns *splits = NULL;
	size_t n = 0, n_devices = 0, n_splits = 0, coord = SIZE_MAX;
	char err[512];

	if (mc->have_nm && mesh_apply_peers(&mc->nm, mc->addrs, mc->n_addrs, &peers, &n) < 0)
		return;
	if (mc->have_nm && mesh_apply_devices(&mc->nm, &devices, &n_devices) < 0) {
		mesh_apply_free(peers, n);
		return;
	}
	if (mc->have_nm && mesh_apply_split_dns(&mc->nm, &splits, &n_splits) < 0) {
		mesh_apply_free(peers, n);
		free(devices);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!memcmp(peers[i].public_key, mc->coord_key, KEY_LEN))
			coord = i;
	if (coord == SIZE_MAX) {
		struct mesh_peer *grown = realloc(peers, (n + 1) * sizeof(*peers));
		if (!grown) {
			mesh_apply_free(peers, n);
			free(devices);
			free(splits);
			return;
		}
		peers = grown;
		coord = n++;
		coordinator_peer(mc, &peers[coord], NULL);
	} else {
		coordinator_peer(mc, &peers[coord], &mc->nm.peers[coord]);
	}
	if (mc->have_nm)
		mesh_apply_approved(&mc->nm, &approved);
	/* Before the first netmap nothing of this node's offer is approved. */
	view = (struct mesh_view){ .peers = peers,
				   .n_peers = n,
				   .addresses = mc->addrs,
				   .n_addresses = mc->n_addrs,
				   .approved = mc->have_nm ? &approved : NULL,
				   .devices = devices,
				   .n_devices = n_devices,
				   .dns = mc->have_nm && mc->nm.dns.present ? &mc->nm.dns : NULL,
				   .self_name = mc->have_nm ? mc->nm.self.name : NULL,
				   .self_id = mc->have_nm ? mc->nm.self.id : 0,
				   .split_dns = splits,
				   .n_split_dns = n_splits,
				   .policy = mc->have_nm && mc->nm.policy.present ? &mc->nm.policy
										  : NULL };
	if (mc->host.ops->reconfigure(mc->host.ctx, &view, err, sizeof(err)) < 0)
		log_err("mesh: %s", err);
	mesh_apply_free(peers, n);
	free(devices);
	free(splits);
	client_paths_update(mc);
}

/* ---- netmaps ---- */

bool client_netmap_take(struct mesh_client *mc, const json_t *msg, bool from_cache)
{
	struct netmap nm;
	char err[256], path[4096];

	if (netmap_verify(msg, mc->sign_key, &nm, err, sizeof(err)) < 0) {
		log_warn("mesh: netmap refused: %s", err);
		return false;
	}
	if (memcmp(nm.coordinator_key, mc->coord_key, KEY_LEN) ||
	    (mc->have_nm && nm.version <= mc->nm.version)) {
		netmap_free(&nm);
		return true;
	}
	if (!from_cache) {
		state_path(mc, MESH_NETMAP_FILE, path, sizeof(path));
		if (netmap_cache_save(path, msg) < 0)
			log_warn("mesh: cannot cache the netmap in %s", path);
	}
	netmap_free(&mc->nm);
	mc->nm = nm;
	mc->have_nm = true;
	log_info("mesh: netmap %llu: %zu peer(s)", (unsigned long long)nm.version, nm.n_peers);
	client_apply_view(mc);
	return true;
}

void client_load_cache(struct mesh_client *mc)
{
	char path[4096], err[256];
	struct netmap nm;
	json_t *msg = NULL;

	state_path(mc, MESH_NETMAP_FILE, path, sizeof(path));
	if (netmap_cache_load(path, mc->sign_key, &nm, &msg, err, sizeof(err)) < 0)
		return;
	netmap_free(&nm);
	client_netmap_take(mc, msg, true);
	json_decref(msg);
}
