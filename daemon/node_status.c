/* The node's status publisher; see node_status.h. */
#include "node_status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "mesh/audit.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "netaddr.h"
#include "node.h"
#include "node_ddns.h"
#include "node_dns.h"
#include "node_prefs.h"
#include "nft.h"
#include "plan_acl.h"
#include "plan_exit.h"
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
	json_t *policy_counters; /* the last read of policy.counters, NULL: none */
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

static int peer_order(const void *a, const void *b)
{
	return memcmp((*(const struct mesh_peer *const *)a)->public_key,
		      (*(const struct mesh_peer *const *)b)->public_key, KEY_LEN);
}

static int peer_key_order(const void *key, const void *elem)
{
	return memcmp(key, (*(const struct mesh_peer *const *)elem)->public_key, KEY_LEN);
}

static int device_order(const void *a, const void *b)
{
	return memcmp((*(const struct mesh_device *const *)a)->public_key,
		      (*(const struct mesh_device *const *)b)->public_key, KEY_LEN);
}

static int device_key_order(const void *key, const void *elem)
{
	return memcmp(key, (*(const struct mesh_device *const *)elem)->public_key, KEY_LEN);
}

/*
 * The mesh's facts one build matches engine peers against, each sorted for
 * bsearch (a hub may hold a thousand devices; the engine's peer walk stays
 * linear). It points into the node's own copies (mesh_peers, mesh_devices).
 */
struct mesh_index {
	const struct mesh_peer **peers;     /* by key */
	const struct mesh_device **devices; /* the attached ones, by key */
	size_t n_peers, n_devices;
	struct prefix *device_addrs; /* every device's addresses */
	size_t n_device_addrs;
	/* Per node->mesh_devices entry: its engine peer; NULL: none. */
	const struct wg_peer **device_peer;
};

static void mesh_index_free(struct mesh_index *ix)
{
	free(ix->peers);
	free(ix->devices);
	free(ix->device_addrs);
	free(ix->device_peer);
}

static int mesh_index_init(struct mesh_index *ix, const struct node *node)
{
	size_t n_dev = node->n_mesh_devices;

	memset(ix, 0, sizeof(*ix));
	ix->peers = calloc(node->n_mesh_peers + 1, sizeof(*ix->peers));
	ix->devices = calloc(n_dev + 1, sizeof(*ix->devices));
	ix->device_addrs = calloc(2 * n_dev + 1, sizeof(*ix->device_addrs));
	ix->device_peer = calloc(n_dev + 1, sizeof(*ix->device_peer));
	if (!ix->peers || !ix->devices || !ix->device_addrs || !ix->device_peer) {
		mesh_index_free(ix);
		return -ENOMEM;
	}
	for (size_t i = 0; i < node->n_mesh_peers; i++)
		ix->peers[ix->n_peers++] = &node->mesh_peers[i];
	for (size_t i = 0; i < n_dev; i++) {
		const struct mesh_device *d = &node->mesh_devices[i];
		if (d->attached)
			ix->devices[ix->n_devices++] = d;
		for (size_t j = 0; j < d->n_addresses && j < 2; j++)
			ix->device_addrs[ix->n_device_addrs++] = d->addresses[j];
	}
	qsort(ix->peers, ix->n_peers, sizeof(*ix->peers), peer_order);
	qsort(ix->devices, ix->n_devices, sizeof(*ix->devices), device_order);
	qsort(ix->device_addrs, ix->n_device_addrs, sizeof(*ix->device_addrs), prefix_cmp);
	return 0;
}

/* The attached device (index into node->mesh_devices) with this key, or -1. */
static ssize_t attached_device(const struct mesh_index *ix, const struct node *node,
			       const uint8_t key[KEY_LEN])
{
	const struct mesh_device **hit =
	    bsearch(key, ix->devices, ix->n_devices, sizeof(*ix->devices), device_key_order);

	return hit ? *hit - node->mesh_devices : -1;
}

/* The mesh peer with this key (a static peer has none), or NULL. */
static const struct mesh_peer *mesh_peer_of(const struct mesh_index *ix, const uint8_t key[KEY_LEN])
{
	const struct mesh_peer **hit =
	    bsearch(key, ix->peers, ix->n_peers, sizeof(*ix->peers), peer_key_order);

	return hit ? *hit : NULL;
}

struct prefix_sort {
	const struct mesh_index *ix;
	json_t *addresses; /* host prefixes: the peer's own addresses */
	json_t *routes;    /* everything else it serves */
	bool exit_node;
};

