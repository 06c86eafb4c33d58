/*
 * Per-node netmaps: who is a peer, candidates (reported + observed), primary
 * routers and failover, exit offers, the self section, devices under their
 * hubs, and that the result survives the JSON round trip netmap_from_json()
 * checks.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dns/meshzone.h"
#include "mesh/apply.h"
#include "mesh/netmap_build.h"
#include "testlib.h"

enum { N = 4 };

struct world {
	struct registry_node nodes[N];
	struct registry_route routes[8];
	size_t n_routes;
	struct endpoint eps[N];
	uint32_t online[N];
	struct netmap_observed observed[1];
	struct netmap_build_input in;
};

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

static void add_route(struct world *w, uint32_t id, const char *text, bool approved)
{
	w->routes[w->n_routes++] = (struct registry_route){ id, pfx(text), approved };
}

/* home (1, the coordinator), laptop (2), phone (3), router2 (4). */
static void world_init(struct world *w)
{
	static const char *names[N] = { "home", "laptop", "phone", "router2" };

	memset(w, 0, sizeof(*w));
	for (int i = 0; i < N; i++) {
		char a4[32], a6[48];
		struct registry_node *n = &w->nodes[i];
		n->id = (uint32_t)i + 1;
		strcpy(n->name, names[i]);
		memset(n->public_key, i + 1, KEY_LEN);
		snprintf(a4, sizeof(a4), "100.64.0.%d/32", i + 1);
		snprintf(a6, sizeof(a6), "fd7a:6d67:7465::%d/128", i + 1);
		n->addr4 = pfx(a4);
		n->addr6 = pfx(a6);
		snprintf(a4, sizeof(a4), "192.168.%d.2:41641", i + 1);
		if (endpoint_parse(&w->eps[i], a4) < 0)
			abort();
		n->endpoints = &w->eps[i];
		n->n_endpoints = 1;
	}
	add_route(w, 1, "192.168.77.0/24", true);
	add_route(w, 1, "0.0.0.0/0", true);
	add_route(w, 2, "10.2.0.0/16", false);
	add_route(w, 4, "192.168.77.0/24", true);
	add_route(w, 4, "::/0", false);
	if (endpoint_parse(&w->observed[0].endpoint, "203.0.113.9:40000") < 0)
		abort();
	w->observed[0].node_id = 2;
	w->online[0] = 2;
	w->online[1] = 4;
	w->in = (struct netmap_build_input){
		.nodes = w->nodes,
		.n_nodes = N,
		.routes = w->routes,
		.n_routes = w->n_routes,
		.online = w->online,
		.n_online = 2,
		.observed = w->observed,
		.n_observed = 1,
		.coordinator_id = 1,
		.version = 7,
		.issued_at = 1795300000,
	};
	memset(w->in.coordinator_key, 1, KEY_LEN);
}

static const struct netmap_node *peer_by_id(const struct netmap *nm, uint32_t id)
{
	for (size_t i = 0; i < nm->n_peers; i++)
		if (nm->peers[i].id == id)
			return &nm->peers[i];
	return NULL;
}

static void test_peers_and_candidates(void)
{
	struct world w;
	struct netmap nm;
	const struct netmap_node *laptop, *home, *phone;

	world_init(&w);
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	CHECK_EQ_INT(nm.version, 7);
	CHECK_EQ_INT(nm.n_peers, 3);
	CHECK(peer_by_id(&nm, 3) == NULL);
	laptop = peer_by_id(&nm, 2);
	home = peer_by_id(&nm, 1);
	CHECK(laptop && home);
	if (!laptop || !home)
		goto out;
	CHECK_EQ_INT(laptop->n_endpoints, 2);
	CHECK(!strcmp(laptop->endpoints[0].host, "203.0.113.9"));
	CHECK(!strcmp(laptop->endpoints[1].host, "192.168.2.2"));
	CHECK_EQ_INT(laptop->n_addresses, 2);
	CHECK(home->coordinator && home->online);
	CHECK(!laptop->coordinator && laptop->online);
	netmap_free(&nm);
	/* From laptop's view the phone is offline but listed. */
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	phone = peer_by_id(&nm, 3);
	CHECK(phone && !phone->online);
out:
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_build(&w.in, 99, &nm), -ENOENT);
}

/* A node with many local addresses (bridges, IPv6) reports more than a peer
 * takes as candidates: the observed endpoint, the one that works across
 * NATs, comes first and is never cut. */
