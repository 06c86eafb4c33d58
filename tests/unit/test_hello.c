/*
 * A node's hello (daemon/mesh/hello.c): which endpoints may stand for a node
 * (mesh_endpoint_usable), that a hello leaves the others out instead of
 * handing every peer "127.0.0.1:22", and that the host's own list follows the
 * same rule.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/hello.h"
#include "testlib.h"

static struct endpoint ep(const char *text)
{
	struct endpoint e;

	if (endpoint_parse(&e, text) < 0)
		abort();
	return e;
}

static bool usable(const char *text, const struct prefix *mesh, size_t n_mesh)
{
	struct endpoint e = ep(text);

	return mesh_endpoint_usable(&e, mesh, n_mesh);
}

static void test_usable_addresses(void)
{
	static const char *const good[] = {
		"192.0.2.7:41641",  "198.51.100.2:1",           "10.0.0.1:41641",
		"172.17.0.1:41641", "100.63.255.1:41641",       "[2001:db8::1]:41641",
		"[fd00::1]:41641",  "[::ffff:192.0.2.7]:41641",
	};
	static const char *const bad[] = {
		"127.0.0.1:22",
		"127.255.0.9:41641",
		"0.0.0.0:41641",
		"0.1.2.3:41641",
		"224.0.0.1:41641",
		"239.255.255.250:1900",
		"255.255.255.255:41641",
		"169.254.169.254:80",
		"169.254.3.4:41641",
		"[::]:41641",
		"[::1]:22",
		"[ff02::1]:41641",
		"[fe80::1]:41641",
		"[::ffff:127.0.0.1]:22",
		"[::ffff:169.254.169.254]:80",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		bool ok = usable(good[i], NULL, 0);
		if (!ok)
			fprintf(stderr, "  refused: %s\n", good[i]);
		CHECK(ok);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = !usable(bad[i], NULL, 0);
		if (!ok)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(ok);
	}
}

static void test_mesh_prefixes(void)
{
	struct prefix mesh[2];

	CHECK_EQ_INT(prefix_parse(&mesh[0], "100.64.0.1/10"), 0);
	CHECK_EQ_INT(prefix_parse(&mesh[1], "fd7a:6d67:7465::1/48"), 0);
	CHECK(usable("100.64.0.9:22", NULL, 0));
	CHECK(!usable("100.64.0.9:22", mesh, 2));
	CHECK(!usable("100.127.255.254:41641", mesh, 2));
	CHECK(!usable("[::ffff:100.64.0.1]:41641", mesh, 2));
	CHECK(!usable("[fd7a:6d67:7465::5]:41641", mesh, 2));
	CHECK(usable("100.128.0.1:41641", mesh, 2));
	CHECK(usable("[fd7a:6d67:7466::5]:41641", mesh, 2));
	CHECK(usable("192.0.2.7:41641", mesh, 2));
}

static void test_not_numeric(void)
{
	struct endpoint e = ep("vpn.example.org:41641");

	CHECK(!e.numeric);
	CHECK(!mesh_endpoint_usable(&e, NULL, 0));
}

/* A hello with unusable endpoints is taken without them. */
static void test_hello_leaves_out(void)
{
	json_t *obj = json_loads(
	    "{\"hostname\": \"laptop\", \"endpoints\": [\"127.0.0.1:22\", \"192.0.2.7:41641\","
	    " \"[fe80::1]:41641\", \"224.0.0.251:5353\", \"0.0.0.0:41641\","
	    " \"[2001:db8::7]:41641\", \"169.254.169.254:80\"]}",
	    0, NULL);
	struct mesh_hello hello;

	CHECK(obj != NULL);
	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), 0);
	CHECK_EQ_INT(hello.n_endpoints, 2);
	CHECK(!strcmp(hello.endpoints[0].host, "192.0.2.7"));
	CHECK(!strcmp(hello.endpoints[1].host, "2001:db8::7"));
	json_decref(obj);

	/* Port 0 and names are malformed: the hello is refused. */
	obj = json_loads("{\"endpoints\": [\"192.0.2.7:0\"]}", 0, NULL);
	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), -EINVAL);
	json_decref(obj);
	obj = json_loads("{\"endpoints\": [\"vpn.example.org:41641\"]}", 0, NULL);
	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), -EINVAL);
	json_decref(obj);
}

