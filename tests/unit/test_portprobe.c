/*
 * The port probe (daemon/mesh/portprobe.c): the PORT_PROBE datagram and the
 * control messages in both directions, refusals of everything near them,
 * the node's state machine against a fake clock (reachable, not reachable,
 * not known; spacing, period, port and endpoint changes) and the
 * coordinator's per-node limit.
 */
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "mesh/portprobe.h"
#include "testlib.h"

#define S 1000000000ULL

static const uint8_t nonce_a[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t nonce_b[16] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };

static size_t datagram(uint8_t *buf, const uint8_t *nonce)
{
	size_t len = 0;

	if (portprobe_datagram_create(buf, MESH_PORT_PROBE_LEN, &len, nonce) < 0)
		return 0;
	return len;
}

static void test_datagram(void)
{
	uint8_t buf[64], got[16];
	size_t len = datagram(buf, nonce_a);

	CHECK_EQ_INT(len, 20);
	CHECK(buf[0] == MESH_PORT_PROBE && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
	CHECK_MEM(buf + 4, nonce_a, 16);
	CHECK_EQ_INT(portprobe_datagram_consume(buf, len, got), 0);
	CHECK_MEM(got, nonce_a, 16);
	CHECK_EQ_INT(portprobe_datagram_create(buf, 19, &len, nonce_a), -ENOBUFS);

	/* Every other size, and other types, are refused. */
	datagram(buf, nonce_a);
	for (size_t n = 0; n < sizeof(buf); n++)
		if (n != 20)
			CHECK_EQ_INT(portprobe_datagram_consume(buf, n, got), -EINVAL);
	buf[0] = MESH_RELAY;
	CHECK_EQ_INT(portprobe_datagram_consume(buf, 20, got), -EINVAL);
	buf[0] = MESH_PORT_PROBE;
	buf[3] = 1; /* the type is 32 bits */
	CHECK_EQ_INT(portprobe_datagram_consume(buf, 20, got), -EINVAL);
}

static void test_request(void)
{
	json_t *msg = portprobe_request_create(nonce_a, 41641);
	uint8_t got[16];
	uint16_t port = 0;

	CHECK(!strcmp(json_string_value(json_object_get(msg, "type")), "port_probe"));
	CHECK(
	    !strcmp(json_string_value(json_object_get(msg, "nonce")), "AQIDBAUGBwgJCgsMDQ4PEA=="));
	CHECK_EQ_INT(portprobe_request_parse(msg, got, &port), 0);
	CHECK_MEM(got, nonce_a, 16);
	CHECK_EQ_INT(port, 41641);

	static const char *const bad[] = {
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\"}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"port\": 0}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"port\": 65536}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"port\": \"41641\"}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"port\": 41641.0}",
		"{\"port\": 41641}",
		"{\"nonce\": 7, \"port\": 41641}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4P\", \"port\": 41641}",     /* 15 bytes */
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEBE=\", \"port\": 41641}", /* 17 bytes */
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA\", \"port\": 41641}",   /* no padding */
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==x\", \"port\": 41641}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA== \", \"port\": 41641}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA-_\", \"port\": 41641}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		if (!CHECK(b != NULL))
			continue;
		if (!CHECK_EQ_INT(portprobe_request_parse(b, got, &port), -EINVAL))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		json_decref(b);
	}
	json_decref(msg);
}

static void test_reply(void)
{
	struct endpoint ep;
	struct portprobe_reply r;
	json_t *msg;

	CHECK_EQ_INT(endpoint_parse(&ep, "203.0.113.2:41641"), 0);
	msg = portprobe_reply_create(nonce_a, true, &ep, NULL);
	CHECK(!strcmp(json_string_value(json_object_get(msg, "type")), "port_probe_reply"));
	CHECK_EQ_INT(portprobe_reply_parse(msg, &r), 0);
	CHECK_MEM(r.nonce, nonce_a, 16);
	CHECK(r.sent);
	CHECK(!strcmp(r.observed, "203.0.113.2:41641"));
	CHECK(r.error[0] == '\0');
	json_decref(msg);

	CHECK_EQ_INT(endpoint_parse(&ep, "[2001:db8::2]:1234"), 0);
	msg = portprobe_reply_create(nonce_b, false, &ep, "rate limited");
	CHECK_EQ_INT(portprobe_reply_parse(msg, &r), 0);
	CHECK(!r.sent);
	CHECK(!strcmp(r.observed, "[2001:db8::2]:1234"));
	CHECK(!strcmp(r.error, "rate limited"));
	json_decref(msg);

	msg = portprobe_reply_create(nonce_b, false, NULL, "no observed endpoint");
	CHECK(json_object_get(msg, "observed") == NULL);
	CHECK_EQ_INT(portprobe_reply_parse(msg, &r), 0);
	CHECK(r.observed[0] == '\0');
	json_decref(msg);

	static const char *const bad[] = {
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\"}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"sent\": 1}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4P\", \"sent\": true}",
		"{\"sent\": true}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"sent\": true, \"observed\": "
		"\"vpn.example.com:41641\"}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"sent\": true, \"observed\": "
		"\"203.0.113.2\"}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"sent\": true, \"observed\": 5}",
		"{\"nonce\": \"AQIDBAUGBwgJCgsMDQ4PEA==\", \"sent\": false, \"error\": 5}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		if (!CHECK(b != NULL))
			continue;
		if (!CHECK_EQ_INT(portprobe_reply_parse(b, &r), -EINVAL))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(sodium_is_zero((const unsigned char *)&r, sizeof(r)));
		json_decref(b);
	}

	/* A long error is cut, not refused. */
	char longer[400];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	msg = portprobe_reply_create(nonce_a, false, NULL, longer);
	CHECK_EQ_INT(portprobe_reply_parse(msg, &r), 0);
	CHECK_EQ_INT(strlen(r.error), sizeof(r.error) - 1);
	json_decref(msg);
}

static void test_observed(void)
{
	struct endpoint ep;
	char got[SOCKADDR_STR_LEN];
	json_t *msg, *bad;

	CHECK_EQ_INT(endpoint_parse(&ep, "198.51.100.2:40001"), 0);
	msg = portprobe_observed_create(&ep);
	CHECK(!strcmp(json_string_value(json_object_get(msg, "type")), "observed"));
	CHECK_EQ_INT(portprobe_observed_parse(msg, got), 0);
	CHECK(!strcmp(got, "198.51.100.2:40001"));
	json_decref(msg);
	CHECK_EQ_INT(endpoint_parse(&ep, "host.example:1"), 0);
	CHECK(portprobe_observed_create(&ep) == NULL);
	bad = json_pack("{s:s, s:s}", "type", "observed", "endpoint", "host.example:1");
	CHECK_EQ_INT(portprobe_observed_parse(bad, got), -EINVAL);
	json_decref(bad);
	bad = json_pack("{s:s}", "type", "observed");
	CHECK_EQ_INT(portprobe_observed_parse(bad, got), -EINVAL);
	json_decref(bad);
}

static struct portprobe_reply reply_for(const uint8_t *nonce, bool sent, const char *observed)
{
	struct portprobe_reply r = { .sent = sent };

	memcpy(r.nonce, nonce, 16);
	snprintf(r.observed, sizeof(r.observed), "%s", observed);
	return r;
}

/* The channel comes up, the coordinator sends, the datagram arrives. */
static void test_node_reachable(void)
{
	struct portprobe pp;
	uint8_t dg[MESH_PORT_PROBE_LEN];
	struct portprobe_reply r = reply_for(nonce_a, true, "203.0.113.7:41641");
	uint64_t t = 1000 * S;

	portprobe_init(&pp);
	CHECK_EQ_INT(pp.reachable, -1);
	CHECK(!portprobe_due(&pp, 41641, t)); /* nothing asks for one yet */
	portprobe_want(&pp);
	CHECK(portprobe_due(&pp, 41641, t));
	portprobe_asked(&pp, nonce_a, 41641, t);
	CHECK(!portprobe_due(&pp, 41641, t + 1 * S)); /* one at a time */
	CHECK_EQ_INT(portprobe_reply(&pp, &r), 0);
	CHECK(!strcmp(pp.observed, "203.0.113.7:41641"));
	/* Wrong nonce, runt, none outstanding: dropped, nothing learnt. */
	datagram(dg, nonce_b);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), -ENOENT);
	datagram(dg, nonce_a);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg) - 1), -EINVAL);
	CHECK_EQ_INT(pp.reachable, -1);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), 0);
	CHECK_EQ_INT(pp.reachable, 1);
	/* A copy of it later answers no request. */
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), -ENOENT);
	portprobe_tick(&pp, t + 60 * S);
	CHECK_EQ_INT(pp.reachable, 1);
}

