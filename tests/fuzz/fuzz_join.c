/*
 * Fuzz harness for the mesh datagrams (join, port probe), invite codes and
 * the port probe's control messages, with fixed keys and a fixed clock. The
 * first input byte picks the target, the rest is its input:
 *   0  a datagram to join_request_open() (the coordinator)
 *   1  a datagram to join_response_open() (the joiner)
 *   2  a request's plaintext, sealed here with the fixed keys and opened:
 *      reaches the timestamp and hello parsing behind the MAC
 *   3  a response's plaintext, sealed here and opened
 *   4  text to invite_decode()
 *   5  a datagram to portprobe_receive() (a node waiting for a fixed nonce)
 *   6  a control channel line to the port probe's message parsers
 *   7  a datagram to the coordinator's join gate (an invite live), then,
 *      if it passes, to join_request_open() and the gate again
 *   8  a datagram to join_cookie_consume() (a joiner that sent the seed
 *      request)
 *
 * Invariants beyond memory safety: an opened request has an object hello
 * and a fresh timestamp (a refused one leaves nothing behind); an opened
 * response has a boolean "ok"; a decoded invite encodes and decodes to the
 * same invite; a probe datagram is taken exactly when it is the 20 bytes
 * of the awaited one, and only then is the port reachable; an accepted
 * port_probe, port_probe_reply or observed message, written again, parses
 * to the same values; the gate passes only a request with the right mac1,
 * and never the same nonce twice once its box opened.
 *
 * Built with -DFUZZ_JOIN_WRITE_SEEDS and a main of its own, it writes valid
 * inputs of each kind for these keys into a directory (the seed corpus):
 *   cc -Wno-unused-parameter -DFUZZ_JOIN_WRITE_SEEDS -Idaemon -Itests \
 *     tests/fuzz/fuzz_join.c daemon/mesh/join.c daemon/mesh/joingate.c \
 *     daemon/mesh/invite.c daemon/mesh/portprobe.c daemon/netaddr.c \
 *     daemon/wg/cookie.c daemon/wg/crypto.c daemon/wg/ratelimiter.c \
 *     -lsodium -ljansson -lb2
 *   ./a.out tests/fuzz/seeds/fuzz_join
 */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/joingate.h"
#include "test_dh.h"
#include "mesh/portprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum target {
	OPEN_REQUEST,
	OPEN_RESPONSE,
	SEALED_REQUEST,
	SEALED_RESPONSE,
	INVITE,
	PROBE_DATAGRAM,
	PROBE_MESSAGE,
	GATE,
	COOKIE,
	TARGETS
};

/* The nonce the node of the PROBE_DATAGRAM target waits for. */
static const uint8_t probe_nonce[MESH_PORT_PROBE_NONCE_LEN] = { 0x70, 0x72, 0x6f, 0x62, 0x65 };

static const int64_t now = 1795300000;

static struct {
	uint8_t joiner_priv[32], joiner_pub[32];
	uint8_t coord_priv[32], coord_pub[32];
	uint8_t shared[crypto_box_BEFORENMBYTES];
} fx;

static void setup(void)
{
	static int done;

	if (done++)
		return;
	if (sodium_init() < 0)
		abort();
	memset(fx.joiner_priv, 0x11, 32);
	memset(fx.coord_priv, 0x22, 32);
	crypto_scalarmult_base(fx.joiner_pub, fx.joiner_priv);
	crypto_scalarmult_base(fx.coord_pub, fx.coord_priv);
	if (crypto_box_beforenm(fx.shared, fx.coord_pub, fx.joiner_priv) != 0)
		abort();
}

static void open_request(const uint8_t *msg, size_t len)
{
	struct join_request req;
	int ret = join_request_open(msg, len, DH_OF(fx.coord_priv), now, &req);

	if (ret == 0 || ret == -ESTALE) {
		if (!json_is_object(req.hello))
			abort();
		if (ret == 0 && (req.timestamp < now - MESH_JOIN_CLOCK_SKEW ||
				 req.timestamp > now + MESH_JOIN_CLOCK_SKEW))
			abort();
	} else if (ret != -EBADMSG || req.hello || !sodium_is_zero(req.secret, 32)) {
		abort();
	}
	join_request_clear(&req);
}

