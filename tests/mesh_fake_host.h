/*
 * A fake node for the mesh roles (mesh/host.h): ops that record what a role
 * asks of the node, with no engine, data plane or kernel behind them. Used
 * by test_mesh_host (the client) and fuzz_mesh_dispatch (both roles); a
 * coordinator on one, with a member, for test_devices and test_ctlserver.
 */
#ifndef MESHGATE_TEST_MESH_FAKE_HOST_H
#define MESHGATE_TEST_MESH_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "loop.h"
#include "mesh/host.h"
#include "mesh/roles.h"

enum { FAKE_HOST_MAX_CALLS = 8, FAKE_HOST_MAX_PEERS = 4 };

/* An engine peer: peer_facts answers from it. */
struct fake_peer {
	char name[64];
	uint8_t key[32];
	bool session;
	time_t last_handshake;
	bool has_endpoint;
	struct wg_endpoint endpoint; /* peer_set_endpoint sets it */
	unsigned handshake_attempts;
};

struct fake_host {
	uint8_t priv[32], pub[32]; /* the static key static_dh uses */
	struct fake_peer peers[FAKE_HOST_MAX_PEERS];
	size_t n_peers;
	struct pkt_batch *udp_out; /* what udp_out returns (NULL: none); flush empties it */
	/* What the role did. */
	unsigned reconfigures, dh_calls, flushes;
	size_t view_peers;
	char view_names[FAKE_HOST_MAX_CALLS][64];
	size_t view_allowed_ips[FAKE_HOST_MAX_CALLS];
	bool view_exit_offered[FAKE_HOST_MAX_CALLS];
	size_t view_devices;
	struct mesh_device view_device[FAKE_HOST_MAX_CALLS];
	size_t view_addresses;
	unsigned view_address_len;
	bool view_approved;
	bool view_policy; /* the view carried a filter: its revision, entries */
	uint32_t view_policy_revision;
	size_t view_policy_entries;
	uint8_t kicked[FAKE_HOST_MAX_CALLS][32];
	unsigned kicks;
	unsigned endpoint_sets; /* peer_set_endpoint calls, for any key */
	const struct dataplane_mesh_ops *hooks;
	void *hooks_role;
	bool relay_check;
};

/* The ops; their ctx is a struct fake_host. */
extern const struct mesh_host_ops fake_host_ops;

/* A coordinator named home (static key 0x22...) on a fake host, its state in
 * a temporary directory, with one member, laptop (key 0x44..., no offers). */
struct fake_coordinator {
	char dir[64];
	struct mg_config cfg;
	struct loop *loop;
	struct fake_host host;
	struct mesh_counters counters;
	struct mesh_roles roles;
	struct coordinator *c;
	uint32_t laptop; /* the member's node id */
};

/* Makes the directory (/tmp/mg-NAME-XXXXXX), the loop and the config of a
 * coordinator, for the caller to adjust before fake_coordinator_start(). */
int fake_coordinator_init(struct fake_coordinator *fc, const char *name);

/* Starts the roles on the config and registers laptop. */
int fake_coordinator_start(struct fake_coordinator *fc);

/* Stops the roles, frees what init made and removes the directory. */
void fake_coordinator_stop(struct fake_coordinator *fc);

#endif