/* The coordinator sent it and nothing came: not reachable, after the
 * timeout and not before. */
static void test_node_unreachable(void)
{
	struct portprobe pp;
	struct portprobe_reply r = reply_for(nonce_a, true, "");
	uint8_t dg[MESH_PORT_PROBE_LEN];
	uint64_t t = 5 * S;

	portprobe_init(&pp);
	portprobe_want(&pp);
	portprobe_asked(&pp, nonce_a, 41641, t);
	CHECK_EQ_INT(portprobe_reply(&pp, &r), 0);
	CHECK(pp.observed[0] == '\0');
	portprobe_tick(&pp, t + MESH_PORT_PROBE_TIMEOUT_S * S - 1);
	CHECK_EQ_INT(pp.reachable, -1);
	portprobe_tick(&pp, t + MESH_PORT_PROBE_TIMEOUT_S * S);
	CHECK_EQ_INT(pp.reachable, 0);
	/* A late datagram answers no request any more. */
	datagram(dg, nonce_a);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), -ENOENT);
	CHECK_EQ_INT(pp.reachable, 0);
	/* The next one goes after the period, and may find it reachable. */
	CHECK(!portprobe_due(&pp, 41641, t + (MESH_PORT_PROBE_PERIOD_S - 1) * S));
	CHECK(portprobe_due(&pp, 41641, t + MESH_PORT_PROBE_PERIOD_S * S));
	portprobe_asked(&pp, nonce_b, 41641, t + MESH_PORT_PROBE_PERIOD_S * S);
	datagram(dg, nonce_b);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), 0);
	CHECK_EQ_INT(pp.reachable, 1);
}

