/* The node's status publisher; see node_status.h. */
#include "node_status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "netaddr.h"
#include "node.h"
#include "preflight.h"
#include "status.h"
#include "timeutil.h"
#include "wg/device.h"
#include "wg/messages.h"

struct node_status {
	struct node *node;
	struct status_board board;
	struct preflight_facts system; /* the last system checks' facts */
	struct loop_timer *timer;
	unsigned ticks;
};

/* A peer with no handshake for this long is considered offline. */
enum { ONLINE_WINDOW = REJECT_AFTER_TIME };

static json_t *key_json(const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];
	key_to_base64(b64, key);
	return json_string(b64);
}

static json_t *prefix_json(const struct prefix *p)
{
	char text[PREFIX_STR_LEN];
	prefix_format(p, text, sizeof(text));
	return json_string(text);
}

static json_t *prefix_list_json(const struct prefix_list *list)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < list->n; i++)
		json_array_append_new(arr, prefix_json(&list->v[i]));
	return arr;
}

static json_t *endpoint_json(const struct wg_peer *peer)
{
	char text[SOCKADDR_STR_LEN];
	union sockaddr_inet sa;

	if (!peer->has_endpoint)
		return json_null();
	memcpy(&sa, &peer->endpoint.addr, sizeof(sa));
	sockaddr_format(&sa, text, sizeof(text));
	return json_string(text);
}

struct prefix_sort {
	json_t *addresses; /* host prefixes: the peer's own addresses */
	json_t *routes;    /* everything else it serves */
	bool exit_node;
};

static int sort_allowed_ip(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct prefix_sort *sort = ctx;
	struct prefix p = { .family = family, .len = cidr };
	bool host = cidr == (family == AF_INET ? 32 : 128);

	memcpy(p.addr, ip, addr_len(family));
	if (cidr == 0)
		sort->exit_node = true;
	else
		json_array_append_new(host ? sort->addresses : sort->routes, prefix_json(&p));
	return 0;
}

/* The configured addresses, then those the mesh coordinator assigned. */
static json_t *self_addresses_json(const struct node *node)
{
	json_t *arr = prefix_list_json(&node->cfg.addresses);

	for (size_t i = 0; arr && i < node->n_mesh_addresses; i++)
		json_array_append_new(arr, prefix_json(&node->mesh_addresses[i]));
	return arr;
}

/* What the node forwards for: its configured routes, on a mesh member only
 * those the coordinator approved (the plan's nftables facts). */
static json_t *served_routes_json(const struct node *node)
{
	const struct plan_prefixes *lan = &node->plan.nft.lan_routes;
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < lan->n; i++)
		json_array_append_new(arr, prefix_json(&lan->v[i]));
	return arr;
}

/* "advertised_routes" and "exit_node_offered" are the config; "served_routes"
 * and "exit_node_served" what the node forwards (config ∩ approved). */
static json_t *self_json(const struct node *node)
{
	const struct mg_config *cfg = &node->cfg;

	return json_pack(
	    "{s:s, s:o, s:o, s:i, s:b, s:o, s:b, s:o, s:o, s:b}", "name", cfg->hostname,
	    "public_key", key_json(node->public_key), "addresses", self_addresses_json(node),
	    "listen_port", (int)node_listen_port(node), "coordinator", cfg->coordinator.enabled,
	    "advertised_routes", prefix_list_json(&cfg->subnet_router.routes), "exit_node_offered",
	    cfg->exit_node.enabled, "exit_node_in_use",
	    cfg->use_exit_node.peer[0] ? json_string(cfg->use_exit_node.peer) : json_null(),
	    "served_routes", served_routes_json(node), "exit_node_served",
	    node->plan.nft.exit_node);
}

/* "direct" or "relay" for a peer with a live session, else "none". */
static const char *path_name(const struct wg_peer *peer, bool session)
{
	if (!session || !peer->has_endpoint)
		return "none";
	return wg_endpoint_is_relay(&peer->endpoint) ? "relay" : "direct";
}

