/*
 * The coordinator's join gate; see joingate.h.
 *
 * The replay table is a set-associative array: SipHash (keyed at init, so a
 * sender cannot aim nonces at one bucket) picks a bucket of
 * JOINGATE_REPLAY_WAYS slots, and a slot is free once its nonce's window
 * has passed. Lookup and insert touch one bucket and allocate nothing.
 */
#include "mesh/joingate.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/join.h"
#include "timeutil.h"

enum { UNDER_LOAD_AFTER_NS = NSEC_PER_SEC };

static const char *const drop_names[JOINGATE_DROP_COUNT] = {
	[JOINGATE_DROP_NO_INVITE] = "join_no_invite",
	[JOINGATE_DROP_MAC] = "join_mac",
	[JOINGATE_DROP_RATELIMIT] = "join_ratelimit",
	[JOINGATE_DROP_COOKIE] = "join_cookie",
	[JOINGATE_DROP_REPLAY] = "join_replay",
	[JOINGATE_DROP_FULL] = "join_replay_full",
	[JOINGATE_DROP_BOX] = "join_box",
};

_Static_assert(sizeof(((struct joingate *)0)->bucket_key) == crypto_shorthash_KEYBYTES,
	       "SipHash key");
_Static_assert(JOINGATE_REPLAY_BUCKETS > 0 &&
		   (JOINGATE_REPLAY_BUCKETS & (JOINGATE_REPLAY_BUCKETS - 1)) == 0,
	       "buckets: a power of two");

const char *joingate_drop_name(enum joingate_drop reason)
{
	return reason < JOINGATE_DROP_COUNT ? drop_names[reason] : "join_unknown";
}

int joingate_init(struct joingate *g, const uint8_t coordinator_public[32])
{
	uint8_t secret[RATELIMITER_SECRET_LEN];
	int ret;

	memset(g, 0, sizeof(*g));
	g->nonces =
	    calloc((size_t)JOINGATE_REPLAY_BUCKETS * JOINGATE_REPLAY_WAYS, sizeof(*g->nonces));
	if (!g->nonces)
		return -ENOMEM;
	randombytes_buf(secret, sizeof(secret));
	randombytes_buf(g->bucket_key, sizeof(g->bucket_key));
	ret = ratelimiter_init(&g->rl, JOINGATE_SOURCES, secret);
	sodium_memzero(secret, sizeof(secret));
	if (ret < 0) {
		joingate_deinit(g);
		return ret;
	}
	cookie_checker_init_labels(&g->checker, coordinator_public, &join_cookie_labels);
	return 0;
}

void joingate_deinit(struct joingate *g)
{
	ratelimiter_deinit(&g->rl);
	free(g->nonces);
	g->nonces = NULL;
	cookie_checker_wipe(&g->checker);
	sodium_memzero(g->bucket_key, sizeof(g->bucket_key));
}

void joingate_set_live(struct joingate *g, int64_t live_until)
{
	g->live_until = live_until;
}

bool joingate_open(const struct joingate *g, int64_t now)
{
	return now < g->live_until;
}

int64_t joingate_invite_end(const struct joingate_invite *inv)
{
	if (inv->used_at && !inv->reusable)
		return inv->used_at > INT64_MAX - JOINGATE_USED_GRACE_S
			   ? INT64_MAX
			   : inv->used_at + JOINGATE_USED_GRACE_S;
	return inv->expires_at ? inv->expires_at : INT64_MAX;
}

/* Counts a request that passed the rate limit against the one-second window;
 * whether the gate is under load (and stays so for UNDER_LOAD_AFTER_NS). */
static bool under_load(struct joingate *g, uint64_t now_ns)
{
	if (now_ns - g->load_window_start >= NSEC_PER_SEC) {
		g->load_window_start = now_ns;
		g->load_window_count = 0;
	}
	if (++g->load_window_count > JOINGATE_LOAD_PER_SECOND) {
		g->last_under_load = now_ns;
		return true;
	}
	return g->last_under_load && now_ns - g->last_under_load < UNDER_LOAD_AFTER_NS;
}

static bool source_bytes(const struct sockaddr *src, uint8_t out[COOKIE_SOURCE_MAX_LEN],
			 size_t *len)
{
	return cookie_source_from_sockaddr(src, out, len) == 0;
}

static bool rate_allowed(struct joingate *g, const struct sockaddr *src, uint64_t now_ns)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)src;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)src;

	return ratelimiter_allow(&g->rl, src->sa_family,
				 src->sa_family == AF_INET ? (const uint8_t *)&in4->sin_addr
							   : (const uint8_t *)&in6->sin6_addr,
				 now_ns);
}

