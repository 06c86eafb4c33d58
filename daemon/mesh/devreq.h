/*
 * A member's device requests to the coordinator (devmsg.h), kept for the
 * control socket, which polls them (`device_status`): a fixed table of
 * DEVREQ_SLOTS. A request waits for its reply at most DEVREQ_TIMEOUT_S,
 * then fails with "the coordinator did not answer"; an outcome is kept
 * DEVREQ_KEEP_S for polling, then forgotten. A new request takes a free
 * slot, else the slot of the oldest outcome; with every slot waiting it is
 * refused. A reply is taken only for a request that waits (an unknown,
 * expired or repeated req is ignored).
 *
 * Pure: the caller passes the monotonic clock (ns).
 */
#ifndef MESHGATE_MESH_DEVREQ_H
#define MESHGATE_MESH_DEVREQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mesh/devmsg.h"

enum { DEVREQ_SLOTS = 8, DEVREQ_TIMEOUT_S = 15, DEVREQ_KEEP_S = 60 };

enum devreq_state { DEVREQ_FREE, DEVREQ_PENDING, DEVREQ_DONE, DEVREQ_FAILED };

struct devreq {
	enum devreq_state state;
	struct devmsg_request msg;        /* kind, req, name, public key, exit */
	uint64_t deadline;                /* pending: fails then; an outcome: forgotten then */
	uint64_t since;                   /* when the outcome came */
	json_t *device;                   /* done add: DEVICE (owned) */
	json_t *warnings;                 /* done: an array of strings (owned), or NULL */
	char error[DEVMSG_ERROR_MAX + 1]; /* failed */
};

struct devreq_table {
	struct devreq v[DEVREQ_SLOTS];
	uint32_t next; /* the next req number; never 0 */
};

/* An empty table whose numbers start at first (0 is skipped). */
void devreq_init(struct devreq_table *t, uint32_t first);

/* Releases what the slots own; the table is empty after. */
void devreq_free(struct devreq_table *t);

/* A new pending request, msg with its req number set; NULL when every slot
 * waits. Valid until the next call that takes a slot. */
struct devreq *devreq_open(struct devreq_table *t, const struct devmsg_request *msg, uint64_t now);

/* Frees the slot (the request could not be sent). */
void devreq_drop(struct devreq *d);

/* The request numbered req after expiry at now, or NULL. */
struct devreq *devreq_find(struct devreq_table *t, uint32_t req, uint64_t now);

/* Takes a reply: true when it answered a waiting request. */
bool devreq_answer(struct devreq_table *t, const struct devmsg_reply *r, uint64_t now);

/* Fails every waiting request with error (the connection closed). */
void devreq_fail_pending(struct devreq_table *t, const char *error, uint64_t now);

/* Fails the requests past their timeout, forgets outcomes past keeping. */
void devreq_expire(struct devreq_table *t, uint64_t now);

#endif
