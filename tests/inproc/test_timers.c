/*
 * The timers of messages.h, on the fake clock: rekey after REKEY_AFTER_TIME
 * under continuous traffic, reject after REJECT_AFTER_TIME, retransmission
 * every REKEY_TIMEOUT + jitter and giving up, passive keepalive, new
 * handshake after NEW_HANDSHAKE_TIMEOUT, key erasure, persistent keepalive,
 * rekey after REKEY_AFTER_MESSAGES and the receive-only initiator's
 * last-minute handshake (REKEY_AFTER_TIME_RECV), and ping-pong traffic
 * drawing timer jitter without a random call per packet.
 */
#include <sodium.h>
#include <string.h>

#include "harness.h"

#define KEEPALIVE_LEN 32

static bool within(uint64_t t, uint64_t lo, uint64_t hi)
{
	if (t >= lo && t < hi)
		return true;
	fprintf(stderr, "  time %.3f s not in [%.3f, %.3f)\n", t / 1e9, lo / 1e9, hi / 1e9);
	return false;
}

/* Continuous traffic both ways for 400 s: A (the initiator) rekeys every
 * REKEY_AFTER_TIME, B never does, and not one packet is lost or doubled. */
static void test_rekey_after_time(void)
{
	struct harness *h = h_new(10);
	struct h_watch w;
	uint64_t t0 = h->now;
	uint32_t seq = 0;

	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	CHECK(h_connect(h));
	while (h->now < t0 + 400 * H_SEC) {
		seq++;
		h_send(&h->a, seq & 1 ? AF_INET : AF_INET6, seq, 60 + seq % 500);
		h_pump(h);
		h_advance(h, 50 * H_MSEC);
		h_send(&h->b, seq & 1 ? AF_INET6 : AF_INET, seq, 60 + seq % 700);
		h_pump(h);
		h_advance(h, 50 * H_MSEC);
	}
	CHECK_EQ_INT(h_rx_once(&h->a, 0, seq), seq + 1);
	CHECK_EQ_INT(h_rx_once(&h->b, 0, seq), seq + 1);
	CHECK_EQ_INT(h->a.rx_bad + h->b.rx_bad, 0);
	if (CHECK_EQ_INT(w.count, 4)) {
		CHECK(within(w.times[0], t0, t0 + 1));
		for (unsigned i = 1; i < 4; i++)
			CHECK(within(w.times[i] - w.times[i - 1], REKEY_AFTER_TIME * H_SEC,
				     REKEY_AFTER_TIME * H_SEC + 200 * H_MSEC));
	}
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_INITIATION], 0);
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 4);
	CHECK_EQ_INT(h_drops(&h->a, DROP_RX_DECRYPT) + h_drops(&h->b, DROP_RX_DECRYPT), 0);
	CHECK_EQ_INT(h_drops(&h->a, DROP_RX_KEY_EXPIRED) + h_drops(&h->b, DROP_RX_KEY_EXPIRED), 0);
	h_free(h);
}

/* With every handshake after the first one lost, the old session carries
 * data until REJECT_AFTER_TIME and not a packet longer. */