static void open_response(const uint8_t *msg, size_t len)
{
	json_t *result = NULL;
	int ret = join_response_open(msg, len, DH_OF(fx.joiner_priv), fx.coord_pub, &result);

	if (ret == 0 ? !json_is_boolean(json_object_get(result, "ok"))
		     : ret != -EBADMSG || result != NULL)
		abort();
	json_decref(result);
}

/* header | [joiner key] | nonce | box(plain) with the fixed shared key. */
static void seal_and_open(const uint8_t *plain, size_t n, bool request)
{
	uint8_t msg[MESH_JOIN_MAX + 96];
	size_t at = request ? 4 + 32 + 24 : 4 + 24;
	uint32_t type = htole32(request ? MESH_JOIN_REQUEST : MESH_JOIN_RESPONSE);

	if (n > sizeof(msg) - at - crypto_box_MACBYTES - JOIN_MACS_LEN)
		return;
	memcpy(msg, &type, 4);
	if (request)
		memcpy(msg + 4, fx.joiner_pub, 32);
	memset(msg + at - 24, 0x24, 24);
	crypto_box_easy_afternm(msg + at, plain, n, msg + at - 24, fx.shared);
	memset(msg + at + n + crypto_box_MACBYTES, 0, JOIN_MACS_LEN);
	if (request)
		open_request(msg, at + n + crypto_box_MACBYTES + JOIN_MACS_LEN);
	else
		open_response(msg, at + n + crypto_box_MACBYTES);
}

static bool same_invite(const struct invite *a, const struct invite *b)
{
	char ta[ENDPOINT_STR_LEN], tb[ENDPOINT_STR_LEN];

	if (sodium_memcmp(a->coordinator_key, b->coordinator_key, KEY_LEN) || a->id != b->id ||
	    sodium_memcmp(a->secret, b->secret, MESH_SECRET_LEN) ||
	    a->n_endpoints != b->n_endpoints)
		return false;
	for (size_t i = 0; i < a->n_endpoints; i++) {
		endpoint_format(&a->endpoints[i], ta, sizeof(ta));
		endpoint_format(&b->endpoints[i], tb, sizeof(tb));
		if (strcmp(ta, tb) != 0)
			return false;
	}
	return true;
}

static void decode_invite(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), code[INVITE_CODE_MAX], err[128];
	struct invite inv, again;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (invite_decode(text, &inv, err, sizeof(err)) == 0) {
		if (invite_encode(&inv, code, sizeof(code)) != 0 ||
		    invite_decode(code, &again, err, sizeof(err)) != 0 ||
		    !same_invite(&inv, &again))
			abort();
		invite_clear(&again);
	}
	invite_clear(&inv);
	free(text);
}

static void probe_datagram(const uint8_t *data, size_t size)
{
	uint8_t genuine[MESH_PORT_PROBE_LEN];
	struct portprobe pp;
	size_t len;
	int ret;

	portprobe_init(&pp);
	portprobe_want(&pp);
	portprobe_asked(&pp, probe_nonce, 41641, 1);
	if (portprobe_datagram_create(genuine, sizeof(genuine), &len, probe_nonce) != 0)
		abort();
	ret = portprobe_receive(&pp, data, size);
	if ((ret == 0) != (size == len && !memcmp(data, genuine, len)) ||
	    (ret == 0) != (pp.reachable == 1) || (ret != 0 && ret != -EINVAL && ret != -ENOENT))
		abort();
	/* Whatever it was, a second copy answers nothing. */
	if (portprobe_receive(&pp, data, size) == 0)
		abort();
}

static void probe_request_again(const json_t *msg)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN], again[MESH_PORT_PROBE_NONCE_LEN];
	uint16_t port, port2;
	json_t *copy;

	if (portprobe_request_parse(msg, nonce, &port) != 0)
		return;
	copy = portprobe_request_create(nonce, port);
	if (!copy || portprobe_request_parse(copy, again, &port2) != 0 || port2 != port ||
	    port == 0 || memcmp(nonce, again, sizeof(nonce)))
		abort();
	json_decref(copy);
}

