/*
 * The route plan (router/plan.c): each case is a configuration snippet and
 * the host it runs on, with the plan expected in route_plan_format()'s text
 * form (or the error the node would print).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "exit_server.h"
#include "plan.h"
#include "plan_exit.h"
#include "testlib.h"

#define KEY_A "I5/h/qsGhhR+WdJLQ0f4JHAGceyiqDT6tc1rBIPX5k4="
#define KEY_B "gW3oaPhdYuG3A4TOpSNTJKToAsJEE/7YiWRMx5VBYHM="
#define KEY_C "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

/* Every node sits on the mesh networks 100.64.0.0/24 and fd7a:6d67:7465::/64. */
#define NODE "addresses = [ \"100.64.0.1/24\", \"fd7a:6d67:7465::1/64\" ];\n"
#define PEER(name, key, ips)                                                                       \
	"  { name = \"" name "\"; public_key = \"" key "\"; allowed_ips = [ " ips " ]; }"
#define PEERS(...) "peers = (\n" __VA_ARGS__ "\n);\n"

#define LAPTOP PEER("laptop", KEY_A, "\"100.64.0.2/32\", \"fd7a:6d67:7465::2/128\"")
/* A subnet router serving a LAN in both families. */
#define OFFICE                                                                                     \
	PEER("office", KEY_B,                                                                      \
	     "\"100.64.0.3/32\", \"fd7a:6d67:7465::3/128\", \"192.168.77.0/24\", \"fd77::/64\"")
/* An exit node in both families. */
#define HOME                                                                                       \
	PEER("home", KEY_C, "\"100.64.0.4/32\", \"fd7a:6d67:7465::4/128\", \"0.0.0.0/0\", \"::/0\"")

#define LAPTOP_ALLOWED "100.64.0.2/32 fd7a:6d67:7465::2/128"
#define OFFICE_ALLOWED "100.64.0.3/32 fd7a:6d67:7465::3/128 192.168.77.0/24 fd77::/64"
#define HOME_MESH      "100.64.0.4/32 fd7a:6d67:7465::4/128"

/* Expected lines of the plan's text form. */
#define LAN_RULE(f)  "rule " f " 5300 lookup main suppress_prefixlength 0"
#define MESH_RULE(f) "rule " f " 5310 not fwmark 0x4d0000/0xff0000 lookup 41641"
#define RULES(f)     LAN_RULE(f), MESH_RULE(f)
#define EXIT_ROUTES                                                                                \
	"route tun 0.0.0.0/0 metric 0", "route tun ::/0 metric 0",                                 \
	    "route unreachable 0.0.0.0/0 metric 2147483647",                                       \
	    "route unreachable ::/0 metric 2147483647"
#define VALID_MARK     "sysctl net/ipv4/conf/all/src_valid_mark=1"
#define FORWARD4       "sysctl net/ipv4/ip_forward=1"
#define FORWARD6       "sysctl net/ipv6/conf/all/forwarding=1"
#define ACCEPT_RA(wan) "sysctl net/ipv6/conf/" wan "/accept_ra=2 unless 0"
/* The table is always there; its input chain guards the node's addresses. */
#define NFT_SELF   "nft self 100.64.0.1/32 fd7a:6d67:7465::1/128"
#define NFT_PLAIN  "nft tun meshgate0 mtu 1280", NFT_SELF
#define NFT_CLIENT "nft tun meshgate0 mtu 1280 connmark", NFT_SELF
#define NFT_ROUTER "nft tun meshgate0 mtu 1280 clamp_mss", NFT_SELF

/* The private ranges merged with the appliance's public network and LAN
 * (its addresses lie inside those networks). */
#define GUARDED                                                                                    \
	"nft guarded 0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 "               \
	"172.16.0.0/12 192.0.0.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 224.0.0.0/4 "     \
	"240.0.0.0/4 ::/128 ::1/128 ::ffff:0.0.0.0/96 2001:db8:1::/64 fc00::/7 fe80::/10 "         \
	"ff00::/8"

struct host_facts {
	const char *wan;
	const char *connected[6];
	const char *local[6];
	bool mesh; /* a mesh member: the peers are netmap peers */
	/* What the coordinator approved of this node's offer (mesh only). */
	const char *approved[6];
	bool exit_approved;
};

/* A laptop on a home LAN. */
#define HOST_LAPTOP                                                                                \
	{                                                                                          \
		.wan = "wlan0", .connected = { "192.168.1.0/24", "fe80::/64" },                    \
		.local = { "192.168.1.23", "fe80::23" },                                           \
	}
/* The same laptop, joined to a mesh. */
#define HOST_MESH_LAPTOP                                                                           \
	{                                                                                          \
		.wan = "wlan0", .connected = { "192.168.1.0/24", "fe80::/64" },                    \
		.local = { "192.168.1.23", "fe80::23" }, .mesh = true,                             \
	}
/* An appliance with a public uplink (eth0) and a LAN (eth1). */
#define HOST_APPLIANCE                                                                             \
	{                                                                                          \
		.wan = "eth0",                                                                     \
		.connected = { "198.51.100.0/24", "192.168.1.0/24", "2001:db8:1::/64",             \
			       "fe80::/64" },                                                      \
		.local = { "198.51.100.7", "192.168.1.1", "2001:db8:1::1", "fe80::1" },            \
	}

/* The appliance joined to a mesh, with approvals. */
#define HOST_MESH_APPLIANCE(...)                                                                   \
	{                                                                                          \
		.wan = "eth0",                                                                     \
		.connected = { "198.51.100.0/24", "192.168.1.0/24", "2001:db8:1::/64",             \
			       "fe80::/64" },                                                      \
		.local = { "198.51.100.7", "192.168.1.1", "2001:db8:1::1", "fe80::1" },            \
		.mesh = true, __VA_ARGS__                                                          \
	}
#define APPLIANCE_OFFER                                                                            \
	"exit_node = { enabled = true; };\n"                                                       \
	"subnet_router = { routes = [ \"192.168.1.0/24\", \"2001:db8:1::/64\" ]; };\n"

enum { MAX_LINES = 24, MAX_DEVICES = 4 };

/* A stock WireGuard device attached to the node: a plan peer after the
 * config's. */
struct device_facts {
	const char *name;
	const char *addresses[3];
	bool exit;
};

/* The phone with the exit and the tablet without, both families. */
#define PHONE                                                                                      \
	{                                                                                          \
		"phone", { "100.64.0.7/32", "fd7a:6d67:7465::7/128" }, true                        \
	}
#define TABLET                                                                                     \
	{                                                                                          \
		"tablet", { "100.64.0.8/32", "fd7a:6d67:7465::8/128" }, false                      \
	}
#define NFT_DEV "nft dev 100.64.0.7/32 100.64.0.8/32 fd7a:6d67:7465::7/128 fd7a:6d67:7465::8/128"
/* Where devices may go through the TUN: the mesh networks (and routes). */
#define NFT_MESHNET "nft meshnet 100.64.0.0/24 fd7a:6d67:7465::/64"

struct plan_case {
	const char *name;
	const char *conf;
	struct host_facts host;
	struct device_facts devices[MAX_DEVICES];
	const char *want[MAX_LINES]; /* the plan's text, line by line */
	const char *err;             /* or the error route_plan_compute() gives */
};

