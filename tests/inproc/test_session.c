/*
 * Two engines: handshake, data both ways (IPv4 and IPv6 inside), padding,
 * the initiator's confirming keepalive, and key confirmation (the responder
 * sends no data before the initiator's first data message arrives).
 */
#include <string.h>

#include "harness.h"

static enum h_verdict drop_data_from_a(void *ctx, const struct h_datagram *dg)
{
	struct harness *h = ctx;
	return dg->from == &h->a && dg->data[0] == MESSAGE_DATA ? H_DROP : H_DELIVER;
}

static void test_handshake_and_data(void)
{
	struct harness *h = h_new(1);

	CHECK(!wg_peer_has_session(h->a.peer));
	h_send(&h->a, AF_INET, 1, 100);
	/* No session yet: the packet waits and an initiation goes out. */
	CHECK_EQ_INT(h->a.udp_out->count, 1);
	CHECK_EQ_INT(h->a.peer->staged->count, 1);
	h_pump(h);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	CHECK_EQ_INT(h->a.sent[MESSAGE_DATA], 1); /* the staged packet, no keepalive */
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	CHECK_EQ_INT(h->b.rx_bad, 0);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK(wg_peer_has_session(h->b.peer));
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 1);
	CHECK_EQ_INT(h->b.dev->stats.sessions_established, 1);
	CHECK_EQ_INT(h->a.peer->stats.handshakes, 1);
	CHECK_EQ_INT(h->b.peer->stats.handshakes, 1);
	CHECK(h->a.peer->last_handshake.tv_sec != 0);

	/* Both ways, both families, many sizes. */
	uint32_t seq = 100;
	for (uint32_t len = 44; len <= H_MTU; len += 37) {
		h_send(&h->a, AF_INET, seq++, len);
		h_send(&h->a, AF_INET6, seq++, len);
		h_send(&h->b, AF_INET, seq++, len);
		h_send(&h->b, AF_INET6, seq++, len);
		h_pump(h);
	}
	h_send(&h->a, AF_INET, seq++, H_MTU);
	h_send(&h->b, AF_INET6, seq++, H_MTU);
	h_pump(h);
	CHECK_EQ_INT(h_rx_total(&h->a, 100, seq) + h_rx_total(&h->b, 100, seq), seq - 100);
	CHECK_EQ_INT(h_rx_once(&h->a, 100, seq) + h_rx_once(&h->b, 100, seq), seq - 100);
	CHECK_EQ_INT(h->a.rx_bad + h->b.rx_bad, 0);
	/* Still one handshake: nothing asked for another. */
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_INITIATION], 0);
	CHECK_EQ_INT(h->a.stray + h->b.stray, 0);
	h_free(h);
}

static void test_padding(void)
{
	struct harness *h = h_new(2);

	CHECK(h_connect(h));
	h->capture_types = 1u << MESSAGE_DATA;
	for (uint32_t len = 24; len <= 120; len++) {
		h->captured_count = 0;
		h_send(&h->a, AF_INET, len, len);
		h_pump(h);
		if (!CHECK_EQ_INT(h->captured_count, 1))
			break;
		uint32_t padded = (len + 15) & ~15u;
		CHECK_EQ_INT(h->captured[0].len, 16 + padded + 16);
		CHECK_EQ_INT(h->b.rx_seq[len], 1);
	}
	/* Near the MTU the padding stops at the MTU. */
	for (uint32_t len = H_MTU - 20; len <= H_MTU; len++) {
		uint32_t padded = (len + 15) & ~15u;
		h->captured_count = 0;
		h_send(&h->a, AF_INET6, 1000 + len, len);
		h_pump(h);
		CHECK_EQ_INT(h->captured[0].len, 16 + (padded > H_MTU ? H_MTU : padded) + 16);
		CHECK_EQ_INT(h->b.rx_seq[1000 + len], 1);
	}
	h_free(h);
}

static void test_initiator_confirms_with_keepalive(void)
{
	struct harness *h = h_new(3);

	h->capture_types = 1u << MESSAGE_DATA;
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	/* Nothing was staged: the initiator confirms with a keepalive. */
	CHECK_EQ_INT(h->a.sent[MESSAGE_DATA], 1);
	CHECK_EQ_INT(h->captured_count, 1);
	CHECK_EQ_INT(h->captured[0].len, 32);
	CHECK_EQ_INT(h->b.rx_packets, 0); /* keepalives never reach the TUN */
	CHECK(wg_peer_has_session(h->b.peer));
	CHECK(h->b.peer->next == NULL);
	CHECK(h->b.peer->current && !h->b.peer->current->is_initiator);
	CHECK(h->a.peer->current && h->a.peer->current->is_initiator);
	h_free(h);
}

