/* The dns and subnet_router.dns sections of the config (daemon/config.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "testlib.h"

/* Loads text as "test.conf" and expects exactly the error lines want. */
static void check_error_at(const char *text, const char *want, int line)
{
	struct mg_config cfg;
	char err[2048];
	int ret = config_load_string(text, "test.conf", &cfg, err, sizeof(err));

	if (test_check_int(ret, -EINVAL, "config_load_string() == -EINVAL", __FILE__, line) &&
	    !test_check(strcmp(err, want) == 0, "error text", __FILE__, line))
		fprintf(stderr, "  got:  %s\n  want: %s\n", err, want);
	config_free(&cfg);
}
#define check_error(text, want) check_error_at(text, want, __LINE__)

static bool load_ok(const char *text, struct mg_config *cfg)
{
	char err[2048];
	int ret = config_load_string(text, "test.conf", cfg, err, sizeof(err));

	if (!CHECK_EQ_INT(ret, 0))
		fprintf(stderr, "  %s\n", err);
	return ret == 0;
}

static bool sockaddr_is(const union sockaddr_inet *sa, const char *want)
{
	char out[SOCKADDR_STR_LEN];

	sockaddr_format(sa, out, sizeof(out));
	if (strcmp(out, want)) {
		fprintf(stderr, "  got %s, want %s\n", out, want);
		return false;
	}
	return true;
}

static bool address_is(const struct prefix *p, const char *want)
{
	char out[PREFIX_STR_LEN];

	prefix_format_addr(p, out, sizeof(out));
	if (strcmp(out, want)) {
		fprintf(stderr, "  got %s, want %s\n", out, want);
		return false;
	}
	return true;
}

static void test_defaults(void)
{
	struct mg_config cfg;

	if (!load_ok("", &cfg))
		return;
	CHECK(cfg.dns.enabled);
	CHECK(strcmp(cfg.dns.domain, "mesh.internal") == 0);
	CHECK_EQ_INT(cfg.dns.upstream.n, 0);
	CHECK_EQ_INT(cfg.dns.n_records, 0);
	CHECK(!cfg.dns.manage_resolv_conf);
	CHECK(cfg.subnet_router.dns.domain[0] == '\0');
	config_free(&cfg);
}

static void test_full(void)
{
	struct mg_config cfg;

	if (!load_ok("dns = {\n"
		     "  enabled = false;\n"
		     "  domain = \"Corp.Example.\";\n"
		     "  upstream = [\"192.0.2.53\", \"[2001:db8::53]:5353\", \"192.0.2.54:53\"];\n"
		     "  records = ( { name = \"switch\"; address = \"192.168.77.2\"; },\n"
		     "              { name = \"Switch\"; address = \"fd00:77::2\"; } );\n"
		     "  manage_resolv_conf = true;\n"
		     "};\n"
		     "subnet_router = { routes = [\"192.168.77.0/24\"];\n"
		     "  dns = { domain = \"home.lan\"; server = \"192.168.77.1\"; }; };\n",
		     &cfg))
		return;
	CHECK(!cfg.dns.enabled);
	CHECK(strcmp(cfg.dns.domain, "corp.example") == 0);
	if (CHECK_EQ_INT(cfg.dns.upstream.n, 3)) {
		CHECK(sockaddr_is(&cfg.dns.upstream.v[0], "192.0.2.53:53"));
		CHECK(sockaddr_is(&cfg.dns.upstream.v[1], "[2001:db8::53]:5353"));
		CHECK(sockaddr_is(&cfg.dns.upstream.v[2], "192.0.2.54:53"));
	}
	if (CHECK_EQ_INT(cfg.dns.n_records, 2)) {
		CHECK(strcmp(cfg.dns.records[0].name, "switch") == 0);
		CHECK(address_is(&cfg.dns.records[0].address, "192.168.77.2"));
		CHECK(strcmp(cfg.dns.records[1].name, "Switch") == 0);
		CHECK(address_is(&cfg.dns.records[1].address, "fd00:77::2"));
		CHECK_EQ_INT(cfg.dns.records[1].address.len, 128);
	}
	CHECK(cfg.dns.manage_resolv_conf);
	CHECK(strcmp(cfg.subnet_router.dns.domain, "home.lan") == 0);
	CHECK(sockaddr_is(&cfg.subnet_router.dns.server, "192.168.77.1:53"));
	config_free(&cfg);
	/* An upstream repeated counts once. */
	if (load_ok("dns = { upstream = [\"192.0.2.53\", \"192.0.2.53:53\"]; };\n", &cfg))
		CHECK_EQ_INT(cfg.dns.upstream.n, 1);
	config_free(&cfg);
}