static const struct plan_case cases[] = {
	{
		.name = "plain static node: nothing but the engine's allowed IPs",
		.conf = NODE PEERS(LAPTOP),
		.host = HOST_LAPTOP,
		.want = { NFT_PLAIN, "peer 0 " LAPTOP_ALLOWED },
	},
	{
		.name = "client of a subnet router: routes, two rules per family, connmark",
		.conf = NODE PEERS(LAPTOP ",\n" OFFICE),
		.host = HOST_LAPTOP,
		.want = {
			"route tun 192.168.77.0/24 metric 0",
			"route tun fd77::/64 metric 0",
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 " LAPTOP_ALLOWED,
			"peer 1 " OFFICE_ALLOWED,
		},
	},
	{
		.name = "accept_routes = false: the engine keeps the prefixes, the kernel gets none",
		.conf = NODE "accept_routes = false;\n" PEERS(OFFICE),
		.host = HOST_LAPTOP,
		.want = { NFT_PLAIN, "peer 0 " OFFICE_ALLOWED },
	},
	{
		.name = "served prefix inside the host's LAN: reached directly; a wider one routed",
		.conf = NODE PEERS(PEER("office", KEY_B,
					"\"100.64.0.3/32\", \"192.168.1.16/28\", \"192.168.0.0/16\"")),
		.host = HOST_LAPTOP,
		.want = {
			"route tun 192.168.0.0/16 metric 0",
			RULES("ipv4"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 100.64.0.3/32 192.168.1.16/28 192.168.0.0/16",
			"warning peer 'office' serves 192.168.1.16/28 inside this host's LAN "
			"192.168.1.0/24; reaching it directly",
		},
	},
	{
		.name = "served prefix equal to the host's LAN: reached directly",
		.conf = NODE PEERS(PEER("office", KEY_B, "\"100.64.0.3/32\", \"192.168.1.0/24\"")),
		.host = HOST_LAPTOP,
		.want = {
			NFT_PLAIN,
			"peer 0 100.64.0.3/32 192.168.1.0/24",
			"warning peer 'office' serves 192.168.1.0/24 inside this host's LAN "
			"192.168.1.0/24; reaching it directly",
		},
	},
	{
		.name = "peer address outside the mesh networks, prefix around them: routed",
		.conf = NODE PEERS(PEER("far", KEY_B, "\"10.99.0.2/32\", \"100.64.0.0/10\"")),
		.host = HOST_LAPTOP,
		.want = {
			"route tun 10.99.0.2/32 metric 0",
			"route tun 100.64.0.0/10 metric 0",
			RULES("ipv4"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 10.99.0.2/32 100.64.0.0/10",
		},
	},
	{
		.name = "IPv6-only routes: IPv6 rules only, no src_valid_mark",
		.conf = NODE PEERS(PEER("office", KEY_B, "\"fd7a:6d67:7465::3/128\", \"fd77::/64\"")),
		.host = HOST_LAPTOP,
		.want = {
			"route tun fd77::/64 metric 0",
			RULES("ipv6"),
			NFT_CLIENT,
			"peer 0 fd7a:6d67:7465::3/128 fd77::/64",
		},
	},
	{
		.name = "two peers list one prefix: one route and a warning",
		.conf = NODE PEERS(OFFICE ",\n" PEER("office2", KEY_A,
						     "\"100.64.0.5/32\", \"192.168.77.0/24\"")),
		.host = HOST_LAPTOP,
		.want = {
			"route tun 192.168.77.0/24 metric 0",
			"route tun fd77::/64 metric 0",
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 " OFFICE_ALLOWED,
			"peer 1 100.64.0.5/32 192.168.77.0/24",
			"warning peers 'office' and 'office2' both list 192.168.77.0/24 in "
			"allowed_ips; only one of them receives its traffic",
		},
	},
	{
		.name = "exit client with LAN access; the other exit-capable peer keeps no default",
		.conf = NODE "use_exit_node = { peer = \"home\"; };\n"
			PEERS(PEER("spare", KEY_A, "\"100.64.0.2/32\", \"0.0.0.0/0\", \"::/0\"")
			      ",\n" HOME),
		.host = HOST_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 100.64.0.2/32",
			"peer 1 exit " HOME_MESH " 0.0.0.0/0 ::/0",
		},
	},
	{
		.name = "exit client without LAN access: no main-table rule",
		.conf = NODE "use_exit_node = { peer = \"home\"; allow_lan_access = false; };\n"
			PEERS(HOME),
		.host = HOST_LAPTOP,
		.want = {
			EXIT_ROUTES,
			MESH_RULE("ipv4"),
			MESH_RULE("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 exit " HOME_MESH " 0.0.0.0/0 ::/0",
		},
	},
	{
		.name = "without LAN access a prefix inside the LAN goes through the mesh too",
		.conf = NODE "use_exit_node = { peer = \"home\"; allow_lan_access = false; };\n"
			PEERS(HOME ",\n" PEER("office", KEY_B, "\"100.64.0.3/32\", \"192.168.1.16/28\"")),
		.host = HOST_LAPTOP,
		.want = {
			"route tun 192.168.1.16/28 metric 0",
			EXIT_ROUTES,
			MESH_RULE("ipv4"),
			MESH_RULE("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 exit " HOME_MESH " 0.0.0.0/0 ::/0",
			"peer 1 100.64.0.3/32 192.168.1.16/28",
		},
	},
	{
		.name = "exit node named by its IPv4 mesh address",
		.conf = NODE "use_exit_node = { peer = \"100.64.0.4\"; };\n" PEERS(LAPTOP ",\n" HOME),
		.host = HOST_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 " LAPTOP_ALLOWED,
			"peer 1 exit " HOME_MESH " 0.0.0.0/0 ::/0",
		},
	},
	{
		.name = "exit node named by its IPv6 mesh address",
		.conf = NODE "use_exit_node = { peer = \"fd7a:6d67:7465::4\"; };\n" PEERS(HOME),
		.host = HOST_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 exit " HOME_MESH " 0.0.0.0/0 ::/0",
		},
	},
	{
		.name = "exit node offering IPv4 only: IPv6 still goes into the TUN, with a warning",
		.conf = NODE "use_exit_node = { peer = \"home\"; };\n"
			PEERS(PEER("home", KEY_C, "\"100.64.0.4/32\", \"0.0.0.0/0\"")),
		.host = HOST_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 exit 100.64.0.4/32 0.0.0.0/0",
			"warning exit node 'home' offers IPv4 only; IPv6 traffic is dropped rather "
			"than sent outside the mesh",
		},
	},
	{
		.name = "exit node unknown",
		.conf = NODE "use_exit_node = { peer = \"nas\"; };\n" PEERS(LAPTOP),
		.host = HOST_LAPTOP,
		.err = "use_exit_node.peer 'nas' is not a known peer: no peer has that name or mesh "
		       "address",
	},
	{
		.name = "exit node address that is no peer's mesh address",
		.conf = NODE "use_exit_node = { peer = \"100.64.0.9\"; };\n" PEERS(LAPTOP),
		.host = HOST_LAPTOP,
		.err = "use_exit_node.peer '100.64.0.9' is not a known peer: no peer has that name "
		       "or mesh address",
	},
	{
		.name = "exit node not exit-capable",
		.conf = NODE "use_exit_node = { peer = \"laptop\"; };\n" PEERS(LAPTOP),
		.host = HOST_LAPTOP,
		.err = "use_exit_node.peer 'laptop' is not an exit node: its allowed_ips have no "
		       "0.0.0.0/0 or ::/0",
	},
	{
		.name = "mesh: exit node not in the netmap (yet): routes and kill switch stay, warned",
		.conf = NODE "use_exit_node = { peer = \"home\"; };\n" PEERS(LAPTOP),
		.host = HOST_MESH_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 " LAPTOP_ALLOWED,
			"warning exit node 'home' is not in the mesh's netmap (yet); internet traffic "
			"is dropped rather than sent outside the mesh",
		},
	},
	{
		.name = "mesh: before the first netmap, no peers at all, no LAN access",
		.conf = NODE "use_exit_node = { peer = \"home\"; allow_lan_access = false; };\n",
		.host = HOST_MESH_LAPTOP,
		.want = {
			EXIT_ROUTES,
			MESH_RULE("ipv4"),
			MESH_RULE("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"warning exit node 'home' is not in the mesh's netmap (yet); internet traffic "
			"is dropped rather than sent outside the mesh",
		},
	},
	{
		.name = "mesh: exit node without an exit offer (unapproved, offline): traffic dropped",
		.conf = NODE "use_exit_node = { peer = \"home\"; };\n"
			PEERS(PEER("home", KEY_C, "\"100.64.0.4/32\", \"fd7a:6d67:7465::4/128\"")),
		.host = HOST_MESH_LAPTOP,
		.want = {
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			VALID_MARK,
			NFT_CLIENT,
			"peer 0 exit " HOME_MESH,
			"warning exit node 'home' offers no exit now (no exit offered); "
			"internet traffic is dropped rather than sent outside the mesh",
		},
	},
	{
		.name = "subnet router with snat",
		.conf = NODE "subnet_router = { routes = [ \"192.168.1.0/24\" ]; };\n" PEERS(LAPTOP),
		.host = HOST_APPLIANCE,
		.want = {
			FORWARD4,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 snat",
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "subnet router without snat, both families",
		.conf = NODE "subnet_router = { routes = [ \"192.168.1.0/24\", \"2001:db8:1::/64\" ];"
			     " snat = false; };\n" PEERS(LAPTOP),
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 2001:db8:1::/64",
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "subnet router with IPv6 routes only: IPv6 forwarding only",
		.conf = NODE "subnet_router = { routes = [ \"2001:db8:1::/64\" ]; };\n" PEERS(LAPTOP),
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD6,
			NFT_ROUTER,
			"nft lan 2001:db8:1::/64 snat",
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "subnet routes are sorted and a route inside another is dropped",
		.conf = NODE "subnet_router = { routes = [ \"2001:db8:1::/64\", \"192.168.1.0/24\", "
			     "\"192.168.0.0/16\" ]; };\n",
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft lan 192.168.0.0/16 2001:db8:1::/64 snat",
		},
	},
	{
		.name = "a peer serving what this node serves itself is not routed",
		.conf = NODE "subnet_router = { routes = [ \"192.168.77.0/24\" ]; };\n"
			PEERS(PEER("office", KEY_B, "\"100.64.0.3/32\", \"192.168.77.0/24\"")),
		.host = HOST_LAPTOP,
		.want = {
			FORWARD4,
			NFT_ROUTER,
			"nft lan 192.168.77.0/24 snat",
			"peer 0 100.64.0.3/32 192.168.77.0/24",
			"warning peer 'office' serves 192.168.77.0/24, which this node serves itself "
			"(192.168.77.0/24 in subnet_router.routes); not routed through the mesh",
		},
	},
	{
		.name = "subnet route that is a default",
		.conf = NODE "subnet_router = { routes = [ \"0.0.0.0/0\" ]; };\n",
		.host = HOST_APPLIANCE,
		.err = "subnet_router.routes: 0.0.0.0/0 is a default route; offer the uplink with "
		       "exit_node.enabled instead",
	},
	{
		.name = "subnet route overlapping the mesh",
		.conf = NODE "subnet_router = { routes = [ \"192.168.1.0/24\", \"100.64.0.0/16\" ]; };\n",
		.host = HOST_APPLIANCE,
		.err = "subnet_router.routes: 100.64.0.0/16 overlaps the mesh network 100.64.0.0/24 "
		       "(addresses); advertise only LAN prefixes",
	},
	{
		.name = "exit node, WAN from the host's default route",
		.conf = NODE "exit_node = { enabled = true; };\n" PEERS(LAPTOP),
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft exit wan eth0",
			GUARDED,
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "exit node, WAN from the config",
		.conf = NODE "exit_node = { enabled = true; wan_interface = \"ppp0\"; };\n",
		.host = HOST_APPLIANCE,
		.want = { ACCEPT_RA("ppp0"), FORWARD4, FORWARD6, NFT_ROUTER, "nft exit wan ppp0", GUARDED },
	},
	{
		.name = "exit node without any WAN",
		.conf = NODE "exit_node = { enabled = true; };\n",
		.host = { .wan = "" },
		.err = "exit_node.enabled needs a WAN interface: set exit_node.wan_interface or give "
		       "the host a default route",
	},
	{
		.name = "exit node whose WAN would be the mesh interface",
		.conf = NODE "exit_node = { enabled = true; wan_interface = \"meshgate0\"; };\n",
		.host = HOST_APPLIANCE,
		.err = "exit_node.wan_interface 'meshgate0' is the mesh interface itself; name the "
		       "uplink",
	},
	{
		.name = "exit node whose host default route goes through the mesh",
		.conf = NODE "exit_node = { enabled = true; };\n",
		.host = { .wan = "meshgate0" },
		.err = "exit_node.enabled: the host's default route goes through the mesh interface "
		       "'meshgate0'; set exit_node.wan_interface to the uplink",
	},
	{
		.name = "exit node with allow_private: nothing guarded",
		.conf = NODE "exit_node = { enabled = true; allow_private = true; };\n",
		.host = HOST_APPLIANCE,
		.want = { ACCEPT_RA("eth0"), FORWARD4, FORWARD6, NFT_ROUTER, "nft exit wan eth0 allow_private" },
	},
	{
		.name = "exit node and subnet router: the LAN is forwarded, the rest guarded",
		.conf = NODE "exit_node = { enabled = true; };\n"
			     "subnet_router = { routes = [ \"192.168.1.0/24\" ]; };\n",
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 snat",
			"nft exit wan eth0",
			GUARDED,
		},
	},
	{
		.name = "mesh: nothing approved (before the first netmap): nothing forwarded",
		.conf = NODE APPLIANCE_OFFER PEERS(LAPTOP),
		.host = HOST_MESH_APPLIANCE(),
		.want = { NFT_PLAIN, "peer 0 " LAPTOP_ALLOWED },
	},
	{
		.name = "mesh: config and approval: the approved LAN, not one only approved",
		.conf = NODE APPLIANCE_OFFER PEERS(LAPTOP),
		.host = HOST_MESH_APPLIANCE(.approved = { "192.168.1.0/24", "10.9.0.0/16",
							  "0.0.0.0/0" }),
		.want = {
			FORWARD4,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 snat",
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "mesh: the exit approved, no LAN",
		.conf = NODE APPLIANCE_OFFER PEERS(LAPTOP),
		.host = HOST_MESH_APPLIANCE(.exit_approved = true),
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft exit wan eth0",
			GUARDED,
			"peer 0 " LAPTOP_ALLOWED,
		},
	},
	{
		.name = "mesh: an exit approved but not configured is not served",
		.conf = NODE "subnet_router = { routes = [ \"2001:db8:1::/64\" ]; snat = false; };\n",
		.host = HOST_MESH_APPLIANCE(.approved = { "2001:db8:1::/64" }, .exit_approved = true),
		.want = { ACCEPT_RA("eth0"), FORWARD6, NFT_ROUTER, "nft lan 2001:db8:1::/64" },
	},
	{
		.name = "hub: devices forwarded (both families), the exit for its devices",
		.conf = NODE APPLIANCE_OFFER PEERS(LAPTOP),
		.host = HOST_MESH_APPLIANCE(.exit_approved = true),
		.devices = { PHONE, TABLET },
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft exit wan eth0",
			GUARDED,
			NFT_DEV,
			"nft devexit 100.64.0.7/32 fd7a:6d67:7465::7/128",
			NFT_MESHNET,
			"peer 0 " LAPTOP_ALLOWED,
			"peer 1 100.64.0.7/32 fd7a:6d67:7465::7/128",
			"peer 2 100.64.0.8/32 fd7a:6d67:7465::8/128",
		},
	},
	{
		.name = "hub: the exit not approved: devices forwarded, none to the internet",
		.conf = NODE APPLIANCE_OFFER PEERS(LAPTOP),
		.host = HOST_MESH_APPLIANCE(),
		.devices = { PHONE, TABLET },
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			NFT_DEV,
			NFT_MESHNET,
			"peer 0 " LAPTOP_ALLOWED,
			"peer 1 100.64.0.7/32 fd7a:6d67:7465::7/128",
			"peer 2 100.64.0.8/32 fd7a:6d67:7465::8/128",
		},
	},
	{
		.name = "hub without any offer: an IPv4-only device, IPv4 forwarding only",
		.conf = NODE PEERS(LAPTOP),
		.host = HOST_MESH_LAPTOP,
		.devices = { { "phone", { "100.64.0.7/32" }, true } },
		.want = {
			FORWARD4,
			NFT_ROUTER,
			"nft dev 100.64.0.7/32",
			NFT_MESHNET,
			"peer 0 " LAPTOP_ALLOWED,
			"peer 1 100.64.0.7/32",
		},
	},
	{
		.name = "hub: a served LAN and devices without the exit",
		.conf = NODE APPLIANCE_OFFER,
		.host = HOST_MESH_APPLIANCE(.approved = { "192.168.1.0/24" }),
		.devices = { TABLET },
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 snat",
			"nft dev 100.64.0.8/32 fd7a:6d67:7465::8/128",
			NFT_MESHNET,
			"peer 0 100.64.0.8/32 fd7a:6d67:7465::8/128",
		},
	},
	{
		.name = "hub using an exit node: devices reach other nodes' routes, never its defaults",
		.conf = NODE "use_exit_node = { peer = \"home\"; };\n" PEERS(OFFICE ",\n" HOME),
		.host = HOST_MESH_LAPTOP,
		.devices = { PHONE },
		.want = {
			"route tun 192.168.77.0/24 metric 0",
			"route tun fd77::/64 metric 0",
			EXIT_ROUTES,
			RULES("ipv4"),
			RULES("ipv6"),
			ACCEPT_RA("wlan0"),
			FORWARD4,
			FORWARD6,
			VALID_MARK,
			"nft tun meshgate0 mtu 1280 connmark clamp_mss",
			NFT_SELF,
			"nft dev 100.64.0.7/32 fd7a:6d67:7465::7/128",
			"nft meshnet 100.64.0.0/24 192.168.77.0/24 fd77::/64 fd7a:6d67:7465::/64",
			"peer 0 " OFFICE_ALLOWED,
			"peer 1 exit " HOME_MESH " 0.0.0.0/0 ::/0",
			"peer 2 100.64.0.7/32 fd7a:6d67:7465::7/128",
		},
	},
	{
		.name = "static node: the config alone, approvals unused",
		.conf = NODE APPLIANCE_OFFER,
		.host = HOST_APPLIANCE,
		.want = {
			ACCEPT_RA("eth0"),
			FORWARD4,
			FORWARD6,
			NFT_ROUTER,
			"nft lan 192.168.1.0/24 2001:db8:1::/64 snat",
			"nft exit wan eth0",
			GUARDED,
		},
	},
};

