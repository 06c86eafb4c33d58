/*
 * The seam between the node and the mesh roles (coordinator, client): all
 * a role knows of the node is a struct mesh_host it is given at start. The
 * roles never touch the engine, the data plane or the kernel themselves:
 * they hand the node a view (reconfigure, as the control client hands a
 * netmap to the engine), ask it for peer facts, to kick a peer or to send
 * datagrams, and bump their own counters, which the node reads. The static
 * key stays in the engine: static_dh does the DH there.
 */
#ifndef MESHGATE_MESH_HOST_H
#define MESHGATE_MESH_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "dataplane.h"
#include "mesh/dh.h"
#include "mesh/splitdns.h"

struct resolver;

/*
 * A peer the mesh gives the node (from a netmap), next to the config's
 * static peers. allowed_ips: its mesh addresses, the routes it is primary
 * for and, for an approved exit node, the defaults; the first n_addresses
 * are its own mesh addresses (its name's in DNS). candidates: the
 * endpoints to try at once. When set_endpoint is true the peer is pointed
 * at endpoint (a direct address or a relay endpoint) even if it has one.
 */
struct mesh_peer {
	char name[64];
	uint32_t id; /* the coordinator's registry id; 0: none (the coordinator before a netmap) */
	uint8_t public_key[32];
	struct prefix *allowed_ips;
	size_t n_allowed_ips;
	size_t n_addresses;
	struct wg_endpoint candidates[8];
	size_t n_candidates;
	bool set_endpoint;
	struct wg_endpoint endpoint;
	bool exit_offered;  /* its exit offer is approved and it is online: usable */
	bool exit_approved; /* its exit offer is approved, online or not */
	bool exit_pending;  /* it offers an exit the coordinator has not approved */
	bool online;        /* as the coordinator sees it */
};

/*
 * A stock WireGuard device (mesh/netmap.h) in the mesh. attached: this node
 * is its hub, holds it as an engine peer (public_key, allowed IPs = its
 * addresses, no endpoint: the device dials in) and forwards for it: to the
 * mesh, to other nodes' subnet routes through the mesh, to its own served
 * routes, and to the internet through its own served exit when exit_node.
 * Devices of other hubs are listed for names and status; their addresses
 * are already in the hub peer's allowed IPs.
 */
struct mesh_device {
	char name[64];
	char hub[64]; /* the hub's node name */
	bool attached;
	uint8_t public_key[32]; /* attached only */
	struct prefix addresses[2];
	size_t n_addresses;
	bool exit_node;
};

/*
 * A peer's approved split DNS offer (mesh/splitdns.h), in netmap order
 * (lowest id first). usable: the router is online and primary for a route
 * holding the server (its queries reach it through the mesh); otherwise
 * the domain's names get SERVFAIL, never another resolver.
 */
struct mesh_split_dns {
	struct split_dns dns;
	char via[64]; /* the router's node name */
	bool usable;
};

/* What the coordinator approved of this node's own offer (its netmap's
 * self): the routes (exit offers may be among them, they are ignored) and
 * whether the exit offer is approved. The plan serves config ∩ this. */
struct mesh_approved {
	const struct prefix *routes;
	size_t n_routes;
	bool exit_node;
};

/* One reconfigure: everything the node takes from the mesh. approved NULL:
 * nothing of the node's offer is approved (before the first netmap). */
struct netmap_dns;
struct acl_filter;

struct mesh_view {
	const struct mesh_peer *peers;
	size_t n_peers;
	const struct prefix *addresses; /* with the mesh prefix's length */
	size_t n_addresses;
	const struct mesh_approved *approved;
	const struct mesh_device *devices; /* every device in the mesh */
	size_t n_devices;
	/* The mesh's names from the netmap (domain, static records); NULL:
	 * none yet, or the netmap carries none. */
	const struct netmap_dns *dns;
	/* This node's name in the netmap (the registry may have made the
	 * hostname unique); NULL: none yet, the config's hostname. */
	const char *self_name;
	uint32_t self_id; /* its registry id; 0: none yet */
	/* The access policy this node enforces (acl/filter.h), from the
	 * netmap; NULL: none (allow). */
	const struct acl_filter *policy;
	/* The peers' approved split DNS offers; this node's own is its
	 * config's (subnet_router.dns) with its approved routes. */
	const struct mesh_split_dns *split_dns;
	size_t n_split_dns;
};

