/*
 * The owned nftables table against the real kernel: the content rendered
 * from several plans (checked through `nft list`), one generation per
 * apply, the owner flag and what it means for other processes, removal,
 * the monitor, and the cleanup of a table left without owner.
 *
 * Needs root; everything happens in a private network namespace created by
 * unshare(CLONE_NEWNET) before the first netlink message, and the nft
 * commands the test runs (popen, tests only) inherit that namespace. The
 * interface names in the rules are only strings: no interface is needed.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netaddr.h"
#include "nft.h"
#include "testlib.h"

enum { MAX_PREFIXES = 10000 };

struct test_plan {
	struct plan_nft nft;
	struct prefix lan[MAX_PREFIXES];
	struct prefix guard[32];
	struct prefix dev[8], devexit[8], meshnet[8];
	struct plan_acl_entry acl[8];
	struct prefix acl_prefixes[8][2][4]; /* per entry: src, dst */
	struct acl_port_range acl_ports[8][4];
};

static const char *const guarded_ranges[] = {
	"0.0.0.0/8",     "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",   "240.0.0.0/4", "::1/128",
	"fc00::/7",      "fe80::/10",      "ff00::/8",      NULL,
};

static void add_prefix(struct plan_prefixes *list, struct prefix *storage, const char *text)
{
	if (prefix_parse(&storage[list->n], text) == 0)
		list->n++;
	else
		test_check(false, text, __FILE__, __LINE__);
}

static void plan_base(struct test_plan *tp)
{
	memset(&tp->nft, 0, sizeof(tp->nft));
	tp->nft.present = true;
	snprintf(tp->nft.tun, sizeof(tp->nft.tun), "meshgate0");
	tp->nft.mtu = 1280;
	tp->nft.lan_routes.v = tp->lan;
	tp->nft.guarded.v = tp->guard;
	tp->nft.devices.v = tp->dev;
	tp->nft.devices_exit.v = tp->devexit;
	tp->nft.mesh_routes.v = tp->meshnet;
}

/* A hub: the phone (with the exit) and the tablet (without). */
static void add_devices(struct test_plan *tp, bool exit)
{
	add_prefix(&tp->nft.devices, tp->dev, "100.64.0.7/32");
	add_prefix(&tp->nft.devices, tp->dev, "100.64.0.9/32");
	add_prefix(&tp->nft.devices, tp->dev, "fd7a:6d67:7465::7/128");
	add_prefix(&tp->nft.devices, tp->dev, "fd7a:6d67:7465::9/128");
	add_prefix(&tp->nft.mesh_routes, tp->meshnet, "100.64.0.0/10");
	add_prefix(&tp->nft.mesh_routes, tp->meshnet, "10.20.0.0/16");
	add_prefix(&tp->nft.mesh_routes, tp->meshnet, "fd7a:6d67:7465::/48");
	if (!exit)
		return;
	add_prefix(&tp->nft.devices_exit, tp->devexit, "100.64.0.7/32");
	add_prefix(&tp->nft.devices_exit, tp->devexit, "fd7a:6d67:7465::7/128");
}

/* Subnet router for a LAN (v4 and v6) with snat, plus exit node via eth9. */
static void plan_router_exit(struct test_plan *tp)
{
	plan_base(tp);
	add_prefix(&tp->nft.lan_routes, tp->lan, "192.168.77.0/24");
	add_prefix(&tp->nft.lan_routes, tp->lan, "fd00:77::/64");
	tp->nft.snat = true;
	tp->nft.exit_node = true;
	snprintf(tp->nft.wan, sizeof(tp->nft.wan), "eth9");
	for (int i = 0; guarded_ranges[i]; i++)
		add_prefix(&tp->nft.guarded, tp->guard, guarded_ranges[i]);
	tp->nft.clamp_mss = true;
}

/* An exit-node client: only the connmark pair and the forward guard. */
static void plan_client(struct test_plan *tp)
{
	plan_base(tp);
	tp->nft.connmark = true;
}