/* The expected lines joined as route_plan_format() writes them. */
static void join_lines(const char *const *lines, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < MAX_LINES && lines[i] && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s\n", lines[i]);
}

/* Parses a NULL-terminated list of texts (at most max) into out. */
static size_t parse_list(const char *const *texts, size_t max, struct prefix *out)
{
	size_t n = 0;

	while (n < max && texts[n]) {
		CHECK(prefix_parse(&out[n], texts[n]) == 0);
		n++;
	}
	return n;
}

/* The node's static peers as plan peers (pointing into cfg). */
static struct plan_peer *peers_of(const struct mg_config *cfg)
{
	struct plan_peer *peers = calloc(cfg->n_peers + MAX_DEVICES + 1, sizeof(*peers));

	for (size_t i = 0; peers && i < cfg->n_peers; i++) {
		peers[i].name = cfg->peers[i].name;
		peers[i].allowed_ips = cfg->peers[i].allowed_ips.v;
		peers[i].n_allowed_ips = cfg->peers[i].allowed_ips.n;
	}
	return peers;
}

struct fixture {
	struct mg_config cfg;
	struct plan_peer *peers;
	size_t n_peers;
	struct prefix connected[6], local[6], approved[6];
	struct prefix device_addrs[MAX_DEVICES][2];
	struct plan_host host;
};