static void probe_reply_again(const json_t *msg)
{
	struct portprobe_reply r, again;
	struct endpoint ep;
	struct portprobe pp;
	json_t *copy;

	if (portprobe_reply_parse(msg, &r) != 0)
		return;
	if (r.observed[0] && (endpoint_parse(&ep, r.observed) != 0 || !ep.numeric))
		abort();
	copy = portprobe_reply_create(r.nonce, r.sent, r.observed[0] ? &ep : NULL,
				      r.error[0] ? r.error : NULL);
	if (!copy || portprobe_reply_parse(copy, &again) != 0 || memcmp(&r, &again, sizeof(r)))
		abort();
	json_decref(copy);
	/* Fed to a node waiting for that nonce: no conclusion before the
	 * timeout, and none but "not reachable" after it when it was sent. */
	portprobe_init(&pp);
	portprobe_asked(&pp, r.nonce, 41641, 1);
	if (portprobe_reply(&pp, &r) != 0 || pp.reachable != -1)
		abort();
	portprobe_tick(&pp, 1 + (uint64_t)MESH_PORT_PROBE_TIMEOUT_S * 1000000000ULL);
	if (pp.reachable != (r.sent ? 0 : -1))
		abort();
}

static void probe_observed_again(const json_t *msg)
{
	char text[SOCKADDR_STR_LEN], again[SOCKADDR_STR_LEN];
	struct endpoint ep;
	json_t *copy;

	if (portprobe_observed_parse(msg, text) != 0)
		return;
	if (endpoint_parse(&ep, text) != 0 || !ep.numeric)
		abort();
	copy = portprobe_observed_create(&ep);
	if (!copy || portprobe_observed_parse(copy, again) != 0 || strcmp(text, again))
		abort();
	json_decref(copy);
}

/* As the channel reads a line: one JSON object, no duplicate keys. */
static void probe_message(const uint8_t *data, size_t size)
{
	json_t *msg = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (json_is_object(msg)) {
		probe_request_again(msg);
		probe_reply_again(msg);
		probe_observed_again(msg);
	}
	json_decref(msg);
}

/* The request the COOKIE target's joiner sent (the seed "request"). */
static size_t seed_request(uint8_t *buf)
{
	struct join_request req = { .invite_id = 1, .timestamp = now };
	uint8_t nonce[24] = { 1 };
	size_t len = 0;

	memcpy(req.joiner_key, fx.joiner_pub, 32);
	memset(req.secret, 0x5a, sizeof(req.secret));
	req.hello = json_pack("{s:s, s:[s], s:b, s:[s]}", "hostname", "laptop", "routes",
			      "192.168.1.0/24", "exit_node", 0, "endpoints", "192.168.1.20:41641");
	if (join_request_create(buf, MESH_JOIN_MAX, &len, &req, DH_OF(fx.joiner_priv), fx.coord_pub,
				nonce) != 0)
		abort();
	join_request_clear(&req);
	return len;
}

static void gate_datagram(const uint8_t *msg, size_t len)
{
	static const struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0x6922 };
	const struct sockaddr *sa = (const struct sockaddr *)&src;
	struct cookie_checker mac;
	struct join_request req;
	struct joingate g;
	uint8_t zero[32] = { 0 };
	int ret;

	if (joingate_init(&g, fx.coord_pub) != 0)
		abort();
	joingate_set_live(&g, now + 1);
	cookie_checker_init_labels(&mac, fx.coord_pub, &join_cookie_labels);
	if (joingate_check(&g, msg, len, sa, 1, now) == JOINGATE_PASS) {
		if (cookie_validate_macs(&mac, msg, len, NULL, 0, false, 0, zero) ==
		    COOKIE_MAC_INVALID)
			abort();
		ret = join_request_open(msg, len, DH_OF(fx.coord_priv), now, &req);
		if ((ret == 0 || ret == -ESTALE) &&
		    (joingate_remember(&g, join_request_nonce(msg), req.timestamp, now) != 0 ||
		     joingate_check(&g, msg, len, sa, 2, now) != JOINGATE_DROP))
			abort();
		join_request_clear(&req);
	}
	joingate_deinit(&g);
}

