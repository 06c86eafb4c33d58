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

#include "mesh/coordinator_stats.h"
#include "mesh/ctlserver.h"
#include "mesh/host.h"
#include "mesh/signkey.h"
#include "mesh/stunclient.h"

struct coordinator;

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

void coordinator_stats(const struct coordinator *c, struct coordinator_stats *out);

/* What STUN learned of the public address (status, /metrics). */
void coordinator_stun(const struct coordinator *c, struct stunclient_status *out);

/* Whether node_id has a control connection now (status). */
bool coordinator_node_online(const struct coordinator *c, uint32_t node_id);

/* The admin commands behind the control socket. */
#include "mesh/admin.h"

#endif