/* Appends a policy entry: "P,P" lists, ports "22,443" or "8000-8080". */
static void add_acl(struct test_plan *tp, uint32_t rule, enum acl_hook hook, const char *src,
		    const char *dst, uint8_t protocols, const char *ports)
{
	size_t i = tp->nft.acl.n_entries++;
	struct plan_acl_entry *e = &tp->acl[i];
	const char *lists[2] = { src, dst };
	struct plan_prefixes *sides[2] = { &e->src, &e->dst };

	tp->nft.acl.deny = true;
	tp->nft.acl.entries = tp->acl;
	*e = (struct plan_acl_entry){ .rule = rule, .hook = hook, .protocols = protocols };
	for (int k = 0; k < 2; k++) {
		char buf[256], *save = NULL;

		sides[k]->v = tp->acl_prefixes[i][k];
		snprintf(buf, sizeof(buf), "%s", lists[k] ? lists[k] : "");
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			add_prefix(sides[k], tp->acl_prefixes[i][k], t);
	}
	e->ports = tp->acl_ports[i];
	for (const char *p = ports; p && *p;) {
		unsigned lo = 0, hi = 0;
		int used = 0;

		if (sscanf(p, "%u-%u%n", &lo, &hi, &used) != 2 &&
		    sscanf(p, "%u%n", &lo, &used) == 1)
			hi = lo;
		e->ports[e->n_ports++] = (struct acl_port_range){ (uint16_t)lo, (uint16_t)hi };
		p += used;
		p += *p == ',';
	}
}

/* ---- nft(8), in this namespace only ---- */

/* `nft list table inet meshgate`, or NULL when there is no such table. */
static char *list_table(void)
{
	int status = -1;
	char *out = test_run("nft list table inet meshgate 2>/dev/null", &status);

	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static bool table_exists(void)
{
	char *out = list_table();

	free(out);
	return out != NULL;
}

static int nft_cmd(const char *args)
{
	char cmd[256];
	int status = -1;

	snprintf(cmd, sizeof(cmd), "nft %s 2>/dev/null", args);
	free(test_run(cmd, &status));
	return status;
}

/* ---- a bare watcher: counts the generations committed ---- */

static struct mnl_socket *gen_watch_open(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK);

	if (nl && mnl_socket_bind(nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

static int gen_watch_count(struct mnl_socket *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int gens = 0;
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			gens += NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN;
	}
	return gens;
}

/* ---- tests ---- */

static struct test_plan tp;

static void test_router_exit_content(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_router_exit(&tp);
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "flags owner"));
	CHECK(test_has(out, "set lan4 {"));
	CHECK(test_has(out, "elements = { 192.168.77.0/24 }"));
	CHECK(test_has(out, "elements = { fd00:77::/64 }"));
	CHECK(test_has(out, "set guarded6 {"));
	CHECK(test_has(out, "0.0.0.0/8, 10.0.0.0/8"));
	CHECK(test_has(out, "192.168.0.0/16, 224.0.0.0/3 }")); /* 224/4 and 240/4 merged */
	CHECK(test_has(out, "elements = { ::1,"));
	CHECK(test_has(out, "type filter hook forward priority filter; policy accept;"));
	CHECK(test_has(out,
		       "oifname \"meshgate0\" tcp flags syn / syn,rst tcp option maxseg size set "
		       "rt mtu"));
	CHECK(test_has(out,
		       "iifname \"meshgate0\" tcp flags syn / syn,rst tcp option maxseg size set "
		       "rt mtu"));
	CHECK(test_has(out, "iifname \"meshgate0\" jump from_mesh"));
	CHECK(test_has(out, "ct state invalid,untracked drop"));
	CHECK(test_has(out, "oifname \"meshgate0\" ct state established,related accept"));
	/* snat: only the replies above enter the mesh from the LAN. */
	CHECK(test_has(out, "oifname \"meshgate0\" ip saddr @lan4 drop"));
	CHECK(test_has(out, "oifname \"meshgate0\" ip6 saddr @lan6 drop"));
	CHECK(test_has(out,
		       "ip daddr @lan4 meta mark set meta mark & 0xff4effff | 0x004e0000 accept"));
	CHECK(test_has(out,
		       "ip6 daddr @lan6 meta mark set meta mark & 0xff4effff | 0x004e0000 accept"));
	CHECK(test_has(out, "ip daddr @guarded4 drop"));
	CHECK(test_has(out, "ip6 daddr @guarded6 drop"));
	CHECK(test_has(
	    out, "oifname \"eth9\" meta mark set meta mark & 0xff4effff | 0x004e0000 accept"));
	CHECK(test_has(out, "type nat hook postrouting priority srcnat; policy accept;"));
	CHECK(test_has(out, "meta mark & 0x00ff0000 == 0x004e0000 masquerade"));
	CHECK(test_has(out, "type filter hook input priority filter; policy accept;"));
	CHECK(test_has(out, "iifname \"meshgate0\" fib daddr . iif type local accept"));
	CHECK(test_has(out, "iifname \"meshgate0\" ip daddr @guarded4 drop"));
	CHECK(test_has(out, "comment \"not a served prefix nor exit traffic\""));
	CHECK(test_lacks(out, "premangle"));
	free(out);
	nft_close(ctx);
}

