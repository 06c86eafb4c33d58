/*
 * The access policy (daemon/acl/): the config section's errors at their
 * lines, the per-node compiler, may_peer, the filter's JSON form, and the
 * checker held against a naive matcher over the compiled filters of random
 * meshes and policies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "config.h"
#include "mesh/protocol.h"
#include "testlib.h"

/* ---- parsing ---- */

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

static const char example[] =
    "policy = {\n"
    "  default = \"deny\";\n"
    "  groups = ( { name = \"admins\"; members = [\"laptop\", \"phone\"]; } );\n"
    "  rules = (\n"
    "    { from = [\"group:admins\"]; to = [\"192.168.77.0/24:22,443\", \"home:*\"]; },\n"
    "    { from = [\"*\"];            to = [\"exit\"]; },\n"
    "    { from = [\"phone\"];        to = [\"dns\"]; proto = \"udp\"; }\n"
    "  );\n"
    "};\n";

static void test_parse(void)
{
	struct mg_config cfg;
	char err[1024];
	const struct acl_rule *r;

	if (!CHECK_EQ_INT(config_load_string(example, "test.conf", &cfg, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(cfg.policy_present);
	CHECK(cfg.policy.def == ACL_DEFAULT_DENY);
	CHECK_EQ_INT(cfg.policy.n_groups, 1);
	CHECK(!strcmp(cfg.policy.groups[0].name, "admins"));
	CHECK_EQ_INT(cfg.policy.groups[0].n_members, 2);
	CHECK_EQ_INT(cfg.policy.groups[0].line, 3);
	CHECK_EQ_INT(cfg.policy.n_rules, 3);
	r = &cfg.policy.rules[0];
	CHECK_EQ_INT(r->line, 5);
	CHECK(r->n_from == 1 && r->from[0].kind == ACL_GROUP && !strcmp(r->from[0].name, "admins"));
	CHECK(r->n_to == 2 && r->to[0].kind == ACL_PREFIX && r->to[0].n_ports == 2 &&
	      r->to[0].ports[0].lo == 22 && r->to[0].ports[1].lo == 443);
	CHECK(r->to[1].kind == ACL_NAME && !strcmp(r->to[1].name, "home") && r->to[1].n_ports == 0);
	CHECK(cfg.policy.rules[1].from[0].kind == ACL_ANY &&
	      cfg.policy.rules[1].to[0].kind == ACL_EXIT);
	CHECK(cfg.policy.rules[2].protocols == ACL_PROTO_UDP &&
	      cfg.policy.rules[2].to[0].kind == ACL_DNS);
	config_free(&cfg);

	CHECK_EQ_INT(config_load_string("", "test.conf", &cfg, err, sizeof(err)), 0);
	CHECK(!cfg.policy_present && cfg.policy.def == ACL_DEFAULT_ALLOW);
	config_free(&cfg);
}

static void test_parse_errors(void)
{
	check_error("policy = {\n default = \"maybe\"; };\n",
		    "test.conf:2: policy.default must be \"allow\" or \"deny\" (got 'maybe')");
	check_error("policy = { rules = (\n { from = [\"*\"];\n   to = [\"home:0\"]; } ); };\n",
		    "test.conf:3: policy.rules[0].to[0]: 'home:0': ports must be *, N, N,M or "
		    "LOW-HIGH, 1-65535, at most 64 ranges");
	check_error("policy = { rules = (\n { from = [\"*\"]; to = [\"home:70000\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].to[0]: 'home:70000': ports must be *, N, N,M or "
		    "LOW-HIGH, 1-65535, at most 64 ranges");
	check_error("policy = { rules = (\n { from = [\"*\"]; to = [\"home:30-20\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].to[0]: 'home:30-20': ports must be *, N, N,M or "
		    "LOW-HIGH, 1-65535, at most 64 ranges");
	check_error("policy = { rules = (\n { from = [\"*\"]; to = [\"home:22\"];\n"
		    "   proto = \"icmp\"; } ); };\n",
		    "test.conf:2: policy.rules: ports with proto \"icmp\" (ICMP has no ports)");
	check_error(
	    "policy = { rules = (\n { from = [\"*\"]; to = [\"home\"];\n"
	    "   proto = \"sctp\"; } ); };\n",
	    "test.conf:3: policy.rules[0].proto must be \"tcp\", \"udp\", \"icmp\" or \"*\" "
	    "(got 'sctp')");
	check_error("policy = { groups = (\n { name = \"a\"; members = [\"x\"]; },\n"
		    " { name = \"A\"; members = [\"y\"]; } ); };\n",
		    "test.conf:3: policy.groups: group 'A' is defined twice (first at line 2)");
	check_error("policy = { rules = (\n { from = [\"group:ops\"]; to = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules: group:ops is not defined in policy.groups");
	check_error("policy = { groups = ( { name = \"a\"; members = [\"b\"]; } );\n"
		    " rules = (\n { from = [\"*\"]; to = [\"group:b\"]; } ); };\n",
		    "test.conf:3: policy.rules: group:b is not defined in policy.groups");
	check_error("policy = { groups = (\n { name = \"a\";\n members = [\"group:b\"]; } ); };\n",
		    "test.conf:3: policy.groups[0].members[0]: 'group:b': a group holds names, not "
		    "groups (no nesting)");
	check_error("policy = { rules = (\n { to = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules[0]: missing required key 'from'");
	check_error("policy = { rules = (\n { from = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules[0]: missing required key 'to'");
	check_error("policy = { rules = (\n { from = [\"*\"];\n to = [\"dns:54\"]; } ); };\n",
		    "test.conf:3: policy.rules[0].to[0]: 'dns:54': dns is port 53 only");
	check_error("policy = { rules = (\n { from = [\"10.0.0.0/8\"]; to = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].from[0]: '10.0.0.0/8' is not a node or device "
		    "name, group:NAME or *");
	check_error("policy = { rules = (\n { from = [\"laptop:22\"]; to = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].from[0]: 'laptop:22' is not a node or device "
		    "name, group:NAME or *");
	check_error(
	    "policy = { rules = (\n { from = [\"*\"];\n to = [\"192.168.77.1/24:22\"]; } ); "
	    "};\n",
	    "test.conf:3: policy.rules[0].to[0]: '192.168.77.1/24' has host bits set; did "
	    "you mean '192.168.77.0/24'?");
	check_error("policy = { rules = (\n { from = [\"*\"]; to = [\"bad name!\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].to[0]: 'bad name!' is not a node or device name, "
		    "group:NAME, a prefix, exit, dns or *, with an optional :PORTS");
	check_error("policy = { rules = (\n { from = []; to = [\"*\"]; } ); };\n",
		    "test.conf:2: policy.rules[0].from is empty");
	check_error("policy = { colour = \"red\"; };\n",
		    "test.conf:1: unknown key 'colour' in policy");
}

static void test_target_forms(void)
{
	struct acl_target t;
	char why[256], out[128];
	static const char *const good[] = { "fd00::/64:22", "192.168.1.5:22",
					    "fd00::1",      "group:ops:80-90",
					    "exit:443",     "dns:53",
					    "*:22,443",     "7zip" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!CHECK_EQ_INT(acl_target_parse(good[i], false, &t, why, sizeof(why)), 0)) {
			fprintf(stderr, "  %s: %s\n", good[i], why);
			continue;
		}
		free(t.ports);
	}
	CHECK_EQ_INT(acl_target_parse("fd00::/64:22", false, &t, why, sizeof(why)), 0);
	acl_target_format(&t, out, sizeof(out));
	CHECK(!strcmp(out, "fd00::/64:22"));
	free(t.ports);
	CHECK_EQ_INT(acl_target_parse("h:443,22,23-30,24", false, &t, why, sizeof(why)), 0);
	acl_target_format(&t, out, sizeof(out));
	CHECK(!strcmp(out, "h:22-30,443"));
	free(t.ports);
	CHECK_EQ_INT(acl_target_parse("192.168.1.5:22", false, &t, why, sizeof(why)), 0);
	CHECK(t.kind == ACL_PREFIX && t.prefix.len == 32 && t.n_ports == 1);
	free(t.ports);
	CHECK_EQ_INT(acl_target_parse("exit", true, &t, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(acl_target_parse("h:", false, &t, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(acl_target_parse("h:22,", false, &t, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(acl_target_parse("123", false, &t, why, sizeof(why)), -EINVAL);
}

/* ---- a fixed mesh ----
 *
 *   coord    100.64.0.1  fd7a:6d67:7465::1  coordinator, exit
 *   router   100.64.0.2  fd7a:6d67:7465::2  routes 192.168.77.0/24, 10.9.0.0/16
 *   laptop   100.64.0.3  fd7a:6d67:7465::3
 *   home     100.64.0.4  fd7a:6d67:7465::4
 *   phone    100.64.0.10                    a device at laptop
 */

struct fixture {
	struct prefix addrs[5][2];
	struct prefix phone_addr, routes[2], resolver[2];
	struct acl_member members[5];
	struct acl_mesh mesh;
};

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	if (!strchr(text, '/'))
		p.len = p.family == AF_INET ? 32 : 128;
	return p;
}

static void fixture_init(struct fixture *fx)
{
	static const char *const names[] = { "coord", "router", "laptop", "home" };
	char text[64];

	memset(fx, 0, sizeof(*fx));
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "100.64.0.%d", i + 1);
		fx->addrs[i][0] = pfx(text);
		snprintf(text, sizeof(text), "fd7a:6d67:7465::%d", i + 1);
		fx->addrs[i][1] = pfx(text);
		fx->members[i] = (struct acl_member){ .name = names[i],
						      .addresses = fx->addrs[i],
						      .n_addresses = 2 };
	}
	fx->members[0].coordinator = true;
	fx->members[0].exit = true;
	fx->routes[0] = pfx("192.168.77.0/24");
	fx->routes[1] = pfx("10.9.0.0/16");
	fx->members[1].routes = fx->routes;
	fx->members[1].n_routes = 2;
	fx->phone_addr = pfx("100.64.0.10");
	fx->members[4] = (struct acl_member){
		.name = "phone", .hub = "laptop", .addresses = &fx->phone_addr, .n_addresses = 1
	};
	fx->resolver[0] = pfx("100.100.100.100");
	fx->resolver[1] = pfx("fd7a:6d67:7465::53");
	fx->mesh = (struct acl_mesh){
		.members = fx->members, .n_members = 5, .resolver = fx->resolver, .n_resolver = 2
	};
}

static bool load_policy(const char *text, struct mg_config *cfg)
{
	char err[1024];
	int ret = config_load_string(text, "test.conf", cfg, err, sizeof(err));

	if (ret < 0)
		fprintf(stderr, "  %s\n", err);
	return ret == 0;
}

/* The filter's JSON text, compact and with sorted keys, for comparisons. */
static char *filter_text(const struct acl_filter *f)
{
	json_t *doc = acl_filter_to_json(f);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

static void check_filter_at(const struct acl_policy *p, const struct acl_mesh *mesh,
			    const char *node, const char *want, int line)
{
	struct acl_filter f;
	json_t *doc, *wdoc;
	char *got = NULL, *w = NULL;

	if (!test_check_int(acl_compile(p, mesh, node, 7, &f), 0, "acl_compile", __FILE__, line))
		return;
	doc = acl_filter_to_json(&f);
	got = json_dumps(json_object_get(doc, "entries"), JSON_COMPACT | JSON_SORT_KEYS);
	wdoc = json_loads(want, 0, NULL);
	w = wdoc ? json_dumps(wdoc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!test_check(w && got && !strcmp(got, w), node, __FILE__, line))
		fprintf(stderr, "  got:  %s\n  want: %s\n", got, w ? w : want);
	free(got);
	free(w);
	json_decref(wdoc);
	json_decref(doc);
	acl_filter_free(&f);
}
#define check_filter(p, mesh, node, want) check_filter_at(p, mesh, node, want, __LINE__)

#define ADMINS "\"100.64.0.3/32\",\"100.64.0.10/32\",\"fd7a:6d67:7465::3/128\""
#define ANY    "\"0.0.0.0/0\",\"::/0\""
#define CONTROL                                                                                    \
	"{\"rule\":0,\"hook\":\"input\",\"src\":[\"100.64.0.1/32\",\"100.64.0.2/32\","             \
	"\"100.64.0.3/32\",\"100.64.0.4/32\",\"100.64.0.10/32\",\"fd7a:6d67:7465::1/128\","        \
	"\"fd7a:6d67:7465::2/128\",\"fd7a:6d67:7465::3/128\",\"fd7a:6d67:7465::4/128\"],"          \
	"\"dst\":[\"100.64.0.1/32\",\"fd7a:6d67:7465::1/128\"],\"protocols\":[\"tcp\"],"           \
	"\"ports\":[\"41642\"]}"

/* The example: each node gets only what it enforces. dns gives
 * the node's addresses and the resolver's with one grant: one entry. */
static void test_compile_example(void)
{
	struct fixture fx;
	struct mg_config cfg;

	fixture_init(&fx);
	if (!load_policy(example, &cfg))
		return;
	check_filter(&cfg.policy, &fx.mesh, "router",
		     "[{\"rule\":1,\"hook\":\"forward\",\"src\":[" ADMINS "],"
		     "\"dst\":[\"192.168.77.0/24\"],\"protocols\":[\"tcp\",\"udp\"],"
		     "\"ports\":[\"22\",\"443\"]},"
		     "{\"rule\":3,\"hook\":\"input\",\"src\":[\"100.64.0.10/32\"],"
		     "\"dst\":[\"100.64.0.2/32\",\"100.100.100.100/32\",\"fd7a:6d67:7465::2/128\","
		     "\"fd7a:6d67:7465::53/128\"],\"protocols\":[\"udp\"],\"ports\":[\"53\"]}]");
	check_filter(&cfg.policy, &fx.mesh, "home",
		     "[{\"rule\":1,\"hook\":\"input\",\"src\":[" ADMINS "],"
		     "\"dst\":[\"100.64.0.4/32\",\"fd7a:6d67:7465::4/128\"]},"
		     "{\"rule\":3,\"hook\":\"input\",\"src\":[\"100.64.0.10/32\"],"
		     "\"dst\":[\"100.64.0.4/32\",\"100.100.100.100/32\",\"fd7a:6d67:7465::4/128\","
		     "\"fd7a:6d67:7465::53/128\"],\"protocols\":[\"udp\"],\"ports\":[\"53\"]}]");
	/* The exit and its resolver only on the exit; the control entry first. */
	check_filter(&cfg.policy, &fx.mesh, "coord",
		     "[" CONTROL ","
		     "{\"rule\":2,\"hook\":\"exit\",\"src\":[" ANY "],\"dst\":[]},"
		     "{\"rule\":2,\"hook\":\"input\",\"src\":[" ANY "],"
		     "\"dst\":[\"100.64.0.1/32\",\"fd7a:6d67:7465::1/128\"],"
		     "\"protocols\":[\"tcp\",\"udp\"],\"ports\":[\"53\"]},"
		     "{\"rule\":3,\"hook\":\"input\",\"src\":[\"100.64.0.10/32\"],"
		     "\"dst\":[\"100.64.0.1/32\",\"100.100.100.100/32\",\"fd7a:6d67:7465::1/128\","
		     "\"fd7a:6d67:7465::53/128\"],\"protocols\":[\"udp\"],\"ports\":[\"53\"]}]");
	config_free(&cfg);
}

/* Destinations of one rule with the same hook, protocols and ports become
 * one entry; ports and prefixes come out sorted and merged. */
static void test_compile_merge(void)
{
	struct fixture fx;
	struct mg_config cfg;

	fixture_init(&fx);
	if (!load_policy("policy = { default = \"deny\"; rules = (\n"
			 " { from = [\"laptop\", \"home\", \"laptop\"];\n"
			 "   to = [\"192.168.77.0/25:22,23\", \"192.168.77.128/25:23,22\",\n"
			 "         \"192.168.0.0/16:24-30,31\", \"10.9.3.0/24:22-23\",\n"
			 "         \"dns\"]; } ); };\n",
			 &cfg))
		return;
	check_filter(&cfg.policy, &fx.mesh, "router",
		     "[{\"rule\":1,\"hook\":\"forward\","
		     "\"src\":[\"100.64.0.3/32\",\"100.64.0.4/32\",\"fd7a:6d67:7465::3/128\","
		     "\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"10.9.3.0/24\",\"192.168.77.0/25\",\"192.168.77.128/25\"],"
		     "\"protocols\":[\"tcp\",\"udp\"],\"ports\":[\"22-23\"]},"
		     "{\"rule\":1,\"hook\":\"forward\","
		     "\"src\":[\"100.64.0.3/32\",\"100.64.0.4/32\",\"fd7a:6d67:7465::3/128\","
		     "\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"192.168.77.0/24\"],\"protocols\":[\"tcp\",\"udp\"],"
		     "\"ports\":[\"24-31\"]},"
		     "{\"rule\":1,\"hook\":\"input\","
		     "\"src\":[\"100.64.0.3/32\",\"100.64.0.4/32\",\"fd7a:6d67:7465::3/128\","
		     "\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"100.64.0.2/32\",\"100.100.100.100/32\",\"fd7a:6d67:7465::2/128\","
		     "\"fd7a:6d67:7465::53/128\"],\"protocols\":[\"tcp\",\"udp\"],"
		     "\"ports\":[\"53\"]}]");
	/* A prefix holding a member's address reaches it as its name does. */
	config_free(&cfg);
	if (!load_policy("policy = { default = \"deny\"; rules = (\n"
			 " { from = [\"home\"]; to = [\"100.64.0.0/28:22\"]; } ); };\n",
			 &cfg))
		return;
	check_filter(&cfg.policy, &fx.mesh, "laptop",
		     "[{\"rule\":1,\"hook\":\"input\","
		     "\"src\":[\"100.64.0.4/32\",\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"100.64.0.3/32\"],\"protocols\":[\"tcp\",\"udp\"],"
		     "\"ports\":[\"22\"]},"
		     "{\"rule\":1,\"hook\":\"forward\","
		     "\"src\":[\"100.64.0.4/32\",\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"100.64.0.10/32\"],\"protocols\":[\"tcp\",\"udp\"],"
		     "\"ports\":[\"22\"]}]");
	config_free(&cfg);
}

static void test_compile_defaults(void)
{
	struct fixture fx;
	struct mg_config cfg;
	struct acl_filter f;

	fixture_init(&fx);
	/* allow: present, no filtering, no entries (not even the control one). */
	if (!load_policy("policy = { rules = ( { from = [\"*\"]; to = [\"home\"]; } ); };\n", &cfg))
		return;
	CHECK_EQ_INT(acl_compile(&cfg.policy, &fx.mesh, "coord", 3, &f), 0);
	CHECK(f.present && !f.deny && f.n_entries == 0 && f.revision == 3);
	acl_filter_free(&f);
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "router", "home"));
	config_free(&cfg);
	/* deny and no rules: the coordinator keeps its control entry, no
	 * other node has anything. */
	if (!load_policy("policy = { default = \"deny\"; };\n", &cfg))
		return;
	check_filter(&cfg.policy, &fx.mesh, "coord", "[" CONTROL "]");
	check_filter(&cfg.policy, &fx.mesh, "router", "[]");
	CHECK_EQ_INT(acl_compile(&cfg.policy, &fx.mesh, "phone", 1, &f), -ENOENT);
	CHECK_EQ_INT(acl_compile(&cfg.policy, &fx.mesh, "nobody", 1, &f), -ENOENT);
	CHECK(!acl_may_peer(&cfg.policy, &fx.mesh, "router", "home"));
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "coord", "home"));
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "home", "coord"));
	config_free(&cfg);
	/* Addresses given with the interface's length still mean the host. */
	fx.addrs[3][0] = pfx("100.64.0.4/10");
	fx.addrs[3][1] = pfx("fd7a:6d67:7465::4/48");
	if (!load_policy("policy = { default = \"deny\";\n"
			 " rules = ( { from = [\"home\"]; to = [\"home:22\"]; } ); };\n",
			 &cfg))
		return;
	check_filter(&cfg.policy, &fx.mesh, "home",
		     "[{\"rule\":1,\"hook\":\"input\","
		     "\"src\":[\"100.64.0.4/32\",\"fd7a:6d67:7465::4/128\"],"
		     "\"dst\":[\"100.64.0.4/32\",\"fd7a:6d67:7465::4/128\"],"
		     "\"protocols\":[\"tcp\",\"udp\"],\"ports\":[\"22\"]}]");
	config_free(&cfg);
}

