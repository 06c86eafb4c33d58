/*
 * The status snapshot (daemon/status.h, node_status.h): views read the
 * published document and do no work of their own (no engine walk, and no
 * preflight system checks, which open a netlink socket and read /proc); the
 * node republishes after a change, on its timer, and for the control socket.
 * The document's devices (no key ever), the peers' exit offers, and what
 * preflight takes from the mesh peers.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "mesh/apply.h"
#include "node.h"
#include "node_status.h"
#include "node_web.h"
#include "preflight.h"
#include "status.h"
#include "status_format.h"
#include "testlib.h"
#include "webui/metrics.h"

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return loop_now();
}

static void fake_wall(void *ctx, struct timespec *ts)
{
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, ts);
}

static void fake_random(void *ctx, void *buf, size_t len)
{
	static uint8_t next = 1;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = next++;
}

static void stop_loop(void *ctx)
{
	loop_stop(ctx);
}

static const struct wg_env env = { fake_now, fake_wall, fake_random, NULL };

/* A node with an engine, a loop and the config's defaults; no TUN, no
 * socket, no mesh role, no web server. */
static void node_init(struct node *node)
{
	uint8_t key[KEY_LEN];

	memset(node, 0, sizeof(*node));
	CHECK(config_defaults(&node->cfg) == 0);
	node->cfg.web.enabled = false;
	snprintf(node->cfg.hostname, sizeof(node->cfg.hostname), "unit");
	node->loop = loop_new();
	node->dev = wg_device_new(&env, 1280);
	fake_random(NULL, key, sizeof(key));
	CHECK(node->dev && wg_device_set_private_key(node->dev, key) == 0);
	memcpy(node->public_key, node->dev->identity.static_public, KEY_LEN);
	node->dp.tun.fd = -1;
	node->dp.udp.fd = -1;
	snprintf(node->dp.tun.name, sizeof(node->dp.tun.name), "mgunit0");
}

static void node_fini(struct node *node)
{
	node_web_stop(node);
	wg_device_free(node->dev);
	loop_free(node->loop);
	config_free(&node->cfg);
}

static json_int_t sessions(const json_t *doc)
{
	return json_integer_value(
	    json_object_get(json_object_get(doc, "daemon"), "sessions_established"));
}

static void test_board(void)
{
	struct status_board b = { 0 };
	json_t *one = json_object(), *two = json_object(), *got;

	CHECK(status_board_get(&b) == NULL);
	status_board_publish(&b, one);
	got = status_board_get(&b);
	CHECK(got == one && b.published == 1);
	status_board_publish(&b, NULL); /* a failed build keeps the last one */
	CHECK(b.doc == one && b.published == 1);
	status_board_publish(&b, two);
	CHECK(b.doc == two && b.published == 2);
	/* The reader's reference outlives the replacement. */
	CHECK(got->refcount == 1 && json_is_object(got));
	json_decref(got);
	status_board_clear(&b);
	CHECK(status_board_get(&b) == NULL);
}

/* Requests read the snapshot: the same document, no system checks, no
 * engine walk, however many there are. */
static void test_requests_do_no_work(void)
{
	struct node node;
	unsigned long runs;
	json_t *first;

	node_init(&node);
	CHECK(node_status_current(&node) == NULL);
	runs = preflight_system_runs;
	node_web_sync(&node); /* what node.c calls after each apply */
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	first = node_status_current(&node);
	CHECK(first && json_array_size(json_object_get(first, "preflight")) == PREFLIGHT_CHECKS);

	node.dev->stats.sessions_established = 42;
	for (int i = 0; i < 200; i++) {
		json_t *doc = node_status_current(&node);     /* GET /api/status */
		char *text = metrics_render(doc, time(NULL)); /* GET /metrics */
		CHECK(doc == first && text);
		free(text);
		json_decref(doc);
	}
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	CHECK_EQ_INT(sessions(first), 0);
	json_decref(first);
	node_fini(&node);
}

/* The node republishes: after a change with fresh system checks; for the
 * control socket and on its timer with the counters alone. */