static json_t *peer_json(const struct wg_peer *peer, time_t now)
{
	struct prefix_sort sort = { json_array(), json_array(), false };
	time_t last = peer->last_handshake.tv_sec;
	bool online = last && now - last < ONLINE_WINDOW;
	bool session = online && peer->current;

	allowedips_walk_by_peer(&peer->device->allowedips, (void *)peer, sort_allowed_ip, &sort);
	return json_pack("{s:s, s:o, s:o, s:o, s:s, s:I, s:I, s:I, s:o, s:b, s:b}", "name",
			 peer->name, "public_key", key_json(peer->public_key), "addresses",
			 sort.addresses, "endpoint", endpoint_json(peer), "path",
			 path_name(peer, session), "last_handshake", (json_int_t)last, "rx_bytes",
			 (json_int_t)peer->stats.rx_bytes, "tx_bytes",
			 (json_int_t)peer->stats.tx_bytes, "routes", sort.routes, "exit_node",
			 sort.exit_node, "online", online);
}

/* The engine's drops by reason, then the mesh code's. */
static json_t *drops_json(const struct node *node)
{
	json_t *obj = json_object();
	for (int r = 0; obj && r < DROP_REASON_COUNT; r++)
		json_object_set_new(obj, wg_drop_reason_name(r),
				    json_integer((json_int_t)node->dev->stats.drops[r]));
	if (obj) {
		json_object_set_new(obj, "mesh_probe",
				    json_integer((json_int_t)node->mesh_counters.rx_probe_dropped));
		json_object_set_new(obj, "mesh_relay",
				    json_integer((json_int_t)node->mesh_counters.relay_dropped));
		coordinator_drops_json(node->roles.coordinator, obj);
	}
	return obj;
}

/* On the coordinator: what the control channel's per-node limits did. */
static json_t *mesh_control_json(const struct node *node)
{
	struct coordinator_stats st;

	if (!node->roles.coordinator)
		return NULL;
	coordinator_stats(node->roles.coordinator, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "updates_deferred",
			 (json_int_t)st.updates_deferred, "endpoints_debounced",
			 (json_int_t)st.endpoints_debounced, "reconnects_refused",
			 (json_int_t)st.reconnects_refused, "writes_skipped",
			 (json_int_t)st.writes_skipped, "rebuilds", (json_int_t)st.rebuilds,
			 "netmaps_pushed", (json_int_t)st.netmaps_pushed, "lines_ignored",
			 (json_int_t)st.lines_ignored);
}

/* The engine's handshake and cookie counters, next to its drops; on the
 * coordinator, the control channel's counters. */
static json_t *daemon_json(const struct node *node)
{
	const struct wg_device_stats *s = &node->dev->stats;
	json_t *doc = json_pack(
	    "{s:s, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "version",
	    MESHGATE_VERSION, "interface", node->dp.tun.name, "started_at",
	    (json_int_t)node->started_at, "drops", drops_json(node), "handshake_initiations_rx",
	    (json_int_t)s->handshake_initiations_rx, "handshake_initiations_tx",
	    (json_int_t)s->handshake_initiations_tx, "handshake_responses_rx",
	    (json_int_t)s->handshake_responses_rx, "handshake_responses_tx",
	    (json_int_t)s->handshake_responses_tx, "cookie_replies_rx",
	    (json_int_t)s->cookie_replies_rx, "cookie_replies_tx", (json_int_t)s->cookie_replies_tx,
	    "sessions_established", (json_int_t)s->sessions_established, "routes_installed",
	    (json_int_t)node->plan.n_routes);

	if (doc)
		json_object_set_new(doc, "last_apply_error",
				    node->apply_error[0] ? json_string(node->apply_error)
							 : json_null());
	if (doc && node->roles.coordinator)
		json_object_set_new(doc, "mesh_control", mesh_control_json(node));
	return doc;
}

/* On the coordinator: every node of the mesh with its routes, approved and
 * pending (the status page shows them). NULL elsewhere: the key is left out. */
static json_t *coordinator_json(const struct node *node)
{
	const char *error = NULL;
	json_t *nodes;

	if (!node->roles.coordinator)
		return NULL;
	nodes = coordinator_nodes(node->roles.coordinator, &error);
	return nodes ? json_pack("{s:o}", "nodes", nodes) : NULL;
}

/* Whether a peer serves more than its own addresses: a static peer's
 * prefix wider than a host, a mesh peer's entries beyond its two. */
static bool peers_serve_routes(const struct node *node)
{
	for (size_t i = 0; i < node->cfg.n_peers; i++)
		for (size_t j = 0; j < node->cfg.peers[i].allowed_ips.n; j++) {
			const struct prefix *p = &node->cfg.peers[i].allowed_ips.v[j];
			if (p->len != (p->family == AF_INET ? 32 : 128))
				return true;
		}
	for (size_t i = 0; i < node->n_mesh_peers; i++)
		if (node->mesh_peers[i].n_allowed_ips > 2)
			return true;
	return false;
}

