/* Invite codes (daemon/mesh/invite.c). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/invite.h"
#include "testlib.h"

static const char *const endpoint_texts[] = {
	"203.0.113.2:41641", "[2001:db8::2]:41641", "vpn.example.com:51820", "192.168.77.1:1",
	"[::1]:65535",       "coordinator:41641",   "a-b_c.example.org.:7",  "10.0.0.1:41641",
};

static struct endpoint ep(const char *text)
{
	struct endpoint e;

	if (endpoint_parse(&e, text) < 0)
		abort();
	return e;
}

static void sample(struct invite *inv, size_t n_endpoints)
{
	uint8_t key[KEY_LEN];

	for (size_t i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)(i + 1);
	struct endpoint eps[INVITE_MAX_ENDPOINTS];
	for (size_t i = 0; i < n_endpoints; i++)
		eps[i] = ep(endpoint_texts[i]);
	if (invite_generate(inv, key, eps, n_endpoints) != 0)
		abort();
	inv->id = 0x0102030405060708ull;
}

static bool same_invite(const struct invite *a, const struct invite *b)
{
	char ta[ENDPOINT_STR_LEN], tb[ENDPOINT_STR_LEN];

	if (memcmp(a->coordinator_key, b->coordinator_key, KEY_LEN) || a->id != b->id ||
	    memcmp(a->secret, b->secret, MESH_SECRET_LEN) || a->n_endpoints != b->n_endpoints)
		return false;
	for (size_t i = 0; i < a->n_endpoints; i++) {
		endpoint_format(&a->endpoints[i], ta, sizeof(ta));
		endpoint_format(&b->endpoints[i], tb, sizeof(tb));
		if (strcmp(ta, tb) != 0 || a->endpoints[i].numeric != b->endpoints[i].numeric)
			return false;
	}
	return true;
}

static void test_round_trip(void)
{
	for (size_t n = 0; n <= INVITE_MAX_ENDPOINTS; n++) {
		struct invite inv, got;
		char code[INVITE_CODE_MAX], err[128] = "";

		sample(&inv, n);
		CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
		CHECK(strncmp(code, "mg1-", 4) == 0);
		CHECK(strspn(code + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_") == strlen(code + 4));
		if (!CHECK_EQ_INT(invite_decode(code, &got, err, sizeof(err)), 0))
			fprintf(stderr, "  %zu endpoints: %s\n", n, err);
		CHECK(same_invite(&inv, &got));
		if (n >= 2) {
			CHECK(got.endpoints[0].numeric && got.endpoints[1].numeric);
			CHECK(got.endpoints[1].addr.sa.sa_family == AF_INET6);
		}
		if (n >= 3)
			CHECK(!got.endpoints[2].numeric);
		invite_clear(&inv);
		invite_clear(&got);
	}
}

/* A known encoding, so the format cannot drift unnoticed. */
static void test_known_code(void)
{
	struct invite inv = { 0 }, got;
	char code[INVITE_CODE_MAX];

	for (size_t i = 0; i < KEY_LEN; i++)
		inv.coordinator_key[i] = (uint8_t)i + 1;
	memset(inv.secret, 0xaa, sizeof(inv.secret));
	inv.id = 1;
	inv.endpoints[0] = ep("1.2.3.4:5");
	inv.n_endpoints = 1;
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	CHECK(strcmp(code, "mg1-AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gAQAAAAAAAACqqqqqqqqqqq"
			   "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqgEJMS4yLjMuNDo1") == 0);
	CHECK_EQ_INT(invite_decode(code, &got, NULL, 0), 0);
	CHECK(got.id == 1 && got.secret[31] == 0xaa);
}

static void test_white_space(void)
{
	struct invite inv, got;
	char code[INVITE_CODE_MAX], padded[INVITE_CODE_MAX + 16];

	sample(&inv, 2);
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	snprintf(padded, sizeof(padded), " \t%s\r\n ", code);
	CHECK_EQ_INT(invite_decode(padded, &got, NULL, 0), 0);
	CHECK(same_invite(&inv, &got));
	/* Inside the code, white space is damage. */
	snprintf(padded, sizeof(padded), "%.10s %s", code, code + 10);
	CHECK_EQ_INT(invite_decode(padded, &got, NULL, 0), -EINVAL);
}

