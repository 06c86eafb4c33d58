/*
 * A device's CONFIG from its hub's view (daemon/mesh/devconf.c): the
 * allowed IPs (mesh prefixes, approved routes of peers and self, no
 * defaults, sorted, each once, IPv6 too), the endpoint's order of
 * preference and endpoint_private, and the fixed members.
 */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "mesh/devconf.h"
#include "testlib.h"

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

static struct endpoint ep_of(const char *text)
{
	struct endpoint ep;

	if (endpoint_parse(&ep, text) < 0)
		abort();
	return ep;
}

/* home's view: it serves 192.168.77.0/24 and an exit (approved) and
 * advertises 172.16.5.0/24 (pending); router2 carries 10.2.0.0/16, a v6 LAN,
 * 192.168.77.0/24 again and its exit's ::/0; laptop 10.1.0.0/16. */
struct view {
	struct prefix self_routes[2], advertised[3], r2_routes[4], laptop_routes[1];
	struct netmap_node peers[2];
	struct netmap nm;
	struct prefix mesh[2];
};

static void view_init(struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->self_routes[0] = pfx("192.168.77.0/24");
	v->self_routes[1] = pfx("0.0.0.0/0");
	v->advertised[0] = pfx("192.168.77.0/24");
	v->advertised[1] = pfx("0.0.0.0/0");
	v->advertised[2] = pfx("172.16.5.0/24");
	v->r2_routes[0] = pfx("10.2.0.0/16");
	v->r2_routes[1] = pfx("fd00:77::/64");
	v->r2_routes[2] = pfx("192.168.77.0/24");
	v->r2_routes[3] = pfx("::/0");
	v->laptop_routes[0] = pfx("10.1.0.0/16");
	v->peers[0] = (struct netmap_node){
		.id = 4, .name = "router2", .routes = v->r2_routes, .n_routes = 4, .exit_node = true
	};
	v->peers[1] = (struct netmap_node){
		.id = 2, .name = "laptop", .routes = v->laptop_routes, .n_routes = 1
	};
	v->nm.self = (struct netmap_node){
		.id = 1, .name = "home", .routes = v->self_routes, .n_routes = 2, .exit_node = true
	};
	v->nm.routes_advertised = v->advertised;
	v->nm.n_routes_advertised = 3;
	v->nm.peers = v->peers;
	v->nm.n_peers = 2;
	/* The hub's addresses with the prefix lengths, as the roles keep them. */
	v->mesh[0] = pfx("100.64.0.1/10");
	v->mesh[1] = pfx("fd7a:6d67:7465::1/48");
}

static bool strings_are(const json_t *arr, const char *const *want, size_t n)
{
	bool ok = json_array_size(arr) == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = json_is_string(json_array_get(arr, i)) &&
		     strcmp(json_string_value(json_array_get(arr, i)), want[i]) == 0;
	if (!ok) {
		char *text = json_dumps(arr, JSON_COMPACT);
		fprintf(stderr, "  got %s\n", text ? text : "?");
		free(text);
	}
	return ok;
}

static void test_allowed_ips(void)
{
	static const char *const want[] = {
		"10.1.0.0/16",     "10.2.0.0/16",  "100.64.0.0/10",
		"192.168.77.0/24", "fd00:77::/64", "fd7a:6d67:7465::/48",
	};
	struct devconf_endpoints ep = { 0 };
	uint8_t key[32];
	char b64[KEY_B64_LEN + 1];
	struct view v;
	json_t *conf;

	view_init(&v);
	memset(key, 7, sizeof(key));
	key_to_base64(b64, key);
	for (int exit_node = 0; exit_node <= 1; exit_node++) {
		conf = devconf_json(&v.nm, v.mesh, 2, key, "home", exit_node, &ep, NULL);
		if (!CHECK(conf != NULL))
			return;
		/* No defaults with --exit either: the CLI appends them. */
		CHECK(strings_are(json_object_get(conf, "allowed_ips"), want, 6));
		CHECK(json_is_true(json_object_get(conf, "exit_node")) == exit_node);
		CHECK(strcmp(json_string_value(json_object_get(conf, "hub")), "home") == 0);
		CHECK(strcmp(json_string_value(json_object_get(conf, "hub_public_key")), b64) == 0);
		CHECK_EQ_INT(json_integer_value(json_object_get(conf, "mtu")), 1280);
		CHECK(json_is_array(json_object_get(conf, "dns")) &&
		      json_array_size(json_object_get(conf, "dns")) == 0);
		CHECK(json_is_null(json_object_get(conf, "endpoint")));
		CHECK(json_is_false(json_object_get(conf, "endpoint_private")));
		json_decref(conf);
	}

	/* A view with no routes at all: the mesh prefixes alone. */
	v.nm.n_peers = 0;
	v.nm.self.n_routes = 0;
	conf = devconf_json(&v.nm, v.mesh, 2, key, "home", false, &ep, NULL);
	CHECK(strings_are(json_object_get(conf, "allowed_ips"),
			  (const char *const[]){ "100.64.0.0/10", "fd7a:6d67:7465::/48" }, 2));
	json_decref(conf);
}

