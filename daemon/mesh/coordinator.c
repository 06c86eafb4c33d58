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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"
#include "mesh/apply.h"
#include "mesh/channel.h"
#include "mesh/hello.h"
#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/joingate.h"
#include "mesh/netmap_build.h"
#include "mesh/portprobe.h"
#include "mesh/registry.h"
#include "mesh/relay.h"
#include "mesh/throttle.h"

#define MS 1000000ULL
#define NS 1000000000ULL

enum { TICK_MS = 1000, REBUILD_EVERY_MS = 3000, SCHEDULE_DELAY_MS = 5, PRUNE_EVERY_S = 60 };

struct conn {
	struct coordinator *c;
	struct conn *next;
	struct channel *ch;
	uint32_t node_id;
	char *last_view;                      /* the netmap last pushed, without version */
	char last_observed[SOCKADDR_STR_LEN]; /* the "observed" endpoint last sent */
};

struct relay_key {
	uint32_t id;
	uint8_t public_key[KEY_LEN];
	uint8_t key[RELAY_KEY_LEN];
};

struct coordinator {
	struct mesh_host host;
	struct registry *reg;
	uint8_t sign_secret[crypto_sign_SECRETKEYBYTES];
	uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
	uint32_t self_id;
	struct prefix addrs[2]; /* with the prefixes' lengths */
	size_t n_addrs;
	int listen_fd, timer_fd;
	struct loop_source *listen_src, *timer_src;
	struct conn *conns;
	struct relay_key *relay;
	size_t n_relay;
	char *self_view;
	char *own_routes;              /* this node's advertisement last recorded (JSON text) */
	struct portprobe_limit probes; /* nodes probed within the last interval */
	struct throttle throttle;      /* per-node limits of the control channel */
	struct coordinator_stats stats;
	struct joingate gate; /* what a join request passes first */
	int64_t next_prune;   /* wall-clock s: prune the invites then */
	bool dirty;
	uint64_t last_rebuild; /* monotonic ns */
	uint64_t timer_due;    /* when the timer fires next; 0: not armed */
	char err[256];
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- signing key ---- */

static int load_sign_key(struct coordinator *c, char *errbuf, size_t errlen)
{
	char path[4096];
	uint8_t seed[crypto_sign_SEEDBYTES];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", c->host.cfg->state_dir, COORDINATOR_SIGN_KEY_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, seed, sizeof(seed));
		close(fd);
	} else if (errno == ENOENT) {
		randombytes_buf(seed, sizeof(seed));
		if (atomicfile_write(path, seed, sizeof(seed), 0600, ATOMICFILE_NOREPLACE) == 0)
			n = sizeof(seed);
	}
	if (n != (ssize_t)sizeof(seed)) {
		snprintf(errbuf, errlen, "%s: cannot read or create the netmap signing key", path);
		sodium_memzero(seed, sizeof(seed));
		return -EIO;
	}
	crypto_sign_seed_keypair(c->sign_public, c->sign_secret, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

/* ---- relay keys ---- */

static const uint8_t *relay_key_for(void *ctx, uint32_t node_id)
{
	struct coordinator *c = ctx;

	for (size_t i = 0; i < c->n_relay; i++)
		if (c->relay[i].id == node_id)
			return c->relay[i].key;
	return NULL;
}

/* One relay key per registered node but this one; reuses computed keys. */
static void relay_keys_update(struct coordinator *c, const struct registry_node *nodes, size_t n)
{
	struct relay_key *next = calloc(n + 1, sizeof(*next));
	struct mesh_dh dh = mesh_host_dh(&c->host);
	size_t k = 0;

	if (!next)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *old = relay_key_for(c, nodes[i].id);
		if (nodes[i].id == c->self_id)
			continue;
		next[k].id = nodes[i].id;
		memcpy(next[k].public_key, nodes[i].public_key, KEY_LEN);
		if (old)
			memcpy(next[k].key, old, RELAY_KEY_LEN);
		else if (relay_key_derive(next[k].key, &dh, nodes[i].public_key) < 0)
			continue;
		k++;
	}
	sodium_memzero(c->relay, c->n_relay * sizeof(*c->relay));
	free(c->relay);
	c->relay = next;
	c->n_relay = k;
}

/* ---- views ---- */

static struct conn *conn_by_node(struct coordinator *c, uint32_t id)
{
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->node_id == id)
			return k;
	return NULL;
}

/* The engine's facts of the peer with key, when it has a direct endpoint. */
static bool direct_endpoint(const struct coordinator *c, const uint8_t *key,
			    struct mesh_peer_facts *f)
{
	return c->host.ops->peer_facts(c->host.ctx, key, f) && f->has_endpoint &&
	       !wg_endpoint_is_relay(&f->endpoint);
}

/* The same for node id (one with a relay key: any but this node). */
static bool node_direct(const struct coordinator *c, uint32_t id, struct mesh_peer_facts *f)
{
	for (size_t i = 0; i < c->n_relay; i++)
		if (c->relay[i].id == id)
			return direct_endpoint(c, c->relay[i].public_key, f);
	return false;
}

bool coordinator_node_online(const struct coordinator *c, uint32_t node_id)
{
	return node_id == c->self_id || conn_by_node((struct coordinator *)c, node_id) != NULL;
}

