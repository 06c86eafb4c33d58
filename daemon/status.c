/* The status document; see status.h. */
#include "status.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "mesh/coordinator.h"
#include "netaddr.h"
#include "node.h"
#include "preflight.h"
#include "wg/engine.h"

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

json_t *status_snapshot(const struct node *node)
{
	json_t *peers = json_array();
	time_t now = time(NULL);

	wg_device_for_each_peer(node->dev, peer)
	{
		json_array_append_new(peers, peer_json(peer, now));
	}
	return json_pack("{s:o, s:o, s:o, s:o*, s:o*}", "self", self_json(node), "peers", peers,
			 "daemon", daemon_json(node), "preflight", preflight_status(node),
			 "coordinator", coordinator_json(node));
}