static void test_may_peer(void)
{
	struct fixture fx;
	struct mg_config cfg;

	fixture_init(&fx);
	if (!load_policy(example, &cfg))
		return;
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "laptop", "router"));
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "router", "laptop"));
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "laptop", "home"));
	/* The phone's dns rule reaches every node: its hub peers with all. */
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "router", "home") == false);
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "home", "router") == false);
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "coord", "router"));
	config_free(&cfg);
	/* Only the phone (at laptop) may reach home: laptop and home peer. */
	if (!load_policy("policy = { default = \"deny\";\n"
			 " rules = ( { from = [\"phone\"]; to = [\"home:22\"]; } ); };\n",
			 &cfg))
		return;
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "laptop", "home"));
	CHECK(acl_may_peer(&cfg.policy, &fx.mesh, "home", "laptop"));
	CHECK(!acl_may_peer(&cfg.policy, &fx.mesh, "router", "laptop"));
	CHECK(!acl_may_peer(&cfg.policy, &fx.mesh, "router", "home"));
	config_free(&cfg);
}

static bool check_is(const struct acl_policy *p, const struct acl_mesh *mesh, const char *from,
		     const char *to, uint8_t proto, uint16_t port, bool allowed, unsigned rule,
		     int line)
{
	struct acl_query q = { .from = from, .to = to, .protocol = proto, .port = port };
	struct acl_verdict v;
	int ret = acl_check(p, mesh, &q, &v);

	if (!test_check(ret == 0 && v.allowed == allowed && v.rule == rule, to, __FILE__, line)) {
		fprintf(stderr, "  %s -> %s: ret %d allowed %d rule %u: %s\n", from, to, ret,
			v.allowed, v.rule, v.reason);
		return false;
	}
	return true;
}
#define CHECK_VERDICT(p, m, from, to, proto, port, allowed, rule)                                  \
	check_is(p, m, from, to, proto, port, allowed, rule, __LINE__)