/* A hub peer's allowed IPs hold its devices' addresses too: those are the
 * devices' (status devices[]), not the peer's. */
static int sort_allowed_ip(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	struct prefix_sort *sort = ctx;
	struct prefix p = { .family = family, .len = cidr };
	bool host = cidr == (family == AF_INET ? 32 : 128);

	memcpy(p.addr, ip, addr_len(family));
	if (cidr == 0)
		sort->exit_node = true;
	else if (host && bsearch(&p, sort->ix->device_addrs, sort->ix->n_device_addrs, sizeof(p),
				 prefix_cmp))
		return 0;
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

/* "coordinator", "member" (the client role runs) or "none"; "role_origin"
 * says whether the config or a command (init, join) chose it. */
static const char *role_name(const struct node *node)
{
	return node->roles.coordinator ? "coordinator" : node->roles.client ? "member" : "none";
}

/* The engine's peer of the plan's exit peer (config peers, then mesh
 * peers, then devices), or NULL. */
static const struct wg_peer *exit_engine_peer(const struct node *node)
{
	long i = node->plan.exit_peer;
	size_t n_cfg = node->cfg.n_peers;

	if (i < 0)
		return NULL;
	if ((size_t)i < n_cfg)
		return wg_device_find_peer(node->dev, node->cfg.peers[i].public_key);
	if ((size_t)i - n_cfg < node->n_mesh_peers)
		return wg_device_find_peer(node->dev, node->mesh_peers[i - n_cfg].public_key);
	return NULL;
}

static bool exit_auto_unpicked(const struct node *node)
{
	return node->prefs.set[PREFS_EXIT_NODE] && node->prefs.exit_mode == PREFS_EXIT_AUTO &&
	       !node->exit_auto[0];
}

/* {"wanted", "state", "reason"}: the plan's verdict (exitnode/exit_client.c
 * routes by it), the reason a sentence with the exit's last handshake. */
static json_t *exit_node_json(const struct node *node, time_t now)
{
	const struct route_plan *plan = &node->plan;
	const char *wanted = node->cfg.use_exit_node.peer;
	const struct wg_peer *peer = exit_engine_peer(node);
	char reason[512];

	if (!wanted[0])
		return json_pack("{s:n, s:s, s:n}", "wanted", "state",
				 route_plan_exit_state_name(PLAN_EXIT_OFF), "reason");
	route_plan_exit_text(reason, sizeof(reason), wanted, plan->exit_reason,
			     peer ? (int64_t)peer->last_handshake.tv_sec : 0, (int64_t)now);
	/* `meshgate set --exit-node auto` with nothing to pick names "auto". */
	if (plan->exit_state == PLAN_EXIT_BLOCKED && exit_auto_unpicked(node))
		snprintf(reason, sizeof(reason),
			 "internet traffic is blocked: exit node auto (meshgate set) has none "
			 "to pick: no peer's exit is approved and online (meshgate exit-node "
			 "list shows the offers)");
	return json_pack("{s:s, s:s, s:o}", "wanted", wanted, "state",
			 route_plan_exit_state_name(plan->exit_state), "reason",
			 reason[0] ? json_string(reason) : json_null());
}

/* "advertised_routes", "exit_node_offered" and the exit node wanted are
 * the config with the overrides of `meshgate set` ("preferences" says
 * which; `auto` names the exit it chose); "exit_node_in_use" the exit
 * internet traffic goes through, null when none or blocked ("exit_node"
 * says why); "served_routes" and "exit_node_served" what the node forwards
 * (config ∩ approved). */
static json_t *self_json(const struct node *node, time_t now)
{
	const struct mg_config *cfg = &node->cfg;
	bool in_use = node->plan.exit_state == PLAN_EXIT_IN_USE;
	json_t *self =
	    json_pack("{s:s, s:o, s:o, s:i, s:b, s:s, s:s, s:o, s:b, s:o, s:o, s:b, s:o}", "name",
		      cfg->hostname, "public_key", key_json(node->public_key), "addresses",
		      self_addresses_json(node), "listen_port", (int)node_listen_port(node),
		      "coordinator", node->roles.coordinator != NULL, "role", role_name(node),
		      "role_origin", mesh_roles_origin_name(node->roles.origin),
		      "advertised_routes", prefix_list_json(&cfg->subnet_router.routes),
		      "exit_node_offered", cfg->exit_node.enabled, "exit_node_in_use",
		      in_use ? json_string(cfg->use_exit_node.peer) : json_null(), "served_routes",
		      served_routes_json(node), "exit_node_served", node->plan.nft.exit_node,
		      "exit_node", exit_node_json(node, now));

	if (self && (json_object_set_new(self, "preferences", node_prefs_json(node)) < 0 ||
		     json_object_set_new(self, "preferences_error",
					 node->prefs_error[0] ? json_string(node->prefs_error)
							      : json_null()) < 0)) {
		json_decref(self);
		return NULL;
	}
	return self;
}

/* "direct" or "relay" for a peer with a live session, else "none". */
static const char *path_name(const struct wg_peer *peer, bool session)
{
	if (!session || !peer->has_endpoint)
		return "none";
	return wg_endpoint_is_relay(&peer->endpoint) ? "relay" : "direct";
}

static bool peer_online(const struct wg_peer *peer, time_t now)
{
	time_t last = peer->last_handshake.tv_sec;

	return last && now - last < ONLINE_WINDOW;
}

/* A mesh peer's exit offer: "approved" (usable while online), "pending"
 * (not approved by the coordinator), or null. */
static json_t *exit_offer_json(const struct mesh_peer *mp)
{
	if (mp && mp->exit_approved)
		return json_string("approved");
	return mp && mp->exit_pending ? json_string("pending") : json_null();
}

/* "exit_node": its defaults are in the allowed IPs (the exit in use);
 * "exit_node_offered": a mesh peer whose exit offer is approved and which
 * is online; "exit_offer": what it offers, approved or not. */
static json_t *peer_json(const struct wg_peer *peer, const struct mesh_index *ix, time_t now)
{
	struct prefix_sort sort = { ix, json_array(), json_array(), false };
	const struct mesh_peer *mp = mesh_peer_of(ix, peer->public_key);
	bool online = peer_online(peer, now);
	bool session = online && peer->current;

	allowedips_walk_by_peer(&peer->device->allowedips, (void *)peer, sort_allowed_ip, &sort);
	return json_pack(
	    "{s:s, s:o, s:o, s:o, s:s, s:I, s:I, s:I, s:o, s:b, s:b, s:o, s:b}", "name", peer->name,
	    "public_key", key_json(peer->public_key), "addresses", sort.addresses, "endpoint",
	    endpoint_json(peer), "path", path_name(peer, session), "last_handshake",
	    (json_int_t)peer->last_handshake.tv_sec, "rx_bytes", (json_int_t)peer->stats.rx_bytes,
	    "tx_bytes", (json_int_t)peer->stats.tx_bytes, "routes", sort.routes, "exit_node",
	    sort.exit_node, "exit_node_offered", mp && mp->exit_offered, "exit_offer",
	    exit_offer_json(mp), "online", online);
}

/* A static peer's or the coordinator's endpoint name (node_ddns.h,
 * mesh_client_endpoint_name): endpoint_name, endpoint_resolved_at (unix s,
 * 0 before the first answer). Other peers have neither. */
static void endpoint_name_add(json_t *obj, const struct node *node, const uint8_t key[KEY_LEN])
{
	const struct ddns_name *dn = node_ddns_find(node->ddns, key, NULL);
	char name[ENDPOINT_STR_LEN];

	if (!dn && node->roles.client)
		dn = mesh_client_endpoint_name(node->roles.client, key);
	if (!dn || !obj)
		return;
	ddns_name_format(dn, name, sizeof(name));
	json_object_set_new(obj, "endpoint_name", json_string(name));
	json_object_set_new(obj, "endpoint_resolved_at", json_integer((json_int_t)dn->resolved_at));
}

/* "dns_name": the name the member holds in the resolver's zone, or null. */
static void dns_name_add(json_t *obj, const struct node *node)
{
	const char *name = json_string_value(json_object_get(obj, "name"));
	char fqdn[256];

	if (obj)
		json_object_set_new(obj, "dns_name",
				    name && node_dns_name(&node->dns, name, fqdn, sizeof(fqdn))
					? json_string(fqdn)
					: json_null());
}

/* The engine's peers but the attached devices, whose engine peers the
 * index records for devices_json. */
static json_t *peers_json(const struct node *node, struct mesh_index *ix, time_t now)
{
	json_t *arr = json_array(), *p;

	wg_device_for_each_peer(node->dev, peer)
	{
		ssize_t d = attached_device(ix, node, peer->public_key);
		if (d >= 0) {
			ix->device_peer[d] = peer;
		} else if (arr) {
			p = peer_json(peer, ix, now);
			endpoint_name_add(p, node, peer->public_key);
			dns_name_add(p, node);
			json_array_append_new(arr, p);
		}
	}
	return arr;
}

/* A device never shows its key. Engine facts only for an attached device
 * (this node is its hub); zero and null for the others. */
static json_t *device_json(const struct mesh_device *d, const struct wg_peer *peer, time_t now)
{
	json_t *addrs = json_array();

	for (size_t i = 0; addrs && i < d->n_addresses && i < 2; i++)
		json_array_append_new(addrs, prefix_json(&d->addresses[i]));
	return json_pack(
	    "{s:s, s:o, s:s, s:b, s:b, s:I, s:I, s:I, s:b, s:o}", "name", d->name, "addresses",
	    addrs, "hub", d->hub, "attached", d->attached, "exit_node", d->exit_node,
	    "last_handshake", (json_int_t)(peer ? peer->last_handshake.tv_sec : 0), "rx_bytes",
	    (json_int_t)(peer ? peer->stats.rx_bytes : 0), "tx_bytes",
	    (json_int_t)(peer ? peer->stats.tx_bytes : 0), "online", peer && peer_online(peer, now),
	    "endpoint", peer ? endpoint_json(peer) : json_null());
}

static json_t *devices_json(const struct node *node, const struct mesh_index *ix, time_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < node->n_mesh_devices; i++) {
		const struct mesh_device *d = &node->mesh_devices[i];
		json_t *o = device_json(d, d->attached ? ix->device_peer[i] : NULL, now);

		dns_name_add(o, node);
		json_array_append_new(arr, o);
	}
	return arr;
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
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "updates_deferred",
			 (json_int_t)st.updates_deferred, "endpoints_debounced",
			 (json_int_t)st.endpoints_debounced, "reconnects_refused",
			 (json_int_t)st.reconnects_refused, "writes_skipped",
			 (json_int_t)st.writes_skipped, "rebuilds", (json_int_t)st.rebuilds,
			 "netmaps_pushed", (json_int_t)st.netmaps_pushed, "netmaps_oversize",
			 (json_int_t)st.netmaps_oversize, "lines_ignored",
			 (json_int_t)st.lines_ignored);
}

