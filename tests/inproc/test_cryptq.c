/*
 * The engine with a crypt queue run by a pool of threads: bursts keep their
 * order, the replay window moves only for authentic messages, inside one
 * receive batch and across batches, sessions roll over with traffic in
 * flight, and a handshake message in the middle of a batch takes effect
 * exactly between the data before and after it. The last is also checked
 * against the inline engine, counter by counter.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Bursts of 100 make chunks of 40, 40 and 20. */
enum { CAP = 40, BURST = 100 };

static struct harness *connected(uint64_t seed, unsigned threads)
{
	struct harness *h = h_new(seed);

	if (threads && (h_node_set_crypto(&h->a, threads, CAP) < 0 ||
			h_node_set_crypto(&h->b, threads, CAP) < 0))
		abort();
	CHECK(h_connect(h));
	return h;
}

static void check_clean(const struct h_node *n)
{
	CHECK_EQ_INT(n->rx_bad, 0);
	CHECK_EQ_INT(n->rx_out_of_order, 0);
	CHECK_EQ_INT(h_drops(n, DROP_RX_DECRYPT), 0);
	CHECK_EQ_INT(h_drops(n, DROP_BATCH_FULL), 0);
}

/* Bursts both ways, each arriving as one batch of several chunks. */
static void test_bursts_in_order(void)
{
	for (unsigned threads = 2; threads <= 4; threads += 2) {
		struct harness *h = connected(1, threads);

		for (uint32_t r = 0; r < 5; r++) {
			h_send_burst(&h->a, AF_INET, 100 + r * BURST, BURST, 40 + r * 300);
			h_send_burst(&h->b, AF_INET6, 100 + r * BURST, BURST, 1380 - r * 200);
			h_pump(h);
		}
		CHECK_EQ_INT(h_rx_once(&h->b, 100, 100 + 5 * BURST - 1), 5 * BURST);
		CHECK_EQ_INT(h_rx_once(&h->a, 100, 100 + 5 * BURST - 1), 5 * BURST);
		check_clean(&h->a);
		check_clean(&h->b);
		h_free(h);
	}
}

/* A TUN batch smaller than the queue ends chunks early; nothing undecrypted
 * is ever written. */
static void test_small_tun_batch(void)
{
	struct harness *h = connected(2, 2);

	h_node_set_tun_out_cap(&h->b, 5);
	h_send_burst(&h->a, AF_INET, 100, BURST, 500);
	h_pump(h);
	CHECK_EQ_INT(h_rx_once(&h->b, 100, 100 + BURST - 1), BURST);
	check_clean(&h->b);
	h_free(h);
}

static enum h_verdict duplicate_data(void *ctx, const struct h_datagram *dg)
{
	(void)ctx;
	return dg->data[0] == MESSAGE_DATA ? H_DUPLICATE : H_DELIVER;
}

/* Each message twice in a row, so both copies are in one chunk. */
static void test_replay_in_batch(void)
{
	struct harness *h = connected(3, 2);

	h->filter = duplicate_data;
	h_send_burst(&h->a, AF_INET, 100, BURST, 300);
	h_pump(h);
	CHECK_EQ_INT(h_rx_once(&h->b, 100, 100 + BURST - 1), BURST);
	CHECK_EQ_INT(h_rx_total(&h->b, 100, 100 + BURST - 1), BURST);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), BURST);
	h_free(h);
}

static enum h_verdict hold_data(void *ctx, const struct h_datagram *dg)
{
	(void)ctx;
	return dg->data[0] == MESSAGE_DATA ? H_HOLD : H_DELIVER;
}

/* Hands the held datagrams to `to` as one batch, in the order held. */
static void release_as_batch(struct harness *h, struct h_node *to)
{
	unsigned n = h->held_count;

	h->held_count = 0;
	for (unsigned i = 0; i + 1 < n; i++)
		h_udp_queue(to, h->held[i].data, h->held[i].len, &h->held[i].src);
	if (n)
		h_udp_input(to, h->held[n - 1].data, h->held[n - 1].len, &h->held[n - 1].src);
	h_pump(h);
}

/* A forged message with a far-ahead counter leads the batch: it fails
 * authentication, so it must not move the window past the genuine ones. */