static void test_check_cases(void)
{
	struct fixture fx;
	struct mg_config cfg;
	struct acl_query q = {
		.from = "laptop", .to = "home", .protocol = ACL_PROTO_TCP, .port = 80
	};
	struct acl_verdict v;

	fixture_init(&fx);
	if (!load_policy(example, &cfg))
		return;
	const struct acl_policy *p = &cfg.policy;
	CHECK_VERDICT(p, &fx.mesh, "laptop", "192.168.77.9", ACL_PROTO_TCP, 22, true, 1);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "192.168.77.9", ACL_PROTO_TCP, 80, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "phone", "192.168.77.9", ACL_PROTO_UDP, 443, true, 1);
	CHECK_VERDICT(p, &fx.mesh, "router", "192.168.77.9", ACL_PROTO_TCP, 22, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "10.9.1.1", ACL_PROTO_TCP, 22, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "home", ACL_PROTO_ICMP, 0, true, 1);
	CHECK_VERDICT(p, &fx.mesh, "router", "home", ACL_PROTO_ICMP, 0, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "home", "exit", ACL_PROTO_TCP, 443, true, 2);
	CHECK_VERDICT(p, &fx.mesh, "home", "9.9.9.9", 0, 0, true, 2);
	CHECK_VERDICT(p, &fx.mesh, "home", "coord", ACL_PROTO_UDP, 53, true, 2);
	CHECK_VERDICT(p, &fx.mesh, "home", "coord", ACL_PROTO_TCP, 22, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "home", "coord", ACL_PROTO_TCP, MESH_CONTROL_PORT, true, 0);
	CHECK_VERDICT(p, &fx.mesh, "phone", "dns", ACL_PROTO_UDP, 53, true, 3);
	CHECK_VERDICT(p, &fx.mesh, "phone", "dns", ACL_PROTO_TCP, 53, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "dns", ACL_PROTO_UDP, 53, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "100.100.100.100", ACL_PROTO_UDP, 53, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "phone", ACL_PROTO_TCP, 22, false, 0);
	CHECK_VERDICT(p, &fx.mesh, "LAPTOP", "Home", ACL_PROTO_TCP, 22, true, 1);
	CHECK_VERDICT(p, &fx.mesh, "laptop", "100.64.0.4", ACL_PROTO_TCP, 22, true, 1);

	CHECK_EQ_INT(acl_check(p, &fx.mesh, &q, &v), 0);
	CHECK(v.allowed && v.line == 5);
	CHECK(!strcmp(v.reason, "allowed by rule 1 (line 5): laptop to home tcp:80"));
	q.from = "router";
	CHECK_EQ_INT(acl_check(p, &fx.mesh, &q, &v), 0);
	CHECK(!v.allowed);
	CHECK(!strcmp(v.reason, "denied: no rule allows router to home tcp:80 (default deny)"));
	q.from = "ghost";
	CHECK_EQ_INT(acl_check(p, &fx.mesh, &q, &v), -ENOENT);
	q.from = "laptop";
	q.to = "ghost";
	CHECK_EQ_INT(acl_check(p, &fx.mesh, &q, &v), -ENOENT);
	config_free(&cfg);
}