static void cookie_datagram(const uint8_t *msg, size_t len)
{
	uint8_t request[MESH_JOIN_MAX];
	struct cookie ck;
	size_t n = seed_request(request);
	int ret;

	cookie_init_labels(&ck, fx.coord_pub, &join_cookie_labels);
	cookie_add_macs(request, n, &ck, 1);
	ret = join_cookie_consume(msg, len, &ck, 2);
	if (ret == 0 ? !ck.is_valid || len != JOIN_COOKIE_LEN : ret != -EBADMSG || ck.is_valid)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	switch (data[0] % TARGETS) {
	case OPEN_REQUEST:
		open_request(data + 1, size - 1);
		break;
	case OPEN_RESPONSE:
		open_response(data + 1, size - 1);
		break;
	case SEALED_REQUEST:
		seal_and_open(data + 1, size - 1, true);
		break;
	case SEALED_RESPONSE:
		seal_and_open(data + 1, size - 1, false);
		break;
	case INVITE:
		decode_invite(data + 1, size - 1);
		break;
	case PROBE_DATAGRAM:
		probe_datagram(data + 1, size - 1);
		break;
	case PROBE_MESSAGE:
		probe_message(data + 1, size - 1);
		break;
	case GATE:
		gate_datagram(data + 1, size - 1);
		break;
	case COOKIE:
		cookie_datagram(data + 1, size - 1);
		break;
	}
	return 0;
}

#ifdef FUZZ_JOIN_WRITE_SEEDS
static void write_seed(const char *dir, const char *name, uint8_t target, const void *data,
		       size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(target, f) == EOF || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void sample_request(struct join_request *req, int64_t ts)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->joiner_key, fx.joiner_pub, 32);
	req->invite_id = 1;
	memset(req->secret, 0x5a, sizeof(req->secret));
	req->timestamp = ts;
	req->hello = json_pack("{s:s, s:[s], s:b, s:[s]}", "hostname", "laptop", "routes",
			       "192.168.1.0/24", "exit_node", 0, "endpoints", "192.168.1.20:41641");
}

