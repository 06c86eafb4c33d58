/*
 * The coordinator's registry: nodes, their advertised and approved routes,
 * invites, the stock WireGuard devices attached to nodes, and the audit log
 * of what changed them, in one SQLite file (state_dir/registry.sqlite).
 *
 * The file is opened in WAL mode with synchronous=FULL: a change that
 * returned 0 survives a crash or power loss, one that did not is absent
 * entirely. Every function is one transaction; registry_begin() groups
 * several into one (a join creates the node, uses the invite and takes a
 * netmap version at once).
 *
 * Rules kept here:
 *  - a node is known by its WireGuard public key; its id and mesh addresses
 *    stay the same across restarts and re-joins with that key. Ids are never
 *    reused, even after the node is removed; addresses are: a removed node's
 *    addresses go back to the pool and the next new key may get them (its
 *    key differs, so no peer can mistake one node for the other);
 *  - names are unique among nodes and devices together, compared without
 *    regard to case ("laptop", "laptop-2", ...); mesh addresses too: the
 *    allocator never hands out a device's address to a node, nor the other
 *    way round;
 *  - a device belongs to one node, its hub; removing the hub removes its
 *    devices. A removed device's key is revoked: no device is added with
 *    it again;
 *  - exit offers are the routes 0.0.0.0/0 and ::/0, approved like any other
 *    route (one approval each);
 *  - the netmap version only ever grows, across restarts too.
 * Which of several nodes serving a prefix is primary depends on who is
 * online, so it is decided when netmaps are built, from registry_routes().
 *
 * Errors are negative errno values, logged with the SQLite message;
 * -EUCLEAN means the file is damaged. Not thread-safe: one event loop owns
 * the registry.
 */
#ifndef MESHGATE_MESH_REGISTRY_H
#define MESHGATE_MESH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mesh/alloc.h"
#include "netaddr.h"

#define REGISTRY_FILE "registry.sqlite"

enum {
	REGISTRY_SCHEMA_VERSION = 3,
	REGISTRY_HASH_LEN = 32,
	/* Audit entries kept (the oldest go first): about 15 MB at most, and
	 * years of joins, approvals and device changes in a home or office
	 * mesh. */
	REGISTRY_AUDIT_KEEP = 100000,
	REGISTRY_AUDIT_TEXT_MAX = 255,
};

struct registry;

struct registry_node {
	uint32_t id; /* >= 1, never reused */
	char name[ALLOC_NAME_MAX + 1];
	char hostname[ALLOC_NAME_MAX + 1]; /* as the node asked, cut at 63 bytes */
	uint8_t public_key[KEY_LEN];
	struct prefix addr4; /* host prefixes (/32, /128) */
	struct prefix addr6;
	int64_t created_at;
	int64_t last_seen;          /* 0: never */
	struct endpoint *endpoints; /* owned; free with registry_node_clear() */
	size_t n_endpoints;
};

struct registry_route {
	uint32_t node_id;
	struct prefix prefix; /* a network; 0.0.0.0/0 and ::/0 are exit offers */
	bool approved;
};

/* A stock WireGuard device (a phone) attached to node hub_id. */
struct registry_device {
	uint32_t id; /* >= 1, never reused */
	char name[ALLOC_NAME_MAX + 1];
	uint8_t public_key[KEY_LEN];
	uint32_t hub_id;
	struct prefix addr4; /* host prefixes (/32, /128) */
	struct prefix addr6;
	bool exit_node; /* may use its hub's exit */
	int64_t created_at;
};

/* One entry of the audit log; text longer than the fields is cut. */
struct registry_audit {
	int64_t id; /* >= 1, in the order of the writes */
	int64_t time;
	char actor[72];   /* "root", "uid 1000", "node:laptop" */
	int64_t uid;      /* the local user's; -1: none */
	char action[32];  /* "join", "approve-route", ... */
	char subject[72]; /* a node, a device, "invite 3" */
	char detail[REGISTRY_AUDIT_TEXT_MAX + 1];
};

enum invite_state { INVITE_VALID, INVITE_EXPIRED, INVITE_USED, INVITE_UNKNOWN };

