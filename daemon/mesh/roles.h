/*
 * The mesh roles a node runs (at most one of coordinator and client), and
 * the control commands they serve. The node owns a struct mesh_roles and
 * gives it a host (mesh/host.h); the control socket looks commands up in
 * mesh_commands[] and hands them the roles, never the node.
 */
#ifndef MESHGATE_MESH_ROLES_H
#define MESHGATE_MESH_ROLES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mesh/host.h"

struct coordinator;
struct mesh_client;

struct mesh_roles {
	struct mesh_host host;
	struct coordinator *coordinator; /* NULL: not running */
	struct mesh_client *client;      /* NULL: not running */
	char error[256];                 /* the last failed command's reason */
};

/* Starts the role the config or saved state asks for (coordinator.enabled;
 * mesh state or a join code: the client), or none. errbuf says what failed. */
int mesh_roles_start(struct mesh_roles *r, const struct mesh_host *host, char *errbuf,
		     size_t errlen) __attribute__((warn_unused_result));

/* Starts the client role on demand (`meshgate join` on a node without mesh
 * state). 0 when it runs; -EEXIST on a coordinator. */
int mesh_roles_client(struct mesh_roles *r, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Stops whichever role runs; the host stays. */
void mesh_roles_stop(struct mesh_roles *r);

/* Whether this node is, or is about to be, a mesh member with cfg. */
bool mesh_roles_member(const struct mesh_roles *r, const struct mg_config *cfg);

/* A control command: the result or NULL with *error set (valid until the
 * next command). */
struct mesh_command {
	const char *name;
	json_t *(*fn)(struct mesh_roles *r, const json_t *req, const char **error);
};

/* invite, invite_list, invite_revoke, nodes, nodes_remove, routes_approve,
 * routes_unapprove, device_add, device_remove, device_status, join,
 * join_status. */
extern const struct mesh_command mesh_commands[];
extern const size_t mesh_n_commands;

#endif
