/*
 * Fuzz harness for the engine's data path, fast: the two in-process engines
 * (tests/inproc/harness.h) connect once, then A sends datagrams that B does
 * not see (captured, not delivered): data over IPv4 and IPv6 and a keepalive
 * in the current session, then, after a second handshake that B answered,
 * the keepalive confirming the new session and data in it. B's state is
 * saved there (a current and an unconfirmed next session), and every input
 * starts from a copy of it, restored in place: no handshake and no timers per
 * input, so inputs run thousands of times faster than in fuzz_packet.
 *
 * The input is a list of records "mode byte, 16-bit length, bytes", as in
 * fuzz_packet:
 *   mode odd:          the bytes are XORed into a copy of the (mode/2)-th
 *                      datagram captured on the wire (length 0: the copy as
 *                      it is), delivered to B from A's address
 *   mode even < 0x80:  the bytes are a datagram to B, as they are (up to
 *                      what a batch slot holds)
 *   mode even >= 0x80: no bytes; the clock moves by length * 10 ms (keys
 *                      age and expire)
 * The captures leave out the initiations and B's timers do not run, and
 * what B sends is dropped: each initiation B took would cost public-key work
 * worth more than a thousand data packets (fuzz_packet and fuzz_handshake
 * cover handshakes). Invariant beyond memory safety: B's TUN only ever
 * receives intact patterned packets.
 *
 * The restore copies what the receive path changes: the device and its one
 * peer by value, the index table's slots, the rate limiter (re-initialised
 * when entries are left), the clock and B's random source. It checks itself
 * once at start-up: the first undelivered data packet reaches B after each of
 * two restores.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/harness.h"
#include "wg/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAST_TICK (10 * H_MSEC)

static struct harness *h;

/* B as it was after setup. */
static struct {
	struct wg_device dev;
	struct wg_peer peer;
	struct index_entry *slots;
	unsigned staged_count;
	struct test_rng rng;
	uint64_t now;
} saved;

static unsigned first_undelivered; /* index into h->captured */

/* A's data and keepalives reach the capture, not B. */
static enum h_verdict drop_data_from_a(void *ctx, const struct h_datagram *dg)
{
	return dg->from == &h->a && dg->data[0] == MESSAGE_DATA ? H_DROP : H_DELIVER;
}

/* Leaves out the initiations; `mark` (an index) follows its datagram. */
static void drop_initiations(unsigned *mark)
{
	unsigned kept = 0, old_mark = *mark;

	for (unsigned i = 0; i < h->captured_count; i++) {
		if (i == old_mark)
			*mark = kept;
		if (h->captured[i].data[0] != MESSAGE_HANDSHAKE_INITIATION)
			h->captured[kept++] = h->captured[i];
	}
	h->captured_count = kept;
}

static void save(void)
{
	struct wg_device *dev = h->b.dev;
	size_t slots = (size_t)dev->index.mask + 1;

	if (dev->peer_count != 1 || dev->peers != h->b.peer || dev->ratelimiter.count)
		abort();
	saved.dev = *dev;
	saved.peer = *h->b.peer;
	saved.slots = malloc(slots * sizeof(*saved.slots));
	if (!saved.slots)
		abort();
	memcpy(saved.slots, dev->index.slots, slots * sizeof(*saved.slots));
	saved.staged_count = h->b.peer->staged ? h->b.peer->staged->count : 0;
	saved.rng = h->b.rng;
	saved.now = h->now;
}

/* The rate limiter as saved: empty (the order of its free list does not
 * matter), re-initialised with the same secret when entries are left. */
static void restore_ratelimiter(struct ratelimiter *rl)
{
	const struct ratelimiter *s = &saved.dev.ratelimiter;
	uint8_t secret[RATELIMITER_SECRET_LEN];

	if (rl->count) {
		memcpy(secret, rl->secret, sizeof(secret));
		ratelimiter_deinit(rl);
		if (ratelimiter_init(rl, s->max_entries, secret) < 0)
			abort();
	}
	rl->last_gc_ns = s->last_gc_ns;
	rl->gc_ran = s->gc_ran;
}

