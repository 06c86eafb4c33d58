/*
 * The handshake: the cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector
 * reproduced byte for byte through the parameterised layer, then WireGuard
 * handshakes between two identities and every way an initiation or response
 * must be refused.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wg/crypto.h"
#include "wg/noise.h"
#include "wg/noise_internal.h"

/* ---- Lookup over a small table of peers ---- */

struct peers {
	struct noise_handshake *hs[4];
	unsigned count;
	unsigned lookups;
};

static struct noise_handshake *peers_lookup(void *ctx, const uint8_t remote_static[32])
{
	struct peers *p = ctx;

	p->lookups++;
	for (unsigned i = 0; i < p->count; i++)
		if (memcmp(p->hs[i]->remote_static, remote_static, 32) == 0)
			return p->hs[i];
	return NULL;
}

/* A broken lookup: returns ctx whatever the key. */
static struct noise_handshake *lookup_any(void *ctx, const uint8_t remote_static[32])
{
	return ctx;
}

/* ---- The cacophony vector ---- */

static size_t json_hex(json_t *obj, const char *key, uint8_t *out, size_t cap)
{
	const char *hex = json_string_value(json_object_get(obj, key));
	int n = hex ? test_unhex(hex, out, cap) : -1;

	CHECK(n >= 0);
	return n < 0 ? 0 : (size_t)n;
}

static size_t json_hex_str(json_t *str, uint8_t *out, size_t cap)
{
	const char *hex = json_string_value(str);
	int n = hex ? test_unhex(hex, out, cap) : -1;

	CHECK(n >= 0);
	return n < 0 ? 0 : (size_t)n;
}

struct vector_side {
	struct noise_static_identity id;
	struct noise_handshake hs;
	struct noise_ik_params params;
	uint8_t ephemeral[32];
	uint8_t psk[32];
	struct noise_session_keys keys;
	uint64_t send_nonce, recv_nonce;
};

static void vector_side_setup(struct vector_side *side, json_t *v, const char *prefix,
			      const uint8_t remote_static[32])
{
	char key[64];
	uint8_t buf[256], priv[32];
	size_t n;

	snprintf(key, sizeof(key), "%s_prologue", prefix);
	n = json_hex(v, key, buf, sizeof(buf));
	noise_ik_params_init(&side->params, buf, n);
	snprintf(key, sizeof(key), "%s_static", prefix);
	CHECK_EQ_INT(json_hex(v, key, priv, 32), 32);
	CHECK_EQ_INT(noise_static_identity_set(&side->id, priv), 0);
	snprintf(key, sizeof(key), "%s_ephemeral", prefix);
	CHECK_EQ_INT(json_hex(v, key, side->ephemeral, 32), 32);
	snprintf(key, sizeof(key), "%s_psks", prefix);
	CHECK_EQ_INT(json_hex_str(json_array_get(json_object_get(v, key), 0), side->psk, 32), 32);
	if (remote_static)
		CHECK_EQ_INT(noise_handshake_init(&side->hs, &side->id, remote_static, side->psk),
			     0);
}

/* Transport message: ChaCha20-Poly1305 with the 64-bit counter as nonce
 * (little-endian after 4 zero bytes), empty AD. */
static void transport_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void vector_transport(struct vector_side *from, struct vector_side *to,
			     const uint8_t *payload, size_t len, const uint8_t *want,
			     size_t want_len)
{
	uint8_t ct[256 + 16], pt[256], nonce[12];
	unsigned long long ct_len = 0, pt_len = 0;

	transport_nonce(nonce, from->send_nonce++);
	crypto_aead_chacha20poly1305_ietf_encrypt(ct, &ct_len, payload, len, NULL, 0, NULL, nonce,
						  from->keys.sending);
	CHECK_EQ_INT(ct_len, want_len);
	CHECK_MEM(ct, want, want_len);

	transport_nonce(nonce, to->recv_nonce++);
	CHECK_EQ_INT(crypto_aead_chacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, want, want_len,
							       NULL, 0, nonce, to->keys.receiving),
		     0);
	CHECK_EQ_INT(pt_len, len);
	CHECK_MEM(pt, payload, len);
}

