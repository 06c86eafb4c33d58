/*
 * The access policy: who in the mesh may reach what. Held by the
 * coordinator (its config's "policy" section, reloaded on SIGHUP), compiled
 * per node into the filter that node enforces (acl/filter.h), explained on
 * demand (`meshgate policy check`).
 *
 *   policy = {
 *     default = "deny";              # "allow" (the default): no filtering
 *     groups = ( { name = "admins"; members = ["laptop", "phone"]; } );
 *     rules = (
 *       { from = ["group:admins"]; to = ["192.168.77.0/24:22,443", "home:*"]; },
 *       { from = ["*"];            to = ["exit"]; },
 *       { from = ["phone"];        to = ["dns"]; proto = "udp"; }
 *     );
 *   };
 *
 * Sources: a node or device name, "group:NAME", "*" (anything in the mesh).
 * Destinations, each with optional ":PORTS" ("*", "22", "22,443",
 * "8000-8080"; none: every port):
 *   NAME, group:NAME   the node's or device's mesh addresses
 *   PREFIX             addresses inside approved subnet routes, enforced by
 *                      the routers serving them ("fd00::/64:22": the port
 *                      list follows the prefix length)
 *   exit               the internet through an exit node (and the exit
 *                      node's resolver, so that DNS follows the traffic:
 *                      port 53 at its mesh addresses, whatever the ports)
 *   dns                the mesh resolver of every node (port 53)
 *   *                  all of the above (dns only when the ports hold 53)
 * A rule's optional proto: "tcp", "udp", "icmp" or "*" (the default:
 * TCP and UDP when ports are given, every protocol when not).
 * Names match without regard to case; a name no node or device has (yet)
 * matches nothing. A group naming an unknown group, or a rule naming one,
 * is refused when the file is read (FILE:LINE).
 */
#ifndef MESHGATE_ACL_ACL_H
#define MESHGATE_ACL_ACL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/filter.h"
#include "netaddr.h"

enum { ACL_NAME_MAX = 63 };

enum acl_default { ACL_DEFAULT_ALLOW, ACL_DEFAULT_DENY };

enum acl_kind {
	ACL_ANY,    /* "*" */
	ACL_NAME,   /* a node or device */
	ACL_GROUP,  /* "group:NAME" */
	ACL_PREFIX, /* destinations only */
	ACL_EXIT,   /* destinations only */
	ACL_DNS,    /* destinations only */
};

struct acl_target {
	enum acl_kind kind;
	char name[ACL_NAME_MAX + 1]; /* ACL_NAME, ACL_GROUP */
	struct prefix prefix;        /* ACL_PREFIX */
	struct acl_port_range *ports;
	size_t n_ports; /* 0: every port */
};

struct acl_group {
	char name[ACL_NAME_MAX + 1];
	char (*members)[ACL_NAME_MAX + 1];
	size_t n_members;
	unsigned line;
};

struct acl_rule {
	struct acl_target *from; /* ports unused */
	size_t n_from;
	struct acl_target *to;
	size_t n_to;
	uint8_t protocols; /* ACL_PROTO_*, 0: the default above */
	unsigned line;     /* in the coordinator's config file */
};

struct acl_policy {
	enum acl_default def;
	struct acl_group *groups;
	size_t n_groups;
	struct acl_rule *rules;
	size_t n_rules;
};

/* One node or device of the mesh, as the policy sees it. */
struct acl_member {
	const char *name;
	const char *hub;                /* a device: its hub's node name; a node: NULL */
	const struct prefix *addresses; /* host prefixes */
	size_t n_addresses;
	const struct prefix *routes; /* a node: the approved routes it serves */
	size_t n_routes;
	bool exit;        /* a node: serves an approved exit */
	bool coordinator; /* every node keeps the coordinator as a peer */
};

struct acl_mesh {
	const struct acl_member *members;
	size_t n_members;
	const struct prefix *resolver; /* 100.100.100.100/32, fd7a:6d67:7465::53/128 */
	size_t n_resolver;
};

/* Releases what p owns and zeroes it; NULL-safe. */
void acl_policy_free(struct acl_policy *p);

/* Deep copy (0 or -ENOMEM) and equality (for a reload's audit entry). */
int acl_policy_copy(struct acl_policy *dst, const struct acl_policy *src)
    __attribute__((warn_unused_result));
bool acl_policy_equal(const struct acl_policy *a, const struct acl_policy *b);

/* A BLAKE2b digest of p: equal for policies acl_policy_equal() finds equal
 * (lines left out, names without case), different otherwise. The
 * coordinator keeps it to tell, after a restart, whether the policy in its
 * config is the one it last issued a revision for. */
enum { ACL_DIGEST_LEN = 32 };
void acl_policy_digest(const struct acl_policy *p, uint8_t out[ACL_DIGEST_LEN]);

/*
 * Node's filter: the entries it enforces, for its own addresses and
 * resolver (input), the routes it serves and the devices it hubs
 * (forward), its exit (exit). revision goes into out->revision. 0, or
 * -ENOMEM / -ENOENT (no member by that name); release with
 * acl_filter_free().
 */
int acl_compile(const struct acl_policy *p, const struct acl_mesh *mesh, const char *node,
		uint32_t revision, struct acl_filter *out) __attribute__((warn_unused_result));

/* Whether a and b (nodes) may exchange any traffic in either direction
 * (their own, their routes', their exit's, their devices'): the netmap
 * lists b as a peer of a only then (the coordinator is always a peer). */
bool acl_may_peer(const struct acl_policy *p, const struct acl_mesh *mesh, const char *a,
		  const char *b);

/* `meshgate policy check FROM TO [PROTO:PORT]`. */
struct acl_query {
	const char *from; /* a node or device name */
	const char *to;   /* a name, an address, "exit" (the internet) or "dns" */
	uint8_t protocol; /* one ACL_PROTO_* bit, 0: any */
	uint16_t port;    /* 0: any */
};

struct acl_verdict {
	bool allowed;
	unsigned rule;    /* 1-based rule that allowed it; 0: the default */
	unsigned line;    /* its line in the file; 0: none */
	char reason[256]; /* one sentence for the CLI */
};

/* -ENOENT when from or to names nothing in the mesh (reason says which). */
int acl_check(const struct acl_policy *p, const struct acl_mesh *mesh, const struct acl_query *q,
	      struct acl_verdict *v) __attribute__((warn_unused_result));

/*
 * Text forms, as the config file and the CLI write them. A source is NAME,
 * "group:NAME" or "*"; a destination any of the forms above. 0, or -EINVAL
 * with a sentence in why; release t's ports with free().
 */
int acl_target_parse(const char *text, bool source, struct acl_target *t, char *why, size_t len)
    __attribute__((warn_unused_result));
void acl_target_format(const struct acl_target *t, char *out, size_t len);

/* "*" (every port: none listed), "22", "22,443", "8000-8080": a new sorted,
 * merged array in *out. 0, -EINVAL, -E2BIG (over ACL_MAX_PORT_RANGES),
 * -ENOMEM. */
int acl_ports_parse(const char *text, struct acl_port_range **out, size_t *n)
    __attribute__((warn_unused_result));

/* Sorts v and merges overlapping and adjacent ranges; the new count. */
size_t acl_ports_canonical(struct acl_port_range *v, size_t n);

#endif