/* The data plane's offloads and crypto threads in use (and whether the
 * config or environment asked for offloads at all). */
static json_t *offloads_json(const struct dataplane_offloads *o)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:s}", "requested", o->requested,
			 "tun_vnet_hdr", o->tun_vnet_hdr, "tun_tso", o->tun_tso, "tun_uso",
			 o->tun_uso, "udp_gso", o->udp_gso, "udp_gro", o->udp_gro, "crypto_threads",
			 (int)o->crypto_threads, "crypto_simd",
			 o->crypto_simd ? o->crypto_simd : "none");
}

/* The TUN's and UDP socket's packet counters summed: every io_stats field
 * under its own name, so tests can see the offloads at work. */
static json_t *io_json(const struct node *node)
{
#define IO_FIELD(f)                                                                                \
	{                                                                                          \
#f, offsetof(struct io_stats, f)                                                   \
	}
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		IO_FIELD(tun_rx),
		IO_FIELD(tun_tx),
		IO_FIELD(udp_rx),
		IO_FIELD(udp_tx),
		IO_FIELD(udp_truncated),
		IO_FIELD(tun_write_errors),
		IO_FIELD(udp_send_errors),
		IO_FIELD(tun_truncated),
		IO_FIELD(udp_src_cleared),
		IO_FIELD(udp_send_blocked),
		IO_FIELD(tun_gso_rx),
		IO_FIELD(tun_gso_segs),
		IO_FIELD(tun_split_bad_hdr),
		IO_FIELD(tun_split_bad_pkt),
		IO_FIELD(tun_coalesced_writes),
		IO_FIELD(tun_coalesced_segs),
		IO_FIELD(tun_vnet_refused),
		IO_FIELD(tun_tso_refused),
		IO_FIELD(tun_uso_refused),
		IO_FIELD(udp_gso_msgs),
		IO_FIELD(udp_gso_datagrams),
		IO_FIELD(udp_gso_off),
		IO_FIELD(udp_gro_buffers),
		IO_FIELD(udp_gro_datagrams),
		IO_FIELD(udp_gro_dropped),
	};