static void check_error(const char *code, const char *message)
{
	struct invite got;
	char err[128] = "";

	memset(&got, 0x55, sizeof(got));
	if (!CHECK_EQ_INT(invite_decode(code, &got, err, sizeof(err)), -EINVAL) ||
	    !CHECK(strstr(err, message) != NULL))
		fprintf(stderr, "  '%.40s': got \"%s\"\n", code, err);
	CHECK(sodium_is_zero((const uint8_t *)&got, sizeof(got)));
}

static void test_errors(void)
{
	struct invite inv;
	char code[INVITE_CODE_MAX], buf[INVITE_CODE_MAX * 2];

	check_error("", "not a meshgate invite code (it starts with mg1-)");
	check_error("mg2-AQID", "not a meshgate invite code");
	check_error("MG1-AQID", "not a meshgate invite code");
	check_error("AQECAwQFBgcICQoLDA0ODxAREhMU", "not a meshgate invite code");
	check_error("mg1-", "invite code is damaged (copy it whole)");
	check_error("mg1-A", "invite code is damaged");
	check_error("mg1-AQ==", "invite code is damaged");
	check_error("mg1-AQ+/", "invite code is damaged");
	check_error("mg1-Ag", "from a newer meshgate (version 2");
	check_error("mg1-_w", "invite code is damaged");

	sample(&inv, 3);
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	/* Truncated anywhere: damaged. */
	for (size_t n = 5; n < strlen(code); n++) {
		snprintf(buf, sizeof(buf), "%.*s", (int)n, code);
		check_error(buf, "invite code is damaged");
	}
	/* Extra characters: damaged, or too long past the largest code. */
	snprintf(buf, sizeof(buf), "%sAAAA", code);
	check_error(buf, "invite code is damaged");
	memset(buf, 'A', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "mg1-", 4);
	check_error(buf, "invite code is too long");
}

/* Each character of a code changed: an error or another invite, never a
 * crash (ASan/UBSan watch the decoder). */
static void test_each_character(void)
{
	static const char alphabet[] = "AZaz09-_!.";
	struct invite inv, got;
	char code[INVITE_CODE_MAX];
	unsigned errors = 0, decoded = 0;

	sample(&inv, INVITE_MAX_ENDPOINTS);
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	for (size_t i = 0; code[i]; i++) {
		for (const char *c = alphabet; *c; c++) {
			char saved = code[i];
			if (*c == saved)
				continue;
			code[i] = *c;
			if (invite_decode(code, &got, NULL, 0) == 0) {
				decoded++;
				CHECK(!same_invite(&inv, &got));
			} else {
				errors++;
			}
			code[i] = saved;
		}
	}
	CHECK(errors > 0 && decoded > 0);
}

/* Each byte of the binary form flipped (re-encoded, so base64 stays
 * valid): an error or another invite. */