static void test_reject_after_time(void)
{
	struct harness *h = h_new(11);
	struct h_watch w;
	uint64_t t0 = h->now;
	uint32_t seq = 100;
	unsigned sent_before;

	CHECK(h_connect(h));
	h_watch(h, &w, &h->a, MESSAGE_DATA, 0);
	w.drop_from_a = w.drop_from_b =
	    1u << MESSAGE_HANDSHAKE_INITIATION | 1u << MESSAGE_HANDSHAKE_RESPONSE;
	while (h->now < t0 + (REJECT_AFTER_TIME - 1) * H_SEC) {
		h_send(&h->a, AF_INET, seq++, 100);
		h_advance(h, H_SEC);
	}
	CHECK_EQ_INT(h_rx_once(&h->b, 100, seq - 1), seq - 100);
	CHECK(h->a.sent[MESSAGE_HANDSHAKE_INITIATION] > 1); /* it did try */
	CHECK(wg_peer_has_session(h->a.peer));

	/* A data message made just before the deadline, delivered after it. */
	h->capture_types = 1u << MESSAGE_DATA;
	h->captured_count = 0;
	w.drop_from_a |= 1u << MESSAGE_DATA;
	h_send(&h->a, AF_INET, seq++, 100);
	h_pump(h);
	CHECK_EQ_INT(h->captured_count, 1);
	w.drop_from_a &= ~(1u << MESSAGE_DATA);
	h->capture_types = 0;

	h_advance_to(h, t0 + REJECT_AFTER_TIME * H_SEC);
	CHECK(!wg_peer_has_session(h->a.peer));
	CHECK(!wg_peer_has_session(h->b.peer));
	h_udp_input(&h->b, h->captured[0].data, h->captured[0].len, &h->a.addr);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_KEY_EXPIRED), 1);
	CHECK_EQ_INT(h->b.rx_seq[seq - 1], 0);

	sent_before = h->a.sent[MESSAGE_DATA] + h->b.sent[MESSAGE_DATA];
	for (int i = 0; i < 5; i++) {
		h_send(&h->a, AF_INET, seq++, 100);
		h_send(&h->b, AF_INET, seq++, 100);
		h_advance(h, H_SEC);
	}
	CHECK_EQ_INT(h->a.sent[MESSAGE_DATA] + h->b.sent[MESSAGE_DATA], sent_before);
	CHECK_EQ_INT(h->a.peer->staged->count, 5);
	CHECK_EQ_INT(h->b.peer->staged->count, 5);
	h_free(h);
}

/* An unanswered initiation is resent every REKEY_TIMEOUT + jitter; after
 * REKEY_ATTEMPT_TIME the peer gives up and the staged packets are dropped.
 * Linux sends 1 + MAX_TIMER_HANDSHAKES + 1 initiations in all. */
static void test_retransmit_and_give_up(void)
{
	struct harness *h = h_new(12);
	struct h_watch w;
	uint64_t t0 = h->now;
	const unsigned attempts = 1 + MAX_TIMER_HANDSHAKES + 1;

	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	w.drop_from_a = H_ALL_TYPES;
	h_send(&h->a, AF_INET, 1, 60);
	h_send(&h->a, AF_INET, 2, 60);
	h_send(&h->a, AF_INET, 3, 60);
	h_pump(h);
	h_advance_to(h, t0 + 200 * H_SEC);
	if (CHECK_EQ_INT(w.count, attempts)) {
		CHECK_EQ_INT(w.times[0], t0);
		for (unsigned i = 1; i < attempts; i++)
			CHECK(within(w.times[i] - w.times[i - 1], REKEY_TIMEOUT * H_SEC,
				     REKEY_TIMEOUT * H_SEC + REKEY_TIMEOUT_JITTER_MAX_MS * H_MSEC));
		/* About REKEY_ATTEMPT_TIME of tries. */
		CHECK(within(w.times[attempts - 1] - t0, REKEY_ATTEMPT_TIME * H_SEC,
			     (REKEY_ATTEMPT_TIME + 3 * REKEY_TIMEOUT) * H_SEC));
	}
	CHECK_EQ_INT(h->a.peer->staged->count, 0);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_GAVE_UP), 3);
	CHECK_EQ_INT(h->a.peer->timers[TIMER_RETRANSMIT_HANDSHAKE], 0);
	CHECK(h->a.peer->timers[TIMER_ZERO_KEY_MATERIAL] != 0);
	CHECK_EQ_INT(h->b.dev->stats.handshake_initiations_rx, 0);

	/* Quiet from now on, until new traffic starts the cycle again. */
	h_advance_to(h, t0 + 1000 * H_SEC);
	CHECK_EQ_INT(w.count, attempts);
	CHECK_EQ_INT(wg_device_next_deadline(h->a.dev), UINT64_MAX);
	w.drop_from_a = 0;
	h_send(&h->a, AF_INET, 4, 60);
	h_pump(h);
	CHECK_EQ_INT(w.count, attempts + 1);
	CHECK_EQ_INT(h->b.rx_seq[4], 1);
	CHECK_EQ_INT(h_rx_total(&h->b, 1, 3), 0);
	h_free(h);
}

