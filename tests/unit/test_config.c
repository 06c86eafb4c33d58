/* Configuration loading and validation (daemon/config.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "testlib.h"

#define KEY_A "I5/h/qsGhhR+WdJLQ0f4JHAGceyiqDT6tc1rBIPX5k4="
#define KEY_B "gW3oaPhdYuG3A4TOpSNTJKToAsJEE/7YiWRMx5VBYHM="
/* A well-formed invite: key 01..20, id 7, endpoint 198.51.100.1:41641. */
#define CODE                                                                                       \
	"mg1-AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gBwAAAAAAAABCQkJCQkJCQkJCQkJCQkJCQkJCQkJ"  \
	"CQkJCQkJCQkJCQgESMTk4LjUxLjEwMC4xOjQxNjQx"

static char tmp_path[64];

/* Writes text to a fresh temporary file; returns its path. */
static const char *write_temp(const char *text)
{
	int fd;

	if (tmp_path[0])
		unlink(tmp_path);
	strcpy(tmp_path, "/tmp/meshgate-test-XXXXXX");
	fd = mkstemp(tmp_path);
	if (!CHECK(fd >= 0))
		return "/nonexistent";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

/* Replaces every "FILE" in want by path. */
static void expand(char *out, size_t len, const char *want, const char *path)
{
	size_t used = 0;

	for (const char *c = want; *c && used + 1 < len; c++) {
		if (!strncmp(c, "FILE", 4)) {
			used += (size_t)snprintf(out + used, len - used, "%s", path);
			c += 3;
		} else {
			out[used++] = *c;
		}
	}
	out[used < len ? used : len - 1] = '\0';
}

/* Loads text from a file and expects exactly the error lines want. */
static void check_error_at(const char *text, const char *want, int line)
{
	struct mg_config cfg;
	char err[2048], expected[2048];
	const char *path = write_temp(text);
	int ret = config_load(path, &cfg, err, sizeof(err));

	expand(expected, sizeof(expected), want, path);
	if (!test_check_int(ret, -EINVAL, "config_load() == -EINVAL", __FILE__, line)) {
		config_free(&cfg);
		return;
	}
	if (!test_check(strcmp(err, expected) == 0, "error text", __FILE__, line))
		fprintf(stderr, "  got:  %s\n  want: %s\n", err, expected);
	/* The same through the string loader, with a made-up name. */
	expand(expected, sizeof(expected), want, "test.conf");
	ret = config_load_string(text, "test.conf", &cfg, err, sizeof(err));
	test_check(ret == -EINVAL && strcmp(err, expected) == 0, "string loader error", __FILE__,
		   line);
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

static bool prefix_is(const struct prefix *p, const char *want)
{
	char out[PREFIX_STR_LEN];

	prefix_format(p, out, sizeof(out));
	if (strcmp(out, want) != 0) {
		fprintf(stderr, "  prefix %s, want %s\n", out, want);
		return false;
	}
	return true;
}

static bool sockaddr_is(const union sockaddr_inet *sa, const char *want)
{
	char out[SOCKADDR_STR_LEN];

	sockaddr_format(sa, out, sizeof(out));
	return strcmp(out, want) == 0;
}

static void test_defaults(void)
{
	struct mg_config cfg;
	char host[256];

	CHECK(config_defaults(&cfg) == 0);
	CHECK(strcmp(cfg.interface, "meshgate0") == 0);
	CHECK_EQ_INT(cfg.listen_port, 41641);
	CHECK(strcmp(cfg.private_key_file, "/var/lib/meshgate/private.key") == 0);
	CHECK(strcmp(cfg.state_dir, "/var/lib/meshgate") == 0);
	CHECK(strcmp(cfg.control_socket, "/run/meshgate/meshgated.sock") == 0);
	CHECK(strcmp(cfg.control_group, "meshgate") == 0);
	CHECK_EQ_INT(cfg.addresses.n, 0);
	CHECK_EQ_INT(cfg.mtu, 1280);
	CHECK(gethostname(host, sizeof(host)) == 0);
	host[strcspn(host, ".")] = '\0';
	CHECK(strcmp(cfg.hostname, host) == 0);
	CHECK_EQ_INT(cfg.n_peers, 0);
	CHECK(cfg.accept_routes);
	CHECK(cfg.subnet_router.routes.n == 0 && cfg.subnet_router.snat);
	CHECK(!cfg.exit_node.enabled && !cfg.exit_node.allow_private);
	CHECK(cfg.exit_node.wan_interface[0] == '\0');
	CHECK(cfg.use_exit_node.peer[0] == '\0' && cfg.use_exit_node.allow_lan_access);
	CHECK(cfg.web.enabled && cfg.web.listen.n == 1);
	CHECK(sockaddr_is(&cfg.web.listen.v[0], "127.0.0.1:8080"));
	CHECK(!cfg.coordinator.enabled);
	CHECK(prefix_is(&cfg.coordinator.prefix4, "100.64.0.0/10"));
	CHECK(prefix_is(&cfg.coordinator.prefix6, "fd7a:6d67:7465::/48"));
	CHECK(cfg.coordinator.endpoints.n == 0 && cfg.coordinator.auto_approve.routes.n == 0);
	CHECK(!cfg.coordinator.auto_approve.exit_node);
	CHECK(cfg.join == NULL);
	config_free(&cfg);
	config_free(&cfg); /* zeroed: safe twice */
	config_free(NULL);

	/* An empty file means the same as no file. */
	CHECK(load_ok("# nothing here\n", &cfg));
	CHECK_EQ_INT(cfg.listen_port, 41641);
	CHECK(strcmp(cfg.source, "test.conf") == 0);
	CHECK(cfg.web.listen.n == 1);
	config_free(&cfg);
}

static const char full_config[] =
    "interface = \"mg-test1\";\n"
    "listen_port = 0;\n"
    "private_key_file = \"/tmp/k/private.key\";\n"
    "state_dir = \"/tmp/k\";\n"
    "control_socket = \"/tmp/k/ctl.sock\";\n"
    "addresses = [\"100.64.0.9/10\", \"fd7a:6d67:7465::9/48\", \"100.64.0.9/10\"];\n"
    "mtu = 1420;\n"
    "hostname = \"node-9.lab\";\n"
    "peers = (\n"
    "  { name = \"laptop\"; public_key = \"" KEY_A "\"; endpoint = \"vpn.example.com:51820\";\n"
    "    allowed_ips = (\"100.64.0.2/32\", \"10.0.0.0/8\"); persistent_keepalive = 25;\n"
    "    preshared_key_file = \"/tmp/k/laptop.psk\"; },\n"
    "  { public_key = \"" KEY_B "\"; endpoint = \"[2001:db8::7]:41641\"; }\n"
    ");\n"
    "accept_routes = false;\n"
    "subnet_router = { routes = [\"192.168.1.0/24\", \"2001:db8:1::/64\"]; snat = false; };\n"
    "exit_node = { enabled = false; wan_interface = \"eth1\"; allow_private = true; };\n"
    "use_exit_node = { peer = \"100.64.0.2\"; allow_lan_access = false; };\n"
    "web = { enabled = false; listen = [\"0.0.0.0:80\", \"[::]:8443\"]; };\n"
    "coordinator = { enabled = false; prefix4 = \"10.99.0.0/16\"; prefix6 = \"fd00:1::/64\";\n"
    "  endpoints = [\"198.51.100.1:41641\", \"mesh.example.org:443\"];\n"
    "  auto_approve = { routes = [\"192.168.0.0/16\"]; exit_node = true; }; };\n"
    "join = \"" CODE "\";\n";

static void test_full(void)
{
	struct mg_config cfg;
	uint8_t key_a[KEY_LEN], key_b[KEY_LEN];

	if (!load_ok(full_config, &cfg))
		return;
	key_from_base64(key_a, KEY_A);
	key_from_base64(key_b, KEY_B);
	CHECK(strcmp(cfg.interface, "mg-test1") == 0);
	CHECK_EQ_INT(cfg.listen_port, 0);
	CHECK(strcmp(cfg.private_key_file, "/tmp/k/private.key") == 0);
	CHECK(strcmp(cfg.state_dir, "/tmp/k") == 0);
	CHECK(strcmp(cfg.control_socket, "/tmp/k/ctl.sock") == 0);
	CHECK_EQ_INT(cfg.addresses.n, 2); /* the repeat is dropped */
	CHECK(prefix_is(&cfg.addresses.v[0], "100.64.0.9/10"));
	CHECK(prefix_is(&cfg.addresses.v[1], "fd7a:6d67:7465::9/48"));
	CHECK_EQ_INT(cfg.mtu, 1420);
	CHECK(strcmp(cfg.hostname, "node-9.lab") == 0);

	CHECK_EQ_INT(cfg.n_peers, 2);
	const struct config_peer *a = &cfg.peers[0], *b = &cfg.peers[1];
	CHECK(strcmp(a->name, "laptop") == 0);
	CHECK_MEM(a->public_key, key_a, KEY_LEN);
	CHECK(a->has_endpoint && !a->endpoint.numeric && a->endpoint.port == 51820);
	CHECK(strcmp(a->endpoint.host, "vpn.example.com") == 0);
	CHECK_EQ_INT(a->allowed_ips.n, 2);
	CHECK(prefix_is(&a->allowed_ips.v[0], "100.64.0.2/32"));
	CHECK(prefix_is(&a->allowed_ips.v[1], "10.0.0.0/8"));
	CHECK_EQ_INT(a->persistent_keepalive, 25);
	CHECK(strcmp(a->preshared_key_file, "/tmp/k/laptop.psk") == 0);
	CHECK_EQ_INT(a->line, 10);
	/* A peer without a name is named after its key. */
	CHECK(strcmp(b->name, "peer-gW3oaPhd") == 0);
	CHECK_MEM(b->public_key, key_b, KEY_LEN);
	CHECK(b->has_endpoint && b->endpoint.numeric);
	CHECK(sockaddr_is(&b->endpoint.addr, "[2001:db8::7]:41641"));
	CHECK(b->allowed_ips.n == 0 && b->persistent_keepalive == 0 && !b->preshared_key_file);
	CHECK(config_peer_find(&cfg, key_b) == b);

	CHECK(!cfg.accept_routes);
	CHECK_EQ_INT(cfg.subnet_router.routes.n, 2);
	CHECK(prefix_is(&cfg.subnet_router.routes.v[1], "2001:db8:1::/64"));
	CHECK(!cfg.subnet_router.snat);
	CHECK(!cfg.exit_node.enabled && cfg.exit_node.allow_private);
	CHECK(strcmp(cfg.exit_node.wan_interface, "eth1") == 0);
	CHECK(strcmp(cfg.use_exit_node.peer, "100.64.0.2") == 0);
	CHECK(!cfg.use_exit_node.allow_lan_access);
	CHECK(!cfg.web.enabled && cfg.web.listen.n == 2);
	CHECK(sockaddr_is(&cfg.web.listen.v[0], "0.0.0.0:80"));
	CHECK(sockaddr_is(&cfg.web.listen.v[1], "[::]:8443"));
	CHECK(!cfg.coordinator.enabled);
	CHECK(prefix_is(&cfg.coordinator.prefix4, "10.99.0.0/16"));
	CHECK(prefix_is(&cfg.coordinator.prefix6, "fd00:1::/64"));
	CHECK_EQ_INT(cfg.coordinator.endpoints.n, 2);
	CHECK(cfg.coordinator.endpoints.v[0].numeric);
	CHECK(strcmp(cfg.coordinator.endpoints.v[1].host, "mesh.example.org") == 0);
	CHECK_EQ_INT(cfg.coordinator.auto_approve.routes.n, 1);
	CHECK(prefix_is(&cfg.coordinator.auto_approve.routes.v[0], "192.168.0.0/16"));
	CHECK(cfg.coordinator.auto_approve.exit_node);
	CHECK(cfg.join && strcmp(cfg.join, CODE) == 0);
	/* Where each setting is, for the checks after loading. */
	CHECK_EQ_INT(config_line(&cfg, "mtu"), 7);
	CHECK_EQ_INT(config_line(&cfg, "peers[0].allowed_ips"), 11);
	CHECK_EQ_INT(config_line(&cfg, "coordinator.auto_approve.routes"), 22);
	CHECK_EQ_INT(config_line(&cfg, "use_exit_node.peer"), 18);
	CHECK_EQ_INT(config_line(&cfg, "nonexistent"), 0);
	config_free(&cfg);
}

static void test_example_file(void)
{
	struct mg_config cfg;
	char err[2048];
	int ret =
	    config_load(MG_SOURCE_DIR "/packaging/meshgate.conf.example", &cfg, err, sizeof(err));

	if (!CHECK_EQ_INT(ret, 0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(strcmp(cfg.hostname, "home") == 0);
	CHECK_EQ_INT(cfg.n_peers, 2);
	CHECK(cfg.coordinator.enabled && cfg.exit_node.enabled);
	CHECK_EQ_INT(cfg.subnet_router.routes.n, 1);
	config_free(&cfg);
}

static void test_file_errors(void)
{
	struct mg_config cfg;
	char err[512];

	CHECK_EQ_INT(config_load("/nonexistent/meshgate.conf", &cfg, err, sizeof(err)), -ENOENT);
	CHECK(strcmp(err, "/nonexistent/meshgate.conf: No such file or directory") == 0);
	CHECK(cfg.peers == NULL && cfg.source == NULL);
	config_free(&cfg);
	CHECK_EQ_INT(config_load_string("listen_port = 1;\n@include \"/etc/passwd\"\n", "s.conf",
					&cfg, err, sizeof(err)),
		     -EINVAL);
	CHECK(strcmp(err, "s.conf:2: @include is not allowed here") == 0);
	/* A tiny buffer is truncated, never overrun. */
	CHECK_EQ_INT(config_load_string("mtu = 1;", "s.conf", &cfg, err, 8), -EINVAL);
	CHECK(strcmp(err, "s.conf:") == 0);
	CHECK_EQ_INT(config_load_string("mtu = 1;", "s.conf", &cfg, NULL, 0), -EINVAL);
}

static void test_syntax_errors(void)
{
	check_error("listen_port = 1;\nmtu = ;\n", "FILE:2: syntax error");
	check_error("listen_port = 1;\n\n}\n", "FILE:3: syntax error");
	check_error("mtu = 1400;\nmtu = 1500;\n", "FILE:2: duplicate setting name");
}

static void test_unknown_keys(void)
{
	check_error("listen_prot = 1;\n",
		    "FILE:1: unknown key 'listen_prot'; did you mean 'listen_port'?");
	check_error("\n\nfrobnicate = true;\n", "FILE:3: unknown key 'frobnicate'");
	check_error("peers = ({ public_key = \"" KEY_A "\";\n allowed_ip = [\"10.0.0.0/8\"]; });\n",
		    "FILE:2: unknown key 'allowed_ip' in peers[0]; did you mean 'allowed_ips'?");
	check_error("subnet_router = {\n  snatt = true;\n};\n",
		    "FILE:2: unknown key 'snatt' in subnet_router; did you mean 'snat'?");
	check_error("coordinator = { auto_approve = {\n exit = true; }; };\n",
		    "FILE:2: unknown key 'exit' in coordinator.auto_approve");
	check_error("web = { listen = [\"127.0.0.1:1\"]; port = 80; };\n",
		    "FILE:1: unknown key 'port' in web");
}

static void test_wrong_types(void)
{
	check_error("listen_port = \"41641\";\n", "FILE:1: listen_port must be an integer");
	check_error("mtu = 1400.0;\n", "FILE:1: mtu must be an integer");
	check_error("interface = 5;\n", "FILE:1: interface must be a string");
	check_error("accept_routes = 1;\n", "FILE:1: accept_routes must be true or false");
	check_error("addresses = \"100.64.0.1/10\";\n",
		    "FILE:1: addresses must be a list of strings, e.g. [\"...\"]");
	check_error("addresses = [ 1 ];\n", "FILE:1: addresses[0] must be a string");
	check_error("subnet_router = [ \"10.0.0.0/8\" ];\n",
		    "FILE:1: subnet_router must be a group { ... }");
	check_error("peers = { name = \"x\"; };\n",
		    "FILE:1: peers must be a list of groups: ( { ... }, { ... } )");
	check_error("peers = ( \"x\" );\n", "FILE:1: peers[0] must be a group { ... }");
	check_error("peers = ( { public_key = \"" KEY_A "\"; persistent_keepalive = true; } );\n",
		    "FILE:1: peers[0].persistent_keepalive must be an integer");
}

static void test_ranges(void)
{
	check_error("listen_port = 70000;\n",
		    "FILE:1: listen_port must be between 0 and 65535 (got 70000)");
	check_error("listen_port = -1;\n",
		    "FILE:1: listen_port must be between 0 and 65535 (got -1)");
	check_error("listen_port = 9999999999L;\n",
		    "FILE:1: listen_port must be between 0 and 65535 (got 9999999999)");
	check_error("mtu = 500;\n", "FILE:1: mtu must be between 576 and 65535 (got 500)");
	check_error("addresses = [\"fd00::1/64\"];\nmtu = 1000;\n",
		    "FILE:2: mtu 1000 is below 1280, the IPv6 minimum (addresses include IPv6)");
	check_error(
	    "peers = ( { public_key = \"" KEY_A "\"; persistent_keepalive = 65536; } );\n",
	    "FILE:1: peers[0].persistent_keepalive must be between 0 and 65535 (got 65536)");
}

static void test_bad_values(void)
{
	check_error("interface = \"much-too-long-name0\";\n",
		    "FILE:1: interface: 'much-too-long-name0' is not a valid interface name "
		    "(1 to 15 characters, no '/', ':' or spaces)");
	check_error("exit_node = { wan_interface = \"eth/0\"; };\n",
		    "FILE:1: exit_node.wan_interface: 'eth/0' is not a valid interface name "
		    "(1 to 15 characters, no '/', ':' or spaces)");
	check_error("hostname = \"my host\";\n",
		    "FILE:1: hostname: 'my host' is not a valid name (1 to 63 letters, digits, "
		    "'-', '_' or '.', not digits and dots alone)");
	/* A name that reads as node id 3 or as an address is refused. */
	check_error("hostname = \"3\";\n",
		    "FILE:1: hostname: '3' is not a valid name (1 to 63 letters, digits, "
		    "'-', '_' or '.', not digits and dots alone)");
	check_error("peers = ( { name = \"10.0.0.1\"; public_key = \"" KEY_A "\"; } );\n",
		    "FILE:1: peers[0].name: '10.0.0.1' is not a valid name (1 to 63 letters, "
		    "digits, '-', '_' or '.', not digits and dots alone)");
	check_error("use_exit_node = { peer = \"12\"; };\n",
		    "FILE:1: use_exit_node.peer: '12' is neither a peer name nor an IP address");
	check_error("private_key_file = \"\";\n",
		    "FILE:1: private_key_file must be a path of 1 to 4095 characters");
	check_error(
	    "control_socket = \"/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa\";\n",
	    "FILE:1: control_socket must be a path of 1 to 107 characters");
	check_error("addresses = [\"100.64.0.1/10\",\n \"100.64.0/10\"];\n",
		    "FILE:2: addresses[1]: '100.64.0/10' is not an IP prefix (ADDRESS/LENGTH)");
	check_error("subnet_router = { routes = [\"192.168.1.1/24\"]; };\n",
		    "FILE:1: subnet_router.routes[0]: '192.168.1.1/24' has host bits set; "
		    "did you mean '192.168.1.0/24'?");
	check_error("peers = ( { public_key = \"" KEY_A "\";\n"
		    "  allowed_ips = [\"10.1.2.3/8\"]; } );\n",
		    "FILE:2: peers[0].allowed_ips[0]: '10.1.2.3/8' has host bits set; "
		    "did you mean '10.0.0.0/8'?");
	check_error("coordinator = { prefix4 = \"fd00::/8\"; };\n",
		    "FILE:1: coordinator.prefix4: 'fd00::/8' is not an IPv4 prefix");
	check_error("coordinator = { prefix6 = \"10.0.0.0/8\"; };\n",
		    "FILE:1: coordinator.prefix6: '10.0.0.0/8' is not an IPv6 prefix");
	check_error("coordinator = { endpoints = [\"example.com\"]; };\n",
		    "FILE:1: coordinator.endpoints[0]: 'example.com' is not HOST:PORT (IPv4:PORT, "
		    "[IPv6]:PORT or NAME:PORT, port 1-65535)");
	check_error("web = { listen = [\"localhost:8080\"]; };\n",
		    "FILE:1: web.listen[0]: 'localhost:8080' is not IP:PORT (IPv4:PORT or "
		    "[IPv6]:PORT)");
	check_error("web = { listen = [\"127.0.0.1:0\"]; };\n",
		    "FILE:1: web.listen[0]: '127.0.0.1:0' is not IP:PORT (IPv4:PORT or "
		    "[IPv6]:PORT)");
	check_error("use_exit_node = { peer = \"10.0.0.0/8\"; };\n",
		    "FILE:1: use_exit_node.peer: '10.0.0.0/8' is neither a peer name nor an IP "
		    "address");
	check_error("join = \"abc\";\n",
		    "FILE:1: join: not an invite code: not a meshgate invite code (it starts with "
		    "mg1-) (`meshgate invite` prints one)");
}

/* What start-up would refuse, refused when loading: the join code is
 * decoded, a coordinator joins nothing, the pool is the coordinator's. */
static void test_mesh_errors(void)
{
	check_error("\njoin = \"mg1-abcdef0123\";\n",
		    "FILE:2: join: not an invite code: invite code is damaged (copy it whole) "
		    "(`meshgate invite` prints one)");
	check_error("coordinator = { enabled = true; };\njoin = \"" CODE "\";\n",
		    "FILE:2: join: this node is the coordinator (coordinator.enabled), which "
		    "joins no other mesh; remove join, or set coordinator.enabled = false to join "
		    "the invite's mesh");
	check_error("coordinator = { enabled = true; };\n"
		    "peers = ( { name = \"nas\"; public_key = \"" KEY_A "\";\n"
		    "  allowed_ips = [\"10.0.0.0/8\", \"fd7a:6d67:7465::5/128\"]; } );\n",
		    "FILE:3: peers[0].allowed_ips: fd7a:6d67:7465::5/128 is inside the mesh's "
		    "address pool fd7a:6d67:7465::/48 (coordinator.prefix6), where the coordinator "
		    "gives members their addresses; give peer 'nas' addresses outside it");
	check_error("coordinator = { enabled = true; prefix4 = \"10.99.0.0/16\"; };\n"
		    "peers = ( { public_key = \"" KEY_A "\";\n"
		    "  allowed_ips = [\"10.99.4.0/24\"]; } );\n",
		    "FILE:3: peers[0].allowed_ips: 10.99.4.0/24 is inside the mesh's address pool "
		    "10.99.0.0/16 (coordinator.prefix4), where the coordinator gives members their "
		    "addresses; give peer 'peer-I5_h_qsG' addresses outside it");

	check_error("coordinator = { enabled = true; };\n"
		    "subnet_router = { routes = [\"192.168.1.0/24\",\n \"fd7a:6d67::/32\"]; };\n",
		    "FILE:2: subnet_router.routes: fd7a:6d67::/32 overlaps the mesh's address pool "
		    "fd7a:6d67:7465::/48 (coordinator.prefix6); advertise only LAN prefixes");

	struct mg_config cfg;
	/* A prefix holding the pool is no member's: the members' addresses are
	 * more specific. Without the coordinator role the pool means nothing. */
	if (load_ok("coordinator = { enabled = true; prefix4 = \"10.99.0.0/16\"; };\n"
		    "peers = ( { public_key = \"" KEY_A "\"; allowed_ips = [\"10.0.0.0/8\", "
		    "\"0.0.0.0/0\"]; } );\n",
		    &cfg))
		config_free(&cfg);
	if (load_ok("peers = ( { public_key = \"" KEY_A "\"; allowed_ips = [\"100.64.0.2/32\"]; } "
		    ");\njoin = \"" CODE "\";\n",
		    &cfg))
		config_free(&cfg);
}

/* A wg-quick file is named as one, at its first section. */
/* coordinator.stun: the default list when absent, none after [], a
 * FILE:LINE error for an entry that is not HOST:PORT. */
static void test_stun(void)
{
	struct mg_config cfg;
	char text[ENDPOINT_STR_LEN];

	if (load_ok("coordinator = { enabled = true; };\n", &cfg)) {
		CHECK_EQ_INT(cfg.coordinator.stun.n, 2);
		endpoint_format(&cfg.coordinator.stun.v[0], text, sizeof(text));
		CHECK(!strcmp(text, "stun.l.google.com:19302"));
		endpoint_format(&cfg.coordinator.stun.v[1], text, sizeof(text));
		CHECK(!strcmp(text, "stun.cloudflare.com:3478"));
	}
	config_free(&cfg);
	if (load_ok("coordinator = { stun = []; };\n", &cfg))
		CHECK_EQ_INT(cfg.coordinator.stun.n, 0);
	config_free(&cfg);
	if (load_ok("coordinator = { stun = [\"192.0.2.1:3478\", \"[2001:db8::1]:3478\"]; };\n",
		    &cfg)) {
		CHECK_EQ_INT(cfg.coordinator.stun.n, 2);
		CHECK(cfg.coordinator.stun.v[1].numeric && cfg.coordinator.stun.v[1].port == 3478);
	}
	config_free(&cfg);
	check_error("coordinator = {\n stun = [\"stun.example.org\"]; };\n",
		    "FILE:2: coordinator.stun[0]: 'stun.example.org' is not HOST:PORT (IPv4:PORT, "
		    "[IPv6]:PORT or NAME:PORT, port 1-65535)");
	check_error("coordinator = { stun = \"a:1\"; };\n",
		    "FILE:1: coordinator.stun must be a list of strings, e.g. [\"...\"]");
}

static void test_wgquick_file(void)
{
	check_error(
	    "# from the WireGuard app\n\n[Interface]\nPrivateKey = "
	    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n[Peer]\nPublicKey = " KEY_A
	    "\nAllowedIPs = 0.0.0.0/0\n",
	    "FILE:3: this is a wg-quick config, not a meshgate config: see meshgate.conf(5) "
	    "(peers = ( { public_key = ...; allowed_ips = [...]; endpoint = ...; } ))");
	check_error(
	    "  [peer]  \nEndpoint = 192.0.2.1:51820\n",
	    "FILE:1: this is a wg-quick config, not a meshgate config: see meshgate.conf(5) "
	    "(peers = ( { public_key = ...; allowed_ips = [...]; endpoint = ...; } ))");
	/* Only a section line makes it one. */
	check_error("mtu = 1280;\n[Interfaces]\n", "FILE:2: syntax error");
}

/* An operator group named in the file must exist; "" is none. The group
 * "root" exists on every host. */
static void test_control_group(void)
{
	struct mg_config cfg;

	if (load_ok("control_group = \"root\";\n", &cfg))
		CHECK(strcmp(cfg.control_group, "root") == 0);
	config_free(&cfg);
	if (load_ok("control_group = \"\";\n", &cfg))
		CHECK(cfg.control_group[0] == '\0');
	config_free(&cfg);
	check_error("\ncontrol_group = \"no-such-group-here\";\n",
		    "FILE:2: control_group: no group 'no-such-group-here' on this host (create it "
		    "with groupadd --system no-such-group-here, or write \"\" to keep the socket "
		    "to root)");
	check_error("control_group = \"a-group-name-longer-than-32-chars\";\n",
		    "FILE:1: control_group: a group name has at most 32 characters");
}

static void test_peer_errors(void)
{
	check_error("peers = ( { public_key = \"not-a-key\"; } );\n",
		    "FILE:1: peers[0].public_key: not a base64 WireGuard key (44 characters, as "
		    "`wg pubkey` prints)");
	check_error("peers = ( { public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4\"; } );\n",
		    "FILE:1: peers[0].endpoint: '1.2.3.4' is not HOST:PORT (IPv4:PORT, "
		    "[IPv6]:PORT or NAME:PORT, port 1-65535)");
	check_error("peers = (\n  { name = \"x\"; }\n);\n",
		    "FILE:2: peers[0]: missing required key 'public_key'");
	check_error("peers = (\n"
		    "  { name = \"a\"; public_key = \"" KEY_A "\"; },\n"
		    "  { name = \"a\"; public_key = \"" KEY_B "\"; }\n);\n",
		    "FILE:3: duplicate peer name 'a' (first used at line 2)");
	check_error("peers = (\n"
		    "  { name = \"a\"; public_key = \"" KEY_A "\"; },\n"
		    "  { name = \"b\"; public_key = \"" KEY_A "\"; }\n);\n",
		    "FILE:3: peer 'b' has the same public_key as peer 'a' (line 2)");
	check_error("exit_node = { enabled = true; };\n\nuse_exit_node = { peer = \"home\"; };\n",
		    "FILE:3: use_exit_node and exit_node.enabled exclude each other (an exit node "
		    "cannot send its own traffic through another)");
}

/* Every error is reported, each on its own line. */
static void test_many_errors(void)
{
	check_error("listen_port = 70000;\nmtu = \"big\";\nbogus = 1;\n",
		    "FILE:1: listen_port must be between 0 and 65535 (got 70000)\n"
		    "FILE:2: mtu must be an integer\n"
		    "FILE:3: unknown key 'bogus'");
}

static void test_own_key(void)
{
	struct mg_config cfg;
	uint8_t key_a[KEY_LEN], key_b[KEY_LEN];
	char err[256];

	key_from_base64(key_a, KEY_A);
	key_from_base64(key_b, KEY_B);
	if (!load_ok("\npeers = ( { name = \"me\"; public_key = \"" KEY_A "\"; } );\n", &cfg))
		return;
	CHECK_EQ_INT(config_check_own_key(&cfg, key_b, err, sizeof(err)), 0);
	CHECK_EQ_INT(config_check_own_key(&cfg, key_a, err, sizeof(err)), -EINVAL);
	CHECK(strcmp(err, "test.conf:2: peer 'me' has this node's own public key") == 0);
	config_free(&cfg);
}

static void test_peer_equal(void)
{
	struct mg_config one, two;
	const char *base = "peers = ( { name = \"x\"; public_key = \"" KEY_A "\";"
			   " endpoint = \"1.2.3.4:5\"; allowed_ips = [\"10.0.0.0/8\", "
			   "\"10.1.0.0/16\"]; persistent_keepalive = 25; } );";
	const char *variants[] = {
		/* reordered allowed_ips and a new name: equal */
		"peers = ( { name = \"y\"; public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4:5\";"
		" allowed_ips = [\"10.1.0.0/16\", \"10.0.0.0/8\"]; persistent_keepalive = 25; } );",
		/* endpoint */
		"peers = ( { name = \"x\"; public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4:6\";"
		" allowed_ips = [\"10.0.0.0/8\", \"10.1.0.0/16\"]; persistent_keepalive = 25; } );",
		/* allowed_ips */
		"peers = ( { name = \"x\"; public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4:5\";"
		" allowed_ips = [\"10.0.0.0/8\"]; persistent_keepalive = 25; } );",
		/* keepalive */
		"peers = ( { name = \"x\"; public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4:5\";"
		" allowed_ips = [\"10.0.0.0/8\", \"10.1.0.0/16\"]; } );",
		/* preshared key */
		"peers = ( { name = \"x\"; public_key = \"" KEY_A "\"; endpoint = \"1.2.3.4:5\";"
		" allowed_ips = [\"10.0.0.0/8\", \"10.1.0.0/16\"]; persistent_keepalive = 25;"
		" preshared_key_file = \"/x.psk\"; } );",
	};

	if (!load_ok(base, &one))
		return;
	CHECK(config_peer_equal(&one.peers[0], &one.peers[0]));
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		if (!load_ok(variants[i], &two))
			continue;
		if (!CHECK(config_peer_equal(&one.peers[0], &two.peers[0]) == (i == 0)))
			fprintf(stderr, "  variant %zu\n", i);
		config_free(&two);
	}
	config_free(&one);
}

/* The data plane's switches, and their bounds. */
static void test_dataplane_keys(void)
{
	struct mg_config cfg;

	CHECK(config_defaults(&cfg) == 0);
	CHECK(cfg.offloads);
	CHECK_EQ_INT(cfg.crypto_threads, 0);
	config_free(&cfg);
	if (load_ok("offloads = false;\ncrypto_threads = 3;\n", &cfg)) {
		CHECK(!cfg.offloads);
		CHECK_EQ_INT(cfg.crypto_threads, 3);
		config_free(&cfg);
	}
	check_error("offloads = 1;\n", "FILE:1: offloads must be true or false");
	check_error("\ncrypto_threads = 17;\n",
		    "FILE:2: crypto_threads must be between 0 and 16 (got 17)");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_dataplane_keys);
	RUN(test_full);
	RUN(test_example_file);
	RUN(test_file_errors);
	RUN(test_syntax_errors);
	RUN(test_unknown_keys);
	RUN(test_wrong_types);
	RUN(test_ranges);
	RUN(test_bad_values);
	RUN(test_control_group);
	RUN(test_peer_errors);
	RUN(test_mesh_errors);
	RUN(test_wgquick_file);
	RUN(test_stun);
	RUN(test_many_errors);
	RUN(test_own_key);
	RUN(test_peer_equal);
	if (tmp_path[0])
		unlink(tmp_path);
	return test_summary();
}
