/*
 * Paths between two nodes: candidate endpoints (the path that answers wins,
 * hole punching through NATs that filter by address), the relay through a
 * third node C that only forwards (A and B keep their WireGuard session end
 * to end), refusal of forged relay datagrams, the upgrade from relay to a
 * direct path, a member X that relays A's messages as its own (B's engine
 * keeps A on A's own relay path), and the data plane's demultiplexing of
 * mesh datagrams.
 *
 *        A 192.0.2.1 ──── direct (filtered) ──── B 192.0.2.2
 *             \                                   /
 *              └── RELAY ──> C 192.0.2.3 ──> RELAY┘
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mesh/relay.h"
#include "test_dh.h"

enum { ID_A = 101, ID_B = 102, ID_X = 103, ID_STRANGER = 999 };

/* The mesh side of A or B. As a mesh client, it accepts relayed datagrams
 * from every member (its peer and X), and its engine asks it whether the
 * relay path of a message is the peer's own. */
struct node_side {
	uint32_t id, peer_id;
	uint8_t key[RELAY_KEY_LEN]; /* shared with C */
	unsigned refused;
	struct dataplane_mesh mesh;
};

/* C's side: the forwarding step, with the keys and addresses of A and B. */
struct relay_side {
	struct harness *h;
	uint8_t key_a[RELAY_KEY_LEN], key_b[RELAY_KEY_LEN], key_x[RELAY_KEY_LEN];
	unsigned forwarded, refused;
	struct dataplane_mesh mesh;
};

struct world {
	struct harness *h;
	struct h_node c;
	struct node_side a, b;
	struct relay_side relay;
	bool block_direct;
	bool drop_from_a; /* X on A's path: A's datagrams stop there */
};

static const uint8_t *node_key(void *ctx, uint32_t node_id)
{
	struct node_side *s = ctx;
	return node_id == s->peer_id || node_id == ID_X ? s->key : NULL;
}

static bool node_relay_check(void *ctx, const struct wg_peer *peer, uint32_t relay_via)
{
	struct node_side *s = ctx;
	return relay_via == s->peer_id;
}

static enum demux node_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct node_side *s = ctx;

	if (relay_receive(pkt, s->id, node_key, s) == 0)
		return DEMUX_ENGINE;
	s->refused++;
	return DEMUX_CONSUMED;
}

static int node_tx_relay(void *ctx, struct pkt *pkt)
{
	struct node_side *s = ctx;
	return relay_wrap(pkt, s->id, pkt->ep.relay_via, s->key);
}

static const struct dataplane_mesh_ops node_ops = { .rx = node_rx, .tx_relay = node_tx_relay };

static const uint8_t *relay_key(void *ctx, uint32_t node_id)
{
	struct relay_side *r = ctx;

	if (node_id == ID_A)
		return r->key_a;
	if (node_id == ID_X)
		return r->key_x;
	return node_id == ID_B ? r->key_b : NULL;
}

static enum demux relay_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct relay_side *r = ctx;
	uint32_t src, dst;
	struct pkt *out;

	if (relay_forward(pkt, &src, &dst, relay_key, r) < 0) {
		r->refused++;
		return DEMUX_CONSUMED;
	}
	out = pkt_batch_add(udp_out);
	if (!out || pkt->len > pkt_tailroom(out))
		abort();
	memcpy(out->data, pkt->data, pkt->len);
	out->len = pkt->len;
	out->ep = dst == ID_A ? r->h->a.addr : r->h->b.addr;
	r->forwarded++;
	return DEMUX_CONSUMED;
}

static const struct dataplane_mesh_ops relay_ops = { .rx = relay_rx };

static bool is_direct(const struct harness *h, const struct h_datagram *dg)
{
	return (dg->from == &h->a && h_endpoint_equal(&dg->dst, &h->b.addr)) ||
	       (dg->from == &h->b && h_endpoint_equal(&dg->dst, &h->a.addr));
}

static enum h_verdict direct_filter(void *ctx, const struct h_datagram *dg)
{
	struct world *w = ctx;

