/*
 * The coordinator role; see coordinator.h. Everything runs on the node's
 * event loop. Changes (a join, a hello, a connection opening or closing, an
 * admin command) mark the state dirty; a rebuild then computes every view
 * from the registry and pushes the netmaps that differ from the last one
 * sent on each connection. The timer also rebuilds every few seconds, so
 * endpoints the engine learns by roaming reach the netmaps. What a node
 * sends on its channel is held to the limits of throttle.h: at most one
 * rebuild per THROTTLE_REBUILD_INTERVAL_MS, and only for a change the
 * registry did not have.
 */
#include "mesh/coordinator.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mesh/admin.h"
#include "mesh/coordinator_role.h"
#include "mesh/joinsvc.h"
#include "mesh/stun.h"
#include "mesh/views.h"

bool coordinator_node_online(const struct coordinator *c, uint32_t node_id)
{
	return coord_node_online(c, node_id);
}

static int advertise_own(struct coordinator *c);
/* Prunes expired and used-up invites now and then, and closes the gate
 * when the last live invite ends. */
static void invites_tick(struct coordinator *c)
{
	int64_t now = now_s();
	bool ended = c->gate.live_until && !joingate_open(&c->gate, now);
	bool prune = now >= c->next_prune;

	if (prune) {
		c->next_prune = now + PRUNE_EVERY_S;
		if (registry_invites_prune(c->reg, now, INVITE_KEEP_USED_S) < 0)
			log_warn("mesh: cannot prune the invites");
	}
	if (ended || prune)
		coord_gate_refresh(c);
	joingate_tick(&c->gate, loop_now());
}

static void on_timer(void *ctx)
{
	struct coordinator *c = ctx;
	uint64_t now = loop_now(), next = now + TICK_MS * MS;

	c->timer_due = 0;
	invites_tick(c);
	if (advertise_own(c) < 0)
		log_warn("mesh: cannot record this node's routes");
	coord_pending_tick(c, now);
	stunclient_tick(c->stun, now);
	coord_policy_sync(c);
	if (coord_rebuild_now(c, now))
		coord_rebuild(c);
	if (c->dirty && coord_rebuild_due(c, now) < next)
		next = coord_rebuild_due(c, now);
	for (size_t i = 0; i < c->throttle.n; i++) {
		const struct throttle_node *tn = &c->throttle.v[i];
		if (tn->pending && tn->pending_due < next)
			next = tn->pending_due > now ? tn->pending_due : now + MS;
	}
	coord_arm(c, next);
}

/* ---- relay ---- */

/* Forwards an authentic RELAY datagram to its destination's endpoint; false
 * when it cannot be. udp_out's slots hold any datagram received (the data
 * plane sizes them so), whatever this node's own MTU. */
static bool relay_sent(struct coordinator *c, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct mesh_peer_facts f;
	uint32_t src, dst;
	struct pkt *out;

	if (relay_forward(pkt, &src, &dst, coord_relay_key_for, c) < 0)
		return false;
	if (!coord_node_direct(c, dst, &f))
		return false;
	out = pkt_batch_add(udp_out);
	if (!out)
		return false;
	if (pkt->len > pkt_tailroom(out)) {
		udp_out->count--;
		return false;
	}
	memcpy(out->data, pkt->data, pkt->len);
	out->len = pkt->len;
	out->ep = f.endpoint;
	return true;
}

static void on_relay(struct coordinator *c, struct pkt *pkt, struct pkt_batch *udp_out)
{
	if (!relay_sent(c, pkt, udp_out))
		c->host.counters->relay_dropped++;
}

static enum demux coordinator_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct coordinator *c = ctx;
	uint32_t type;

	if (stun_is_message(pkt->data, pkt->len)) {
		stunclient_rx(c->stun, pkt->data, pkt->len);
		return DEMUX_CONSUMED;
	}
	memcpy(&type, pkt->data, sizeof(type));
	type = le32toh(type);
	if (type == MESH_JOIN_REQUEST)
		coord_on_join(c, pkt, udp_out);
	else if (type == MESH_RELAY)
		on_relay(c, pkt, udp_out);
	else if (type == MESH_PORT_PROBE)
		c->host.counters->rx_probe_dropped++; /* the coordinator asks for none */
	return DEMUX_CONSUMED;
}

static const struct dataplane_mesh_ops coordinator_ops = { .rx = coordinator_rx };

/* ---- start and stop ---- */

/* Records own[0..n) approved, and in the audit log those it approves
 * anew, in one transaction. */
static int own_routes_store(struct coordinator *c, const struct prefix *own, size_t n)
{
	struct registry_route *before = NULL;
	size_t n_before = 0;
	int ret = registry_routes(c->reg, &before, &n_before);

	if (ret == 0)
		ret = registry_begin(c->reg);
	if (ret == 0) {
		ret = registry_routes_own(c->reg, c->self_id, own, n, NULL);
		if (ret == 0)
			ret = coord_audit_approved(c, c->self_id, before, n_before, "config");
		if (ret == 0)
			ret = registry_commit(c->reg);
		else
			registry_rollback(c->reg);
	}
	free(before);
	return ret;
}

/* This node's routes and exit offer from its config, recorded approved
 * when they differ from the last ones (at start, and after a reload); an
 * overlap with another node's approved route is logged. */
