/*
 * Preflight verdicts (daemon/preflight.h) from facts: each check passes on a
 * healthy host, fails with its exact fix on a broken one, and says unknown
 * where the answer cannot be known. Also the human lines for failed checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "preflight.h"
#include "status_format.h"
#include "testlib.h"

static struct preflight_facts healthy(void)
{
	struct preflight_facts f = {
		.daemon_running = true,
		.tun_name = "mg0",
		.tun_open = true,
		.n_sysctls = 1,
		.sysctls = { { "net/ipv4/ip_forward", "1", "1", 0, true } },
		.forwards = true,
		.rp_filter_all = 0,
		.rp_filter_tun = 0,
		.nft_needed = true,
		.nft_present = true,
		.nft_netlink = true,
		.tun_mtu = 1280,
		.uplink = "eth0",
		.uplink_mtu = 1500,
		.mss_clamp = true,
		.role = PREFLIGHT_STATIC,
		.port = 41641,
		.port_reachable = -1,
		.now = 1735689600, /* 2025-01-01 */
	};
	return f;
}

static struct preflight_result r[PREFLIGHT_CHECKS];

static const struct preflight_result *find(const struct preflight_facts *f, const char *check)
{
	preflight_evaluate(f, r);
	for (int i = 0; i < PREFLIGHT_CHECKS; i++)
		if (!strcmp(r[i].check, check))
			return &r[i];
	CHECK(!"no such check");
	return &r[0];
}

static void test_healthy(void)
{
	struct preflight_facts f = healthy();

	preflight_evaluate(&f, r);
	for (int i = 0; i < PREFLIGHT_CHECKS; i++) {
		if (!CHECK(r[i].state == PREFLIGHT_OK))
			printf("  %s: %s\n", r[i].check, r[i].message);
		CHECK(r[i].fix[0] == '\0');
		CHECK(r[i].message[0] != '\0');
	}
}

static void test_tun(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	f.tun_open = false;
	f.dev_tun = -ENOENT;
	t = find(&f, "tun");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(strstr(t->message, "No such file") != NULL);
	CHECK(strstr(t->fix, "lxc.cgroup2.devices.allow: c 10:200 rwm") != NULL);
	CHECK(strstr(t->fix, "lxc.mount.entry: /dev/net/tun dev/net/tun none bind,create=file"));
	CHECK(strstr(t->fix, "pct set <ID> -dev0 /dev/net/tun") != NULL);
	/* dev0 came with Proxmox 8.1; older hosts need the lines. */
	CHECK(strstr(t->fix, "On Proxmox 8.1 and later:\n  pct set <ID> -dev0") != NULL);
	CHECK(strstr(t->fix, "Proxmox 7 and 8.0) add these two lines") != NULL);

	f.dev_tun = -ENODEV;
	t = find(&f, "tun");
	CHECK(strstr(t->message, "not the TUN device") != NULL);

	f.dev_tun = 0;
	f.tun_err = -EPERM;
	t = find(&f, "tun");
	CHECK(t->state == PREFLIGHT_FAIL && strstr(t->fix, "CAP_NET_ADMIN") != NULL);
	CHECK(strstr(t->fix, "lxc.cgroup2.devices.allow: c 10:200 rwm") != NULL);

	/* An unprivileged container opens the host's device as "other". */
	f.tun_err = -EACCES;
	t = find(&f, "tun");
	CHECK(t->state == PREFLIGHT_FAIL && strstr(t->message, "Permission denied") != NULL);
	CHECK(strstr(t->fix, "mode 0666") != NULL);
	CHECK(strstr(t->fix, "On Proxmox 8.1 and later:\n  pct set <ID> -dev0") != NULL);
	CHECK(strstr(t->fix, "Proxmox 7 and 8.0) add this line") != NULL);
}

