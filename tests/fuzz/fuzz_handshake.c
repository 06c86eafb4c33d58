/*
 * Fuzz harness for the handshake and cookie parsers: the input is one
 * datagram, handled as the device would by its length (148: initiation,
 * 92: response, 64: cookie reply), against a fixed responder identity with
 * one known peer and a fixed initiator waiting for a response.
 *
 * Invariants checked beyond memory safety: a refused message leaves the
 * handshake untouched, and a completed handshake yields keys.
 *
 * Built with -DFUZZ_HANDSHAKE_WRITE_SEEDS and a main of its own, it writes
 * valid messages for these fixed keys into a directory (the seed corpus):
 *   cc -Wno-unused-parameter -DFUZZ_HANDSHAKE_WRITE_SEEDS -Idaemon -Itests
 * tests/fuzz/fuzz_handshake.c \ daemon/wg/noise.c daemon/wg/cookie.c daemon/wg/crypto.c -lsodium
 * -lb2
 *   ./a.out tests/fuzz/seeds/fuzz_handshake
 */
#include <endian.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg/cookie.h"
#include "wg/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { INITIATOR_INDEX = 0x1000, RESPONDER_INDEX = 0x2000 };
static const uint64_t now_ns = 3600ull * 1000000000ull;
static const uint8_t source[6] = { 198, 51, 100, 7, 0xca, 0x6c }; /* 198.51.100.7:51820 */

/* Fixed keys and the state every input starts from. */
struct fixture {
	struct noise_static_identity init_id, resp_id;
	struct noise_handshake resp_view; /* the responder's peer: the initiator */
	struct noise_handshake init_view; /* the initiator's peer, CREATED_INITIATION */
	struct cookie init_cookie;        /* the initiator's cookie, mac1 sent */
	struct cookie resp_cookie;        /* the responder's, for MACs on responses */
	struct cookie_checker checker;    /* the responder's */
	struct message_handshake_initiation initiation; /* init_view's, with MACs */
};

static struct fixture fx;

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + 17 * i);
}

static struct noise_handshake *lookup_one(void *ctx, const uint8_t remote_static[32])
{
	struct noise_handshake *hs = ctx;
	return memcmp(hs->remote_static, remote_static, 32) == 0 ? hs : NULL;
}

static void fixture_setup(void)
{
	uint8_t key[32], eph[32];
	uint8_t ts[NOISE_TIMESTAMP_LEN] = { 0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a };

	if (sodium_init() < 0)
		abort();
	noise_init();
	fill(key, 32, 1);
	if (noise_static_identity_set(&fx.init_id, key))
		abort();
	fill(key, 32, 2);
	if (noise_static_identity_set(&fx.resp_id, key))
		abort();
	if (noise_handshake_init(&fx.resp_view, &fx.resp_id, fx.init_id.static_public, NULL) ||
	    noise_handshake_init(&fx.init_view, &fx.init_id, fx.resp_id.static_public, NULL))
		abort();
	fill(eph, 32, 3);
	if (noise_create_initiation(&fx.initiation, &fx.init_view, INITIATOR_INDEX, eph, ts))
		abort();
	cookie_init(&fx.init_cookie, fx.resp_id.static_public);
	cookie_init(&fx.resp_cookie, fx.init_id.static_public);
	cookie_add_mac_to_packet(&fx.initiation, sizeof(fx.initiation), &fx.init_cookie, now_ns);
	cookie_checker_init(&fx.checker, fx.resp_id.static_public);
}

