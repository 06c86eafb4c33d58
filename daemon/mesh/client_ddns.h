/*
 * The coordinator's endpoint names, followed (ddns.h): the names among the
 * invite's endpoints are looked up through the host's resolver before the
 * join requests go out (none goes to a name not yet answered); once joined,
 * the names among coord_eps are looked up again every DDNS_INTERVAL_S, and
 * every DDNS_RETRY_S while the coordinator looks failed: no control
 * connection, or DDNS_FAILED_ATTEMPTS handshake retransmissions unanswered.
 * A changed address becomes relay_addr (saved in mesh.json with the name's
 * address) and the coordinator peer's endpoint, and the relayed paths move
 * with it. An unchanged one leaves the peer where roaming put it. Without
 * a resolver (host->resolver NULL) names are neither followed nor used.
 */
#ifndef MESHGATE_MESH_CLIENT_DDNS_H
#define MESHGATE_MESH_CLIENT_DDNS_H

#include <stdbool.h>
#include <stddef.h>

#include "ddns.h"

struct mesh_client;

/* Names to follow from coord_eps (after a join or loading the state); the
 * addresses known from before are kept. */
void client_ddns_coord_reset(struct mesh_client *mc);

/* Names to look up from the invite's endpoints (a join starts). */
void client_ddns_join_reset(struct mesh_client *mc);

/* Asks for what is due; on the role's timer. */
void client_ddns_tick(struct mesh_client *mc);

/* An answer for coord_eps[i]: the change, if any, applied. */
void client_ddns_coord_answer(struct mesh_client *mc, size_t i, const struct resolver_result *res);

/* The followed endpoint name (ddns.h) of the peer with this key: for the
 * coordinator, the name relay_addr came from, else its first; NULL for
 * other peers and a coordinator without names. */
const struct ddns_name *mesh_client_endpoint_name(const struct mesh_client *mc,
						  const uint8_t key[32]);

/* Cancels every lookup of the role. */
void client_ddns_cancel(struct mesh_client *mc);

#endif
