/*
 * The STUN codec (daemon/mesh/stun.c) with RFC 5769's sample responses,
 * crafted ones and hostile inputs; the address classifier and the order of
 * an invite's endpoints (daemon/mesh/invite.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/invite.h"
#include "mesh/stun.h"
#include "testlib.h"

/* RFC 5769 2.2: sample IPv4 response (SOFTWARE, XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY, FINGERPRINT). */
static const char rfc5769_v4[] = "0101003c2112a442b7e7a701bc34d686fa87dfae"
				 "8022000b7465737420766563746f7220"
				 "002000080001a147e112a643"
				 "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
				 "80280004c07d4c96";

/* RFC 5769 2.3: sample IPv6 response. */
static const char rfc5769_v6[] = "010100482112a442b7e7a701bc34d686fa87dfae"
				 "8022000b7465737420766563746f7220"
				 "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
				 "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
				 "80280004c8fb0b4c";

static size_t unhex(const char *hex, uint8_t *out)
{
	int n = test_unhex(hex, out, STUN_MAX_LEN);

	if (n < 0)
		abort();
	return (size_t)n;
}

static void sa_text(const union sockaddr_inet *sa, char *out)
{
	sockaddr_format(sa, out, SOCKADDR_STR_LEN);
}

static void test_rfc5769(void)
{
	uint8_t buf[STUN_MAX_LEN], txid[STUN_TXID_LEN], want_txid[STUN_TXID_LEN];
	union sockaddr_inet sa;
	char text[SOCKADDR_STR_LEN];
	size_t len = unhex(rfc5769_v4, buf);

	unhex("b7e7a701bc34d686fa87dfae", want_txid);
	CHECK(stun_is_message(buf, len));
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), 0);
	CHECK_MEM(txid, want_txid, STUN_TXID_LEN);
	sa_text(&sa, text);
	CHECK(!strcmp(text, "192.0.2.1:32853"));

	len = unhex(rfc5769_v6, buf);
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), 0);
	sa_text(&sa, text);
	CHECK(!strcmp(text, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"));

	/* A flipped bit anywhere: the fingerprint no longer matches (in the
	 * FINGERPRINT's own type it becomes an unknown optional attribute and
	 * the message one without a fingerprint). */
	for (size_t i = 0; i < len; i++) {
		if (i == len - 8 || i == len - 7)
			continue;
		buf[i] ^= 0x10;
		if (!CHECK(stun_parse_response(buf, len, txid, &sa) < 0))
			fprintf(stderr, "  byte %zu\n", i);
		buf[i] ^= 0x10;
	}
}

/* A response with the attributes given as hex after the header. */
static size_t response(uint8_t *buf, uint16_t type, const char *attrs_hex)
{
	size_t n = attrs_hex[0] ? unhex(attrs_hex, buf + STUN_HEADER_LEN) : 0;

	buf[0] = (uint8_t)(type >> 8);
	buf[1] = (uint8_t)type;
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	unhex("2112a442"
	      "0102030405060708090a0b0c",
	      buf + 4);
	return STUN_HEADER_LEN + n;
}

static void test_crafted(void)
{
	uint8_t buf[STUN_MAX_LEN], txid[STUN_TXID_LEN], req[STUN_HEADER_LEN];
	union sockaddr_inet sa;
	char text[SOCKADDR_STR_LEN];
	size_t len;

	/* MAPPED-ADDRESS only (an RFC 3489 server). */
	len = response(buf, STUN_BINDING_SUCCESS, "000100080001a0a1cb007101");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), 0);
	sa_text(&sa, text);
	CHECK(!strcmp(text, "203.0.113.1:41121"));
	/* Both: XOR-MAPPED-ADDRESS wins, whatever the order. */
	len = response(buf, STUN_BINDING_SUCCESS,
		       "000100080001a0a1cb007101"
		       "002000080001a147e112a643");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), 0);
	sa_text(&sa, text);
	CHECK(!strcmp(text, "192.0.2.1:32853"));
	/* A comprehension-optional attribute of odd length, padded. */
	len = response(buf, STUN_BINDING_SUCCESS,
		       "802200016100000000200008"
		       "0001a147e112a643");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), 0);
	/* No address; an error response; an address after MESSAGE-INTEGRITY. */
	len = response(buf, STUN_BINDING_SUCCESS, "8022000461626364");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), -ENOENT);
	len = response(buf, STUN_BINDING_ERROR,
		       "0009000800000401"
		       "61626364");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), -EPROTO);
	len = response(buf, STUN_BINDING_SUCCESS,
		       "000800140000000000000000000000000000000000000000"
		       "002000080001a147e112a643");
	CHECK_EQ_INT(stun_parse_response(buf, len, txid, &sa), -ENOENT);
	/* The request is a header: type 1, length 0, the cookie, the id. */
	CHECK_EQ_INT(stun_binding_request(req, (const uint8_t *)"abcdefghijkl"), 20);
	CHECK(req[0] == 0 && req[1] == 1 && req[2] == 0 && req[3] == 0 && req[4] == 0x21);
	CHECK(!memcmp(req + 8, "abcdefghijkl", 12));
	CHECK(stun_is_message(req, sizeof(req)));
	CHECK_EQ_INT(stun_parse_response(req, sizeof(req), txid, &sa), -EPROTO);
}