#undef IO_FIELD
	struct io_stats sum = { 0 };
	json_t *obj = json_object();

	io_stats_add(&sum, &node->dp.tun.stats);
	io_stats_add(&sum, &node->dp.udp.stats);
	for (size_t i = 0; obj && i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&sum + fields[i].off, sizeof(v));
		json_object_set_new(obj, fields[i].name, json_integer((json_int_t)v));
	}
	return obj;
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
	if (doc)
		json_object_set_new(doc, "offloads", offloads_json(&node->dp.offloads));
	if (doc)
		json_object_set_new(doc, "io", io_json(node));
	if (doc && node->roles.coordinator)
		json_object_set_new(doc, "mesh_control", mesh_control_json(node));
	return doc;
}

/* The public endpoint STUN learned, "IP:PORT", or null. */
static json_t *public_endpoint_json(const struct coordinator *c)
{
	struct stunclient_status st;
	char text[SOCKADDR_STR_LEN];

	coordinator_stun(c, &st);
	if (!st.have_public)
		return json_null();
	sockaddr_format(&st.public_ep, text, sizeof(text));
	return json_string(text);
}

/* What STUN did: servers configured, when the last round ended, the NAT's
 * mapping, the last round's error and the datagram counters (/metrics). */
static json_t *stun_json(const struct coordinator *c)
{
	struct stunclient_status st;

	coordinator_stun(c, &st);
	return json_pack("{s:i, s:I, s:s, s:s?, s:I, s:I, s:I, s:I}", "servers", (int)st.servers,
			 "last_round", (json_int_t)st.last_round, "nat",
			 stunclient_nat_name(st.nat), "error", st.error[0] ? st.error : NULL,
			 "learned_at", (json_int_t)st.learned_at, "requests",
			 (json_int_t)st.requests, "responses", (json_int_t)st.responses, "dropped",
			 (json_int_t)st.dropped);
}

