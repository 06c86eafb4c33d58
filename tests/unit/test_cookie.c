/*
 * MAC1/MAC2 and cookie replies: known answers for the keys and MACs, then the
 * load path (a cookie reply consumed by the initiator makes its next message
 * carry mac2), source binding, secret rotation and cookie expiry.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/un.h>

#include "testlib.h"
#include "wg/cookie.h"

static const uint64_t sec = 1000000000ull;

/* The responder's public key and the sender's source bytes in these tests. */
static uint8_t resp_public[32];
static const uint8_t src_a[6] = { 192, 0, 2, 1, 0xca, 0x6c }; /* 192.0.2.1:51820 */
static const uint8_t src_b[6] = { 192, 0, 2, 1, 0xca, 0x6d }; /* another port */
static const uint8_t src_c[6] = { 192, 0, 2, 2, 0xca, 0x6c }; /* another address */

static void fill_message(uint8_t *msg, size_t len, uint8_t type)
{
	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	msg[0] = type;
	memset(msg + len - 32, 0, 32); /* mac1, mac2 */
}

static void fill_random(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13);
}

/*
 * Known answers computed with Python's hashlib.blake2s:
 *   pub = bytes(range(32)); k1 = blake2s(b"mac1----" + pub);
 *   kc = blake2s(b"cookie--" + pub);
 *   msg = bytes((i*7+1) & 0xff for i in range(148));
 *   mac1 = blake2s(msg[:116], digest_size=16, key=k1)
 *   mac2 = blake2s(msg[:116] + mac1, digest_size=16, key=bytes(range(0x80, 0x90)))
 *   cookie = blake2s(bytes([192,0,2,1,0xca,0x6c]), digest_size=16,
 *                    key=bytes(range(0x40, 0x60)))
 */
static void test_known_answers(void)
{
	struct cookie_checker c = { 0 };
	struct cookie ck;
	uint8_t want[32], msg[148], secret[32], cookie[16];

	for (int i = 0; i < 32; i++)
		resp_public[i] = (uint8_t)i;
	cookie_checker_init(&c, resp_public);
	cookie_init(&ck, resp_public);
	test_unhex("4fb2527ac956001553dc1ad9b55171b7d9daa3de1cdbcd71451830170c7e6cac", want, 32);
	CHECK_MEM(c.message_mac1_key, want, 32);
	CHECK_MEM(ck.message_mac1_key, want, 32);
	test_unhex("3dd5869c5202e45146936d1644f76ff697061661c181f3fd450eae43932eacec", want, 32);
	CHECK_MEM(c.cookie_encryption_key, want, 32);
	CHECK_MEM(ck.cookie_decryption_key, want, 32);

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	cookie_add_mac_to_packet(msg, sizeof(msg), &ck, 0);
	test_unhex("4851da3016ae3667f2039a71aee50a2c", want, 16);
	CHECK_MEM(msg + 116, want, 16);
	CHECK(sodium_is_zero(msg + 132, 16)); /* no cookie yet */
	CHECK_MEM(ck.last_mac1_sent, want, 16);
	CHECK(ck.have_sent_mac1);

	for (int i = 0; i < 16; i++)
		ck.cookie[i] = (uint8_t)(0x80 + i);
	ck.is_valid = true;
	ck.birthdate = 0;
	cookie_add_mac_to_packet(msg, sizeof(msg), &ck, sec);
	test_unhex("65ad35a54b9debb9b9a35e2068c24a36", want, 16);
	CHECK_MEM(msg + 132, want, 16);

	/* The responder's cookie for src_a under a known secret, seen through
	 * the reply it encrypts to mac1. */
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(0x40 + i);
	struct message_handshake_cookie reply;
	uint8_t nonce[COOKIE_NONCE_LEN];
	fill_random(nonce, sizeof(nonce), 3);
	CHECK_EQ_INT(cookie_message_create(&reply, msg, sizeof(msg), 0x01020304, src_a,
					   sizeof(src_a), &c, 5 * sec, nonce, secret),
		     0);
	CHECK_EQ_INT(le32toh(reply.header.type), MESSAGE_HANDSHAKE_COOKIE);
	CHECK_EQ_INT(le32toh(reply.receiver_index), 0x01020304);
	CHECK_MEM(reply.nonce, nonce, sizeof(nonce));
	CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(
			 cookie, NULL, NULL, reply.encrypted_cookie, sizeof(reply.encrypted_cookie),
			 msg + 116, 16, reply.nonce, c.cookie_encryption_key),
		     0);
	test_unhex("c2b7c3e5c15600d654aafde43165ca60", want, 16);
	CHECK_MEM(cookie, want, 16);
	CHECK(c.has_secret);
	CHECK_EQ_INT(c.secret_birthdate, 5 * sec);
}

