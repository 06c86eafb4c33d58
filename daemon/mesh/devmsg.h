/*
 * The device messages of the control channel (protocol.h): a member asks
 * the coordinator to register or remove a stock WireGuard device it hubs,
 * and the coordinator answers.
 *
 *   node -> coordinator
 *     {"type": "device_add", "req": 7, "name": "phone",
 *      "public_key": "<base64>", "exit_node": false}
 *     {"type": "device_remove", "req": 8, "name": "phone"}
 *   coordinator -> node
 *     {"type": "device_reply", "req": 7, "error": null,
 *      "device": {"name": "phone", "addresses": [...], "hub": "nas",
 *                 "exit_node": false},
 *      "warnings": ["the exit of nas is not approved yet: ..."]}
 *     {"type": "device_reply", "req": 8, "error": "no device named phone"}
 *
 * "req" (1..2^32-1) is the node's number for the request; the reply carries
 * it back. The hub is always the node that sends: a member adds devices to
 * itself and removes only its own. "exit_node" is optional (false);
 * "device" comes with a successful add, "warnings" (strings) may come with
 * any success. Only the public key of a device ever travels.
 */
#ifndef MESHGATE_MESH_DEVMSG_H
#define MESHGATE_MESH_DEVMSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mesh/netmap.h"

enum { DEVMSG_ERROR_MAX = 255, DEVMSG_MAX_WARNINGS = 16 };

enum devmsg_kind { DEVMSG_ADD, DEVMSG_REMOVE };

struct devmsg_request {
	enum devmsg_kind kind;
	uint32_t req;
	char name[NETMAP_NAME_MAX + 1];
	uint8_t public_key[KEY_LEN]; /* add only */
	bool exit_node;              /* add only */
};

struct devmsg_reply {
	uint32_t req;
	char error[DEVMSG_ERROR_MAX + 1]; /* "": success */
	const json_t *device;             /* borrowed from the message; NULL: none */
	const json_t *warnings;           /* borrowed; an array of strings or NULL */
};

/* A device name by the rules of node names: 1 to 63 letters, digits, '-',
 * '_' or '.', not digits and dots alone. */
bool devmsg_name_valid(const char *name);

/* The message for r (new reference), or NULL. */
json_t *devmsg_request_create(const struct devmsg_request *r);

/* Reads a device_add or device_remove message (untrusted). -EINVAL with a
 * one-line errbuf for anything off; out->req is then nonzero when the
 * message had a usable "req", so the refusal can be answered. */
int devmsg_request_parse(const json_t *msg, struct devmsg_request *out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* A device_reply (new reference), or NULL. error NULL or "": success;
 * device and warnings (borrowed) may be NULL. */
json_t *devmsg_reply_create(uint32_t req, const char *error, const json_t *device,
			    const json_t *warnings);

/* Reads a device_reply; out borrows from msg. -EINVAL for a missing req, an
 * error that is neither null nor a string, a device that is not an object,
 * or warnings that are not an array of at most DEVMSG_MAX_WARNINGS strings.
 * An error text is cut to one line of printable characters. */
int devmsg_reply_parse(const json_t *msg, struct devmsg_reply *out)
    __attribute__((warn_unused_result));

#endif
