/*
 * The coordinator's control channel server (TCP MESH_CONTROL_PORT on its
 * mesh address): a connection per node, identified by the source address
 * inside the mesh; hellos and updates under the limits of throttle.h; port
 * probes; what the coordinator observes of each node's endpoint.
 */
#ifndef MESHGATE_MESH_CTLSERVER_H
#define MESHGATE_MESH_CTLSERVER_H

#include <stdint.h>

struct coordinator;

/* Listens on MESH_CONTROL_PORT; 0 or -errno. */
int coord_listen_control(struct coordinator *c);

/* Serves fd (a connected, non-blocking stream) as node_id's control
 * channel, in place of any it had; on_accept's for a known source, and a
 * test's. 0, or -ENOMEM with fd closed. */
int coord_conn_open(struct coordinator *c, int fd, uint32_t node_id)
    __attribute__((warn_unused_result));

/* Applies the hellos and updates held back by the limits that are due. */
void coord_pending_tick(struct coordinator *c, uint64_t now);

/* How many nodes' WireGuard packets arrive from addresses that are not this
 * host's: the port is reached from outside when that is not 0 (preflight). */
unsigned coordinator_port_reached(const struct coordinator *c);

#endif
