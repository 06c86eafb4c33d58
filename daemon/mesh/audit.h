/*
 * The coordinator's audit log: who changed the mesh, what and when. The
 * entries live in the registry (registry_audit_add(), in the transaction
 * of the change they record); this is how the coordinator names actors
 * and shows entries.
 *
 * Actors: a local user who ran a command on the control socket, by name
 * ("root"), or "uid N" when the uid has no name; a node acting over the
 * mesh, "node:NAME"; "daemon" for a change the coordinator made by itself
 * (a config reload).
 *
 * Actions (a verb, then what it acts on): join, remove-node,
 * create-invite, revoke-invite, approve-route, unapprove-route,
 * approve-exit, unapprove-exit (the exit offers 0.0.0.0/0 and ::/0),
 * unadvertise-route, unadvertise-exit (an approved offer its node no
 * longer makes: the approval goes with it), add-device, remove-device;
 * change-policy for the access policy; create-mesh (meshgate init) and
 * leave-mesh (a coordinator joining another mesh, in the registry it sets
 * aside).
 *
 * ENTRY, as the log command and the status document give it:
 *   {"id": 7, "time": 1796320000, "actor": "root", "uid": 0,
 *    "action": "approve-route", "subject": "home",
 *    "detail": "192.168.77.0/24"}      (uid null for no local user)
 */
#ifndef MESHGATE_MESH_AUDIT_H
#define MESHGATE_MESH_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mesh/registry.h"

/* The entries the status document carries. */
enum { AUDIT_STATUS_ENTRIES = 20 };

struct audit_actor {
	char name[REGISTRY_AUDIT_TEXT_MAX + 1];
	int64_t uid; /* -1: no local user */
};

/* The local user uid by name (getpwuid_r), or "uid N" when it has none. */
void audit_user_name(uid_t uid, char *out, size_t len);

/* The caller the control socket put in a request ("caller": {"user",
 * "uid"}, set from the peer's credentials whatever the client sent);
 * "daemon" without one (a request from inside the process). */
void audit_actor_from_request(const json_t *req, struct audit_actor *out);

/* "node:NAME": a node acting over the mesh. */
void audit_actor_node(const char *node, struct audit_actor *out);

/* Records an action (see registry_audit_add(); who NULL: "daemon");
 * detail is a printf format, or NULL. */
int audit_add(struct registry *reg, const struct audit_actor *who, const char *action,
	      const char *subject, const char *detail, ...)
    __attribute__((warn_unused_result, format(printf, 5, 6)));

/* ENTRY for each of v[0..n), in that order, as a new array. */
json_t *audit_json(const struct registry_audit *v, size_t n);

#endif