static void test_mac1(void)
{
	struct cookie_checker c = { 0 }, other = { 0 };
	struct cookie ck;
	uint8_t init[148], resp[92], bad[148], rnd[32], other_pub[32];

	fill_random(rnd, 32, 1);
	fill_random(other_pub, 32, 2);
	cookie_checker_init(&c, resp_public);
	cookie_checker_init(&other, other_pub);
	cookie_init(&ck, resp_public);
	fill_message(init, sizeof(init), MESSAGE_HANDSHAKE_INITIATION);
	fill_message(resp, sizeof(resp), MESSAGE_HANDSHAKE_RESPONSE);
	cookie_add_mac_to_packet(init, sizeof(init), &ck, 0);
	cookie_add_mac_to_packet(resp, sizeof(resp), &ck, 0);

	CHECK_EQ_INT(cookie_validate_packet(&c, init, sizeof(init), src_a, 6, false, 0, rnd),
		     COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(cookie_validate_packet(&c, resp, sizeof(resp), src_a, 6, false, 0, rnd),
		     COOKIE_MAC_VALID_NO_COOKIE);
	/* Keyed by the receiver's public key. */
	CHECK_EQ_INT(cookie_validate_packet(&other, init, sizeof(init), src_a, 6, false, 0, rnd),
		     COOKIE_MAC_INVALID);
	/* Any changed byte before mac1, or in mac1. */
	static const size_t offsets[] = { 0, 4, 8, 100, 115, 116, 131 };
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		memcpy(bad, init, sizeof(bad));
		bad[offsets[i]] ^= 0x20;
		CHECK_EQ_INT(cookie_validate_packet(&c, bad, sizeof(bad), src_a, 6, false, 0, rnd),
			     COOKIE_MAC_INVALID);
	}
	/* mac2 is not covered by mac1. */
	memcpy(bad, init, sizeof(bad));
	bad[140] ^= 1;
	CHECK_EQ_INT(cookie_validate_packet(&c, bad, sizeof(bad), src_a, 6, false, 0, rnd),
		     COOKIE_MAC_VALID_NO_COOKIE);
	/* Only handshake sizes carry MACs. */
	static const size_t lens[] = { 0, 1, 31, 32, 64, 91, 93, 147 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		CHECK_EQ_INT(cookie_validate_packet(&c, init, lens[i], src_a, 6, true, 0, rnd),
			     COOKIE_MAC_INVALID);
	/* Checking MAC1 alone never creates the secret. */
	CHECK(!c.has_secret);
	CHECK(cookie_checker_needs_secret(&c, 0));
}

/* The flow under load up to the consumed cookie reply: initiation without
 * mac2, VALID_NO_COOKIE, cookie reply, cookie stored by the initiator. */
struct load_flow {
	struct cookie_checker c;
	struct cookie ck;
	uint8_t msg[148];
	uint8_t rnd[32];
	uint64_t t0;
};

static void load_flow_setup(struct load_flow *f)
{
	struct message_handshake_cookie reply;
	uint8_t nonce[COOKIE_NONCE_LEN];

	memset(f, 0, sizeof(*f));
	f->t0 = 7 * sec;
	fill_random(f->rnd, 32, 9);
	fill_random(nonce, sizeof(nonce), 4);
	cookie_checker_init(&f->c, resp_public);
	cookie_init(&f->ck, resp_public);
	fill_message(f->msg, sizeof(f->msg), MESSAGE_HANDSHAKE_INITIATION);
	cookie_add_mac_to_packet(f->msg, sizeof(f->msg), &f->ck, f->t0);

	/* Under load, a valid mac1 without mac2 earns a cookie reply. */
	CHECK_EQ_INT(
	    cookie_validate_packet(&f->c, f->msg, sizeof(f->msg), src_a, 6, true, f->t0, f->rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
	CHECK(f->c.has_secret);
	CHECK_EQ_INT(cookie_message_create(&reply, f->msg, sizeof(f->msg), 77, src_a, 6, &f->c,
					   f->t0, nonce, f->rnd),
		     0);
	CHECK_EQ_INT(cookie_message_consume(&reply, &f->ck, f->t0), 0);
	CHECK(f->ck.is_valid);
	CHECK(!f->ck.have_sent_mac1);
	/* One reply per message sent. */
	CHECK_EQ_INT(cookie_message_consume(&reply, &f->ck, f->t0), -EINVAL);
}

static void test_cookie_under_load(void)
{
	struct load_flow f;

	load_flow_setup(&f);
	/* The retransmitted initiation carries mac2 and passes. */
	fill_message(f.msg, sizeof(f.msg), MESSAGE_HANDSHAKE_INITIATION);
	cookie_add_mac_to_packet(f.msg, sizeof(f.msg), &f.ck, f.t0 + sec);
	CHECK(!sodium_is_zero(f.msg + 132, 16));
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_WITH_COOKIE);
	/* Not under load, mac2 is not looked at. */
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, false, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
	/* A response-sized message gets mac2 as well. */
	uint8_t resp[92];
	fill_message(resp, sizeof(resp), MESSAGE_HANDSHAKE_RESPONSE);
	cookie_add_mac_to_packet(resp, sizeof(resp), &f.ck, f.t0 + sec);
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, resp, sizeof(resp), src_a, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_WITH_COOKIE);
	/* A changed mac2 fails. */
	f.msg[140] ^= 4;
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
}

static void test_cookie_bound_to_source(void)
{
	struct load_flow f;

	load_flow_setup(&f);
	fill_message(f.msg, sizeof(f.msg), MESSAGE_HANDSHAKE_INITIATION);
	cookie_add_mac_to_packet(f.msg, sizeof(f.msg), &f.ck, f.t0 + sec);
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_b, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_c, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 4, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true, f.t0 + sec, f.rnd),
	    COOKIE_MAC_VALID_WITH_COOKIE);
}