static void test_observed_first_with_many_addresses(void)
{
	struct endpoint many[12];
	struct world w;
	struct netmap nm;
	struct mesh_peer *peers = NULL;
	const struct netmap_node *laptop;
	char text[ENDPOINT_HOST_MAX + 16];
	size_t n = 0;

	world_init(&w);
	for (int i = 0; i < 12; i++) {
		snprintf(text, sizeof(text), i % 2 ? "172.%d.0.1:41641" : "[2001:db8:%d::1]:41641",
			 17 + i);
		CHECK_EQ_INT(endpoint_parse(&many[i], text), 0);
	}
	w.nodes[1].endpoints = many;
	w.nodes[1].n_endpoints = 12;
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	laptop = peer_by_id(&nm, 2);
	CHECK(laptop != NULL);
	if (!laptop)
		goto out;
	CHECK_EQ_INT(laptop->n_endpoints, 13);
	CHECK(!strcmp(laptop->endpoints[0].host, "203.0.113.9"));
	CHECK_EQ_INT(laptop->endpoints[0].port, 40000);
	CHECK(!strcmp(laptop->endpoints[1].host, "2001:db8:17::1"));

	/* What the engine gets: the first eight, the observed one first. */
	CHECK_EQ_INT(mesh_apply_peers(&nm, NULL, 0, &peers, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (memcmp(peers[i].public_key, laptop->public_key, KEY_LEN))
			continue;
		CHECK_EQ_INT(peers[i].n_candidates, 8);
		CHECK(sockaddr_equal((const union sockaddr_inet *)&peers[i].candidates[0].addr,
				     &w.observed[0].endpoint.addr));
	}
	mesh_apply_free(peers, n);
out:
	netmap_free(&nm);
}

/* Endpoints a member reported that no peer could use never reach a netmap:
 * loopback, link-local, inside the mesh prefixes. */
static void test_unusable_endpoints_left_out(void)
{
	struct endpoint eps[5];
	struct prefix mesh = pfx("100.64.0.0/10");
	struct world w;
	struct netmap nm;
	const struct netmap_node *laptop;

	world_init(&w);
	CHECK_EQ_INT(endpoint_parse(&eps[0], "127.0.0.1:22"), 0);
	CHECK_EQ_INT(endpoint_parse(&eps[1], "100.64.0.3:22"), 0);
	CHECK_EQ_INT(endpoint_parse(&eps[2], "169.254.169.254:80"), 0);
	CHECK_EQ_INT(endpoint_parse(&eps[3], "[fe80::1]:41641"), 0);
	CHECK_EQ_INT(endpoint_parse(&eps[4], "192.0.2.20:41641"), 0);
	w.nodes[1].endpoints = eps;
	w.nodes[1].n_endpoints = 5;
	w.in.mesh = &mesh;
	w.in.n_mesh = 1;
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	laptop = peer_by_id(&nm, 2);
	CHECK(laptop != NULL);
	if (laptop) {
		CHECK_EQ_INT(laptop->n_endpoints, 2);
		CHECK(!strcmp(laptop->endpoints[0].host, "203.0.113.9"));
		CHECK(!strcmp(laptop->endpoints[1].host, "192.0.2.20"));
	}
	netmap_free(&nm);
}

/* A node does not take them from a netmap either (defence in depth: what a
 * netmap says of endpoints comes from the members). */
static void test_apply_leaves_out(void)
{
	struct prefix mesh = pfx("100.64.0.2/10");
	struct world w;
	struct netmap nm;
	struct mesh_peer *peers = NULL;
	struct netmap_node *laptop;
	size_t n = 0;

	world_init(&w);
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	laptop = (struct netmap_node *)peer_by_id(&nm, 2);
	CHECK(laptop && laptop->n_endpoints == 2);
	if (!laptop || laptop->n_endpoints != 2)
		goto out;
	CHECK_EQ_INT(endpoint_parse(&laptop->endpoints[0], "127.0.0.1:22"), 0);
	CHECK_EQ_INT(endpoint_parse(&laptop->endpoints[1], "100.64.0.9:41641"), 0);
	CHECK_EQ_INT(mesh_apply_peers(&nm, &mesh, 1, &peers, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(peers[i].public_key, laptop->public_key, KEY_LEN))
			CHECK_EQ_INT(peers[i].n_candidates, 0);
	mesh_apply_free(peers, n);
	peers = NULL;
	/* Without the mesh prefix the mesh address would pass. */
	CHECK_EQ_INT(mesh_apply_peers(&nm, NULL, 0, &peers, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(peers[i].public_key, laptop->public_key, KEY_LEN))
			CHECK_EQ_INT(peers[i].n_candidates, 1);
	mesh_apply_free(peers, n);
out:
	netmap_free(&nm);
}

/* Devices in a view: a hub peer's allowed IPs carry its devices' addresses
 * (after its own and its routes), its exit offer is exit_offered; self's
 * devices are attached with their keys, the others name their hub. */
static void test_apply_devices(void)
{
	struct netmap_device pixel = { .name = "pixel", .n_addresses = 2, .exit_node = true };
	struct netmap_device ipad = { .name = "ipad", .has_key = true, .n_addresses = 1 };
	struct netmap_node *home, *router2;
	struct mesh_device *devices = NULL;
	struct mesh_peer *peers = NULL;
	struct world w;
	struct netmap nm;
	size_t n = 0, n_devices = 0;

	world_init(&w);
	pixel.addresses[0] = pfx("100.64.0.7/32");
	pixel.addresses[1] = pfx("fd7a:6d67:7465::7/128");
	ipad.addresses[0] = pfx("100.64.0.8/32");
	memset(ipad.public_key, 0x42, KEY_LEN);
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	home = (struct netmap_node *)peer_by_id(&nm, 1);
	router2 = (struct netmap_node *)peer_by_id(&nm, 4);
	if (!CHECK(home && router2 && home->exit_node && !router2->exit_node))
		goto out;
	home->devices = &pixel;
	home->n_devices = 1;
	nm.self.devices = &ipad;
	nm.self.n_devices = 1;

	CHECK_EQ_INT(mesh_apply_peers(&nm, NULL, 0, &peers, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const struct mesh_peer *mp = &peers[i];
		bool is_home = !memcmp(mp->public_key, home->public_key, KEY_LEN);
		char a[PREFIX_STR_LEN];

		CHECK(mp->exit_offered == is_home);
		for (size_t j = 0; j < mp->n_allowed_ips; j++) {
			prefix_format(&mp->allowed_ips[j], a, sizeof(a));
			/* Only the hub carries its device; nobody carries self's. */
			CHECK(strcmp(a, "100.64.0.7/32") || is_home);
			CHECK(strcmp(a, "100.64.0.8/32") != 0);
		}
		if (!is_home)
			continue;
		/* 2 addresses, 1 route, 2 device addresses, the defaults. */
		CHECK_EQ_INT(mp->n_allowed_ips, 7);
		CHECK_EQ_INT(mp->n_addresses, 2);
		CHECK(prefix_equal(&mp->allowed_ips[3], &pixel.addresses[0]));
		CHECK(prefix_equal(&mp->allowed_ips[4], &pixel.addresses[1]));
	}

	CHECK_EQ_INT(mesh_apply_devices(&nm, &devices, &n_devices), 0);
	CHECK_EQ_INT(n_devices, 2);
	if (devices && n_devices == 2) {
		CHECK(!strcmp(devices[0].name, "ipad") && !strcmp(devices[0].hub, "laptop"));
		CHECK(devices[0].attached && !devices[0].exit_node);
		CHECK_EQ_INT(devices[0].n_addresses, 1);
		CHECK(devices[0].public_key[0] == 0x42 && devices[0].public_key[31] == 0x42);
		CHECK(!strcmp(devices[1].name, "pixel") && !strcmp(devices[1].hub, "home"));
		CHECK(!devices[1].attached && devices[1].exit_node);
		CHECK_EQ_INT(devices[1].n_addresses, 2);
		CHECK(prefix_equal(&devices[1].addresses[1], &pixel.addresses[1]));
		CHECK(sodium_is_zero(devices[1].public_key, KEY_LEN));
	}
	free(devices);

	/* No devices anywhere: an empty list, still to be freed. */
	home->n_devices = nm.self.n_devices = 0;
	CHECK_EQ_INT(mesh_apply_devices(&nm, &devices, &n_devices), 0);
	CHECK(devices != NULL && n_devices == 0);
	free(devices);
out:
	mesh_apply_free(peers, n);
	/* The devices are on the stack. */
	if (home) {
		home->devices = NULL;
		home->n_devices = 0;
	}
	nm.self.devices = NULL;
	nm.self.n_devices = 0;
	netmap_free(&nm);
}

static void test_primary_and_failover(void)
{
	struct world w;
	struct netmap nm;
	struct prefix lan = pfx("192.168.77.0/24");

	world_init(&w);
	CHECK(netmap_build_is_primary(&w.in, 1, &lan));
	CHECK(!netmap_build_is_primary(&w.in, 4, &lan));
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(peer_by_id(&nm, 1)->n_routes, 1);
	CHECK_EQ_INT(peer_by_id(&nm, 4)->n_routes, 0);
	CHECK(peer_by_id(&nm, 1)->exit_node);
	CHECK(peer_by_id(&nm, 1)->exit_offer == NETMAP_EXIT_APPROVED);
	CHECK(!peer_by_id(&nm, 4)->exit_node); /* not approved */
	CHECK(peer_by_id(&nm, 4)->exit_offer == NETMAP_EXIT_PENDING);
	netmap_free(&nm);

	/* Failover: the primary offline (not the coordinator here: make 4
	 * the coordinator so that 1 can go offline). */
	w.in.coordinator_id = 4;
	w.online[0] = 2;
	w.in.n_online = 1;
	CHECK(netmap_build_is_primary(&w.in, 4, &lan));
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(peer_by_id(&nm, 1)->n_routes, 0);
	CHECK(!peer_by_id(&nm, 1)->exit_node);
	/* Approved still, offline: status tells it from a pending offer. */
	CHECK(peer_by_id(&nm, 1)->exit_offer == NETMAP_EXIT_APPROVED);
	CHECK_EQ_INT(peer_by_id(&nm, 4)->n_routes, 1);
	netmap_free(&nm);

	/* And back. */
	w.online[1] = 1;
	w.in.n_online = 2;
	CHECK(netmap_build_is_primary(&w.in, 1, &lan));
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(peer_by_id(&nm, 1)->n_routes, 1);
	CHECK_EQ_INT(peer_by_id(&nm, 4)->n_routes, 0);
	netmap_free(&nm);
}

static void test_self_and_round_trip(void)
{
	struct world w;
	struct netmap nm, back;
	char err[256];
	json_t *doc;

	world_init(&w);
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(nm.self.id, 2);
	CHECK_EQ_INT(nm.n_routes_advertised, 1);
	CHECK_EQ_INT(nm.self.n_routes, 0); /* pending */
	doc = netmap_to_json(&nm);
	CHECK(doc != NULL);
	CHECK_EQ_INT(netmap_from_json(doc, &back, err, sizeof(err)), 0);
	CHECK_EQ_INT(back.n_peers, nm.n_peers);
	json_decref(doc);
	netmap_free(&back);
	netmap_free(&nm);

	w.routes[2].approved = true;
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(nm.self.n_routes, 1);
	CHECK(!nm.self.exit_node);
	netmap_free(&nm);

	/* Self's exit flag: home's approved offer, router2's pending one; it
	 * survives the JSON round trip. */
	CHECK_EQ_INT(netmap_build(&w.in, 1, &nm), 0);
	CHECK(nm.self.exit_node);
	doc = netmap_to_json(&nm);
	CHECK(json_is_true(json_object_get(json_object_get(doc, "self"), "exit_node")));
	CHECK_EQ_INT(netmap_from_json(doc, &back, err, sizeof(err)), 0);
	CHECK(back.self.exit_node);
	json_decref(doc);
	netmap_free(&back);
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_build(&w.in, 4, &nm), 0);
	CHECK(!nm.self.exit_node);
	netmap_free(&nm);
	w.routes[4].approved = true;
	CHECK_EQ_INT(netmap_build(&w.in, 4, &nm), 0);
	CHECK(nm.self.exit_node);
	netmap_free(&nm);
}

/* "pixel" (exit) on home, "tablet" on router2, offline from laptop's view:
 * each hub's own netmap has its devices with keys, the others see them
 * under the hub without. */
static void test_devices(void)
{
	struct registry_device devs[2] = {
		{ .id = 1, .name = "pixel", .hub_id = 1, .exit_node = true, .created_at = 5 },
		{ .id = 2, .name = "tablet", .hub_id = 4 },
	};
	const struct netmap_node *home, *router2;
	struct netmap nm, back;
	struct world w;
	char err[256] = "";
	json_t *doc;

	world_init(&w);
	memset(devs[0].public_key, 0xd1, KEY_LEN);
	memset(devs[1].public_key, 0xd2, KEY_LEN);
	devs[0].addr4 = pfx("100.64.0.5/32");
	devs[0].addr6 = pfx("fd7a:6d67:7465::5/128");
	devs[1].addr4 = pfx("100.64.0.6/32");
	devs[1].addr6 = pfx("fd7a:6d67:7465::6/128");
	w.in.devices = devs;
	w.in.n_devices = 2;
	w.in.n_online = 1; /* router2 offline */

	CHECK_EQ_INT(netmap_build(&w.in, 1, &nm), 0);
	CHECK_EQ_INT(nm.self.n_devices, 1);
	if (nm.self.n_devices == 1) {
		CHECK(strcmp(nm.self.devices[0].name, "pixel") == 0);
		CHECK(nm.self.devices[0].has_key && nm.self.devices[0].exit_node);
		CHECK_MEM(nm.self.devices[0].public_key, devs[0].public_key, KEY_LEN);
		CHECK_EQ_INT(nm.self.devices[0].n_addresses, 2);
		CHECK(prefix_equal(&nm.self.devices[0].addresses[1], &devs[0].addr6));
	}
	router2 = peer_by_id(&nm, 4);
	CHECK(router2 && !router2->online && router2->n_devices == 1);
	if (router2 && router2->n_devices == 1)
		CHECK(!router2->devices[0].has_key &&
		      strcmp(router2->devices[0].name, "tablet") == 0);
	CHECK_EQ_INT(peer_by_id(&nm, 2)->n_devices, 0);
	/* The JSON: self's device has its key, router2's has none. */
	doc = netmap_to_json(&nm);
	CHECK(json_object_get(
		  json_array_get(json_object_get(json_object_get(doc, "self"), "devices"), 0),
		  "public_key") != NULL);
	CHECK_EQ_INT(netmap_from_json(doc, &back, err, sizeof(err)), 0);
	CHECK_EQ_INT(back.self.n_devices, 1);
	json_decref(doc);
	netmap_free(&back);
	netmap_free(&nm);

	/* laptop sees both, under their hubs, and no key. */
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK_EQ_INT(nm.self.n_devices, 0);
	home = peer_by_id(&nm, 1);
	CHECK(home && home->n_devices == 1 && !home->devices[0].has_key &&
	      home->devices[0].exit_node);
	doc = netmap_to_json(&nm);
	for (size_t i = 0; i < json_array_size(json_object_get(doc, "peers")); i++) {
		json_t *devices =
		    json_object_get(json_array_get(json_object_get(doc, "peers"), i), "devices");
		for (size_t j = 0; j < json_array_size(devices); j++)
			CHECK(json_object_get(json_array_get(devices, j), "public_key") == NULL);
	}
	if (!CHECK_EQ_INT(netmap_from_json(doc, &back, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	json_decref(doc);
	netmap_free(&back);
	netmap_free(&nm);
}

/* The mesh as the policy sees it: nodes with their addresses, the routes
 * they are primary for, an approved exit, the coordinator; devices with
 * their hub's name; the resolver. */
static void test_acl_mesh(void)
{
	struct registry_device dev = { .id = 1, .name = "tablet", .hub_id = 4 };
	struct netmap_acl_mesh m;
	struct world w;

	world_init(&w);
	dev.addr4 = pfx("100.64.0.6/32");
	dev.addr6 = pfx("fd7a:6d67:7465::6/128");
	w.in.devices = &dev;
	w.in.n_devices = 1;
	if (!CHECK_EQ_INT(netmap_build_acl_mesh(&w.in, &m), 0))
		return;
	CHECK_EQ_INT(m.mesh.n_members, N + 1);
	CHECK_EQ_INT(m.mesh.n_resolver, 2);
	CHECK(m.mesh.resolver == m.resolver && m.resolver[0].len == 32);
	if (m.mesh.n_members == N + 1) {
		const struct acl_member *home = &m.mesh.members[0], *r2 = &m.mesh.members[3],
					*tablet = &m.mesh.members[N];
		CHECK(strcmp(home->name, "home") == 0 && home->coordinator && home->exit);
		CHECK(home->hub == NULL && home->n_addresses == 2);
		CHECK(home->n_routes == 1 && prefix_equal(&home->routes[0], &w.routes[0].prefix));
		/* router2 approved for the same LAN, not primary; exit pending. */
		CHECK(!r2->coordinator && !r2->exit && r2->n_routes == 0);
		CHECK(prefix_equal(&r2->addresses[0], &w.nodes[3].addr4));
		CHECK(strcmp(tablet->name, "tablet") == 0 && tablet->hub &&
		      strcmp(tablet->hub, "router2") == 0);
		CHECK(tablet->n_addresses == 2 && prefix_equal(&tablet->addresses[1], &dev.addr6));
		CHECK(!tablet->exit && tablet->n_routes == 0);
	}
	netmap_build_acl_mesh_free(&m);
	/* The primary gone offline: router2 serves the LAN. */
	w.in.coordinator_id = 2;
	w.in.n_online = 1;
	w.online[0] = 4;
	if (CHECK_EQ_INT(netmap_build_acl_mesh(&w.in, &m), 0)) {
		CHECK(m.mesh.members[0].n_routes == 0 && m.mesh.members[3].n_routes == 1);
		netmap_build_acl_mesh_free(&m);
	}
}

static bool has_entry(const struct acl_filter *f, enum acl_hook hook, uint32_t rule)
{
	for (size_t i = 0; i < f->n_entries; i++)
		if (f->entries[i].hook == hook && f->entries[i].rule == rule)
			return true;
	return false;
}

/* default deny; laptop may reach router2 on tcp/22, phone the tablet that
 * router2 hubs. A node's peers are those it may talk to, the coordinator
 * always; each netmap carries its node's filter. */
static void test_policy_peers(void)
{
	struct registry_device dev = { .id = 1, .name = "tablet", .hub_id = 4 };
	struct acl_port_range p22 = { 22, 22 };
	struct acl_target from[2] = { { .kind = ACL_NAME, .name = "laptop" },
				      { .kind = ACL_NAME, .name = "phone" } };
	struct acl_target to[2] = {
		{ .kind = ACL_NAME, .name = "router2", .ports = &p22, .n_ports = 1 },
		{ .kind = ACL_NAME, .name = "tablet" },
	};
	struct acl_rule rules[2] = {
		{ .from = &from[0],
		  .n_from = 1,
		  .to = &to[0],
		  .n_to = 1,
		  .protocols = ACL_PROTO_TCP,
		  .line = 3 },
		{ .from = &from[1], .n_from = 1, .to = &to[1], .n_to = 1, .line = 4 },
	};
	struct acl_policy policy = { .def = ACL_DEFAULT_DENY, .rules = rules, .n_rules = 2 };
	struct netmap_acl_mesh m;
	struct netmap nm, back;
	struct world w;
	char err[256] = "";
	json_t *doc;

	world_init(&w);
	memset(dev.public_key, 0xd2, KEY_LEN);
	dev.addr4 = pfx("100.64.0.6/32");
	dev.addr6 = pfx("fd7a:6d67:7465::6/128");
	w.in.devices = &dev;
	w.in.n_devices = 1;
	/* Without a policy: every node a peer, no "policy". */
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	CHECK(nm.n_peers == 3 && !nm.policy.present);
	netmap_free(&nm);
	if (!CHECK_EQ_INT(netmap_build_acl_mesh(&w.in, &m), 0))
		return;
	w.in.policy = &policy;
	w.in.policy_revision = 9;
	w.in.acl = &m;

	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0); /* laptop */
	CHECK(nm.n_peers == 2 && peer_by_id(&nm, 1) && peer_by_id(&nm, 4) && !peer_by_id(&nm, 3));
	CHECK(nm.policy.present && nm.policy.deny && nm.policy.revision == 9);
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0); /* phone: the tablet's hub */
	CHECK(nm.n_peers == 2 && peer_by_id(&nm, 1) && peer_by_id(&nm, 4) && !peer_by_id(&nm, 2));
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_build(&w.in, 4, &nm), 0); /* router2 enforces both rules */
	CHECK_EQ_INT(nm.n_peers, 3);
	CHECK(has_entry(&nm.policy, ACL_HOOK_INPUT, 1));
	CHECK(has_entry(&nm.policy, ACL_HOOK_FORWARD, 2));
	/* The filter survives the JSON round trip. */
	doc = netmap_to_json(&nm);
	if (CHECK_EQ_INT(netmap_from_json(doc, &back, err, sizeof(err)), 0)) {
		CHECK(back.policy.present && back.policy.n_entries == nm.policy.n_entries);
		netmap_free(&back);
	} else {
		fprintf(stderr, "  %s\n", err);
	}
	json_decref(doc);
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_build(&w.in, 1, &nm), 0); /* the coordinator: everyone */
	CHECK(nm.n_peers == 3 && nm.policy.present);
	netmap_free(&nm);
	/* A policy without its mesh is a caller's error. */
	w.in.acl = NULL;
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), -EINVAL);
	CHECK(nm.peers == NULL);
	netmap_build_acl_mesh_free(&m);
}