static void test_forwarding(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	strcpy(f.sysctls[0].have, "0");
	f.sysctls[1] =
	    (struct preflight_sysctl){ "net/ipv6/conf/all/forwarding", "1", "", -EACCES, false };
	f.n_sysctls = 2;
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(strstr(t->message, "net.ipv4.ip_forward is 0, needs 1") != NULL);
	CHECK(strstr(t->message, "net.ipv6.conf.all.forwarding is unreadable") != NULL);
	/* The daemon sets them itself: the fix is to stop what changed them
	 * and reload, not a sysctl -w that the next change undoes. */
	CHECK(strstr(t->fix, "sysctl -w") == NULL);
	CHECK(strstr(t->fix, "systemctl reload meshgated") != NULL);
	CHECK(strstr(t->fix, "lxc.sysctl.") != NULL);

	/* accept_ra 2 on the WAN, said; an admin's 0 left alone, not said. */
	strcpy(f.sysctls[0].have, "1");
	f.sysctls[1] =
	    (struct preflight_sysctl){ "net/ipv6/conf/eth0/accept_ra", "2", "2", 0, true };
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(strstr(t->message, "2 sysctl(s) as the route plan needs (accept_ra 2 on the WAN") ==
	      t->message);
	f.sysctls[1] =
	    (struct preflight_sysctl){ "net/ipv6/conf/eth0/accept_ra", "0", "0", 0, true };
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_OK && strstr(t->message, "accept_ra") == NULL);

	f.n_sysctls = 0;
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_OK && strstr(t->message, "not needed") != NULL);
}

/* meshgated --preflight, with no daemon: it says what it checked, and
 * counts on the daemon for what the daemon does itself. */
static void test_without_daemon(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	f.daemon_running = false;
	t = find(&f, "tun");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(strstr(t->message, "is up") == NULL);
	CHECK(!strcmp(t->message, "/dev/net/tun opens; meshgated creates mg0 when it starts "
				  "(checked without the daemon)"));

	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_UNKNOWN);
	CHECK(!strcmp(t->message,
		      "listen_port 41641: neither bound nor tested (checked without the daemon)"));
	f.port = 0;
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_UNKNOWN && strstr(t->message, "random port") != NULL);

	/* Forwarding off: fine, the daemon turns it on. */
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_OK && strstr(t->message, "as the route plan needs"));
	strcpy(f.sysctls[0].have, "0");
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(!strcmp(t->message, "net.ipv4.ip_forward is 0, meshgated sets it to 1 when it "
				  "starts"));
	CHECK(t->fix[0] == '\0');

	/* Unless it cannot: a read-only /proc/sys. */
	f.sysctls[0].settable = false;
	t = find(&f, "forwarding");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(!strcmp(t->message, "net.ipv4.ip_forward is 0, needs 1"));
	CHECK(strstr(t->fix, "sysctl -w") == NULL);
	CHECK(strstr(t->fix, "/proc/sys is read-only here") != NULL);
	CHECK(strstr(t->fix, "lxc.sysctl.<name> = <value>") != NULL);
	CHECK(strstr(t->fix, "reload") == NULL);
}

/* Without the daemon nothing is in place yet: the table and the MSS clamp
 * are what it will make, and what could not be looked at is listed. */
static void test_without_daemon_unchecked(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;
	char text[1024];

	f.daemon_running = false;
	f.nft_needed = false; /* the host's facts hold no plan */
	f.nft_present = false;
	t = find(&f, "nftables");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(!strcmp(t->message, "nf_tables answers; meshgated creates table inet meshgate when "
				  "it starts (checked without the daemon)"));
	f.nft_netlink = false;
	CHECK(find(&f, "nftables")->state == PREFLIGHT_FAIL);
	f.nft_netlink = true;

	t = find(&f, "mtu");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(
	    !strcmp(t->message,
		    "TUN MTU 1280 fits eth0 (MTU 1500); meshgated clamps TCP MSS when it starts"));
	CHECK(strstr(t->message, "TCP MSS clamped") == NULL);

	preflight_not_checked(&f, text, sizeof(text));
	CHECK(!strcmp(text,
		      "interface: not checked, the daemon is not running (meshgated creates mg0, "
		      "its addresses and routes when it starts)\n"
		      "nftables: not checked, the daemon is not running (table inet meshgate and "
		      "its rules are made when it starts)\n"));
	f.role = PREFLIGHT_MESH_CLIENT;
	preflight_not_checked(&f, text, sizeof(text));
	CHECK(strstr(text, "\nmesh: not checked, the daemon is not running (what the coordinator "
			   "approves decides what this node forwards)\n") != NULL);

	/* A running daemon's checks cover all of it. */
	f = healthy();
	CHECK_EQ_INT(preflight_not_checked(&f, text, sizeof(text)), 0);
	CHECK(text[0] == '\0');
	CHECK(!strcmp(find(&f, "mtu")->message,
		      "TUN MTU 1280 fits eth0 (MTU 1500); TCP MSS clamped"));
}