static void test_errors(void)
{
	check_error("dns = {\n  domain = \"mesh_internal\";\n};\n",
		    "test.conf:2: dns.domain: 'mesh_internal' is not a DNS domain (labels of "
		    "letters, digits and '-' joined by dots, at most 189 characters)");
	check_error("dns = { domain = \"a..b\"; };\n",
		    "test.conf:1: dns.domain: 'a..b' is not a DNS domain (labels of letters, "
		    "digits and '-' joined by dots, at most 189 characters)");
	check_error("dns = { records = (\n"
		    "  { name = \"ok\"; address = \"10.0.0.1\"; },\n"
		    "  { name = \"web_1\"; address = \"10.0.0.2\"; } ); };\n",
		    "test.conf:3: dns.records[1].name: 'web_1' is not a DNS name (1 to 63 letters, "
		    "digits or '-', not starting or ending with '-', no dots)");
	check_error("dns = { records = ( { name = \"a.b\"; address = \"10.0.0.1\"; } ); };\n",
		    "test.conf:1: dns.records[0].name: 'a.b' is not a DNS name (1 to 63 letters, "
		    "digits or '-', not starting or ending with '-', no dots)");
	check_error(
	    "dns = { records = ( { name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaa\"; address = \"10.0.0.1\"; } ); };\n",
	    "test.conf:1: dns.records[0].name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaa' is not a DNS name (1 to 63 letters, digits or '-', not "
	    "starting or ending with '-', no dots)");
	check_error(
	    "dns = { records = (\n { name = \"sw\";\n   address = \"192.168.77.2/24\"; } ); "
	    "};\n",
	    "test.conf:3: dns.records[0].address: '192.168.77.2/24' is not an IP address");
	check_error("dns = { records = ( { name = \"sw\"; address = \"switch.lan\"; } ); };\n",
		    "test.conf:1: dns.records[0].address: 'switch.lan' is not an IP address");
	check_error("dns = { records = ( { name = \"sw\"; } ); };\n",
		    "test.conf:1: dns.records[0]: missing required key 'address'");
	check_error("dns = { records = ( { name = \"sw\"; adress = \"10.0.0.1\"; } ); };\n",
		    "test.conf:1: unknown key 'adress' in dns.records[0]; did you mean 'address'?\n"
		    "test.conf:1: dns.records[0]: missing required key 'address'");
	check_error("dns = { records = [ \"sw\" ]; };\n",
		    "test.conf:1: dns.records must be a list of groups: ( { name = ...; address = "
		    "...; } )");
	check_error("dns = { upstream = [\"resolver.example\"]; };\n",
		    "test.conf:1: dns.upstream[0]: 'resolver.example' is not IP or IP:PORT (a "
		    "numeric DNS server)");
	check_error("dns = { upstream = [\"192.0.2.1:0\"]; };\n",
		    "test.conf:1: dns.upstream[0]: '192.0.2.1:0' is not IP or IP:PORT (a numeric "
		    "DNS server)");
	check_error("dns = { upstream = [\"1.1.1.1\", \"1.1.1.2\", \"1.1.1.3\", \"1.1.1.4\", "
		    "\"1.1.1.5\", \"1.1.1.6\", \"1.1.1.7\", \"1.1.1.8\", \"1.1.1.9\"]; };\n",
		    "test.conf:1: dns.upstream: at most 8 servers");
	check_error("dns = { enabled = 1; };\n", "test.conf:1: dns.enabled must be true or false");
	check_error("dns = { manage_resolvconf = true; };\n",
		    "test.conf:1: unknown key 'manage_resolvconf' in dns; did you mean "
		    "'manage_resolv_conf'?");
	check_error("dns = true;\n", "test.conf:1: dns must be a group { ... }");
	check_error("subnet_router = {\n  dns = { domain = \"home.lan\"; }; };\n",
		    "test.conf:2: subnet_router.dns: missing required key 'server'");
	check_error("subnet_router = { dns = { domain = \"home.lan\";\n"
		    "  server = \"192.168.77.1/24\"; }; };\n",
		    "test.conf:2: subnet_router.dns.server: '192.168.77.1/24' is not IP or IP:PORT "
		    "(a numeric DNS server)");
	check_error(
	    "subnet_router = { dns = { domain = \"-home.lan\"; server = \"10.0.0.1\"; }; "
	    "};\n",
	    "test.conf:1: subnet_router.dns.domain: '-home.lan' is not a DNS domain (labels "
	    "of letters, digits and '-' joined by dots, at most 189 characters)");
	/* The LAN's domain may not be the mesh's, under it, or above it. */
	check_error(
	    "subnet_router = {\n dns = {\n  domain = \"lan.Mesh.Internal\"; server = "
	    "\"10.0.0.1\"; }; };\n",
	    "test.conf:3: subnet_router.dns.domain: 'lan.mesh.internal' overlaps the mesh's "
	    "domain 'mesh.internal' (dns.domain); offer the LAN's own domain, e.g. "
	    "\"home.lan\"");
	check_error("dns = { domain = \"corp.lan\"; };\n"
		    "subnet_router = { dns = { domain = \"lan\"; server = \"10.0.0.1\"; }; };\n",
		    "test.conf:2: subnet_router.dns.domain: 'lan' overlaps the mesh's domain "
		    "'corp.lan' (dns.domain); offer the LAN's own domain, e.g. \"home.lan\"");
}

