/*
 * The coordinator's views: every node's netmap built from the registry and
 * the live state (connections, endpoints the engine observes), pushed when
 * it changed; the coordinator's own view handed to its host; the relay keys,
 * the join gate's window and the timer that drives rebuilds. Called by the
 * coordinator's other files; calls none of them.
 */
#ifndef MESHGATE_MESH_VIEWS_H
#define MESHGATE_MESH_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acl_query;
struct acl_verdict;
struct conn;
struct coordinator;
struct netmap;
struct mesh_peer_facts;
struct prefix;
struct registry_route;
struct split_dns;

/* The relay key shared with node_id (relay_forward() takes it); NULL: none. */
const uint8_t *coord_relay_key_for(void *ctx, uint32_t node_id);

/* The control connection of node id; NULL: offline. */
struct conn *coord_conn_by_node(struct coordinator *c, uint32_t id);

/* The engine's facts of the peer with key, when it has a direct endpoint. */
bool coord_direct_endpoint(const struct coordinator *c, const uint8_t *key,
			   struct mesh_peer_facts *f);

/* The same for node id (one with a relay key: any but this node). */
bool coord_node_direct(const struct coordinator *c, uint32_t id, struct mesh_peer_facts *f);

/* Closes a control connection; the views change. */
void coord_conn_close(struct conn *k);

/* Computes every view from the registry; pushes those that changed. */
void coord_rebuild(struct coordinator *c);

/* The coordinator's own netmap as a rebuild makes it now (its view), for
 * what the node serves and reaches; release with netmap_free(). -errno. */
int coord_self_netmap(struct coordinator *c, struct netmap *out)
    __attribute__((warn_unused_result));

/* Takes the config's access policy when it differs from the one the
 * netmaps carry: a new revision, an audit entry "change-policy" (actor
 * daemon; not for the policy the coordinator starts with), and every view
 * is rebuilt soon. */
void coord_policy_sync(struct coordinator *c);

/* `policy check` against the running policy and the mesh as it is now:
 * acl_check()'s result (-ENOENT: a name is unknown, v->reason says which),
 * or -errno reading the registry. */
int coord_policy_check(struct coordinator *c, const struct acl_query *q, struct acl_verdict *v)
    __attribute__((warn_unused_result));

/* The netmap of node id as a rebuild makes it now (unsigned, unversioned);
 * -ENOENT: no such node. */
int coord_node_netmap(struct coordinator *c, uint32_t id, struct netmap *out)
    __attribute__((warn_unused_result));

/* Arms the timer for due (monotonic ns) unless it fires sooner already. */
void coord_arm(struct coordinator *c, uint64_t due);

/* The earliest time the next rebuild may run. */
uint64_t coord_rebuild_due(const struct coordinator *c, uint64_t now);

/* Rebuilds soon, from the timer (never inside a packet handler). */
void coord_schedule(struct coordinator *c);

/* Whether a rebuild is due at now. */
bool coord_rebuild_now(const struct coordinator *c, uint64_t now);

/* Opens the join gate until the last live invite ends. */
void coord_gate_refresh(struct coordinator *c);

/* An audit entry (actor "daemon", detail "PREFIX (why)") for each route of
 * node id approved now that before[0..n) (registry_routes() before the
 * change) did not hold approved, and one for each approved route of id
 * that is gone (unadvertise-route/-exit: actor "node:NAME", detail "PREFIX
 * (no longer advertised)"; the coordinator's own: "daemon", "(why)"); in
 * the caller's transaction. */
int coord_audit_approved(struct coordinator *c, uint32_t id, const struct registry_route *before,
			 size_t n, const char *why) __attribute__((warn_unused_result));

/* Records what a member advertises; auto_approve applies, and what it
 * approves is recorded in the audit log (actor "daemon"). */
int coord_advertise(struct coordinator *c, uint32_t id, const struct prefix *routes, size_t n,
		    bool *changed);

/* Keeps a member's split DNS offer from its hello (domain "": none) as
 * live state, kept while it is offline (its nodes answer SERVFAIL for the
 * domain then), forgotten by a restart until its next hello. -ENOMEM;
 * *changed when it differs from the one kept. */
int coord_offer_take(struct coordinator *c, uint32_t id, const struct split_dns *offer,
		     bool *changed) __attribute__((warn_unused_result));

/* Whether node_id is this node or has a control connection. */
bool coord_node_online(const struct coordinator *c, uint32_t node_id);

#endif