static void test_client_content(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_client(&tp);
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "type filter hook prerouting priority mangle; policy accept;"));
	CHECK(test_has(out,
		       "meta l4proto udp ct mark & 0x00ff0000 == 0x004d0000 meta mark set meta "
		       "mark & 0xff4dffff | 0x004d0000"));
	CHECK(test_has(out, "type filter hook postrouting priority mangle; policy accept;"));
	CHECK(test_has(out, "meta l4proto udp meta mark & 0x00ff0000 == 0x004d0000 ct mark set ct "
			    "mark & 0xff4dffff | 0x004d0000"));
	CHECK(test_lacks(out, "masquerade"));
	CHECK(test_lacks(out, "invalid"));
	CHECK(test_lacks(out, "chain input"));
	CHECK(test_lacks(out, "@"));
	CHECK(test_lacks(out, "maxseg"));
	free(out);
	nft_close(ctx);
}

/* allow_private: no guard at all, and exit traffic may leave by any link
 * but the TUN (the host's LANs are allowed too). */
static void test_allow_private(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_router_exit(&tp);
	tp.nft.allow_private = true;
	tp.nft.snat = false;
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	CHECK(test_lacks(out, "guarded"));
	CHECK(test_lacks(out, "chain input"));
	CHECK(test_has(out, "ip daddr @lan4 accept"));
	/* Without snat the LAN routes the mesh back: new connections enter. */
	CHECK(test_has(out, "oifname \"meshgate0\" ip saddr @lan4 accept"));
	CHECK(test_lacks(out, "saddr @lan4 drop"));
	CHECK(test_has(out, "oifname != \"meshgate0\" meta mark set meta mark & 0xff4effff | "
			    "0x004e0000 accept"));
	CHECK(test_has(out, "masquerade"));
	free(out);
	nft_close(ctx);
}

/* Nothing configured: the table is still there; TUN ingress forwarding
 * ends in a drop and the node's addresses answer only on the TUN and lo. */
static void test_bare_node(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_base(&tp);
	tp.nft.self.v = tp.guard;
	add_prefix(&tp.nft.self, tp.guard, "100.64.0.1/32");
	add_prefix(&tp.nft.self, tp.guard, "fd7a:6d67:7465::1/128");
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "type filter hook forward priority filter; policy accept;"));
	CHECK(test_has(out, "iifname \"meshgate0\" jump from_mesh"));
	CHECK(test_has(out, "chain from_mesh {\n\t\tdrop comment \"not a served prefix nor exit "
			    "traffic\"\n\t}"));
	CHECK(test_has(out, "type filter hook input priority filter; policy accept;"));
	CHECK(test_has(out, "iifname != \"meshgate0\" iifname != \"lo\" ip daddr @self4 drop"));
	CHECK(test_has(out, "iifname != \"meshgate0\" iifname != \"lo\" ip6 daddr @self6 drop"));
	CHECK(test_has(out, "elements = { 100.64.0.1 }"));
	CHECK(test_lacks(out, "lan4"));
	CHECK(test_lacks(out, "masquerade"));
	CHECK(test_lacks(out, "fib daddr"));
	CHECK(test_lacks(out, "dev4"));
	CHECK(test_lacks(out, "dev6"));
	free(out);
	nft_close(ctx);
}

/* Where needle starts in text (after from), or -1; reported when missing. */
static long pos(const char *text, const char *needle, long from)
{
	const char *at = text && from >= 0 ? strstr(text + from, needle) : NULL;

	if (!at)
		fprintf(stderr, "  missing (in order): %s\n", needle);
	return at ? at - text : -1;
}