/* An invite as listed (never its secret or hash). */
struct registry_invite {
	uint64_t id;
	int64_t created_at;
	int64_t expires_at; /* 0: never */
	bool reusable;
	bool used;
	int64_t used_at;  /* the last use, when used */
	uint32_t used_by; /* 0: not used, or that node was removed */
};

/*
 * Opens (creating it, mode 0600, if missing) the registry at path, checks
 * it and brings its schema up to date. On error errbuf holds one line:
 * -EUCLEAN for a damaged file, -EPROTO for a schema newer than this program,
 * another -errno for the rest. Close with registry_close().
 */
int registry_open(struct registry **out, const char *path, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Closes reg (rolling back a transaction left open); NULL-safe. */
void registry_close(struct registry *reg);

/*
 * Groups the calls that follow into one transaction, until commit or
 * rollback. Transactions do not nest (-EBUSY).
 */
int registry_begin(struct registry *reg) __attribute__((warn_unused_result));
int registry_commit(struct registry *reg) __attribute__((warn_unused_result));
void registry_rollback(struct registry *reg);

/* Releases what n owns and zeroes it; NULL-safe. */
void registry_node_clear(struct registry_node *n);

/* Clears and frees an array from registry_nodes(); NULL-safe. */
void registry_nodes_free(struct registry_node *nodes, size_t n);

/*
 * Adds the node with this key, or finds it. A new node gets the lowest free
 * host address of prefix4 and of prefix6 and a unique name made from
 * wanted_name (see alloc.h); a known one keeps its id, name and addresses,
 * except that an address no longer inside the prefix (the config changed)
 * is replaced by a new one. *created (may be NULL) says which. out (may be
 * NULL) receives the node; clear it with registry_node_clear(). -ENOSPC when
 * a prefix is full (nothing changes then), -EKEYREJECTED when the key is a
 * device's, -EINVAL unless prefix4 is IPv4 and prefix6 IPv6.
 */
int registry_node_upsert(struct registry *reg, const uint8_t key[KEY_LEN], const char *wanted_name,
			 const struct prefix *prefix4, const struct prefix *prefix6, int64_t now,
			 struct registry_node *out, bool *created)
    __attribute__((warn_unused_result));

/* Look-ups: 0 and the node in out (clear it), or -ENOENT. Names match
 * without regard to case. */
int registry_node_by_key(struct registry *reg, const uint8_t key[KEY_LEN],
			 struct registry_node *out) __attribute__((warn_unused_result));
int registry_node_by_name(struct registry *reg, const char *name, struct registry_node *out)
    __attribute__((warn_unused_result));
int registry_node_by_id(struct registry *reg, uint32_t id, struct registry_node *out)
    __attribute__((warn_unused_result));
/* A node as an admin names it: digits alone are an id (no node is named so,
 * see alloc_name_numeric(); a name of digits kept from an older registry is
 * found by it when no node has that id), anything else a name. */
int registry_node_find(struct registry *reg, const char *ref, struct registry_node *out)
    __attribute__((warn_unused_result));

/* Forgets a node, its routes and the devices it hubs (their keys are
 * revoked); invites it used stay used. -ENOENT. */
int registry_node_remove(struct registry *reg, uint32_t id) __attribute__((warn_unused_result));

/*
 * Records that the node was heard from at now, and with eps non-NULL
 * replaces its candidate endpoints by eps[0..n) (n may be 0). -ENOENT.
 */
int registry_node_seen(struct registry *reg, uint32_t id, int64_t now, const struct endpoint *eps,
		       size_t n) __attribute__((warn_unused_result));

/* Whether eps[0..n) differ from the node's stored endpoints (order
 * counts); reads only. -ENOENT. */
int registry_node_endpoints_differ(struct registry *reg, uint32_t id, const struct endpoint *eps,
				   size_t n, bool *differ) __attribute__((warn_unused_result));

/* All nodes, ordered by id, in a new array (*out NULL when there are none);
 * free with registry_nodes_free(). */
int registry_nodes(struct registry *reg, struct registry_node **out, size_t *n)
    __attribute__((warn_unused_result));

/*
 * Replaces what a node advertises with routes[0..n) (networks; -EINVAL for
 * a prefix with host bits set). Prefixes no longer advertised are forgotten
 * with their approval; prefixes still advertised keep theirs; new ones are
 * approved at once when inside one of auto_routes and overlapping no other
 * node's approved route (neither containing nor inside one: a /32 inside
 * another node's LAN would take over that host; an equal prefix is a
 * standby router for it and is approved), or, for the exit offers
 * 0.0.0.0/0 and ::/0, when auto_exit is set (auto_routes never approve an
 * exit offer). What auto_approve leaves pending waits for the admin.
 * *changed (may be NULL) tells whether anything changed; when the node
 * already advertises exactly routes, nothing is written. -ENOENT for an
 * unknown node.
 */
int registry_routes_advertise(struct registry *reg, uint32_t node_id, const struct prefix *routes,
			      size_t n, const struct prefix *auto_routes, size_t n_auto,
			      bool auto_exit, bool *changed) __attribute__((warn_unused_result));

/*
 * Replaces what the coordinator's own node advertises with routes[0..n):
 * its config is the admin's word, so every route is approved at once (one
 * stored as pending is approved too) whatever it overlaps; prefixes no
 * longer listed are forgotten. *changed, -EINVAL and -ENOENT as for
 * registry_routes_advertise().
 */
int registry_routes_own(struct registry *reg, uint32_t node_id, const struct prefix *routes,
			size_t n, bool *changed) __attribute__((warn_unused_result));

/* Approves or unapproves one advertised route; -ENOENT when the node does
 * not advertise p. */
int registry_route_set_approved(struct registry *reg, uint32_t node_id, const struct prefix *p,
				bool approved) __attribute__((warn_unused_result));

/* Whether p overlaps an approved route of a node other than node_id (is
 * wider or narrower than it; equal prefixes are standbys), exit offers
 * aside: 1 with the first such route in *other, 0 when none, or -errno. */
int registry_route_overlap(struct registry *reg, uint32_t node_id, const struct prefix *p,
			   struct registry_route *other) __attribute__((warn_unused_result));

/* Whether p is an exit offer (0.0.0.0/0 or ::/0). */
bool registry_route_is_exit(const struct prefix *p);

/*
 * Every advertised route, approved or not, ordered by node id, then IPv4
 * before IPv6, address, length; a new array (*out NULL when there are
 * none), release with free().
 */
int registry_routes(struct registry *reg, struct registry_route **out, size_t *n)
    __attribute__((warn_unused_result));

/*
 * Stores an invite by the hash of its secret (the secret itself is never
 * stored). expires_at 0: never. *id receives its number (>= 1, never
 * reused).
 */
int registry_invite_add(struct registry *reg, const uint8_t secret_hash[REGISTRY_HASH_LEN],
			int64_t now, int64_t expires_at, bool reusable, uint64_t *id)
    __attribute__((warn_unused_result));

/*
 * Whether the invite id with this secret hash may be used at now. The hash
 * is compared in constant time; a wrong hash is INVITE_UNKNOWN, exactly as a
 * missing invite, and so is a database error (logged).
 */
enum invite_state registry_invite_check(struct registry *reg, uint64_t id,
					const uint8_t secret_hash[REGISTRY_HASH_LEN], int64_t now);

/*
 * Records that node_id joined with the invite at now: a single-use invite
 * becomes used (a second use gives -EALREADY); a reusable one records its
 * last use. -ENOENT for an unknown invite or node. Does not look at the
 * expiry: registry_invite_check() first, in the same transaction.
 */
int registry_invite_use(struct registry *reg, uint64_t id, uint32_t node_id, int64_t now)
    __attribute__((warn_unused_result));

/* Removes the invites expired at now (as registry_invite_check() sees them)
 * and the used-up single-use ones, except that a used single-use invite
 * stays until used_grace seconds after its use (for `invite list`; the join
 * gate has a grace of its own). */
int registry_invites_prune(struct registry *reg, int64_t now, int64_t used_grace)
    __attribute__((warn_unused_result));

/* Every invite, by id; a new array (*out NULL when there are none), release
 * with free(). */
int registry_invites(struct registry *reg, struct registry_invite **out, size_t *n)
    __attribute__((warn_unused_result));

/* Forgets an invite: its code no longer joins. -ENOENT. */
int registry_invite_remove(struct registry *reg, uint64_t id) __attribute__((warn_unused_result));

/*
 * Registers device name with key, attached to node hub_id, with the lowest
 * free host address of prefix4 and of prefix6 (as registry_node_upsert()).
 * One transaction; on a refusal nothing is written. Refusals, in this
 * order: -EINVAL a name that is not alloc_name_valid() (or prefixes of the
 * wrong families), -ENOENT no node hub_id, -EEXIST the name is a node's or
 * a device's (without regard to case), -EKEYREVOKED the key belonged to a
 * removed device, -EKEYREJECTED the key is a node's or a device's, -ENOSPC
 * a prefix is full. out (may be NULL) receives the device.
 */
int registry_device_add(struct registry *reg, const char *name, const uint8_t key[KEY_LEN],
			uint32_t hub_id, bool exit_node, const struct prefix *prefix4,
			const struct prefix *prefix6, int64_t now, struct registry_device *out)
    __attribute__((warn_unused_result));

/* Look-ups: 0 and the device in out (may be NULL), or -ENOENT. Names match
 * without regard to case. */
int registry_device_by_name(struct registry *reg, const char *name, struct registry_device *out)
    __attribute__((warn_unused_result));
int registry_device_by_key(struct registry *reg, const uint8_t key[KEY_LEN],
			   struct registry_device *out) __attribute__((warn_unused_result));

/* Forgets a device and revokes its key; its addresses go back to the pool.
 * -ENOENT. */
int registry_device_remove(struct registry *reg, uint32_t id) __attribute__((warn_unused_result));

/* All devices, ordered by id, in a new array (*out NULL when there are
 * none); release with free(). */
int registry_devices(struct registry *reg, struct registry_device **out, size_t *n)
    __attribute__((warn_unused_result));

/* Whether key belonged to a removed device: 1 with that device's name in
 * name (may be NULL), 0 when not, or -errno. */
int registry_key_revoked(struct registry *reg, const uint8_t key[KEY_LEN],
			 char name[ALLOC_NAME_MAX + 1]) __attribute__((warn_unused_result));

/* Takes the next netmap version: persisted, strictly greater than any
 * version returned before (the first is 1). */
int registry_next_version(struct registry *reg, uint64_t *version)
    __attribute__((warn_unused_result));

/* The access policy the coordinator last issued a revision for: its
 * digest (acl_policy_digest(), all zero for no policy) and the revision.
 * -ENOENT before the first. Set inside the caller's transaction with the
 * version it takes. */
enum { REGISTRY_POLICY_DIGEST_LEN = 32 };
int registry_policy_get(struct registry *reg, uint8_t digest[REGISTRY_POLICY_DIGEST_LEN],
			uint64_t *revision) __attribute__((warn_unused_result));
int registry_policy_set(struct registry *reg, const uint8_t digest[REGISTRY_POLICY_DIGEST_LEN],
			uint64_t revision) __attribute__((warn_unused_result));

/*
 * Appends an entry to the audit log (actor and action non-empty: -EINVAL;
 * subject and detail may be NULL; uid -1 when the actor is no local user)
 * and keeps the newest REGISTRY_AUDIT_KEEP. Inside registry_begin() it is
 * part of the caller's transaction: an action and its entry are written
 * together or not at all.
 */
int registry_audit_add(struct registry *reg, int64_t now, const char *actor, int64_t uid,
		       const char *action, const char *subject, const char *detail)
    __attribute__((warn_unused_result));

/* The newest limit entries at or after since, newest first, in a new array
 * (*out NULL when there are none); release with free(). */
int registry_audit_list(struct registry *reg, int64_t since, size_t limit,
			struct registry_audit **out, size_t *n) __attribute__((warn_unused_result));

/* A page of the same entries, oldest first: of the newest limit at or
 * after since, at most page with an id above after (0: from the first). A
 * reader walks them with after = the last id it got, holding one page at a
 * time whatever the log's size. */
int registry_audit_page(struct registry *reg, int64_t since, size_t limit, int64_t after,
			size_t page, struct registry_audit **out, size_t *n)
    __attribute__((warn_unused_result));

#endif
