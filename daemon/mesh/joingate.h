/*
 * The coordinator's gate for JOIN_REQUEST datagrams (join.h): the checks a
 * request passes, cheapest first, before the coordinator spends a public-key
 * operation or a registry transaction on it, as WireGuard gates handshake
 * initiations:
 *
 *   1. an invite is live (joingate_set_live(): no live invite, no work);
 *   2. the size and mac1 (keyed from the coordinator's public key);
 *   3. a per-source rate limit (wg/ratelimiter.h, a table of its own);
 *   4. under load (more than JOINGATE_LOAD_PER_SECOND requests passed 3 in
 *      the last second, and for one second after), a valid mac2, or the
 *      sender gets a JOIN_COOKIE (joingate_cookie_create()) instead;
 *   5. a nonce not opened before (the replay table).
 *
 * After the box opens, joingate_remember() records the nonce until the
 * request's timestamp leaves the clock window (MESH_JOIN_CLOCK_SKEW), so a
 * captured request cannot be replayed to force another registry
 * transaction. The table has a fixed size; when a nonce finds no free slot
 * the request is refused, never an earlier nonce forgotten.
 *
 * Every refusal is counted by reason (joingate_drop_name(), the status
 * document's daemon.drops). Not thread-safe; time is injected (monotonic ns
 * for the load and rate limit, wall-clock seconds for invites and nonces).
 */
#ifndef MESHGATE_MESH_JOINGATE_H
#define MESHGATE_MESH_JOINGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mesh/protocol.h"
#include "wg/cookie.h"
#include "wg/ratelimiter.h"

enum joingate_limits {
	/* A single-use invite keeps the gate open this long after its use:
	 * the joiner's answer may be lost and it asks again. */
	JOINGATE_USED_GRACE_S = 60,
	JOINGATE_LOAD_PER_SECOND = 8,
	JOINGATE_SOURCES = 4096, /* rate limiter table */
	JOINGATE_REPLAY_BUCKETS = 512,
	JOINGATE_REPLAY_WAYS = 8, /* nonces per bucket: 4096 in all */
};

enum joingate_drop {
	JOINGATE_DROP_NO_INVITE, /* no invite live */
	JOINGATE_DROP_MAC,       /* malformed, or mac1 wrong */
	JOINGATE_DROP_RATELIMIT, /* the source's share is used up */
	JOINGATE_DROP_COOKIE,    /* under load without mac2: answered with a cookie */
	JOINGATE_DROP_REPLAY,    /* a nonce opened before */
	JOINGATE_DROP_FULL,      /* the replay table has no room */
	JOINGATE_DROP_BOX,       /* passed the gate, but the box does not open */
	JOINGATE_DROP_COUNT
};

enum joingate_verdict { JOINGATE_PASS, JOINGATE_DROP, JOINGATE_SEND_COOKIE };

struct joingate_nonce {
	uint8_t nonce[MESH_NONCE_LEN];
	int64_t expires; /* wall-clock s; the slot is free from then on (0: never used) */
};

struct joingate {
	struct cookie_checker checker;
	struct ratelimiter rl;
	uint8_t bucket_key[16]; /* SipHash key choosing a nonce's bucket */
	struct joingate_nonce *nonces;
	int64_t live_until; /* wall-clock s: the gate is open while now is before it */
	uint64_t load_window_start, last_under_load; /* monotonic ns */
	unsigned load_window_count;
	uint64_t drops[JOINGATE_DROP_COUNT];
};

/* Keys mac1 and cookies from the coordinator's public key; the gate starts
 * closed. 0, -ENOMEM. */
int joingate_init(struct joingate *g, const uint8_t coordinator_public[32])
    __attribute__((warn_unused_result));

/* Frees the tables and wipes the secrets; safe on a zeroed struct. */
void joingate_deinit(struct joingate *g);

/* Opens the gate until live_until (wall-clock s; 0 closes it, INT64_MAX
 * never closes): the end of the last live invite (joingate_live_until()). */
void joingate_set_live(struct joingate *g, int64_t live_until);

/* Whether the gate is open at now (wall-clock s). */
bool joingate_open(const struct joingate *g, int64_t now);

/*
 * Steps 1 to 5 for a JOIN_REQUEST of len bytes from src. JOINGATE_PASS:
 * open it (and joingate_remember() its nonce); JOINGATE_SEND_COOKIE: answer
 * with joingate_cookie_create(); JOINGATE_DROP: stay silent. Counts drops.
 */
enum joingate_verdict joingate_check(struct joingate *g, const uint8_t *msg, size_t len,
				     const struct sockaddr *src, uint64_t now_ns, int64_t now);

/* A JOIN_COOKIE for msg (after JOINGATE_SEND_COOKIE) into buf. */
int joingate_cookie_create(struct joingate *g, uint8_t *buf, size_t cap, size_t *len,
			   const uint8_t *msg, size_t msg_len, const struct sockaddr *src,
			   uint64_t now_ns) __attribute__((warn_unused_result));

/*
 * Records the nonce of a request whose box opened, with its timestamp:
 * kept until the timestamp leaves the clock window (from now, for a stale
 * one). -EALREADY when the nonce is known (a replay), -ENOSPC when its
 * bucket is full; both counted as drops.
 */
int joingate_remember(struct joingate *g, const uint8_t nonce[MESH_NONCE_LEN], int64_t timestamp,
		      int64_t now) __attribute__((warn_unused_result));

/* Counts a request that passed the gate but did not open. */
void joingate_box_failed(struct joingate *g);

/* Collects idle rate limiter entries; call about once a second. */
void joingate_tick(struct joingate *g, uint64_t now_ns);

/* The drop reason's name in the status document ("join_mac", ...). */
const char *joingate_drop_name(enum joingate_drop reason);

/* An invite as the gate sees it. */
struct joingate_invite {
	int64_t expires_at; /* 0: never */
	bool reusable;
	int64_t used_at; /* 0: not used */
};

/* When an invite stops admitting joins: its expiry, or for a used
 * single-use one the end of JOINGATE_USED_GRACE_S; INT64_MAX for never. */
int64_t joingate_invite_end(const struct joingate_invite *inv);

#endif