static void test_key_confirmation(void)
{
	struct harness *h = h_new(4);

	h->filter = drop_data_from_a;
	h->filter_ctx = h;
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_RESPONSE], 1);
	CHECK(wg_peer_has_session(h->a.peer));
	/* B's session waits in `next` until A's first data message. */
	CHECK(!wg_peer_has_session(h->b.peer));
	CHECK(h->b.peer->next != NULL);

	h_advance(h, 1 * H_SEC);
	for (uint32_t s = 10; s < 13; s++)
		h_send(&h->b, AF_INET, s, 80);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_DATA], 0);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_INITIATION], 0); /* one per REKEY_TIMEOUT */
	CHECK_EQ_INT(h->b.peer->staged->count, 3);
	CHECK_EQ_INT(h_rx_total(&h->a, 10, 12), 0);

	/* A's data confirms the session; B's staged packets follow at once. */
	h->filter = NULL;
	h_send(&h->a, AF_INET, 20, 80);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[20], 1);
	CHECK(wg_peer_has_session(h->b.peer));
	CHECK_EQ_INT(h->b.peer->staged->count, 0);
	CHECK_EQ_INT(h_rx_once(&h->a, 10, 12), 3);
	CHECK_EQ_INT(h->b.sent[MESSAGE_DATA], 3);
	CHECK_EQ_INT(h->a.dev->stats.handshake_initiations_tx, 1);
	h_free(h);
}

/* Both sides start a handshake at the same moment; they still converge. */
static void test_simultaneous_initiation(void)
{
	struct harness *h = h_new(5);

	h_send(&h->a, AF_INET, 1, 60);
	h_send(&h->b, AF_INET, 2, 60);
	h_pump(h);
	h_advance(h, 30 * H_SEC);
	h_send(&h->a, AF_INET, 3, 60);
	h_send(&h->b, AF_INET, 4, 60);
	h_pump(h);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK(wg_peer_has_session(h->b.peer));
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	CHECK_EQ_INT(h->a.rx_seq[2], 1);
	CHECK_EQ_INT(h->b.rx_seq[3], 1);
	CHECK_EQ_INT(h->a.rx_seq[4], 1);
	h_free(h);
}

/* Datagrams delivered twice or out of order: each packet once, in any order. */
static enum h_verdict dup_and_hold(void *ctx, const struct h_datagram *dg)
{
	unsigned *n = ctx;

	if (dg->data[0] != MESSAGE_DATA || dg->len == 32)
		return H_DELIVER;
	switch ((*n)++ % 3) {
	case 0:
		return H_DUPLICATE;
	case 1:
		return H_HOLD;
	default:
		return H_DELIVER;
	}
}

static void test_duplicates_and_reordering(void)
{
	struct harness *h = h_new(6);
	unsigned n = 0;

	CHECK(h_connect(h));
	h->filter = dup_and_hold;
	h->filter_ctx = &n;
	for (uint32_t s = 100; s < 400; s++) {
		h_send(&h->a, s & 1 ? AF_INET : AF_INET6, s, 60 + s % 200);
		if (s % 50 == 0)
			h_pump(h);
	}
	h_pump(h);
	h_release_held(h, true);
	CHECK_EQ_INT(h_rx_once(&h->b, 100, 399), 300);
	CHECK_EQ_INT(h_rx_total(&h->b, 100, 399), 300);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 100);
	h_free(h);
}

/* The staged queue keeps the newest MAX_STAGED_PACKETS packets. */
static void test_staged_overflow(void)
{
	struct harness *h = h_new(7);
	struct h_watch w;

	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	w.drop_from_a = 1u << MESSAGE_HANDSHAKE_INITIATION;
	for (uint32_t s = 0; s < MAX_STAGED_PACKETS + 72; s++)
		h_send(&h->a, AF_INET, s, 60 + s);
	h_pump(h);
	CHECK_EQ_INT(h->a.peer->staged->count, MAX_STAGED_PACKETS);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_STAGED_OVERFLOW), 72);
	w.drop_from_a = 0;
	h_advance(h, 6 * H_SEC); /* the retransmission gets through */
	CHECK_EQ_INT(h_rx_total(&h->b, 0, 71), 0);
	CHECK_EQ_INT(h_rx_once(&h->b, 72, MAX_STAGED_PACKETS + 71), MAX_STAGED_PACKETS);
	CHECK_EQ_INT(h->b.rx_bad, 0);
	h_free(h); /* frees a queue whose slots were rotated */
}

/* Setting the same private key again keeps the sessions (as wg does); a
 * new key drops them. */
static void test_private_key_reset(void)
{
	struct harness *h = h_new(8);
	uint8_t other[NOISE_PUBLIC_KEY_LEN] = { 1, 2, 3 };

	CHECK(h_connect(h));
	CHECK_EQ_INT(wg_device_set_private_key(h->b.dev, h->b.private_key), 0);
	CHECK(wg_peer_has_session(h->b.peer));
	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	CHECK_EQ_INT(wg_device_set_private_key(h->b.dev, other), 0);
	CHECK(!wg_peer_has_session(h->b.peer));
	h_free(h);
}

int main(void)
{
	RUN(test_handshake_and_data);
	RUN(test_padding);
	RUN(test_initiator_confirms_with_keepalive);
	RUN(test_key_confirmation);
	RUN(test_simultaneous_initiation);
	RUN(test_duplicates_and_reordering);
	RUN(test_staged_overflow);
	RUN(test_private_key_reset);
	return test_summary();
}