	if (w->drop_from_a && dg->from == &w->h->a)
		return H_DROP;
	return w->block_direct && is_direct(w->h, dg) ? H_DROP : H_DELIVER;
}

static struct wg_endpoint via_relay(const struct world *w, uint32_t peer_id)
{
	struct wg_endpoint ep = w->c.addr;

	ep.relay_via = peer_id;
	return ep;
}

static void side_init(struct node_side *s, uint32_t id, uint32_t peer_id, const struct h_node *n,
		      const struct h_node *c)
{
	s->id = id;
	s->peer_id = peer_id;
	s->mesh = (struct dataplane_mesh){ .ops = &node_ops, .ctx = s };
	if (relay_key_derive(s->key, DH_OF(n->private_key), c->public_key) < 0)
		abort();
}

/* A and B reach each other only through C: direct datagrams are dropped and
 * each peer's endpoint is the relay. */
static struct world *world_new(uint64_t seed)
{
	struct world *w = calloc(1, sizeof(*w));
	struct wg_endpoint to_a, to_b;

	if (!w)
		abort();
	w->h = h_new(seed);
	if (h_node_init(w->h, &w->c, "C", 3, seed) < 0)
		abort();
	side_init(&w->a, ID_A, ID_B, &w->h->a, &w->c);
	side_init(&w->b, ID_B, ID_A, &w->h->b, &w->c);
	w->relay.h = w->h;
	w->relay.mesh = (struct dataplane_mesh){ .ops = &relay_ops, .ctx = &w->relay };
	if (relay_key_derive(w->relay.key_a, DH_OF(w->c.private_key), w->h->a.public_key) < 0 ||
	    relay_key_derive(w->relay.key_b, DH_OF(w->c.private_key), w->h->b.public_key) < 0)
		abort();
	memset(w->relay.key_x, 0x58, RELAY_KEY_LEN);
	w->h->a.mesh = &w->a.mesh;
	w->h->b.mesh = &w->b.mesh;
	wg_device_set_relay_check(w->h->a.dev, node_relay_check, &w->a);
	wg_device_set_relay_check(w->h->b.dev, node_relay_check, &w->b);
	w->c.mesh = &w->relay.mesh;
	w->h->relay = &w->c;
	w->h->filter = direct_filter;
	w->h->filter_ctx = w;
	w->block_direct = true;
	to_b = via_relay(w, ID_B);
	to_a = via_relay(w, ID_A);
	wg_peer_set_endpoint(w->h->a.peer, &to_b);
	wg_peer_set_endpoint(w->h->b.peer, &to_a);
	return w;
}

static void world_free(struct world *w)
{
	h_node_free(&w->c);
	h_free(w->h);
	free(w);
}

static bool contains(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
	return memmem(hay, len, needle, n) != NULL;
}

static void test_relay_keys_agree(void)
{
	struct world *w = world_new(60);

	CHECK_MEM(w->a.key, w->relay.key_a, RELAY_KEY_LEN);
	CHECK_MEM(w->b.key, w->relay.key_b, RELAY_KEY_LEN);
	CHECK(memcmp(w->a.key, w->b.key, RELAY_KEY_LEN) != 0);
	world_free(w);
}