static void test_hostile(void)
{
	static const char *const bad[] = {
		"002000070001a147e112a6",   /* IPv4 value of 7 bytes */
		"002000080003a147e112a643", /* family 3 */
		"002000080101a147e112a643", /* first byte not zero */
		"002000140001a147"
		"0113a9faa5d3f179bc25f4b5bed2b9d9", /* IPv4 of 20 */
		"00200008000",                      /* attribute runs past the end */
		"00200010"
		"0001a147e112a643", /* length past the end */
		"80280004deadbeef", /* fingerprint wrong */
		"80280004c07d4c96"
		"8022000461626364", /* fingerprint not last */
		"0020",             /* half a header */
	};
	uint8_t buf[STUN_MAX_LEN], txid[STUN_TXID_LEN];
	union sockaddr_inet sa;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char hex[128];
		size_t l = strlen(bad[i]);
		/* pad odd-length hex to whole bytes, then to a multiple of 4 */
		snprintf(hex, sizeof(hex), "%s%s", bad[i], l % 2 ? "0" : "");
		len = response(buf, STUN_BINDING_SUCCESS, hex);
		while ((len - STUN_HEADER_LEN) % 4) {
			buf[len++] = 0;
			buf[3] = (uint8_t)(len - STUN_HEADER_LEN);
		}
		CHECK(stun_parse_response(buf, len, txid, &sa) == -EINVAL);
	}
	/* Header faults. */
	len = response(buf, STUN_BINDING_SUCCESS, "002000080001a147e112a643");
	CHECK(!stun_is_message(buf, len - 1));
	CHECK(!stun_is_message(buf, 19));
	buf[4] ^= 1; /* cookie */
	CHECK(!stun_is_message(buf, len));
	buf[4] ^= 1;
	buf[0] |= 0x40; /* first bits */
	CHECK(!stun_is_message(buf, len));
	buf[0] &= 0x3f;
	buf[3] += 1; /* length not a multiple of 4 */
	CHECK(!stun_is_message(buf, len + 1));
	/* WireGuard and mesh datagrams are never STUN. */
	memset(buf, 0, sizeof(buf));
	for (uint8_t t = 1; t <= 4; t++) {
		buf[0] = t;
		CHECK(!stun_is_message(buf, 148));
	}
	buf[0] = 0x81;
	memcpy(buf + 4, "\x21\x12\xa4\x42", 4);
	CHECK(!stun_is_message(buf, 20));
}

static struct endpoint ep(const char *text)
{
	struct endpoint e;