static void test_secret_rotation(void)
{
	struct load_flow f;
	uint8_t secret[32], rnd2[32];

	load_flow_setup(&f);
	fill_random(rnd2, 32, 99);
	memcpy(secret, f.c.secret, 32);
	fill_message(f.msg, sizeof(f.msg), MESSAGE_HANDSHAKE_INITIATION);
	cookie_add_mac_to_packet(f.msg, sizeof(f.msg), &f.ck, f.t0 + 100 * sec);

	CHECK(!cookie_checker_needs_secret(&f.c, f.t0 + COOKIE_SECRET_MAX_AGE * sec - 1));
	CHECK(cookie_checker_needs_secret(&f.c, f.t0 + COOKIE_SECRET_MAX_AGE * sec));
	/* A fresh secret is kept: the caller's random bytes are not used. */
	CHECK_EQ_INT(cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true,
					    f.t0 + 119 * sec, rnd2),
		     COOKIE_MAC_VALID_WITH_COOKIE);
	CHECK_MEM(f.c.secret, secret, 32);
	CHECK_EQ_INT(f.c.secret_birthdate, f.t0);

	/* At COOKIE_SECRET_MAX_AGE the secret is replaced: old cookies fail. */
	CHECK_EQ_INT(cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true,
					    f.t0 + COOKIE_SECRET_MAX_AGE * sec, rnd2),
		     COOKIE_MAC_VALID_NO_COOKIE);
	CHECK_MEM(f.c.secret, rnd2, 32);
	CHECK_EQ_INT(f.c.secret_birthdate, f.t0 + COOKIE_SECRET_MAX_AGE * sec);

	/* Re-initialising the keys (identity change) keeps the secret. */
	cookie_checker_init(&f.c, resp_public);
	CHECK(f.c.has_secret);
	CHECK_MEM(f.c.secret, rnd2, 32);
	cookie_checker_wipe(&f.c);
	CHECK(!f.c.has_secret && sodium_is_zero(f.c.secret, 32));
}

static void test_cookie_expiry(void)
{
	struct load_flow f;
	const uint64_t life = (COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) * sec;

	load_flow_setup(&f);
	fill_message(f.msg, sizeof(f.msg), MESSAGE_HANDSHAKE_INITIATION);
	cookie_add_mac_to_packet(f.msg, sizeof(f.msg), &f.ck, f.t0 + life - 1);
	CHECK(!sodium_is_zero(f.msg + 132, 16));
	cookie_add_mac_to_packet(f.msg, sizeof(f.msg), &f.ck, f.t0 + life);
	CHECK(sodium_is_zero(f.msg + 132, 16));
	CHECK_EQ_INT(
	    cookie_validate_packet(&f.c, f.msg, sizeof(f.msg), src_a, 6, true, f.t0 + life, f.rnd),
	    COOKIE_MAC_VALID_NO_COOKIE);
}

