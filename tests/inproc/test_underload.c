/*
 * Cookies under load: B is flooded with handshake initiations from a third
 * identity C (unknown to B) sent from many spoofed addresses. Past its
 * threshold B answers every initiation without a valid mac2 with a cookie
 * reply and does no public-key work; A, the legitimate peer, consumes its
 * cookie, and its next initiation carries mac2 and completes the handshake
 * while the flood goes on.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct flood {
	struct harness *h;
	struct h_node *c;
	unsigned sent;
};

/* C makes a fresh initiation to B; it reaches B from a spoofed address. */
static void flood_once(struct flood *f, unsigned copies)
{
	struct h_node *c = f->c;

	wg_peer_reset_sessions(c->peer); /* lifts the one-per-REKEY_TIMEOUT limit */
	wg_peer_send_handshake(c->peer, c->udp_out);
	for (unsigned i = 0; i < c->udp_out->count; i++) {
		const struct pkt *p = &c->udp_out->pkts[i];
		for (unsigned k = 0; k < copies; k++, f->sent++) {
			struct wg_endpoint src =
			    h_endpoint4(198, 51, 100, (uint8_t)(f->sent % 250 + 1),
					(uint16_t)(1024 + f->sent % 60000));
			h_udp_input(&f->h->b, p->data, p->len, &src);
		}
	}
	c->udp_out->count = 0;
}

/* Runs the flood for `ns`, `per_tick` initiations every 10 ms, with the
 * harness timers and pump going. */
static void flood_for(struct flood *f, uint64_t ns, unsigned per_tick)
{
	uint64_t end = f->h->now + ns;

	while (f->h->now < end) {
		flood_once(f, per_tick);
		h_pump(f->h);
		h_advance(f->h, 10 * H_MSEC);
	}
}

static bool has_mac2(const struct h_datagram *dg)
{
	return !sodium_is_zero(dg->data + message_macs_offset(struct message_handshake_initiation) +
				   COOKIE_LEN,
			       COOKIE_LEN);
}

static void test_cookie_under_load(void)
{
	struct harness *h = h_new(20);
	struct h_node *c = calloc(1, sizeof(*c));
	struct flood f = { .h = h, .c = c };
	uint64_t cookies_before;

	CHECK(h_node_init(h, c, "C", 3, 20) == 0);
	CHECK(wg_device_add_peer(c->dev, h->b.public_key, &c->peer) == 0);
	wg_peer_set_endpoint(c->peer, &h->b.addr);
	h->b.dev->under_load_threshold = 4;

	/* Below the threshold: B does the work and finds no such peer. */
	flood_once(&f, 1);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_UNKNOWN_PEER), 1);
	CHECK_EQ_INT(h->b.udp_out->count, 0);

	/* Flood: B answers with cookie replies, every one to a spoofed source. */
	flood_for(&f, 2 * H_SEC, 3);
	CHECK(h->b.sent[MESSAGE_HANDSHAKE_COOKIE] > 500);
	CHECK_EQ_INT(h->b.stray, h->b.sent[MESSAGE_HANDSHAKE_COOKIE]);
	CHECK_EQ_INT(h->b.dev->stats.cookie_replies_tx, h->b.sent[MESSAGE_HANDSHAKE_COOKIE]);
	CHECK(h_drops(&h->b, DROP_RX_UNKNOWN_PEER) < 10); /* no DH work past the threshold */
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_RESPONSE], 0);

	/* A wants to talk, in the middle of the flood. */
	h->capture_types = 1u << MESSAGE_HANDSHAKE_INITIATION | 1u << MESSAGE_HANDSHAKE_COOKIE;
	cookies_before = h->b.sent[MESSAGE_HANDSHAKE_COOKIE];
	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_COOKIE], cookies_before + 1);
	CHECK_EQ_INT(h->a.dev->stats.cookie_replies_rx, 1);
	CHECK(h->a.peer->cookie.is_valid);
	CHECK(!wg_peer_has_session(h->a.peer));
	if (CHECK(h->captured_count >= 2)) {
		CHECK_EQ_INT(h->captured[0].data[0], MESSAGE_HANDSHAKE_INITIATION);
		CHECK(!has_mac2(&h->captured[0]));
		CHECK_EQ_INT(h->captured[1].data[0], MESSAGE_HANDSHAKE_COOKIE);
		CHECK_EQ_INT(h->captured[1].len, 64);
	}

	/* The retransmission after REKEY_TIMEOUT carries mac2 and gets through. */
	h->captured_count = 0;
	h->capture_types = 1u << MESSAGE_HANDSHAKE_INITIATION;
	flood_for(&f, (REKEY_TIMEOUT + 1) * H_SEC, 3);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK(wg_peer_has_session(h->b.peer));
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	if (CHECK_EQ_INT(h->captured_count, 1))
		CHECK(has_mac2(&h->captured[0]));
	CHECK_EQ_INT(h->a.dev->stats.cookie_replies_rx, 1);
	CHECK_EQ_INT(h->b.dev->stats.handshake_initiations_rx, 1);

	/* Data flows during the flood. */
	for (uint32_t s = 10; s < 20; s++) {
		h_send(&h->a, AF_INET, s, 200);
		h_send(&h->b, AF_INET6, s, 200);
		flood_for(&f, 100 * H_MSEC, 3);
	}
	CHECK_EQ_INT(h_rx_once(&h->b, 10, 19), 10);
	CHECK_EQ_INT(h_rx_once(&h->a, 10, 19), 10);

	/* The flood stops; a second after it B is no longer under load. */
	h_advance(h, 2 * H_SEC);
	cookies_before = h->b.sent[MESSAGE_HANDSHAKE_COOKIE];
	uint64_t unknown_before = h_drops(&h->b, DROP_RX_UNKNOWN_PEER);
	flood_once(&f, 1);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_COOKIE], cookies_before);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_UNKNOWN_PEER), unknown_before + 1);

	h_node_free(c);
	free(c);
	h_free(h);
}

