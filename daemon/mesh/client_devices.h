/*
 * Devices hubbed by a member: `device add`/`device remove` on a node that
 * is not the coordinator go to the coordinator over the control channel
 * (devmsg.h); the control socket gets {"state": "pending", "request": ID}
 * at once and polls the outcome with `device_status` (devreq.h keeps it).
 * A done add comes with CONFIG, the hub's side of the device's wg-quick
 * file (devconf.h) from this node's netmap, mesh networks, the endpoint
 * the coordinator observes for it and its local addresses.
 */
#ifndef MESHGATE_MESH_CLIENT_DEVICES_H
#define MESHGATE_MESH_CLIENT_DEVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mesh_client;

/* Sends the request: {"state": "pending", "request": "<id>"} (new
 * reference), or NULL with a one-line errbuf (a bad name, not joined, no
 * control connection, every request slot waiting). */
json_t *mesh_client_device_add(struct mesh_client *mc, const char *name, const uint8_t key[32],
			       bool exit_node, char *errbuf, size_t errlen);
json_t *mesh_client_device_remove(struct mesh_client *mc, const char *name, char *errbuf,
				  size_t errlen);

/* The request's state: {"state": "pending", "request"}, {"state": "done",
 * "device", "config", "warnings"} for an add, {"state": "done", "removed"}
 * for a remove; NULL with errbuf when it failed or is not known. */
json_t *mesh_client_device_status(struct mesh_client *mc, const char *request, char *errbuf,
				  size_t errlen);

/* A device_reply from the coordinator; one for no waiting request is
 * ignored. */
void client_devices_reply(struct mesh_client *mc, const json_t *msg);

/* The control connection closed: waiting requests fail now. */
void client_devices_lost(struct mesh_client *mc);

#endif