static void conn_close(struct conn *k)
{
	struct coordinator *c = k->c;

	for (struct conn **pp = &c->conns; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	c->stats.lines_ignored += k->ch->stats.ignored;
	channel_free(k->ch);
	free(k->last_view);
	free(k);
	c->dirty = true;
}

/* The live state that goes into netmap_build next to the registry. */
struct live {
	uint32_t *online;
	size_t n_online;
	struct netmap_observed *observed;
	size_t n_observed;
};

static void live_collect(struct coordinator *c, const struct registry_node *nodes, size_t n,
			 struct live *lv)
{
	lv->online = calloc(n + 1, sizeof(*lv->online));
	lv->observed = calloc(n + 1, sizeof(*lv->observed));
	if (!lv->online || !lv->observed)
		return;
	for (size_t i = 0; i < n; i++) {
		struct mesh_peer_facts f;
		if (conn_by_node(c, nodes[i].id))
			lv->online[lv->n_online++] = nodes[i].id;
		if (!direct_endpoint(c, nodes[i].public_key, &f))
			continue;
		lv->observed[lv->n_observed].node_id = nodes[i].id;
		mesh_endpoint_from_wg(&f.endpoint, &lv->observed[lv->n_observed].endpoint);
		if (lv->observed[lv->n_observed].endpoint.numeric)
			lv->n_observed++;
	}
}

/* The netmap of id as unversioned JSON text (for comparing views). */
static char *view_text(const struct netmap *nm)
{
	json_t *doc = netmap_to_json(nm);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

/* The coordinator's own node takes its view, approvals included, from its
 * registry like any member. */
static void apply_self(struct coordinator *c, const struct netmap *nm)
{
	struct mesh_approved approved;
	struct mesh_view view;
	struct mesh_peer *peers;
	size_t n;
	char *text = view_text(nm);
	char err[512];

	if (!text || (c->self_view && !strcmp(text, c->self_view))) {
		free(text);
		return;
	}
	if (mesh_apply_peers(nm, c->addrs, c->n_addrs, &peers, &n) < 0) {
		free(text);
		return;
	}
	mesh_apply_approved(nm, &approved);
	view = (struct mesh_view){ peers, n, c->addrs, c->n_addrs, &approved };
	if (c->host.ops->reconfigure(c->host.ctx, &view, err, sizeof(err)) < 0) {
		log_err("mesh: %s", err);
		free(text);
	} else {
		free(c->self_view);
		c->self_view = text;
	}
	mesh_apply_free(peers, n);
}

/* Tells k the public endpoint its WireGuard packets come from, when that
 * changed (the node probes its port again then). */
static void push_observed(struct conn *k, const struct live *lv)
{
	char text[SOCKADDR_STR_LEN];
	json_t *msg;

	for (size_t i = 0; i < lv->n_observed; i++) {
		if (lv->observed[i].node_id != k->node_id)
			continue;
		sockaddr_format(&lv->observed[i].endpoint.addr, text, sizeof(text));
		if (!strcmp(text, k->last_observed))
			return;
		msg = portprobe_observed_create(&lv->observed[i].endpoint);
		if (msg && channel_send(k->ch, msg) == 0)
			snprintf(k->last_observed, sizeof(k->last_observed), "%s", text);
		json_decref(msg);
		return;
	}
}

/* Pushes nm to k when it differs from what k has. */
static void push_view(struct coordinator *c, struct conn *k, struct netmap *nm)
{
	char *text = view_text(nm);
	json_t *msg;

	if (!text || (k->last_view && !strcmp(text, k->last_view))) {
		free(text);
		return;
	}
	if (registry_next_version(c->reg, &nm->version) < 0) {
		free(text);
		return;
	}
	nm->issued_at = now_s();
	msg = netmap_sign(nm, c->sign_secret);
	if (msg && channel_send(k->ch, msg) == 0) {
		free(k->last_view);
		k->last_view = text;
		text = NULL;
		c->stats.netmaps_pushed++;
		log_info("mesh: netmap %llu for %s", (unsigned long long)nm->version,
			 nm->self.name);
	}
	json_decref(msg);
	free(text);
}

static void rebuild(struct coordinator *c)
{
	struct registry_node *nodes = NULL;
	struct registry_route *routes = NULL;
	size_t n_nodes = 0, n_routes = 0;
	struct live lv = { 0 };
	struct netmap nm;

	c->dirty = false;
	c->last_rebuild = loop_now();
	c->stats.rebuilds++;
	if (registry_nodes(c->reg, &nodes, &n_nodes) < 0 ||
	    registry_routes(c->reg, &routes, &n_routes) < 0)
		goto out;
	relay_keys_update(c, nodes, n_nodes);
	live_collect(c, nodes, n_nodes, &lv);
	struct netmap_build_input in = { .nodes = nodes,
					 .n_nodes = n_nodes,
					 .routes = routes,
					 .n_routes = n_routes,
					 .online = lv.online,
					 .n_online = lv.n_online,
					 .observed = lv.observed,
					 .n_observed = lv.n_observed,
					 .mesh = c->addrs,
					 .n_mesh = c->n_addrs,
					 .coordinator_id = c->self_id };
	memcpy(in.coordinator_key, c->host.public_key, KEY_LEN);
	for (struct conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		if (netmap_build(&in, k->node_id, &nm) == -ENOENT) {
			conn_close(k); /* removed */
			continue;
		}
		push_view(c, k, &nm);
		push_observed(k, &lv);
		netmap_free(&nm);
	}
	if (netmap_build(&in, c->self_id, &nm) == 0)
		apply_self(c, &nm);
	netmap_free(&nm);
out:
	free(lv.online);
	free(lv.observed);
	registry_nodes_free(nodes, n_nodes);
	free(routes);
}

/* Arms the timer for due (monotonic ns) unless it fires sooner already. */
static void arm(struct coordinator *c, uint64_t due)
{
	struct itimerspec its = { .it_value = { (time_t)(due / NS), (long)(due % NS) } };

	if (c->timer_due && c->timer_due <= due)
		return;
	if (timerfd_settime(c->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		c->timer_due = due;
}

/* The earliest time the next rebuild may run. */
static uint64_t rebuild_due(const struct coordinator *c, uint64_t now)
{
	uint64_t soon = now + SCHEDULE_DELAY_MS * MS,
		 spaced = c->last_rebuild + THROTTLE_REBUILD_INTERVAL_MS * MS;

	return c->last_rebuild && spaced > soon ? spaced : soon;
}

/* Rebuilds soon, from the timer (never inside a packet handler), and never
 * sooner than THROTTLE_REBUILD_INTERVAL_MS after the last rebuild. */
static void schedule(struct coordinator *c)
{
	c->dirty = true;
	if (c->timer_fd >= 0)
		arm(c, rebuild_due(c, loop_now()));
}

static int advertise_own(struct coordinator *c);
static void pending_tick(struct coordinator *c, uint64_t now);

/* Whether a rebuild is due at now: a change waits out the spacing; without
 * one, the periodic rebuild picks up endpoints learnt by roaming. */
static bool rebuild_now(const struct coordinator *c, uint64_t now)
{
	if (c->dirty)
		return now >= c->last_rebuild + THROTTLE_REBUILD_INTERVAL_MS * MS;
	return now >= c->last_rebuild + REBUILD_EVERY_MS * MS;
}

/* Opens the join gate until the last live invite ends (closes it when none
 * is live). On a registry error the gate keeps its state. */
static void gate_refresh(struct coordinator *c)
{
	struct registry_invite *inv = NULL;
	int64_t now = now_s(), until = 0, end;
	size_t n = 0;

	if (registry_invites(c->reg, &inv, &n) < 0) {
		log_warn("mesh: cannot read the invites");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		end = joingate_invite_end(&(struct joingate_invite){
		    .expires_at = inv[i].expires_at,
		    .reusable = inv[i].reusable,
		    .used_at = inv[i].used ? inv[i].used_at : 0,
		});
		if (end > now && end > until)
			until = end;
	}
	free(inv);
	joingate_set_live(&c->gate, until);
}

/* Prunes expired and used-up invites now and then, and closes the gate
 * when the last live invite ends. */
static void invites_tick(struct coordinator *c)
{
	int64_t now = now_s();
	bool ended = c->gate.live_until && !joingate_open(&c->gate, now);
	bool prune = now >= c->next_prune;

	if (prune) {
		c->next_prune = now + PRUNE_EVERY_S;
		if (registry_invites_prune(c->reg, now, JOINGATE_USED_GRACE_S) < 0)
			log_warn("mesh: cannot prune the invites");
	}
	if (ended || prune)
		gate_refresh(c);
	joingate_tick(&c->gate, loop_now());
}

static void on_timer(void *ctx, uint32_t events)
{
	struct coordinator *c = ctx;
	uint64_t expirations, now = loop_now(), next = now + TICK_MS * MS;

	if (read(c->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	c->timer_due = 0;
	invites_tick(c);
	if (advertise_own(c) < 0)
		log_warn("mesh: cannot record this node's routes");
	pending_tick(c, now);
	if (rebuild_now(c, now))
		rebuild(c);
	if (c->dirty && rebuild_due(c, now) < next)
		next = rebuild_due(c, now);
	for (size_t i = 0; i < c->throttle.n; i++) {
		const struct throttle_node *tn = &c->throttle.v[i];
		if (tn->pending && tn->pending_due < next)
			next = tn->pending_due > now ? tn->pending_due : now + MS;
	}
	arm(c, next);
}

/* ---- routes ---- */

/* Records what a node advertises; auto_approve decides what is approved at
 * once, for the coordinator's own routes as for any node's. */
static int advertise(struct coordinator *c, uint32_t id, const struct prefix *routes, size_t n,
		     bool *changed)
{
	const struct mg_config *cfg = c->host.cfg;

	return registry_routes_advertise(c->reg, id, routes, n,
					 cfg->coordinator.auto_approve.routes.v,
					 cfg->coordinator.auto_approve.routes.n,
					 cfg->coordinator.auto_approve.exit_node, changed);
}

/* ---- joins ---- */

static json_t *result_error(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

static json_t *addresses_json(const struct registry_node *n, const struct mg_config *cfg)
{
	struct prefix a[2] = { n->addr4, n->addr6 };

	a[0].len = cfg->coordinator.prefix4.len;
	a[1].len = cfg->coordinator.prefix6.len;
	return mesh_prefixes_json(a, 2);
}

static json_t *result_ok(struct coordinator *c, const struct registry_node *n)
{
	char key[KEY_B64_LEN + 1],
	    sign[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	struct prefix host[2] = { c->addrs[0], c->addrs[1] };

	host[0].len = 32;
	host[1].len = 128;
	key_to_base64(key, c->host.public_key);
	sodium_bin2base64(sign, sizeof(sign), c->sign_public, sizeof(c->sign_public),
			  sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:b, s:s, s:I, s:o, s:{s:s, s:I, s:s, s:o, s:s}}", "ok", 1, "name",
			 n->name, "id", (json_int_t)n->id, "addresses",
			 addresses_json(n, c->host.cfg), "coordinator", "public_key", key, "id",
			 (json_int_t)c->self_id, "name", c->host.cfg->hostname, "addresses",
			 mesh_prefixes_json(host, c->n_addrs), "sign_key", sign);
}

/* Registers the joiner (in the open transaction); the result to send. */
static json_t *join_register(struct coordinator *c, const struct join_request *req, bool use_invite)
{
	const struct mg_config *cfg = c->host.cfg;
	struct registry_node n = { 0 };
	struct mesh_hello hello;
	int64_t now = now_s();
	json_t *result = NULL;

	if (mesh_hello_parse(req->hello, &hello) < 0)
		return result_error("the join request's hello is malformed");
	if (registry_node_upsert(c->reg, req->joiner_key, hello.hostname[0] ? hello.hostname : NULL,
				 &cfg->coordinator.prefix4, &cfg->coordinator.prefix6, now, &n,
				 NULL) < 0)
		return result_error("the coordinator cannot register this node (mesh full?)");
	if (advertise(c, n.id, hello.routes, hello.n_routes, NULL) < 0 ||
	    registry_node_seen(c->reg, n.id, now, hello.endpoints, hello.n_endpoints) < 0 ||
	    (use_invite && registry_invite_use(c->reg, req->invite_id, n.id, now) < 0))
		result = result_error("the coordinator cannot register this node");
	else
		result = result_ok(c, &n);
	if (result && json_is_true(json_object_get(result, "ok")))
		log_info("mesh: node %s (id %u) joined", n.name, n.id);
	registry_node_clear(&n);
	return result;
}

/* The result for a request whose envelope opened; NULL: stay silent. */
static json_t *join_decide(struct coordinator *c, const struct join_request *req, bool stale)
{
	uint8_t hash[INVITE_HASH_LEN];
	struct registry_node known;
	enum invite_state st;
	bool member;

	invite_secret_hash(req->secret, hash);
	st = registry_invite_check(c->reg, req->invite_id, hash, now_s());
	if (st == INVITE_UNKNOWN)
		return NULL;
	if (stale)
		return result_error("the clocks of this node and the coordinator differ by more "
				    "than five minutes");
	if (st == INVITE_EXPIRED)
		return result_error("this invite has expired");
	member = registry_node_by_key(c->reg, req->joiner_key, &known) == 0;
	if (member)
		registry_node_clear(&known);
	/* A node that already used it may ask again (a lost answer, or the
	 * request sent to several endpoints). */
	if (st == INVITE_USED && !member)
		return result_error("this invite has already been used");
	return join_register(c, req, st == INVITE_VALID);
}

static void join_answer(struct coordinator *c, const struct pkt *pkt, const uint8_t key[KEY_LEN],
			const json_t *result, struct pkt_batch *udp_out)
{
	uint8_t nonce[MESH_NONCE_LEN];
	struct pkt *out = pkt_batch_add(udp_out);
	struct mesh_dh dh = mesh_host_dh(&c->host);
	size_t len;

	if (!out)
		return;
	randombytes_buf(nonce, sizeof(nonce));
	if (join_response_create(out->data, pkt_tailroom(out), &len, result, &dh, key, nonce) < 0) {
		udp_out->count--;
		return;
	}
	out->len = (uint32_t)len;
	out->ep = pkt->ep;
	out->ep.relay_via = 0;
}

static void join_cookie_send(struct coordinator *c, const struct pkt *pkt, uint64_t now_ns,
			     struct pkt_batch *udp_out)
{
	struct pkt *out = pkt_batch_add(udp_out);
	size_t len;

	if (!out)
		return;
	if (joingate_cookie_create(&c->gate, out->data, pkt_tailroom(out), &len, pkt->data,
				   pkt->len, &pkt->ep.addr.sa, now_ns) < 0) {
		udp_out->count--;
		return;
	}
	out->len = (uint32_t)len;
	out->ep = pkt->ep;
	out->ep.relay_via = 0;
}

/* The join gate first (joingate.h): only a request that passes it costs an
 * X25519, and only one whose nonce is new costs a registry transaction. */
static void on_join(struct coordinator *c, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct mesh_dh dh = mesh_host_dh(&c->host);
	struct join_request req;
	json_t *result;
	uint64_t now_ns = loop_now();
	int64_t now = now_s();
	int ret;

	switch (joingate_check(&c->gate, pkt->data, pkt->len, &pkt->ep.addr.sa, now_ns, now)) {
	case JOINGATE_SEND_COOKIE:
		join_cookie_send(c, pkt, now_ns, udp_out);
		return;
	case JOINGATE_DROP:
		return;
	case JOINGATE_PASS:
		break;
	}
	ret = join_request_open(pkt->data, pkt->len, &dh, now, &req);
	if (ret < 0 && ret != -ESTALE) {
		joingate_box_failed(&c->gate);
		return;
	}
	if (joingate_remember(&c->gate, join_request_nonce(pkt->data), req.timestamp, now) < 0 ||
	    registry_begin(c->reg) < 0) {
		join_request_clear(&req);
		return;
	}
	result = join_decide(c, &req, ret == -ESTALE);
	if (result && json_is_true(json_object_get(result, "ok"))) {
		if (registry_commit(c->reg) < 0) {
			json_decref(result);
			result = result_error("the coordinator cannot store this node");
		}
		gate_refresh(c); /* a single-use invite is used now */
		schedule(c);
	} else {
		registry_rollback(c->reg);
	}
	if (result)
		join_answer(c, pkt, req.joiner_key, result, udp_out);
	json_decref(result);
	join_request_clear(&req);
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

	if (relay_forward(pkt, &src, &dst, relay_key_for, c) < 0)
		return false;
	if (!node_direct(c, dst, &f))
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

	memcpy(&type, pkt->data, sizeof(type));
	type = le32toh(type);
	if (type == MESH_JOIN_REQUEST)
		on_join(c, pkt, udp_out);
	else if (type == MESH_RELAY)
		on_relay(c, pkt, udp_out);
	else if (type == MESH_PORT_PROBE)
		c->host.counters->rx_probe_dropped++; /* the coordinator asks for none */
	return DEMUX_CONSUMED;
}

static const struct dataplane_mesh_ops coordinator_ops = { .rx = coordinator_rx };

/* ---- control channel ---- */

/* The engine's direct endpoint for node id: where its packets come from. */
static bool node_observed(const struct coordinator *c, uint32_t id, struct endpoint *out)
{
	struct mesh_peer_facts f;

	if (!node_direct(c, id, &f))
		return false;
	mesh_endpoint_from_wg(&f.endpoint, out);
	return out->numeric;
}

/* Loopback, or an address of one of this host's interfaces. */
static bool own_address(const struct endpoint *own, size_t n, const union sockaddr_inet *sa)
{
	const uint8_t *ip = sa->sa.sa_family == AF_INET ? (const uint8_t *)&sa->in.sin_addr
							: (const uint8_t *)&sa->in6.sin6_addr;

	if (sa->sa.sa_family == AF_INET ? ip[0] == 127 : IN6_IS_ADDR_LOOPBACK(&sa->in6.sin6_addr))
		return true;
	for (size_t i = 0; i < n; i++) {
		const union sockaddr_inet *o = &own[i].addr;
		const void *oip = o->sa.sa_family == AF_INET ? (const void *)&o->in.sin_addr
							     : (const void *)&o->in6.sin6_addr;
		if (o->sa.sa_family == sa->sa.sa_family &&
		    !memcmp(oip, ip, addr_len(sa->sa.sa_family)))
			return true;
	}
	return false;
}

/* The coordinator cannot probe itself. Its nodes send first (a join, the
 * handshake that carries the control channel), so a node whose WireGuard
 * packets arrive from an address that is not this host's shows that
 * traffic nobody here asked for reaches the port. */
unsigned coordinator_port_reached(const struct coordinator *c)
{
	struct endpoint own[64], seen;
	size_t n_own = mesh_local_endpoints(c->host.tun_name, 1, own, 64);
	unsigned count = 0;

	for (size_t i = 0; i < c->n_relay; i++)
		if (node_observed(c, c->relay[i].id, &seen) && !own_address(own, n_own, &seen.addr))
			count++;
	return count;
}

/* Sends the PORT_PROBE datagram to the observed IP at port; NULL or why not. */
static const char *port_probe_send(struct coordinator *c, const struct endpoint *observed,
				   uint16_t port, const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	union sockaddr_inet to = observed->addr;
	uint8_t dgram[MESH_PORT_PROBE_LEN];
	char text[SOCKADDR_STR_LEN];
	size_t len;
	int ret;

	if (to.sa.sa_family == AF_INET)
		to.in.sin_port = htons(port);
	else
		to.in6.sin6_port = htons(port);
	ret = portprobe_datagram_create(dgram, sizeof(dgram), &len, nonce);
	if (ret == 0)
		ret = udp_send_once(&to.sa, sockaddr_len(&to), dgram, len,
				    c->host.ops->fwmark(c->host.ctx));
	if (ret == 0)
		return NULL;
	sockaddr_format(&to, text, sizeof(text));
	log_warn("mesh: port probe to %s: %s", text, strerror(-ret));
	return "cannot send";
}

/* A node asks whether its UDP port is reachable: one datagram from a fresh
 * socket, only to the IP its WireGuard packets come from, at most once per
 * node per interval; the reply says whether it went out. */
static void on_port_probe(struct coordinator *c, struct conn *k, const json_t *msg)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];
	struct endpoint observed = { 0 };
	const char *error = NULL;
	uint16_t port;
	json_t *reply;
	bool seen;

	if (portprobe_request_parse(msg, nonce, &port) < 0)
		return;
	seen = node_observed(c, k->node_id, &observed);
	if (!seen)
		error = "no observed endpoint";
	else if (!portprobe_limit_allow(&c->probes, k->node_id, loop_now()))
		error = "rate limited";
	else
		error = port_probe_send(c, &observed, port, nonce);
	reply = portprobe_reply_create(nonce, !error, seen ? &observed : NULL, error);
	if (!reply || channel_send(k->ch, reply) < 0)
		log_warn("mesh: cannot answer the port probe request of node %u", k->node_id);
	json_decref(reply);
}

/* Records the endpoints of a hello, or only last_seen; true when the
 * netmaps change. An endpoint change sooner than the node's interval waits
 * as its pending message (the routes went in already). */
static bool endpoints_apply(struct coordinator *c, struct throttle_node *tn,
			    const struct mesh_hello *hello, uint64_t now)
{
	bool differ = false;
	int ret = registry_node_endpoints_differ(c->reg, tn->node_id, hello->endpoints,
						 hello->n_endpoints, &differ);

	if (ret == 0 && differ && !throttle_endpoints_allowed(tn, now)) {
		c->stats.endpoints_debounced++;
		if (throttle_defer(tn, hello,
				   tn->endpoints_at + THROTTLE_ENDPOINT_INTERVAL_S * NS) < 0)
			log_warn("mesh: cannot keep the update of node %u", tn->node_id);
		differ = false;
	} else if (ret == 0 && differ) {
		ret = registry_node_seen(c->reg, tn->node_id, now_s(), hello->endpoints,
					 hello->n_endpoints);
		tn->endpoints_at = tn->seen_at = now;
	} else if (ret == 0 &&
		   (!tn->seen_at || now - tn->seen_at >= THROTTLE_SEEN_INTERVAL_S * NS)) {
		ret = registry_node_seen(c->reg, tn->node_id, now_s(), NULL, 0);
		tn->seen_at = now;
	} else if (ret == 0) {
		c->stats.writes_skipped++;
	}
	if (ret < 0)
		log_warn("mesh: cannot record the endpoints of node %u", tn->node_id);
	return ret == 0 && differ;
}

/* Records what hello says that the registry does not have yet, and
 * rebuilds only then. */
static void hello_apply(struct coordinator *c, struct throttle_node *tn,
			const struct mesh_hello *hello, uint64_t now)
{
	bool changed = false;

	if (advertise(c, tn->node_id, hello->routes, hello->n_routes, &changed) < 0)
		log_warn("mesh: cannot record the routes of node %u", tn->node_id);
	else if (!changed)
		c->stats.writes_skipped++;
	if (endpoints_apply(c, tn, hello, now) || changed)
		schedule(c);
}

/* A hello or update: applied when the node's bucket has a token, else kept
 * as its pending message (the latest wins) for when it has one. */
static void hello_take(struct coordinator *c, uint32_t id, const struct mesh_hello *hello)
{
	uint64_t now = loop_now(), interval = THROTTLE_MSG_INTERVAL_S * NS;
	struct throttle_node *tn = throttle_node(&c->throttle, id);

	if (!tn) {
		log_warn("mesh: cannot record the update of node %u", id);
		return;
	}
	if (!throttle_bucket_take(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) {
		c->stats.updates_deferred++;
		if (throttle_defer(
			tn, hello,
			throttle_bucket_ready(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) < 0)
			log_warn("mesh: cannot keep the update of node %u", id);
		else
			arm(c, tn->pending_due);
		return;
	}
	throttle_clear(tn);
	hello_apply(c, tn, hello, now);
	if (tn->pending)
		arm(c, tn->pending_due);
}

/* Applies the pending messages that are due, as their buckets allow. */
static void pending_tick(struct coordinator *c, uint64_t now)
{
	uint64_t interval = THROTTLE_MSG_INTERVAL_S * NS;

	for (size_t i = 0; i < c->throttle.n; i++) {
		struct throttle_node *tn = &c->throttle.v[i];
		struct mesh_hello *hello = tn->pending;

		if (!hello || tn->pending_due > now)
			continue;
		if (!throttle_bucket_take(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) {
			tn->pending_due =
			    throttle_bucket_ready(&tn->msgs, now, interval, THROTTLE_MSG_BURST);
			continue;
		}
		tn->pending = NULL; /* applying may defer it again */
		hello_apply(c, tn, hello, now);
		free(hello);
	}
}

static bool on_conn_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct conn *k = ctx;
	struct coordinator *c = k->c;
	const char *type = json_string_value(json_object_get(msg, "type"));
	struct mesh_hello hello;

	if (type && !strcmp(type, "port_probe")) {
		on_port_probe(c, k, msg);
		return true;
	}
	if (!type || (strcmp(type, "hello") && strcmp(type, "update")))
		return true; /* newer messages: ignored */
	if (mesh_hello_parse(msg, &hello) < 0) {
		log_warn("mesh: node %u sent a malformed %s", k->node_id, type);
		return false;
	}
	hello_take(c, k->node_id, &hello);
	return true;
}

static void on_conn_closed(void *ctx, struct channel *ch)
{
	struct conn *k = ctx;

	log_info("mesh: node %u disconnected", k->node_id);
	schedule(k->c);
	conn_close(k);
}

/* The node whose mesh address is the connection's source; 0 if none. */
static uint32_t node_by_source(struct coordinator *c, const union sockaddr_inet *sa)
{
	struct registry_node *nodes = NULL;
	size_t n = 0;
	uint32_t id = 0;

	if (registry_nodes(c->reg, &nodes, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !id; i++) {
		const struct prefix *a =
		    sa->sa.sa_family == AF_INET ? &nodes[i].addr4 : &nodes[i].addr6;
		const void *ip = sa->sa.sa_family == AF_INET ? (const void *)&sa->in.sin_addr
							     : (const void *)&sa->in6.sin6_addr;
		if (a->family == sa->sa.sa_family && !memcmp(a->addr, ip, addr_len(a->family)) &&
		    nodes[i].id != c->self_id)
			id = nodes[i].id;
	}
	registry_nodes_free(nodes, n);
	return id;
}

/* A node's connection within its reconnect budget; counts the others. */
static bool connect_allowed(struct coordinator *c, uint32_t id)
{
	struct throttle_node *tn = throttle_node(&c->throttle, id);

	if (tn && throttle_bucket_take(&tn->connects, loop_now(), THROTTLE_CONNECT_INTERVAL_S * NS,
				       THROTTLE_CONNECT_BURST))
		return true;
	c->stats.reconnects_refused++;
	return false;
}

static void on_accept(void *ctx, uint32_t events)
{
	struct coordinator *c = ctx;
	union sockaddr_inet sa;
	socklen_t len = sizeof(sa);
	int fd = accept4(c->listen_fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *k, *old;
	uint32_t id;

	if (fd < 0)
		return;
	id = node_by_source(c, &sa);
	if (id && !connect_allowed(c, id)) {
		close(fd);
		return;
	}
	k = id ? calloc(1, sizeof(*k)) : NULL;
	if (!k) {
		close(fd);
		return;
	}
	old = conn_by_node(c, id);
	if (old)
		conn_close(old);
	*k = (struct conn){ .c = c, .node_id = id };
	k->ch = channel_new(c->host.loop, fd, false, on_conn_msg, on_conn_closed, k);
	if (!k->ch) {
		free(k);
		return;
	}
	k->next = c->conns;
	c->conns = k;
	log_info("mesh: node %u connected", id);
	schedule(c);
}

static int listen_control(struct coordinator *c)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MESH_CONTROL_PORT) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(&sin.sin_addr, c->addrs[0].addr, 4);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	c->listen_fd = fd;
	c->listen_src = loop_add_fd(c->host.loop, fd, EPOLLIN, on_accept, c);
	return c->listen_src ? 0 : -ENOMEM;
}

/* ---- start and stop ---- */

/* This node's routes and exit offer from its config, recorded when they
 * differ from the last ones (at start, and after a reload). */
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
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	if (c->own_routes && !strcmp(text, c->own_routes)) {
		free(text);
		return 0;
	}
	ret = advertise(c, c->self_id, own, n_own, NULL);
	if (ret == 0) {
		free(c->own_routes);
		c->own_routes = text;
		c->dirty = true;
	} else {
		free(text);
	}
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
	*c = (struct coordinator){ .host = *host, .listen_fd = -1, .timer_fd = -1 };
	snprintf(path, sizeof(path), "%s/%s", host->cfg->state_dir, REGISTRY_FILE);
	ret = registry_open(&c->reg, path, errbuf, errlen);
	if (ret == 0 && (ret = joingate_init(&c->gate, host->public_key)) < 0)
		snprintf(errbuf, errlen, "coordinator: cannot set up the join gate: %s",
			 strerror(-ret));
	if (ret == 0)
		ret = load_sign_key(c, errbuf, errlen);
	if (ret == 0)
		ret = register_self(c, errbuf, errlen);
	if (ret < 0)
		goto err;
	rebuild(c); /* own addresses and the known nodes as peers */
	gate_refresh(c);
	ret = listen_control(c);
	if (ret < 0) {
		snprintf(errbuf, errlen, "coordinator: cannot listen on TCP port %d: %s",
			 MESH_CONTROL_PORT, strerror(-ret));
		goto err;
	}
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->timer_src =
	    c->timer_fd >= 0 ? loop_add_fd(host->loop, c->timer_fd, EPOLLIN, on_timer, c) : NULL;
	if (!c->timer_src) {
		ret = -ENOMEM;
		snprintf(errbuf, errlen, "coordinator: cannot create a timer");
		goto err;
	}
	schedule(c);
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
		conn_close(c->conns);
	if (c->listen_src)
		loop_del_fd(c->host.loop, c->listen_src);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->timer_src)
		loop_del_fd(c->host.loop, c->timer_src);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	registry_close(c->reg);
	sodium_memzero(c->sign_secret, sizeof(c->sign_secret));
	if (c->relay)
		sodium_memzero(c->relay, c->n_relay * sizeof(*c->relay));
	free(c->relay);
	free(c->self_view);
	free(c->own_routes);
	portprobe_limit_free(&c->probes);
	throttle_free(&c->throttle);
	joingate_deinit(&c->gate);
	free(c);
}

void coordinator_stats(const struct coordinator *c, struct coordinator_stats *out)
{
	*out = c->stats;
	for (const struct conn *k = c->conns; k; k = k->next)
		out->lines_ignored += k->ch->stats.ignored;
}

/* ---- admin commands ---- */

static json_t *fail(struct coordinator *c, const char **error, const char *fmt, const char *arg)
{
	snprintf(c->err, sizeof(c->err), fmt, arg);
	*error = c->err;
	return NULL;
}

/* The invite's endpoints: coordinator.endpoints first, then the host's. */
static size_t invite_endpoints(struct coordinator *c, struct endpoint *out)
{
	const struct mg_config *cfg = c->host.cfg;
	size_t n = 0;

	for (size_t i = 0; i < cfg->coordinator.endpoints.n && n < INVITE_MAX_ENDPOINTS; i++)
		out[n++] = cfg->coordinator.endpoints.v[i];
	return n + mesh_local_endpoints(c->host.tun_name, c->host.ops->listen_port(c->host.ctx),
					out + n, INVITE_MAX_ENDPOINTS - n);
}

json_t *coordinator_invite(struct coordinator *c, int64_t ttl, bool reusable, const char **error)
{
	struct endpoint eps[INVITE_MAX_ENDPOINTS];
	size_t n = invite_endpoints(c, eps);
	uint8_t hash[INVITE_HASH_LEN];
	char code[INVITE_CODE_MAX];
	struct invite inv;
	int64_t now = now_s(), expires = ttl > 0 ? now + ttl : 0;
	json_t *result = NULL;

	if (n == 0)
		return fail(c, error,
			    "no endpoint to put in the invite%s (set coordinator.endpoints)", "");
	if (invite_generate(&inv, c->host.public_key, eps, n) < 0)
		return fail(c, error, "cannot create an invite%s", "");
	invite_secret_hash(inv.secret, hash);
	if (registry_invite_add(c->reg, hash, now, expires, reusable, &inv.id) < 0 ||
	    invite_encode(&inv, code, sizeof(code)) < 0)
		fail(c, error, "cannot store the invite%s", "");
	else
		result = json_pack("{s:s, s:I, s:I, s:b}", "code", code, "id", (json_int_t)inv.id,
				   "expires_at", (json_int_t)expires, "reusable", reusable);
	gate_refresh(c);
	invite_clear(&inv);
	sodium_memzero(code, sizeof(code));
	return result;
}

/* Whether an invite admits joins at now (the gate's rule). */
static bool invite_live(const struct registry_invite *inv, int64_t now)
{
	return joingate_invite_end(&(struct joingate_invite){
		   .expires_at = inv->expires_at,
		   .reusable = inv->reusable,
		   .used_at = inv->used ? inv->used_at : 0,
	       }) > now;
}

static json_t *invite_json(struct coordinator *c, const struct registry_invite *inv, int64_t now)
{
	struct registry_node n;
	json_t *doc = json_pack(
	    "{s:I, s:I, s:I, s:b, s:b, s:o, s:o}", "id", (json_int_t)inv->id, "created_at",
	    (json_int_t)inv->created_at, "expires_at", (json_int_t)inv->expires_at, "reusable",
	    inv->reusable, "live", invite_live(inv, now), "used_at",
	    inv->used ? json_integer(inv->used_at) : json_null(), "used_by", json_null());

	if (doc && inv->used_by && registry_node_by_id(c->reg, inv->used_by, &n) == 0) {
		json_object_set_new(doc, "used_by", json_string(n.name));
		registry_node_clear(&n);
	}
	return doc;
}

json_t *coordinator_invites(struct coordinator *c, const char **error)
{
	struct registry_invite *inv = NULL;
	size_t n = 0;
	json_t *arr;

	if (registry_invites(c->reg, &inv, &n) < 0)
		return fail(c, error, "cannot read the registry%s", "");
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, invite_json(c, &inv[i], now_s()));
	free(inv);
	return arr;
}

json_t *coordinator_invite_revoke(struct coordinator *c, uint64_t id, const char **error)
{
	char text[24];
	int ret = registry_invite_remove(c->reg, id);

	snprintf(text, sizeof(text), "%llu", (unsigned long long)id);
	if (ret == -ENOENT)
		return fail(c, error, "no invite %s (see meshgate invite list)", text);
	if (ret < 0)
		return fail(c, error, "cannot remove invite %s", text);
	log_info("mesh: invite %s revoked", text);
	gate_refresh(c);
	return json_pack("{s:I}", "revoked", (json_int_t)id);
}

/* The ids of the live reusable invites: any of them brings a removed node
 * back if it still holds the code. */
static json_t *live_reusable_invites(struct coordinator *c)
{
	struct registry_invite *inv = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (registry_invites(c->reg, &inv, &n) < 0) {
		json_decref(arr);
		return json_null();
	}
	for (size_t i = 0; arr && i < n; i++)
		if (inv[i].reusable && invite_live(&inv[i], now_s()))
			json_array_append_new(arr, json_integer((json_int_t)inv[i].id));
	free(inv);
	return arr;
}

void coordinator_drops_json(const struct coordinator *c, json_t *drops)
{
	for (int r = 0; r < JOINGATE_DROP_COUNT; r++)
		json_object_set_new(drops, joingate_drop_name(r),
				    json_integer(c ? (json_int_t)c->gate.drops[r] : 0));
}

enum route_filter { ROUTES_ALL, ROUTES_APPROVED, ROUTES_PENDING };

static json_t *node_routes_json(const struct registry_route *routes, size_t n, uint32_t id,
				enum route_filter which)
{
	json_t *arr = json_array();
	char text[PREFIX_STR_LEN];

	for (size_t i = 0; arr && i < n; i++) {
		if (routes[i].node_id != id || (which == ROUTES_APPROVED && !routes[i].approved) ||
		    (which == ROUTES_PENDING && routes[i].approved))
			continue;
		prefix_format(&routes[i].prefix, text, sizeof(text));
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

static json_t *node_json(struct coordinator *c, const struct registry_node *n,
			 const struct registry_route *routes, size_t n_routes)
{
	struct prefix a[2] = { n->addr4, n->addr6 };
	char key[KEY_B64_LEN + 1];
	struct mesh_peer_facts f;
	struct endpoint seen = { 0 };
	json_t *doc;

	key_to_base64(key, n->public_key);
	doc = json_pack("{s:s, s:I, s:s, s:o, s:b, s:b, s:I, s:o, s:o, s:o}", "name", n->name, "id",
			(json_int_t)n->id, "public_key", key, "addresses", mesh_prefixes_json(a, 2),
			"online", coordinator_node_online(c, n->id), "coordinator",
			n->id == c->self_id, "last_seen",
			(json_int_t)(n->id == c->self_id ? now_s() : n->last_seen), "endpoints",
			mesh_endpoints_json(n->endpoints, n->n_endpoints), "routes_advertised",
			node_routes_json(routes, n_routes, n->id, ROUTES_ALL), "routes_approved",
			node_routes_json(routes, n_routes, n->id, ROUTES_APPROVED));
	if (!doc)
		return NULL;
	json_object_set_new(doc, "routes_pending",
			    node_routes_json(routes, n_routes, n->id, ROUTES_PENDING));
	/* The public address this node's traffic comes from, as seen here. */
	if (direct_endpoint(c, n->public_key, &f))
		mesh_endpoint_from_wg(&f.endpoint, &seen);
	json_object_set_new(doc, "endpoint_observed",
			    mesh_endpoints_json(&seen, seen.numeric ? 1 : 0));
	return doc;
}

json_t *coordinator_nodes(struct coordinator *c, const char **error)
{
	struct registry_node *nodes = NULL;
	struct registry_route *routes = NULL;
	size_t n = 0, n_routes = 0;
	json_t *arr = NULL;

	if (registry_nodes(c->reg, &nodes, &n) < 0 ||
	    registry_routes(c->reg, &routes, &n_routes) < 0)
		fail(c, error, "cannot read the registry%s", "");
	else
		arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, node_json(c, &nodes[i], routes, n_routes));
	registry_nodes_free(nodes, n);
	free(routes);
	return arr;
}

/* A node by id (digits) or name. */
static int find_node(struct coordinator *c, const char *name, struct registry_node *out)
{
	return registry_node_find(c->reg, name, out) == 0 ? 0 : -ENOENT;
}

json_t *coordinator_node_remove(struct coordinator *c, const char *name, const char **error)
{
	struct registry_node n;
	struct conn *k;

	if (!name || find_node(c, name, &n) < 0)
		return fail(c, error, "no node '%s'", name ? name : "");
	if (n.id == c->self_id) {
		registry_node_clear(&n);
		return fail(c, error, "'%s' is the coordinator itself", name);
	}
	if (registry_node_remove(c->reg, n.id) < 0) {
		registry_node_clear(&n);
		return fail(c, error, "cannot remove '%s'", name);
	}
	log_info("mesh: node %s (id %u) removed", n.name, n.id);
	throttle_forget(&c->throttle, n.id);
	k = conn_by_node(c, n.id);
	if (k)
		conn_close(k);
	registry_node_clear(&n);
	rebuild(c);
	return json_pack("{s:s, s:o}", "removed", name, "live_reusable_invites",
			 live_reusable_invites(c));
}

/* Notes for the admin on approved prefixes that overlap another node's
 * approved route (auto_approve leaves those pending; approving them by
 * hand is allowed, but said). */
static json_t *overlap_warnings(struct coordinator *c, uint32_t id, const json_t *prefixes)
{
	json_t *warnings = json_array(), *v;
	size_t i;

	json_array_foreach(prefixes, i, v)
	{
		struct registry_route other;
		struct registry_node on = { 0 };
		char text[PREFIX_STR_LEN];
		struct prefix p;

		if (!warnings || prefix_parse(&p, json_string_value(v)) < 0 ||
		    registry_route_is_exit(&p) ||
		    registry_route_overlap(c->reg, id, &p, &other) <= 0)
			continue;
		prefix_format(&other.prefix, text, sizeof(text));
		if (registry_node_by_id(c->reg, other.node_id, &on) < 0)
			snprintf(on.name, sizeof(on.name), "%" PRIu32, other.node_id);
		json_array_append_new(
		    warnings,
		    prefix_equal(&other.prefix, &p)
			? json_sprintf("%s is also approved for %s: the online router with the "
				       "lowest id carries it, the other stands by",
				       json_string_value(v), on.name)
			: json_sprintf("%s overlaps %s, approved for %s: the more specific "
				       "prefix takes the traffic they share",
				       json_string_value(v), text, on.name));
		log_warn("routes: approved %s overlaps %s, approved for %s", json_string_value(v),
			 text, on.name);
		registry_node_clear(&on);
	}
	return warnings;
}

json_t *coordinator_routes_set(struct coordinator *c, const char *name, const json_t *prefixes,
			       bool approved, const char **error)
{
	struct registry_node n;
	size_t i;
	json_t *v;

	uint32_t id;

	if (!name || find_node(c, name, &n) < 0)
		return fail(c, error, "no node '%s'", name ? name : "");
	id = n.id;
	registry_node_clear(&n);
	if (!json_is_array(prefixes) || json_array_size(prefixes) == 0)
		return fail(c, error, "which prefixes?%s", "");
	json_array_foreach(prefixes, i, v)
	{
		struct prefix p;
		if (!json_is_string(v) || prefix_parse(&p, json_string_value(v)) < 0 ||
		    !prefix_is_network(&p))
			return fail(c, error, "'%s' is not a network prefix",
				    json_is_string(v) ? json_string_value(v) : "?");
	}
	if (registry_begin(c->reg) < 0)
		return fail(c, error, "cannot write the registry%s", "");
	json_array_foreach(prefixes, i, v)
	{
		struct prefix p;
		if (prefix_parse(&p, json_string_value(v)) == 0 &&
		    registry_route_set_approved(c->reg, id, &p, approved) < 0) {
			registry_rollback(c->reg);
			snprintf(c->err, sizeof(c->err), "%s does not advertise %s", name,
				 json_string_value(v));
			*error = c->err;
			return NULL;
		}
	}
	if (registry_commit(c->reg) < 0)
		return fail(c, error, "cannot write the registry%s", "");
	rebuild(c);
	return json_pack("{s:s, s:O, s:b, s:o}", "node", name, "prefixes", prefixes, "approved",
			 approved, "warnings",
			 approved ? overlap_warnings(c, id, prefixes) : json_array());
}