/* A hub that serves a LAN and the exit: TUN -> TUN only from or to a
 * device, before the LAN and the guard; devices with the exit out to the
 * WAN, the others stopped before the mesh's exit rule. */
static void test_devices_content(void)
{
	static const char *const order[] = {
		"ct state invalid,untracked drop",
		"oifname \"meshgate0\" ip saddr @dev4 ip daddr @meshnet4 accept",
		"oifname \"meshgate0\" ip saddr @meshnet4 ip daddr @dev4 accept",
		"oifname \"meshgate0\" ip6 saddr @dev6 ip6 daddr @meshnet6 accept",
		"oifname \"meshgate0\" ip6 saddr @meshnet6 ip6 daddr @dev6 accept",
		"ip daddr @lan4 meta mark set",
		"ip daddr @guarded4 drop",
		"ip6 daddr @guarded6 drop",
		"ip saddr @devexit4 oifname \"eth9\" meta mark set meta mark & 0xff4effff | "
		"0x004e0000 accept",
		"ip saddr @dev4 drop",
		"ip6 saddr @devexit6 oifname \"eth9\" meta mark set meta mark & 0xff4effff | "
		"0x004e0000 accept",
		"ip6 saddr @dev6 drop",
		"oifname \"eth9\" meta mark set meta mark & 0xff4effff | 0x004e0000 accept",
		"drop comment \"not a served prefix nor exit traffic\"",
		NULL,
	};
	struct nft_ctx *ctx = NULL;
	char *out;
	long at;

	plan_router_exit(&tp);
	add_devices(&tp, true);
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "set dev4 {"));
	CHECK(test_has(out, "elements = { 100.64.0.7, 100.64.0.9 }"));
	CHECK(test_has(out, "set dev6 {"));
	CHECK(test_has(out, "elements = { fd7a:6d67:7465::7,"));
	CHECK(test_has(out, "fd7a:6d67:7465::9 }"));
	CHECK(test_has(out, "set devexit4 {"));
	CHECK(test_has(out, "elements = { 100.64.0.7 }"));
	CHECK(test_has(out, "elements = { fd7a:6d67:7465::7 }"));
	CHECK(test_has(out, "set meshnet4 {"));
	CHECK(test_has(out, "elements = { 10.20.0.0/16, 100.64.0.0/10 }"));
	CHECK(test_has(out, "elements = { fd7a:6d67:7465::/48 }"));
	at = pos(out, "chain from_mesh {", 0);
	for (int i = 0; order[i]; i++)
		CHECK((at = pos(out, order[i], at)) >= 0);
	free(out);
	nft_close(ctx);
}

/* Devices on a hub with no exit served: no devexit sets; their traffic to
 * anything but the mesh and the served LANs meets the final drop. */
static void test_devices_no_exit(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_base(&tp);
	add_devices(&tp, false);
	tp.nft.clamp_mss = true;
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	CHECK(test_has(out, "oifname \"meshgate0\" ip saddr @dev4 ip daddr @meshnet4 accept"));
	CHECK(test_has(out, "oifname \"meshgate0\" ip6 saddr @meshnet6 ip6 daddr @dev6 accept"));
	CHECK(test_has(out, "chain from_mesh {"));
	CHECK(test_lacks(out, "devexit"));
	CHECK(test_lacks(out, "saddr @dev4 drop"));
	CHECK(test_lacks(out, "masquerade"));
	free(out);
	nft_close(ctx);
}

/* A router and exit node with default "deny": rule 0 (the mesh's control
 * port), a LAN rule with ports, the exit for everyone, DNS to the node,
 * ICMP to the LAN. */
