/*
 * Hostile input: garbage of every size, bad MACs, unknown keys, replayed
 * handshakes and data, tampered data, spoofed inner sources and low-order
 * keys. Each is dropped silently (nothing on the wire, nothing on the TUN)
 * and counted under its reason.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wg/cookie.h"

static uint64_t total_drops(const struct h_node *n)
{
	uint64_t sum = 0;

	for (int r = 0; r < DROP_REASON_COUNT; r++)
		sum += n->dev->stats.drops[r];
	return sum;
}

/* Feeds one datagram; it must produce no output and exactly one drop. */
static bool silent_drop(struct harness *h, struct h_node *n, const uint8_t *buf, uint32_t len,
			const struct wg_endpoint *src)
{
	uint64_t drops = total_drops(n);
	unsigned rx = n->rx_packets;

	h_udp_input(n, buf, len, src);
	return n->udp_out->count == 0 && n->rx_packets == rx && total_drops(n) == drops + 1;
}

static void garbage_round(struct harness *h, struct test_rng *rng)
{
	static const uint32_t large[] = { 255, 256, 511, 1000, 1280, 1420, 1500, 2000 };
	struct wg_endpoint src = h_endpoint4(198, 51, 100, 1, 4321);
	uint8_t buf[H_SLOT_SIZE];
	unsigned bad = 0, fed = 0;

	for (uint32_t len = 0; len <= 200 + sizeof(large) / sizeof(large[0]); len++) {
		uint32_t size = len <= 200 ? len : large[len - 201];
		/* Random bytes, then the same with each message type. */
		for (uint32_t type = 0; type <= 5; type++) {
			test_rng_bytes(rng, buf, size);
			if (type >= 1 && type <= 4 && size >= 4)
				memcpy(buf, (uint8_t[]){ (uint8_t)type, 0, 0, 0 }, 4);
			fed++;
			bad += !silent_drop(h, &h->b, buf, size, &src);
			bad += !silent_drop(h, &h->a, buf, size, &src);
		}
	}
	if (!CHECK_EQ_INT(bad, 0))
		fprintf(stderr, "  %u of %u garbage datagrams were not dropped silently\n", bad,
			2 * fed);
}

static void test_garbage(void)
{
	struct harness *h = h_new(40);
	struct test_rng rng = { 40 };

	garbage_round(h, &rng); /* before any session */
	CHECK(h_drops(&h->b, DROP_RX_MALFORMED) > 1000);
	CHECK(h_drops(&h->b, DROP_RX_BAD_MAC) > 0);
	CHECK(h_drops(&h->b, DROP_RX_UNKNOWN_INDEX) > 0);
	CHECK(h_connect(h));
	garbage_round(h, &rng); /* and with one */
	h_send(&h->a, AF_INET, 5, 300);
	h_send(&h->b, AF_INET, 6, 300);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[5], 1);
	CHECK_EQ_INT(h->a.rx_seq[6], 1);
	CHECK_EQ_INT(h->a.stray + h->b.stray, 0);
	h_free(h);
}

/* Captures A's next initiation without delivering it. */
static struct h_datagram capture_initiation(struct harness *h)
{
	struct h_watch w;
	struct h_datagram dg;

	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	w.drop_from_a = 1u << MESSAGE_HANDSHAKE_INITIATION;
	h->capture_types = 1u << MESSAGE_HANDSHAKE_INITIATION;
	h->captured_count = 0;
	wg_peer_reset_sessions(h->a.peer);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	dg = h->captured[0];
	h->filter = NULL;
	h->capture_types = 0;
	return dg;
}

