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

/* Applies the hellos and updates held back by the limits that are due. */
void coord_pending_tick(struct coordinator *c, uint64_t now);

/* How many nodes' WireGuard packets arrive from addresses that are not this
 * host's: the port is reached from outside when that is not 0 (preflight). */
unsigned coordinator_port_reached(const struct coordinator *c);

#endif