/* The peers of every netmap, as ids in a bit set (ids 1..N). */
static unsigned peer_set(const struct netmap_build_input *in, uint32_t id)
{
	struct netmap nm;
	unsigned set = 0;

	if (netmap_build(in, id, &nm) < 0)
		return ~0u;
	for (size_t i = 0; i < nm.n_peers; i++)
		set |= 1u << nm.peers[i].id;
	netmap_free(&nm);
	return set;
}

/* A random target: a node, a device, a group, a prefix, exit, dns, *. */
static void random_target(struct acl_target *t, bool source, struct acl_port_range *port)
{
	static const char *const names[] = {
		"home", "laptop", "phone", "router2", "tablet", "pixel"
	};
	unsigned r = randombytes_uniform(source ? 8 : 11);

	memset(t, 0, sizeof(*t));
	if (r < 6) {
		t->kind = ACL_NAME;
		strcpy(t->name, names[r]);
	} else if (r == 6) {
		t->kind = ACL_GROUP;
		strcpy(t->name, "g");
	} else if (r == 7) {
		t->kind = ACL_ANY;
	} else if (r == 8) {
		t->kind = ACL_PREFIX;
		t->prefix = pfx(randombytes_uniform(2) ? "192.168.77.0/24" : "192.168.77.2/32");
	} else {
		t->kind = r == 9 ? ACL_EXIT : ACL_DNS;
	}
	if (!source && randombytes_uniform(2)) {
		port->lo = port->hi = (uint16_t)(1 + randombytes_uniform(1000));
		t->ports = port;
		t->n_ports = 1;
	}
}

