/*
 * A netmap turned into the peers and devices of a view (mesh/host.h): one
 * mesh peer per netmap peer, with allowed IPs = its mesh addresses + the
 * routes it is primary for + the addresses of the devices it hubs (a device
 * is reached through its hub, and its packets reach other nodes from the
 * hub) + the defaults when it is an approved exit node (the route plan
 * keeps the defaults only for the exit node use_exit_node names), and its
 * candidate endpoints; and one mesh device per device of the netmap. Both
 * roles apply their views through this.
 */
#ifndef MESHGATE_MESH_APPLY_H
#define MESHGATE_MESH_APPLY_H

#include <jansson.h>
#include <stddef.h>

#include "mesh/netmap.h"
#include "mesh/host.h"

/* A new array in *out (free with mesh_apply_free()); -ENOMEM. Candidate
 * endpoints that mesh_endpoint_usable() refuses with the mesh prefixes
 * (this node's addresses with the prefix lengths) are left out: a netmap
 * is signed, but what it says of endpoints comes from the members. */
int mesh_apply_peers(const struct netmap *nm, const struct prefix *mesh, size_t n_mesh,
		     struct mesh_peer **out, size_t *n) __attribute__((warn_unused_result));
void mesh_apply_free(struct mesh_peer *peers, size_t n);

/* Every device of nm as a new array in *out (free with free(); never NULL
 * on success, *n may be 0); -ENOMEM. Self's devices are attached (this
 * node is their hub) with their keys, hub = self's name; peers' devices
 * are not and have no key, hub = the peer's name. */
int mesh_apply_devices(const struct netmap *nm, struct mesh_device **out, size_t *n)
    __attribute__((warn_unused_result));

/* The peers' split DNS offers of nm as a new array in *out (free with
 * free(); never NULL on success, *n may be 0), usable while the peer is
 * online and one of its routes holds the server; -ENOMEM. */
int mesh_apply_split_dns(const struct netmap *nm, struct mesh_split_dns **out, size_t *n)
    __attribute__((warn_unused_result));

/* What nm approves of the node's own offer; points into nm. */
void mesh_apply_approved(const struct netmap *nm, struct mesh_approved *out);

/* A node's filter for `policy show` and status: acl_filter_to_json() plus
 * "present": true; f NULL (no policy): {"present": false, "default":
 * "allow", "revision": 0, "entries": []}. A new reference or NULL. */
json_t *mesh_apply_policy_json(const struct acl_filter *f);

/* A numeric endpoint as the engine's endpoint (direct); false otherwise. */
bool mesh_endpoint_to_wg(const struct endpoint *ep, struct wg_endpoint *out);
/* The engine's (direct) endpoint as text "ip:port" into an endpoint. */
void mesh_endpoint_from_wg(const struct wg_endpoint *ep, struct endpoint *out);

#endif