/* Data received and nothing sent back: a keepalive after KEEPALIVE_TIMEOUT.
 * Data sent back in time: no keepalive. */
static void test_passive_keepalive(void)
{
	struct harness *h = h_new(13);
	struct h_watch w;
	uint64_t t1;

	CHECK(h_connect(h));
	h_advance(h, 30 * H_SEC);
	h_watch(h, &w, &h->b, MESSAGE_DATA, KEEPALIVE_LEN);
	t1 = h->now;
	h_send(&h->a, AF_INET, 10, 100);
	h_pump(h);
	h_advance(h, 60 * H_SEC);
	if (CHECK_EQ_INT(w.count, 1))
		CHECK_EQ_INT(w.times[0], t1 + KEEPALIVE_TIMEOUT * H_SEC);

	/* More data while the keepalive is pending: one more keepalive after
	 * the first, as need_another_keepalive says. */
	w.count = 0;
	t1 = h->now;
	h_send(&h->a, AF_INET, 11, 100);
	h_pump(h);
	h_advance(h, 3 * H_SEC);
	h_send(&h->a, AF_INET, 12, 100);
	h_pump(h);
	h_advance(h, 60 * H_SEC);
	if (CHECK_EQ_INT(w.count, 2)) {
		CHECK_EQ_INT(w.times[0], t1 + KEEPALIVE_TIMEOUT * H_SEC);
		CHECK_EQ_INT(w.times[1], t1 + 2 * KEEPALIVE_TIMEOUT * H_SEC);
	}

	/* B answers with data within the timeout: no keepalive. */
	w.count = 0;
	h_send(&h->a, AF_INET, 13, 100);
	h_pump(h);
	h_advance(h, 5 * H_SEC);
	h_send(&h->b, AF_INET, 14, 100);
	h_pump(h);
	h_advance(h, 8 * H_SEC);
	CHECK_EQ_INT(w.count, 0);
	h_free(h);
}

/* Data sent and nothing authenticated back for KEEPALIVE_TIMEOUT +
 * REKEY_TIMEOUT (+ jitter): a new handshake. */
static void test_new_handshake_after_silence(void)
{
	struct harness *h = h_new(14);
	struct h_watch w;
	uint64_t t1;

	CHECK(h_connect(h));
	h_advance(h, 30 * H_SEC);
	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	w.drop_from_b = H_ALL_TYPES;
	t1 = h->now;
	h_send(&h->a, AF_INET, 10, 100);
	h_pump(h);
	h_advance(h, 3 * H_SEC);
	h_send(&h->a, AF_INET, 11, 100); /* does not push the deadline back */
	h_pump(h);
	h_advance(h, 20 * H_SEC);
	if (CHECK(w.count >= 1))
		CHECK(within(w.times[0], t1 + NEW_HANDSHAKE_TIMEOUT * H_SEC,
			     t1 + NEW_HANDSHAKE_TIMEOUT * H_SEC +
				 REKEY_TIMEOUT_JITTER_MAX_MS * H_MSEC));

	/* With B answering, data does not lead to a new handshake. */
	w.drop_from_b = 0;
	h_advance(h, 10 * H_SEC); /* the retry completes the handshake */
	CHECK(wg_peer_has_session(h->a.peer));
	w.count = 0;
	for (int i = 0; i < 60; i++) {
		h_send(&h->a, AF_INET, 100 + i, 100);
		h_advance(h, H_SEC);
	}
	CHECK_EQ_INT(w.count, 0);
	h_free(h);
}

/* Ping-pong traffic re-arms new_handshake (with jitter) on every packet
 * sent after an answer; the jitter comes from a pool, so the random source
 * (a syscall in the daemon) is not asked once per packet. */
