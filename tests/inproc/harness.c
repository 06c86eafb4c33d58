/* The in-process harness; see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "wg/crypto.h"

static uint64_t env_now(void *ctx)
{
	const struct h_node *n = ctx;
	return n->h->now;
}

static void env_wall(void *ctx, struct timespec *ts)
{
	const struct h_node *n = ctx;
	ts->tv_sec = (time_t)(n->h->wall_base + n->h->now / H_SEC);
	ts->tv_nsec = (long)(n->h->now % H_SEC);
}

static void env_random(void *ctx, void *buf, size_t len)
{
	struct h_node *n = ctx;
	n->random_calls++;
	test_rng_bytes(&n->rng, buf, len);
}

struct wg_endpoint h_endpoint4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct wg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(port);
	ep.addr.in4.sin_addr.s_addr = htonl((uint32_t)a << 24 | (uint32_t)b << 16 | c << 8 | d);
	return ep;
}

bool h_endpoint_equal(const struct wg_endpoint *x, const struct wg_endpoint *y)
{
	if (x->addr.sa.sa_family != y->addr.sa.sa_family)
		return false;
	if (x->addr.sa.sa_family == AF_INET)
		return x->addr.in4.sin_port == y->addr.in4.sin_port &&
		       x->addr.in4.sin_addr.s_addr == y->addr.in4.sin_addr.s_addr;
	if (x->addr.sa.sa_family == AF_INET6)
		return x->addr.in6.sin6_port == y->addr.in6.sin6_port &&
		       memcmp(&x->addr.in6.sin6_addr, &y->addr.in6.sin6_addr, 16) == 0;
	return false;
}

/* Records what arrived on a node's TUN and empties the batch. */
static void tun_out_flush(void *ctx, struct pkt_batch *batch)
{
	struct h_node *n = ctx;

	for (unsigned i = 0; i < batch->count; i++) {
		const struct pkt *p = &batch->pkts[i];
		long seq = h_check_ip(p->data, p->len);

		n->rx_packets++;
		if (seq >= 0 && seq < n->rx_last_seq)
			n->rx_out_of_order++;
		if (seq >= 0)
			n->rx_last_seq = seq;
		if (seq < 0)
			n->rx_bad++;
		else if (seq < H_MAX_SEQ)
			n->rx_seq[seq]++;
		n->last_rx_len = p->len < sizeof(n->last_rx) ? p->len : sizeof(n->last_rx);
		memcpy(n->last_rx, p->data, n->last_rx_len);
	}
	batch->count = 0;
}

/* Hands a full udp input batch to the engine. */
static void udp_in_flush(void *ctx, struct pkt_batch *batch)
{
	struct h_node *n = ctx;

	if (n->mesh)
		dataplane_mesh_rx(n->mesh, batch, n->udp_out);
	wg_device_udp_input(n->dev, batch, n->tun_out, n->udp_out);
	tun_out_flush(n, n->tun_out);
}

/* Where the daemon flushes its UDP batch or refills its TUN input. */
static void run_crypto(struct h_node *n)
{
	if (n->crypt_queue.jobs)
		wg_crypt_queue_run(&n->crypt_queue);
}

int h_node_set_crypto(struct h_node *n, unsigned threads, unsigned cap)
{
	run_crypto(n);
	wg_device_set_crypt_queue(n->dev, NULL);
	cryptpool_free(n->crypt_pool);
	free(n->crypt_queue.jobs);
	n->crypt_pool = NULL;
	n->crypt_queue = (struct wg_crypt_queue){ 0 };
	if (!threads)
		return 0;
	n->crypt_queue.jobs = calloc(cap, sizeof(n->crypt_queue.jobs[0]));
	if (!n->crypt_queue.jobs || cryptpool_new(threads, &n->crypt_pool) < 0)
		return -1;
	/* Every job through the threads, however short the queue. */
	if (n->crypt_pool)
		cryptpool_set_min_shared(n->crypt_pool, 1);
	n->crypt_queue.cap = cap;
	n->crypt_queue.run = cryptpool_run;
	n->crypt_queue.ctx = n->crypt_pool;
	wg_device_set_crypt_queue(n->dev, &n->crypt_queue);
	return 0;
}

void h_node_set_tun_out_cap(struct h_node *n, unsigned cap)
{
	tun_out_flush(n, n->tun_out);
	pkt_batch_free(n->tun_out);
	n->tun_out = pkt_batch_new(cap, H_SLOT_SIZE);
	if (!n->tun_out)
		abort();
	n->tun_out->flush = tun_out_flush;
	n->tun_out->flush_ctx = n;
}