/* ---- the JSON form ---- */

static int decode_text(const char *text, struct acl_filter *f, char *err, size_t len)
{
	json_t *doc = json_loads(text, 0, NULL);
	int ret = doc ? acl_filter_from_json(doc, f, err, len) : -EINVAL;

	json_decref(doc);
	return ret;
}

static void test_json(void)
{
	static const char *const bad[] = {
		"[]",
		"{\"default\":\"maybe\"}",
		"{\"default\":\"deny\",\"revision\":-1}",
		"{\"default\":\"deny\",\"extra\":1}",
		"{\"default\":\"allow\",\"entries\":[{\"rule\":1,\"hook\":\"exit\",\"src\":[\"::/"
		"0\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"out\",\"src\":[\"::/"
		"0\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"exit\",\"src\":[]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"exit\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.1/8\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"],\"ports\":[\"22\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"],\"protocols\":[\"tcp\"],\"ports\":[\"0\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"],\"protocols\":[\"tcp\",\"icmp\"],\"ports\":[\"22\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"],\"protocols\":[\"sctp\"]}]}",
		"{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\",\"src\":[\"::/"
		"0\"],"
		"\"dst\":[\"10.0.0.0/8\"],\"when\":\"now\"}]}",
	};
	struct fixture fx;
	struct mg_config cfg;
	struct acl_filter f, g;
	char err[256], *a, *b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!CHECK_EQ_INT(decode_text(bad[i], &f, err, sizeof(err)), -EINVAL))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(!f.present && f.n_entries == 0 && err[0]);
	}
	CHECK_EQ_INT(decode_text("{\"default\":\"allow\",\"revision\":2}", &f, err, sizeof(err)),
		     0);
	CHECK(f.present && !f.deny && f.revision == 2);
	acl_filter_free(&f);
	CHECK_EQ_INT(
	    decode_text("{\"default\":\"deny\",\"entries\":[{\"rule\":1,\"hook\":\"input\","
			"\"src\":[\"::/0\"],\"dst\":[\"10.0.0.0/8\"],"
			"\"protocols\":[\"tcp\"],\"ports\":[\"1-65535\"]}]}",
			&f, err, sizeof(err)),
	    0);
	CHECK(f.n_entries == 1 && f.entries[0].ports[0].lo == 1 &&
	      f.entries[0].ports[0].hi == 65535);
	acl_filter_free(&f);

	/* Every compiled filter of the fixture goes through JSON unchanged. */
	fixture_init(&fx);
	if (!load_policy(example, &cfg))
		return;
	for (size_t i = 0; i < 4; i++) {
		json_t *doc;
		if (!CHECK_EQ_INT(acl_compile(&cfg.policy, &fx.mesh, fx.members[i].name, 9, &f), 0))
			continue;
		doc = acl_filter_to_json(&f);
		CHECK_EQ_INT(acl_filter_from_json(doc, &g, err, sizeof(err)), 0);
		a = filter_text(&f);
		b = filter_text(&g);
		CHECK(a && b && !strcmp(a, b));
		free(a);
		free(b);
		json_decref(doc);
		acl_filter_free(&f);
		acl_filter_free(&g);
	}
	config_free(&cfg);
}

