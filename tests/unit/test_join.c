/* The join datagrams (daemon/mesh/join.c). */
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/join.h"
#include "test_dh.h"
#include "testlib.h"

static const int64_t now = 1795300000;

struct keys {
	uint8_t joiner_priv[32], joiner_pub[32];
	uint8_t coord_priv[32], coord_pub[32];
	uint8_t other_priv[32], other_pub[32];
};

static struct keys k;

/* Low-order points of Curve25519 (and their non-canonical forms): any
 * private key gives an all-zero shared secret with them. */
static const char *const low_order_hex[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void keys_setup(void)
{
	memset(k.joiner_priv, 0x11, 32);
	memset(k.coord_priv, 0x22, 32);
	memset(k.other_priv, 0x33, 32);
	crypto_scalarmult_base(k.joiner_pub, k.joiner_priv);
	crypto_scalarmult_base(k.coord_pub, k.coord_priv);
	crypto_scalarmult_base(k.other_pub, k.other_priv);
}

static void sample_request(struct join_request *req)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->joiner_key, k.joiner_pub, 32);
	req->invite_id = 42;
	memset(req->secret, 0x5a, sizeof(req->secret));
	req->timestamp = now;
	req->hello = json_pack("{s:s, s:[s], s:b, s:[s, s]}", "hostname", "laptop", "routes",
			       "192.168.1.0/24", "exit_node", 0, "endpoints", "192.168.1.20:41641",
			       "[2001:db8::20]:41641");
}

static size_t make_request(uint8_t *buf, const struct join_request *req)
{
	uint8_t nonce[24] = { 1, 2, 3 };
	size_t len = 0;

	if (join_request_create(buf, MESH_JOIN_MAX, &len, req, DH_OF(k.joiner_priv), k.coord_pub,
				nonce))
		abort();
	return len;
}

static void test_request_round_trip(void)
{
	struct join_request req, got;
	uint8_t buf[MESH_JOIN_MAX];
	size_t len;

	sample_request(&req);
	len = make_request(buf, &req);
	CHECK(buf[0] == MESH_JOIN_REQUEST && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
	CHECK_MEM(buf + 4, k.joiner_pub, 32);
	if (CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), 0)) {
		CHECK_MEM(got.joiner_key, k.joiner_pub, 32);
		CHECK(got.invite_id == 42 && got.timestamp == now);
		CHECK_MEM(got.secret, req.secret, 32);
		CHECK(json_equal(got.hello, req.hello));
	}
	join_request_clear(&got);
	CHECK(got.hello == NULL && sodium_is_zero(got.secret, 32));
	join_request_clear(&req);
	join_request_clear(NULL);
}

static void test_request_refused(void)
{
	struct join_request req, got;
	uint8_t buf[MESH_JOIN_MAX + 1], copy[MESH_JOIN_MAX + 1];
	size_t len;

	sample_request(&req);
	len = make_request(buf, &req);
	/* Another coordinator's key. */
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.other_priv), now, &got), -EBADMSG);
	CHECK(got.hello == NULL);
	/* Every bit of every byte before the macs (the join gate checks those,
	 * joingate.h). */
	for (size_t i = 0; i < len - JOIN_MACS_LEN; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, len);
			copy[i] ^= (uint8_t)(1u << bit);
			if (!CHECK_EQ_INT(
				join_request_open(copy, len, DH_OF(k.coord_priv), now, &got),
				-EBADMSG))
				join_request_clear(&got);
		}
	}
	/* Every shorter length, and one byte more. */
	for (size_t n = 0; n < len; n++)
		CHECK_EQ_INT(join_request_open(buf, n, DH_OF(k.coord_priv), now, &got), -EBADMSG);
	CHECK_EQ_INT(join_request_open(buf, len + 1, DH_OF(k.coord_priv), now, &got), -EBADMSG);
	/* A response is no request. */
	memcpy(copy, buf, len);
	copy[0] = MESH_JOIN_RESPONSE;
	CHECK_EQ_INT(join_request_open(copy, len, DH_OF(k.coord_priv), now, &got), -EBADMSG);
	memset(copy, 0, sizeof(copy));
	copy[0] = MESH_JOIN_REQUEST;
	CHECK_EQ_INT(join_request_open(copy, MESH_JOIN_MAX + 1, DH_OF(k.coord_priv), now, &got),
		     -EBADMSG);
	join_request_clear(&req);
}