static void test_jitter_batched(void)
{
	struct harness *h = h_new(15);
	unsigned long before_a, before_b;

	CHECK(h_connect(h));
	before_a = h->a.random_calls;
	before_b = h->b.random_calls;
	for (int i = 0; i < 256; i++) {
		h_send(&h->a, AF_INET, 200 + (uint32_t)i, 84);
		h_pump(h);
		h_send(&h->b, AF_INET, 200 + (uint32_t)i, 84);
		h_pump(h);
		h_advance(h, 20 * H_MSEC);
	}
	CHECK_EQ_INT(h->b.rx_packets >= 256, 1);
	CHECK(h->a.random_calls - before_a <= 256 / WG_JITTER_POOL + 1);
	CHECK(h->b.random_calls - before_b <= 256 / WG_JITTER_POOL + 1);
	h_free(h);
}

static bool keys_erased(const struct wg_peer *peer)
{
	return !peer->current && !peer->previous && !peer->next &&
	       sodium_is_zero((const uint8_t *)peer->keypair_pool, sizeof(peer->keypair_pool)) &&
	       peer->handshake.state == HANDSHAKE_ZEROED &&
	       sodium_is_zero(peer->handshake.chaining_key, sizeof(peer->handshake.chaining_key)) &&
	       sodium_is_zero(peer->handshake.ephemeral_private,
			      sizeof(peer->handshake.ephemeral_private));
}

/* All session keys are erased ZERO_KEY_MATERIAL_TIMEOUT after the last
 * session was made. */
static void test_zero_key_material(void)
{
	struct harness *h = h_new(15);
	uint64_t t0 = h->now;

	CHECK(h_connect(h));
	h_advance_to(h, t0 + (ZERO_KEY_MATERIAL_TIMEOUT - 1) * H_SEC);
	CHECK(h->a.peer->current && h->a.peer->current->in_use);
	CHECK(h->b.peer->current && h->b.peer->current->in_use);
	CHECK(!wg_peer_has_session(h->a.peer)); /* expired long ago, still there */
	h_advance_to(h, t0 + ZERO_KEY_MATERIAL_TIMEOUT * H_SEC);
	CHECK(keys_erased(h->a.peer));
	CHECK(keys_erased(h->b.peer));
	CHECK_EQ_INT(h->a.dev->index.count, 0);
	CHECK_EQ_INT(h->b.dev->index.count, 0);
	CHECK_EQ_INT(wg_device_next_deadline(h->a.dev), UINT64_MAX);
	CHECK_EQ_INT(wg_device_next_deadline(h->b.dev), UINT64_MAX);

	/* And the peers can start over. */
	h_send(&h->a, AF_INET, 7, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[7], 1);
	h_free(h);
}

/* Keepalives at exactly the configured interval while idle. */
static void test_persistent_keepalive(void)
{
	struct harness *h = h_new(16);
	struct h_watch w;
	uint64_t t1;

	CHECK(h_connect(h));
	h_advance(h, 20 * H_SEC);
	h_watch(h, &w, &h->a, MESSAGE_DATA, KEEPALIVE_LEN);
	t1 = h->now;
	wg_peer_set_persistent_keepalive(h->a.peer, 25, h->a.udp_out);
	h_pump(h);
	h_advance_to(h, t1 + 79 * H_SEC);
	if (CHECK_EQ_INT(w.count, 4))
		for (unsigned i = 0; i < 4; i++)
			CHECK_EQ_INT(w.times[i], t1 + i * 25 * H_SEC);
	CHECK_EQ_INT(h->b.sent[MESSAGE_DATA], 1); /* B only answered h_connect */

	/* Any traffic pushes the next one back by a whole interval. */
	h_advance_to(h, t1 + 80 * H_SEC);
	h_send(&h->b, AF_INET, 5, 100); /* received by A at t1 + 80 */
	h_pump(h);
	CHECK_EQ_INT(h->a.peer->timers[TIMER_PERSISTENT_KEEPALIVE], t1 + 105 * H_SEC);
	h_advance_to(h, t1 + 95 * H_SEC); /* A's passive keepalive at t1 + 90 */
	CHECK_EQ_INT(h->a.peer->timers[TIMER_PERSISTENT_KEEPALIVE], t1 + 115 * H_SEC);
	CHECK_EQ_INT(w.count, 5);
	if (w.count == 5)
		CHECK_EQ_INT(w.times[4], t1 + 90 * H_SEC);

	/* Off: no more. */
	wg_peer_set_persistent_keepalive(h->a.peer, 0, h->a.udp_out);
	w.count = 0;
	h_advance(h, 100 * H_SEC);
	CHECK_EQ_INT(w.count, 0);
	h_free(h);
}