static void run_vector(json_t *v)
{
	struct vector_side init = { 0 }, resp = { 0 };
	uint8_t remote_static[32], want_hash[32], payload[256], ct[512], out[512], got[256];
	size_t payload_len, ct_len;
	json_t *messages = json_object_get(v, "messages");
	struct noise_ik_msg1 st;
	struct peers peers = { 0 };

	CHECK_EQ_INT(json_hex(v, "init_remote_static", remote_static, 32), 32);
	CHECK_EQ_INT(json_hex(v, "handshake_hash", want_hash, 32), 32);
	vector_side_setup(&resp, v, "resp", NULL);
	CHECK_MEM(resp.id.static_public, remote_static, 32);
	vector_side_setup(&init, v, "init", remote_static);
	CHECK_EQ_INT(noise_handshake_init(&resp.hs, &resp.id, init.id.static_public, resp.psk), 0);
	peers.hs[peers.count++] = &resp.hs;
	CHECK(json_array_size(messages) >= 2);

	/* -> e, es, s, ss, {payload} */
	json_t *m = json_array_get(messages, 0);
	payload_len = json_hex(m, "payload", payload, sizeof(payload));
	ct_len = json_hex(m, "ciphertext", ct, sizeof(ct));
	CHECK_EQ_INT(ct_len, NOISE_IK_MSG1_LEN(payload_len));
	CHECK_EQ_INT(
	    noise_ik_write_msg1(&init.hs, &init.params, init.ephemeral, payload, payload_len, out),
	    0);
	CHECK_MEM(out, ct, ct_len);
	CHECK_EQ_INT(noise_ik_read_msg1(&st, &resp.params, &resp.id, peers_lookup, &peers, ct, got,
					payload_len),
		     0);
	CHECK(st.hs == &resp.hs);
	CHECK_MEM(got, payload, payload_len);
	noise_ik_commit_msg1(&st);
	noise_ik_msg1_wipe(&st);

	/* <- e, ee, se, psk, {payload} */
	m = json_array_get(messages, 1);
	payload_len = json_hex(m, "payload", payload, sizeof(payload));
	ct_len = json_hex(m, "ciphertext", ct, sizeof(ct));
	CHECK_EQ_INT(ct_len, NOISE_IK_MSG2_LEN(payload_len));
	CHECK_EQ_INT(noise_ik_write_msg2(&resp.hs, resp.ephemeral, payload, payload_len, out), 0);
	CHECK_MEM(out, ct, ct_len);
	CHECK_EQ_INT(noise_ik_read_msg2(&init.hs, ct, got, payload_len), 0);
	CHECK_MEM(got, payload, payload_len);

	CHECK_MEM(init.hs.hash, want_hash, 32);
	CHECK_MEM(resp.hs.hash, want_hash, 32);

	/* Split, then transport messages alternate, starting with the initiator. */
	CHECK_EQ_INT(noise_begin_session(&init.hs, &init.keys), 0);
	CHECK_EQ_INT(noise_begin_session(&resp.hs, &resp.keys), 0);
	CHECK(init.keys.is_initiator && !resp.keys.is_initiator);
	for (size_t i = 2; i < json_array_size(messages); i++) {
		m = json_array_get(messages, i);
		payload_len = json_hex(m, "payload", payload, sizeof(payload));
		ct_len = json_hex(m, "ciphertext", ct, sizeof(ct));
		if (i % 2 == 0)
			vector_transport(&init, &resp, payload, payload_len, ct, ct_len);
		else
			vector_transport(&resp, &init, payload, payload_len, ct, ct_len);
	}
}