/* "xmesh.internal" merely ends like the mesh's domain: allowed. */
static void test_split_suffix(void)
{
	struct mg_config cfg;

	if (load_ok("subnet_router = { dns = { domain = \"xmesh.internal\"; server = "
		    "\"10.0.0.1:5353\"; }; };\n",
		    &cfg))
		CHECK(sockaddr_is(&cfg.subnet_router.dns.server, "10.0.0.1:5353"));
	config_free(&cfg);
}

/* More than CONFIG_DNS_RECORDS_MAX records. */
static void test_records_cap(void)
{
	size_t n = CONFIG_DNS_RECORDS_MAX + 1, len = 64 + n * 48;
	char *text = malloc(len), want[128];
	size_t used = 0;

	if (!CHECK(text != NULL))
		return;
	used += (size_t)snprintf(text + used, len - used, "dns = { records = (");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, len - used,
					 "%s{ name = \"r%zu\"; address = \"10.0.%zu.%zu\"; }",
					 i ? ", " : "", i, i / 256, i % 256);
	snprintf(text + used, len - used, "); };\n");
	snprintf(want, sizeof(want), "test.conf:1: dns.records: at most %d records",
		 CONFIG_DNS_RECORDS_MAX);
	check_error(text, want);
	free(text);
}

/* The example file's dns and subnet_router.dns parse. */
static void test_example_file(void)
{
	struct mg_config cfg;
	char err[2048];

	if (!CHECK_EQ_INT(config_load(MG_SOURCE_DIR "/packaging/meshgate.conf.example", &cfg, err,
				      sizeof(err)),
			  0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(strcmp(cfg.dns.domain, "mesh.internal") == 0);
	CHECK_EQ_INT(cfg.dns.upstream.n, 1);
	if (CHECK_EQ_INT(cfg.dns.n_records, 1))
		CHECK(strcmp(cfg.dns.records[0].name, "switch") == 0);
	CHECK(strcmp(cfg.subnet_router.dns.domain, "home.lan") == 0);
	config_free(&cfg);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_full);
	RUN(test_errors);
	RUN(test_split_suffix);
	RUN(test_records_cap);
	RUN(test_example_file);
	return test_summary();
}
