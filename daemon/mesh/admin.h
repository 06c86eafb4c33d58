/*
 * The coordinator's admin commands (invites, nodes, routes, policy): what
 * `meshgate invite|nodes|routes|policy` reach through the control socket
 * (roles.c), as JSON documents.
 */
#ifndef MESHGATE_MESH_ADMIN_H
#define MESHGATE_MESH_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct audit_actor;
struct coordinator;

/* The admin commands; each returns a new reference or NULL with *error set
 * (valid until the next call). Those that change the registry record who
 * (NULL: "daemon") in the audit log, in the same transaction. */
json_t *coordinator_invite(struct coordinator *c, int64_t ttl_seconds, bool reusable,
			   const struct audit_actor *who, const char **error);
/* Every invite: id, created_at, expires_at (0: never), reusable, live,
 * used_at and used_by (the node's name; null when unused or removed). */
json_t *coordinator_invites(struct coordinator *c, const char **error);
/* Forgets an invite: its code no longer joins. */
json_t *coordinator_invite_revoke(struct coordinator *c, uint64_t id, const struct audit_actor *who,
				  const char **error);
/* Every node, each with "devices": the devices it hubs (DEVICE of
 * mesh/devices.h and created_at). */
json_t *coordinator_nodes(struct coordinator *c, const char **error);
/* {"removed": NODE, "live_reusable_invites": [ids], "devices_removed":
 * [names]}: a node holding one of these codes can join again; its devices
 * went with it (their keys revoked). */
json_t *coordinator_node_remove(struct coordinator *c, const char *node,
				const struct audit_actor *who, const char **error);
/* Approves or unapproves a node's prefixes; the coordinator's own are
 * approved by its config, and unapproving them is refused. */
json_t *coordinator_routes_set(struct coordinator *c, const char *node, const json_t *prefixes,
			       bool approved, const struct audit_actor *who, const char **error);
/* {"entries": [ENTRY (mesh/audit.h)...], "more": bool}: of the newest limit
 * entries at or after since, oldest first, the first AUDIT_LOG_PAGE with an
 * id above after; "more" when others follow (ask again with after = the
 * last id). One page at a time keeps a 100,000-entry log from costing the
 * daemon its size in memory. */
enum { AUDIT_LOG_PAGE = 1000 };
json_t *coordinator_audit_log(struct coordinator *c, int64_t since, size_t limit, int64_t after,
			      const char **error);
/* The last n entries, newest first (the status document's "audit"), or
 * NULL. */
json_t *coordinator_audit_recent(struct coordinator *c, size_t n);
/* The audit entry of a role change (actor who): create-mesh when `meshgate
 * init` made this node the coordinator of a new mesh, leave-mesh (with the
 * members it strands) before it leaves for another one; the latter stays
 * in the registry that is set aside. */
int coordinator_audit_role(struct coordinator *c, const struct audit_actor *who, bool created)
    __attribute__((warn_unused_result));
/* How many other nodes and how many devices the registry holds (a
 * coordinator that leaves strands them). */
int coordinator_members(struct coordinator *c, size_t *nodes, size_t *devices)
    __attribute__((warn_unused_result));

/* Notes for the admin on approved prefixes of node id that overlap another
 * node's approved route (auto_approve leaves those pending; approving them
 * by hand or in the coordinator's own config is allowed, but said), each
 * also logged; a new array. */
json_t *coordinator_overlap_warnings(struct coordinator *c, uint32_t id, const json_t *prefixes);

/* `policy check`: {"from", "to", "proto": "tcp"|"udp"|"icmp"|"*",
 * "port": N} answered {"allowed", "rule", "line", "reason", "default",
 * "revision"}; an unknown name is an error saying which. */
json_t *coordinator_policy_check(struct coordinator *c, const json_t *req, const char **error);
/* `policy show` on the coordinator: its own node's filter
 * (mesh_apply_policy_json()). */
json_t *coordinator_policy_show(struct coordinator *c, const char **error);

/* Adds the join gate's drop counters to the status document's drops object
 * (zero when c is NULL, so every node lists the same reasons). */
void coordinator_drops_json(const struct coordinator *c, json_t *drops);

#endif
