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

/* state_dir/MESH_ROLE_FILE: {"role": "coordinator"} after `meshgate init`,
 * {"role": "member"} after `meshgate join` left a coordinator; it wins over
 * coordinator.enabled. Without it the config decides. */
#define MESH_ROLE_FILE "role.json"

enum mesh_role_origin {
	MESH_ROLE_CONFIG, /* coordinator.enabled, join, or mesh state */
	MESH_ROLE_INIT,   /* coordinator by `meshgate init` */
	MESH_ROLE_JOIN,   /* member by `meshgate join` on a former coordinator */
};

struct mesh_roles {
	struct mesh_host host;
	struct coordinator *coordinator; /* NULL: not running */
	struct mesh_client *client;      /* NULL: not running */
	enum mesh_role_origin origin;
	bool coordinator_starting; /* coordinator_start runs (plan: a member) */
	char error[256];           /* the last failed command's reason */
};

/* Whether cfg and the role file make this node the coordinator; *origin
 * (may be NULL) says which of them decided. */
bool mesh_roles_coordinator_wanted(const struct mg_config *cfg, enum mesh_role_origin *origin);

/* Where the role comes from, for a message: "coordinator.enabled",
 * "meshgate init, STATE_DIR/role.json" or "meshgate join, STATE_DIR/role.json". */
void mesh_roles_origin_describe(const struct mg_config *cfg, enum mesh_role_origin origin,
				char *out, size_t len);

/* A join code start-up would leave unread: the role file makes this node a
 * coordinator (coordinator.enabled with join the parser refuses). Returns
 * 0, or -EINVAL with the reason and its fix in errbuf ("join: ..."). */
int mesh_roles_check_join(const struct mg_config *cfg, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* "config", "meshgate init" or "meshgate join": for status. */
const char *mesh_roles_origin_name(enum mesh_role_origin origin);

/* Starts the role the config or saved state asks for (the coordinator;
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

/* init, invite, invite_list, invite_revoke, nodes, nodes_remove,
 * routes_approve, routes_unapprove, log, device_add, device_remove,
 * device_status, policy_check, policy_show, join, join_status. */
extern const struct mesh_command mesh_commands[];
extern const size_t mesh_n_commands;

#endif