static void test_policy_copy(void)
{
	struct mg_config cfg, other;
	struct acl_policy copy;
	uint8_t d1[ACL_DIGEST_LEN], d2[ACL_DIGEST_LEN];

	if (!load_policy(example, &cfg))
		return;
	CHECK_EQ_INT(acl_policy_copy(&copy, &cfg.policy), 0);
	CHECK(acl_policy_equal(&copy, &cfg.policy));
	acl_policy_digest(&cfg.policy, d1);
	acl_policy_digest(&copy, d2);
	CHECK(memcmp(d1, d2, sizeof(d1)) == 0);
	copy.rules[0].to[0].ports[0].lo = 23;
	CHECK(!acl_policy_equal(&copy, &cfg.policy));
	acl_policy_digest(&copy, d2);
	CHECK(memcmp(d1, d2, sizeof(d1)) != 0);
	copy.rules[0].to[0].ports[0].lo = cfg.policy.rules[0].to[0].ports[0].lo;
	copy.def = copy.def == ACL_DEFAULT_DENY ? ACL_DEFAULT_ALLOW : ACL_DEFAULT_DENY;
	acl_policy_digest(&copy, d2);
	CHECK(memcmp(d1, d2, sizeof(d1)) != 0);
	acl_policy_free(&copy);
	CHECK(copy.n_rules == 0 && !copy.rules);
	if (load_policy(
		"# moved\n\n"
		"policy = {\n  default = \"deny\";\n"
		"  groups = ( { name = \"ADMINS\"; members = [\"laptop\", \"phone\"]; } );\n"
		"  rules = (\n"
		"    { from = [\"group:admins\"]; to = [\"192.168.77.0/24:443,22\", \"home\"]; },\n"
		"    { from = [\"*\"]; to = [\"exit\"]; },\n"
		"    { from = [\"phone\"]; to = [\"dns\"]; proto = \"udp\"; } ); };\n",
		&other)) {
		CHECK(acl_policy_equal(&other.policy, &cfg.policy));
		/* Lines and the case of names are no difference to the digest. */
		acl_policy_digest(&other.policy, d2);
		CHECK(memcmp(d1, d2, sizeof(d1)) == 0);
		config_free(&other);
	}
	config_free(&cfg);
	acl_policy_free(NULL);
}

