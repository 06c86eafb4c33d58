/*
 * The coordinator's STUN rounds (daemon/mesh/stunclient.c) on a host whose
 * udp_out records what is sent: one request per server at the first tick,
 * answers matched by transaction id (unknown ids, malformed and late
 * answers counted as dropped), retransmits bounded to STUNCLIENT_SENDS, a
 * round without answers keeping the last address, two servers that see
 * different ports making the NAT symmetric (no address for invites), a
 * single answer leaving it unknown, `stun = []` sending nothing.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loop.h"
#include "mesh/stun.h"
#include "mesh/stunclient.h"
#include "testlib.h"

#define S 1000000000ULL

enum { MAX_SENT = 64 };

struct sent {
	union sockaddr_inet to;
	uint8_t txid[STUN_TXID_LEN];
};

static struct pkt_batch *batch;
static struct sent sent[MAX_SENT];
static size_t n_sent;

static struct pkt_batch *rec_udp_out(void *ctx)
{
	(void)ctx;
	return batch;
}

static void rec_flush(void *ctx)
{
	(void)ctx;
	for (unsigned i = 0; i < batch->count && n_sent < MAX_SENT; i++) {
		struct pkt *p = &batch->pkts[i];
		if (p->len != STUN_HEADER_LEN || !stun_is_message(p->data, p->len))
			abort();
		memcpy(&sent[n_sent].to, &p->ep.addr, sizeof(sent[n_sent].to));
		memcpy(sent[n_sent++].txid, p->data + 8, STUN_TXID_LEN);
	}
	batch->count = 0;
}

static const struct mesh_host_ops rec_ops = { .udp_out = rec_udp_out, .flush = rec_flush };

/* A Binding success response for txid with XOR-MAPPED-ADDRESS ip:port. */
static size_t answer(uint8_t *buf, const uint8_t *txid, const char *ip, uint16_t port)
{
	uint32_t a;

	if (inet_pton(AF_INET, ip, &a) != 1)
		abort();
	memset(buf, 0, 32);
	buf[0] = 0x01, buf[1] = 0x01, buf[3] = 12;
	buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
	memcpy(buf + 8, txid, STUN_TXID_LEN);
	buf[20] = 0x00, buf[21] = 0x20, buf[23] = 8, buf[25] = 0x01;
	buf[26] = (uint8_t)((port ^ 0x2112) >> 8);
	buf[27] = (uint8_t)(port ^ 0x2112);
	memcpy(buf + 28, &a, 4);
	for (int i = 0; i < 4; i++)
		buf[28 + i] ^= buf[4 + i];
	return 32;
}

static size_t sent_to(uint16_t port)
{
	size_t n = 0;

	for (size_t i = 0; i < n_sent; i++)
		n += ntohs(sent[i].to.in.sin_port) == port;
	return n;
}

static const struct sent *last_to(uint16_t port)
{
	for (size_t i = n_sent; i-- > 0;)
		if (ntohs(sent[i].to.in.sin_port) == port)
			return &sent[i];
	abort();
}

static void reply(struct stunclient *sc, uint16_t server_port, const char *ip, uint16_t port)
{
	uint8_t buf[64];
	size_t len = answer(buf, last_to(server_port)->txid, ip, port);

	stunclient_rx(sc, buf, len);
}

static bool public_is(const struct stunclient *sc, const char *want)
{
	struct stunclient_status st;
	char text[SOCKADDR_STR_LEN];

	stunclient_status(sc, &st);
	if (!st.have_public)
		return !want;
	sockaddr_format(&st.public_ep, text, sizeof(text));
	return want && !strcmp(text, want);
}

