/*
 * Preflight: is this host fit to run the node? Each check is a pure function
 * of facts gathered beforehand, so the verdicts and their fixes are
 * unit-tested without a host. A check whose answer cannot be known yet says
 * "unknown" rather than guess.
 *
 * On a running node the facts come in two parts: what only the system knows
 * (preflight_gather_system(): /proc, /sys, a netlink socket, /dev/net/tun),
 * gathered when the node applies a change and on a slow timer, never per
 * request; and what the node knows of itself (struct preflight_node), which
 * the node pushes in (preflight_set_node()) each time it publishes its
 * status. Preflight never calls into the node or its mesh role. Before a
 * node exists, preflight_gather_host() gathers everything from the config.
 *
 *   tun         /dev/net/tun present and the TUN device open (without the
 *               daemon: that /dev/net/tun opens)
 *   forwarding  the route plan's sysctls hold the values it needs (without
 *               the daemon, which sets them when it starts: that it can)
 *   rp_filter   reverse-path filtering lets mesh traffic in
 *   nftables    the owned table is in place when the plan needs one
 *               (without the daemon, which makes it: that nf_tables answers)
 *   mtu         TUN MTU fits the uplink; TCP MSS clamped when forwarding
 *               (without the daemon: that it can be)
 *   udp_port    the UDP port is bound (without the daemon: not known) and,
 *               in a mesh, reachable: a client's
 *               from the coordinator's probe (mesh/portprobe.h), the
 *               coordinator's from the nodes whose traffic reaches it
 *   clock       the wall clock is plausible (handshake timestamps need it)
 */
#ifndef MESHGATE_PREFLIGHT_H
#define MESHGATE_PREFLIGHT_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mg_config;
struct plan_sysctl;

enum { PREFLIGHT_CHECKS = 7, PREFLIGHT_MAX_SYSCTLS = 8 };

enum preflight_state { PREFLIGHT_FAIL, PREFLIGHT_OK, PREFLIGHT_UNKNOWN };

enum preflight_role { PREFLIGHT_STATIC, PREFLIGHT_MESH_CLIENT, PREFLIGHT_COORDINATOR };

struct preflight_sysctl {
	char path[96]; /* under /proc/sys, "net/ipv4/ip_forward" */
	char want[16];
	char have[16];
	int err;       /* reading it: 0 or -errno */
	bool settable; /* it may be written (a read-only /proc/sys: no) */
};

struct preflight_facts {
	/* Gathered for a running node (preflight_gather_system), or from the host
	 * alone (preflight_gather_host): then there is no TUN device, no bound
	 * port, and the node has not set its sysctls yet. */
	bool daemon_running;
	char tun_name[IFNAMSIZ];
	int dev_tun;   /* 0: /dev/net/tun is the TUN character device; else -errno */
	bool tun_open; /* the node holds its TUN device (host: /dev/net/tun opens) */
	int tun_err;   /* why opening it failed (0: not tried) */

	struct preflight_sysctl sysctls[PREFLIGHT_MAX_SYSCTLS];
	size_t n_sysctls;

	bool forwards;           /* subnet router, exit node or exit-node client */
	bool peer_routes_unused; /* peers serve routes the node does not install */
	int rp_filter_all;       /* net.ipv4.conf.all.rp_filter, -1 unknown */
	int rp_filter_tun;       /* the TUN's own, -1 unknown */

	bool nft_needed;  /* the plan has a table */
	bool nft_present; /* the table is in the kernel */
	bool nft_netlink; /* nf_tables answers on netlink */

	unsigned tun_mtu;
	char uplink[IFNAMSIZ]; /* default route's interface, "" none */
	unsigned uplink_mtu;   /* 0 unknown */
	bool mss_clamp;        /* the table clamps TCP MSS */

	enum preflight_role role;
	uint16_t port;      /* bound UDP port, 0 none */
	int port_reachable; /* 1 yes, 0 no, -1 not known */
	/* A mesh client: its public endpoint as the coordinator observes it
	 * ("ip:port", "" not known). The coordinator: how many nodes reach
	 * its port from outside the host. */
	char port_seen_as[64];
	unsigned port_reached_by;

	time_t now;
};

struct preflight_result {
	const char *check;
	enum preflight_state state;
	char message[256];
	char fix[512]; /* "" when ok */
};

/* The verdicts, in the order above. Pure. */
void preflight_evaluate(const struct preflight_facts *f,
			struct preflight_result out[PREFLIGHT_CHECKS]);

/*
 * Without the daemon (f->daemon_running false): what the verdicts above
 * could not look at, one "what: not checked, the daemon is not running
 * (...)" line each, every line ending in a newline; "" with the daemon.
 * Returns the length, as snprintf() does. Pure.
 */
size_t preflight_not_checked(const struct preflight_facts *f, char *buf, size_t len);

/* What a running node knows of itself: its TUN, its plan's table, its UDP
 * port and, from its mesh role, whether the port is reached. */
struct preflight_node {
	bool tun_open;
	bool peer_routes_unused;
	bool nft_needed;
	bool nft_present;
	bool mss_clamp;
	enum preflight_role role;
	uint16_t port;
	int port_reachable;    /* 1 yes, 0 no, -1 not known */
	char port_seen_as[64]; /* a mesh client's endpoint as the coordinator sees it */
	unsigned port_reached_by;
};

/* The system's facts for a running node: the TUN's name, the sysctls its
 * route plan needs, rp_filter, nf_tables, the uplink, the clock. The node's
 * own facts are left for preflight_set_node(). */
void preflight_gather_system(const struct mg_config *cfg, const char *tun_name,
			     const struct plan_sysctl *sysctls, size_t n,
			     struct preflight_facts *f);

/* Overwrites the node's own facts in f; no system access. */
void preflight_set_node(struct preflight_facts *f, const struct preflight_node *n);

/* How many times preflight_gather_system() ran (its cost is what the status
 * snapshot keeps off the request path; tests count it). */
extern unsigned long preflight_system_runs;

/* Facts about the host for cfg, before (or instead of) starting a node. */
void preflight_gather_host(const struct mg_config *cfg, struct preflight_facts *f);

/* [{check, ok: true|false|null, message, fix}]; a new reference or NULL. */
json_t *preflight_json(const struct preflight_result *r, size_t n);

/* The fix for a TUN device that cannot be opened with -err (-ENODEV: it is
 * missing; -EACCES, -EPERM: it may not be opened), for the check and for
 * the daemon's start-up error alike. Static storage. */
const char *preflight_tun_fix(int err);

#endif
