/*
 * A node's share of the access policy (acl/acl.h): the entries it enforces
 * on what arrives from the mesh, compiled by the coordinator for that node
 * (acl_compile()) and carried in the node's signed netmap as "policy". The
 * router turns a filter into nftables rules in the node's owned table
 * (router/plan.c, router/nft_render.c); nothing else of the policy reaches
 * a node.
 *
 * Where traffic is enforced: at the node where it leaves the mesh, once.
 *   ACL_HOOK_INPUT    to this node itself: its mesh addresses and the
 *                     resolver addresses it holds (arriving on the TUN)
 *   ACL_HOOK_FORWARD  through this node: to the routes it serves (LAN) and
 *                     to the devices it hubs (TUN -> TUN)
 *   ACL_HOOK_EXIT     through this node's exit to the internet (TUN -> WAN);
 *                     dst is empty (what the exit may reach is the exit's
 *                     own guard, exitnode/exit_server.c)
 *
 * Semantics: with deny false (default "allow") everything passes and the
 * entries are empty. With deny true, a new connection arriving from the
 * mesh at one of the hooks passes when an entry of that hook matches it
 * (source in src, destination in dst, protocol and port), else it is
 * dropped and counted. Replies (conntrack established/related) always
 * pass, and so does what the mesh itself needs whatever the policy says
 * (the coordinator's control port), which the renderer adds on its own.
 *
 * JSON form (the netmap's "policy" member, absent from an older
 * coordinator and meaning "allow"):
 *   {"default": "deny", "revision": 4,
 *    "entries": [{"rule": 2, "hook": "forward",
 *                 "src": ["100.64.0.3/32", "fd7a:6d67:7465::3/128"],
 *                 "dst": ["192.168.77.0/24"],
 *                 "protocols": ["tcp"], "ports": ["22", "443", "8000-8080"]}]}
 * "protocols" absent or empty: every protocol (then "ports" must be absent
 * or empty); "ports" absent or empty: every port. Prefixes are networks (no
 * host bits); "src" ["0.0.0.0/0", "::/0"] is any source.
 */
#ifndef MESHGATE_ACL_FILTER_H
#define MESHGATE_ACL_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum acl_hook {
	ACL_HOOK_INPUT,
	ACL_HOOK_FORWARD,
	ACL_HOOK_EXIT,
};

/* Protocol bits; 0 in acl_entry.protocols: every protocol. ICMP covers
 * ICMP and ICMPv6. */
enum {
	ACL_PROTO_TCP = 1u << 0,
	ACL_PROTO_UDP = 1u << 1,
	ACL_PROTO_ICMP = 1u << 2,
};

/* Bounds acl_filter_from_json() enforces. */
enum {
	ACL_MAX_ENTRIES = 4096,
	ACL_MAX_PREFIXES = 4096, /* per entry and side */
	ACL_MAX_PORT_RANGES = 64,
};

struct acl_port_range {
	uint16_t lo, hi; /* lo <= hi, both >= 1 */
};

struct acl_entry {
	uint32_t rule; /* 1-based number of the policy rule it comes from */
	enum acl_hook hook;
	struct prefix *src;
	size_t n_src;
	struct prefix *dst; /* empty for ACL_HOOK_EXIT */
	size_t n_dst;
	uint8_t protocols; /* ACL_PROTO_* bits, 0: every protocol */
	struct acl_port_range *ports;
	size_t n_ports; /* 0: every port */
};

struct acl_filter {
	bool present;      /* false: no policy (an older coordinator): allow */
	bool deny;         /* default "deny": only the entries pass */
	uint32_t revision; /* the coordinator's policy revision, for status */
	struct acl_entry *entries;
	size_t n_entries;
};

/* The filter's JSON form (above) and back: from_json validates every
 * member and bound and returns -EINVAL with a message, leaving out empty. */
json_t *acl_filter_to_json(const struct acl_filter *f);
int acl_filter_from_json(const json_t *doc, struct acl_filter *out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
void acl_filter_free(struct acl_filter *f);

#endif