/* The devices as plan peers after the config's (peers has room). */
static void add_devices(struct fixture *f, const struct device_facts *devices)
{
	for (size_t i = 0; i < MAX_DEVICES && devices[i].name; i++) {
		struct plan_peer *p = &f->peers[f->n_peers++];
		*p = (struct plan_peer){ .name = devices[i].name,
					 .allowed_ips = f->device_addrs[i],
					 .n_allowed_ips = parse_list(devices[i].addresses, 2,
								     f->device_addrs[i]),
					 .mesh = true,
					 .device = true,
					 .device_exit = devices[i].exit };
	}
}

static bool fixture_init(struct fixture *f, const char *conf, const struct host_facts *facts)
{
	char err[1024];

	memset(f, 0, sizeof(*f));
	if (config_load_string(conf, "test.conf", &f->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "  config: %s\n", err);
		return false;
	}
	f->peers = peers_of(&f->cfg);
	f->n_peers = f->cfg.n_peers;
	f->host.tun_name = f->cfg.interface;
	f->host.mtu = f->cfg.mtu;
	snprintf(f->host.wan_ifname, sizeof(f->host.wan_ifname), "%s", facts->wan);
	f->host.connected = f->connected;
	f->host.n_connected = parse_list(facts->connected, 6, f->connected);
	f->host.local_addrs = f->local;
	f->host.n_local_addrs = parse_list(facts->local, 6, f->local);
	f->host.mesh_member = facts->mesh;
	f->host.approved_routes = f->approved;
	f->host.n_approved_routes = parse_list(facts->approved, 6, f->approved);
	f->host.exit_approved = facts->exit_approved;
	for (size_t i = 0; f->peers && i < f->cfg.n_peers; i++)
		f->peers[i].mesh = facts->mesh;
	return f->peers != NULL;
}