/* The facts preflight takes from the node and its mesh role. */
static void preflight_node_facts(const struct node *node, struct preflight_node *n)
{
	const struct route_plan *plan = &node->plan;

	memset(n, 0, sizeof(*n));
	n->tun_open = node->dp.tun.fd >= 0;
	n->peer_routes_unused = !node->cfg.accept_routes && peers_serve_routes(node);
	n->nft_needed = plan->nft.present;
	n->nft_present = node->router.nft_present;
	n->mss_clamp = plan->nft.clamp_mss && node->router.nft_present;
	n->role = node->roles.coordinator ? PREFLIGHT_COORDINATOR
		  : node->roles.client    ? PREFLIGHT_MESH_CLIENT
					  : PREFLIGHT_STATIC;
	n->port = node->dp.udp.port;
	n->port_reachable = -1;
	if (node->roles.client) {
		mesh_client_port_probe(node->roles.client, &n->port_reachable, n->port_seen_as,
				       sizeof(n->port_seen_as));
	} else if (node->roles.coordinator) {
		n->port_reached_by = coordinator_port_reached(node->roles.coordinator);
		n->port_reachable = n->port_reached_by ? 1 : -1;
	}
}

static json_t *preflight_doc(const struct node_status *st)
{
	struct preflight_result r[PREFLIGHT_CHECKS];
	struct preflight_facts *f = malloc(sizeof(*f));
	struct preflight_node n;
	json_t *doc;

	if (!f)
		return NULL;
	*f = st->system;
	preflight_node_facts(st->node, &n);
	preflight_set_node(f, &n);
	preflight_evaluate(f, r);
	doc = preflight_json(r, PREFLIGHT_CHECKS);
	free(f);
	return doc;
}

static json_t *build(const struct node_status *st)
{
	const struct node *node = st->node;
	json_t *peers = json_array();
	time_t now = time(NULL);

	wg_device_for_each_peer(node->dev, peer)
	{
		json_array_append_new(peers, peer_json(peer, now));
	}
	return json_pack("{s:o, s:o, s:o, s:o*, s:o*}", "self", self_json(node), "peers", peers,
			 "daemon", daemon_json(node), "preflight", preflight_doc(st), "coordinator",
			 coordinator_json(node));
}

static void system_checks(struct node_status *st)
{
	const struct node *node = st->node;

	preflight_gather_system(&node->cfg, node->dp.tun.name, node->plan.sysctls,
				node->plan.n_sysctls, &st->system);
}

static void on_timer(void *ctx)
{
	struct node_status *st = ctx;

	loop_timer_set(st->node->loop, st->timer, loop_now() + NODE_STATUS_PERIOD_S * NSEC_PER_SEC);
	st->ticks++;
	if (st->ticks % (NODE_STATUS_CHECK_PERIOD_S / NODE_STATUS_PERIOD_S) == 0)
		system_checks(st);
	status_board_publish(&st->board, build(st));
}

static int start_timer(struct node_status *st)
{
	st->timer = loop_timer_add(st->node->loop, loop_now() + NODE_STATUS_PERIOD_S * NSEC_PER_SEC,
				   on_timer, st);
	return st->timer ? 0 : -ENOMEM;
}

static struct node_status *publisher(struct node *node)
{
	struct node_status *st;
	int ret;

	if (node->status)
		return node->status;
	st = calloc(1, sizeof(*st));
	if (!st) {
		log_err("status: out of memory; no status document");
		return NULL;
	}
	st->node = node;
	node->status = st;
	ret = start_timer(st);
	if (ret < 0)
		log_err("status: timer: %s; the document changes only with the node's config",
			strerror(-ret));
	return st;
}

void node_status_changed(struct node *node)
{
	struct node_status *st = publisher(node);

	if (!st)
		return;
	system_checks(st);
	status_board_publish(&st->board, build(st));
}

void node_status_refresh(struct node *node)
{
	struct node_status *st = node->status;

	if (st)
		status_board_publish(&st->board, build(st));
}

json_t *node_status_current(const struct node *node)
{
	return node->status ? status_board_get(&node->status->board) : NULL;
}

void node_status_stop(struct node *node)
{
	struct node_status *st = node->status;

	if (!st)
		return;
	if (st->timer)
		loop_timer_del(node->loop, st->timer);
	status_board_clear(&st->board);
	free(st);
	node->status = NULL;
}