static int crypto_from_env(struct h_node *n)
{
	const char *threads = getenv("MESHGATE_TEST_CRYPTO_THREADS");

	if (!threads || !*threads)
		return 0;
	return h_node_set_crypto(n, (unsigned)strtoul(threads, NULL, 10), 64);
}

int h_node_init(struct harness *h, struct h_node *n, const char *name, uint8_t host, uint64_t seed)
{
	struct wg_env env = { .now = env_now, .wall = env_wall, .random = env_random, .ctx = n };
	static const uint8_t ip6_prefix[16] = { 0xfd };

	n->name = name;
	n->h = h;
	n->rng.state = seed * 0x9e3779b97f4a7c15ULL + host;
	test_rng_bytes(&n->rng, n->private_key, sizeof(n->private_key));
	x25519_clamp(n->private_key);
	if (!x25519_public(n->public_key, n->private_key))
		return -1;
	n->addr = h_endpoint4(192, 0, 2, host, 51820);
	memcpy(n->ip4, (uint8_t[]){ 10, 0, 0, host }, 4);
	memcpy(n->ip6, ip6_prefix, 16);
	n->ip6[15] = host;

	n->dev = wg_device_new(&env, H_MTU);
	n->udp_out = pkt_batch_new(H_BATCH, H_SLOT_SIZE);
	n->tun_out = pkt_batch_new(H_BATCH, H_SLOT_SIZE);
	n->udp_in = pkt_batch_new(H_BATCH, H_SLOT_SIZE);
	n->tun_in = pkt_batch_new(H_BATCH, H_SLOT_SIZE);
	if (!n->dev || !n->udp_out || !n->tun_out || !n->udp_in || !n->tun_in)
		return -1;
	n->tun_out->flush = tun_out_flush;
	n->tun_out->flush_ctx = n;
	n->udp_in->flush = udp_in_flush;
	n->udp_in->flush_ctx = n;
	n->rx_last_seq = -1;
	if (crypto_from_env(n) < 0)
		return -1;
	return wg_device_set_private_key(n->dev, n->private_key);
}

/* Makes `other` a peer of n with its inner addresses and endpoint. */
static int node_add_peer(struct h_node *n, struct h_node *other)
{
	if (wg_device_add_peer(n->dev, other->public_key, &n->peer) < 0)
		return -1;
	n->other = other;
	wg_peer_set_name(n->peer, other->name);
	wg_peer_set_endpoint(n->peer, &other->addr);
	if (wg_peer_add_allowed_ip(n->peer, AF_INET, other->ip4, 32) < 0 ||
	    wg_peer_add_allowed_ip(n->peer, AF_INET6, other->ip6, 128) < 0)
		return -1;
	return 0;
}

struct harness *h_new(uint64_t seed)
{
	struct harness *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->now = 1000 * H_SEC;
	h->wall_base = 1700000000;
	if (h_node_init(h, &h->a, "A", 1, seed) < 0 || h_node_init(h, &h->b, "B", 2, seed) < 0 ||
	    node_add_peer(&h->a, &h->b) < 0 || node_add_peer(&h->b, &h->a) < 0) {
		fprintf(stderr, "harness setup failed\n");
		abort();
	}
	return h;
}

void h_node_free(struct h_node *n)
{
	if (n->dev)
		(void)h_node_set_crypto(n, 0, 0);
	wg_device_free(n->dev);
	pkt_batch_free(n->udp_out);
	pkt_batch_free(n->tun_out);
	pkt_batch_free(n->udp_in);
	pkt_batch_free(n->tun_in);
}

void h_free(struct harness *h)
{
	if (!h)
		return;
	h_node_free(&h->a);
	h_node_free(&h->b);
	free(h);
}

static uint32_t dg_type(const uint8_t *data, uint32_t len)
{
	uint32_t type;

	if (len < 4)
		return 0;
	memcpy(&type, data, 4);
	type = le32toh(type);
	return type <= MESSAGE_DATA ? type : 0;
}

static void deliver(struct h_node *to, const struct h_datagram *dg)
{
	h_udp_input(to, dg->data, dg->len, &dg->src);
}

/* Queues a datagram into the receiver's udp input (without processing it). */
static void enqueue(struct h_node *to, const struct h_datagram *dg)
{
	struct pkt *p = pkt_batch_add(to->udp_in);

	if (!p)
		abort();
	memcpy(p->data, dg->data, dg->len);
	p->len = dg->len;
	p->ep = dg->src;
}