static void test_forgery_leads_batch(void)
{
	struct harness *h = connected(4, 2);
	uint8_t forged[H_SLOT_SIZE];
	uint32_t len;
	uint64_t counter = htole64(1u << 20);

	h->filter = hold_data;
	h_send_burst(&h->a, AF_INET, 100, 40, 200);
	h_pump(h);
	h->filter = NULL;
	CHECK_EQ_INT(h->held_count, 40);
	len = h->held[0].len;
	memcpy(forged, h->held[0].data, len);
	memcpy(forged + 8, &counter, sizeof(counter));
	forged[len - 1] ^= 1;
	h_udp_queue(&h->b, forged, len, &h->a.addr);
	release_as_batch(h, &h->b);
	CHECK_EQ_INT(h_rx_once(&h->b, 100, 139), 40);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_DECRYPT), 1);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 0);
	h_free(h);
}

/* Held messages arrive after later ones (reordered, across batches), then
 * all of them again as one batch (replayed). */
static void test_reorder_and_replay_across_batches(void)
{
	struct harness *h = connected(5, 2);
	struct h_datagram *copy = malloc(sizeof(h->held));
	unsigned n;

	h->filter = hold_data;
	h_send_burst(&h->a, AF_INET, 100, 50, 600);
	h_pump(h);
	h->filter = NULL;
	n = h->held_count;
	memcpy(copy, h->held, sizeof(h->held));
	h_send_burst(&h->a, AF_INET, 150, 50, 600);
	h_pump(h);
	h_release_held(h, true);
	CHECK_EQ_INT(h_rx_once(&h->b, 100, 199), 100);
	memcpy(h->held, copy, sizeof(h->held));
	h->held_count = n;
	release_as_batch(h, &h->b);
	CHECK_EQ_INT(h_rx_total(&h->b, 100, 199), 100);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 50);
	free(copy);
	h_free(h);
}

/* Traffic both ways over several rekeys, some of it held across one. */
static void test_rekey_in_flight(void)
{
	struct harness *h = connected(6, 2);
	uint32_t seq = 100;
	uint64_t before = h->b.dev->stats.sessions_established;

	for (unsigned s = 0; s < 400; s++) {
		if (s % 97 == 0)
			h->filter = hold_data;
		h_send_burst(&h->a, AF_INET, seq, 20, 700);
		h_send_burst(&h->b, AF_INET, seq, 20, 700);
		h_pump(h);
		h->filter = NULL;
		seq += 20;
		h_advance(h, H_SEC);
		if (s % 97 == 3)
			h_release_held(h, true);
	}
	h_pump(h);
	CHECK(h->b.dev->stats.sessions_established >= before + 3);
	/* Held ones sent within REKEY_AFTER_TIME of release all arrive. */
	CHECK_EQ_INT(h_rx_once(&h->b, 100, seq - 1), seq - 100);
	CHECK_EQ_INT(h_rx_once(&h->a, 100, seq - 1), seq - 100);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_DECRYPT), 0);
	h_free(h);
}

/* What a scenario leaves behind, to compare queue against inline. */
struct outcome {
	uint64_t drops_a[DROP_REASON_COUNT], drops_b[DROP_REASON_COUNT];
	uint64_t sessions_a, sessions_b;
	unsigned rx_a, rx_b;
	uint16_t seq_a[1000], seq_b[1000];
};

static enum h_verdict hold_from(void *ctx, const struct h_datagram *dg)
{
	return dg->from == ctx ? H_HOLD : H_DELIVER;
}

/*
 * Rekeys whose handshake messages sit in the middle of data batches:
 *   A gets [data, response, data]: the response makes a new session current
 *   there (the data after it arrive on the previous one), and A's data after
 *   the batch goes out on the new session;
 *   B gets [data, initiation, data]: the initiation makes a next session,
 *   the data after it still arrive on the current one;
 *   then [keepalive, data, initiation, data] where the keepalive confirms
 *   the session all the data use, before the initiation could replace it.
 */