static void write_requests(const char *dir)
{
	uint8_t buf[MESH_JOIN_MAX], nonce[24] = { 1 };
	struct join_request req;
	size_t len;

	sample_request(&req, now);
	if (join_request_create(buf, sizeof(buf), &len, &req, DH_OF(fx.joiner_priv), fx.coord_pub,
				nonce))
		abort();
	write_seed(dir, "request", OPEN_REQUEST, buf, len);
	write_seed(dir, "gate-request", GATE, buf, len);
	/* Its plaintext, for the sealed target. */
	char *hello = json_dumps(req.hello, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t id = htole64(1), ts = htole64((uint64_t)now);
	uint8_t plain[MESH_JOIN_MAX];
	memcpy(plain, &id, 8);
	memcpy(plain + 8, req.secret, 32);
	memcpy(plain + 40, &ts, 8);
	memcpy(plain + 48, hello, strlen(hello));
	write_seed(dir, "request-plain", SEALED_REQUEST, plain, 48 + strlen(hello));
	ts = htole64((uint64_t)(now - 3600));
	memcpy(plain + 40, &ts, 8);
	write_seed(dir, "request-plain-stale", SEALED_REQUEST, plain, 48 + strlen(hello));
	free(hello);
	join_request_clear(&req);
	sample_request(&req, now - 3600);
	if (join_request_create(buf, sizeof(buf), &len, &req, DH_OF(fx.joiner_priv), fx.coord_pub,
				nonce))
		abort();
	write_seed(dir, "request-stale", OPEN_REQUEST, buf, len);
	join_request_clear(&req);
}

static void write_cookie(const char *dir)
{
	uint8_t request[MESH_JOIN_MAX], buf[JOIN_COOKIE_LEN], nonce[24] = { 3 }, secret[32] = { 4 };
	uint8_t src[6] = { 192, 0, 2, 1, 0xa2, 0x69 };
	struct cookie_checker c;
	size_t n = seed_request(request), len;

	cookie_checker_init_labels(&c, fx.coord_pub, &join_cookie_labels);
	if (join_cookie_create(buf, sizeof(buf), &len, request, n, src, sizeof(src), &c, 1, nonce,
			       secret) != 0)
		abort();
	write_seed(dir, "cookie", COOKIE, buf, len);
}

static void write_responses(const char *dir)
{
	uint8_t buf[MESH_JOIN_MAX], nonce[24] = { 2 };
	json_t *ok = json_pack("{s:b, s:s, s:[s], s:{s:s, s:s}}", "ok", 1, "name", "laptop",
			       "addresses", "100.64.0.3/32", "coordinator", "public_key",
			       "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "sign_key",
			       "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
	json_t *refusal = json_pack("{s:b, s:s}", "ok", 0, "error", "this invite has expired");
	char *text = json_dumps(ok, JSON_COMPACT);
	size_t len;

	if (join_response_create(buf, sizeof(buf), &len, ok, DH_OF(fx.coord_priv), fx.joiner_pub,
				 nonce))
		abort();
	write_seed(dir, "response", OPEN_RESPONSE, buf, len);
	if (join_response_create(buf, sizeof(buf), &len, refusal, DH_OF(fx.coord_priv),
				 fx.joiner_pub, nonce))
		abort();
	write_seed(dir, "response-refusal", OPEN_RESPONSE, buf, len);
	write_seed(dir, "response-plain", SEALED_RESPONSE, text, strlen(text));
	free(text);
	json_decref(ok);
	json_decref(refusal);
}

static void write_invites(const char *dir)
{
	static const char *const eps[] = { "203.0.113.2:41641", "[2001:db8::2]:41641",
					   "vpn.example.com:51820" };
	char code[INVITE_CODE_MAX], name[32];
	struct invite inv = { 0 };

	memcpy(inv.coordinator_key, fx.coord_pub, 32);
	memset(inv.secret, 0x5a, sizeof(inv.secret));
	inv.id = 1;
	for (size_t n = 0; n <= 3; n++) {
		inv.n_endpoints = n;
		if (n && endpoint_parse(&inv.endpoints[n - 1], eps[n - 1]) != 0)
			abort();
		if (invite_encode(&inv, code, sizeof(code)) != 0)
			abort();
		snprintf(name, sizeof(name), "invite-%zu", n);
		write_seed(dir, name, INVITE, code, strlen(code));
	}
}

static void write_json_seed(const char *dir, const char *name, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

	if (!text)
		abort();
	write_seed(dir, name, PROBE_MESSAGE, text, strlen(text));
	free(text);
	json_decref(msg);
}

static void write_probes(const char *dir)
{
	uint8_t buf[MESH_PORT_PROBE_LEN], other[MESH_PORT_PROBE_NONCE_LEN] = { 1 };
	struct endpoint v4, v6;
	size_t len;

	if (portprobe_datagram_create(buf, sizeof(buf), &len, probe_nonce) != 0 ||
	    endpoint_parse(&v4, "203.0.113.2:41641") != 0 ||
	    endpoint_parse(&v6, "[2001:db8::2]:41641") != 0)
		abort();
	write_seed(dir, "probe", PROBE_DATAGRAM, buf, len);
	if (portprobe_datagram_create(buf, sizeof(buf), &len, other) != 0)
		abort();
	write_seed(dir, "probe-other-nonce", PROBE_DATAGRAM, buf, len);
	write_json_seed(dir, "probe-request", portprobe_request_create(probe_nonce, 41641));
	write_json_seed(dir, "probe-reply-sent",
			portprobe_reply_create(probe_nonce, true, &v4, NULL));
	write_json_seed(dir, "probe-reply-refused",
			portprobe_reply_create(probe_nonce, false, &v6, "rate limited"));
	write_json_seed(dir, "probe-observed", portprobe_observed_create(&v4));
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	setup();
	write_requests(argv[1]);
	write_responses(argv[1]);
	write_cookie(argv[1]);
	write_invites(argv[1]);
	write_probes(argv[1]);
	return 0;
}
#endif