/* ---- the differential test ---- */

enum { R_NODES = 6, R_DEVICES = 4, R_MEMBERS = R_NODES + R_DEVICES, R_ROUTES = 3 };

struct rmesh {
	char names[R_MEMBERS][24];
	char hubs[R_DEVICES][24];
	struct prefix addrs[R_MEMBERS][2];
	struct prefix routes[R_NODES][R_ROUTES];
	struct prefix resolver[2];
	struct acl_member members[R_MEMBERS];
	struct acl_mesh mesh;
	size_t n_nodes;
};

static unsigned rnd(unsigned n)
{
	return (unsigned)random() % n;
}

static const char *const route_pool[] = { "10.0.0.0/8",      "10.1.0.0/16",   "10.1.2.0/24",
					  "10.2.0.0/16",     "10.1.2.128/25", "fd00::/48",
					  "fd00:0:0:1::/64", "192.168.1.0/24" };

static void rmesh_init(struct rmesh *m)
{
	char text[64];

	memset(m, 0, sizeof(*m));
	m->n_nodes = 2 + rnd(R_NODES - 1);
	for (size_t i = 0; i < m->n_nodes; i++) {
		struct acl_member *n = &m->members[m->mesh.n_members++];
		snprintf(m->names[i], sizeof(m->names[i]), "n%zu", i);
		snprintf(text, sizeof(text), "100.64.0.%zu", i + 1);
		m->addrs[i][0] = pfx(text);
		snprintf(text, sizeof(text), "fd7a:6d67:7465::%zu", i + 1);
		m->addrs[i][1] = pfx(text);
		*n = (struct acl_member){ .name = m->names[i],
					  .addresses = m->addrs[i],
					  .n_addresses = 2,
					  .exit = rnd(3) == 0,
					  .coordinator = i == 0,
					  .routes = m->routes[i] };
		for (size_t k = 0, count = rnd(R_ROUTES + 1); k < count; k++)
			m->routes[i][n->n_routes++] =
			    pfx(route_pool[rnd(sizeof(route_pool) / sizeof(route_pool[0]))]);
	}
	for (size_t d = 0, count = rnd(R_DEVICES + 1); d < count; d++) {
		size_t i = m->mesh.n_members;
		snprintf(m->names[i], sizeof(m->names[i]), "d%zu", d);
		snprintf(m->hubs[d], sizeof(m->hubs[d]), "N%u", rnd((unsigned)m->n_nodes));
		snprintf(text, sizeof(text), "100.64.1.%zu", d + 1);
		m->addrs[i][0] = pfx(text);
		m->members[m->mesh.n_members++] = (struct acl_member){ .name = m->names[i],
								       .hub = m->hubs[d],
								       .addresses = m->addrs[i],
								       .n_addresses = 1 };
	}
	m->resolver[0] = pfx("100.100.100.100");
	m->resolver[1] = pfx("fd7a:6d67:7465::53");
	m->mesh.members = m->members;
	m->mesh.resolver = m->resolver;
	m->mesh.n_resolver = 2;
}

/* A random member name, or one nobody has. */
static void random_name(const struct rmesh *m, char *out)
{
	if (rnd(8) == 0)
		strcpy(out, "ghost");
	else
		strcpy(out, m->names[rnd((unsigned)m->mesh.n_members)]);
}

static void random_ports(struct acl_target *t, bool dns)
{
	static const struct acl_port_range sets[][2] = {
		{ { 22, 22 } }, { { 53, 53 } }, { { 22, 22 }, { 443, 443 } }, { { 50, 60 } }
	};
	static const size_t sizes[] = { 1, 1, 2, 1 };
	unsigned k = rnd(6);

	if (dns)
		k = rnd(2) ? 1 : 4;
	if (k >= 4)
		return;
	t->n_ports = sizes[k];
	t->ports = malloc(sizes[k] * sizeof(*t->ports));
	if (!t->ports)
		abort();
	memcpy(t->ports, sets[k], sizes[k] * sizeof(*t->ports));
}

static const char *const target_prefixes[] = {
	"10.0.0.0/8",           "10.1.0.0/16",   "10.1.2.0/24",   "10.1.3.0/24",   "fd00::/32",
	"fd00:0:0:1:8000::/65", "100.64.0.0/30", "100.64.1.0/24", "100.64.0.0/10", "0.0.0.0/0"
};

static void random_target(const struct rmesh *m, struct acl_target *t, bool source, size_t n_groups)
{
	unsigned kind = rnd(source ? 3 : 6);

	memset(t, 0, sizeof(*t));
	if (kind == 0) {
		t->kind = ACL_ANY;
	} else if (kind == 1) {
		t->kind = ACL_NAME;
		random_name(m, t->name);
	} else if (kind == 2 && n_groups) {
		t->kind = ACL_GROUP;
		snprintf(t->name, sizeof(t->name), "G%u", rnd((unsigned)n_groups));
	} else if (kind == 3) {
		t->kind = ACL_PREFIX;
		t->prefix =
		    pfx(target_prefixes[rnd(sizeof(target_prefixes) / sizeof(target_prefixes[0]))]);
	} else if (kind == 4) {
		t->kind = ACL_EXIT;
	} else if (kind == 5) {
		t->kind = ACL_DNS;
	} else {
		t->kind = ACL_ANY;
	}
	if (!source)
		random_ports(t, t->kind == ACL_DNS);
}