static void test_bad_handshakes(void)
{
	struct harness *h = h_new(41);
	struct h_datagram init = capture_initiation(h);
	uint8_t buf[sizeof(struct message_handshake_initiation)];
	const size_t mac1 = message_macs_offset(struct message_handshake_initiation);
	struct cookie forger;

	CHECK_EQ_INT(init.len, sizeof(buf));

	/* Bad MAC1 (in the MAC, and in the body). */
	memcpy(buf, init.data, sizeof(buf));
	buf[mac1] ^= 0x80;
	CHECK(silent_drop(h, &h->b, buf, sizeof(buf), &h->a.addr));
	memcpy(buf, init.data, sizeof(buf));
	buf[20] ^= 0x01;
	CHECK(silent_drop(h, &h->b, buf, sizeof(buf), &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_BAD_MAC), 2);

	/* Valid MAC1 over a tampered body: the handshake itself fails. */
	cookie_init(&forger, h->b.public_key);
	memcpy(buf, init.data, sizeof(buf));
	buf[60] ^= 0x01; /* encrypted static */
	cookie_add_mac_to_packet(buf, sizeof(buf), &forger, h->now);
	CHECK(silent_drop(h, &h->b, buf, sizeof(buf), &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_HANDSHAKE_INVALID), 1);

	/* The real one works, once. */
	h_udp_input(&h->b, init.data, init.len, &h->a.addr);
	CHECK_EQ_INT(h->b.udp_out->count, 1);
	CHECK_EQ_INT(h->b.dev->stats.handshake_responses_tx, 1);
	h->b.udp_out->count = 0; /* the response is lost */
	CHECK(silent_drop(h, &h->b, init.data, init.len, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_HANDSHAKE_REPLAY), 1);
	h_advance(h, 30 * H_SEC);
	CHECK(silent_drop(h, &h->b, init.data, init.len, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_HANDSHAKE_REPLAY), 2);

	/* An older initiation after a newer one is a replay too. */
	struct h_datagram older = capture_initiation(h);
	h_advance(h, 1 * H_SEC);
	struct h_datagram newer = capture_initiation(h);
	uint64_t responses = h->b.dev->stats.handshake_responses_tx;
	h_udp_input(&h->b, newer.data, newer.len, &h->a.addr);
	CHECK_EQ_INT(h->b.dev->stats.handshake_responses_tx, responses + 1);
	h->b.udp_out->count = 0;
	CHECK(silent_drop(h, &h->b, older.data, older.len, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_HANDSHAKE_REPLAY), 3);

	/* A response that answers nothing (A's handshake is gone). */
	h->capture_types = 1u << MESSAGE_HANDSHAKE_RESPONSE;
	h->captured_count = 0;
	h_send(&h->a, AF_INET, 1, 100);
	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC); /* the retransmission completes it */
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	if (CHECK_EQ_INT(h->captured_count, 1))
		CHECK(silent_drop(h, &h->a, h->captured[0].data, h->captured[0].len, &h->b.addr));
	h_free(h);
}

static void test_unknown_key(void)
{
	struct harness *h = h_new(42);
	struct h_node *c = calloc(1, sizeof(*c));

	CHECK(h_node_init(h, c, "C", 3, 42) == 0);
	CHECK(wg_device_add_peer(c->dev, h->b.public_key, &c->peer) == 0);
	wg_peer_set_endpoint(c->peer, &h->b.addr);
	wg_peer_send_handshake(c->peer, c->udp_out);
	if (CHECK_EQ_INT(c->udp_out->count, 1)) {
		const struct pkt *p = &c->udp_out->pkts[0];
		CHECK(silent_drop(h, &h->b, p->data, p->len, &c->addr));
		CHECK_EQ_INT(h_drops(&h->b, DROP_RX_UNKNOWN_PEER), 1);
	}
	h_node_free(c);
	free(c);
	h_free(h);
}

