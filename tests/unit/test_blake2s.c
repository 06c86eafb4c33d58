/*
 * Known answers for BLAKE2s (RFC 7693 appendix B and the self-test of
 * appendix E, the reference keyed KAT), the HMAC and KDF built on it, and
 * WireGuard's initial chaining key and hash.
 *
 * The HMAC, KDF and keyed answers were computed independently with Python 3:
 *   hmac.new(key, msg, hashlib.blake2s).digest()
 *   t0 = HMAC(ck, data); t1 = HMAC(t0, b"\x01"); t2 = HMAC(t0, t1 + b"\x02");
 *   t3 = HMAC(t0, t2 + b"\x03")
 *   hashlib.blake2s(bytes(range(n)), key=bytes(range(32)))
 */
#include <string.h>

#include "testlib.h"
#include "wg/crypto.h"

static void test_rfc7693_abc(void)
{
	uint8_t out[32], want[32];
	test_unhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", want, 32);
	blake2s_hash(out, "abc", 3);
	CHECK_MEM(out, want, 32);
	blake2s_hash2(out, "a", 1, "bc", 2);
	CHECK_MEM(out, want, 32);
}

/* RFC 7693 appendix E: deterministic input from a Fibonacci generator. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* RFC 7693 appendix E: the BLAKE2s "grand hash" of unkeyed and keyed hashes
 * over every digest length {16, 20, 28, 32} and input length
 * {0, 3, 64, 65, 255, 1024}. */
static void test_rfc7693_selftest(void)
{
	static const size_t md_len[] = { 16, 20, 28, 32 };
	static const size_t in_len[] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], key[32], all[4 * 6 * 2 * 32], out[32], want[32];
	size_t n = 0;

	for (size_t i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (size_t j = 0; j < 6; j++) {
			size_t inlen = in_len[j];
			selftest_seq(in, inlen, (uint32_t)inlen);
			blake2s_mac(all + n, outlen, NULL, 0, in, inlen);
			n += outlen;
			selftest_seq(key, outlen, (uint32_t)outlen);
			blake2s_mac(all + n, outlen, key, outlen, in, inlen);
			n += outlen;
		}
	}
	blake2s_hash(out, all, n);
	test_unhex("6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe", want, 32);
	CHECK_MEM(out, want, 32);
}

/* The reference blake2s-kat keyed answers: key 00..1f, input 00..(n-1). */
static void test_keyed_kat(void)
{
	static const struct {
		size_t len;
		const char *hex;
	} kat[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		{ 63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
		{ 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
		{ 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
		{ 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t key[32], in[255], out[32], want[32];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		test_unhex(kat[i].hex, want, 32);
		blake2s_mac(out, 32, key, 32, in, kat[i].len);
		CHECK_MEM(out, want, 32);
	}
}

/* HASH(a || b) equals the one-shot hash wherever the split falls. */
static void test_hash2_split(void)
{
	uint8_t in[200], one[32], two[32];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 31 + 7);
	blake2s_hash(one, in, sizeof(in));
	for (size_t split = 0; split <= sizeof(in); split += 13) {
		blake2s_hash2(two, in, split, in + split, sizeof(in) - split);
		CHECK_MEM(two, one, 32);
	}
}

static void test_hmac(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t key[100], out[32], want[32];

	blake2s_hmac(out, "key", 3, fox, strlen(fox));
	test_unhex("f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0", want, 32);
	CHECK_MEM(out, want, 32);

	/* A key longer than a block is hashed first. */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	blake2s_hmac(out, key, 100, "message", 7);
	test_unhex("0d91cbef198cf7e3847de5efd2c35fa5e8b8f90b5d751a12f7c76154a6d0b56f", want, 32);
	CHECK_MEM(out, want, 32);

	/* A key of exactly one block is used as is; empty message. */
	blake2s_hmac(out, key, 64, "", 0);
	test_unhex("4a4f8f181c931253202b2d7a77e2a612f65580f4b0d56108f7f275f22b63ae00", want, 32);
	CHECK_MEM(out, want, 32);
}

static void test_kdf(void)
{
	static const char ikm[] = "input key material";
	uint8_t ck[32], t1[32], t2[32], t3[32], want[3][32], only[32];

	for (size_t i = 0; i < sizeof(ck); i++)
		ck[i] = (uint8_t)i;
	test_unhex("93e2a65883e34ac95485f5d0aa4b09163a4e944dab8cf9406d3a138e362851c6", want[0], 32);
	test_unhex("dd6fae42afdb2a41170f44dc5b885ec4cfd17c8dd324d38b390c548630dd0a83", want[1], 32);
	test_unhex("4125e0adfa9b7e736615e99dde6f3f0b64b949d8b480e82cab2e685dc286e45d", want[2], 32);
	blake2s_kdf(t1, t2, t3, ikm, strlen(ikm), ck);
	CHECK_MEM(t1, want[0], 32);
	CHECK_MEM(t2, want[1], 32);
	CHECK_MEM(t3, want[2], 32);

	/* Fewer outputs give the same prefix. */
	blake2s_kdf(only, NULL, NULL, ikm, strlen(ikm), ck);
	CHECK_MEM(only, want[0], 32);
	blake2s_kdf(NULL, only, NULL, ikm, strlen(ikm), ck);
	CHECK_MEM(only, want[1], 32);
	blake2s_kdf(NULL, NULL, only, ikm, strlen(ikm), ck);
	CHECK_MEM(only, want[2], 32);

	/* The output may overwrite the chaining key (ck = KDF1(ck, x)). */
	blake2s_kdf(ck, NULL, NULL, ikm, strlen(ikm), ck);
	CHECK_MEM(ck, want[0], 32);

	/* Noise Split of WireGuard's initial chaining key, empty input. */
	test_unhex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", ck, 32);
	test_unhex("bd968725a9177942a8c2e4253d1dde31cf7b19ec001b4a3a3d141cd9d998d3ba", want[0], 32);
	test_unhex("aab5462b323780fa615bf80ffe469510239ff361575a663968e686a7ae41d693", want[1], 32);
	test_unhex("ae1e06e0931da10b9971bab8e282b42307522b38c0f4492cdd1bf44298126887", want[2], 32);
	blake2s_kdf(t1, t2, t3, "", 0, ck);
	CHECK_MEM(t1, want[0], 32);
	CHECK_MEM(t2, want[1], 32);
	CHECK_MEM(t3, want[2], 32);
}

/* Ci = HASH(Construction); Hi = HASH(Ci || Identifier). Also from Python:
 * hashlib.blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"). */
static void test_wireguard_initial_chaining_key(void)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t ck[32], h[32], want[32];

	blake2s_hash(ck, construction, strlen(construction));
	test_unhex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", want, 32);
	CHECK_MEM(ck, want, 32);
	blake2s_hash2(h, ck, 32, identifier, strlen(identifier));
	test_unhex("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", want, 32);
	CHECK_MEM(h, want, 32);
}

int main(void)
{
	RUN(test_rfc7693_abc);
	RUN(test_rfc7693_selftest);
	RUN(test_keyed_kat);
	RUN(test_hash2_split);
	RUN(test_hmac);
	RUN(test_kdf);
	RUN(test_wireguard_initial_chaining_key);
	return test_summary();
}