static void fixture_deinit(struct fixture *f)
{
	free(f->peers);
	config_free(&f->cfg);
}

static int compute(struct fixture *f, struct route_plan *plan, char *err, size_t errlen)
{
	return route_plan_compute(&f->cfg, f->peers, f->n_peers, &f->host, plan, err, errlen);
}

static void run_case(const struct plan_case *c)
{
	struct fixture f;
	struct route_plan plan;
	char err[512], text[4096], want[4096];
	int ret;

	if (!CHECK(fixture_init(&f, c->conf, &c->host))) {
		fprintf(stderr, "  case: %s\n", c->name);
		fixture_deinit(&f);
		return;
	}
	add_devices(&f, c->devices);
	ret = compute(&f, &plan, err, sizeof(err));
	route_plan_format(&plan, text, sizeof(text));
	join_lines(c->want, want, sizeof(want));
	if (c->err) {
		if (!CHECK_EQ_INT(ret, -EINVAL) || !CHECK(strcmp(err, c->err) == 0))
			fprintf(stderr, "  case: %s\n  got:  %s\n  want: %s\n", c->name, err,
				c->err);
		/* Nothing half-done is left behind. */
		CHECK(plan.n_routes == 0 && plan.n_peers == 0 && plan.exit_peer == -1);
	} else if (!CHECK_EQ_INT(ret, 0) || !CHECK(strcmp(text, want) == 0)) {
		fprintf(stderr, "  case: %s\n  got:\n%s  want:\n%s", c->name, ret ? err : text,
			want);
	}
	route_plan_free(&plan);
	fixture_deinit(&f);
}

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* The typed fields behind a few of the text lines. */
/* The exit state: one verdict per reason, and the plan routes through the
 * exit (a default in its engine allowed IPs) exactly when it is in use. */
struct exit_case {
	const char *name;
	const char *want_peer; /* use_exit_node.peer */
	const char *allowed;   /* home's allowed IPs beyond its mesh address */
	bool joined, approved, pending, offline;
	enum plan_exit_state state;
	enum plan_exit_reason reason;
	const char *text;
};

static const struct exit_case exit_cases[] = {
	{ "in use", "home", "0.0.0.0/0", true, true, false, false, PLAN_EXIT_IN_USE, PLAN_EXIT_OK,
	  "" },
	{ "no netmap yet", "other", NULL, false, false, false, false, PLAN_EXIT_BLOCKED,
	  PLAN_EXIT_NO_NETMAP,
	  "internet traffic is blocked: exit node 'other' is not known yet (this node has no "
	  "netmap: not joined, or its coordinator not reached since start)" },
	{ "unknown", "other", NULL, true, false, false, false, PLAN_EXIT_BLOCKED, PLAN_EXIT_UNKNOWN,
	  "internet traffic is blocked: exit node 'other' is not in the mesh (no node has that "
	  "name or mesh address)" },
	{ "no exit offered", "home", NULL, true, false, false, false, PLAN_EXIT_BLOCKED,
	  PLAN_EXIT_NOT_OFFERED,
	  "internet traffic is blocked: 'home' offers no exit node (exit_node.enabled is not set "
	  "there)" },
	{ "pending approval", "home", NULL, true, false, true, false, PLAN_EXIT_BLOCKED,
	  PLAN_EXIT_PENDING,
	  "internet traffic is blocked: exit node 'home' is not approved (on the coordinator: "
	  "meshgate routes approve home 0.0.0.0/0 ::/0)" },
	{ "approved, offline", "home", NULL, true, true, false, true, PLAN_EXIT_BLOCKED,
	  PLAN_EXIT_OFFLINE,
	  "internet traffic is blocked: exit node 'home' is offline (last handshake 11:57:00 UTC, "
	  "3 min ago)" },
};

static bool engine_has_default(const struct route_plan *plan, size_t peer)
{
	for (size_t i = 0; peer < plan->n_peers && i < plan->engine_allowed_ips[peer].n; i++)
		if (plan->engine_allowed_ips[peer].v[i].len == 0)
			return true;
	return false;
}

static void test_exit_state(void)
{
	static const struct host_facts mesh = HOST_MESH_LAPTOP;
	char conf[1024], err[512], text[512];

	for (size_t i = 0; i < sizeof(exit_cases) / sizeof(exit_cases[0]); i++) {
		const struct exit_case *c = &exit_cases[i];
		struct route_plan plan;
		struct fixture f;

		snprintf(conf, sizeof(conf),
			 NODE
			 "use_exit_node = { peer = \"%s\"; };\n" PEERS(PEER("home", KEY_C, "%s")),
			 c->want_peer,
			 c->allowed ? "\"100.64.0.4/32\", \"0.0.0.0/0\", \"::/0\""
				    : "\"100.64.0.4/32\"");
		if (!CHECK(fixture_init(&f, conf, &mesh))) {
			fixture_deinit(&f);
			continue;
		}
		f.host.mesh_joined = c->joined;
		f.peers[0].exit_approved = c->approved;
		f.peers[0].exit_pending = c->pending;
		f.peers[0].offline = c->offline;
		CHECK_EQ_INT(compute(&f, &plan, err, sizeof(err)), 0);
		if (!CHECK_EQ_INT(plan.exit_state, c->state) ||
		    !CHECK_EQ_INT(plan.exit_reason, c->reason))
			fprintf(stderr, "  case: %s\n", c->name);
		/* Routing follows the verdict: the default only while in use. */
		CHECK(engine_has_default(&plan, 0) == (c->state == PLAN_EXIT_IN_USE));
		CHECK(plan.exit_wanted);
		route_plan_exit_text(text, sizeof(text), c->want_peer, plan.exit_reason,
				     1795300000 - 180 - 1795300000 % 86400 + 43200,
				     1795300000 - 1795300000 % 86400 + 43200);
		if (!CHECK(strcmp(text, c->text) == 0))
			fprintf(stderr, "  case: %s\n  got:  %s\n  want: %s\n", c->name, text,
				c->text);
		route_plan_free(&plan);
		fixture_deinit(&f);
	}
	CHECK(strcmp(route_plan_exit_state_name(PLAN_EXIT_OFF), "off") == 0);
	CHECK(strcmp(route_plan_exit_state_name(PLAN_EXIT_IN_USE), "in_use") == 0);
	CHECK(strcmp(route_plan_exit_state_name(PLAN_EXIT_BLOCKED), "blocked") == 0);
	route_plan_exit_text(text, sizeof(text), "home", PLAN_EXIT_OFFLINE, 0, 1795300000);
	CHECK(strcmp(text, "internet traffic is blocked: exit node 'home' is offline (no "
			   "handshake with it yet)") == 0);
}