static void random_policy(const struct rmesh *m, struct acl_policy *p)
{
	static const uint8_t protos[] = {
		0, 0, ACL_PROTO_TCP, ACL_PROTO_UDP, ACL_PROTO_ICMP, ACL_PROTO_TCP | ACL_PROTO_UDP
	};

	memset(p, 0, sizeof(*p));
	p->def = rnd(8) ? ACL_DEFAULT_DENY : ACL_DEFAULT_ALLOW;
	p->n_groups = rnd(3);
	p->groups = calloc(p->n_groups + 1, sizeof(*p->groups));
	for (size_t g = 0; g < p->n_groups; g++) {
		snprintf(p->groups[g].name, sizeof(p->groups[g].name), "g%zu", g);
		p->groups[g].n_members = rnd(4);
		p->groups[g].members =
		    calloc(p->groups[g].n_members + 1, sizeof(*p->groups[g].members));
		for (size_t k = 0; k < p->groups[g].n_members; k++)
			random_name(m, p->groups[g].members[k]);
	}
	p->n_rules = 1 + rnd(5);
	p->rules = calloc(p->n_rules, sizeof(*p->rules));
	for (size_t i = 0; i < p->n_rules; i++) {
		struct acl_rule *r = &p->rules[i];
		bool ports = false;
		r->line = (unsigned)(10 + i);
		r->n_from = 1 + rnd(2);
		r->n_to = 1 + rnd(3);
		r->from = calloc(r->n_from, sizeof(*r->from));
		r->to = calloc(r->n_to, sizeof(*r->to));
		for (size_t k = 0; k < r->n_from; k++)
			random_target(m, &r->from[k], true, p->n_groups);
		for (size_t k = 0; k < r->n_to; k++) {
			random_target(m, &r->to[k], false, p->n_groups);
			ports |= r->to[k].n_ports != 0;
		}
		r->protocols = protos[rnd(sizeof(protos))];
		if (ports && r->protocols == ACL_PROTO_ICMP)
			r->protocols = 0;
	}
}

/* The reference: a plain reading of filter.h over one node's filter. */
static bool naive_passes(const struct acl_filter *f, enum acl_hook hook,
			 const struct acl_member *from, const struct prefix *dst, uint8_t proto,
			 uint16_t port)
{
	if (!f->deny)
		return true;
	for (size_t i = 0; i < f->n_entries; i++) {
		const struct acl_entry *e = &f->entries[i];
		bool src = false, to = hook == ACL_HOOK_EXIT, ports = e->n_ports == 0;
		for (size_t s = 0; s < e->n_src; s++)
			for (size_t a = 0; a < from->n_addresses; a++)
				src |= prefix_contains(&e->src[s], &from->addresses[a]);
		for (size_t d = 0; d < e->n_dst; d++)
			to |= prefix_contains(&e->dst[d], dst);
		if (e->hook != hook || !src || !to)
			continue;
		if (e->protocols && proto && !(e->protocols & proto))
			continue;
		if (port == 0 || proto == ACL_PROTO_ICMP)
			return true;
		/* A port belongs to TCP or UDP. */
		if (e->protocols && !(e->protocols & (ACL_PROTO_TCP | ACL_PROTO_UDP)))
			continue;
		for (size_t k = 0; k < e->n_ports; k++)
			ports |= e->ports[k].lo <= port && port <= e->ports[k].hi;
		if (ports)
			return true;
	}
	return false;
}

/* A random destination address: a member's, inside a route, the
 * resolver's, or the internet's. */
static struct prefix random_destination(const struct rmesh *m)
{
	static const char *const internet[] = { "9.9.9.9", "2001:db8::1" };
	const struct acl_member *n;
	struct prefix a;

	switch (rnd(4)) {
	case 0:
		n = &m->members[rnd((unsigned)m->mesh.n_members)];
		return n->addresses[rnd((unsigned)n->n_addresses)];
	case 1:
		n = &m->members[rnd((unsigned)m->n_nodes)];
		if (!n->n_routes)
			break;
		a = n->routes[rnd((unsigned)n->n_routes)];
		for (size_t b = a.len; b < addr_len(a.family) * 8; b++)
			if (rnd(2))
				a.addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		a.len = (uint8_t)(addr_len(a.family) * 8);
		return a;
	case 2:
		return m->resolver[rnd(2)];
	}
	return pfx(internet[rnd(2)]);
}

/* Where a to b is enforced: the nodes and the hook. */
static size_t enforcers(const struct rmesh *m, const struct prefix *a, enum acl_hook *hook,
			const struct acl_member **out)
{
	size_t n = 0;

	for (size_t i = 0; i < m->mesh.n_members; i++) {
		const struct acl_member *x = &m->members[i];
		for (size_t k = 0; k < x->n_addresses; k++) {
			if (!prefix_equal(&x->addresses[k], a))
				continue;
			*hook = x->hub ? ACL_HOOK_FORWARD : ACL_HOOK_INPUT;
			for (size_t h = 0; x->hub && h < m->n_nodes; h++)
				if (!strcasecmp(m->members[h].name, x->hub))
					out[n++] = &m->members[h];
			if (!x->hub)
				out[n++] = x;
			return n;
		}
	}
	for (size_t r = 0; r < 2; r++) {
		if (!prefix_equal(&m->resolver[r], a))
			continue;
		*hook = ACL_HOOK_INPUT;
		for (size_t i = 0; i < m->n_nodes; i++)
			out[n++] = &m->members[i];
		return n;
	}
	*hook = ACL_HOOK_FORWARD;
	for (size_t i = 0; i < m->n_nodes; i++)
		for (size_t k = 0; k < m->members[i].n_routes; k++)
			if (prefix_contains(&m->members[i].routes[k], a)) {
				out[n++] = &m->members[i];
				break;
			}
	if (n)
		return n;
	*hook = ACL_HOOK_EXIT;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->members[i].exit)
			out[n++] = &m->members[i];
	return n;
}