static void test_cacophony_vectors(void)
{
	json_error_t err;
	json_t *root =
	    json_load_file(MG_VECTORS_DIR "/noise_ikpsk2_25519_chachapoly_blake2s.json", 0, &err);
	json_t *vectors = json_object_get(root, "vectors");

	if (!CHECK(root != NULL))
		return;
	CHECK(json_array_size(vectors) >= 1);
	for (size_t i = 0; i < json_array_size(vectors); i++) {
		json_t *v = json_array_get(vectors, i);
		const char *name = json_string_value(json_object_get(v, "protocol_name"));
		CHECK(name && strcmp(name, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s") == 0);
		run_vector(v);
	}
	json_decref(root);
}

static void test_wireguard_params(void)
{
	uint8_t ck[32], h[32];
	const struct noise_ik_params *p;

	noise_init();
	noise_init();
	p = noise_wireguard_params();
	test_unhex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", ck, 32);
	test_unhex("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", h, 32);
	CHECK_MEM(p->chaining_key, ck, 32);
	CHECK_MEM(p->hash, h, 32);
}

/* ---- WireGuard handshakes ---- */

static const uint64_t sec = 1000000000ull;

struct wg_pair {
	struct noise_static_identity init_id, resp_id;
	struct noise_handshake init_hs; /* the initiator's view of the responder */
	struct noise_handshake resp_hs; /* the responder's view of the initiator */
	struct peers peers;             /* the responder's peers */
	struct test_rng rng;
	struct message_handshake_initiation init_msg;
	struct message_handshake_response resp_msg;
	uint64_t now;
	time_t wall;
};

static void pair_setup(struct wg_pair *p, uint64_t seed, const uint8_t *psk_init,
		       const uint8_t *psk_resp)
{
	uint8_t key[32];

	memset(p, 0, sizeof(*p));
	p->rng.state = seed;
	test_rng_bytes(&p->rng, key, 32);
	CHECK_EQ_INT(noise_static_identity_set(&p->init_id, key), 0);
	test_rng_bytes(&p->rng, key, 32);
	CHECK_EQ_INT(noise_static_identity_set(&p->resp_id, key), 0);
	CHECK_EQ_INT(
	    noise_handshake_init(&p->init_hs, &p->init_id, p->resp_id.static_public, psk_init), 0);
	CHECK_EQ_INT(
	    noise_handshake_init(&p->resp_hs, &p->resp_id, p->init_id.static_public, psk_resp), 0);
	p->peers.hs[p->peers.count++] = &p->resp_hs;
	p->now = 1000 * sec;
	p->wall = 1700000000;
}

/* A new initiation, a second of wall clock after the previous one. */
static int pair_initiate(struct wg_pair *p, uint32_t index, time_t wall)
{
	uint8_t eph[32], ts[NOISE_TIMESTAMP_LEN];
	struct timespec when = { .tv_sec = wall, .tv_nsec = 0 };

	test_rng_bytes(&p->rng, eph, 32);
	tai64n_from_timespec(ts, &when);
	return noise_create_initiation(&p->init_msg, &p->init_hs, index, eph, ts);
}

static int pair_consume_initiation(struct wg_pair *p)
{
	struct noise_handshake *out = (void *)1;
	int ret = noise_consume_initiation(&p->init_msg, &p->resp_id, peers_lookup, &p->peers,
					   p->now, &out);

	CHECK(ret == 0 ? out == &p->resp_hs : out == NULL);
	return ret;
}

static int pair_respond(struct wg_pair *p, uint32_t index)
{
	uint8_t eph[32];

	test_rng_bytes(&p->rng, eph, 32);
	return noise_create_response(&p->resp_msg, &p->resp_hs, index, eph);
}

/* A full handshake; returns the first failing step's error. */
static int pair_handshake(struct wg_pair *p, struct noise_session_keys *ik,
			  struct noise_session_keys *rk)
{
	int ret;

	if ((ret = pair_initiate(p, 0x11223344, p->wall)) || (ret = pair_consume_initiation(p)) ||
	    (ret = pair_respond(p, 0x55667788)) ||
	    (ret = noise_consume_response(&p->resp_msg, &p->init_hs)))
		return ret;
	CHECK_EQ_INT(noise_begin_session(&p->init_hs, ik), 0);
	CHECK_EQ_INT(noise_begin_session(&p->resp_hs, rk), 0);
	return 0;
}

static void test_round_trip(void)
{
	struct wg_pair p;
	struct noise_session_keys ik, rk;

	pair_setup(&p, 1, NULL, NULL);
	CHECK_EQ_INT(pair_initiate(&p, 0x11223344, p.wall), 0);
	CHECK_EQ_INT(p.init_hs.state, HANDSHAKE_CREATED_INITIATION);
	CHECK_EQ_INT(p.init_hs.local_index, 0x11223344);
	const uint8_t *raw = (const uint8_t *)&p.init_msg;
	CHECK(raw[0] == 1 && raw[1] == 0 && raw[2] == 0 && raw[3] == 0);
	CHECK(raw[4] == 0x44 && raw[7] == 0x11); /* little-endian sender index */
	CHECK(sodium_is_zero(raw + 116, 32));    /* MACs left to the cookie module */

	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
	CHECK_EQ_INT(p.resp_hs.state, HANDSHAKE_CONSUMED_INITIATION);
	CHECK_EQ_INT(p.resp_hs.remote_index, 0x11223344);
	CHECK_EQ_INT(pair_respond(&p, 0x55667788), 0);
	CHECK_EQ_INT(p.resp_hs.state, HANDSHAKE_CREATED_RESPONSE);
	raw = (const uint8_t *)&p.resp_msg;
	CHECK(raw[0] == 2 && raw[4] == 0x88 && raw[8] == 0x44);
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), 0);
	CHECK_EQ_INT(p.init_hs.state, HANDSHAKE_CONSUMED_RESPONSE);
	CHECK_EQ_INT(p.init_hs.remote_index, 0x55667788);
	CHECK_MEM(p.init_hs.hash, p.resp_hs.hash, 32);

	CHECK_EQ_INT(noise_begin_session(&p.init_hs, &ik), 0);
	CHECK_EQ_INT(noise_begin_session(&p.resp_hs, &rk), 0);
	CHECK(ik.is_initiator && !rk.is_initiator);
	CHECK_MEM(ik.sending, rk.receiving, 32);
	CHECK_MEM(ik.receiving, rk.sending, 32);
	CHECK(memcmp(ik.sending, ik.receiving, 32) != 0);
	CHECK_EQ_INT(ik.local_index, 0x11223344);
	CHECK_EQ_INT(ik.remote_index, 0x55667788);
	CHECK_EQ_INT(rk.local_index, 0x55667788);
	CHECK_EQ_INT(rk.remote_index, 0x11223344);

	/* Ephemeral state is gone; the keys and the replay state stay. */
	CHECK_EQ_INT(p.init_hs.state, HANDSHAKE_ZEROED);
	CHECK_EQ_INT(p.resp_hs.state, HANDSHAKE_ZEROED);
	CHECK(sodium_is_zero(p.init_hs.ephemeral_private, 32));
	CHECK(sodium_is_zero(p.resp_hs.chaining_key, 32));
	CHECK(!sodium_is_zero(p.resp_hs.latest_timestamp, NOISE_TIMESTAMP_LEN));
	CHECK(!sodium_is_zero(p.resp_hs.precomputed_static_static, 32));
	CHECK_EQ_INT(noise_begin_session(&p.init_hs, &ik), -EINVAL);

	/* A second handshake on the same peers works and gives new keys. */
	uint8_t old[32];
	memcpy(old, ik.sending, 32);
	p.now += sec;
	p.wall += 1;
	CHECK_EQ_INT(pair_handshake(&p, &ik, &rk), 0);
	CHECK_MEM(ik.sending, rk.receiving, 32);
	CHECK(memcmp(old, ik.sending, 32) != 0);
}