/* Without use_exit_node the state is off. */
static void test_exit_off(void)
{
	static const struct host_facts mesh = HOST_MESH_LAPTOP;
	struct route_plan plan;
	struct fixture f;
	char err[512];

	if (CHECK(fixture_init(&f, NODE PEERS(PEER("home", KEY_C, "\"100.64.0.4/32\"")), &mesh))) {
		CHECK_EQ_INT(compute(&f, &plan, err, sizeof(err)), 0);
		CHECK_EQ_INT(plan.exit_state, PLAN_EXIT_OFF);
		CHECK(!plan.exit_wanted);
		route_plan_free(&plan);
	}
	fixture_deinit(&f);
}

static void test_fields(void)
{
	static const struct host_facts facts = HOST_LAPTOP;
	struct fixture f;
	struct route_plan plan;
	char err[256];

	if (!CHECK(fixture_init(&f, NODE "use_exit_node = { peer = \"home\"; };\n" PEERS(HOME),
				&facts))) {
		fixture_deinit(&f);
		return;
	}
	CHECK_EQ_INT(compute(&f, &plan, err, sizeof(err)), 0);
	CHECK_EQ_INT(plan.exit_peer, 0);
	CHECK(plan.n_routes == 4 && plan.routes[0].dst.family == AF_INET &&
	      plan.routes[0].dst.len == 0 && plan.routes[0].type == PLAN_ROUTE_TUN &&
	      plan.routes[0].metric == ROUTE_METRIC_TUN);
	CHECK(plan.routes[3].type == PLAN_ROUTE_UNREACHABLE &&
	      plan.routes[3].metric == ROUTE_METRIC_KILL_SWITCH &&
	      plan.routes[3].dst.family == AF_INET6);
	CHECK(plan.n_rules == 4 && plan.rules[0].priority == RULE_PRIORITY_LAN &&
	      plan.rules[0].table == 254 && plan.rules[0].suppress_prefixlen == 0 &&
	      plan.rules[0].fwmask == 0);
	CHECK(plan.rules[1].priority == RULE_PRIORITY_MESH && plan.rules[1].table == ROUTE_TABLE &&
	      plan.rules[1].invert && plan.rules[1].fwmark == FWMARK_BYPASS &&
	      plan.rules[1].fwmask == FWMARK_MASK && plan.rules[1].suppress_prefixlen == -1);
	CHECK(plan.rules[3].family == AF_INET6);
	CHECK(plan.n_sysctls == 1 &&
	      !strcmp(plan.sysctls[0].path, "net/ipv4/conf/all/src_valid_mark") &&
	      !strcmp(plan.sysctls[0].value, "1"));
	CHECK(plan.nft.present && plan.nft.connmark && !plan.nft.clamp_mss &&
	      !strcmp(plan.nft.tun, "meshgate0") && plan.nft.mtu == 1280);
	route_plan_free(&plan);
	CHECK(plan.n_routes == 0 && plan.routes == NULL && plan.exit_peer == -1);
	route_plan_free(&plan); /* zeroed: safe twice */
	route_plan_free(NULL);
	fixture_deinit(&f);
}

/* The resolver's addresses on the TUN are guarded as the node's own: in
 * nft self with the mesh addresses, nothing else changes. */
static void test_resolver_addrs(void)
{
	static const struct host_facts facts = HOST_LAPTOP;
	struct prefix resolver[2];
	struct fixture f;
	struct route_plan plan;
	char err[256], text[4096];

	if (!CHECK(fixture_init(&f, NODE PEERS(HOME), &facts))) {
		fixture_deinit(&f);
		return;
	}
	CHECK(prefix_parse(&resolver[0], "100.100.100.100/32") == 0);
	CHECK(prefix_parse(&resolver[1], "fd7a:6d67:7465::53/128") == 0);
	f.host.resolver_addrs = resolver;
	f.host.n_resolver_addrs = 2;
	CHECK_EQ_INT(compute(&f, &plan, err, sizeof(err)), 0);
	route_plan_format(&plan, text, sizeof(text));
	CHECK(test_has(text, "nft self 100.64.0.1/32 100.100.100.100/32 fd7a:6d67:7465::1/128 "
			     "fd7a:6d67:7465::53/128\n"));
	CHECK(test_lacks(text, "route tun 100.100.100.100"));
	route_plan_free(&plan);
	fixture_deinit(&f);
}

/* Same inputs, same plan; the config's order of subnet routes is not part
 * of the nftables table. */
static void test_nft_equal(void)
{
	static const struct host_facts facts = HOST_APPLIANCE;
	static const char *const confs[] = {
		NODE "subnet_router = { routes = [ \"192.168.1.0/24\", \"fd01::/64\" ]; };\n",
		NODE "subnet_router = { routes = [ \"fd01::/64\", \"192.168.1.0/24\" ]; };\n",
		NODE "subnet_router = { routes = [ \"fd01::/64\", \"192.168.1.0/24\" ]; snat = "
		     "false; };\n",
		NODE "subnet_router = { routes = [ \"192.168.1.0/24\" ]; };\n",
		NODE "exit_node = { enabled = true; };\n",
		NODE,
		NODE "accept_routes = false;\n",
	};
	enum { N = sizeof(confs) / sizeof(confs[0]) };
	struct route_plan plans[N];
	struct fixture f;
	char err[256];

	for (size_t i = 0; i < N; i++) {
		CHECK(fixture_init(&f, confs[i], &facts));
		CHECK_EQ_INT(compute(&f, &plans[i], err, sizeof(err)), 0);
		fixture_deinit(&f);
	}
	for (size_t i = 0; i < N; i++)
		CHECK(plan_nft_equal(&plans[i].nft, &plans[i].nft));
	CHECK(plan_nft_equal(&plans[0].nft, &plans[1].nft));
	CHECK(!plan_nft_equal(&plans[1].nft, &plans[2].nft)); /* snat */
	CHECK(!plan_nft_equal(&plans[0].nft, &plans[3].nft)); /* a route fewer */
	CHECK(!plan_nft_equal(&plans[3].nft, &plans[4].nft)); /* exit node */
	CHECK(!plan_nft_equal(&plans[4].nft, &plans[5].nft)); /* no table */
	CHECK(plan_nft_equal(&plans[5].nft, &plans[6].nft));  /* neither has one */
	for (size_t i = 0; i < N; i++)
		route_plan_free(&plans[i]);
}

/* Devices are part of the table: another device, or another one with the
 * exit, is another table. */