/* A request sealed by hand: header | joiner | nonce | box(plain) with the
 * given shared key. */
static size_t seal_request(uint8_t *buf, const uint8_t joiner[32], const uint8_t *plain, size_t n,
			   const uint8_t key[32])
{
	uint8_t nonce[24] = { 9 };
	uint32_t type = htole32(MESH_JOIN_REQUEST);

	memcpy(buf, &type, 4);
	memcpy(buf + 4, joiner, 32);
	memcpy(buf + 36, nonce, 24);
	crypto_box_easy_afternm(buf + 60, plain, n, nonce, key);
	memset(buf + 60 + n + 16, 0, JOIN_MACS_LEN); /* the gate's, not checked here */
	return 60 + n + 16 + JOIN_MACS_LEN;
}

static void plain_request(uint8_t *plain, int64_t ts, const char *hello)
{
	uint64_t id = htole64(42), t = htole64((uint64_t)ts);

	memcpy(plain, &id, 8);
	memset(plain + 8, 0x5a, 32);
	memcpy(plain + 40, &t, 8);
	memcpy(plain + 48, hello, strlen(hello));
}

/* Keys X25519 reads as another key: refused even though they decrypt. */
/* mac1 is keyed with the join's own label and the coordinator's key; mac2
 * is zero without a cookie. */