/* A coordinator that does not know the message never answers: nothing is
 * concluded. One that refuses is asked again after the spacing. */
static void test_node_no_answer(void)
{
	struct portprobe pp;
	struct portprobe_reply r = reply_for(nonce_b, false, "203.0.113.7:41641");
	uint64_t t = 5 * S;

	portprobe_init(&pp);
	portprobe_want(&pp);
	portprobe_asked(&pp, nonce_a, 41641, t);
	portprobe_tick(&pp, t + 60 * S);
	CHECK_EQ_INT(pp.reachable, -1);
	CHECK(!pp.outstanding);
	CHECK(!portprobe_due(&pp, 41641, t + 61 * S));

	t += 1000 * S;
	pp.reachable = 1;
	portprobe_want(&pp);
	portprobe_asked(&pp, nonce_a, 41641, t);
	CHECK_EQ_INT(portprobe_reply(&pp, &r), -ENOENT); /* another request's */
	r = reply_for(nonce_a, false, "");
	CHECK_EQ_INT(portprobe_reply(&pp, &r), 0);
	CHECK(!pp.outstanding);
	CHECK_EQ_INT(pp.reachable, 1); /* what was known stays */
	CHECK(!portprobe_due(&pp, 41641, t + (MESH_PORT_PROBE_SPACING_S - 1) * S));
	CHECK(portprobe_due(&pp, 41641, t + MESH_PORT_PROBE_SPACING_S * S));
	portprobe_tick(&pp, t + 60 * S);
	CHECK_EQ_INT(pp.reachable, 1);
}

