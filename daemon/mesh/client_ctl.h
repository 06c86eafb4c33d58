/*
 * The client role's control channel: a TCP connection to the coordinator's
 * mesh address (through the tunnel), hellos and updates, netmaps in, port
 * probes, reconnects with backoff.
 */
#ifndef MESHGATE_MESH_CLIENT_CTL_H
#define MESHGATE_MESH_CLIENT_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct channel;
struct mesh_client;
struct prefix;
struct mesh_peer_facts;
struct path;

/* A message from the coordinator (netmap, port probe reply, observed,
 * device reply); false closes the channel. */
bool client_on_msg(void *ctx, struct channel *ch, const json_t *msg);
/* The channel closed (or gave up connecting): reconnect after a backoff. */
void client_on_closed(void *ctx, struct channel *ch);
/* Once a second: connects, sends an update that changed, asks for a port
 * probe when one is due. */
void client_control_tick(struct mesh_client *mc);

#endif