static void test_psk(void)
{
	struct wg_pair p, q;
	struct noise_session_keys ik, rk, ik2, rk2;
	uint8_t psk[32], other[32];

	memset(psk, 0xa5, 32);
	memset(other, 0x5a, 32);

	/* Same seed and psk: the handshake matches; a zero psk gives other keys. */
	pair_setup(&p, 7, psk, psk);
	CHECK_EQ_INT(pair_handshake(&p, &ik, &rk), 0);
	CHECK_MEM(ik.sending, rk.receiving, 32);
	pair_setup(&q, 7, NULL, NULL);
	CHECK_EQ_INT(pair_handshake(&q, &ik2, &rk2), 0);
	CHECK_MEM(ik2.receiving, rk2.sending, 32);
	CHECK(memcmp(ik.sending, ik2.sending, 32) != 0);

	/* set_psk(NULL) equals no psk. */
	pair_setup(&q, 7, psk, psk);
	noise_handshake_set_psk(&q.init_hs, NULL);
	noise_handshake_set_psk(&q.resp_hs, NULL);
	CHECK_EQ_INT(pair_handshake(&q, &ik, &rk), 0);
	CHECK_MEM(ik.sending, ik2.sending, 32);

	/* psk only on one side: the initiation passes (psk enters in the
	 * response), the response does not authenticate. */
	pair_setup(&p, 8, psk, other);
	CHECK_EQ_INT(pair_handshake(&p, &ik, &rk), -EBADMSG);
	CHECK_EQ_INT(p.init_hs.state, HANDSHAKE_CREATED_INITIATION);
	pair_setup(&p, 8, NULL, psk);
	CHECK_EQ_INT(pair_handshake(&p, &ik, &rk), -EBADMSG);
}