static void test_request_macs(void)
{
	struct cookie_checker coord, other, wg;
	struct join_request req;
	uint8_t buf[MESH_JOIN_MAX], zero[32] = { 0 };
	size_t len;

	sample_request(&req);
	len = make_request(buf, &req);
	join_request_clear(&req);
	cookie_checker_init_labels(&coord, k.coord_pub, &join_cookie_labels);
	cookie_checker_init_labels(&other, k.other_pub, &join_cookie_labels);
	cookie_checker_init(&wg, k.coord_pub);
	CHECK_EQ_INT(cookie_validate_macs(&coord, buf, len, NULL, 0, false, 0, zero),
		     COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(cookie_validate_macs(&other, buf, len, NULL, 0, false, 0, zero),
		     COOKIE_MAC_INVALID);
	CHECK_EQ_INT(cookie_validate_macs(&wg, buf, len, NULL, 0, false, 0, zero),
		     COOKIE_MAC_INVALID);
	CHECK(sodium_is_zero(buf + len - 16, 16));
	buf[10] ^= 1;
	CHECK_EQ_INT(cookie_validate_macs(&coord, buf, len, NULL, 0, false, 0, zero),
		     COOKIE_MAC_INVALID);
}

/* A busy coordinator's cookie reaches the joiner, whose next request then
 * carries a mac2 valid for its own source only. */
static void test_cookie_round_trip(void)
{
	struct cookie_checker coord;
	struct cookie joiner;
	struct join_request req;
	uint8_t buf[MESH_JOIN_MAX], reply[JOIN_COOKIE_LEN + 8], nonce[24] = { 7 };
	uint8_t secret[32], src[6] = { 192, 0, 2, 1, 0xa2, 0x69 }, src2[6] = { 192, 0, 2, 2 };
	const uint64_t t = 1000000000ull;
	size_t len, rlen;

	memset(secret, 0x42, sizeof(secret));
	cookie_checker_init_labels(&coord, k.coord_pub, &join_cookie_labels);
	cookie_init_labels(&joiner, k.coord_pub, &join_cookie_labels);
	sample_request(&req);
	len = make_request(buf, &req);
	cookie_add_macs(buf, len, &joiner, t);
	CHECK_EQ_INT(cookie_validate_macs(&coord, buf, len, src, 6, true, t, secret),
		     COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(join_cookie_create(reply, sizeof(reply), &rlen, buf, len, src, 6, &coord, t,
					nonce, secret),
		     0);
	CHECK_EQ_INT(rlen, JOIN_COOKIE_LEN);
	CHECK_EQ_INT(rlen, 60);
	/* Wrong size or type: refused without touching the cookie. */
	CHECK_EQ_INT(join_cookie_consume(reply, rlen - 1, &joiner, t), -EBADMSG);
	reply[0] ^= 1;
	CHECK_EQ_INT(join_cookie_consume(reply, rlen, &joiner, t), -EBADMSG);
	reply[0] ^= 1;
	CHECK_EQ_INT(join_cookie_consume(reply, rlen, &joiner, t), 0);
	CHECK_EQ_INT(join_cookie_consume(reply, rlen, &joiner, t), -EINVAL); /* one per send */

	len = make_request(buf, &req);
	cookie_add_macs(buf, len, &joiner, t + 1);
	CHECK_EQ_INT(cookie_validate_macs(&coord, buf, len, src, 6, true, t + 2, secret),
		     COOKIE_MAC_VALID_WITH_COOKIE);
	CHECK_EQ_INT(cookie_validate_macs(&coord, buf, len, src2, 6, true, t + 2, secret),
		     COOKIE_MAC_VALID_NO_COOKIE);
	/* A cookie reply for another request's mac1 does not open. */
	CHECK_EQ_INT(join_cookie_create(reply, sizeof(reply), &rlen, buf, len, src, 6, &coord, t,
					nonce, secret),
		     0);
	req.timestamp++; /* another request, another mac1 */
	len = make_request(buf, &req);
	cookie_add_macs(buf, len, &joiner, t + 3);
	CHECK_EQ_INT(join_cookie_consume(reply, rlen, &joiner, t), -EBADMSG);
	CHECK_EQ_INT(join_cookie_create(reply, sizeof(reply), &rlen, buf, 10, src, 6, &coord, t,
					nonce, secret),
		     -EINVAL);
	CHECK_EQ_INT(join_cookie_create(reply, JOIN_COOKIE_LEN - 1, &rlen, buf, len, src, 6, &coord,
					t, nonce, secret),
		     -EMSGSIZE);
	join_request_clear(&req);
}

static void test_request_noncanonical_key(void)
{
	uint8_t key[32], plain[64], buf[MESH_JOIN_MAX], alias[32];
	struct join_request got;
	size_t len;

	if (crypto_box_beforenm(key, k.joiner_pub, k.coord_priv) != 0)
		abort();
	plain_request(plain, now, "{}");
	memcpy(alias, k.joiner_pub, 32);
	alias[31] |= 0x80;
	len = seal_request(buf, alias, plain, 50, key);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), -EBADMSG);
	/* p + 9 is the base point, 9, in a second spelling. */
	memset(alias, 0xff, 32);
	alias[0] = 0xed + 9;
	alias[31] = 0x7f;
	if (crypto_box_beforenm(key, alias, k.coord_priv) != 0)
		abort();
	len = seal_request(buf, alias, plain, 50, key);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), -EBADMSG);
	/* p - 2 is canonical (p - 1 is of low order). */
	alias[0] = 0xeb;
	if (!CHECK_EQ_INT(crypto_box_beforenm(key, alias, k.coord_priv), 0))
		return;
	len = seal_request(buf, alias, plain, 50, key);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), 0);
	join_request_clear(&got);
	sodium_memzero(key, sizeof(key));
}

static void test_request_bad_plaintext(void)
{
	static const char *const hellos[] = {
		"", "[]", "\"x\"", "{", "{} x", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}"
	};
	uint8_t key[32], plain[MESH_JOIN_MAX], buf[MESH_JOIN_MAX];
	struct join_request got;

	if (crypto_box_beforenm(key, k.joiner_pub, k.coord_priv) != 0)
		abort();
	plain_request(plain, now, "{}");
	CHECK_EQ_INT(join_request_open(buf, seal_request(buf, k.joiner_pub, plain, 50, key),
				       DH_OF(k.coord_priv), now, &got),
		     0);
	join_request_clear(&got);
	for (size_t i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++) {
		plain_request(plain, now, hellos[i]);
		size_t len = seal_request(buf, k.joiner_pub, plain, 48 + strlen(hellos[i]), key);
		CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), -EBADMSG);
		CHECK(got.hello == NULL);
	}
	sodium_memzero(key, sizeof(key));
}