static void plan_policy(struct test_plan *t)
{
	plan_router_exit(t);
	t->nft.self.v = t->devexit;
	add_prefix(&t->nft.self, t->devexit, "100.64.0.1/32");
	add_prefix(&t->nft.self, t->devexit, "fd7a:6d67:7465::1/128");
	add_acl(t, 0, ACL_HOOK_INPUT, "0.0.0.0/0,::/0", "100.64.0.1/32,fd7a:6d67:7465::1/128",
		ACL_PROTO_TCP, "41642");
	add_acl(t, 1, ACL_HOOK_FORWARD, "100.64.0.3/32,fd7a:6d67:7465::3/128",
		"192.168.77.0/24,fd00:77::/64", ACL_PROTO_TCP, "22,443,8000-8080");
	add_acl(t, 2, ACL_HOOK_EXIT, "0.0.0.0/0,::/0", NULL, 0, NULL);
	add_acl(t, 3, ACL_HOOK_INPUT, "100.64.0.0/10", "100.64.0.1/32",
		ACL_PROTO_TCP | ACL_PROTO_UDP, "53");
	add_acl(t, 4, ACL_HOOK_FORWARD, "fd7a:6d67:7465::3/128", "fd00:77::/64", ACL_PROTO_ICMP,
		NULL);
}

/* Each policy chain in order: replies return, the entries return with a
 * counter, the rest is counted and dropped; the jumps sit before every
 * accept of from_mesh and input. */
static void test_policy_content(void)
{
	static const char *const order[] = {
		"chain from_mesh {",
		"ct state invalid,untracked drop",
		"oifname \"eth9\" jump policy_exit",
		"oifname != \"eth9\" jump policy_forward",
		"ip daddr @lan4 meta mark set",
		"chain input {",
		"ip daddr @self4 drop",
		"iifname \"meshgate0\" jump policy_input",
		"iifname \"meshgate0\" fib daddr . iif type local accept",
		"chain policy_input {",
		"ct state established,related return",
		"ip daddr @p0_dst4 tcp dport @p0_ports counter packets 0 bytes 0 return comment "
		"\"policy rule 0: mesh control\"",
		"ip6 daddr @p0_dst6 tcp dport @p0_ports counter packets 0 bytes 0 return",
		"ip saddr @p3_src4 ip daddr @p3_dst4 tcp dport @p3_ports counter packets 0 bytes 0 "
		"return comment \"policy rule 3\"",
		"ip saddr @p3_src4 ip daddr @p3_dst4 udp dport @p3_ports counter",
		"counter packets 0 bytes 0 drop comment \"policy default deny\"",
		"chain policy_forward {",
		"ct state established,related return",
		"ip saddr @p1_src4 ip daddr @p1_dst4 tcp dport @p1_ports counter packets 0 bytes 0 "
		"return comment \"policy rule 1\"",
		"ip6 saddr @p1_src6 ip6 daddr @p1_dst6 tcp dport @p1_ports counter",
		"ip6 saddr @p4_src6 ip6 daddr @p4_dst6 meta l4proto ipv6-icmp counter packets 0 "
		"bytes 0 return comment \"policy rule 4\"",
		"counter packets 0 bytes 0 drop comment \"policy default deny\"",
		"chain policy_exit {",
		"meta nfproto ipv4 counter packets 0 bytes 0 return comment \"policy rule 2\"",
		"meta nfproto ipv6 counter packets 0 bytes 0 return comment \"policy rule 2\"",
		"counter packets 0 bytes 0 drop comment \"policy default deny\"",
		NULL,
	};
	struct nft_policy_counter *counters = NULL;
	struct nft_ctx *ctx = NULL;
	size_t n = 0;
	char *out;
	long at = 0;

	plan_policy(&tp);
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "set p1_src4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\t"
			    "elements = { 100.64.0.3 }"));
	CHECK(test_has(out, "set p1_ports {\n\t\ttype inet_service\n\t\tflags interval\n\t\t"
			    "elements = { 22, 443, 8000-8080 }"));
	CHECK(test_has(out, "set p1_dst6 {"));
	CHECK(test_has(out, "elements = { fd00:77::/64 }"));
	CHECK(test_lacks(out, "p0_src4")); /* any source: no set */
	CHECK(test_lacks(out, "p2_"));     /* exit: any source, no destination, any protocol */
	CHECK(test_lacks(out, "p4_src4")); /* an IPv6 entry */
	for (int i = 0; order[i]; i++)
		CHECK((at = pos(out, order[i], at)) >= 0);
	free(out);

	/* Read back: rule 0..4 and the three denies, all zero, in order. */
	CHECK_EQ_INT(nft_policy_counters(ctx, &counters, &n), 0);
	CHECK_EQ_INT((int)n, 8);
	if (n == 8) {
		CHECK(counters[0].hook == ACL_HOOK_INPUT && counters[0].rule == 0);
		CHECK(counters[1].hook == ACL_HOOK_INPUT && counters[1].rule == 3);
		CHECK(counters[2].hook == ACL_HOOK_INPUT && counters[2].deny);
		CHECK(counters[3].hook == ACL_HOOK_FORWARD && counters[3].rule == 1);
		CHECK(counters[4].hook == ACL_HOOK_FORWARD && counters[4].rule == 4);
		CHECK(counters[5].hook == ACL_HOOK_FORWARD && counters[5].deny);
		CHECK(counters[6].hook == ACL_HOOK_EXIT && counters[6].rule == 2);
		CHECK(counters[7].hook == ACL_HOOK_EXIT && counters[7].deny);
		for (size_t i = 0; i < n; i++)
			CHECK(counters[i].packets == 0);
	}
	free(counters);
	nft_close(ctx);
}