static void test_relay_carries_session(void)
{
	struct world *w = world_new(61);
	struct harness *h = w->h;
	const uint8_t inner[8] = { 10, 0, 0, 1, 10, 0, 0, 2 }; /* IPv4 source, destination */
	unsigned leaks = 0;

	h->capture_types = 1u; /* type 0 in the harness: anything not WireGuard */
	CHECK(h_connect(h));
	for (uint32_t seq = 1; seq <= 20; seq++) {
		h_send(&h->a, AF_INET, seq, 200);
		h_send(&h->b, AF_INET6, 100 + seq, 300);
	}
	h_pump(h);
	CHECK_EQ_INT(h_rx_once(&h->b, 1, 20), 20);
	CHECK_EQ_INT(h_rx_once(&h->a, 101, 120), 20);
	CHECK(w->relay.forwarded >= 44); /* handshake, keepalive, 2 + 40 data */
	CHECK_EQ_INT(w->relay.refused + w->a.refused + w->b.refused, 0);

	/* Both endpoints stay on the relay, and name the peer's node id. */
	CHECK(wg_endpoint_is_relay(&h->a.peer->endpoint));
	CHECK_EQ_INT(h->a.peer->endpoint.relay_via, ID_B);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &w->c.addr));
	CHECK_EQ_INT(h->b.peer->endpoint.relay_via, ID_A);
	CHECK(h_endpoint_equal(&h->b.peer->endpoint, &w->c.addr));

	/* C's engine saw nothing; what passed through C was ciphertext. */
	CHECK_EQ_INT(w->c.rx_packets, 0);
	CHECK_EQ_INT(w->c.dev->stats.handshake_initiations_rx, 0);
	CHECK_EQ_INT(w->c.dev->stats.drops[DROP_RX_MALFORMED], 0);
	CHECK(h->captured_count > 20);
	for (unsigned i = 0; i < h->captured_count; i++)
		leaks += contains(h->captured[i].data, h->captured[i].len, inner, sizeof(inner));
	CHECK_EQ_INT(leaks, 0);
	world_free(w);
}

/* Injects a copy of a relay datagram into a node as if it came from src. */
static void inject(struct h_node *to, const struct h_datagram *dg, const struct wg_endpoint *src)
{
	h_udp_input(to, dg->data, dg->len, src);
	h_pump(to->h);
}

static void test_relay_refuses_forgeries(void)
{
	struct world *w = world_new(62);
	struct harness *h = w->h;
	struct h_datagram dg;
	unsigned forwarded, b_rx;
	uint8_t slot[H_SLOT_SIZE];
	struct pkt pkt = { .buf = slot, .cap = sizeof(slot) };

	CHECK(h_connect(h));
	h->capture_types = 1u;
	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	CHECK(h->captured_count >= 2); /* A -> C, then C -> B */
	dg = h->captured[0];
	CHECK(dg.from == &h->a);
	forwarded = w->relay.forwarded;
	b_rx = h->b.rx_packets;

	/* A tampered MAC or payload: C refuses, forwards nothing. */
	dg.data[RELAY_MAC_OFFSET] ^= 1;
	inject(&w->c, &dg, &h->a.addr);
	dg.data[RELAY_MAC_OFFSET] ^= 1;
	dg.data[dg.len - 1] ^= 1;
	inject(&w->c, &dg, &h->a.addr);
	dg.data[dg.len - 1] ^= 1;
	CHECK_EQ_INT(w->relay.refused, 2);
	CHECK_EQ_INT(w->relay.forwarded, forwarded);

	/* A's datagram for C, sent straight to B: the MAC is under A's key,
	 * so B refuses it (only C's forwarding makes it B's). */
	inject(&h->b, &dg, &w->c.addr);
	CHECK_EQ_INT(w->b.refused, 1);

	/* An unknown source id, authenticated with B's own key: refused by B;
	 * and by C, which has no key for it. */
	pkt_reset(&pkt);
	pkt.len = (uint32_t)(dg.len - MESH_RELAY_HEADER);
	memcpy(pkt.data, dg.data + MESH_RELAY_HEADER, pkt.len);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_STRANGER, ID_B, w->b.key), 0);
	h_udp_input(&h->b, pkt.data, pkt.len, &w->c.addr);
	h_udp_input(&w->c, pkt.data, pkt.len, &h->a.addr);
	h_pump(h);
	CHECK_EQ_INT(w->b.refused, 2);
	CHECK_EQ_INT(w->relay.refused, 3);

	/* Nothing reached B's engine: no new packets, no drops counted. */
	CHECK_EQ_INT(h->b.rx_packets, b_rx);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_MALFORMED), 0);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 0);

	/* The genuine one, replayed through C: forwarded, and then stopped by
	 * B's WireGuard replay window. */
	inject(&w->c, &dg, &h->a.addr);
	CHECK_EQ_INT(w->relay.forwarded, forwarded + 1);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_REPLAY), 1);
	CHECK_EQ_INT(h->b.rx_packets, b_rx);
	world_free(w);
}