/* The peers from netmap_build_acl_reach() (one compile per node) are those
 * acl_may_peer() gives pair by pair, for random policies over a mesh with
 * a LAN served twice, an exit and devices on two hubs. */
static void test_reach_is_may_peer(void)
{
	struct registry_device devs[2] = { { .id = 1, .name = "tablet", .hub_id = 4 },
					   { .id = 2, .name = "pixel", .hub_id = 2 } };
	char members[2][ACL_NAME_MAX + 1] = { "phone", "tablet" };
	struct acl_group group = { .name = "g", .members = members, .n_members = 2 };
	struct acl_target from[3], to[3];
	struct acl_port_range ports[3];
	struct acl_rule rules[3];
	struct acl_policy policy = { .groups = &group, .n_groups = 1, .rules = rules };
	struct netmap_acl_mesh m;
	struct world w;
	int differ = 0, cut = 0;

	world_init(&w);
	memset(devs[0].public_key, 0xd2, KEY_LEN);
	memset(devs[1].public_key, 0xd3, KEY_LEN);
	devs[0].addr4 = pfx("100.64.0.6/32");
	devs[0].addr6 = pfx("fd7a:6d67:7465::6/128");
	devs[1].addr4 = pfx("100.64.0.7/32");
	devs[1].addr6 = pfx("fd7a:6d67:7465::7/128");
	w.in.devices = devs;
	w.in.n_devices = 2;
	if (!CHECK_EQ_INT(netmap_build_acl_mesh(&w.in, &m), 0))
		return;
	w.in.policy = &policy;
	w.in.acl = &m;
	for (int round = 0; round < 300; round++) {
		policy.def = randombytes_uniform(8) ? ACL_DEFAULT_DENY : ACL_DEFAULT_ALLOW;
		policy.n_rules = randombytes_uniform(4);
		for (size_t r = 0; r < policy.n_rules; r++) {
			random_target(&from[r], true, NULL);
			random_target(&to[r], false, &ports[r]);
			rules[r] = (struct acl_rule){ .from = &from[r],
						      .n_from = 1,
						      .to = &to[r],
						      .n_to = 1,
						      .line = (unsigned)r + 1 };
		}
		for (uint32_t id = 1; id <= N; id++) {
			unsigned fast, slow;
			free(m.reach);
			m.reach = NULL;
			slow = peer_set(&w.in, id);
			if (!CHECK_EQ_INT(netmap_build_acl_reach(&m, &policy), 0))
				break;
			fast = peer_set(&w.in, id);
			differ += fast != slow;
			cut += __builtin_popcount(fast) < N - 1;
		}
	}
	CHECK_EQ_INT(differ, 0);
	CHECK(cut > 0); /* the rounds did limit peers */
	netmap_build_acl_mesh_free(&m);
}