/* may_peer's definition, read off the compiled filters: an entry at b
 * whose src covers an address of a or of a device a hubs. */
static bool filter_admits(const struct acl_filter *f, const struct rmesh *m,
			  const struct acl_member *a)
{
	for (size_t i = 0; i < m->mesh.n_members; i++) {
		const struct acl_member *x = &m->members[i];
		if (x != a && !(x->hub && !strcasecmp(x->hub, a->name)))
			continue;
		for (size_t e = 0; e < f->n_entries; e++)
			for (size_t s = 0; s < f->entries[e].n_src; s++)
				for (size_t k = 0; k < x->n_addresses; k++)
					if (prefix_contains(&f->entries[e].src[s],
							    &x->addresses[k]))
						return true;
	}
	return false;
}

static unsigned check_may_peer(const struct acl_policy *p, const struct rmesh *m,
			       const struct acl_filter *filters, unsigned *peers)
{
	unsigned wrong = 0;

	for (size_t i = 0; i < m->n_nodes; i++) {
		for (size_t j = 0; j < m->n_nodes; j++) {
			const struct acl_member *a = &m->members[i], *b = &m->members[j];
			bool want = !filters[i].deny || a->coordinator || b->coordinator ||
				    filter_admits(&filters[j], m, a) ||
				    filter_admits(&filters[i], m, b);
			bool got = acl_may_peer(p, &m->mesh, a->name, b->name);
			*peers += got;
			if (got != want && wrong++ < 3)
				fprintf(stderr, "  may_peer(%s, %s) = %d, filters say %d\n",
					a->name, b->name, got, want);
		}
	}
	return wrong;
}

static void test_differential(void)
{
	static const uint8_t protos[] = { 0, ACL_PROTO_TCP, ACL_PROTO_UDP, ACL_PROTO_ICMP };
	static const uint16_t ports[] = { 0, 22, 53, 55, 80, 443, MESH_CONTROL_PORT };
	unsigned queries = 0, allowed = 0, mismatches = 0, pairs = 0, peers = 0, peer_wrong = 0;

	srandom(1515);
	for (unsigned round = 0; round < 400; round++) {
		struct acl_filter filters[R_NODES];
		struct rmesh m;
		struct acl_policy p;

		rmesh_init(&m);
		random_policy(&m, &p);
		for (size_t i = 0; i < m.n_nodes; i++)
			if (!CHECK_EQ_INT(acl_compile(&p, &m.mesh, m.names[i], 1, &filters[i]), 0))
				abort();
		for (unsigned k = 0; k < 60; k++) {
			const struct acl_member *from = &m.members[rnd((unsigned)m.mesh.n_members)];
			const struct acl_member *at[R_NODES];
			struct prefix dst = random_destination(&m);
			char to[PREFIX_STR_LEN];
			struct acl_query q = { .from = from->name,
					       .to = to,
					       .protocol = protos[rnd(4)],
					       .port = ports[rnd(7)] };
			struct acl_verdict v;
			enum acl_hook hook;
			size_t n = enforcers(&m, &dst, &hook, at);

			prefix_format_addr(&dst, to, sizeof(to));
			if (acl_check(&p, &m.mesh, &q, &v) < 0) {
				CHECK(false);
				continue;
			}
			queries++;
			allowed += v.allowed;
			for (size_t i = 0; i < n; i++) {
				const struct acl_filter *f = &filters[at[i] - m.members];
				if (naive_passes(f, hook, from, &dst, q.protocol, q.port) ==
				    v.allowed)
					continue;
				if (mismatches++ < 5)
					fprintf(stderr,
						"  round %u: %s -> %s proto %u port %u at %s: "
						"check %d (%s)\n",
						round, from->name, to, q.protocol, q.port,
						at[i]->name, v.allowed, v.reason);
			}
			if (n == 0 && v.allowed && mismatches++ < 5)
				fprintf(stderr, "  round %u: %s -> %s allowed with no enforcer\n",
					round, from->name, to);
		}
		peer_wrong += check_may_peer(&p, &m, filters, &peers);
		pairs += (unsigned)(m.n_nodes * m.n_nodes);
		for (size_t i = 0; i < m.n_nodes; i++)
			acl_filter_free(&filters[i]);
		acl_policy_free(&p);
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK_EQ_INT(peer_wrong, 0);
	CHECK(peers > pairs / 10 && peers < pairs - pairs / 20);
	/* Both answers are exercised. */
	CHECK(allowed > queries / 10 && allowed < queries - queries / 10);
	printf("  %u queries, %u allowed, %u mismatches; may_peer: %u pairs, %u true, %u wrong\n",
	       queries, allowed, mismatches, pairs, peers, peer_wrong);
}

/* The example file's policy: the two common setups in one. */
static void test_example_file(void)
{
	struct mg_config cfg;
	struct fixture fx;
	char err[2048];
	int ret =
	    config_load(MG_SOURCE_DIR "/packaging/meshgate.conf.example", &cfg, err, sizeof(err));

	if (!CHECK_EQ_INT(ret, 0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(cfg.policy_present && cfg.policy.def == ACL_DEFAULT_DENY);
	CHECK_EQ_INT(cfg.policy.n_groups, 1);
	CHECK_EQ_INT(cfg.policy.n_rules, 2);
	fixture_init(&fx);
	CHECK_VERDICT(&cfg.policy, &fx.mesh, "phone", "home", ACL_PROTO_TCP, 80, true, 1);
	CHECK_VERDICT(&cfg.policy, &fx.mesh, "router", "home", ACL_PROTO_TCP, 80, false, 0);
	CHECK_VERDICT(&cfg.policy, &fx.mesh, "router", "exit", ACL_PROTO_TCP, 443, true, 2);
	config_free(&cfg);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_parse_errors);
	RUN(test_target_forms);
	RUN(test_compile_example);
	RUN(test_compile_merge);
	RUN(test_compile_defaults);
	RUN(test_may_peer);
	RUN(test_check_cases);
	RUN(test_json);
	RUN(test_policy_copy);
	RUN(test_differential);
	RUN(test_example_file);
	return test_summary();
}