/* The last datagram A put on the wire, its relay header stripped. */
static void last_from_a(const struct harness *h, struct pkt *pkt)
{
	const struct h_datagram *dg = NULL;

	for (unsigned i = 0; i < h->captured_count; i++)
		if (h->captured[i].from == &h->a)
			dg = &h->captured[i];
	if (!dg || dg->len <= MESH_RELAY_HEADER)
		abort();
	pkt_reset(pkt);
	pkt->len = dg->len - MESH_RELAY_HEADER;
	memcpy(pkt->data, dg->data + MESH_RELAY_HEADER, pkt->len);
}

/* X relays a message of A's to B as its own: C forwards it (X is a member),
 * the message authenticates as A's, and B drops it instead of moving A's
 * endpoint to X's relay path. */
static void x_relays_as_own(struct world *w, struct pkt *pkt)
{
	struct wg_endpoint x_addr = h_endpoint4(192, 0, 2, 4, 51820);
	unsigned forwarded = w->relay.forwarded;

	CHECK_EQ_INT(relay_wrap(pkt, ID_X, ID_B, w->relay.key_x), 0);
	h_udp_input(&w->c, pkt->data, pkt->len, &x_addr);
	h_pump(w->h);
	CHECK_EQ_INT(w->relay.forwarded, forwarded + 1);
	CHECK_EQ_INT(w->b.refused, 0);
}

static void test_relay_path_is_the_peers_own(void)
{
	struct world *w = world_new(64);
	struct harness *h = w->h;
	uint8_t slot[H_SLOT_SIZE];
	struct pkt pkt = { .buf = slot, .cap = sizeof(slot) };
	uint64_t responses;
	unsigned b_rx;

	CHECK(h_connect(h));
	h->capture_types = 1u;
	w->drop_from_a = true;

	/* A data packet. */
	h_send(&h->a, AF_INET, 1, 100);
	h_pump(h);
	b_rx = h->b.rx_packets;
	last_from_a(h, &pkt);
	x_relays_as_own(w, &pkt);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_RELAY_PATH), 1);
	CHECK_EQ_INT(h->b.peer->endpoint.relay_via, ID_A);
	CHECK_EQ_INT(h->b.rx_packets, b_rx);

	/* The genuine copy through A's own path still counts: the refused one
	 * moved no replay window. */
	last_from_a(h, &pkt);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, w->a.key), 0);
	h_udp_input(&w->c, pkt.data, pkt.len, &h->a.addr);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_packets, b_rx + 1);
	CHECK_EQ_INT(h_rx_once(&h->b, 1, 1), 1);

	/* An initiation: B answers nothing, and A's endpoint stays. */
	h_advance(h, 6 * H_SEC);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	responses = h->b.dev->stats.handshake_responses_tx;
	last_from_a(h, &pkt);
	CHECK_EQ_INT(le32toh(*(const uint32_t *)pkt.data), MESSAGE_HANDSHAKE_INITIATION);
	x_relays_as_own(w, &pkt);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_RELAY_PATH), 2);
	CHECK_EQ_INT(h->b.dev->stats.handshake_responses_tx, responses);
	CHECK_EQ_INT(h->b.peer->endpoint.relay_via, ID_A);

	/* A's own path works on: the session stands. */
	w->drop_from_a = false;
	h_send(&h->a, AF_INET, 2, 100);
	h_pump(h);
	CHECK_EQ_INT(h_rx_once(&h->b, 2, 2), 1);
	world_free(w);
}

/* The direct path opens; a handshake that also tries the candidates moves
 * both sides to it. */