static bool resolves(const struct dns_zone *z, const char *name, const char *want)
{
	const struct dns_zone_entry *e = dns_zone_lookup(z, name, strlen(name));
	const struct prefix *a;
	char text[PREFIX_STR_LEN];
	size_t n;

	if (!e) {
		fprintf(stderr, "  %s: no such name\n", name);
		return false;
	}
	a = dns_zone_addresses(z, e, &n);
	for (size_t i = 0; i < n; i++) {
		prefix_format_addr(&a[i], text, sizeof(text));
		if (!strcmp(text, want))
			return true;
	}
	fprintf(stderr, "  %s: no %s among %zu addresses\n", name, want, n);
	return false;
}

/* The coordinator's names in every node's netmap, and the name table a
 * node builds from the netmap it applies: nodes, a device, a record. */
static void test_dns_from_netmap(void)
{
	struct dns_record sw = { .name = "switch", .address = pfx("192.168.77.2") };
	struct netmap_dns dns = {
		.present = true, .domain = "mesh.internal", .records = &sw, .n_records = 1
	};
	struct netmap_device pixel = { .name = "Pixel", .n_addresses = 1 };
	struct prefix self[2] = { pfx("100.64.0.2/10"), pfx("fd7a:6d67:7465::2/48") };
	struct mesh_device *devices = NULL;
	struct mesh_peer *peers = NULL;
	struct netmap_node *home;
	struct dns_zone *z = NULL;
	struct netmap nm, got;
	struct world w;
	size_t n = 0, n_devices = 0;
	char err[256] = "";
	json_t *doc;

	world_init(&w);
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	CHECK(!nm.dns.present); /* no names given: none carried */
	netmap_free(&nm);
	/* A domain and no records (records NULL, as the config has them). */
	{
		struct netmap_dns bare = { .present = true, .domain = "mesh.internal" };
		w.in.dns = &bare;
		CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
		CHECK(nm.dns.present && nm.dns.n_records == 0);
		netmap_free(&nm);
	}
	w.in.dns = &dns;
	for (uint32_t id = 1; id <= N; id++) {
		CHECK_EQ_INT(netmap_build(&w.in, id, &nm), 0);
		CHECK(nm.dns.present && !strcmp(nm.dns.domain, "mesh.internal"));
		CHECK(nm.dns.n_records == 1 && !strcmp(nm.dns.records[0].name, "switch"));
		netmap_free(&nm);
	}
	/* Laptop's netmap through JSON, home hubbing a device. */
	CHECK_EQ_INT(netmap_build(&w.in, 2, &nm), 0);
	home = (struct netmap_node *)peer_by_id(&nm, 1);
	pixel.addresses[0] = pfx("100.64.0.7/32");
	if (home) {
		home->devices = &pixel;
		home->n_devices = 1;
	}
	doc = netmap_to_json(&nm);
	if (home) {
		home->devices = NULL;
		home->n_devices = 0;
	}
	netmap_free(&nm);
	if (!CHECK_EQ_INT(netmap_from_json(doc, &got, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		json_decref(doc);
		return;
	}
	json_decref(doc);
	CHECK_EQ_INT(mesh_apply_peers(&got, NULL, 0, &peers, &n), 0);
	CHECK_EQ_INT(mesh_apply_devices(&got, &devices, &n_devices), 0);
	struct mesh_view view = { .peers = peers,
				  .n_peers = n,
				  .addresses = self,
				  .n_addresses = 2,
				  .devices = devices,
				  .n_devices = n_devices };
	if (CHECK_EQ_INT(dns_zone_from_view(got.dns.domain, (uint32_t)got.version, got.self.name,
					    &view, got.dns.records, got.dns.n_records, &z, NULL),
			 0)) {
		CHECK(!strcmp(dns_zone_domain(z), "mesh.internal"));
		CHECK(resolves(z, "laptop", "100.64.0.2"));
		CHECK(resolves(z, "laptop", "fd7a:6d67:7465::2"));
		CHECK(resolves(z, "HOME", "100.64.0.1"));
		CHECK(resolves(z, "router2", "fd7a:6d67:7465::4"));
		CHECK(resolves(z, "phone", "100.64.0.3"));
		CHECK(resolves(z, "pixel", "100.64.0.7"));
		CHECK(resolves(z, "switch", "192.168.77.2"));
		CHECK_EQ_INT(dns_zone_count(z), 6);
		/* home's route and defaults are no name's addresses. */
		CHECK(dns_zone_lookup_addr(z, AF_INET, pfx("192.168.77.0").addr) == NULL);
		CHECK(!strcmp(dns_zone_lookup_addr(z, AF_INET, pfx("100.64.0.7").addr)->name,
			      "pixel"));
		CHECK(dns_zone_is_mesh(z, AF_INET, pfx("100.64.0.7").addr));
	}
	dns_zone_free(z);
	free(devices);
	mesh_apply_free(peers, n);
	netmap_free(&got);
}

static struct netmap_offer offer(uint32_t id, const char *domain, const char *server)
{
	struct netmap_offer o = { .node_id = id };

	snprintf(o.dns.domain, sizeof(o.dns.domain), "%s", domain);
	if (!split_dns_server_parse(server, &o.dns.server))
		abort();
	return o;
}

/* Split DNS offers: listed while an approved route of the offering node
 * holds the server (online or not), usable in the view while the node is
 * online and primary for it. */
static void test_split_dns(void)
{
	struct netmap_offer offers[3];
	struct mesh_split_dns *v = NULL;
	struct world w;
	struct netmap nm;
	size_t n = 0;

	world_init(&w);
	offers[0] = offer(1, "home.lan", "192.168.77.53");
	offers[1] = offer(2, "lab.lan", "10.2.0.53");     /* its route: pending */
	offers[2] = offer(4, "home.lan", "192.168.77.1"); /* approved, not primary */
	w.in.offers = offers;
	w.in.n_offers = 3;
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	CHECK_EQ_INT(peer_by_id(&nm, 1)->n_split_dns, 1);
	CHECK(!strcmp(peer_by_id(&nm, 1)->split_dns[0].domain, "home.lan"));
	CHECK_EQ_INT(peer_by_id(&nm, 2)->n_split_dns, 0);
	CHECK_EQ_INT(peer_by_id(&nm, 4)->n_split_dns, 1);
	CHECK_EQ_INT(mesh_apply_split_dns(&nm, &v, &n), 0);
	if (CHECK_EQ_INT(n, 2)) {
		CHECK(!strcmp(v[0].via, "home") && v[0].usable);
		CHECK(!strcmp(v[1].via, "router2") && !v[1].usable);
	}
	free(v);
	netmap_free(&nm);

	/* home offline (router2 the coordinator): still listed, not usable;
	 * router2 primary now, usable. */
	w.in.coordinator_id = 4;
	w.in.n_online = 1;
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	CHECK_EQ_INT(mesh_apply_split_dns(&nm, &v, &n), 0);
	if (CHECK_EQ_INT(n, 2)) {
		CHECK(!strcmp(v[0].via, "home") && !v[0].usable);
		CHECK(!strcmp(v[1].via, "router2") && v[1].usable);
	}
	free(v);
	netmap_free(&nm);

	/* A server only an exit offer's default route holds approves nothing;
	 * a hello without an offer lists none. */
	w.in.coordinator_id = 1;
	w.in.n_online = 2;
	offers[0] = offer(1, "outside.lan", "198.51.100.53");
	offers[2].dns.domain[0] = '\0';
	CHECK_EQ_INT(netmap_build(&w.in, 3, &nm), 0);
	CHECK_EQ_INT(peer_by_id(&nm, 1)->n_split_dns, 0);
	CHECK_EQ_INT(peer_by_id(&nm, 4)->n_split_dns, 0);
	CHECK_EQ_INT(mesh_apply_split_dns(&nm, &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(v);
	netmap_free(&nm);
}

int main(void)
{
	RUN(test_split_dns);
	RUN(test_peers_and_candidates);
	RUN(test_observed_first_with_many_addresses);
	RUN(test_unusable_endpoints_left_out);
	RUN(test_apply_leaves_out);
	RUN(test_apply_devices);
	RUN(test_primary_and_failover);
	RUN(test_self_and_round_trip);
	RUN(test_devices);
	RUN(test_dns_from_netmap);
	RUN(test_acl_mesh);
	RUN(test_policy_peers);
	RUN(test_reach_is_may_peer);
	return test_summary();
}