static void test_request_stale(void)
{
	static const int64_t offsets[] = { 0, 1, -1, MESH_JOIN_CLOCK_SKEW, -MESH_JOIN_CLOCK_SKEW };
	static const int64_t stale[] = { MESH_JOIN_CLOCK_SKEW + 1, -MESH_JOIN_CLOCK_SKEW - 1, -now,
					 86400 };
	struct join_request req, got;
	uint8_t buf[MESH_JOIN_MAX];
	size_t len;

	sample_request(&req);
	len = make_request(buf, &req);
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		CHECK_EQ_INT(
		    join_request_open(buf, len, DH_OF(k.coord_priv), now + offsets[i], &got), 0);
		join_request_clear(&got);
	}
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now + stale[i], &got),
			     -ESTALE);
		/* Filled, so the coordinator can check the invite and explain. */
		CHECK(got.invite_id == 42 && got.hello != NULL);
		join_request_clear(&got);
	}
	/* The extremes of both clocks: no overflow. */
	req.timestamp = INT64_MIN;
	len = make_request(buf, &req);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), INT64_MAX, &got), -ESTALE);
	join_request_clear(&got);
	req.timestamp = INT64_MAX;
	len = make_request(buf, &req);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), INT64_MIN, &got), -ESTALE);
	join_request_clear(&got);
	CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), INT64_MAX, &got), 0);
	join_request_clear(&got);
	join_request_clear(&req);
}

/* A hello whose compact text is exactly n bytes: {"p":"xxx..."}. */
static json_t *hello_of_size(size_t n)
{
	char *pad = malloc(n);
	json_t *hello;

	memset(pad, 'x', n - 8);
	pad[n - 8] = '\0';
	hello = json_pack("{s:s}", "p", pad);
	free(pad);
	return hello;
}

static void test_request_size(void)
{
	struct join_request req;
	uint8_t buf[MESH_JOIN_MAX + 64], nonce[24] = { 0 };
	size_t len = 0;

	CHECK_EQ_INT(JOIN_HELLO_MAX, MESH_JOIN_MAX - 156);
	sample_request(&req);
	json_decref(req.hello);
	req.hello = hello_of_size(JOIN_HELLO_MAX);
	CHECK_EQ_INT(join_request_create(buf, sizeof(buf), &len, &req, DH_OF(k.joiner_priv),
					 k.coord_pub, nonce),
		     0);
	CHECK_EQ_INT(len, MESH_JOIN_MAX);
	/* The same in a buffer one byte short. */
	CHECK_EQ_INT(join_request_create(buf, MESH_JOIN_MAX - 1, &len, &req, DH_OF(k.joiner_priv),
					 k.coord_pub, nonce),
		     -EMSGSIZE);
	json_decref(req.hello);
	req.hello = hello_of_size(JOIN_HELLO_MAX + 1);
	CHECK_EQ_INT(join_request_create(buf, sizeof(buf), &len, &req, DH_OF(k.joiner_priv),
					 k.coord_pub, nonce),
		     -EMSGSIZE);
	json_decref(req.hello);
	req.hello = json_array();
	CHECK_EQ_INT(join_request_create(buf, sizeof(buf), &len, &req, DH_OF(k.joiner_priv),
					 k.coord_pub, nonce),
		     -EINVAL);
	json_decref(req.hello);
	req.hello = NULL;
	CHECK_EQ_INT(join_request_create(buf, sizeof(buf), &len, &req, DH_OF(k.joiner_priv),
					 k.coord_pub, nonce),
		     -EINVAL);
	join_request_clear(&req);
}

