/*
 * The client role; see client.h. One timer (a loop timer on the node's loop,
 * once a second) drives join retries, reconnects and path choice; packet
 * hooks only record what arrived and leave the work to the timer.
 */
#include "mesh/client.h"

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
#include "mesh/hello.h"
#include "mesh/client_ctl.h"
#include "mesh/client_ddns.h"
#include "mesh/client_role.h"
#include "mesh/client_view.h"

/* ---- packet hooks ---- */

/* The packet hooks leave the work to the timer: it fires at once. */
static void tick_soon(struct mesh_client *mc)
{
	loop_timer_set(mc->host.loop, mc->timer, loop_now() + SOON_NS);
}

static const uint8_t *node_relay_key(void *ctx, uint32_t node_id)
{
	struct mesh_client *mc = ctx;

	for (size_t i = 0; mc->joined && mc->have_nm && i < mc->nm.n_peers; i++)
		if (mc->nm.peers[i].id == node_id)
			return mc->relay_key;
	return NULL;
}

static enum demux client_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct mesh_client *mc = ctx;
	struct mesh_dh dh = mesh_host_dh(&mc->host);
	uint32_t type;
	json_t *result;

	memcpy(&type, pkt->data, sizeof(type));
	type = le32toh(type);
	if (type == MESH_RELAY && mc->joined)
		return relay_receive(pkt, mc->self_id, node_relay_key, mc) == 0 ? DEMUX_ENGINE
										: DEMUX_CONSUMED;
	if (type == MESH_PORT_PROBE) {
		if (portprobe_receive(&mc->probe, pkt->data, pkt->len) < 0)
			mc->host.counters->rx_probe_dropped++;
		return DEMUX_CONSUMED;
	}
	if (type == MESH_JOIN_COOKIE && mc->join == JOIN_RUNNING && !mc->join_result) {
		/* Busy coordinator: ask again at once, with mac2. */
		if (join_cookie_consume(pkt->data, pkt->len, &mc->join_cookie, now_ns()) == 0)
			tick_soon(mc);
		return DEMUX_CONSUMED;
	}
	if (type != MESH_JOIN_RESPONSE || mc->join != JOIN_RUNNING || mc->join_result)
		return DEMUX_CONSUMED;
	if (join_response_open(pkt->data, pkt->len, &dh, mc->inv.coordinator_key, &result) < 0)
		return DEMUX_CONSUMED;
	mc->join_result = result;
	memset(&mc->join_from, 0, sizeof(mc->join_from));
	memcpy(&mc->join_from, &pkt->ep.addr, sizeof(mc->join_from));
	tick_soon(mc);
	return DEMUX_CONSUMED;
}

static int client_tx_relay(void *ctx, struct pkt *pkt)
{
	struct mesh_client *mc = ctx;

	if (!mc->joined)
		return -ENOTCONN;
	return relay_wrap(pkt, mc->self_id, pkt->ep.relay_via, mc->relay_key);
}

/* The engine's relay path check: a peer's messages come relayed with its
 * own node id as the source, whichever member put them on the relay. The
 * coordinator has no path: it is never relayed. */
static bool client_relay_check(void *ctx, const uint8_t key[32], uint32_t relay_via)
{
	struct path *path = client_path_find(ctx, key);

	return path && path->id == relay_via;
}

static const struct dataplane_mesh_ops client_ops = { .rx = client_rx,
						      .tx_relay = client_tx_relay };

/* ---- timer, start, stop ---- */

static void on_timer(void *ctx)
{
	struct mesh_client *mc = ctx;

	loop_timer_set(mc->host.loop, mc->timer, loop_now() + TICK_NS);
	client_ddns_tick(mc);
	client_join_tick(mc);
	client_control_tick(mc);
	client_paths_tick(mc);
}

bool mesh_client_wanted(const struct mg_config *cfg)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, MESH_STATE_FILE);
	return cfg->join || access(path, F_OK) == 0;
}