static void test_republished(void)
{
	uint8_t peer_key[KEY_LEN];
	struct wg_peer *peer = NULL;
	unsigned long runs;
	struct node node;
	json_t *doc, *next = NULL;

	node_init(&node);
	node_web_sync(&node);
	doc = node_status_current(&node);
	CHECK(json_array_size(json_object_get(doc, "peers")) == 0);
	json_decref(doc);

	fake_random(NULL, peer_key, sizeof(peer_key));
	CHECK(wg_device_add_peer(node.dev, peer_key, &peer) == 0);
	wg_peer_set_name(peer, "tab");
	runs = preflight_system_runs;
	node_web_sync(&node);
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	doc = node_status_current(&node);
	CHECK(json_array_size(json_object_get(doc, "peers")) == 1);
	CHECK(!strcmp(json_string_value(json_object_get(
			  json_array_get(json_object_get(doc, "peers"), 0), "name")),
		      "tab"));

	node.dev->stats.sessions_established = 7;
	node_status_refresh(&node); /* the control socket's status */
	next = node_status_current(&node);
	CHECK(next != doc && sessions(next) == 7);
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	json_decref(doc);

	/* The timer: run the loop until a tick publishes, boundedly. */
	node.dev->stats.sessions_established = 8;
	for (int i = 0; i < 20 && sessions(next) != 8; i++) {
		json_decref(next);
		struct loop_timer *t = loop_timer_add(node.loop, loop_now() + 500 * 1000 * 1000ULL,
						      stop_loop, node.loop);
		loop_run(node.loop);
		loop_timer_del(node.loop, t);
		next = node_status_current(&node);
	}
	CHECK_EQ_INT(sessions(next), 8);
	json_decref(next);
	node_fini(&node);
}

/* ---- devices and exit offers ---- */

static struct wg_peer *engine_peer(struct node *node, const char *name, uint8_t key[KEY_LEN],
				   const char *const *allowed, size_t n)
{
	struct wg_peer *peer = NULL;

	fake_random(NULL, key, KEY_LEN);
	CHECK(wg_device_add_peer(node->dev, key, &peer) == 0);
	wg_peer_set_name(peer, name);
	for (size_t i = 0; i < n; i++) {
		struct prefix p;
		CHECK(prefix_parse(&p, allowed[i]) == 0);
		CHECK(allowedips_insert(&node->dev->allowedips, p.family, p.addr, p.len, peer) ==
		      0);
	}
	return peer;
}

static struct prefix *prefixes(const char *const *text, size_t n)
{
	struct prefix *v = calloc(n, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		CHECK(prefix_parse(&v[i], text[i]) == 0);
	return v;
}

static void set_device(struct mesh_device *d, const char *name, const char *hub, const char *v4,
		       const char *v6)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->hub, sizeof(d->hub), "%s", hub);
	CHECK(prefix_parse(&d->addresses[0], v4) == 0 && prefix_parse(&d->addresses[1], v6) == 0);
	d->n_addresses = 2;
}

static bool str_is(const json_t *obj, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && !strcmp(s, want);
}

static const json_t *by_name(const json_t *arr, const char *name)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
	{
		if (str_is(x, "name", name))
			return x;
	}
	return NULL;
}

static bool strings_are(const json_t *arr, const char *const *want, size_t n)
{
	if (json_array_size(arr) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found |= json_is_string(json_array_get(arr, j)) &&
				 !strcmp(json_string_value(json_array_get(arr, j)), want[i]);
		if (!found)
			return false;
	}
	return true;
}

/* A hub "home" (exit offer approved, one device "tablet" of its own), a
 * static peer and this node's attached device "phone": the phone is in
 * devices[] with its engine facts and never in peers[]; no device key
 * anywhere; home's addresses are its own; exit offers by peer. */
