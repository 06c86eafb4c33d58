/*
 * The path to each peer, for the client role: a peer without a session on its
 * direct path for MESH_DIRECT_TIMEOUT_S goes through the coordinator's relay;
 * while relayed, the direct candidates are probed every MESH_RELAY_PROBE_S
 * and roaming takes a direct path back. Engine facts and handshakes go
 * through the host.
 */
#ifndef MESHGATE_MESH_CLIENT_PATHS_H
#define MESHGATE_MESH_CLIENT_PATHS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MESH_DIRECT_TIMEOUT_S = 10, /* no session on a direct path: relay */
	/* While relayed, try the direct paths again (and at once on a new
	 * netmap). Below a third of the 30 s a NAT such as Linux's keeps an
	 * unanswered UDP mapping: both sides probe, and one side's mapping must
	 * still be open when the other's probe arrives, even after a lost one. */
	MESH_RELAY_PROBE_S = 10,
};

struct mesh_client;
struct prefix;
struct mesh_peer_facts;
struct path;

/* One path per non-coordinator peer of the netmap in use; a new one that
 * is online and has no session yet gets a handshake. */
void client_paths_update(struct mesh_client *mc);
/* The path to the peer with key; NULL: none (the coordinator has none). */
struct path *client_path_find(struct mesh_client *mc, const uint8_t *key);
/* Once a second: relays a peer silent on its direct path, probes the
 * direct candidates of a relayed one. */
void client_paths_tick(struct mesh_client *mc);

#endif