/* Per input: copies of the fixture's mutable state. */
struct run {
	struct noise_handshake resp_view, init_view;
	struct cookie init_cookie, resp_cookie;
	struct cookie_checker checker;
	uint8_t secret[32];
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void session_check(struct noise_handshake *hs)
{
	struct noise_session_keys keys;

	check(noise_begin_session(hs, &keys) == 0);
	check(hs->state == HANDSHAKE_ZEROED);
	sodium_memzero(&keys, sizeof(keys));
}

static void fuzz_initiation(struct run *r, const uint8_t *data, size_t size)
{
	struct message_handshake_initiation msg;
	struct message_handshake_response resp;
	struct message_handshake_cookie reply;
	struct noise_handshake *hs = NULL;
	uint8_t eph[32], nonce[COOKIE_NONCE_LEN];

	memcpy(&msg, data, sizeof(msg));
	fill(nonce, sizeof(nonce), 4);
	if (cookie_message_create(&reply, data, size, le32toh(msg.sender_index), source,
				  sizeof(source), &r->checker, now_ns, nonce, r->secret))
		__builtin_trap();
	/* The MACs are not required here, so the fuzzer reaches the handshake. */
	if (noise_consume_initiation(&msg, &fx.resp_id, lookup_one, &r->resp_view, now_ns, &hs)) {
		check(hs == NULL);
		check(memcmp(&r->resp_view, &fx.resp_view, sizeof(r->resp_view)) == 0);
		return;
	}
	check(hs == &r->resp_view && hs->state == HANDSHAKE_CONSUMED_INITIATION);
	fill(eph, 32, 5);
	check(noise_create_response(&resp, hs, RESPONDER_INDEX, eph) == 0);
	cookie_add_mac_to_packet(&resp, sizeof(resp), &r->resp_cookie, now_ns);
	session_check(hs);
}

static void fuzz_response(struct run *r, const uint8_t *data, size_t size)
{
	struct message_handshake_response msg;

	memcpy(&msg, data, sizeof(msg));
	if (noise_consume_response(&msg, &r->init_view)) {
		check(memcmp(&r->init_view, &fx.init_view, sizeof(r->init_view)) == 0);
		return;
	}
	check(r->init_view.state == HANDSHAKE_CONSUMED_RESPONSE);
	session_check(&r->init_view);
}

static void fuzz_cookie_reply(struct run *r, const uint8_t *data, size_t size)
{
	struct message_handshake_cookie msg;
	uint8_t init[sizeof(fx.initiation)];

	memcpy(&msg, data, sizeof(msg));
	if (cookie_message_consume(&msg, &r->init_cookie, now_ns))
		return;
	check(r->init_cookie.is_valid && !r->init_cookie.have_sent_mac1);
	/* The next initiation carries mac2 and satisfies the checker. */
	memcpy(init, &fx.initiation, sizeof(init));
	cookie_add_mac_to_packet(init, sizeof(init), &r->init_cookie, now_ns);
	/* Only a reply from this checker decrypts, so its secret and source match. */
	check(cookie_validate_packet(&r->checker, init, sizeof(init), source, sizeof(source), true,
				     now_ns, r->secret) == COOKIE_MAC_VALID_WITH_COOKIE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct run r;

	if (!ready) {
		fixture_setup();
		ready = true;
	}
	r.resp_view = fx.resp_view;
	r.init_view = fx.init_view;
	r.init_cookie = fx.init_cookie;
	r.resp_cookie = fx.resp_cookie;
	r.checker = fx.checker;
	fill(r.secret, 32, 6);

	/* Any length reaches the MAC check, which must refuse odd sizes. */
	enum cookie_mac_state mac = cookie_validate_packet(&r.checker, data, size, source,
							   sizeof(source), true, now_ns, r.secret);
	check(mac == COOKIE_MAC_INVALID || size == sizeof(struct message_handshake_initiation) ||
	      size == sizeof(struct message_handshake_response));

	if (size == sizeof(struct message_handshake_initiation))
		fuzz_initiation(&r, data, size);
	else if (size == sizeof(struct message_handshake_response))
		fuzz_response(&r, data, size);
	else if (size == sizeof(struct message_handshake_cookie))
		fuzz_cookie_reply(&r, data, size);
	return 0;
}

#ifdef FUZZ_HANDSHAKE_WRITE_SEEDS
static void write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct noise_handshake resp_view, *hs;
	struct message_handshake_response resp;
	struct message_handshake_cookie reply;
	struct cookie_checker checker;
	uint8_t eph[32], nonce[COOKIE_NONCE_LEN], secret[32];

	if (argc != 2)
		return 2;
	fixture_setup();
	write_seed(argv[1], "initiation", &fx.initiation, sizeof(fx.initiation));

	/* The responder's answer to that initiation, as fuzz_initiation makes it. */
	resp_view = fx.resp_view;
	fill(eph, 32, 5);
	if (noise_consume_initiation(&fx.initiation, &fx.resp_id, lookup_one, &resp_view, now_ns,
				     &hs) ||
	    noise_create_response(&resp, hs, RESPONDER_INDEX, eph))
		return 1;
	cookie_add_mac_to_packet(&resp, sizeof(resp), &fx.resp_cookie, now_ns);
	write_seed(argv[1], "response", &resp, sizeof(resp));

	/* A cookie reply to the initiation. */
	checker = fx.checker;
	fill(nonce, sizeof(nonce), 4);
	fill(secret, 32, 6);
	if (cookie_message_create(&reply, (const uint8_t *)&fx.initiation, sizeof(fx.initiation),
				  INITIATOR_INDEX, source, sizeof(source), &checker, now_ns, nonce,
				  secret))
		return 1;
	write_seed(argv[1], "cookie-reply", &reply, sizeof(reply));
	return 0;
}
#endif