static void test_devices(void)
{
	static const char *const home_ips[] = { "100.64.0.1/32", "fd7a:6d67:7465::1/128",
						"100.64.0.9/32", "fd7a:6d67:7465::9/128",
						"0.0.0.0/0",     "::/0" };
	static const char *const phone_ips[] = { "100.64.0.7/32", "fd7a:6d67:7465::7/128" };
	static const char *const static_ips[] = { "10.10.0.2/32" };
	uint8_t home_key[KEY_LEN], phone_key[KEY_LEN], static_key[KEY_LEN];
	char phone_b64[KEY_B64_LEN + 1], *text;
	struct wg_endpoint ep = { 0 };
	struct node node;
	struct wg_peer *phone;
	const json_t *peers, *devices, *d;
	json_t *doc;

	node_init(&node);
	engine_peer(&node, "home", home_key, home_ips, 6);
	engine_peer(&node, "static", static_key, static_ips, 1);
	phone = engine_peer(&node, "phone", phone_key, phone_ips, 2);
	phone->stats.rx_bytes = 1234;
	phone->stats.tx_bytes = 5678;
	phone->last_handshake.tv_sec = time(NULL) - 5;
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(4500);
	ep.addr.in4.sin_addr.s_addr = htonl(0xc6336407); /* 198.51.100.7 */
	wg_peer_set_endpoint(phone, &ep);

	node.mesh_peers = calloc(1, sizeof(*node.mesh_peers));
	node.n_mesh_peers = 1;
	snprintf(node.mesh_peers[0].name, sizeof(node.mesh_peers[0].name), "home");
	memcpy(node.mesh_peers[0].public_key, home_key, KEY_LEN);
	node.mesh_peers[0].allowed_ips = prefixes(home_ips, 6);
	node.mesh_peers[0].n_allowed_ips = 6;
	node.mesh_peers[0].exit_offered = true;
	node.mesh_devices = calloc(2, sizeof(*node.mesh_devices));
	node.n_mesh_devices = 2;
	set_device(&node.mesh_devices[0], "phone", "unit", "100.64.0.7/32",
		   "fd7a:6d67:7465::7/128");
	node.mesh_devices[0].attached = true;
	node.mesh_devices[0].exit_node = true;
	memcpy(node.mesh_devices[0].public_key, phone_key, KEY_LEN);
	set_device(&node.mesh_devices[1], "tablet", "home", "100.64.0.9/32",
		   "fd7a:6d67:7465::9/128");

	node_web_sync(&node);
	doc = node_status_current(&node);
	peers = json_object_get(doc, "peers");
	devices = json_object_get(doc, "devices");

	CHECK_EQ_INT(json_array_size(peers), 2);
	CHECK(by_name(peers, "phone") == NULL);
	d = by_name(peers, "home");
	CHECK(d && json_is_true(json_object_get(d, "exit_node_offered")));
	CHECK(d && json_is_true(json_object_get(d, "exit_node")));
	CHECK(d &&
	      strings_are(json_object_get(d, "addresses"),
			  (const char *const[]){ "100.64.0.1/32", "fd7a:6d67:7465::1/128" }, 2));
	d = by_name(peers, "static");
	CHECK(d && json_is_false(json_object_get(d, "exit_node_offered")));

	CHECK_EQ_INT(json_array_size(devices), 2);
	d = by_name(devices, "phone");
	CHECK(d && strings_are(json_object_get(d, "addresses"), phone_ips, 2));
	CHECK(d && str_is(d, "hub", "unit"));
	CHECK(d && json_is_true(json_object_get(d, "attached")));
	CHECK(d && json_is_true(json_object_get(d, "exit_node")));
	CHECK(d && json_is_true(json_object_get(d, "online")));
	CHECK(d && json_integer_value(json_object_get(d, "last_handshake")) ==
		       phone->last_handshake.tv_sec);
	CHECK(d && json_integer_value(json_object_get(d, "rx_bytes")) == 1234);
	CHECK(d && json_integer_value(json_object_get(d, "tx_bytes")) == 5678);
	CHECK(d && str_is(d, "endpoint", "198.51.100.7:4500"));
	d = by_name(devices, "tablet");
	CHECK(d && str_is(d, "hub", "home"));
	CHECK(d && json_is_false(json_object_get(d, "attached")));
	CHECK(d && json_is_false(json_object_get(d, "online")));
	CHECK(d && json_integer_value(json_object_get(d, "last_handshake")) == 0);
	CHECK(d && json_integer_value(json_object_get(d, "rx_bytes")) == 0);
	CHECK(d && json_is_null(json_object_get(d, "endpoint")));

	key_to_base64(phone_b64, phone_key);
	text = json_dumps(doc, 0);
	CHECK(text && !strstr(text, phone_b64));
	for (size_t i = 0; i < json_array_size(devices); i++)
		CHECK(!json_object_get(json_array_get(devices, i), "public_key"));
	free(text);
	json_decref(doc);

	mesh_apply_free(node.mesh_peers, node.n_mesh_peers);
	free(node.mesh_devices);
	node_fini(&node);
}

static json_t *exit_doc(struct node *node)
{
	node_web_sync(node);
	return node_status_current(node);
}

/* self.exit_node reports the plan's verdict: blocked with the reason (an
 * offline exit with its last handshake; auto with nothing to pick), in use
 * with none; exit_node_in_use only while in use; the metrics gauge. */