/* B is under load for every handshake message: A's first initiation gets a
 * cookie reply, the same reply a second time is refused (one reply per
 * message sent), and the retransmission with mac2 completes. */
static void test_cookie_reply_rules(void)
{
	struct harness *h = h_new(21);

	h->capture_types = 1u << MESSAGE_HANDSHAKE_COOKIE;
	h->b.dev->under_load_threshold = 0; /* every handshake message is "load" */
	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_COOKIE], 1);
	CHECK_EQ_INT(h->a.dev->stats.cookie_replies_rx, 1);
	if (CHECK_EQ_INT(h->captured_count, 1)) {
		/* The same reply again: one reply per message sent. */
		h_udp_input(&h->a, h->captured[0].data, h->captured[0].len, &h->b.addr);
		CHECK_EQ_INT(h->a.dev->stats.cookie_replies_rx, 1);
		CHECK_EQ_INT(h_drops(&h->a, DROP_RX_HANDSHAKE_INVALID), 1);
	}
	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	h_free(h);
}

/* Handshake messages whose MAC1 is wrong (not for us, or forged without our
 * public key) are dropped before they count as load: far past the threshold
 * they leave B answering A's first initiation with a response, not a cookie
 * reply. */
static void test_junk_is_not_load(void)
{
	struct harness *h = h_new(22);
	uint8_t junk[sizeof(struct message_handshake_initiation)];
	struct test_rng rng = { .state = 22 };

	h->b.dev->under_load_threshold = 4;
	for (unsigned i = 0; i < 500; i++) {
		struct wg_endpoint src =
		    h_endpoint4(198, 51, 100, (uint8_t)(i % 250 + 1), (uint16_t)(1024 + i));
		test_rng_bytes(&rng, junk, sizeof(junk));
		junk[0] = MESSAGE_HANDSHAKE_INITIATION;
		junk[1] = junk[2] = junk[3] = 0;
		h_udp_input(&h->b, junk, sizeof(junk), &src);
		if (i % 100 == 99)
			h_advance(h, 100 * H_MSEC);
	}
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_BAD_MAC), 500);
	CHECK_EQ_INT(h->b.udp_out->count, 0);

	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.sent[MESSAGE_HANDSHAKE_COOKIE], 0);
	CHECK_EQ_INT(h->a.dev->stats.cookie_replies_rx, 0);
	CHECK_EQ_INT(h->b.dev->stats.handshake_initiations_rx, 1);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	CHECK(wg_peer_has_session(h->a.peer));
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	h_free(h);
}

int main(void)
{
	RUN(test_cookie_under_load);
	RUN(test_cookie_reply_rules);
	RUN(test_junk_is_not_load);
	return test_summary();
}
