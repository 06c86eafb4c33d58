/*
 * The coordinator role (coordinator.enabled): the registry, joins over the
 * UDP port, the control channel server on the mesh address, netmap pushes,
 * relaying, and the admin commands behind the control socket. See README.md
 * in this folder for how it fits with the client role.
 */
#ifndef MESHGATE_MESH_COORDINATOR_H
#define MESHGATE_MESH_COORDINATOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mesh/host.h"

struct coordinator;

/* Name of the Ed25519 netmap signing key's seed file under state_dir. */
#define COORDINATOR_SIGN_KEY_FILE "coordinator.key"

/*
 * Starts the role on a running node (after its data plane is up): opens the
 * registry, loads or creates the signing key, registers the node itself,
 * gives it its mesh addresses, installs the data plane hooks and listens on
 * MESH_CONTROL_PORT. errbuf says what failed.
 */
int coordinator_start(struct coordinator **out, const struct mesh_host *host, char *errbuf,
		      size_t errlen) __attribute__((warn_unused_result));

/* Stops the role (closes connections and the registry); NULL-safe. */
void coordinator_stop(struct coordinator *c);

/* How many nodes' WireGuard packets arrive from addresses that are not this
 * host's: the port is reached from outside when that is not 0 (preflight). */
unsigned coordinator_port_reached(const struct coordinator *c);

/* What the control channel's limits did, since start (status "daemon"
 * object, "mesh_control"; /metrics). */
struct coordinator_stats {
	uint64_t updates_deferred;    /* hello/update over the node's rate: kept, applied later */
	uint64_t endpoints_debounced; /* endpoint changes held to the node's interval */
	uint64_t reconnects_refused;  /* connections over the node's reconnect rate, closed */
	uint64_t writes_skipped;      /* registry writes left out: nothing changed */
	uint64_t rebuilds;            /* netmap rebuilds (each compares every node's view) */
	uint64_t netmaps_pushed;      /* signed netmaps sent, one per changed view */
	uint64_t lines_ignored;       /* blank, non-JSON or non-object lines from nodes */
};

void coordinator_stats(const struct coordinator *c, struct coordinator_stats *out);

/* Adds the join gate's drop counters to the status document's drops object
 * (zero when c is NULL, so every node lists the same reasons). */
void coordinator_drops_json(const struct coordinator *c, json_t *drops);

/* Whether node_id has a control connection now (status). */
bool coordinator_node_online(const struct coordinator *c, uint32_t node_id);

/* The admin commands behind the control socket. */
#include "mesh/admin.h"

#endif