	if (endpoint_parse(&e, text) < 0)
		abort();
	return e;
}

static void test_global(void)
{
	static const char *const local[] = {
		"10.1.2.3:1",    "172.16.0.1:1",  "172.31.255.255:1",
		"192.168.1.2:1", "100.64.0.1:1",  "100.127.255.254:1",
		"127.0.0.1:1",   "169.254.1.1:1", "0.0.0.0:1",
		"[fd00::1]:1",   "[fc00::1]:1",   "[fe80::1]:1",
		"[::1]:1",       "[::]:1",        "[::ffff:192.168.1.1]:1",
		"224.0.0.1:1",
	};
	static const char *const global[] = {
		"203.0.113.7:1", "8.8.8.8:1",          "172.32.0.1:1",
		"100.128.0.1:1", "192.169.0.1:1",      "[2001:db8::1]:1",
		"[2a00::1]:1",   "[::ffff:8.8.8.8]:1", "vpn.example.org:41641",
	};

	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		struct endpoint e = ep(local[i]);
		if (!CHECK(!invite_endpoint_global(&e)))
			fprintf(stderr, "  %s\n", local[i]);
	}
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
		struct endpoint e = ep(global[i]);
		if (!CHECK(invite_endpoint_global(&e)))
			fprintf(stderr, "  %s\n", global[i]);
	}
}

static void test_order(void)
{
	struct endpoint cfg[2] = { ep("home.example.org:41641"), ep("198.51.100.9:41641") };
	struct endpoint local[3] = { ep("192.168.1.5:41641"), ep("198.51.100.9:41641"),
				     ep("[fd00::5]:41641") };
	struct endpoint stun = ep("203.0.113.4:41641"), out[INVITE_MAX_ENDPOINTS];
	enum invite_source src[INVITE_MAX_ENDPOINTS];
	size_t n = invite_endpoints_order(cfg, 2, &stun, local, 3, out, src, INVITE_MAX_ENDPOINTS);

	/* Config, STUN, local; a local one already listed is left out. */
	CHECK_EQ_INT(n, 5);
	CHECK(!strcmp(out[0].host, "home.example.org") && src[0] == INVITE_FROM_CONFIG);
	CHECK(!strcmp(out[1].host, "198.51.100.9") && src[1] == INVITE_FROM_CONFIG);
	CHECK(!strcmp(out[2].host, "203.0.113.4") && src[2] == INVITE_FROM_STUN);
	CHECK(!strcmp(out[3].host, "192.168.1.5") && src[3] == INVITE_FROM_LOCAL);
	CHECK(!strcmp(out[4].host, "fd00::5") && src[4] == INVITE_FROM_LOCAL);
	CHECK(!strcmp(invite_source_name(src[2]), "stun"));
	/* Without STUN; the STUN one equal to a local one (no NAT: listed as
	 * local, so no note about NATs); the limit. */
	n = invite_endpoints_order(NULL, 0, NULL, local, 3, out, src, INVITE_MAX_ENDPOINTS);
	CHECK_EQ_INT(n, 3);
	CHECK(src[0] == INVITE_FROM_LOCAL);
	stun = ep("192.168.1.5:41641");
	n = invite_endpoints_order(NULL, 0, &stun, local, 3, out, src, INVITE_MAX_ENDPOINTS);
	CHECK_EQ_INT(n, 3);
	CHECK(src[0] == INVITE_FROM_LOCAL && !strcmp(out[0].host, "192.168.1.5"));
	n = invite_endpoints_order(cfg, 2, &stun, local, 3, out, src, 2);
	CHECK_EQ_INT(n, 2);
	CHECK(src[1] == INVITE_FROM_CONFIG);
}

int main(void)
{
	RUN(test_rfc5769);
	RUN(test_crafted);
	RUN(test_hostile);
	RUN(test_global);
	RUN(test_order);
	return test_summary();
}