/* Curve25519's points of small order, as canonical values, as non-canonical
 * ones (>= p) and with the top bit set, which X25519 ignores: DH with any of
 * them is zero. */
static const char *const low_order_points[] = {
	"0000000000000000000000000000000000000000000000000000000000000000", /* 0, order 4 */
	"0100000000000000000000000000000000000000000000000000000000000000", /* 1, order 1 */
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1, order 2 */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p = 0 */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 = 1 */
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", /* order 8, top bit */
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", /* order 8, top bit */
	"0000000000000000000000000000000000000000000000000000000000000080", /* 0, top bit */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", /* p - 1, top bit */
};

static void test_low_order_rejected(void)
{
	struct noise_static_identity id = { 0 }, none = { 0 };
	struct noise_handshake hs;
	uint8_t key[32], pub[32], out[32];

	memset(key, 0x42, 32);
	CHECK_EQ_INT(noise_static_identity_set(&id, key), 0);
	for (size_t i = 0; i < sizeof(low_order_points) / sizeof(low_order_points[0]); i++) {
		CHECK_EQ_INT(test_unhex(low_order_points[i], pub, 32), 32);
		CHECK(!x25519_dh(out, id.static_private, pub));
		CHECK_EQ_INT(noise_handshake_init(&hs, &id, pub, NULL), -EINVAL);
		CHECK(sodium_is_zero(hs.precomputed_static_static, 32));
		/* Without a local key yet, the point is still recognised. */
		CHECK_EQ_INT(noise_handshake_init(&hs, &none, pub, NULL), -EINVAL);
	}
	/* A real key is accepted, with or without a local identity. */
	memset(key, 0x17, 32);
	x25519_clamp(key);
	CHECK(x25519_public(pub, key));
	CHECK_EQ_INT(noise_handshake_init(&hs, &none, pub, NULL), 0);
	CHECK(sodium_is_zero(hs.precomputed_static_static, 32));
	hs.static_identity = &id;
	CHECK_EQ_INT(noise_handshake_precompute(&hs), 0);
	CHECK(!sodium_is_zero(hs.precomputed_static_static, 32));
	CHECK_EQ_INT(noise_handshake_init(&hs, &id, pub, NULL), 0);
	/* An initiation needs a usable DH(s, rs) and a local key. */
	uint8_t eph[32] = { 1 }, ts[NOISE_TIMESTAMP_LEN] = { 0x40 };
	struct message_handshake_initiation msg;
	hs.static_identity = &none;
	CHECK_EQ_INT(noise_create_initiation(&msg, &hs, 1, eph, ts), -ENOKEY);
	CHECK_EQ_INT(hs.state, HANDSHAKE_ZEROED);
}

static void test_static_identity(void)
{
	struct noise_static_identity id;
	uint8_t priv[32], pub[32], zero[32] = { 0 };

	/* RFC 7748 section 6.1, Alice. */
	test_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv, 32);
	test_unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", pub, 32);
	CHECK_EQ_INT(noise_static_identity_set(&id, priv), 0);
	CHECK(id.has_identity);
	CHECK_MEM(id.static_public, pub, 32);
	CHECK_EQ_INT(id.static_private[0] & 7, 0); /* clamped copy */
	CHECK_EQ_INT(noise_static_identity_set(&id, zero), -EINVAL);
	CHECK(!id.has_identity);
	CHECK_EQ_INT(noise_static_identity_set(&id, priv), 0);
	noise_static_identity_clear(&id);
	CHECK(!id.has_identity && sodium_is_zero(id.static_private, 32));
}

/* TAI64N: big-endian 2^62 + 10 + seconds, then nanoseconds rounded down to
 * 2^24 ns (the largest power of two below 1 s / INITIATIONS_PER_SECOND). */
static void test_tai64n(void)
{
	uint8_t ts[NOISE_TIMESTAMP_LEN], later[NOISE_TIMESTAMP_LEN], want[NOISE_TIMESTAMP_LEN];
	struct timespec t = { .tv_sec = 0, .tv_nsec = 0 };

	tai64n_from_timespec(ts, &t);
	test_unhex("400000000000000a00000000", want, sizeof(want));
	CHECK_MEM(ts, want, sizeof(want));
	t = (struct timespec){ .tv_sec = 1700000000, .tv_nsec = 999999999 };
	tai64n_from_timespec(ts, &t);
	test_unhex("400000006553f10a3b000000", want, sizeof(want)); /* 59 * 2^24 ns */
	CHECK_MEM(ts, want, sizeof(want));
	t.tv_nsec = 16777215;
	tai64n_from_timespec(ts, &t);
	t.tv_nsec = 16777216;
	tai64n_from_timespec(later, &t);
	CHECK(memcmp(ts, later, sizeof(ts)) < 0);
	CHECK(sodium_is_zero(ts + 8, 4));
}

