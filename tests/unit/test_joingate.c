/*
 * The coordinator's join gate (daemon/mesh/joingate.c): no work while no
 * invite is live, mac1 before anything else, the per-source rate limit,
 * cookies under load and the mac2 that passes them, replayed nonces, a full
 * replay table, and the end of an invite as the gate sees it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "mesh/join.h"
#include "mesh/joingate.h"
#include "test_dh.h"
#include "testlib.h"

#define SEC 1000000000ull

static const int64_t now = 1795300000;
static const uint64_t t0 = 5000 * SEC;

static struct {
	uint8_t joiner_priv[32], joiner_pub[32], coord_priv[32], coord_pub[32];
} k;

static void keys_setup(void)
{
	memset(k.joiner_priv, 0x11, 32);
	memset(k.coord_priv, 0x22, 32);
	crypto_scalarmult_base(k.joiner_pub, k.joiner_priv);
	crypto_scalarmult_base(k.coord_pub, k.coord_priv);
}

static struct sockaddr_in source(uint8_t host)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(41641) };

	sa.sin_addr.s_addr = htonl(0xc0000200u | host); /* 192.0.2.host */
	return sa;
}

/* A genuine request with this nonce byte (and mac2 from ck when given). */
static size_t request(uint8_t *buf, uint8_t nonce_byte, struct cookie *ck, uint64_t t)
{
	struct join_request req = { .invite_id = 7, .timestamp = now };
	uint8_t nonce[MESH_NONCE_LEN];
	size_t len = 0;

	memset(nonce, nonce_byte, sizeof(nonce));
	memcpy(req.joiner_key, k.joiner_pub, 32);
	memset(req.secret, 0x5a, sizeof(req.secret));
	req.hello = json_pack("{s:s}", "hostname", "laptop");
	if (join_request_create(buf, MESH_JOIN_MAX, &len, &req, DH_OF(k.joiner_priv), k.coord_pub,
				nonce) != 0)
		len = 0;
	if (ck)
		cookie_add_macs(buf, len, ck, t);
	join_request_clear(&req);
	return len;
}

static enum joingate_verdict check(struct joingate *g, const uint8_t *msg, size_t len, uint8_t host,
				   uint64_t t)
{
	struct sockaddr_in sa = source(host);

	return joingate_check(g, msg, len, (const struct sockaddr *)&sa, t, now);
}

static bool gate_up(struct joingate *g)
{
	if (!CHECK_EQ_INT(joingate_init(g, k.coord_pub), 0))
		return false;
	joingate_set_live(g, now + 3600);
	return true;
}

/* No live invite: every request is dropped before mac1, counted. */
static void test_no_invite(void)
{
	struct joingate g;
	uint8_t buf[MESH_JOIN_MAX];
	size_t len = request(buf, 1, NULL, 0);

	if (!CHECK_EQ_INT(joingate_init(&g, k.coord_pub), 0))
		return;
	CHECK(!joingate_open(&g, now));
	CHECK_EQ_INT(check(&g, buf, len, 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_NO_INVITE], 1);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_MAC], 0);
	joingate_set_live(&g, now + 1);
	CHECK_EQ_INT(check(&g, buf, len, 1, t0), JOINGATE_PASS);
	joingate_set_live(&g, now); /* ended */
	CHECK_EQ_INT(check(&g, buf, len, 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_NO_INVITE], 2);
	joingate_deinit(&g);
}

/* A request whose box would open but whose mac1 is wrong (or that is
 * junk) is dropped by the gate: no X25519 is reached. */
static void test_mac1_first(void)
{
	struct joingate g;
	struct join_request out;
	uint8_t buf[MESH_JOIN_MAX], junk[300];
	size_t len = request(buf, 2, NULL, 0);

	if (!gate_up(&g))
		return;
	buf[len - 32] ^= 1; /* mac1 */
	CHECK_EQ_INT(check(&g, buf, len, 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &out),
		     0); /* box is fine */
	join_request_clear(&out);
	randombytes_buf(junk, sizeof(junk));
	memcpy(junk, "\x81\0\0\0", 4);
	CHECK_EQ_INT(check(&g, junk, sizeof(junk), 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(check(&g, junk, 3, 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(check(&g, buf, MESH_JOIN_MAX + 1, 1, t0), JOINGATE_DROP);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_MAC], 4);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_RATELIMIT] + g.drops[JOINGATE_DROP_REPLAY], 0);
	joingate_deinit(&g);
}

/* One source gets the rate limiter's burst, then its refill; another
 * source is not affected. Distinct nonces, so only the limit speaks. */
static void test_rate_limit(void)
{
	struct joingate g;
	uint8_t buf[MESH_JOIN_MAX];
	unsigned passed = 0;

	if (!gate_up(&g))
		return;
	for (unsigned i = 0; i < 50; i++) {
		size_t len = request(buf, (uint8_t)(10 + i), NULL, 0);
		passed += check(&g, buf, len, 1, t0 + i) == JOINGATE_PASS;
	}
	CHECK_EQ_INT(passed, RATELIMITER_PACKETS_BURST);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_RATELIMIT], 50 - RATELIMITER_PACKETS_BURST);
	CHECK_EQ_INT(check(&g, buf, request(buf, 99, NULL, 0), 2, t0 + SEC / 2), JOINGATE_PASS);
	CHECK_EQ_INT(check(&g, buf, request(buf, 98, NULL, 0), 1, t0 + 3 * SEC), JOINGATE_PASS);
	joingate_deinit(&g);
}