static void test_rounds(void)
{
	struct mg_config cfg;
	struct mesh_host host = { .ops = &rec_ops, .cfg = &cfg, .tun_name = "mgtest0" };
	struct stunclient_status st;
	struct stunclient *sc;
	struct endpoint ep;
	uint8_t buf[64];
	uint64_t t0 = loop_now();

	CHECK(config_defaults(&cfg) == 0);
	CHECK_EQ_INT(cfg.coordinator.stun.n, 2); /* the default list */
	CHECK(!strcmp(cfg.coordinator.stun.v[0].host, "stun.l.google.com"));
	CHECK(endpoint_parse(&cfg.coordinator.stun.v[0], "192.0.2.1:3478") == 0);
	CHECK(endpoint_parse(&cfg.coordinator.stun.v[1], "192.0.2.2:3479") == 0);
	batch = pkt_batch_new(8, 2048);
	sc = stunclient_new(&host);
	CHECK(sc && batch);

	/* Round 1: one request each; both see one mapping. */
	stunclient_tick(sc, t0);
	CHECK_EQ_INT(n_sent, 2);
	CHECK(sent_to(3478) == 1 && sent_to(3479) == 1);
	CHECK(memcmp(sent[0].txid, sent[1].txid, STUN_TXID_LEN) != 0);
	reply(sc, 3478, "198.51.100.2", 41641);
	stunclient_status(sc, &st);
	CHECK(!st.have_public); /* the round waits for the other server */
	answer(buf, (const uint8_t *)"not-an-id-!!", "198.51.100.2", 41641);
	stunclient_rx(sc, buf, 32);             /* an id nobody asked */
	reply(sc, 3478, "198.51.100.2", 41641); /* a second answer to one request */
	buf[21] = 0x01, buf[23] = 7;            /* malformed */
	stunclient_rx(sc, buf, 32);
	reply(sc, 3479, "198.51.100.2", 41641);
	stunclient_status(sc, &st);
	CHECK(public_is(sc, "198.51.100.2:41641"));
	CHECK_EQ_INT(st.nat, STUN_NAT_INDEPENDENT);
	CHECK(st.requests == 2 && st.responses == 2 && st.dropped == 3);
	CHECK(st.last_round > 0 && st.error[0] == '\0');
	CHECK(stunclient_public(sc, &ep) && ep.port == 41641);
	reply(sc, 3479, "198.51.100.2", 41641); /* late: the round is over */
	stunclient_status(sc, &st);
	CHECK_EQ_INT(st.dropped, 4);

	/* Nothing until the next round is due; then no answer: bounded
	 * retransmits, an error, the last address kept. */
	stunclient_tick(sc, t0 + 60 * S);
	CHECK_EQ_INT(n_sent, 2);
	n_sent = 0;
	for (uint64_t t = 0; t <= 12; t++)
		stunclient_tick(sc, t0 + STUNCLIENT_ROUND_EVERY_S * S + t * S);
	CHECK_EQ_INT(sent_to(3478), STUNCLIENT_SENDS);
	CHECK_EQ_INT(sent_to(3479), STUNCLIENT_SENDS);
	for (size_t i = 1; i < n_sent; i++) /* a retransmit keeps its id */
		if (sent[i].to.in.sin_port == sent[0].to.in.sin_port)
			CHECK(!memcmp(sent[i].txid, sent[0].txid, STUN_TXID_LEN));
	stunclient_status(sc, &st);
	CHECK(strstr(st.error, "no STUN server answered") != NULL);
	CHECK(public_is(sc, "198.51.100.2:41641"));

	/* Round 3: two ports for one socket, a symmetric NAT. */
	n_sent = 0;
	stunclient_tick(sc, t0 + 2 * STUNCLIENT_ROUND_EVERY_S * S);
	CHECK_EQ_INT(n_sent, 2);
	reply(sc, 3478, "198.51.100.2", 30001);
	reply(sc, 3479, "198.51.100.2", 30002);
	stunclient_status(sc, &st);
	CHECK_EQ_INT(st.nat, STUN_NAT_SYMMETRIC);
	CHECK(st.error[0] == '\0');
	CHECK(!stunclient_public(sc, &ep)); /* no use in an invite */

	/* Round 4 with one server: one answer, the NAT unknown. */
	cfg.coordinator.stun.n = 1;
	n_sent = 0;
	stunclient_tick(sc, t0 + 2 * STUNCLIENT_ROUND_EVERY_S * S + S);
	CHECK_EQ_INT(n_sent, 1);
	reply(sc, 3478, "198.51.100.2", 41641);
	stunclient_status(sc, &st);
	CHECK_EQ_INT(st.nat, STUN_NAT_UNKNOWN);
	CHECK(stunclient_public(sc, &ep));

	/* stun = []: nothing sent, nothing known. */
	cfg.coordinator.stun.n = 0;
	n_sent = 0;
	for (uint64_t t = 2; t < 400; t++)
		stunclient_tick(sc, t0 + 2 * STUNCLIENT_ROUND_EVERY_S * S + t * S);
	CHECK_EQ_INT(n_sent, 0);
	stunclient_status(sc, &st);
	CHECK(st.servers == 0 && !st.have_public && st.requests == 2 + 6 + 2 + 1);
	CHECK(!stunclient_public(sc, &ep));

	cfg.coordinator.stun.n = 2;
	stunclient_free(sc);
	pkt_batch_free(batch);
	config_free(&cfg);
}

int main(void)
{
	RUN(test_rounds);
	return test_summary();
}