static void restore(void)
{
	struct wg_device *dev = h->b.dev;
	struct wg_peer *peer = h->b.peer;
	struct pkt_batch *staged = peer->staged;
	struct index_table index = dev->index;
	struct ratelimiter rl = dev->ratelimiter;

	restore_ratelimiter(&rl);
	if (index.mask != saved.dev.index.mask) {
		index_table_free(&index);
		if (index_table_init(&index, saved.dev.index.mask + 1) < 0)
			abort();
	}
	memcpy(index.slots, saved.slots, ((size_t)index.mask + 1) * sizeof(*index.slots));
	index.count = saved.dev.index.count;

	*dev = saved.dev;
	dev->index = index;
	dev->ratelimiter = rl;
	*peer = saved.peer;
	peer->staged = staged;
	if (staged)
		staged->count = saved.staged_count;
	h->b.rng = saved.rng;
	h->now = saved.now;
	h->b.udp_out->count = 0;
	h->b.tun_out->count = 0;
}

static void setup(void)
{
	h = h_new(1);
	if (!h)
		abort();
	h->capture_types = H_ALL_TYPES;
	if (!h_connect(h))
		abort();
	/* Past REKEY_TIMEOUT, so that A may start a new handshake. */
	h_advance(h, (REKEY_TIMEOUT + 1) * H_SEC);

	first_undelivered = h->captured_count;
	h->filter = drop_data_from_a;
	for (uint32_t seq = 1; seq <= 4; seq++)
		h_send(&h->a, seq & 1 ? AF_INET : AF_INET6, seq, 60 + 300 * seq);
	send_keepalive(h->a.peer, h->a.udp_out, h->now);
	h_pump(h);
	wg_peer_send_handshake(h->a.peer, h->a.udp_out);
	h_pump(h);
	for (uint32_t seq = 5; seq <= 6; seq++)
		h_send(&h->a, seq & 1 ? AF_INET : AF_INET6, seq, 60 + 100 * seq);
	h_pump(h);
	h->filter = NULL;
	h->capture_types = 0;
	drop_initiations(&first_undelivered);
	if (!h->b.peer->next || h->captured_count < first_undelivered + 8)
		abort();
	h->b.udp_out->count = 0;
	save();
}

static void deliver(const uint8_t *dg, size_t len)
{
	h_udp_input(&h->b, dg, (uint32_t)len, &h->a.addr);
	h->b.udp_out->count = 0;
}

static void feed(const uint8_t *data, size_t size)
{
	uint8_t dg[H_SLOT_SIZE - PKT_HEADROOM]; /* what a batch slot holds */

	while (size >= 3) {
		uint8_t mode = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];

		data += 3;
		size -= 3;
		if (!(mode & 1) && mode >= 0x80) {
			h->now += len * FAST_TICK;
			continue;
		}
		if (len > size)
			len = size;
		if (mode & 1) {
			const struct h_datagram *orig =
			    &h->captured[(mode / 2) % h->captured_count];

			memcpy(dg, orig->data, orig->len);
			for (size_t i = 0; i < len && i < orig->len; i++)
				dg[i] ^= data[i];
			deliver(dg, orig->len);
		} else {
			memcpy(dg, data, len < sizeof(dg) ? len : sizeof(dg));
			deliver(dg, len < sizeof(dg) ? len : sizeof(dg));
		}
		data += len;
		size -= len;
	}
}

/* The first undelivered data packet (seq 1) reaches B after each restore. */
static void self_check(void)
{
	uint8_t record[3] = { (uint8_t)(first_undelivered * 2 + 1), 0, 0 };

	for (int i = 1; i <= 2; i++) {
		restore();
		feed(record, sizeof(record));
		if (h->b.rx_seq[1] != i) {
			fprintf(stderr, "fuzz_packet_fast: restore does not bring B back\n");
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!h) {
		setup();
		self_check();
	}
	restore();
	feed(data, size);
	if (h->b.rx_bad)
		abort();
	return 0;
}