static struct joingate_nonce *bucket_of(const struct joingate *g,
					const uint8_t nonce[MESH_NONCE_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, nonce, MESH_NONCE_LEN, g->bucket_key);
	memcpy(&v, h, sizeof(v));
	return g->nonces + (v & (JOINGATE_REPLAY_BUCKETS - 1)) * JOINGATE_REPLAY_WAYS;
}

static bool nonce_known(const struct joingate *g, const uint8_t nonce[MESH_NONCE_LEN], int64_t now)
{
	const struct joingate_nonce *b = bucket_of(g, nonce);

	for (int i = 0; i < JOINGATE_REPLAY_WAYS; i++)
		if (b[i].expires > now && !memcmp(b[i].nonce, nonce, MESH_NONCE_LEN))
			return true;
	return false;
}

static enum joingate_verdict drop(struct joingate *g, enum joingate_drop reason)
{
	g->drops[reason]++;
	return JOINGATE_DROP;
}

enum joingate_verdict joingate_check(struct joingate *g, const uint8_t *msg, size_t len,
				     const struct sockaddr *src, uint64_t now_ns, int64_t now)
{
	uint8_t source[COOKIE_SOURCE_MAX_LEN], secret[32] = { 0 };
	size_t source_len;
	bool loaded;
	enum cookie_mac_state state;

	if (!joingate_open(g, now))
		return drop(g, JOINGATE_DROP_NO_INVITE);
	if (len < JOIN_REQUEST_FIXED || len > MESH_JOIN_MAX ||
	    cookie_validate_macs(&g->checker, msg, len, NULL, 0, false, now_ns, secret) ==
		COOKIE_MAC_INVALID)
		return drop(g, JOINGATE_DROP_MAC);
	if (!source_bytes(src, source, &source_len) || !rate_allowed(g, src, now_ns))
		return drop(g, JOINGATE_DROP_RATELIMIT);
	loaded = under_load(g, now_ns);
	if (loaded) {
		if (cookie_checker_needs_secret(&g->checker, now_ns))
			randombytes_buf(secret, sizeof(secret));
		state = cookie_validate_macs(&g->checker, msg, len, source, source_len, true,
					     now_ns, secret);
		sodium_memzero(secret, sizeof(secret));
		if (state != COOKIE_MAC_VALID_WITH_COOKIE) {
			g->drops[JOINGATE_DROP_COOKIE]++;
			return JOINGATE_SEND_COOKIE;
		}
	}
	if (nonce_known(g, join_request_nonce(msg), now))
		return drop(g, JOINGATE_DROP_REPLAY);
	return JOINGATE_PASS;
}

int joingate_cookie_create(struct joingate *g, uint8_t *buf, size_t cap, size_t *len,
			   const uint8_t *msg, size_t msg_len, const struct sockaddr *src,
			   uint64_t now_ns)
{
	uint8_t source[COOKIE_SOURCE_MAX_LEN], nonce[COOKIE_NONCE_LEN], secret[32] = { 0 };
	size_t source_len;
	int ret;

	*len = 0;
	if (!source_bytes(src, source, &source_len))
		return -EAFNOSUPPORT;
	if (cookie_checker_needs_secret(&g->checker, now_ns))
		randombytes_buf(secret, sizeof(secret));
	randombytes_buf(nonce, sizeof(nonce));
	ret = join_cookie_create(buf, cap, len, msg, msg_len, source, source_len, &g->checker,
				 now_ns, nonce, secret);
	sodium_memzero(secret, sizeof(secret));
	return ret;
}

int joingate_remember(struct joingate *g, const uint8_t nonce[MESH_NONCE_LEN], int64_t timestamp,
		      int64_t now)
{
	struct joingate_nonce *b = bucket_of(g, nonce), *slot = NULL;
	bool fresh =
	    timestamp >= now - MESH_JOIN_CLOCK_SKEW && timestamp <= now + MESH_JOIN_CLOCK_SKEW;

	if (nonce_known(g, nonce, now)) {
		g->drops[JOINGATE_DROP_REPLAY]++;
		return -EALREADY;
	}
	for (int i = 0; i < JOINGATE_REPLAY_WAYS && !slot; i++)
		if (b[i].expires <= now)
			slot = &b[i];
	if (!slot) {
		g->drops[JOINGATE_DROP_FULL]++;
		return -ENOSPC;
	}
	memcpy(slot->nonce, nonce, MESH_NONCE_LEN);
	/* A fresh timestamp stays fresh until timestamp + skew; a stale one
	 * (any value) is kept as long from now. */
	slot->expires = (fresh ? timestamp : now) + MESH_JOIN_CLOCK_SKEW + 1;
	return 0;
}

void joingate_box_failed(struct joingate *g)
{
	g->drops[JOINGATE_DROP_BOX]++;
}

void joingate_tick(struct joingate *g, uint64_t now_ns)
{
	ratelimiter_gc(&g->rl, now_ns);
}