static void mid_batch_scenario(unsigned threads, struct outcome *o)
{
	struct harness *h = connected(7, threads);

	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);
	h->filter = hold_from;
	h->filter_ctx = &h->b;
	h_send_burst(&h->b, AF_INET, 100, 10, 300);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h); /* B's data, then its response: held */
	h_send_burst(&h->b, AF_INET, 110, 10, 300);
	h_pump(h);
	h->filter = NULL;
	CHECK_EQ_INT(h->held_count, 21);
	release_as_batch(h, &h->a);
	h_send_burst(&h->a, AF_INET, 200, 10, 300);
	h_pump(h);

	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);
	h->filter = hold_from;
	h->filter_ctx = &h->a;
	h_send_burst(&h->a, AF_INET, 210, 10, 300);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_send_burst(&h->a, AF_INET, 220, 10, 300);
	h_pump(h);
	h->filter = NULL;
	CHECK_EQ_INT(h->held_count, 21);
	release_as_batch(h, &h->b);
	h_send_burst(&h->a, AF_INET, 230, 10, 300);
	h_pump(h);

	/* B gets [keepalive, data, initiation, data] on a session it has not
	 * seen confirmed: the keepalive confirms it, so the initiation's new
	 * session does not replace it and the data after still arrive. */
	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);
	h->filter = hold_data;
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h); /* initiation and response pass, A's keepalive is held */
	h_send_burst(&h->a, AF_INET, 300, 10, 300);
	h_pump(h);
	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);
	h->filter = hold_from;
	h->filter_ctx = &h->a;
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_send_burst(&h->a, AF_INET, 310, 10, 300);
	h_pump(h);
	h->filter = NULL;
	CHECK_EQ_INT(h->held_count, 22);
	release_as_batch(h, &h->b);

	memcpy(o->drops_a, h->a.dev->stats.drops, sizeof(o->drops_a));
	memcpy(o->drops_b, h->b.dev->stats.drops, sizeof(o->drops_b));
	o->sessions_a = h->a.dev->stats.sessions_established;
	o->sessions_b = h->b.dev->stats.sessions_established;
	o->rx_a = h->a.rx_packets;
	o->rx_b = h->b.rx_packets;
	memcpy(o->seq_a, h->a.rx_seq, sizeof(o->seq_a));
	memcpy(o->seq_b, h->b.rx_seq, sizeof(o->seq_b));
	h_free(h);
}

static unsigned once(const uint16_t *seq, unsigned first, unsigned last)
{
	unsigned n = 0;

	for (unsigned i = first; i <= last; i++)
		n += seq[i] == 1;
	return n;
}

static void test_handshake_mid_batch(void)
{
	static struct outcome inline_run, queued;

	mid_batch_scenario(0, &inline_run);
	mid_batch_scenario(2, &queued);
	CHECK_EQ_INT(inline_run.sessions_a, 5);
	CHECK_EQ_INT(once(inline_run.seq_a, 100, 119), 20);
	CHECK_EQ_INT(once(inline_run.seq_b, 200, 239), 40);
	CHECK_EQ_INT(once(inline_run.seq_b, 300, 319), 20);
	CHECK_MEM(queued.drops_a, inline_run.drops_a, sizeof(queued.drops_a));
	CHECK_MEM(queued.drops_b, inline_run.drops_b, sizeof(queued.drops_b));
	CHECK_EQ_INT(queued.sessions_a, inline_run.sessions_a);
	CHECK_EQ_INT(queued.sessions_b, inline_run.sessions_b);
	CHECK_EQ_INT(queued.rx_a, inline_run.rx_a);
	CHECK_EQ_INT(queued.rx_b, inline_run.rx_b);
	CHECK(memcmp(queued.seq_a, inline_run.seq_a, sizeof(queued.seq_a)) == 0);
	CHECK(memcmp(queued.seq_b, inline_run.seq_b, sizeof(queued.seq_b)) == 0);
}

int main(void)
{
	RUN(test_bursts_in_order);
	RUN(test_small_tun_batch);
	RUN(test_replay_in_batch);
	RUN(test_forgery_leads_batch);
	RUN(test_reorder_and_replay_across_batches);
	RUN(test_rekey_in_flight);
	RUN(test_handshake_mid_batch);
	return test_summary();
}