static void test_bad_data(void)
{
	struct harness *h = h_new(43);
	struct h_datagram dg;

	CHECK(h_connect(h));
	h->capture_types = 1u << MESSAGE_DATA;
	h->captured_count = 0;
	h_send(&h->a, AF_INET, 1, 200);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	dg = h->captured[0];

	/* Replayed. */
	CHECK(silent_drop(h, &h->b, dg.data, dg.len, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 1);

	/* Tampered: ciphertext, tag, counter, truncated. */
	const uint32_t spots[] = { 16, 50, dg.len - 1, 8 };
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		dg.data[spots[i]] ^= 0x04;
		CHECK(silent_drop(h, &h->b, dg.data, dg.len, &h->a.addr));
		dg.data[spots[i]] ^= 0x04;
	}
	CHECK(silent_drop(h, &h->b, dg.data, dg.len - 16, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_DECRYPT), 5);
	CHECK(silent_drop(h, &h->b, dg.data, 31, &h->a.addr));
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_MALFORMED), 1);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 1); /* the window never moved */

	/* Spoofed inner sources, both families. */
	static const uint8_t evil4[4] = { 10, 9, 9, 9 };
	static const uint8_t evil6[16] = { 0xfd, [15] = 9 };
	h_send_ip(&h->a, AF_INET, evil4, h->b.ip4, 2, 100);
	h_send_ip(&h->a, AF_INET6, evil6, h->b.ip6, 3, 100);
	h_send_ip(&h->a, AF_INET, h->b.ip4, h->b.ip4, 4, 100); /* B's own address */
	h_pump(h);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_SOURCE_NOT_ALLOWED), 3);
	CHECK_EQ_INT(h_rx_total(&h->b, 2, 4), 0);

	/* An inner packet that claims more bytes than it has. */
	struct pkt *p = pkt_batch_add(h->a.tun_in);
	p->len = h_build_ip(p->data, AF_INET, h->a.ip4, h->b.ip4, 5, 100);
	p->data[2] = 0x05; /* total length 1280+ */
	wg_device_tun_input(h->a.dev, h->a.tun_in, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_BAD_INNER), 1);

	/* No route, not an IP packet. */
	static const uint8_t nowhere[4] = { 10, 7, 7, 7 };
	h_send_ip(&h->a, AF_INET, h->a.ip4, nowhere, 6, 100);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_NO_ROUTE), 1);

	/* The kernel's own link-scoped packets on the TUN: a router
	 * solicitation to ff02::2 from the device's link-local address (what a
	 * fresh TUN sends), an IGMP report to 224.0.0.22, and fe80::1. Dropped
	 * for want of a peer, but not counted as a routing miss. */
	static const uint8_t ll6[16] = { 0xfe, 0x80, [15] = 0x42 },
			     rs6[16] = { 0xff, 0x02, [15] = 0x02 },
			     peer_ll6[16] = { 0xfe, 0x80, [15] = 0x01 },
			     igmp4[4] = { 224, 0, 0, 22 };
	h_send_ip(&h->a, AF_INET6, ll6, rs6, 7, 60);
	h_send_ip(&h->a, AF_INET, h->a.ip4, igmp4, 8, 60);
	h_send_ip(&h->a, AF_INET6, ll6, peer_ll6, 9, 60);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_LINK_LOCAL), 3);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_NO_ROUTE), 1);
	p = pkt_batch_add(h->a.tun_in);
	memset(p->data, 0x22, 100);
	p->len = 100;
	wg_device_tun_input(h->a.dev, h->a.tun_in, h->a.udp_out);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_MALFORMED), 1);
	CHECK_EQ_INT(h->a.udp_out->count, 0);

	/* The session still works. */
	h_send(&h->a, AF_INET, 7, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[7], 1);
	CHECK_EQ_INT(h->b.rx_bad, 0);
	h_free(h);
}

static void test_low_order_keys(void)
{
	static const char *const low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	struct harness *h = h_new(44);
	struct wg_peer *peer = NULL;
	uint8_t key[32];

	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		CHECK_EQ_INT(test_unhex(low_order[i], key, sizeof(key)), 32);
		CHECK_EQ_INT(wg_device_add_peer(h->a.dev, key, &peer), -EINVAL);
		CHECK_EQ_INT(h->a.dev->peer_count, 1);
	}
	CHECK_EQ_INT(wg_device_add_peer(h->a.dev, h->a.public_key, &peer), -EINVAL);
	CHECK_EQ_INT(wg_device_add_peer(h->a.dev, h->b.public_key, &peer), -EEXIST);

	/* Without a private key yet, too. */
	wg_device_set_private_key(h->b.dev, NULL);
	CHECK(!h->b.dev->identity.has_identity);
	CHECK_EQ_INT(wg_device_add_peer(h->b.dev, key, &peer), -EINVAL);
	h_free(h);
}

int main(void)
{
	RUN(test_garbage);
	RUN(test_bad_handshakes);
	RUN(test_unknown_key);
	RUN(test_bad_data);
	RUN(test_low_order_keys);
	return test_summary();
}