/* A new listen port: at once, and back to not known; a new observed
 * endpoint: after the spacing. */
static void test_node_changes(void)
{
	struct portprobe pp;
	uint8_t dg[MESH_PORT_PROBE_LEN];
	uint64_t t = 5 * S;

	portprobe_init(&pp);
	portprobe_observed(&pp, "203.0.113.7:41641");
	CHECK(!pp.wanted); /* the first one learnt is no change */
	portprobe_want(&pp);
	portprobe_asked(&pp, nonce_a, 41641, t);
	datagram(dg, nonce_a);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), 0);
	CHECK(!portprobe_due(&pp, 41641, t + 2 * S));
	CHECK(portprobe_due(&pp, 41700, t + 2 * S));
	CHECK_EQ_INT(pp.reachable, -1);
	portprobe_asked(&pp, nonce_b, 41700, t + 2 * S);
	CHECK(!portprobe_due(&pp, 41700, t + 3 * S));
	datagram(dg, nonce_b);
	CHECK_EQ_INT(portprobe_receive(&pp, dg, sizeof(dg)), 0);
	CHECK_EQ_INT(pp.reachable, 1);

	t += 2 * S;
	portprobe_observed(&pp, "203.0.113.7:41641");
	CHECK(!portprobe_due(&pp, 41700, t + 100 * S));
	portprobe_observed(&pp, "203.0.113.9:41641");
	CHECK(!portprobe_due(&pp, 41700, t + (MESH_PORT_PROBE_SPACING_S - 1) * S));
	CHECK(portprobe_due(&pp, 41700, t + MESH_PORT_PROBE_SPACING_S * S));

	/* A channel that closes ends the request; nothing is concluded. */
	portprobe_asked(&pp, nonce_a, 41700, t + 20 * S);
	pp.reachable = -1;
	struct portprobe_reply r = reply_for(nonce_a, true, "");
	CHECK_EQ_INT(portprobe_reply(&pp, &r), 0);
	portprobe_lost(&pp);
	portprobe_tick(&pp, t + 60 * S);
	CHECK_EQ_INT(pp.reachable, -1);
}

static void test_limit(void)
{
	struct portprobe_limit l = { 0 };
	uint64_t t = 100 * S;

	CHECK(portprobe_limit_allow(&l, 3, t));
	CHECK(!portprobe_limit_allow(&l, 3, t + 1 * S));
	CHECK(portprobe_limit_allow(&l, 4, t + 1 * S));
	CHECK(!portprobe_limit_allow(&l, 3, t + MESH_PORT_PROBE_MIN_INTERVAL_S * S - 1));
	CHECK(portprobe_limit_allow(&l, 3, t + MESH_PORT_PROBE_MIN_INTERVAL_S * S));
	CHECK(!portprobe_limit_allow(&l, 4, t + 2 * S));
	/* Many nodes: old entries go, the table stays small. */
	for (uint32_t id = 10; id < 1010; id++)
		CHECK(portprobe_limit_allow(&l, id, t + 100 * S + id * (S / 10)));
	CHECK(l.n <= MESH_PORT_PROBE_MIN_INTERVAL_S * 10 + 1);
	CHECK(portprobe_limit_allow(&l, 3, t + 1000 * S));
	CHECK_EQ_INT(l.n, 1);
	portprobe_limit_free(&l);
	CHECK(l.v == NULL && l.n == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_datagram);
	RUN(test_request);
	RUN(test_reply);
	RUN(test_observed);
	RUN(test_node_reachable);
	RUN(test_node_unreachable);
	RUN(test_node_no_answer);
	RUN(test_node_changes);
	RUN(test_limit);
	return test_summary();
}