/* What the engine knows of a peer (peer_facts). */
struct mesh_peer_facts {
	char name[64];
	bool has_endpoint;
	struct wg_endpoint endpoint;
	bool session;          /* a current session to send with */
	time_t last_handshake; /* wall clock s; 0: never */
	/* Handshake retransmissions since the last initiation that was not
	 * one: unanswered ones pile up while the peer is not where its
	 * endpoint says (0 after a handshake completes). */
	unsigned handshake_attempts;
};

/* Counters the roles bump and the node reports (status drops). */
struct mesh_counters {
	/* PORT_PROBE datagrams dropped: malformed, or answering no request
	 * of this node ("mesh_probe"). */
	uint64_t rx_probe_dropped;
	/* RELAY datagrams the coordinator did not forward: not authentic,
	 * for no known node, or no way to send them on ("mesh_relay"). */
	uint64_t relay_dropped;
};

struct mesh_host_ops {
	/* Replaces the node's mesh state with view: TUN addresses, route
	 * plan, engine peers and the resolver's zone follow (sessions of
	 * peers that stay are kept). On an error the previous state stays
	 * and errbuf says why. */
	int (*reconfigure)(void *ctx, const struct mesh_view *view, char *errbuf, size_t errlen);
	uint16_t (*listen_port)(void *ctx);
	uint32_t (*fwmark)(void *ctx);
	/* out = X25519(static private key, pub); see mesh/dh.h. */
	bool (*static_dh)(void *ctx, uint8_t out[32], const uint8_t pub[32]);
	/* false: no engine peer with this key. */
	bool (*peer_facts)(void *ctx, const uint8_t key[32], struct mesh_peer_facts *out);
	/* Starts a handshake with the peer; true when an initiation was
	 * queued (the engine sends none within REKEY_TIMEOUT of its last). */
	bool (*peer_kick)(void *ctx, const uint8_t key[32]);
	/* Points the peer at ep (a relay endpoint when ep->relay_via). */
	void (*peer_set_endpoint)(void *ctx, const uint8_t key[32], const struct wg_endpoint *ep);
	/* Installs the role's data plane hooks and the engine's relay path
	 * check (NULL: none); with NULL ops removes them if role's are in. */
	void (*set_hooks)(void *ctx, const struct dataplane_mesh_ops *ops,
			  bool (*relay_check)(void *role, const uint8_t key[32],
					      uint32_t relay_via),
			  void *role);
	/* The outgoing UDP batch, for datagrams sent outside the packet
	 * hooks; flush sends what is queued (handshakes, join requests). */
	struct pkt_batch *(*udp_out)(void *ctx);
	void (*flush)(void *ctx);
};

/* The node as a role sees it. cfg, tun_name and counters belong to the node
 * and outlive the role; cfg changes on reload. */
struct mesh_host {
	const struct mesh_host_ops *ops;
	void *ctx;
	struct loop *loop;
	struct resolver *resolver;   /* resolve.h; NULL: names are not re-resolved */
	const struct mg_config *cfg; /* state_dir, hostname, join, coordinator.*, offers */
	const char *tun_name;
	const uint8_t *public_key; /* 32 bytes; follows a change of the node's key */
	struct mesh_counters *counters;
};

/* The host's static_dh as what join.h and relay.h take. */
static inline struct mesh_dh mesh_host_dh(const struct mesh_host *host)
{
	return (struct mesh_dh){ host->ops->static_dh, host->ctx };
}

#endif