/* A session that has sent REKEY_AFTER_MESSAGES messages is renewed, by
 * whichever side sends; at REJECT_AFTER_MESSAGES it sends no more. */
static void test_rekey_after_messages(void)
{
	struct harness *h = h_new(17);
	struct keypair *old;
	unsigned data_before;

	CHECK(h_connect(h));
	h_advance(h, 10 * H_SEC);
	old = h->a.peer->current;
	old->sending_counter = REKEY_AFTER_MESSAGES;
	h_send(&h->a, AF_INET, 10, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[10], 1);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	CHECK(h->a.peer->current != old);
	CHECK(h->a.peer->current->sending_counter < 10);

	/* The responder too. */
	h_advance(h, 10 * H_SEC);
	h->b.peer->current->sending_counter = REKEY_AFTER_MESSAGES + 1;
	h_send(&h->b, AF_INET, 11, 100);
	h_pump(h);
	CHECK_EQ_INT(h->a.rx_seq[11], 1);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_INITIATION], 1);

	/* The hard limit: no handshake can complete, so nothing goes out. */
	struct h_watch w;
	h_advance(h, 10 * H_SEC);
	h_watch(h, &w, &h->a, MESSAGE_DATA, 0);
	w.drop_from_a = w.drop_from_b = 1u << MESSAGE_HANDSHAKE_INITIATION;
	h->a.peer->current->sending_counter = REJECT_AFTER_MESSAGES - 1;
	h_send(&h->a, AF_INET, 12, 100); /* the last counter there is */
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[12], 1);
	data_before = h->a.sent[MESSAGE_DATA];
	h_send(&h->a, AF_INET, 13, 100);
	h_pump(h);
	CHECK_EQ_INT(h->a.sent[MESSAGE_DATA], data_before);
	CHECK_EQ_INT(h->a.peer->staged->count, 1);
	CHECK_EQ_INT(h->b.rx_seq[13], 0);
	h_free(h);
}

/* An initiator that only receives (keepalives from a peer with persistent
 * keepalive) renews its session REKEY_AFTER_TIME_RECV after it was made, on
 * the first packet it receives past that age, once. */
static void test_rekey_after_time_recv(void)
{
	struct harness *h = h_new(18);
	struct h_watch w;
	uint64_t t0 = h->now;

	h_watch(h, &w, &h->a, MESSAGE_HANDSHAKE_INITIATION, 0);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK(wg_peer_has_session(h->b.peer));
	wg_peer_set_persistent_keepalive(h->b.peer, 10, h->b.udp_out);
	h_pump(h);
	h_advance_to(h, t0 + REKEY_AFTER_TIME_RECV * H_SEC - 1);
	CHECK_EQ_INT(w.count, 1);
	CHECK_EQ_INT(h->a.sent[MESSAGE_DATA], 1); /* the confirming keepalive only */
	h_advance_to(h, t0 + REJECT_AFTER_TIME * H_SEC - 1);
	if (CHECK_EQ_INT(w.count, 2))
		CHECK(within(w.times[1], t0 + REKEY_AFTER_TIME_RECV * H_SEC,
			     t0 + (REKEY_AFTER_TIME_RECV + 10) * H_SEC + 1));
	CHECK(h->a.peer->current->birthdate >= t0 + REKEY_AFTER_TIME_RECV * H_SEC);
	h_advance_to(h, t0 + 400 * H_SEC);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK(wg_peer_has_session(h->b.peer));
	h_free(h);
}

int main(void)
{
	RUN(test_rekey_after_time);
	RUN(test_reject_after_time);
	RUN(test_retransmit_and_give_up);
	RUN(test_passive_keepalive);
	RUN(test_new_handshake_after_silence);
	RUN(test_jitter_batched);
	RUN(test_zero_key_material);
	RUN(test_persistent_keepalive);
	RUN(test_rekey_after_messages);
	RUN(test_rekey_after_time_recv);
	return test_summary();
}