static void test_rp_filter(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	f.rp_filter_tun = 1;
	CHECK(find(&f, "rp_filter")->state == PREFLIGHT_OK);
	f.peer_routes_unused = true;
	t = find(&f, "rp_filter");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(strstr(t->fix, "net.ipv4.conf.mg0.rp_filter=2") != NULL);
	f.rp_filter_tun = 2;
	CHECK(find(&f, "rp_filter")->state == PREFLIGHT_OK);
	f.rp_filter_all = f.rp_filter_tun = -1;
	CHECK(find(&f, "rp_filter")->state == PREFLIGHT_UNKNOWN);
}

static void test_nftables_and_mtu(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	f.nft_present = false;
	f.mss_clamp = false;
	t = find(&f, "nftables");
	CHECK(t->state == PREFLIGHT_FAIL && strstr(t->fix, "nf_tables") != NULL);
	t = find(&f, "mtu");
	CHECK(t->state == PREFLIGHT_FAIL && strstr(t->message, "MSS") != NULL);

	f = healthy();
	f.nft_needed = false;
	f.nft_netlink = false;
	CHECK(find(&f, "nftables")->state == PREFLIGHT_FAIL);

	f = healthy();
	f.tun_mtu = 1450;
	t = find(&f, "mtu");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(strstr(t->fix, "mtu = 1420;") != NULL);
	f.uplink_mtu = 0;
	CHECK(find(&f, "mtu")->state == PREFLIGHT_OK);
}

static void test_udp_port(void)
{
	struct preflight_facts f = healthy();

	CHECK(find(&f, "udp_port")->state == PREFLIGHT_OK);
	f.role = PREFLIGHT_MESH_CLIENT;
	CHECK(find(&f, "udp_port")->state == PREFLIGHT_UNKNOWN);
	CHECK(strstr(find(&f, "udp_port")->message, "not known") != NULL);
	f.port_reachable = 0;
	CHECK(find(&f, "udp_port")->state == PREFLIGHT_FAIL);
	f.port_reachable = 1;
	CHECK(find(&f, "udp_port")->state == PREFLIGHT_OK);
	f.port = 0;
	CHECK(find(&f, "udp_port")->state == PREFLIGHT_FAIL);
}

/* A mesh client's verdict from the coordinator's probe names the endpoint
 * the coordinator sees; the coordinator's counts the nodes reaching it. */
static void test_udp_port_mesh(void)
{
	struct preflight_facts f = healthy();
	const struct preflight_result *t;

	f.role = PREFLIGHT_MESH_CLIENT;
	f.port_reachable = 1;
	snprintf(f.port_seen_as, sizeof(f.port_seen_as), "203.0.113.2:41641");
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(!strcmp(t->message,
		      "UDP 41641 is reachable by the coordinator (seen as 203.0.113.2:41641)"));
	CHECK(t->fix[0] == '\0');
	f.port_seen_as[0] = '\0';
	CHECK(!strcmp(find(&f, "udp_port")->message, "UDP 41641 is reachable by the coordinator"));

	f.port_reachable = 0;
	snprintf(f.port_seen_as, sizeof(f.port_seen_as), "198.51.100.2:41641");
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_FAIL);
	CHECK(strstr(t->message, "cannot reach UDP 41641 (seen as 198.51.100.2:41641)") != NULL);
	CHECK(strstr(t->message, "NAT traversal") != NULL && strstr(t->message, "relay") != NULL);
	CHECK(!strcmp(t->fix, "forward UDP 41641 to this node on the router in front of it"));

	f = healthy();
	f.role = PREFLIGHT_COORDINATOR;
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_UNKNOWN);
	CHECK(strstr(t->message, "rest of the mesh") != NULL);
	f.port_reachable = 1;
	f.port_reached_by = 2;
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(!strcmp(t->message, "UDP 41641 is reached by 2 nodes"));
	f.port_reached_by = 1;
	CHECK(!strcmp(find(&f, "udp_port")->message, "UDP 41641 is reached by 1 node"));

	/* Static peers: no coordinator, whatever the facts say. */
	f.role = PREFLIGHT_STATIC;
	f.port_reachable = 0;
	CHECK(find(&f, "udp_port")->state == PREFLIGHT_OK);
}

