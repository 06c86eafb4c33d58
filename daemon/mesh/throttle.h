/*
 * The coordinator's per-node limits on the control channel: what one node
 * may cost it in registry writes and netmap pushes, whatever it sends.
 *
 * A sane member sends a "hello" when its channel opens and an "update" only
 * when its advertised routes, exit offer or local addresses changed
 * (client.c looks once a second), and reconnects after 1, 2, 4, 8 s. So:
 *  - hello/update: a bucket of MSG_BURST, refilled one per MSG_INTERVAL_S.
 *    The burst covers a start-up (hello, then addresses coming up one by
 *    one); the rate, a laptop changing networks every few seconds. A
 *    message over the limit is not lost: it becomes the node's pending one
 *    (the latest wins) and is applied when the bucket refills;
 *  - endpoints take effect at most once per ENDPOINT_INTERVAL_S: a change
 *    sooner waits as the pending message, so a value flapping between two
 *    endpoints costs one netmap per interval, and flapping back before the
 *    interval ends costs nothing;
 *  - reconnects: a bucket of CONNECT_BURST, one per CONNECT_INTERVAL_S;
 *    a connection over the limit is closed at once, and the node's backoff
 *    brings it back;
 *  - device requests (devmsg.h: each a registry transaction and a
 *    rebuild): a bucket of DEVICE_BURST, one per DEVICE_INTERVAL_S; one
 *    over the limit is refused ("try again"), not kept;
 *  - last_seen alone is written at most once per SEEN_INTERVAL_S;
 *  - the coordinator rebuilds at most once per REBUILD_INTERVAL_MS, so a
 *    burst of changes becomes one signed netmap per node.
 *
 * Pure: the caller passes the monotonic clock (ns).
 */
#ifndef MESHGATE_MESH_THROTTLE_H
#define MESHGATE_MESH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/hello.h"

enum {
	THROTTLE_MSG_BURST = 10,
	THROTTLE_MSG_INTERVAL_S = 5,
	THROTTLE_ENDPOINT_INTERVAL_S = 10,
	THROTTLE_CONNECT_BURST = 5,
	THROTTLE_CONNECT_INTERVAL_S = 10,
	THROTTLE_SEEN_INTERVAL_S = 60,
	THROTTLE_DEVICE_BURST = 10,
	THROTTLE_DEVICE_INTERVAL_S = 6,
	THROTTLE_REBUILD_INTERVAL_MS = 1000,
};

/* A token bucket: a token is worth `interval` ns; it holds at most
 * burst * interval. Starts full. */
struct throttle_bucket {
	uint64_t credit; /* ns */
	uint64_t last;   /* when credit was last brought up to date; 0: never */
};

/* Takes a token at now when there is one. */
bool throttle_bucket_take(struct throttle_bucket *b, uint64_t now, uint64_t interval,
			  unsigned burst);
/* When the next token is there (now when there is one already). */
uint64_t throttle_bucket_ready(const struct throttle_bucket *b, uint64_t now, uint64_t interval,
			       unsigned burst);

struct throttle_node {
	uint32_t node_id;
	struct throttle_bucket msgs, connects, devices;
	struct mesh_hello *pending; /* the latest message not yet applied; owned */
	uint64_t pending_due;       /* when to try it again */
	uint64_t endpoints_at;      /* when its endpoints last took effect; 0: never */
	uint64_t seen_at;           /* when last_seen alone was last written; 0: never */
};

struct throttle {
	struct throttle_node *v;
	size_t n, cap;
};

/* The node's state, added when missing; NULL on ENOMEM. Valid until the
 * next call that adds or forgets a node. */
struct throttle_node *throttle_node(struct throttle *t, uint32_t node_id);

/* Keeps a copy of hello as the node's pending message, replacing any
 * older one, due at due. -ENOMEM. */
int throttle_defer(struct throttle_node *tn, const struct mesh_hello *hello, uint64_t due)
    __attribute__((warn_unused_result));

/* Drops the pending message. */
void throttle_clear(struct throttle_node *tn);

/* Whether the node's endpoints may take effect at now. */
bool throttle_endpoints_allowed(const struct throttle_node *tn, uint64_t now);

/* Forgets a node (removed from the mesh). */
void throttle_forget(struct throttle *t, uint32_t node_id);

void throttle_free(struct throttle *t);

#endif