static void test_reply_rejected(void)
{
	struct cookie_checker c;
	struct cookie ck;
	struct message_handshake_cookie reply, bad;
	uint8_t msg[148], rnd[32], nonce[COOKIE_NONCE_LEN], other_pub[32];

	fill_random(rnd, 32, 5);
	fill_random(nonce, sizeof(nonce), 6);
	memset(&c, 0, sizeof(c));
	cookie_checker_init(&c, resp_public);
	cookie_init(&ck, resp_public);
	fill_message(msg, sizeof(msg), MESSAGE_HANDSHAKE_INITIATION);

	/* Nothing sent yet. */
	CHECK_EQ_INT(
	    cookie_message_create(&reply, msg, sizeof(msg), 1, src_a, 6, &c, 0, nonce, rnd), 0);
	CHECK_EQ_INT(cookie_message_consume(&reply, &ck, 0), -EINVAL);

	/* A reply to another message than the last one sent. */
	cookie_add_mac_to_packet(msg, sizeof(msg), &ck, 0);
	CHECK_EQ_INT(
	    cookie_message_create(&reply, msg, sizeof(msg), 1, src_a, 6, &c, 0, nonce, rnd), 0);
	msg[20] ^= 1;
	cookie_add_mac_to_packet(msg, sizeof(msg), &ck, 0);
	CHECK_EQ_INT(cookie_message_consume(&reply, &ck, 0), -EBADMSG);
	CHECK(!ck.is_valid && ck.have_sent_mac1);

	/* Tampered nonce or ciphertext. */
	CHECK_EQ_INT(
	    cookie_message_create(&reply, msg, sizeof(msg), 1, src_a, 6, &c, 0, nonce, rnd), 0);
	bad = reply;
	bad.nonce[0] ^= 1;
	CHECK_EQ_INT(cookie_message_consume(&bad, &ck, 0), -EBADMSG);
	bad = reply;
	bad.encrypted_cookie[31] ^= 1;
	CHECK_EQ_INT(cookie_message_consume(&bad, &ck, 0), -EBADMSG);
	/* Encrypted for another responder's key. */
	struct cookie other_ck;
	fill_random(other_pub, 32, 8);
	cookie_init(&other_ck, other_pub);
	cookie_add_mac_to_packet(msg, sizeof(msg), &other_ck, 0);
	CHECK_EQ_INT(cookie_message_consume(&reply, &other_ck, 0), -EBADMSG);
	CHECK(!ck.is_valid);
	CHECK_EQ_INT(cookie_message_consume(&reply, &ck, 0), 0);
	CHECK(ck.is_valid);

	/* Only handshake messages get replies. */
	CHECK_EQ_INT(cookie_message_create(&reply, msg, 64, 1, src_a, 6, &c, 0, nonce, rnd),
		     -EINVAL);
}

static void test_source_from_sockaddr(void)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint8_t out[COOKIE_SOURCE_MAX_LEN], want[COOKIE_SOURCE_MAX_LEN];
	size_t len = 99;

	inet_pton(AF_INET, "192.0.2.1", &in4.sin_addr);
	CHECK_EQ_INT(cookie_source_from_sockaddr((struct sockaddr *)&in4, out, &len), 0);
	CHECK_EQ_INT(len, 6);
	CHECK_MEM(out, src_a, 6);

	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	CHECK_EQ_INT(cookie_source_from_sockaddr((struct sockaddr *)&in6, out, &len), 0);
	CHECK_EQ_INT(len, 18);
	test_unhex("20010db800000000000000000000000101bb", want, sizeof(want));
	CHECK_MEM(out, want, 18);

	CHECK_EQ_INT(cookie_source_from_sockaddr((struct sockaddr *)&un, out, &len), -EAFNOSUPPORT);
	CHECK_EQ_INT(len, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_known_answers);
	RUN(test_mac1);
	RUN(test_cookie_under_load);
	RUN(test_cookie_bound_to_source);
	RUN(test_secret_rotation);
	RUN(test_cookie_expiry);
	RUN(test_reply_rejected);
	RUN(test_source_from_sockaddr);
	return test_summary();
}
