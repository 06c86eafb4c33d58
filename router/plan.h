/*
 * The route plan: what the kernel should hold for this node, computed by a
 * pure function from the configuration, the peers and a few facts about the
 * host. router/ reconciles the kernel to it (routes and rules through
 * rtnetlink, the nftables table through one batch, sysctls), and the node
 * gives the engine the allowed IPs the plan says.
 *
 * Kernel objects are tagged so that what is ours can always be found again:
 *
 *   routes     table ROUTE_TABLE, protocol ROUTE_PROTOCOL
 *   rules      priorities RULE_PRIORITY_FIRST .. RULE_PRIORITY_LAST
 *   nftables   table "inet meshgate", owned by the daemon's netlink socket
 *   packets    the daemon's UDP socket marks its datagrams FWMARK_BYPASS
 *              (within FWMARK_MASK), so they never take the mesh routes
 *
 * The policy rules, for each family, when the table has any route:
 *
 *   5300  lookup main suppress_prefixlength 0    the host's own specific
 *         routes (its LANs) win over the mesh; left out when an exit node
 *         is in use without allow_lan_access
 *   5310  not fwmark BYPASS/MASK lookup ROUTE_TABLE
 *
 * An exit-node client gets default routes through the TUN in ROUTE_TABLE,
 * plus unreachable defaults with the highest metric: if the daemon dies the
 * TUN routes vanish but the unreachable ones stay, so traffic is refused
 * instead of leaking out of the uplink (until `meshgated --cleanup`).
 *
 * The plan is computed in router/plan.c; its exit-node parts, client and
 * server side, are in exitnode/.
 */
#ifndef MESHGATE_ROUTER_PLAN_H
#define MESHGATE_ROUTER_PLAN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct mg_config;

enum {
	ROUTE_TABLE = 41641,
	ROUTE_PROTOCOL = 77, /* unassigned in iproute2's rt_protos */
	RULE_PRIORITY_FIRST = 5300,
	RULE_PRIORITY_LAN = 5300,
	RULE_PRIORITY_MESH = 5310,
	RULE_PRIORITY_LAST = 5399,
	ROUTE_METRIC_TUN = 0,
	ROUTE_METRIC_KILL_SWITCH = 0x7fffffff,
};

#define FWMARK_MASK      0x00ff0000u
#define FWMARK_BYPASS    0x004d0000u /* the daemon's own datagrams */
#define FWMARK_MESH_SNAT 0x004e0000u /* forwarded from the mesh; masquerade */

/* A node the plan routes to: a static peer today, a netmap node later. */
struct plan_peer {
	const char *name;
	const struct prefix *allowed_ips; /* everything the peer may send from */
	size_t n_allowed_ips;
	/* A peer from the mesh's netmap: its exit offer comes and goes (an
	 * approval withdrawn, the node offline), so as use_exit_node.peer
	 * without one it drops internet traffic instead of failing the plan. */
	bool mesh;
};

/* Facts about the host the plan depends on, gathered by the caller. */
struct plan_host {
	const char *tun_name;
	uint32_t mtu;
	char wan_ifname[IFNAMSIZ]; /* the default route's interface, "" if none */
	/* Prefixes directly connected on the host's other links (its LANs). */
	const struct prefix *connected;
	size_t n_connected;
	/* The host's own addresses on other links (host prefixes). */
	const struct prefix *local_addrs;
	size_t n_local_addrs;
	/* The node belongs to a mesh (coordinator, joined or joining): its
	 * netmap peers come and go, so a use_exit_node.peer that is not among
	 * them yet (no netmap before the first, a node removed or renamed)
	 * drops internet traffic instead of failing the plan. */
	bool mesh_member;
	/* On a mesh member, what the coordinator approved of this node's
	 * offer: the plan serves the subnet_router.routes listed here and
	 * the exit node only with exit_approved (config and approval both).
	 * Unused without mesh_member: a static node's config is the
	 * authority. */
	const struct prefix *approved_routes;
	size_t n_approved_routes;
	bool exit_approved;
};

/* What the plan wants configured; the config keys behind each are in
 * DESIGN.md. Prefix lists in here are owned by the plan. */
struct plan_prefixes {
	struct prefix *v;
	size_t n;
};

enum plan_route_type { PLAN_ROUTE_TUN, PLAN_ROUTE_UNREACHABLE };