static void test_nft_equal_devices(void)
{
	static const struct host_facts facts = HOST_MESH_APPLIANCE(.exit_approved = true);
	static const struct device_facts sets[][MAX_DEVICES] = {
		{ PHONE },    { PHONE },
		{ TABLET },   { { "phone", { "100.64.0.7/32", "fd7a:6d67:7465::7/128" }, false } },
		{ { NULL } },
	};
	enum { N = sizeof(sets) / sizeof(sets[0]) };
	struct route_plan plans[N];
	struct fixture f;
	char err[256];

	for (size_t i = 0; i < N; i++) {
		CHECK(fixture_init(&f, NODE APPLIANCE_OFFER, &facts));
		add_devices(&f, sets[i]);
		CHECK_EQ_INT(compute(&f, &plans[i], err, sizeof(err)), 0);
		fixture_deinit(&f);
	}
	CHECK(plan_nft_equal(&plans[0].nft, &plans[1].nft));
	CHECK(!plan_nft_equal(&plans[1].nft, &plans[2].nft)); /* another device */
	CHECK(!plan_nft_equal(&plans[1].nft, &plans[3].nft)); /* the exit taken away */
	CHECK(!plan_nft_equal(&plans[3].nft, &plans[4].nft)); /* no device */
	for (size_t i = 0; i < N; i++)
		route_plan_free(&plans[i]);
}

/* ---- the access policy (plan_acl.c) ---- */

/* A policy entry as text: prefixes "P,P"; ports "22,23-25". */
struct acl_entry_facts {
	uint32_t rule;
	enum acl_hook hook;
	const char *src, *dst;
	uint8_t protocols;
	const char *ports;
};

struct acl_fixture {
	struct acl_filter filter;
	struct acl_entry entries[8];
	struct prefix prefixes[8][2][6];
	struct acl_port_range ports[8][6];
};

static size_t parse_csv_prefixes(const char *text, struct prefix *out, size_t max)
{
	char buf[512], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", text ? text : "");
	for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		CHECK(prefix_parse(&out[n++], t) == 0);
	return n;
}

static size_t parse_csv_ports(const char *text, struct acl_port_range *out, size_t max)
{
	size_t n = 0;

	for (const char *p = text; p && *p && n < max;) {
		unsigned lo = 0, hi = 0;
		int used = 0;

		if (sscanf(p, "%u-%u%n", &lo, &hi, &used) != 2 &&
		    sscanf(p, "%u%n", &lo, &used) == 1)
			hi = lo;
		out[n++] = (struct acl_port_range){ (uint16_t)lo, (uint16_t)hi };
		p += used;
		p += *p == ',';
	}
	return n;
}

static const struct acl_filter *acl_fixture_init(struct acl_fixture *a, bool deny,
						 const struct acl_entry_facts *facts, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->filter = (struct acl_filter){
		.present = true, .deny = deny, .revision = 7, .entries = a->entries, .n_entries = n
	};
	for (size_t i = 0; i < n && i < 8; i++) {
		struct acl_entry *e = &a->entries[i];

		*e = (struct acl_entry){ .rule = facts[i].rule,
					 .hook = facts[i].hook,
					 .protocols = facts[i].protocols,
					 .src = a->prefixes[i][0],
					 .dst = a->prefixes[i][1],
					 .ports = a->ports[i] };
		e->n_src = parse_csv_prefixes(facts[i].src, e->src, 6);
		e->n_dst = parse_csv_prefixes(facts[i].dst, e->dst, 6);
		e->n_ports = parse_csv_ports(facts[i].ports, e->ports, 6);
	}
	return &a->filter;
}

/* The appliance joined, serving its LAN and the exit, with policy f. */
static int policy_plan(const struct acl_filter *f, bool exit_approved, struct route_plan *plan,
		       char *text, size_t len)
{
	static const struct host_facts served =
	    HOST_MESH_APPLIANCE(.approved = { "192.168.1.0/24" }, .exit_approved = true);
	static const struct host_facts lan_only =
	    HOST_MESH_APPLIANCE(.approved = { "192.168.1.0/24" });
	struct fixture fx;
	char err[256];
	int ret = -EINVAL;

	memset(plan, 0, sizeof(*plan));
	if (fixture_init(&fx, NODE APPLIANCE_OFFER, exit_approved ? &served : &lan_only)) {
		fx.host.policy = f;
		ret = compute(&fx, plan, err, sizeof(err));
		route_plan_format(plan, text, len);
	}
	fixture_deinit(&fx);
	return ret;
}

static const struct acl_entry_facts policy_admins[] = {
	/* Not canonical on purpose: a /32 inside the /24, host bits, ports
	 * out of order, overlapping and adjacent. */
	{ 1, ACL_HOOK_FORWARD, "100.64.0.2/32,100.64.0.9/24,fd7a:6d67:7465::2/128",
	  "192.168.1.0/24", ACL_PROTO_TCP, "443,22,23-25,26" },
	{ 2, ACL_HOOK_EXIT, "0.0.0.0/0,::/0", NULL, 0, NULL },
	/* Ports mean nothing to ICMP alone. */
	{ 3, ACL_HOOK_INPUT, "100.64.0.0/24", "100.64.0.1/32", ACL_PROTO_ICMP, "80" },
	{ 4, ACL_HOOK_INPUT, "100.64.0.0/24", "100.64.0.1/32", ACL_PROTO_TCP | ACL_PROTO_UDP,
	  "53" },
};
enum { N_ADMINS = sizeof(policy_admins) / sizeof(policy_admins[0]) };

/* "deny": rule 0 first, then the filter's entries, canonical. */
static void test_policy_deny(void)
{
	struct acl_fixture a;
	struct route_plan plan;
	char text[8192];

	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a, true, policy_admins, N_ADMINS), true, &plan,
				 text, sizeof(text)),
		     0);
	CHECK(test_has(text,
		       "nft acl deny\n"
		       "nft acl rule 0 input from 0.0.0.0/0 ::/0 to 100.64.0.1/32 "
		       "fd7a:6d67:7465::1/128 proto tcp port 41642\n"
		       "nft acl rule 1 forward from 100.64.0.0/24 fd7a:6d67:7465::2/128 to "
		       "192.168.1.0/24 proto tcp port 22-26,443\n"
		       "nft acl rule 2 exit from 0.0.0.0/0 ::/0 proto *\n"
		       "nft acl rule 3 input from 100.64.0.0/24 to 100.64.0.1/32 proto icmp\n"
		       "nft acl rule 4 input from 100.64.0.0/24 to 100.64.0.1/32 proto tcp,udp "
		       "port 53\n"));
	CHECK(plan.nft.acl.deny && plan.nft.acl.n_entries == 5);
	CHECK(plan.nft.acl.entries[2].hook == ACL_HOOK_EXIT && plan.nft.acl.entries[2].dst.n == 0);
	route_plan_free(&plan);
}

/* A filter that carries rule 0 itself (the coordinator's, from its
 * members): taken as it is, no second one. */
static void test_policy_own_rule_0(void)
{
	static const struct acl_entry_facts own[] = {
		{ 0, ACL_HOOK_INPUT, "100.64.0.2/32,100.64.0.3/32", "100.64.0.1/32", ACL_PROTO_TCP,
		  "41642" },
		{ 1, ACL_HOOK_FORWARD, "100.64.0.2/32", "192.168.1.0/24", 0, NULL },
	};
	struct acl_fixture a;
	struct route_plan plan;
	char text[8192];

	CHECK_EQ_INT(
	    policy_plan(acl_fixture_init(&a, true, own, 2), true, &plan, text, sizeof(text)), 0);
	CHECK(test_has(text,
		       "nft acl deny\n"
		       "nft acl rule 0 input from 100.64.0.2/32 100.64.0.3/32 to "
		       "100.64.0.1/32 proto tcp port 41642\n"
		       "nft acl rule 1 forward from 100.64.0.2/32 to 192.168.1.0/24 proto *\n"));
	CHECK(test_lacks(text, "0.0.0.0/0"));
	CHECK(plan.nft.acl.n_entries == 2);
	route_plan_free(&plan);
}

