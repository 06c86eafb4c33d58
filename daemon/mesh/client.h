/*
 * The client role, on every node that is not the coordinator: joining with
 * an invite, the saved mesh state (state_dir/mesh.json), the control channel
 * to the coordinator, applying and caching netmaps (state_dir/netmap.json),
 * and the path to each peer (direct, or relayed through the coordinator).
 */
#ifndef MESHGATE_MESH_CLIENT_H
#define MESHGATE_MESH_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "mesh/client_ddns.h"
#include "mesh/client_devices.h"
#include "mesh/client_join.h"
#include "mesh/client_paths.h"
#include "mesh/client_state.h"
#include "mesh/host.h"

struct mesh_client;

/* Whether the node has saved mesh state or a join code: then the role runs. */
bool mesh_client_wanted(const struct mg_config *cfg);

/*
 * Starts the role: with saved state, applies the cached netmap and connects
 * to the coordinator; with cfg.join for another (or no) coordinator, joins.
 */
int mesh_client_start(struct mesh_client **out, const struct mesh_host *host, char *errbuf,
		      size_t errlen) __attribute__((warn_unused_result));
void mesh_client_stop(struct mesh_client *mc);

/* Starts joining with code; the outcome comes from mesh_client_join_status().
 * -EINVAL with errbuf for a code that does not decode. */
int mesh_client_join(struct mesh_client *mc, const char *code, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Whether the coordinator reaches this node's UDP port (portprobe.h): 1
 * yes, 0 no, -1 not known; seen_as gets the public endpoint the coordinator
 * observes ("ip:port"), "" when not known. */
void mesh_client_port_probe(const struct mesh_client *mc, int *reachable, char *seen_as,
			    size_t len);

/* `policy show` on a member: the filter of the netmap in use
 * (mesh_apply_policy_json()). */
json_t *mesh_client_policy_show(const struct mesh_client *mc);

/* {"state": "joining"|"joined"|"failed"|"idle", "error", "name", "addresses"} */
json_t *mesh_client_join_status(const struct mesh_client *mc);

#endif