static void test_exit_state(void)
{
	static const char *const home_ips[] = { "100.64.0.1/32" };
	uint8_t home_key[KEY_LEN];
	struct node node;
	struct wg_peer *home;
	const json_t *self, *x;
	json_t *doc;
	char *metrics;

	node_init(&node);
	home = engine_peer(&node, "home", home_key, home_ips, 1);
	home->last_handshake.tv_sec = time(NULL) - 200;
	node.mesh_peers = calloc(1, sizeof(*node.mesh_peers));
	node.n_mesh_peers = 1;
	snprintf(node.mesh_peers[0].name, sizeof(node.mesh_peers[0].name), "home");
	memcpy(node.mesh_peers[0].public_key, home_key, KEY_LEN);
	node.mesh_peers[0].exit_approved = true;
	snprintf(node.cfg.use_exit_node.peer, sizeof(node.cfg.use_exit_node.peer), "home");
	node.plan.exit_wanted = true;
	node.plan.exit_peer = 0;
	node.plan.exit_state = PLAN_EXIT_BLOCKED;
	node.plan.exit_reason = PLAN_EXIT_OFFLINE;

	doc = exit_doc(&node);
	self = json_object_get(doc, "self");
	x = json_object_get(self, "exit_node");
	CHECK(str_is(x, "wanted", "home") && str_is(x, "state", "blocked"));
	CHECK(strstr(json_string_value(json_object_get(x, "reason")) ?: "",
		     "internet traffic is blocked: exit node 'home' is offline (last handshake ") ==
	      json_string_value(json_object_get(x, "reason")));
	CHECK(strstr(json_string_value(json_object_get(x, "reason")) ?: "", ", 3 min ago)"));
	CHECK(json_is_null(json_object_get(self, "exit_node_in_use")));
	CHECK(str_is(by_name(json_object_get(doc, "peers"), "home"), "exit_offer", "approved"));
	metrics = metrics_render(doc, time(NULL));
	CHECK(metrics && strstr(metrics, "\nmeshgate_exit_node_blocked 1\n"));
	free(metrics);
	json_decref(doc);

	node.plan.exit_state = PLAN_EXIT_IN_USE;
	node.plan.exit_reason = PLAN_EXIT_OK;
	doc = exit_doc(&node);
	self = json_object_get(doc, "self");
	x = json_object_get(self, "exit_node");
	CHECK(str_is(x, "state", "in_use") && json_is_null(json_object_get(x, "reason")));
	CHECK(str_is(self, "exit_node_in_use", "home"));
	json_decref(doc);

	/* meshgate set --exit-node auto, nothing to pick: "auto" is no peer. */
	snprintf(node.cfg.use_exit_node.peer, sizeof(node.cfg.use_exit_node.peer), "auto");
	node.prefs.set[PREFS_EXIT_NODE] = true;
	node.prefs.exit_mode = PREFS_EXIT_AUTO;
	node.plan.exit_peer = -1;
	node.plan.exit_state = PLAN_EXIT_BLOCKED;
	node.plan.exit_reason = PLAN_EXIT_UNKNOWN;
	doc = exit_doc(&node);
	x = json_object_get(json_object_get(doc, "self"), "exit_node");
	CHECK(str_is(x, "state", "blocked"));
	CHECK(strstr(json_string_value(json_object_get(x, "reason")) ?: "",
		     "exit node auto (meshgate set) has none to pick"));
	json_decref(doc);

	mesh_apply_free(node.mesh_peers, node.n_mesh_peers);
	node.plan.exit_peer = -1;
	node_fini(&node);
}

/* Preflight's rp_filter check asks whether peers serve routes the node may
 * not install: a hub's devices are host addresses in the mesh prefix, not
 * routes; a peer with one address and one route serves a route. */
static void test_preflight_peer_routes(void)
{
	static const char *const hub_ips[] = { "100.64.0.1/32", "fd7a:6d67:7465::1/128",
					       "100.64.0.9/32", "fd7a:6d67:7465::9/128" };
	static const char *const lan_ips[] = { "100.64.0.2/32", "192.168.77.0/24" };
	struct preflight_node facts;
	struct node node;

	node_init(&node);
	node.cfg.accept_routes = false;
	node.mesh_peers = calloc(1, sizeof(*node.mesh_peers));
	node.n_mesh_peers = 1;
	node.mesh_peers[0].allowed_ips = prefixes(hub_ips, 4);
	node.mesh_peers[0].n_allowed_ips = 4;
	node_status_preflight_facts(&node, &facts);
	CHECK(!facts.peer_routes_unused);

	free(node.mesh_peers[0].allowed_ips);
	node.mesh_peers[0].allowed_ips = prefixes(lan_ips, 2);
	node.mesh_peers[0].n_allowed_ips = 2;
	node_status_preflight_facts(&node, &facts);
	CHECK(facts.peer_routes_unused);

	mesh_apply_free(node.mesh_peers, node.n_mesh_peers);
	node_fini(&node);
}