/* The exit entries need a served exit. */
static void test_policy_no_exit(void)
{
	struct acl_fixture a;
	struct route_plan plan;
	char text[8192];

	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a, true, policy_admins, N_ADMINS), false, &plan,
				 text, sizeof(text)),
		     0);
	CHECK(test_has(text, "nft acl rule 1 forward"));
	CHECK(test_lacks(text, "nft acl rule 2"));
	CHECK(test_has(text, "nft acl rule 3 input"));
	route_plan_free(&plan);
}

/* "allow", a policy an older coordinator did not send, or none: the
 * table of a node without policies. */
static void test_policy_allow(void)
{
	struct route_plan none, allow, absent;
	struct acl_fixture a, b;
	char text[8192];

	CHECK_EQ_INT(policy_plan(NULL, true, &none, text, sizeof(text)), 0);
	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a, false, policy_admins, N_ADMINS), true, &allow,
				 text, sizeof(text)),
		     0);
	CHECK(test_lacks(text, "acl"));
	acl_fixture_init(&b, true, policy_admins, N_ADMINS);
	b.filter.present = false;
	CHECK_EQ_INT(policy_plan(&b.filter, true, &absent, text, sizeof(text)), 0);
	CHECK(test_lacks(text, "acl"));
	CHECK(!allow.nft.acl.deny && allow.nft.acl.n_entries == 0);
	CHECK(plan_nft_equal(&none.nft, &allow.nft));
	CHECK(plan_nft_equal(&none.nft, &absent.nft));
	route_plan_free(&none);
	route_plan_free(&allow);
	route_plan_free(&absent);
}

/* A policy change re-renders the table, an unchanged one (another
 * revision, the same facts in another order) does not; the router's copy
 * of the applied table compares equal. */
static void test_policy_equal(void)
{
	static const struct acl_entry_facts reordered[] = {
		{ 1, ACL_HOOK_FORWARD, "fd7a:6d67:7465::2/128,100.64.0.0/24", "192.168.1.0/24",
		  ACL_PROTO_TCP, "22-26,443" },
		policy_admins[1],
		policy_admins[2],
		policy_admins[3],
	};
	static const struct acl_entry_facts other_port[] = {
		{ 1, ACL_HOOK_FORWARD, "100.64.0.0/24,fd7a:6d67:7465::2/128", "192.168.1.0/24",
		  ACL_PROTO_TCP, "22-26,444" },
		policy_admins[1],
		policy_admins[2],
		policy_admins[3],
	};
	struct route_plan p[5];
	struct plan_nft copy = { 0 };
	struct acl_fixture a[5];
	char text[8192];

	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a[0], true, policy_admins, N_ADMINS), true,
				 &p[0], text, sizeof(text)),
		     0);
	acl_fixture_init(&a[1], true, reordered, N_ADMINS);
	a[1].filter.revision = 8;
	CHECK_EQ_INT(policy_plan(&a[1].filter, true, &p[1], text, sizeof(text)), 0);
	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a[2], true, other_port, N_ADMINS), true, &p[2],
				 text, sizeof(text)),
		     0);
	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a[3], true, policy_admins, N_ADMINS - 1), true,
				 &p[3], text, sizeof(text)),
		     0);
	CHECK_EQ_INT(policy_plan(acl_fixture_init(&a[4], true, policy_admins, 0), true, &p[4], text,
				 sizeof(text)),
		     0);
	CHECK(plan_nft_equal(&p[0].nft, &p[1].nft));
	CHECK(!plan_nft_equal(&p[0].nft, &p[2].nft)); /* a port */
	CHECK(!plan_nft_equal(&p[0].nft, &p[3].nft)); /* an entry fewer */
	CHECK(!plan_nft_equal(&p[3].nft, &p[4].nft)); /* deny, nothing but rule 0 */
	CHECK(p[4].nft.acl.deny && p[4].nft.acl.n_entries == 1);
	CHECK_EQ_INT(plan_nft_copy(&copy, &p[0].nft), 0);
	CHECK(plan_nft_equal(&copy, &p[0].nft));
	CHECK(copy.acl.entries != p[0].nft.acl.entries);
	CHECK_EQ_INT(plan_nft_copy(&copy, &p[2].nft), 0); /* over an old copy */
	CHECK(plan_nft_equal(&copy, &p[2].nft));
	plan_nft_free(&copy);
	for (size_t i = 0; i < 5; i++)
		route_plan_free(&p[i]);
}

static void test_private_ranges(void)
{
	struct prefix p[32], probe;
	size_t n = 0;

	for (; exit_server_private_ranges[n]; n++) {
		if (!CHECK(n < 32) ||
		    !CHECK(prefix_parse(&p[n], exit_server_private_ranges[n]) == 0))
			return;
		CHECK(prefix_is_network(&p[n]));
	}
	/* No entry overlaps another: the list is usable as an interval set. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			CHECK(!prefix_overlaps(&p[i], &p[j]));
	/* The mesh's own CGNAT range is guarded; documentation ranges are not. */
	CHECK(prefix_parse(&probe, "100.64.0.0/10") == 0 && prefix_contains(&p[2], &probe));
	for (size_t i = 0; i < n; i++) {
		CHECK(prefix_parse(&probe, "203.0.113.1") == 0 && !prefix_contains(&p[i], &probe));
		CHECK(prefix_parse(&probe, "2001:db8::1") == 0 && !prefix_contains(&p[i], &probe));
	}
}

/* The text form behaves as snprintf() does. */
static void test_format(void)
{
	static const struct host_facts facts = HOST_LAPTOP;
	struct fixture f;
	struct route_plan plan;
	char err[256], full[1024], small[16];
	size_t len;

	CHECK(fixture_init(&f, NODE PEERS(OFFICE), &facts));
	CHECK_EQ_INT(compute(&f, &plan, err, sizeof(err)), 0);
	len = route_plan_format(&plan, full, sizeof(full));
	CHECK_EQ_INT(len, strlen(full));
	CHECK_EQ_INT(route_plan_format(&plan, small, sizeof(small)), len);
	CHECK(strlen(small) == sizeof(small) - 1 && !strncmp(small, full, sizeof(small) - 1));
	CHECK_EQ_INT(route_plan_format(&plan, NULL, 0), len);
	route_plan_free(&plan);
	fixture_deinit(&f);
}

int main(void)
{
	RUN(test_cases);
	RUN(test_fields);
	RUN(test_exit_state);
	RUN(test_exit_off);
	RUN(test_resolver_addrs);
	RUN(test_nft_equal);
	RUN(test_nft_equal_devices);
	RUN(test_private_ranges);
	RUN(test_policy_deny);
	RUN(test_policy_own_rule_0);
	RUN(test_policy_no_exit);
	RUN(test_policy_allow);
	RUN(test_policy_equal);
	RUN(test_format);
	return test_summary();
}