static int advertise_own(struct coordinator *c)
{
	const struct mg_config *cfg = c->host.cfg;
	struct prefix own[HELLO_MAX_ROUTES + 2];
	size_t n_own = 0;
	json_t *doc;
	char *text;
	int ret = 0;

	for (size_t i = 0; i < cfg->subnet_router.routes.n && n_own < HELLO_MAX_ROUTES; i++)
		own[n_own++] = cfg->subnet_router.routes.v[i];
	if (cfg->exit_node.enabled) {
		own[n_own++] = (struct prefix){ .family = AF_INET };
		own[n_own++] = (struct prefix){ .family = AF_INET6 };
	}
	doc = mesh_prefixes_json(own, n_own);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	if (c->own_routes && !strcmp(text, c->own_routes))
		goto out;
	ret = own_routes_store(c, own, n_own);
	if (ret < 0)
		goto out;
	json_decref(coordinator_overlap_warnings(c, c->self_id, doc));
	free(c->own_routes);
	c->own_routes = text;
	text = NULL;
	c->dirty = true;
out:
	free(text);
	json_decref(doc);
	return ret;
}

static int register_self(struct coordinator *c, char *errbuf, size_t errlen)
{
	const struct mg_config *cfg = c->host.cfg;
	struct registry_node n;
	int ret = registry_node_upsert(c->reg, c->host.public_key, cfg->hostname,
				       &cfg->coordinator.prefix4, &cfg->coordinator.prefix6,
				       now_s(), &n, NULL);

	if (ret < 0) {
		snprintf(errbuf, errlen, "coordinator: cannot register itself: %s", strerror(-ret));
		return ret;
	}
	c->self_id = n.id;
	c->addrs[0] = n.addr4;
	c->addrs[0].len = cfg->coordinator.prefix4.len;
	c->addrs[1] = n.addr6;
	c->addrs[1].len = cfg->coordinator.prefix6.len;
	c->n_addrs = 2;
	registry_node_clear(&n);
	ret = advertise_own(c);
	if (ret < 0)
		snprintf(errbuf, errlen, "coordinator: cannot record its own routes: %s",
			 strerror(-ret));
	return ret;
}

int coordinator_start(struct coordinator **out, const struct mesh_host *host, char *errbuf,
		      size_t errlen)
{
	struct coordinator *c = calloc(1, sizeof(*c));
	char path[4096];
	int ret;

	if (!c)
		return -ENOMEM;
	*c = (struct coordinator){ .host = *host, .listen_fd = -1 };
	snprintf(path, sizeof(path), "%s/%s", host->cfg->state_dir, REGISTRY_FILE);
	ret = registry_open(&c->reg, path, errbuf, errlen);
	if (ret == 0 && (ret = joingate_init(&c->gate, host->public_key)) < 0)
		snprintf(errbuf, errlen, "coordinator: cannot set up the join gate: %s",
			 strerror(-ret));
	if (ret == 0)
		ret = signkey_load(host->cfg->state_dir, c->sign_public, c->sign_secret, errbuf,
				   errlen);
	if (ret == 0)
		ret = register_self(c, errbuf, errlen);
	if (ret == 0 && !(c->stun = stunclient_new(&c->host))) {
		ret = -ENOMEM;
		snprintf(errbuf, errlen, "coordinator: out of memory");
	}
	if (ret < 0)
		goto err;
	coord_rebuild(c); /* own addresses and the known nodes as peers */
	coord_gate_refresh(c);
	ret = coord_listen_control(c);
	if (ret < 0) {
		snprintf(errbuf, errlen, "coordinator: cannot listen on TCP port %d: %s",
			 MESH_CONTROL_PORT, strerror(-ret));
		goto err;
	}
	c->timer = loop_timer_add(host->loop, UINT64_MAX, on_timer, c);
	if (!c->timer) {
		ret = -ENOMEM;
		snprintf(errbuf, errlen, "coordinator: cannot create a timer");
		goto err;
	}
	coord_schedule(c);
	host->ops->set_hooks(host->ctx, &coordinator_ops, NULL, c);
	log_info("mesh: coordinator up, node id %u", c->self_id);
	*out = c;
	return 0;
err:
	coordinator_stop(c);
	return ret;
}

void coordinator_stop(struct coordinator *c)
{
	if (!c)
		return;
	c->host.ops->set_hooks(c->host.ctx, NULL, NULL, c);
	while (c->conns)
		coord_conn_close(c->conns);
	if (c->listen_src)
		loop_del_fd(c->host.loop, c->listen_src);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->timer)
		loop_timer_del(c->host.loop, c->timer);
	registry_close(c->reg);
	stunclient_free(c->stun);
	sodium_memzero(c->sign_secret, sizeof(c->sign_secret));
	if (c->relay)
		sodium_memzero(c->relay, c->n_relay * sizeof(*c->relay));
	free(c->relay);
	free(c->self_view);
	free(c->own_routes);
	free(c->offers);
	acl_policy_free(&c->policy);
	portprobe_limit_free(&c->probes);
	throttle_free(&c->throttle);
	joingate_deinit(&c->gate);
	free(c);
}

void coordinator_stun(const struct coordinator *c, struct stunclient_status *out)
{
	stunclient_status(c->stun, out);
}

void coordinator_stats(const struct coordinator *c, struct coordinator_stats *out)
{
	*out = c->stats;
	for (const struct conn *k = c->conns; k; k = k->next)
		out->lines_ignored += k->ch->stats.ignored;
}