/* The hub's resolver and the mesh's domain when the hub serves DNS. */
static void test_dns(void)
{
	struct devconf_endpoints ep = { 0 };
	uint8_t key[32] = { 7 };
	struct view v;
	json_t *conf;

	view_init(&v);
	conf = devconf_json(&v.nm, v.mesh, 2, key, "home", false, &ep, "mesh.internal");
	CHECK(strings_are(json_object_get(conf, "dns"),
			  (const char *const[]){ "100.100.100.100", "fd7a:6d67:7465::53" }, 2));
	CHECK(strings_are(json_object_get(conf, "dns_search"),
			  (const char *const[]){ "mesh.internal" }, 1));
	json_decref(conf);
	/* An IPv4-only mesh: the IPv4 resolver alone. */
	conf = devconf_json(&v.nm, v.mesh, 1, key, "home", false, &ep, "corp.example");
	CHECK(strings_are(json_object_get(conf, "dns"), (const char *const[]){ "100.100.100.100" },
			  1));
	CHECK(strings_are(json_object_get(conf, "dns_search"),
			  (const char *const[]){ "corp.example" }, 1));
	json_decref(conf);
	/* No DNS on the hub: both empty. */
	conf = devconf_json(&v.nm, v.mesh, 2, key, "home", false, &ep, NULL);
	CHECK(strings_are(json_object_get(conf, "dns"), NULL, 0));
	CHECK(strings_are(json_object_get(conf, "dns_search"), NULL, 0));
	json_decref(conf);
}

/* Runs devconf_json with these candidates; checks endpoint and flag. */
static void check_endpoint(const char *configured, const char *observed, const char *const *local,
			   size_t n_local, const char *want, bool want_private)
{
	struct endpoint obs, locals[8];
	struct devconf_endpoints ep = {
		.configured = configured, .local = locals, .n_local = n_local, .listen_port = 41641
	};
	uint8_t key[32] = { 1 };
	const json_t *got;
	struct view v;
	json_t *conf;

	view_init(&v);
	if (observed) {
		obs = ep_of(observed);
		ep.observed = &obs;
	}
	for (size_t i = 0; i < n_local; i++)
		locals[i] = ep_of(local[i]);
	conf = devconf_json(&v.nm, v.mesh, 2, key, "home", false, &ep, NULL);
	if (!CHECK(conf != NULL))
		return;
	got = json_object_get(conf, "endpoint");
	if (!(want ? CHECK(json_is_string(got) && strcmp(json_string_value(got), want) == 0)
		   : CHECK(json_is_null(got))) ||
	    !CHECK(json_is_true(json_object_get(conf, "endpoint_private")) == want_private))
		fprintf(stderr, "  want %s (%s), got %s\n", want ? want : "null",
			want_private ? "private" : "public",
			json_is_string(got) ? json_string_value(got) : "null");
	json_decref(conf);
}

static void test_endpoint_order(void)
{
	static const char *const public_first[] = { "192.168.77.1:1", "198.51.100.7:1",
						    "[2001:db8::5]:1" };
	static const char *const v6_only[] = { "127.0.0.1:1", "[2001:db8::5]:1" };
	static const char *const lan_only[] = { "100.64.0.1:1", "[fe80::1]:1", "192.168.77.1:9",
						"10.0.0.1:1" };
	static const char *const nothing[] = { "127.0.0.1:1", "100.64.0.9:1", "169.254.1.1:1" };

	/* The configured endpoint wins, a DNS name as written. */
	check_endpoint("vpn.example.net:51820", "203.0.113.9:40000", public_first, 3,
		       "vpn.example.net:51820", false);
	check_endpoint("[2001:db8::1]:51820", NULL, NULL, 0, "[2001:db8::1]:51820", false);
	/* Then the observed one, with its own (mapped) port. */
	check_endpoint(NULL, "203.0.113.9:40000", public_first, 3, "203.0.113.9:40000", false);
	check_endpoint("", "203.0.113.9:40000", NULL, 0, "203.0.113.9:40000", false);
	/* An observed address on a LAN loses to a public local one. */
	check_endpoint(NULL, "192.168.1.5:41641", public_first, 3, "198.51.100.7:41641", false);
	/* The first public local address, with the listen port. */
	check_endpoint(NULL, NULL, public_first, 3, "198.51.100.7:41641", false);
	check_endpoint(NULL, NULL, v6_only, 2, "[2001:db8::5]:41641", false);
	/* Only LAN addresses: the first one, flagged private; the mesh's own
	 * addresses and link-local ones never count. */
	check_endpoint(NULL, NULL, lan_only, 4, "192.168.77.1:41641", true);
	check_endpoint(NULL, "192.168.1.5:41641", lan_only, 4, "192.168.1.5:41641", true);
	check_endpoint(NULL, NULL, nothing, 3, NULL, false);
	check_endpoint(NULL, NULL, NULL, 0, NULL, false);
}

static void test_private(void)
{
	static const struct {
		const char *ep;
		bool private;
	} cases[] = {
		{ "10.1.2.3:1", true },
		{ "172.16.0.1:1", true },
		{ "172.31.255.1:1", true },
		{ "172.32.0.1:1", false },
		{ "192.168.0.1:1", true },
		{ "100.64.0.1:1", true },
		{ "100.127.255.1:1", true },
		{ "100.128.0.1:1", false },
		{ "127.0.0.1:1", true },
		{ "169.254.169.254:1", true },
		{ "203.0.113.2:1", false },
		{ "8.8.8.8:1", false },
		{ "[fd7a:6d67:7465::1]:1", true },
		{ "[fe80::1]:1", true },
		{ "[::1]:1", true },
		{ "[2001:db8::1]:1", false },
		{ "[::ffff:192.168.1.1]:1", true },
		{ "[::ffff:203.0.113.1]:1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct endpoint ep = ep_of(cases[i].ep);
		if (!CHECK(devconf_private(&ep) == cases[i].private))
			fprintf(stderr, "  %s\n", cases[i].ep);
	}
}

int main(void)
{
	RUN(test_allowed_ips);
	RUN(test_endpoint_order);
	RUN(test_private);
	RUN(test_dns);
	return test_summary();
}