/* The node's facts pushed over the system's: they decide tun, nftables,
 * the MSS clamp and udp_port; the system's sysctls stay. */
static void test_node_facts(void)
{
	struct preflight_facts f = healthy();
	struct preflight_node n = {
		.tun_open = true,
		.nft_needed = true,
		.nft_present = false,
		.role = PREFLIGHT_MESH_CLIENT,
		.port = 41700,
		.port_reachable = 1,
		.port_seen_as = "198.51.100.2:41700",
	};
	const struct preflight_result *t;

	preflight_set_node(&f, &n);
	CHECK(find(&f, "tun")->state == PREFLIGHT_OK);
	CHECK(find(&f, "nftables")->state == PREFLIGHT_FAIL);
	CHECK(find(&f, "mtu")->state == PREFLIGHT_FAIL); /* forwards, not clamped */
	CHECK(find(&f, "forwarding")->state == PREFLIGHT_OK);
	t = find(&f, "udp_port");
	CHECK(t->state == PREFLIGHT_OK);
	CHECK(!strcmp(t->message,
		      "UDP 41700 is reachable by the coordinator (seen as 198.51.100.2:41700)"));

	n.role = PREFLIGHT_COORDINATOR;
	n.port_reachable = 1;
	n.port_reached_by = 3;
	n.port_seen_as[0] = '\0';
	n.tun_open = false;
	preflight_set_node(&f, &n);
	CHECK(!strcmp(find(&f, "udp_port")->message, "UDP 41700 is reached by 3 nodes"));
	CHECK(find(&f, "tun")->state == PREFLIGHT_FAIL);
}

static void test_clock(void)
{
	struct preflight_facts f = healthy();

	f.now = 0; /* 1970 */
	CHECK(find(&f, "clock")->state == PREFLIGHT_FAIL);
	CHECK(strstr(find(&f, "clock")->fix, "NTP") != NULL);
	f.now = 1700000000; /* 2023 */
	CHECK(find(&f, "clock")->state == PREFLIGHT_FAIL);
	f.now = 1704067200; /* 2024-01-01 */
	CHECK(find(&f, "clock")->state == PREFLIGHT_OK);
}

static void test_json_and_human(void)
{
	struct preflight_facts f = healthy();
	json_t *checks, *doc;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	f.tun_open = false;
	f.dev_tun = -ENOENT;
	f.role = PREFLIGHT_MESH_CLIENT;
	preflight_evaluate(&f, r);
	checks = preflight_json(r, PREFLIGHT_CHECKS);
	CHECK(json_array_size(checks) == PREFLIGHT_CHECKS);
	CHECK(json_is_false(json_object_get(json_array_get(checks, 0), "ok")));
	CHECK(json_is_true(json_object_get(json_array_get(checks, 1), "ok")));
	CHECK(json_is_null(json_object_get(json_array_get(checks, 5), "ok")));
	CHECK(json_is_string(json_object_get(json_array_get(checks, 1), "fix")));

	doc =
	    json_pack("{s:{s:s}, s:[], s:o}", "self", "name", "home", "peers", "preflight", checks);
	out = open_memstream(&text, &len);
	status_format_human(out, doc, 0);
	fclose(out);
	CHECK(strstr(text, "preflight: tun: /dev/net/tun: No such file or directory\n") != NULL);
	CHECK(strstr(text, "  fix: In an LXC container") != NULL);
	CHECK(strstr(text, "lxc.cgroup2.devices.allow: c 10:200 rwm\n") != NULL);
	/* Only failed checks get a line; unknown ones do not. */
	CHECK(strstr(text, "preflight: udp_port") == NULL);
	CHECK(strstr(text, "preflight: clock") == NULL);
	free(text);
	json_decref(doc);
}

int main(void)
{
	RUN(test_healthy);
	RUN(test_tun);
	RUN(test_forwarding);
	RUN(test_without_daemon);
	RUN(test_without_daemon_unchecked);
	RUN(test_rp_filter);
	RUN(test_nftables_and_mtu);
	RUN(test_udp_port);
	RUN(test_udp_port_mesh);
	RUN(test_node_facts);
	RUN(test_clock);
	RUN(test_json_and_human);
	return test_summary();
}