/* The node other than `from` that the pump serves at ep's address, or NULL. */
static struct h_node *node_at(struct harness *h, const struct h_node *from,
			      const struct wg_endpoint *ep)
{
	struct h_node *served[] = { &h->a, &h->b, h->relay };

	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
		if (served[i] && served[i] != from && h_endpoint_equal(ep, &served[i]->addr))
			return served[i];
	return NULL;
}

static void process_inputs(struct harness *h)
{
	udp_in_flush(&h->a, h->a.udp_in);
	udp_in_flush(&h->b, h->b.udp_in);
	if (h->relay)
		udp_in_flush(h->relay, h->relay->udp_in);
}

/* Moves everything `from` sent; returns the number of datagrams taken. */
static unsigned move(struct harness *h, struct h_node *from)
{
	unsigned taken;
	static struct h_datagram dg; /* large; the harness is single-threaded */

	run_crypto(from);
	if (from->mesh)
		dataplane_mesh_tx(from->mesh, from->udp_out);
	taken = from->udp_out->count;
	for (unsigned i = 0; i < taken; i++) {
		const struct pkt *p = &from->udp_out->pkts[i];
		uint32_t type = dg_type(p->data, p->len);
		struct h_node *to = node_at(h, from, &p->ep);
		enum h_verdict v = H_DELIVER;

		dg.from = from;
		dg.src = from->addr;
		dg.dst = p->ep;
		dg.len = p->len;
		memcpy(dg.data, p->data, p->len);
		from->sent[type]++;
		if ((h->capture_types & (1u << type)) && h->captured_count < H_MAX_CAPTURED)
			h->captured[h->captured_count++] = dg;
		if (!to) {
			from->stray++;
			continue;
		}
		if (h->filter)
			v = h->filter(h->filter_ctx, &dg);
		switch (v) {
		case H_DELIVER:
			enqueue(to, &dg);
			break;
		case H_DUPLICATE:
			enqueue(to, &dg);
			enqueue(to, &dg);
			break;
		case H_HOLD:
			if (h->held_count < H_MAX_HELD)
				h->held[h->held_count++] = dg;
			break;
		case H_DROP:
			break;
		}
	}
	from->udp_out->count = 0;
	process_inputs(h);
	return taken;
}

void h_pump(struct harness *h)
{
	for (int round = 0; round < 1000; round++) {
		unsigned moved = move(h, &h->a);
		moved += move(h, &h->b);
		if (h->relay)
			moved += move(h, h->relay);
		if (!moved)
			return;
	}
	fprintf(stderr, "h_pump: the nodes never went quiet\n");
	abort();
}

void h_release_held(struct harness *h, bool reverse)
{
	unsigned n = h->held_count;

	h->held_count = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct h_datagram *dg = &h->held[reverse ? n - 1 - i : i];
		struct h_node *to = node_at(h, dg->from, &dg->dst);

		if (to)
			deliver(to, dg);
	}
	h_pump(h);
}

void h_advance_to(struct harness *h, uint64_t t)
{
	for (int guard = 0; guard < 1000000; guard++) {
		uint64_t da = wg_device_next_deadline(h->a.dev);
		uint64_t db = wg_device_next_deadline(h->b.dev);
		uint64_t d = da < db ? da : db;

		if (d > t)
			break;
		if (d > h->now)
			h->now = d;
		wg_device_run_timers(h->a.dev, h->a.udp_out);
		wg_device_run_timers(h->b.dev, h->b.udp_out);
		h_pump(h);
	}
	if (t > h->now)
		h->now = t;
	h_pump(h);
}

static uint8_t pattern_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31 + i * 7 + 1);
}

uint32_t h_build_ip(uint8_t *buf, int family, const uint8_t *src, const uint8_t *dst, uint32_t seq,
		    uint32_t len)
{
	uint32_t hdr = family == AF_INET ? 20 : 40;

	if (len < hdr + 4)
		abort();
	memset(buf, 0, hdr);
	if (family == AF_INET) {
		buf[0] = 0x45;
		put_be16(buf + 2, len);
		buf[8] = 64;
		buf[9] = 253; /* experimental protocol number */
		memcpy(buf + 12, src, 4);
		memcpy(buf + 16, dst, 4);
	} else {
		buf[0] = 0x60;
		put_be16(buf + 4, len - 40);
		buf[6] = 253;
		buf[7] = 64;
		memcpy(buf + 8, src, 16);
		memcpy(buf + 24, dst, 16);
	}
	buf[hdr] = (uint8_t)(seq >> 24);
	buf[hdr + 1] = (uint8_t)(seq >> 16);
	buf[hdr + 2] = (uint8_t)(seq >> 8);
	buf[hdr + 3] = (uint8_t)seq;
	for (uint32_t i = hdr + 4; i < len; i++)
		buf[i] = pattern_byte(seq, i);
	return len;
}