/* Without deny (default "allow", no policy) not a trace of the policy; the
 * counters read back as none, and with no table at all too. */
static void test_policy_allow(void)
{
	struct nft_policy_counter *counters = NULL;
	struct nft_ctx *ctx = NULL;
	size_t n = 1;
	char *out;

	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_policy_counters(ctx, &counters, &n), 0);
	CHECK_EQ_INT((int)n, 0);
	free(counters);
	plan_policy(&tp);
	tp.nft.acl.deny = false;
	tp.nft.acl.n_entries = 0;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	CHECK(test_lacks(out, "policy_"));
	CHECK(test_lacks(out, "access policy"));
	CHECK(test_lacks(out, "counter"));
	CHECK(test_lacks(out, "p0_"));
	free(out);
	CHECK_EQ_INT(nft_policy_counters(ctx, &counters, &n), 0);
	CHECK_EQ_INT((int)n, 0);
	free(counters);
	nft_close(ctx);
}

static double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A big policy: ACL_MAX_ENTRIES-sized entry lists stay one transaction
 * (one generation), and the dump reads every counter back. */
static void test_policy_large(void)
{
	enum { ENTRIES = 2000, SRC = 4 };
	struct plan_acl_entry *e = calloc(ENTRIES, sizeof(*e));
	struct prefix *src = calloc(ENTRIES * SRC, sizeof(*src)), dst;
	struct acl_port_range ports[2] = { { 22, 22 }, { 8000, 8080 } };
	struct mnl_socket *watch = gen_watch_open();
	struct nft_policy_counter *counters = NULL;
	struct nft_ctx *ctx = NULL;
	size_t n = 0;

	int rcvbuf = 64 << 20; /* an event per element: none may be lost */
	double t0, t1;

	if (!CHECK(e && src && watch) || !CHECK(nft_open(&ctx) == 0))
		goto out;
	CHECK(setsockopt(mnl_socket_get_fd(watch), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			 sizeof(rcvbuf)) == 0);
	plan_router_exit(&tp);
	CHECK(prefix_parse(&dst, "192.168.77.0/24") == 0);
	for (size_t i = 0; i < ENTRIES; i++) {
		for (size_t k = 0; k < SRC; k++) {
			char text[PREFIX_STR_LEN];

			snprintf(text, sizeof(text), "100.%zu.%zu.%zu/32", 64 + i / 250, i % 250,
				 k);
			CHECK(prefix_parse(&src[i * SRC + k], text) == 0);
		}
		e[i] = (struct plan_acl_entry){ .rule = (uint32_t)i + 1,
						.hook = ACL_HOOK_FORWARD,
						.src = { &src[i * SRC], SRC },
						.dst = { &dst, 1 },
						.protocols = ACL_PROTO_TCP,
						.ports = ports,
						.n_ports = 2 };
	}
	tp.nft.acl = (struct plan_acl){ .deny = true, .entries = e, .n_entries = ENTRIES };
	t0 = ms_now();
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	t1 = ms_now();
	CHECK_EQ_INT(gen_watch_count(watch), 1);
	CHECK_EQ_INT(nft_policy_counters(ctx, &counters, &n), 0);
	/* Figures for the record, not asserted: the machine is shared. */
	printf("# %d entries: apply %.0f ms, counters read back in %.0f ms\n", ENTRIES, t1 - t0,
	       ms_now() - t1);
	CHECK_EQ_INT((int)n, ENTRIES + 3); /* and the denies of input, forward, exit */
	if (n == ENTRIES + 3)
		CHECK(counters[ENTRIES].rule == ENTRIES && counters[ENTRIES + 1].deny);
	free(counters);
out:
	nft_close(ctx);
	if (watch)
		mnl_socket_close(watch);
	free(src);
	free(e);
}