static void test_each_byte(void)
{
	struct invite inv, got;
	char code[INVITE_CODE_MAX], mutated[INVITE_CODE_MAX];
	uint8_t bin[INVITE_BINARY_MAX];
	size_t n;

	sample(&inv, 4);
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	if (sodium_base642bin(bin, sizeof(bin), code + 4, strlen(code + 4), NULL, &n, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			bin[i] ^= (uint8_t)(1u << bit);
			memcpy(mutated, "mg1-", 4);
			sodium_bin2base64(mutated + 4, sizeof(mutated) - 4, bin, n,
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			if (invite_decode(mutated, &got, NULL, 0) == 0)
				CHECK(!same_invite(&inv, &got));
			bin[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* An all-zero coordinator key is refused. */
	memset(bin + 1, 0, KEY_LEN);
	memcpy(mutated, "mg1-", 4);
	sodium_bin2base64(mutated + 4, sizeof(mutated) - 4, bin, n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	check_error(mutated, "invite code is damaged");
}

static void test_encode_limits(void)
{
	struct invite inv;
	char code[INVITE_CODE_MAX], small[16];
	struct endpoint eps[INVITE_MAX_ENDPOINTS + 1], longname;
	char name[300];
	uint8_t key[KEY_LEN] = { 1 };

	/* The longest invite: eight names of the longest text a length byte
	 * holds. INVITE_CODE_MAX is enough for it. */
	memset(name, 'a', sizeof(name));
	for (size_t i = 60; i < 250; i += 61)
		name[i] = '.';
	snprintf(name + 249, sizeof(name) - 249, ":65535");
	if (endpoint_parse(&longname, name) != 0)
		abort();
	for (size_t i = 0; i <= INVITE_MAX_ENDPOINTS; i++)
		eps[i] = longname;
	CHECK_EQ_INT(invite_generate(&inv, key, eps, INVITE_MAX_ENDPOINTS), 0);
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), 0);
	CHECK_EQ_INT(strlen(code) + 1, INVITE_CODE_MAX);
	CHECK_EQ_INT(invite_encode(&inv, small, sizeof(small)), -ENOSPC);
	CHECK_EQ_INT(invite_encode(&inv, code, strlen(code)), -ENOSPC);
	CHECK_EQ_INT(invite_encode(&inv, code, strlen(code) + 1), 0);

	CHECK_EQ_INT(invite_generate(&inv, key, eps, INVITE_MAX_ENDPOINTS + 1), -EINVAL);
	inv.n_endpoints = INVITE_MAX_ENDPOINTS + 1;
	CHECK_EQ_INT(invite_encode(&inv, code, sizeof(code)), -EINVAL);
	/* A 253-character name with its port does not fit a length byte. */
	memset(name, 'a', sizeof(name));
	for (size_t i = 60; i < 253; i += 61)
		name[i] = '.';
	snprintf(name + 253, sizeof(name) - 253, ":65535");
	if (endpoint_parse(&longname, name) != 0)
		abort();
	CHECK_EQ_INT(invite_generate(&inv, key, &longname, 1), -EINVAL);
}

static void test_generate(void)
{
	struct invite a, b;
	uint8_t key[KEY_LEN] = { 9 };

	CHECK_EQ_INT(invite_generate(&a, key, NULL, 0), 0);
	CHECK_EQ_INT(invite_generate(&b, key, NULL, 0), 0);
	CHECK(a.id == 0 && a.n_endpoints == 0);
	CHECK_MEM(a.coordinator_key, key, KEY_LEN);
	CHECK(!sodium_is_zero(a.secret, MESH_SECRET_LEN));
	CHECK(memcmp(a.secret, b.secret, MESH_SECRET_LEN) != 0);
	invite_clear(&a);
	CHECK(sodium_is_zero((const uint8_t *)&a, sizeof(a)));
}

static void test_hash(void)
{
	uint8_t secret[MESH_SECRET_LEN], h1[INVITE_HASH_LEN], h2[INVITE_HASH_LEN];
	uint8_t plain[32], want[32];

	memset(secret, 0x42, sizeof(secret));
	invite_secret_hash(secret, h1);
	invite_secret_hash(secret, h2);
	CHECK_MEM(h1, h2, sizeof(h1));
	/* Stable across versions: a fixed value for a fixed secret. */
	CHECK_EQ_INT(test_unhex("1dfc240c0049cd09e71f637b239b47c50f1c8abfbf03f71ad67aa20fad9d1d3a",
				want, sizeof(want)),
		     32);
	CHECK_MEM(h1, want, 32);
	/* Domain-separated: not the plain BLAKE2b of the secret. */
	crypto_generichash(plain, sizeof(plain), secret, sizeof(secret), NULL, 0);
	CHECK(memcmp(h1, plain, 32) != 0);
	secret[0] ^= 1;
	invite_secret_hash(secret, h2);
	CHECK(memcmp(h1, h2, 32) != 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_round_trip);
	RUN(test_known_code);
	RUN(test_white_space);
	RUN(test_errors);
	RUN(test_each_character);
	RUN(test_each_byte);
	RUN(test_encode_limits);
	RUN(test_generate);
	RUN(test_hash);
	return test_summary();
}
