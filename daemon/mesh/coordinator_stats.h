/*
 * The coordinator's counters (status "daemon" object, "mesh_control";
 * /metrics), kept apart so that the role's files and the role's users can
 * both see them.
 */
#ifndef MESHGATE_MESH_COORDINATOR_STATS_H
#define MESHGATE_MESH_COORDINATOR_STATS_H

#include <stdint.h>

/* What the control channel's limits did, since start (status "daemon"
 * object, "mesh_control"; /metrics). */
struct coordinator_stats {
	uint64_t updates_deferred;    /* hello/update over the node's rate: kept, applied later */
	uint64_t endpoints_debounced; /* endpoint changes held to the node's interval */
	uint64_t reconnects_refused;  /* connections over the node's reconnect rate, closed */
	uint64_t writes_skipped;      /* registry writes left out: nothing changed */
	uint64_t rebuilds;            /* netmap rebuilds (each compares every node's view) */
	uint64_t netmaps_pushed;      /* signed netmaps sent, one per changed view */
	uint64_t netmaps_oversize;    /* netmaps not sent: over the control line's 1 MiB */
	uint64_t lines_ignored;       /* blank, non-JSON or non-object lines from nodes */
};

#endif
