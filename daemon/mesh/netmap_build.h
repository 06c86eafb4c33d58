/*
 * Building a node's netmap on the coordinator, as a pure function of the
 * registry (nodes and routes) and the coordinator's live state (which nodes
 * are online, the public endpoint it observes for each).
 *
 * Rules:
 *  - every registered node but the one the netmap is for is a peer, online
 *    or not; the coordinator is always online;
 *  - a peer's candidate endpoints are the one the coordinator observes, then
 *    the ones it reported (duplicates once): nodes take only the first few,
 *    and the observed one is the path that crosses NATs; endpoints that
 *    mesh_endpoint_usable() refuses (loopback, link-local, inside the mesh
 *    prefixes, ...) are left out, whatever the registry holds;
 *  - a prefix approved for several nodes is carried by one of them, the
 *    primary: the online approver with the lowest id. Offline nodes carry no
 *    routes; when the primary goes offline the next one takes over, and it
 *    gets the prefix back when it returns;
 *  - a peer is an exit node when one of its exit offers (0.0.0.0/0, ::/0) is
 *    approved and it is online;
 *  - self lists its own approved routes and everything it advertises;
 *  - devices are listed under their hub, online or not (their addresses are
 *    reached through it): self's with their public keys (the hub holds
 *    them as engine peers), peers' without;
 *  - dns, when given, is every node's: the domain and the static records;
 *  - a peer's split DNS offer (its last hello's, the coordinator's own from
 *    its config) is listed while one of its approved routes (not an exit
 *    offer) holds the offer's server, online or not: approving the route
 *    approves the offer; its nodes judge whether it is usable now.
 *  - with a policy, a node's peers are only those acl_may_peer() allows
 *    (the coordinator is always a peer, and every node is the
 *    coordinator's), and "policy" is the node's compiled filter
 *    (acl_compile()) under the policy's revision.
 */
#ifndef MESHGATE_MESH_NETMAP_BUILD_H
#define MESHGATE_MESH_NETMAP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/acl.h"
#include "mesh/netmap.h"
#include "mesh/registry.h"

/* An endpoint the coordinator observes a node at (its engine's endpoint). */
struct netmap_observed {
	uint32_t node_id;
	struct endpoint endpoint;
};

/* A node's split DNS offer, as its last hello said (live state). */
struct netmap_offer {
	uint32_t node_id;
	struct split_dns dns;
};

struct netmap_acl_mesh;

struct netmap_build_input {
	const struct registry_node *nodes; /* registry_nodes() */
	size_t n_nodes;
	const struct registry_route *routes; /* registry_routes() */
	size_t n_routes;
	const struct registry_device *devices; /* registry_devices() */
	size_t n_devices;
	const uint32_t *online; /* ids of the nodes connected now */
	size_t n_online;
	const struct netmap_observed *observed;
	size_t n_observed;
	const struct prefix *mesh; /* the mesh prefixes: no endpoint lies inside */
	size_t n_mesh;
	uint32_t coordinator_id; /* the coordinator's own node id */
	uint8_t coordinator_key[KEY_LEN];
	uint64_t version;
	int64_t issued_at;
	/* The coordinator's dns.domain and dns.records (views.c); NULL: the
	 * netmaps carry no "dns". */
	const struct netmap_dns *dns;
	const struct netmap_offer *offers; /* at most one per node */
	size_t n_offers;
	/* The coordinator's access policy and its revision; NULL: none, every
	 * node is a peer of every other and the netmaps carry no "policy".
	 * acl: the mesh as the policy sees it (netmap_build_acl_mesh()), set
	 * with policy. */
	const struct acl_policy *policy;
	uint32_t policy_revision;
	const struct netmap_acl_mesh *acl;
};

/* The mesh of in as the policy sees it: every node (its addresses, the
 * approved routes it is primary for, whether its exit offer is approved,
 * the coordinator flag) and every device (with its hub's name), and the
 * resolver's addresses. Names are borrowed from in's rows. members[i] is
 * in->nodes[i] for i < n_nodes, the devices follow. */
struct netmap_acl_mesh {
	struct acl_mesh mesh;
	struct acl_member *members;
	struct prefix *prefixes; /* the members' addresses and routes */
	struct prefix resolver[2];
	size_t n_nodes;
	/* Bit i * n_nodes + j: node i's filter lets node j, or a device j
	 * hubs, in (netmap_build_acl_reach()); NULL: not computed, netmap_build()
	 * asks acl_may_peer() per pair. */
	uint8_t *reach;
};

int netmap_build_acl_mesh(const struct netmap_build_input *in, struct netmap_acl_mesh *out)
    __attribute__((warn_unused_result));

/* Fills m->reach for policy p with one acl_compile() per node, so that a
 * rebuild costs n compiles instead of two per pair of nodes; a, b may
 * peer (acl_may_peer()) when a's filter lets b in or b's lets a in, or the
 * default is "allow". A node whose filter cannot be compiled lets every
 * node in (a peer kept rather than cut). 0 or -ENOMEM. */
int netmap_build_acl_reach(struct netmap_acl_mesh *m, const struct acl_policy *p)
    __attribute__((warn_unused_result));

void netmap_build_acl_mesh_free(struct netmap_acl_mesh *m);

/* Whether node_id counts as online (the coordinator always does). */
bool netmap_build_is_online(const struct netmap_build_input *in, uint32_t node_id);

/* Whether node_id is the primary router for p among the approvers of p. */
bool netmap_build_is_primary(const struct netmap_build_input *in, uint32_t node_id,
			     const struct prefix *p);

/*
 * Fills out with the netmap of node self_id. -ENOENT when self_id is not
 * among the nodes, -ENOMEM; out is left empty on error. Release it with
 * netmap_free().
 */
int netmap_build(const struct netmap_build_input *in, uint32_t self_id, struct netmap *out)
    __attribute__((warn_unused_result));

#endif