static void test_relay_upgrades_to_direct(void)
{
	struct world *w = world_new(63);
	struct harness *h = w->h;
	unsigned forwarded;

	CHECK(h_connect(h));
	CHECK(wg_endpoint_is_relay(&h->a.peer->endpoint));
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, &h->b.addr, 1), 0);
	CHECK_EQ_INT(wg_peer_set_candidates(h->b.peer, &h->a.addr, 1), 0);

	/* While the direct path is closed, candidates change nothing. */
	h_advance(h, 6 * H_SEC);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 2);
	CHECK(wg_endpoint_is_relay(&h->a.peer->endpoint));
	CHECK(wg_endpoint_is_relay(&h->b.peer->endpoint));

	w->block_direct = false;
	h_advance(h, 6 * H_SEC);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 3);
	CHECK(!wg_endpoint_is_relay(&h->a.peer->endpoint));
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &h->b.addr));
	CHECK(!wg_endpoint_is_relay(&h->b.peer->endpoint));
	CHECK(h_endpoint_equal(&h->b.peer->endpoint, &h->a.addr));

	/* Traffic now bypasses C; the initiation's relayed copy arrived late
	 * and was refused as a replay, without moving B back. */
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_HANDSHAKE_REPLAY), 1);
	forwarded = w->relay.forwarded;
	for (uint32_t seq = 1; seq <= 10; seq++) {
		h_send(&h->a, AF_INET, seq, 120);
		h_send(&h->b, AF_INET, seq, 120);
	}
	h_pump(h);
	CHECK_EQ_INT(h_rx_once(&h->b, 1, 10), 10);
	CHECK_EQ_INT(h_rx_once(&h->a, 1, 10), 10);
	CHECK_EQ_INT(w->relay.forwarded, forwarded);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &h->b.addr));
	world_free(w);
}

static void test_candidates_working_one_wins(void)
{
	struct harness *h = h_new(64);
	struct wg_endpoint none;
	struct wg_endpoint cands[2] = { h_endpoint4(198, 51, 100, 9, 51820), h->b.addr };

	memset(&none, 0, sizeof(none));
	wg_peer_set_endpoint(h->a.peer, &none);
	wg_peer_set_endpoint(h->b.peer, &none);
	CHECK(!h->a.peer->has_endpoint);
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, cands, 2), 0);

	CHECK(h_connect(h));
	CHECK_EQ_INT(h->b.rx_seq[0], 1);
	CHECK_EQ_INT(h->a.rx_seq[0], 1);
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &h->b.addr));
	CHECK(h_endpoint_equal(&h->b.peer->endpoint, &h->a.addr));
	/* One initiation, in two identical copies; one went nowhere. */
	CHECK_EQ_INT(h->a.dev->stats.handshake_initiations_tx, 1);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 2);
	CHECK_EQ_INT(h->a.stray, 1);
	CHECK_EQ_INT(h_drops(&h->a, DROP_TX_NO_ENDPOINT), 0);

	/* From now on a copy goes only to the candidate that is not the
	 * endpoint. */
	h_advance(h, 6 * H_SEC);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 4);
	CHECK_EQ_INT(h->a.stray, 2);
	CHECK_EQ_INT(h->a.dev->stats.sessions_established, 2);
	h_free(h);
}

static void test_candidates_validation(void)
{
	struct harness *h = h_new(65);
	struct wg_endpoint many[WG_MAX_CANDIDATES + 1];
	struct wg_endpoint bad[2];

	for (unsigned i = 0; i <= WG_MAX_CANDIDATES; i++)
		many[i] = h_endpoint4(198, 51, 100, (uint8_t)(i + 1), 51820);
	memset(bad, 0, sizeof(bad));
	bad[0] = h->b.addr; /* bad[1] has no address family */
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, many, WG_MAX_CANDIDATES + 1), -EINVAL);
	CHECK_EQ_INT(h->a.peer->candidate_count, 0);
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, many, WG_MAX_CANDIDATES), 0);
	CHECK_EQ_INT(h->a.peer->candidate_count, WG_MAX_CANDIDATES);
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, bad, 2), -EINVAL);
	CHECK_EQ_INT(h->a.peer->candidate_count, WG_MAX_CANDIDATES);

	/* Duplicates count once, and the endpoint gets no second copy. */
	many[1] = many[0] = h->b.addr;
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, many, 2), 0);
	CHECK_EQ_INT(h->a.peer->candidate_count, 1);
	CHECK(h_connect(h));
	CHECK_EQ_INT(h->a.sent[MESSAGE_HANDSHAKE_INITIATION], 1);
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, NULL, 0), 0);
	CHECK_EQ_INT(h->a.peer->candidate_count, 0);

	/* A relay endpoint and a direct one at the same address differ. */
	many[0] = h->b.addr;
	many[1] = h->b.addr;
	many[1].relay_via = ID_B;
	CHECK(!wg_endpoint_same_path(&many[0], &many[1]));
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, many, 2), 0);
	CHECK_EQ_INT(h->a.peer->candidate_count, 2);
	h_free(h);
}