static void test_low_order(void)
{
	struct join_request req, got;
	uint8_t point[32], zero_key[32], buf[MESH_JOIN_MAX], plain[64], nonce[24] = { 0 };
	uint8_t shared[32] = { 0 };
	static const uint8_t zero16[16];
	json_t *result = json_pack("{s:b}", "ok", 1), *opened = NULL;
	size_t len = 0;

	/* The key a low-order point gives: HSalsa20 of the all-zero X25519
	 * result, what crypto_box_beforenm() would compute if it did not
	 * refuse. */
	crypto_core_hsalsa20(zero_key, zero16, shared, NULL);
	sample_request(&req);
	for (size_t i = 0; i < sizeof(low_order_hex) / sizeof(low_order_hex[0]); i++) {
		if (test_unhex(low_order_hex[i], point, 32) != 32)
			abort();
		/* Sealing to a low-order coordinator key is refused. */
		CHECK_EQ_INT(join_request_create(buf, sizeof(buf), &len, &req, DH_OF(k.joiner_priv),
						 point, nonce),
			     -EINVAL);
		CHECK_EQ_INT(join_response_create(buf, sizeof(buf), &len, result,
						  DH_OF(k.coord_priv), point, nonce),
			     -EINVAL);
		/* A request from a low-order "joiner" sealed with the key
		 * anyone can compute: never opened. */
		plain_request(plain, now, "{}");
		len = seal_request(buf, point, plain, 50, zero_key);
		CHECK_EQ_INT(join_request_open(buf, len, DH_OF(k.coord_priv), now, &got), -EBADMSG);
		/* Likewise a response claiming a low-order coordinator. */
		uint32_t type = htole32(MESH_JOIN_RESPONSE);
		memcpy(buf, &type, 4);
		memset(buf + 4, 0, 24);
		crypto_box_easy_afternm(buf + 28, (const uint8_t *)"{\"ok\":true}", 11, buf + 4,
					zero_key);
		CHECK_EQ_INT(
		    join_response_open(buf, 28 + 11 + 16, DH_OF(k.joiner_priv), point, &opened),
		    -EBADMSG);
		CHECK(opened == NULL);
	}
	json_decref(result);
	join_request_clear(&req);
}

static json_t *sample_result(const char *netmap)
{
	return json_pack("{s:b, s:s, s:[s, s], s:{s:s, s:[s], s:[s], s:s}, s:s}", "ok", 1, "name",
			 "laptop", "addresses", "100.64.0.3/32", "fd7a:6d67:7465::3/128",
			 "coordinator", "public_key",
			 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "addresses",
			 "100.64.0.1/32", "endpoints", "203.0.113.2:41641", "sign_key",
			 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", "netmap", netmap);
}

static size_t make_response(uint8_t *buf, const json_t *result)
{
	uint8_t nonce[24] = { 7, 7 };
	size_t len = 0;

	if (join_response_create(buf, MESH_JOIN_MAX, &len, result, DH_OF(k.coord_priv),
				 k.joiner_pub, nonce))
		abort();
	return len;
}

static void test_response_round_trip(void)
{
	json_t *result = sample_result("{\"type\":\"netmap\"}"), *got = NULL;
	json_t *refusal = json_pack("{s:b, s:s}", "ok", 0, "error", "this invite has expired");
	uint8_t buf[MESH_JOIN_MAX];
	size_t len = make_response(buf, result);

	CHECK(buf[0] == MESH_JOIN_RESPONSE && buf[3] == 0);
	CHECK_EQ_INT(join_response_open(buf, len, DH_OF(k.joiner_priv), k.coord_pub, &got), 0);
	CHECK(json_equal(got, result));
	json_decref(got);
	len = make_response(buf, refusal);
	CHECK_EQ_INT(join_response_open(buf, len, DH_OF(k.joiner_priv), k.coord_pub, &got), 0);
	CHECK(json_equal(got, refusal));
	json_decref(got);
	json_decref(result);
	json_decref(refusal);
}

static void test_response_refused(void)
{
	json_t *result = sample_result("{}"), *got = NULL;
	uint8_t buf[MESH_JOIN_MAX], copy[MESH_JOIN_MAX], req_buf[MESH_JOIN_MAX];
	struct join_request req;
	size_t len = make_response(buf, result), req_len;

	CHECK_EQ_INT(join_response_open(buf, len, DH_OF(k.joiner_priv), k.other_pub, &got),
		     -EBADMSG);
	CHECK_EQ_INT(join_response_open(buf, len, DH_OF(k.other_priv), k.coord_pub, &got),
		     -EBADMSG);
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, buf, len);
		copy[i] ^= 0x80;
		CHECK_EQ_INT(join_response_open(copy, len, DH_OF(k.joiner_priv), k.coord_pub, &got),
			     -EBADMSG);
	}
	for (size_t n = 0; n < len; n++)
		CHECK_EQ_INT(join_response_open(buf, n, DH_OF(k.joiner_priv), k.coord_pub, &got),
			     -EBADMSG);
	CHECK(got == NULL);
	/* A request reflected as a response (same shared key): not JSON. */
	sample_request(&req);
	req_len = make_request(req_buf, &req);
	memcpy(copy, req_buf, 4);
	copy[0] = MESH_JOIN_RESPONSE;
	memcpy(copy + 4, req_buf + 36, req_len - 36);
	CHECK_EQ_INT(
	    join_response_open(copy, req_len - 32, DH_OF(k.joiner_priv), k.coord_pub, &got),
	    -EBADMSG);
	join_request_clear(&req);
	json_decref(result);
}

