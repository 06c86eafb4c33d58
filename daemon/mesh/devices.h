/*
 * The coordinator's device service: stock WireGuard devices (phones,
 * laptops with the official app) registered in the registry and attached to
 * a node, their hub. Used by the control commands when the coordinator is
 * the hub (roles.c) and for members' requests on the control channel
 * (ctlserver.c). Beside joinsvc.c and admin.c: calls views.c (rebuilds,
 * its own netmap), never the other way round.
 *
 * DEVICE, as the commands answer it (never a key):
 *   {"name": "phone", "addresses": ["100.64.0.7/32", "fd7a:6d67:7465::7/128"],
 *    "hub": "home", "exit_node": false}
 */
#ifndef MESHGATE_MESH_DEVICES_H
#define MESHGATE_MESH_DEVICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct audit_actor;
struct coordinator;
struct registry_device;

/*
 * Registers device name (key) hubbed by node hub_id (the coordinator's own
 * registry id when it is the hub: coordinator_self_id()). One transaction;
 * on success *device = DEVICE json (new ref), warnings (a json array, may
 * be NULL) gets the warnings appended, and a rebuild is scheduled. Errors,
 * each with a one-line errbuf and nothing written: -EINVAL a bad name,
 * -ENOENT no such hub, -EOPNOTSUPP exit_node when the hub offers no exit,
 * -EEXIST the name is a node's or a device's, or the key is, -EPERM a
 * revoked key (a removed device's), -ENOSPC no free address or the hub
 * has NETMAP_MAX_DEVICES already, another
 * -errno when the registry fails. The audit log records who (NULL:
 * "daemon") added it, in the same transaction.
 */
int coord_device_add(struct coordinator *c, int64_t hub_id, const char *name, const uint8_t key[32],
		     bool exit_node, const struct audit_actor *who, json_t **device,
		     json_t *warnings, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Removes it (key revoked) when hub_id is 0 (any hub) or its hub, and
 * schedules a rebuild. -ENOENT "no device named NAME", -EPERM when it is
 * attached to another hub. Recorded in the audit log as for adding. */
int coord_device_remove(struct coordinator *c, int64_t hub_id, const char *name,
			const struct audit_actor *who, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* DEVICE for d, attached to the node named hub (new reference). */
json_t *coord_device_json(const struct registry_device *d, const char *hub);

/* The coordinator's own registry id: the hub id of its own devices. */
uint32_t coordinator_self_id(const struct coordinator *c);

/*
 * The control commands on the coordinator, which is then the hub; the
 * views are rebuilt at once, so the device's engine peer is in place (or
 * gone) when the command answers. device_add's result:
 *   {"state": "done", "device": DEVICE, "config": CONFIG (mesh/devconf.h),
 *    "warnings": ["..."]}
 * device_remove's: {"state": "done", "removed": NAME}. NULL with errbuf
 * set on an error.
 */
json_t *coordinator_device_add(struct coordinator *c, const char *name, const uint8_t key[32],
			       bool exit_node, const struct audit_actor *who, char *errbuf,
			       size_t errlen);
json_t *coordinator_device_remove(struct coordinator *c, const char *name,
				  const struct audit_actor *who, char *errbuf, size_t errlen);

#endif