/* Overlapping and adjacent prefixes become disjoint intervals; the top of
 * the address space has no end element. */
static void test_intervals(void)
{
	static const char *const lan[] = { "10.0.1.0/24", "10.0.0.0/24",   "10.0.0.128/25",
					   "0.0.0.0/8",   "240.0.0.0/4",   "255.255.255.255/32",
					   "::/0",        "2001:db8::/32", NULL };
	struct nft_ctx *ctx = NULL;
	char *out;

	plan_base(&tp);
	for (int i = 0; lan[i]; i++)
		add_prefix(&tp.nft.lan_routes, tp.lan, lan[i]);
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	CHECK(test_has(out, "elements = { 0.0.0.0/8, 10.0.0.0/23,"));
	CHECK(test_has(out, "240.0.0.0/4 }"));
	CHECK(test_has(out, "elements = { ::/0 }"));
	free(out);
	nft_close(ctx);
}

/* Each apply is one transaction (one generation) and replaces everything. */
static void test_reapply_atomic(void)
{
	struct mnl_socket *watch = gen_watch_open();
	struct nft_ctx *ctx = NULL;
	char *out;

	if (!CHECK(watch != NULL) || !CHECK(nft_open(&ctx) == 0))
		goto out;
	plan_router_exit(&tp);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK_EQ_INT(gen_watch_count(watch), 1);

	plan_base(&tp);
	add_prefix(&tp.nft.lan_routes, tp.lan, "192.168.88.0/24");
	tp.nft.snat = false;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK_EQ_INT(gen_watch_count(watch), 1);
	out = list_table();
	CHECK(test_has(out, "192.168.88.0/24"));
	CHECK(test_lacks(out, "192.168.77.0/24"));
	CHECK(test_lacks(out, "guarded"));
	CHECK(test_lacks(out, "masquerade"));
	CHECK(test_has(out, "ip daddr @lan4 accept"));
	free(out);

	/* Same plan again: still one generation, same content. */
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK_EQ_INT(gen_watch_count(watch), 1);
	CHECK(table_exists());
out:
	nft_close(ctx);
	if (watch)
		mnl_socket_close(watch);
	CHECK(!table_exists());
}

static void test_remove(void)
{
	struct nft_ctx *ctx = NULL;

	if (!CHECK(nft_open(&ctx) == 0))
		return;
	CHECK_EQ_INT(nft_remove(ctx), 0); /* nothing there */
	plan_client(&tp);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(table_exists());
	CHECK_EQ_INT(nft_remove(ctx), 0);
	CHECK(!table_exists());
	CHECK_EQ_INT(nft_remove(ctx), 0);

	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	tp.nft.present = false;
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(!table_exists());
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	nft_close(ctx);
}

/* The kernel drops an owned table with its socket; others may not touch it. */
static void test_owner(void)
{
	struct nft_ctx *ctx = NULL, *other = NULL;
	int fd = -1;

	if (!CHECK(nft_open(&ctx) == 0) || !CHECK(nft_open(&other) == 0))
		goto out;
	CHECK(nft_owned(ctx));
	CHECK(nft_monitor_open(ctx, &fd) == 0 && fd >= 0);
	plan_router_exit(&tp);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(!nft_monitor_read(ctx)); /* its own events */

	/* Another socket (another daemon, --cleanup) gets EBUSY. */
	CHECK_EQ_INT(nft_apply(other, &tp.nft), -EBUSY);
	CHECK_EQ_INT(nft_remove(other), -EBUSY);
	CHECK_EQ_INT(nft_cleanup_table(), -EBUSY);

	/* nft(8): delete and rule changes are refused, flush ruleset skips it. */
	CHECK(nft_cmd("delete table inet meshgate") != 0);
	CHECK(nft_cmd("add rule inet meshgate from_mesh accept") != 0);
	CHECK(nft_cmd("flush ruleset") == 0);
	CHECK(table_exists());
	CHECK(!nft_monitor_read(ctx));

	nft_close(ctx);
	ctx = NULL;
	CHECK(!table_exists());
	CHECK_EQ_INT(nft_remove(other), 0);
out:
	nft_close(ctx);
	nft_close(other);
}