/* Over JOINGATE_LOAD_PER_SECOND requests a second: the rest get a cookie;
 * the joiner that takes it passes with mac2 from its own source only. */
static void test_cookie_under_load(void)
{
	struct joingate g;
	struct cookie ck;
	struct sockaddr_in sa = source(200);
	uint8_t buf[MESH_JOIN_MAX], reply[JOIN_COOKIE_LEN];
	unsigned host = 1;
	size_t len, rlen;

	if (!gate_up(&g))
		return;
	/* Many sources, each within its own limit, push the gate under load. */
	for (unsigned i = 0; i <= JOINGATE_LOAD_PER_SECOND; i++) {
		len = request(buf, (uint8_t)(100 + i), NULL, 0);
		check(&g, buf, len, (uint8_t)host++, t0 + i);
	}
	cookie_init_labels(&ck, k.coord_pub, &join_cookie_labels);
	len = request(buf, 150, &ck, t0);
	CHECK_EQ_INT(check(&g, buf, len, 200, t0 + 100), JOINGATE_SEND_COOKIE);
	CHECK(g.drops[JOINGATE_DROP_COOKIE] >= 2);
	CHECK_EQ_INT(joingate_cookie_create(&g, reply, sizeof(reply), &rlen, buf, len,
					    (const struct sockaddr *)&sa, t0 + 100),
		     0);
	CHECK_EQ_INT(join_cookie_consume(reply, rlen, &ck, t0 + 200), 0);
	len = request(buf, 151, &ck, t0 + 300);
	CHECK_EQ_INT(check(&g, buf, len, 200, t0 + 400), JOINGATE_PASS);
	CHECK_EQ_INT(check(&g, buf, len, 201, t0 + 500), JOINGATE_SEND_COOKIE);
	/* A second later with nothing else, the load is over. */
	len = request(buf, 152, NULL, 0);
	CHECK_EQ_INT(check(&g, buf, len, 202, t0 + 3 * SEC), JOINGATE_PASS);
	joingate_deinit(&g);
}

/* A nonce that opened once is refused before the box, until its
 * timestamp's window has passed; a full bucket refuses new nonces. */
static void test_replay(void)
{
	struct joingate g;
	uint8_t buf[MESH_JOIN_MAX], nonce[MESH_NONCE_LEN];
	size_t len;
	int full = 0;

	if (!gate_up(&g))
		return;
	len = request(buf, 3, NULL, 0);
	CHECK_EQ_INT(check(&g, buf, len, 1, t0), JOINGATE_PASS);
	CHECK_EQ_INT(joingate_remember(&g, join_request_nonce(buf), now, now), 0);
	CHECK_EQ_INT(check(&g, buf, len, 2, t0 + SEC), JOINGATE_DROP);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_REPLAY], 1);
	CHECK_EQ_INT(joingate_remember(&g, join_request_nonce(buf), now, now), -EALREADY);
	/* Still refused at the end of the window, free after it (the
	 * timestamp is stale by then). */
	joingate_set_live(&g, INT64_MAX);
	CHECK_EQ_INT(
	    joingate_remember(&g, join_request_nonce(buf), now, now + MESH_JOIN_CLOCK_SKEW),
	    -EALREADY);
	CHECK_EQ_INT(
	    joingate_remember(&g, join_request_nonce(buf), now, now + MESH_JOIN_CLOCK_SKEW + 1), 0);
	/* A far-future (stale) timestamp holds its slot no longer than now +
	 * the window. */
	memset(nonce, 0x77, sizeof(nonce));
	CHECK_EQ_INT(joingate_remember(&g, nonce, INT64_MAX, now), 0);
	CHECK_EQ_INT(joingate_remember(&g, nonce, INT64_MAX, now + MESH_JOIN_CLOCK_SKEW + 1), 0);
	/* Fill the table: refusals begin (never an earlier nonce forgotten). */
	for (uint32_t i = 0; i < JOINGATE_REPLAY_BUCKETS * JOINGATE_REPLAY_WAYS; i++) {
		memset(nonce, 0, sizeof(nonce));
		memcpy(nonce, &i, sizeof(i));
		full += joingate_remember(&g, nonce, now, now) == -ENOSPC;
	}
	CHECK(full > 0);
	CHECK_EQ_INT(g.drops[JOINGATE_DROP_FULL], full);
	CHECK_EQ_INT(joingate_remember(&g, join_request_nonce(buf), now, now + 1), -EALREADY);
	joingate_deinit(&g);
}

static void test_invite_end(void)
{
	CHECK_EQ_INT(joingate_invite_end(&(struct joingate_invite){ 0 }), INT64_MAX);
	CHECK_EQ_INT(joingate_invite_end(&(struct joingate_invite){ .expires_at = 500 }), 500);
	CHECK_EQ_INT(
	    joingate_invite_end(&(struct joingate_invite){ .expires_at = 500, .used_at = 100 }),
	    100 + JOINGATE_USED_GRACE_S);
	CHECK_EQ_INT(joingate_invite_end(&(struct joingate_invite){
			 .expires_at = 500, .used_at = 100, .reusable = true }),
		     500);
	CHECK_EQ_INT(
	    joingate_invite_end(&(struct joingate_invite){ .reusable = true, .used_at = 100 }),
	    INT64_MAX);
	CHECK(strcmp(joingate_drop_name(JOINGATE_DROP_MAC), "join_mac") == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	keys_setup();
	RUN(test_no_invite);
	RUN(test_mac1_first);
	RUN(test_rate_limit);
	RUN(test_cookie_under_load);
	RUN(test_replay);
	RUN(test_invite_end);
	return test_summary();
}