long h_check_ip(const uint8_t *buf, uint32_t len)
{
	uint32_t hdr, total, seq;

	if (len >= 24 && buf[0] == 0x45) {
		hdr = 20;
		total = get_be16(buf + 2);
	} else if (len >= 44 && buf[0] == 0x60) {
		hdr = 40;
		total = 40 + (uint32_t)get_be16(buf + 4);
	} else {
		return -1;
	}
	if (total != len || len < hdr + 4)
		return -1;
	seq = get_be32(buf + hdr);
	for (uint32_t i = hdr + 4; i < len; i++)
		if (buf[i] != pattern_byte(seq, i))
			return -1;
	return seq;
}

void h_send_ip(struct h_node *n, int family, const uint8_t *src, const uint8_t *dst, uint32_t seq,
	       uint32_t len)
{
	struct pkt *p = pkt_batch_add(n->tun_in);

	if (!p)
		abort();
	p->len = h_build_ip(p->data, family, src, dst, seq, len);
	wg_device_tun_input(n->dev, n->tun_in, n->udp_out);
	run_crypto(n);
}

void h_send_burst(struct h_node *n, int family, uint32_t first, uint32_t count, uint32_t len)
{
	const uint8_t *src = family == AF_INET ? n->ip4 : n->ip6;
	const uint8_t *dst = family == AF_INET ? n->other->ip4 : n->other->ip6;

	for (uint32_t i = 0; i < count; i++) {
		struct pkt *p = pkt_batch_add(n->tun_in);

		if (!p)
			abort();
		p->len = h_build_ip(p->data, family, src, dst, first + i, len);
	}
	wg_device_tun_input(n->dev, n->tun_in, n->udp_out);
	run_crypto(n);
}

void h_udp_queue(struct h_node *n, const void *data, uint32_t len, const struct wg_endpoint *src)
{
	struct pkt *p = pkt_batch_add(n->udp_in);

	if (!p || len > pkt_tailroom(p))
		abort();
	memcpy(p->data, data, len);
	p->len = len;
	p->ep = *src;
}

void h_send(struct h_node *n, int family, uint32_t seq, uint32_t len)
{
	if (family == AF_INET)
		h_send_ip(n, family, n->ip4, n->other->ip4, seq, len);
	else
		h_send_ip(n, family, n->ip6, n->other->ip6, seq, len);
}

void h_udp_input(struct h_node *n, const void *data, uint32_t len, const struct wg_endpoint *src)
{
	h_udp_queue(n, data, len, src);
	udp_in_flush(n, n->udp_in);
}

bool h_connect(struct harness *h)
{
	h_send(&h->a, AF_INET, 0, 64);
	h_pump(h);
	h_send(&h->b, AF_INET, 0, 64);
	h_pump(h);
	return wg_peer_has_session(h->a.peer) && wg_peer_has_session(h->b.peer);
}

unsigned h_rx_once(const struct h_node *n, uint32_t first, uint32_t last)
{
	unsigned once = 0;

	for (uint32_t s = first; s <= last && s < H_MAX_SEQ; s++)
		once += n->rx_seq[s] == 1;
	return once;
}

unsigned h_rx_total(const struct h_node *n, uint32_t first, uint32_t last)
{
	unsigned total = 0;

	for (uint32_t s = first; s <= last && s < H_MAX_SEQ; s++)
		total += n->rx_seq[s];
	return total;
}

static enum h_verdict watch_filter(void *ctx, const struct h_datagram *dg)
{
	struct h_watch *w = ctx;
	uint32_t type = dg_type(dg->data, dg->len);
	unsigned drop = dg->from == &w->h->a ? w->drop_from_a : w->drop_from_b;

	if (dg->from == w->from && type == w->type && (!w->len || dg->len == w->len) &&
	    w->count < sizeof(w->times) / sizeof(w->times[0]))
		w->times[w->count++] = w->h->now;
	return drop & (1u << type) ? H_DROP : H_DELIVER;
}

void h_watch(struct harness *h, struct h_watch *w, const struct h_node *from, uint32_t type,
	     uint32_t len)
{
	memset(w, 0, sizeof(*w));
	w->h = h;
	w->from = from;
	w->type = type;
	w->len = len;
	h->filter = watch_filter;
	h->filter_ctx = w;
}