/* On the coordinator: every node of the mesh with its routes, approved and
 * pending, and the audit log's last entries, newest first (the status page
 * shows them). NULL elsewhere: the key is left out. */
static json_t *coordinator_json(const struct node *node)
{
	const char *error = NULL;
	json_t *nodes, *audit;

	if (!node->roles.coordinator)
		return NULL;
	nodes = coordinator_nodes(node->roles.coordinator, &error);
	if (!nodes)
		return NULL;
	audit = coordinator_audit_recent(node->roles.coordinator, AUDIT_STATUS_ENTRIES);
	return json_pack("{s:o, s:o, s:o, s:o}", "nodes", nodes, "public_endpoint",
			 public_endpoint_json(node->roles.coordinator), "stun",
			 stun_json(node->roles.coordinator), "audit", audit ? audit : json_array());
}

static bool any_wider_than_host(const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].len != (v[i].family == AF_INET ? 32 : 128))
			return true;
	return false;
}

/* Whether a peer serves more than host addresses: its own, and a hub's
 * devices' (inside the mesh prefix, which the node routes anyway). */
static bool peers_serve_routes(const struct node *node)
{
	for (size_t i = 0; i < node->cfg.n_peers; i++)
		if (any_wider_than_host(node->cfg.peers[i].allowed_ips.v,
					node->cfg.peers[i].allowed_ips.n))
			return true;
	for (size_t i = 0; i < node->n_mesh_peers; i++)
		if (any_wider_than_host(node->mesh_peers[i].allowed_ips,
					node->mesh_peers[i].n_allowed_ips))
			return true;
	return false;
}

void node_status_preflight_facts(const struct node *node, struct preflight_node *n)
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
	node_status_preflight_facts(st->node, &n);
	preflight_set_node(f, &n);
	preflight_evaluate(f, r);
	doc = preflight_json(r, PREFLIGHT_CHECKS);
	free(f);
	return doc;
}

/* dns.os_resolver: {"managed", "method", "error"}. */
static json_t *os_resolver_json(const struct node *node)
{
	const struct osresolver *r = &node->osresolver;
	bool ready = node->osresolver_ready;

	return json_pack("{s:b, s:s?, s:s?}", "managed", ready && r->managed, "method",
			 ready ? osresolver_method_name(r->method) : NULL, "error",
			 ready && r->error[0] ? r->error : NULL);
}

/* "policy": {"default", "revision", "entries"}: the access policy's share
 * this node enforces ("allow", 0, 0 without one). */