int mesh_client_join(struct mesh_client *mc, const char *code, char *errbuf, size_t errlen)
{
	struct invite inv;
	int ret = invite_decode(code, &inv, errbuf, errlen);

	if (ret < 0)
		return ret;
	invite_clear(&mc->inv);
	mc->inv = inv;
	cookie_init_labels(&mc->join_cookie, inv.coordinator_key, &join_cookie_labels);
	json_decref(mc->join_result);
	mc->join_result = NULL;
	mc->join_error[0] = '\0';
	mc->join = JOIN_RUNNING;
	mc->join_deadline = now_ns() + (uint64_t)MESH_JOIN_TIMEOUT_S * NS;
	client_ddns_join_reset(mc);
	client_ddns_tick(mc);
	client_join_send(mc);
	return 0;
}

void mesh_client_port_probe(const struct mesh_client *mc, int *reachable, char *seen_as, size_t len)
{
	*reachable = mc->probe.reachable;
	snprintf(seen_as, len, "%s", mc->probe.observed);
}

json_t *mesh_client_join_status(const struct mesh_client *mc)
{
	static const char *names[] = { "idle", "joining", "joined", "failed" };
	json_t *doc = json_pack("{s:s}", "state", names[mc->join]);

	if (mc->join == JOIN_FAILED)
		json_object_set_new(doc, "error", json_string(mc->join_error));
	if (mc->joined) {
		json_object_set_new(doc, "name", json_string(mc->name));
		json_object_set_new(doc, "addresses", mesh_prefixes_json(mc->addrs, mc->n_addrs));
	}
	return doc;
}

static void start_from_state(struct mesh_client *mc)
{
	struct mesh_dh dh = mesh_host_dh(&mc->host);

	if (client_state_load(mc) < 0 || relay_key_derive(mc->relay_key, &dh, mc->coord_key) < 0)
		return;
	mc->joined = true;
	client_load_cache(mc);
	if (!mc->have_nm)
		client_apply_view(mc);
	log_info("mesh: member %s (node id %u)%s", mc->name, mc->self_id,
		 mc->have_nm ? ", from the cached netmap" : "");
}

int mesh_client_start(struct mesh_client **out, const struct mesh_host *host, char *errbuf,
		      size_t errlen)
{
	struct mesh_client *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return -ENOMEM;
	mc->host = *host;
	portprobe_init(&mc->probe);
	devreq_init(&mc->devreqs, randombytes_uniform(UINT32_MAX));
	mc->timer = loop_timer_add(host->loop, loop_now() + SOON_NS, on_timer, mc);
	if (!mc->timer) {
		snprintf(errbuf, errlen, "mesh: cannot create a timer");
		mesh_client_stop(mc);
		return -ENOMEM;
	}
	host->ops->set_hooks(host->ctx, &client_ops, client_relay_check, mc);
	start_from_state(mc);
	if (host->cfg->join) {
		struct invite inv;
		char err[256];
		if (invite_decode(host->cfg->join, &inv, err, sizeof(err)) < 0) {
			snprintf(errbuf, errlen, "join: %s", err);
			mesh_client_stop(mc);
			return -EINVAL;
		}
		if (!mc->joined || memcmp(inv.coordinator_key, mc->coord_key, KEY_LEN))
			if (mesh_client_join(mc, host->cfg->join, errbuf, errlen) < 0)
				log_err("mesh: join: %s", errbuf);
		invite_clear(&inv);
	}
	*out = mc;
	return 0;
}

void mesh_client_stop(struct mesh_client *mc)
{
	if (!mc)
		return;
	mc->host.ops->set_hooks(mc->host.ctx, NULL, NULL, mc);
	client_ddns_cancel(mc);
	channel_free(mc->ch);
	if (mc->timer)
		loop_timer_del(mc->host.loop, mc->timer);
	invite_clear(&mc->inv);
	json_decref(mc->join_result);
	devreq_free(&mc->devreqs);
	netmap_free(&mc->nm);
	sodium_memzero(mc->relay_key, sizeof(mc->relay_key));
	free(mc->paths);
	free(mc->hello_sent);
	free(mc);
}

json_t *mesh_client_policy_show(const struct mesh_client *mc)
{
	return mesh_apply_policy_json(mc->have_nm ? &mc->nm.policy : NULL);
}
