/*
 * Roaming: a peer's endpoint follows the source address of its latest
 * authenticated packet, and only of an authenticated one.
 */
#include <string.h>

#include "harness.h"

static void test_roam_with_data(void)
{
	struct harness *h = h_new(30);
	struct wg_endpoint old_b = h->b.addr;
	struct wg_endpoint new_b = h_endpoint4(203, 0, 113, 7, 4444);

	CHECK(h_connect(h));
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &old_b));

	h->b.addr = new_b;
	h_send(&h->b, AF_INET, 10, 100);
	h_pump(h);
	CHECK_EQ_INT(h->a.rx_seq[10], 1);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &new_b));

	/* A answers to where B is now. */
	h->capture_types = 1u << MESSAGE_DATA;
	h_send(&h->a, AF_INET6, 11, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[11], 1);
	if (CHECK_EQ_INT(h->captured_count, 1))
		CHECK(h_endpoint_equal(&h->captured[0].dst, &new_b));
	CHECK_EQ_INT(h->a.stray, 0);

	/* Keepalives count too: B moves back and only sends a keepalive. */
	h->b.addr = old_b;
	wg_peer_set_persistent_keepalive(h->b.peer, 25, h->b.udp_out);
	h_pump(h);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &old_b));
	h_free(h);
}

static void test_roam_with_handshake(void)
{
	struct harness *h = h_new(31);
	struct wg_endpoint new_a = h_endpoint4(203, 0, 113, 9, 999);

	CHECK(h_connect(h));
	h_advance(h, 10 * H_SEC);
	h->a.addr = new_a;
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK(h_endpoint_equal(&h->b.peer->endpoint, &new_a));
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 2);
	h_send(&h->b, AF_INET, 12, 100);
	h_pump(h);
	CHECK_EQ_INT(h->a.rx_seq[12], 1);
	CHECK_EQ_INT(h->b.stray, 0);
	h_free(h);
}

/* Nothing unauthenticated moves the endpoint: tampered data, replayed data,
 * a replayed handshake, garbage. */
static void test_no_roam_without_authentication(void)
{
	struct harness *h = h_new(32);
	struct wg_endpoint b = h->b.addr;
	struct wg_endpoint evil = h_endpoint4(198, 51, 100, 66, 6666);
	struct h_datagram data, init;

	h->capture_types = 1u << MESSAGE_DATA | 1u << MESSAGE_HANDSHAKE_INITIATION;
	h_send(&h->b, AF_INET, 1, 100); /* B initiates this time */
	h_pump(h);
	h_send(&h->a, AF_INET, 2, 100);
	h_pump(h);
	CHECK_EQ_INT(h->a.rx_seq[1], 1);
	CHECK(h->captured_count >= 2);
	init = h->captured[0];
	CHECK_EQ_INT(init.data[0], MESSAGE_HANDSHAKE_INITIATION);
	data = h->captured[1];
	CHECK(data.from == &h->b && data.data[0] == MESSAGE_DATA);

	data.data[40] ^= 1;
	h_udp_input(&h->a, data.data, data.len, &evil);
	CHECK_EQ_INT(h_drops(&h->a, DROP_RX_DECRYPT), 1);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &b));

	data.data[40] ^= 1;
	h_udp_input(&h->a, data.data, data.len, &evil);
	CHECK_EQ_INT(h_drops(&h->a, DROP_RX_REPLAY), 1);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &b));

	h_udp_input(&h->a, init.data, init.len, &evil);
	CHECK_EQ_INT(h_drops(&h->a, DROP_RX_HANDSHAKE_REPLAY), 1);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &b));

	uint8_t junk[148] = { MESSAGE_HANDSHAKE_INITIATION };
	h_udp_input(&h->a, junk, sizeof(junk), &evil);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &b));
	CHECK_EQ_INT(h->a.udp_out->count, 0);
	CHECK_EQ_INT(h->a.rx_packets, 1);
	h_free(h);
}

int main(void)
{
	RUN(test_roam_with_data);
	RUN(test_roam_with_handshake);
	RUN(test_no_roam_without_authentication);
	return test_summary();
}