static void test_response_without_ok(void)
{
	static const char *const texts[] = { "{}", "{\"ok\":1}", "[true]", "{\"ok\":true", "" };
	uint8_t key[32], buf[MESH_JOIN_MAX];
	uint32_t type = htole32(MESH_JOIN_RESPONSE);
	json_t *got = NULL, *bad = json_pack("{s:i}", "ok", 1);
	size_t len;

	if (crypto_box_beforenm(key, k.joiner_pub, k.coord_priv) != 0)
		abort();
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memcpy(buf, &type, 4);
		memset(buf + 4, (int)i, 24);
		crypto_box_easy_afternm(buf + 28, (const uint8_t *)texts[i], strlen(texts[i]),
					buf + 4, key);
		CHECK_EQ_INT(join_response_open(buf, 28 + strlen(texts[i]) + 16,
						DH_OF(k.joiner_priv), k.coord_pub, &got),
			     -EBADMSG);
	}
	CHECK_EQ_INT(join_response_create(buf, sizeof(buf), &len, bad, DH_OF(k.coord_priv),
					  k.joiner_pub, buf),
		     -EINVAL);
	json_decref(bad);
	sodium_memzero(key, sizeof(key));
}

/* A netmap too large for the datagram is left out; the rest stays. */
static void test_response_drops_netmap(void)
{
	char *big = malloc(4000);
	json_t *result, *got = NULL;
	uint8_t buf[MESH_JOIN_MAX], nonce[24] = { 0 };
	size_t len = 0;

	memset(big, 'n', 3999);
	big[3999] = '\0';
	result = sample_result(big);
	CHECK_EQ_INT(join_response_create(buf, sizeof(buf), &len, result, DH_OF(k.coord_priv),
					  k.joiner_pub, nonce),
		     0);
	CHECK(len <= MESH_JOIN_MAX);
	CHECK_EQ_INT(join_response_open(buf, len, DH_OF(k.joiner_priv), k.coord_pub, &got), 0);
	CHECK(json_object_get(got, "netmap") == NULL);
	CHECK(json_is_string(json_object_get(got, "name")));
	/* The caller's result is untouched. */
	CHECK(json_object_get(result, "netmap") != NULL);
	json_decref(got);
	json_decref(result);

	/* Too large even without a netmap. */
	result = json_pack("{s:b, s:s}", "ok", 0, "error", big);
	CHECK_EQ_INT(join_response_create(buf, sizeof(buf), &len, result, DH_OF(k.coord_priv),
					  k.joiner_pub, nonce),
		     -EMSGSIZE);
	CHECK_EQ_INT(
	    join_response_create(buf, 10, &len, result, DH_OF(k.coord_priv), k.joiner_pub, nonce),
	    -EMSGSIZE);
	json_decref(result);
	free(big);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	keys_setup();
	RUN(test_request_round_trip);
	RUN(test_request_refused);
	RUN(test_request_macs);
	RUN(test_cookie_round_trip);
	RUN(test_request_noncanonical_key);
	RUN(test_request_bad_plaintext);
	RUN(test_request_stale);
	RUN(test_request_size);
	RUN(test_low_order);
	RUN(test_response_round_trip);
	RUN(test_response_refused);
	RUN(test_response_without_ok);
	RUN(test_response_drops_netmap);
	return test_summary();
}