static json_t *policy_json(const struct node *node)
{
	const struct acl_filter *f = &node->policy;

	return json_pack("{s:s, s:I, s:I}", "default", f->present && f->deny ? "deny" : "allow",
			 "revision", (json_int_t)(f->present ? f->revision : 0), "entries",
			 (json_int_t)(f->present ? f->n_entries : 0));
}

/* Sets doc's "dns".key to value (a new reference it takes), making "dns". */
static int dns_json_add(json_t *doc, const char *key, json_t *value)
{
	json_t *dns = json_object_get(doc, "dns");

	if (!dns && json_object_set_new(doc, "dns", dns = json_object()) < 0) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(dns, key, value) < 0 ? -ENOMEM : 0;
}

/* Sets doc's "policy".key to value (a new reference it takes, NULL: none),
 * making "policy". */
static int policy_json_add(json_t *doc, const char *key, json_t *value)
{
	json_t *policy = json_object_get(doc, "policy");

	if (!value)
		return 0;
	if (!policy && json_object_set_new(doc, "policy", policy = json_object()) < 0) {
		json_decref(value);
		return -ENOMEM;
	}
	return json_object_set_new(policy, key, value) < 0 ? -ENOMEM : 0;
}

static int policy_counter_add(json_t *accepted, json_t *denied, const struct nft_policy_counter *c)
{
	const char *hook = plan_acl_hook_name(c->hook);

	if (c->deny)
		return json_object_set_new(denied, hook, json_integer((json_int_t)c->packets));
	return json_array_append_new(accepted,
				     json_pack("{s:I, s:s, s:I}", "rule", (json_int_t)c->rule,
					       "hook", hook, "packets", (json_int_t)c->packets));
}

/* policy.counters {"accepted": [{rule, hook, packets}], "denied": {HOOK:
 * packets}}: read from the table now (one netlink dump); NULL while the
 * table enforces no policy or cannot be read. */
static json_t *policy_counters_json(const struct node *node)
{
	json_t *accepted = json_array(), *denied = json_object(), *doc = NULL;
	struct nft_policy_counter *v = NULL;
	size_t n = 0;
	int ret = accepted && denied ? router_policy_counters(&node->router, &v, &n) : -ENOMEM;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = policy_counter_add(accepted, denied, &v[i]) < 0 ? -ENOMEM : 0;
	free(v);
	if (ret == 0)
		doc = json_pack("{s:O, s:O}", "accepted", accepted, "denied", denied);
	json_decref(accepted);
	json_decref(denied);
	return doc;
}

/* NULL out of memory: the board keeps the last document. */
static json_t *build(const struct node_status *st)
{
	const struct node *node = st->node;
	time_t now = time(NULL);
	struct mesh_index ix;
	json_t *peers, *doc;

	if (mesh_index_init(&ix, node) < 0)
		return NULL;
	peers = peers_json(node, &ix, now);
	doc = json_pack("{s:o, s:o, s:o, s:o, s:o*, s:o*, s:o*, s:o*}", "self",
			self_json(node, now), "peers", peers, "devices",
			devices_json(node, &ix, now), "daemon", daemon_json(node), "preflight",
			preflight_doc(st), "coordinator", coordinator_json(node), "dns",
			node_dns_json(&node->dns), "policy", policy_json(node));
	mesh_index_free(&ix);
	if (doc && (dns_json_add(doc, "os_resolver", os_resolver_json(node)) < 0 ||
		    policy_json_add(doc, "counters", json_incref(st->policy_counters)) < 0)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static void system_checks(struct node_status *st)
{
	const struct node *node = st->node;

	preflight_gather_system(&node->cfg, node->dp.tun.name, node->plan.sysctls,
				node->plan.n_sysctls, &st->system);
}

/* A dump of the whole table: a policy of thousands of entries takes tens of
 * milliseconds to read, hence the system checks' pace, not every second. */
static void policy_counters_read(struct node_status *st)
{
	json_decref(st->policy_counters);
	st->policy_counters = policy_counters_json(st->node);
}

static void on_timer(void *ctx)
{
	struct node_status *st = ctx;

	loop_timer_set(st->node->loop, st->timer, loop_now() + NODE_STATUS_PERIOD_S * NSEC_PER_SEC);
	st->ticks++;
	if (st->ticks % (NODE_STATUS_CHECK_PERIOD_S / NODE_STATUS_PERIOD_S) == 0) {
		system_checks(st);
		policy_counters_read(st);
	}
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
	policy_counters_read(st);
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
	json_decref(st->policy_counters);
	free(st);
	node->status = NULL;
}