/*
 * Two NATs with endpoint-independent mappings and address-dependent
 * filtering: a node receives from an address only after sending to it. The
 * public addresses are the nodes' addresses; neither knows an endpoint, each
 * has the other's public address as a candidate, and both start a handshake.
 */
struct nat_state {
	struct harness *h;
	bool sent[2][2]; /* [from][to], 0 = A, 1 = B */
	unsigned filtered;
};

static enum h_verdict nat_filter(void *ctx, const struct h_datagram *dg)
{
	struct nat_state *nat = ctx;
	int from = dg->from == &nat->h->b;

	nat->sent[from][!from] = true;
	if (nat->sent[!from][from])
		return H_DELIVER;
	nat->filtered++;
	return H_DROP;
}

static void test_hole_punching(void)
{
	struct harness *h = h_new(66);
	struct nat_state nat = { .h = h };
	struct wg_endpoint none;

	memset(&none, 0, sizeof(none));
	wg_peer_set_endpoint(h->a.peer, &none);
	wg_peer_set_endpoint(h->b.peer, &none);
	CHECK_EQ_INT(wg_peer_set_candidates(h->a.peer, &h->b.addr, 1), 0);
	CHECK_EQ_INT(wg_peer_set_candidates(h->b.peer, &h->a.addr, 1), 0);
	h->filter = nat_filter;
	h->filter_ctx = &nat;

	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	wg_peer_send_handshake(h->b.peer, h->b.udp_out);
	h_pump(h);
	CHECK_EQ_INT(nat.filtered, 1); /* A's first initiation, before B's went out */
	CHECK(wg_peer_has_session(h->a.peer) && wg_peer_has_session(h->b.peer));
	CHECK(h_endpoint_equal(&h->a.peer->endpoint, &h->b.addr));
	CHECK(h_endpoint_equal(&h->b.peer->endpoint, &h->a.addr));
	h_send(&h->a, AF_INET, 1, 100);
	h_send(&h->b, AF_INET, 2, 100);
	h_pump(h);
	CHECK_EQ_INT(h->b.rx_seq[1], 1);
	CHECK_EQ_INT(h->a.rx_seq[2], 1);
	h_free(h);
}

/* The data plane's demultiplexing, on a batch directly. */
struct demux_log {
	unsigned calls;
	uint32_t wrap_id;
};

static enum demux demux_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct demux_log *log = ctx;

	log->calls++;
	if (pkt->data[0] != 0x83) /* pretend: a join message we handle */
		return DEMUX_CONSUMED;
	pkt->data += 4; /* pretend: unwrapped in place */
	pkt->len -= 4;
	pkt->ep.relay_via = 42;
	return DEMUX_ENGINE;
}

static int demux_tx(void *ctx, struct pkt *pkt)
{
	struct demux_log *log = ctx;

	log->calls++;
	if (pkt->ep.relay_via == 13)
		return -EHOSTUNREACH;
	log->wrap_id = pkt->ep.relay_via;
	pkt->data -= 4;
	pkt->len += 4;
	return 0;
}

static void put_packet(struct pkt_batch *b, uint32_t type, uint32_t len, uint8_t tag)
{
	struct pkt *p = pkt_batch_add(b);
	uint32_t le = htole32(type);

	memcpy(p->data, &le, 4);
	memset(p->data + 4, tag, 12);
	p->len = len;
	memset(&p->ep, 0, sizeof(p->ep));
}

