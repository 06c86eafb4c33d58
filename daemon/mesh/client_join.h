/*
 * Joining with an invite (client role): JOIN_REQUEST datagrams to the
 * invite's endpoints once a second until the answer or MESH_JOIN_TIMEOUT_S,
 * a cookie under load, and the saved state once joined.
 */
#ifndef MESHGATE_MESH_CLIENT_JOIN_H
#define MESHGATE_MESH_CLIENT_JOIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MESH_JOIN_TIMEOUT_S = 15 };

struct mesh_client;
struct prefix;
struct mesh_peer_facts;
struct path;

/* Sends one request to every endpoint of the invite. */
void client_join_send(struct mesh_client *mc);
/* Once a second while joining: takes an answer, gives up after
 * MESH_JOIN_TIMEOUT_S, or asks again. */
void client_join_tick(struct mesh_client *mc);

#endif