/* Without the owner flag (kernels before 5.12) others can change the table;
 * the monitor says so, and --cleanup removes what a dead daemon left. */
static void test_unowned_monitor_cleanup(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;
	int fd = -1;

	if (!CHECK(nft_open(&ctx) == 0))
		return;
	nft_set_owner(ctx, false);
	CHECK(nft_monitor_open(ctx, &fd) == 0);
	plan_router_exit(&tp);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	out = list_table();
	CHECK(test_lacks(out, "flags owner"));
	free(out);
	CHECK(!nft_monitor_read(ctx));
	CHECK(!nft_monitor_read(ctx));

	/* Someone else's table is none of our business. */
	CHECK(nft_cmd("add table inet other") == 0);
	CHECK(!nft_monitor_read(ctx));

	CHECK(nft_cmd("add rule inet meshgate from_mesh accept") == 0);
	CHECK(nft_monitor_read(ctx));
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(!nft_monitor_read(ctx));

	CHECK(nft_cmd("flush ruleset") == 0);
	CHECK(!table_exists());
	CHECK(nft_monitor_read(ctx));
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(table_exists());

	CHECK(nft_cmd("delete table inet meshgate") == 0);
	CHECK(nft_monitor_read(ctx));
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);

	/* The daemon goes away without removing it: a leftover. */
	nft_close(ctx);
	CHECK(table_exists());
	CHECK_EQ_INT(nft_cleanup_table(), 0);
	CHECK(!table_exists());
	CHECK_EQ_INT(nft_cleanup_table(), 0);
}

/* Thousands of prefixes: element lists span several messages and pages. */
static void test_large_sets(void)
{
	struct nft_ctx *ctx = NULL;
	char *out;
	int fd = -1;

	plan_base(&tp);
	for (int i = 0; i < 5000; i++) {
		char text[PREFIX_STR_LEN];

		snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 100, (i % 100) * 2);
		add_prefix(&tp.nft.lan_routes, tp.lan, text);
		snprintf(text, sizeof(text), "fd00:%x::/48", i * 2);
		add_prefix(&tp.nft.lan_routes, tp.lan, text);
	}
	if (!CHECK(nft_open(&ctx) == 0))
		return;
	/* Its own events, even more than the monitor socket holds, are no change. */
	CHECK(nft_monitor_open(ctx, &fd) == 0);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(!nft_monitor_read(ctx));
	/* Unowned, overflowed by its own events, then changed by someone. */
	nft_set_owner(ctx, false);
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(nft_cmd("add rule inet meshgate from_mesh accept") == 0);
	CHECK(nft_monitor_read(ctx));
	CHECK_EQ_INT(nft_apply(ctx, &tp.nft), 0);
	CHECK(!nft_monitor_read(ctx));
	out = test_run("nft list set inet meshgate lan4 2>/dev/null", NULL);
	CHECK(test_has(out, "10.0.0.0/24"));
	CHECK(test_has(out, "10.49.198.0/24"));
	free(out);
	out = test_run("nft list set inet meshgate lan6 2>/dev/null", NULL);
	CHECK(test_has(out, "fd00:270e::/48"));
	free(out);
	CHECK_EQ_INT(nft_remove(ctx), 0);
	nft_close(ctx);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	if (nft_cleanup_table() == -EPROTONOSUPPORT) {
		printf("skipped: no nftables in this kernel\n");
		return 77;
	}
	RUN(test_router_exit_content);
	RUN(test_client_content);
	RUN(test_allow_private);
	RUN(test_bare_node);
	RUN(test_devices_content);
	RUN(test_devices_no_exit);
	RUN(test_intervals);
	RUN(test_policy_content);
	RUN(test_policy_allow);
	RUN(test_policy_large);
	RUN(test_reapply_atomic);
	RUN(test_remove);
	RUN(test_owner);
	RUN(test_unowned_monitor_cleanup);
	RUN(test_large_sets);
	return test_summary();
}