/* The host's own list: whatever the host has, nothing a peer cannot use. */
static void test_local_endpoints(void)
{
	struct endpoint eps[HELLO_MAX_ENDPOINTS];
	size_t n = mesh_local_endpoints(NULL, 41641, eps, HELLO_MAX_ENDPOINTS);

	for (size_t i = 0; i < n; i++) {
		CHECK(mesh_endpoint_usable(&eps[i], NULL, 0));
		CHECK_EQ_INT(eps[i].port, 41641);
	}
}

/* The split DNS offer: taken in lower case without the final dot, port 53
 * unless given; anything else refuses the hello. */
static void test_hello_dns(void)
{
	static const char *const bad[] = {
		"\"home.lan\"",
		"{\"domain\": \"home.lan\"}",
		"{\"server\": \"192.168.77.1\"}",
		"{\"domain\": \"home..lan\", \"server\": \"192.168.77.1\"}",
		"{\"domain\": \"home.lan\", \"server\": \"router.home.lan\"}",
		"{\"domain\": \"home.lan\", \"server\": \"192.168.77.1:0\"}",
		"{\"domain\": \"home.lan\", \"server\": \"192.168.77.0/24\"}",
		"{\"domain\": \"home.lan\", \"server\": 53}",
	};
	json_t *obj =
	    json_loads("{\"hostname\": \"router\","
		       " \"dns\": {\"domain\": \"Home.Lan.\", \"server\": \"192.168.77.1\"}}",
		       0, NULL);
	struct mesh_hello hello;
	char text[SOCKADDR_STR_LEN], doc[256];

	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), 0);
	CHECK(!strcmp(hello.dns.domain, "home.lan"));
	sockaddr_format(&hello.dns.server, text, sizeof(text));
	CHECK(!strcmp(text, "192.168.77.1:53"));
	json_decref(obj);
	obj = json_loads("{\"hostname\": \"laptop\"}", 0, NULL);
	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), 0);
	CHECK(hello.dns.domain[0] == '\0');
	json_decref(obj);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"hostname\": \"router\", \"dns\": %s}", bad[i]);
		obj = json_loads(doc, 0, NULL);
		if (!CHECK_EQ_INT(mesh_hello_parse(obj, &hello), -EINVAL))
			fprintf(stderr, "  %s\n", bad[i]);
		CHECK(hello.hostname[0] == '\0');
		json_decref(obj);
	}
}

/* What a router's config says goes out in its hello, and reads back. */
static void test_hello_create_dns(void)
{
	struct mg_config cfg;
	struct mesh_hello hello;
	json_t *obj;
	char text[SOCKADDR_STR_LEN];

	if (config_defaults(&cfg) < 0)
		abort();
	snprintf(cfg.hostname, sizeof(cfg.hostname), "router");
	obj = mesh_hello_create(&cfg, "hello", NULL, 41641);
	CHECK(obj && json_object_get(obj, "dns") == NULL);
	json_decref(obj);
	snprintf(cfg.subnet_router.dns.domain, sizeof(cfg.subnet_router.dns.domain), "home.lan");
	if (!split_dns_server_parse("[fd00::53]:5353", &cfg.subnet_router.dns.server))
		abort();
	obj = mesh_hello_create(&cfg, "hello", NULL, 41641);
	CHECK_EQ_INT(mesh_hello_parse(obj, &hello), 0);
	CHECK(!strcmp(hello.dns.domain, "home.lan"));
	sockaddr_format(&hello.dns.server, text, sizeof(text));
	CHECK(!strcmp(text, "[fd00::53]:5353"));
	json_decref(obj);
	config_free(&cfg);
}

int main(void)
{
	RUN(test_hello_dns);
	RUN(test_hello_create_dns);
	RUN(test_usable_addresses);
	RUN(test_mesh_prefixes);
	RUN(test_not_numeric);
	RUN(test_hello_leaves_out);
	RUN(test_local_endpoints);
	return test_summary();
}