/* "policy": allow, revision 0 and no entries without one; the filter's
 * default, revision and entry count with one; the human form's line. */
static void test_policy(void)
{
	struct acl_entry entries[3] = { { .rule = 1 }, { .rule = 2 }, { .rule = 2 } };
	const json_t *policy;
	struct node node;
	char *text = NULL;
	size_t len = 0;
	json_t *doc;
	FILE *out;

	node_init(&node);
	node_web_sync(&node);
	doc = node_status_current(&node);
	policy = json_object_get(doc, "policy");
	CHECK(strcmp(json_string_value(json_object_get(policy, "default")), "allow") == 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(policy, "revision")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(policy, "entries")), 0);
	out = open_memstream(&text, &len);
	status_format_human(out, doc, time(NULL));
	fclose(out);
	CHECK(strstr(text, "policy:") == NULL);
	free(text);
	json_decref(doc);

	node.policy = (struct acl_filter){
		.present = true, .deny = true, .revision = 12, .entries = entries, .n_entries = 3
	};
	node_web_sync(&node);
	doc = node_status_current(&node);
	policy = json_object_get(doc, "policy");
	CHECK(strcmp(json_string_value(json_object_get(policy, "default")), "deny") == 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(policy, "revision")), 12);
	CHECK_EQ_INT(json_integer_value(json_object_get(policy, "entries")), 3);
	out = open_memstream(&text, &len);
	status_format_human(out, doc, time(NULL));
	fclose(out);
	CHECK(strstr(text, "\npolicy: deny by default, revision 12, 3 entries enforced here\n"));
	free(text);
	json_decref(doc);
	node.policy = (struct acl_filter){ 0 };
	node_fini(&node);
}

/* daemon.io: every io_stats counter, the TUN's and the socket's summed;
 * daemon.offloads: what the data plane filled. */
static void test_io_counters(void)
{
	struct node node;
	json_t *doc, *io, *off;

	node_init(&node);
	node.dp.tun.stats.tun_rx = 100;
	node.dp.tun.stats.tun_gso_rx = 3;
	node.dp.tun.stats.tun_gso_segs = 90;
	node.dp.tun.stats.tun_split_bad_hdr = 4;
	node.dp.tun.stats.tun_split_bad_pkt = 5;
	node.dp.tun.stats.tun_coalesced_writes = 6;
	node.dp.tun.stats.tun_coalesced_segs = 70;
	node.dp.tun.stats.tun_uso_refused = 1;
	node.dp.udp.stats.udp_rx = 8;
	node.dp.udp.stats.tun_rx = 1; /* summed, whoever counts it */
	node.dp.offloads = (struct dataplane_offloads){
		.requested = true, .tun_vnet_hdr = true, .tun_tso = true, .crypto_simd = "avx2"
	};
	node_web_sync(&node);
	doc = node_status_current(&node);
	io = json_object_get(json_object_get(doc, "daemon"), "io");
	off = json_object_get(json_object_get(doc, "daemon"), "offloads");
	CHECK(json_is_object(io));
	CHECK_EQ_INT(json_object_size(io), sizeof(struct io_stats) / sizeof(uint64_t));
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_rx")), 101);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "udp_rx")), 8);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_gso_rx")), 3);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_gso_segs")), 90);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_split_bad_hdr")), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_split_bad_pkt")), 5);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_coalesced_writes")), 6);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_coalesced_segs")), 70);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_uso_refused")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(io, "tun_vnet_refused")), 0);
	CHECK(json_is_true(json_object_get(off, "tun_vnet_hdr")) &&
	      json_is_true(json_object_get(off, "tun_tso")) &&
	      json_is_false(json_object_get(off, "tun_uso")));
	CHECK(strcmp(json_string_value(json_object_get(off, "crypto_simd")), "avx2") == 0);
	json_decref(doc);
	node_fini(&node);
}

int main(void)
{
	RUN(test_board);
	RUN(test_requests_do_no_work);
	RUN(test_republished);
	RUN(test_devices);
	RUN(test_exit_state);
	RUN(test_preflight_peer_routes);
	RUN(test_policy);
	RUN(test_io_counters);
	return test_summary();
}