static void test_demux(void)
{
	static const struct dataplane_mesh_ops ops = { .rx = demux_rx, .tx_relay = demux_tx };
	struct pkt_batch *in = pkt_batch_new(8, 64), *out = pkt_batch_new(8, 64);
	struct demux_log log = { 0 };
	struct dataplane_mesh mesh = { .ops = &ops, .ctx = &log };
	struct dataplane_mesh none = { 0 };
	uint8_t *bufs[8];

	put_packet(in, MESSAGE_DATA, 32, 1);
	put_packet(in, 0x82, 32, 2); /* consumed */
	put_packet(in, MESSAGE_HANDSHAKE_INITIATION, 148, 3);
	put_packet(in, 0x83, 32, 4);  /* for the engine, unwrapped */
	put_packet(in, 0x82, 2, 5);   /* a runt: not the mesh's */
	put_packet(in, 0x100, 16, 6); /* a mesh type by its second byte: consumed */
	put_packet(in, MESSAGE_DATA, 32, 7);
	for (unsigned i = 0; i < 7; i++)
		bufs[i] = in->pkts[i].buf;

	dataplane_mesh_rx(&none, in, out); /* no hooks: nothing changes */
	CHECK_EQ_INT(in->count, 7);
	dataplane_mesh_rx(&mesh, in, out);
	CHECK_EQ_INT(log.calls, 3);
	if (CHECK_EQ_INT(in->count, 5)) {
		static const uint8_t order[5] = { 1, 3, 4, 5, 7 };
		for (unsigned i = 0; i < 5; i++) {
			const struct pkt *p = &in->pkts[i];
			CHECK_EQ_INT(p->ep.relay_via == 42 ? p->data[0] : p->data[4], order[i]);
		}
		CHECK_EQ_INT(in->pkts[2].ep.relay_via, 42);
		CHECK_EQ_INT(in->pkts[2].len, 28);
		CHECK(in->pkts[1].buf == bufs[2]); /* slots moved, not bytes */
	}
	/* The slots are still the batch's own, each once. */
	for (unsigned i = 0; i < 7; i++) {
		unsigned seen = 0;
		for (unsigned j = 0; j < 8; j++)
			seen += in->pkts[j].buf == bufs[i];
		CHECK_EQ_INT(seen, 1);
	}

	/* Sending: relay packets are wrapped, refused ones dropped; without
	 * hooks every relay packet is dropped. */
	log.calls = 0;
	put_packet(out, MESSAGE_DATA, 32, 1);
	put_packet(out, MESSAGE_DATA, 32, 2);
	out->pkts[1].ep.relay_via = 7;
	put_packet(out, MESSAGE_DATA, 32, 3);
	out->pkts[2].ep.relay_via = 13;
	put_packet(out, MESSAGE_DATA, 32, 4);
	dataplane_mesh_tx(&mesh, out);
	CHECK_EQ_INT(log.calls, 2);
	CHECK_EQ_INT(log.wrap_id, 7);
	CHECK_EQ_INT(out->count, 3);
	CHECK_EQ_INT(out->pkts[1].len, 36);
	CHECK_EQ_INT(out->pkts[2].data[4], 4);
	CHECK_EQ_INT(mesh.tx_relay_dropped, 1);
	dataplane_mesh_tx(&none, out);
	CHECK_EQ_INT(out->count, 2);
	CHECK_EQ_INT(none.tx_relay_dropped, 1);
	CHECK_EQ_INT(out->pkts[1].data[4], 4);
	pkt_batch_free(in);
	pkt_batch_free(out);
}

/* Without hooks, a relay datagram reaches the engine, which drops it. */
static void test_no_hooks(void)
{
	struct harness *h = h_new(67);
	uint8_t junk[MESH_RELAY_HEADER + 32] = { MESH_RELAY };

	h_udp_input(&h->b, junk, sizeof(junk), &h->a.addr);
	CHECK_EQ_INT(h_drops(&h->b, DROP_RX_MALFORMED), 1);
	h_free(h);
}

int main(void)
{
	RUN(test_relay_keys_agree);
	RUN(test_relay_carries_session);
	RUN(test_relay_refuses_forgeries);
	RUN(test_relay_upgrades_to_direct);
	RUN(test_relay_path_is_the_peers_own);
	RUN(test_candidates_working_one_wins);
	RUN(test_candidates_validation);
	RUN(test_hole_punching);
	RUN(test_demux);
	RUN(test_no_hooks);
	return test_summary();
}