struct plan_route {
	struct prefix dst;
	enum plan_route_type type;
	uint32_t metric;
};

struct plan_rule {
	int family;
	uint32_t priority;
	uint32_t table;
	uint32_t fwmark, fwmask; /* fwmask 0: no mark selector */
	bool invert;             /* "not fwmark ..." */
	int suppress_prefixlen;  /* -1: none */
};

/* A sysctl under /proc/sys/, e.g. "net/ipv4/ip_forward". */
struct plan_sysctl {
	const char *path;
	const char *value;
};

/* Content of the nftables table, as facts the renderer turns into rules. */
struct plan_nft {
	bool present; /* false: no table at all (a computed plan always has one) */
	char tun[IFNAMSIZ];
	uint32_t mtu;
	/* The node's own mesh addresses (host prefixes): delivered only when
	 * they arrive through the TUN or loopback. */
	struct plan_prefixes self;
	/* Subnet router: forward mesh <-> these prefixes (served: configured,
	 * and approved on a mesh member), masquerade if snat. With snat only
	 * replies enter the mesh from them; without it, new connections too. */
	struct plan_prefixes lan_routes;
	bool snat;
	/* Exit node: forward mesh -> wan, masquerade; refuse private ranges,
	 * link-local and the host's own LANs and addresses, except the
	 * prefixes in lan_routes, unless allow_private. */
	bool exit_node;
	char wan[IFNAMSIZ];
	bool allow_private;
	struct plan_prefixes guarded; /* what exit traffic may not reach */
	/* Exit-node client: restore the bypass mark on replies (ct mark) so
	 * strict rp_filter accepts the daemon's own traffic. */
	bool connmark;
	/* Clamp TCP MSS to the route MTU on forwarded SYNs through the TUN. */
	bool clamp_mss;
};

struct route_plan {
	struct plan_route *routes; /* all in ROUTE_TABLE */
	size_t n_routes;
	struct plan_rule *rules;
	size_t n_rules;
	struct plan_sysctl *sysctls;
	size_t n_sysctls;
	struct plan_nft nft;
	/* Per peer (same order as the input): the allowed IPs the engine
	 * should hold; default routes only for the exit node in use. */
	struct plan_prefixes *engine_allowed_ips;
	size_t n_peers;
	/* The exit node in use (index into the peers), or -1. */
	long exit_peer;
	/* use_exit_node is set: default routes into the TUN and the kill
	 * switch, even while no peer (exit_peer -1) carries the exit. */
	bool exit_wanted;
	/* Human-readable notes on what was left out and why (a route that
	 * conflicts with a local one, an exit peer that is not exit-capable). */
	char **warnings;
	size_t n_warnings;
};

/*
 * Computes the plan. Pure: no system calls, no global state. Returns 0,
 * -ENOMEM, or -EINVAL with errbuf saying why the configuration cannot be
 * served on this host (e.g. exit_node.enabled without any WAN interface).
 * Free out with route_plan_free() in every case.
 */
int route_plan_compute(const struct mg_config *cfg, const struct plan_peer *peers, size_t n_peers,
		       const struct plan_host *host, struct route_plan *out, char *errbuf,
		       size_t errlen) __attribute__((warn_unused_result));

void route_plan_free(struct route_plan *plan);

/*
 * Writes the plan as text, one object per line ("route tun 192.168.77.0/24
 * metric 0", "rule ipv4 5310 not fwmark 0x4d0000/0xff0000 lookup 41641",
 * "sysctl ...", "nft ...", "peer N [exit] PREFIX...", "warning ..."), for
 * logs and tests. Returns the length of the whole text, as snprintf() does;
 * buf is always terminated when len > 0.
 */
size_t route_plan_format(const struct route_plan *plan, char *buf, size_t len);

/* True if the two plans want the same nftables table (prefix lists of a
 * computed plan are sorted, so they compare element by element). */
bool plan_nft_equal(const struct plan_nft *a, const struct plan_nft *b);

/* Private and special-purpose ranges exit traffic may not reach by default
 * (RFC 1918, RFC 6598, loopback, link-local, ULA, multicast, ...); NULL
 * ends the list. Defined, with what is in and out and why, in
 * exitnode/server.c. */
extern const char *const plan_private_ranges[];

#endif
