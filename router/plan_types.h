/*
 * The route plan's data: what the kernel should hold for this node (routes,
 * rules, sysctls, the nftables facts, the engine's allowed IPs) and the
 * facts it is computed from (peers, host), with the kernel tags that mark
 * what is ours. No functions (plan.h computes, frees and prints a plan), so
 * the planner helpers, the exit-node parts and the kernel plumbing (route,
 * nft, sysctl) depend on the plan's data, not on its computation.
 *
 * Kernel objects are tagged so that what is ours can always be found again:
 *
 *   routes     table ROUTE_TABLE, protocol ROUTE_PROTOCOL
 *   rules      priorities RULE_PRIORITY_FIRST .. RULE_PRIORITY_LAST
 *   nftables   table "inet meshgate", owned by the daemon's netlink socket
 *   packets    the daemon's UDP socket marks its datagrams FWMARK_BYPASS
 *              (within FWMARK_MASK), so they never take the mesh routes
 */
#ifndef MESHGATE_ROUTER_PLAN_TYPES_H
#define MESHGATE_ROUTER_PLAN_TYPES_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/filter.h"
#include "netaddr.h"

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
	/* A stock WireGuard device attached to this node (its hub): its
	 * allowed IPs are its addresses, which the node forwards for
	 * (plan_nft.devices); device_exit: it may use this node's exit. */
	bool device;
	bool device_exit;
	/* A mesh peer's exit offer as the netmap says (the exit state's reason
	 * when its allowed IPs have no default): approved, or waiting for the
	 * coordinator's approval; offline as the coordinator sees it. */
	bool exit_approved;
	bool exit_pending;
	bool offline;
};

/* Whether internet traffic goes through the exit node use_exit_node names.
 * Blocked: default routes into the TUN and the kill switch, and no peer
 * carries them, so the engine drops it (never sent outside the mesh). */
enum plan_exit_state {
	PLAN_EXIT_OFF,     /* use_exit_node unset */
	PLAN_EXIT_IN_USE,  /* the peer's allowed IPs carry a default */
	PLAN_EXIT_BLOCKED, /* why: enum plan_exit_reason */
};

enum plan_exit_reason {
	PLAN_EXIT_OK,
	PLAN_EXIT_NO_NETMAP,   /* a mesh member without a netmap yet */
	PLAN_EXIT_UNKNOWN,     /* no peer by that name or mesh address */
	PLAN_EXIT_NOT_OFFERED, /* the peer offers no exit */
	PLAN_EXIT_PENDING,     /* offered, not approved by the coordinator */
	PLAN_EXIT_OFFLINE,     /* approved, the node offline */
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
	/* A netmap is in use (its peers are the mesh's); false on a member
	 * that has not joined yet or not heard from its coordinator. */
	bool mesh_joined;
	/* On a mesh member, what the coordinator approved of this node's
	 * offer: the plan serves the subnet_router.routes listed here and
	 * the exit node only with exit_approved (config and approval both).
	 * Unused without mesh_member: a static node's config is the
	 * authority. */
	const struct prefix *approved_routes;
	size_t n_approved_routes;
	bool exit_approved;
	/* The mesh resolver's addresses the node holds on the TUN (host
	 * prefixes); guarded as the node's own (nft self). */
	const struct prefix *resolver_addrs;
	size_t n_resolver_addrs;
	/* The access policy's share this node enforces (acl/filter.h), from
	 * its netmap; NULL or !present: none, everything passes. */
	const struct acl_filter *policy;
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

/* A sysctl under /proc/sys/, e.g. "net/ipv4/ip_forward". With unless set
 * it is conditional: left alone while it holds unless (the admin's choice)
 * or does not exist (its interface is not there). */
struct plan_sysctl {
	char path[64];
	const char *value;
	const char *unless;
};

/* One entry of the access policy the table enforces (acl/filter.h's
 * acl_entry, as the plan's own copy). src and dst are canonical; dst is
 * empty for ACL_HOOK_EXIT. protocols 0: every protocol, and no ports.
 * ports sorted and merged (disjoint, not adjacent); none: every port. */
struct plan_acl_entry {
	uint32_t rule; /* the policy rule; 0: what the mesh itself needs */
	enum acl_hook hook;
	struct plan_prefixes src, dst;
	uint8_t protocols;
	struct acl_port_range *ports;
	size_t n_ports;
};

/* The access policy's share of the table: with deny, what arrives from the
 * TUN passes the policy chains first (router/nft_render.h). Without deny
 * there are no entries and no policy chains. */
struct plan_acl {
	bool deny;
	struct plan_acl_entry *entries;
	size_t n_entries;
};

/* Content of the nftables table, as facts the renderer turns into rules. */
struct plan_nft {
	bool present; /* false: no table at all (a computed plan always has one) */
	char tun[IFNAMSIZ];
	uint32_t mtu;
	/* The node's own mesh addresses and the resolver's (host prefixes):
	 * delivered only when they arrive through the TUN or loopback. */
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
	/* Attached devices' addresses (host prefixes): forwarded TUN -> TUN
	 * between them and mesh_routes (never between two mesh nodes), and
	 * to the served LANs. devices_exit: those that may use the exit,
	 * filled only when exit_node; other device traffic to the WAN is
	 * dropped. mesh_routes, only with devices: the mesh networks and the
	 * prefixes routed into the TUN, defaults never (a device does not
	 * reach the internet through this node's own exit node). */
	struct plan_prefixes devices;
	struct plan_prefixes devices_exit;
	struct plan_prefixes mesh_routes;
	/* Exit-node client: restore the bypass mark on replies (ct mark) so
	 * strict rp_filter accepts the daemon's own traffic. */
	bool connmark;
	/* Clamp TCP MSS to the route MTU on forwarded SYNs through the TUN. */
	bool clamp_mss;
	/* The access policy (host->policy with default "deny"). */
	struct plan_acl acl;
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
	/* What exit_client_verdict() found: traffic flows through exit_peer
	 * exactly when exit_state is PLAN_EXIT_IN_USE; status reports these. */
	enum plan_exit_state exit_state;
	enum plan_exit_reason exit_reason;
	/* Human-readable notes on what was left out and why (a route that
	 * conflicts with a local one, an exit peer that is not exit-capable). */
	char **warnings;
	size_t n_warnings;
};

#endif