static void test_replay_and_flood(void)
{
	struct wg_pair p;
	struct noise_handshake before;

	pair_setup(&p, 3, NULL, NULL);
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);

	/* The same initiation again, a second later: replay. */
	p.now += sec;
	before = p.resp_hs;
	CHECK_EQ_INT(pair_consume_initiation(&p), -ESTALE);
	CHECK(memcmp(&before, &p.resp_hs, sizeof(before)) == 0);

	/* An older timestamp, and an equal one (same 2^24 ns granule). */
	CHECK_EQ_INT(pair_initiate(&p, 2, p.wall - 1), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), -ESTALE);
	struct timespec a = { .tv_sec = p.wall, .tv_nsec = 1000 };
	uint8_t ts[NOISE_TIMESTAMP_LEN], eph[32] = { 9 };
	tai64n_from_timespec(ts, &a);
	CHECK_EQ_INT(noise_create_initiation(&p.init_msg, &p.init_hs, 3, eph, ts), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), -ESTALE);
	CHECK(memcmp(&before, &p.resp_hs, sizeof(before)) == 0);

	/* Newer, but 10 ms after the last consumed one: flood. At 20 ms
	 * (1 / INITIATIONS_PER_SECOND) it passes. */
	p.now = before.last_initiation_consumption + 10 * 1000000ull;
	CHECK_EQ_INT(pair_initiate(&p, 4, p.wall + 1), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), -EBUSY);
	CHECK(memcmp(&before, &p.resp_hs, sizeof(before)) == 0);
	p.now = before.last_initiation_consumption + 1000000000ull / INITIATIONS_PER_SECOND;
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
	CHECK_EQ_INT(p.resp_hs.remote_index, 4);

	/* The first initiation of a peer is never a flood, even at time 0. */
	pair_setup(&p, 4, NULL, NULL);
	p.now = 0;
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);

	/* Clearing the handshake keeps the replay state. */
	noise_handshake_clear(&p.resp_hs);
	p.now += sec;
	CHECK_EQ_INT(pair_consume_initiation(&p), -ESTALE);
}

static void test_unknown_key(void)
{
	struct wg_pair p;
	struct noise_handshake *out;
	struct noise_static_identity none = { 0 };

	pair_setup(&p, 5, NULL, NULL);
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	p.peers.count = 0;
	CHECK_EQ_INT(pair_consume_initiation(&p), -ENOKEY);
	CHECK_EQ_INT(p.peers.lookups, 1);
	/* A lookup answering with the handshake of another key is not trusted. */
	struct noise_handshake other = p.resp_hs;
	other.remote_static[0] ^= 1;
	CHECK_EQ_INT(
	    noise_consume_initiation(&p.init_msg, &p.resp_id, lookup_any, &other, p.now, &out),
	    -ENOKEY);
	CHECK_EQ_INT(other.state, HANDSHAKE_ZEROED);
	/* No local identity: nothing can be decrypted. */
	CHECK_EQ_INT(
	    noise_consume_initiation(&p.init_msg, &none, peers_lookup, &p.peers, p.now, &out),
	    -ENOKEY);
	/* Sent to a responder with another key: decryption fails first. */
	p.peers.count = 1;
	CHECK_EQ_INT(
	    noise_consume_initiation(&p.init_msg, &p.init_id, peers_lookup, &p.peers, p.now, &out),
	    -EBADMSG);
}

static void test_tampered_initiation(void)
{
	struct wg_pair p;
	struct message_handshake_initiation good;
	struct noise_handshake before;
	/* Offsets of e, AEAD(s), AEAD(t), including a tag byte. */
	static const size_t offsets[] = { 8, 20, 39, 40, 60, 87, 88, 100, 115 };

	pair_setup(&p, 6, NULL, NULL);
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	good = p.init_msg;
	before = p.resp_hs;
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		p.init_msg = good;
		((uint8_t *)&p.init_msg)[offsets[i]] ^= 0x01;
		CHECK_EQ_INT(pair_consume_initiation(&p), -EBADMSG);
		CHECK(memcmp(&before, &p.resp_hs, sizeof(before)) == 0);
	}
	/* The indices and MACs are not authenticated by Noise. */
	p.init_msg = good;
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
}

static void test_tampered_response(void)
{
	struct wg_pair p;
	struct message_handshake_response good;
	struct noise_handshake before;
	static const size_t offsets[] = { 12, 30, 43, 44, 59 };

	pair_setup(&p, 9, NULL, NULL);
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
	CHECK_EQ_INT(pair_respond(&p, 2), 0);
	good = p.resp_msg;
	before = p.init_hs;
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		p.resp_msg = good;
		((uint8_t *)&p.resp_msg)[offsets[i]] ^= 0x80;
		CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), -EBADMSG);
		CHECK(memcmp(&before, &p.init_hs, sizeof(before)) == 0);
	}
	/* Wrong receiver index: refused before any crypto. */
	p.resp_msg = good;
	p.resp_msg.receiver_index ^= 0x01000000;
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), -EINVAL);
	p.resp_msg = good;
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), 0);
	/* A second copy of the response finds the state moved on. */
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), -EINVAL);
}

static void test_wrong_state(void)
{
	struct wg_pair p;
	struct noise_session_keys keys;
	uint8_t eph[32] = { 3 };

	pair_setup(&p, 10, NULL, NULL);
	/* Responder has no initiation: cannot respond. */
	CHECK_EQ_INT(noise_create_response(&p.resp_msg, &p.resp_hs, 2, eph), -EINVAL);
	CHECK_EQ_INT(noise_begin_session(&p.resp_hs, &keys), -EINVAL);

	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	CHECK_EQ_INT(noise_begin_session(&p.init_hs, &keys), -EINVAL);
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
	CHECK_EQ_INT(noise_begin_session(&p.resp_hs, &keys), -EINVAL);
	CHECK_EQ_INT(pair_respond(&p, 2), 0);

	/* A response to a handshake that is not waiting for one. */
	noise_handshake_clear(&p.init_hs);
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.init_hs), -EINVAL);
	CHECK_EQ_INT(noise_consume_response(&p.resp_msg, &p.resp_hs), -EINVAL);

	/* Wipe leaves nothing. */
	noise_handshake_wipe(&p.resp_hs);
	struct noise_handshake zero;
	memset(&zero, 0, sizeof(zero));
	CHECK(memcmp(&p.resp_hs, &zero, sizeof(zero)) == 0);
}

/* Both sides initiate at once: each consumes the other's initiation, and
 * the later response completes one handshake. */
static void test_simultaneous_initiation(void)
{
	struct wg_pair p;
	struct noise_handshake *out;
	struct message_handshake_initiation from_resp;
	struct peers init_peers = { .hs = { &p.init_hs }, .count = 1 };
	uint8_t eph[32] = { 5 }, ts[NOISE_TIMESTAMP_LEN];
	struct timespec when = { .tv_sec = 1700000000 };

	pair_setup(&p, 11, NULL, NULL);
	init_peers.hs[0] = &p.init_hs;
	tai64n_from_timespec(ts, &when);
	CHECK_EQ_INT(pair_initiate(&p, 1, p.wall), 0);
	CHECK_EQ_INT(noise_create_initiation(&from_resp, &p.resp_hs, 2, eph, ts), 0);
	CHECK_EQ_INT(noise_consume_initiation(&from_resp, &p.init_id, peers_lookup, &init_peers,
					      p.now, &out),
		     0);
	CHECK(out == &p.init_hs);
	CHECK_EQ_INT(p.init_hs.state, HANDSHAKE_CONSUMED_INITIATION);
	CHECK_EQ_INT(pair_consume_initiation(&p), 0);
	CHECK_EQ_INT(p.resp_hs.state, HANDSHAKE_CONSUMED_INITIATION);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_wireguard_params);
	RUN(test_cacophony_vectors);
	RUN(test_static_identity);
	RUN(test_round_trip);
	RUN(test_psk);
	RUN(test_low_order_rejected);
	RUN(test_tai64n);
	RUN(test_replay_and_flood);
	RUN(test_unknown_key);
	RUN(test_tampered_initiation);
	RUN(test_tampered_response);
	RUN(test_wrong_state);
	RUN(test_simultaneous_initiation);
	return test_summary();
}
