/*
 * In-process test harness: two WireGuard engines, A and B, wired together
 * through fake UDP and TUN, driven by one fake monotonic clock.
 *
 *      TUN in ──> [ A ] ── udp_out ──pump──> udp_in ── [ B ] ──> TUN out
 *      TUN out <─ [ A ] <── udp_in <──pump── udp_out ── [ B ] <── TUN in
 *
 * Each node has its own deterministic random source and a fake address
 * (192.0.2.1:51820 and 192.0.2.2:51820). The pump moves every datagram a node
 * sent to the other node's address into that node's udp input, with the
 * sender's current address as source (change it to roam). Datagrams to any
 * other address are counted as stray. A filter can drop, duplicate or hold
 * datagrams; held ones are delivered later, which reorders them.
 *
 * A third node (harness.relay, set up with h_node_init) is served by address
 * as well, and a node's data plane mesh hooks (h_node.mesh) run around its
 * UDP as in the daemon: on its input before the engine, on its output before
 * the wire.
 *
 * Inner packets carry a sequence number and a byte pattern; the TUN output
 * of each node is checked against the pattern and counted per sequence
 * number, so tests can say "every packet arrived exactly once".
 */
#ifndef MESHGATE_TESTS_INPROC_HARNESS_H
#define MESHGATE_TESTS_INPROC_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane.h"
#include "testlib.h"
#include "wg/device.h"

enum {
	H_SLOT_SIZE = 2048, /* every batch slot, headroom included */
	H_MTU = 1420,
	H_BATCH = 1024,      /* slots of each output batch */
	H_MAX_SEQ = 1 << 16, /* sequence numbers the receive log tracks */
	H_MAX_CAPTURED = 256,
	H_MAX_HELD = 256
};

#define H_SEC  1000000000ULL
#define H_MSEC 1000000ULL

/* One datagram on the fake wire. */
struct h_datagram {
	struct h_node *from;
	struct wg_endpoint src; /* the sender's address when it was sent */
	struct wg_endpoint dst; /* where the sender addressed it */
	uint32_t len;
	uint8_t data[H_SLOT_SIZE];
};

struct harness;

struct h_node {
	const char *name;
	struct harness *h;
	struct wg_device *dev;
	struct wg_peer *peer; /* the other node, as configured here */
	struct h_node *other;
	struct test_rng rng;
	unsigned long random_calls; /* env.random calls of this node's engine */
	uint8_t private_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	struct wg_endpoint addr; /* source of this node's datagrams */
	uint8_t ip4[4];          /* inner addresses */
	uint8_t ip6[16];

	struct pkt_batch *udp_out, *tun_out, *udp_in, *tun_in;
	struct dataplane_mesh *mesh; /* optional hooks around this node's UDP */
	/* Optional, as the daemon's: data AEAD as jobs, run on a pool. */
	struct wg_crypt_queue crypt_queue;
	struct cryptpool *crypt_pool;

	/* What this node put on the wire, by message type (0: unknown). */
	unsigned sent[5];
	unsigned stray; /* datagrams addressed to neither node */
	/* What this node's TUN received. */
	uint16_t rx_seq[H_MAX_SEQ]; /* times each sequence number arrived */
	unsigned rx_packets;
	unsigned rx_bad;          /* packets that do not carry the pattern */
	unsigned rx_out_of_order; /* sequence numbers below the one before */
	long rx_last_seq;
	uint32_t last_rx_len;
	uint8_t last_rx[H_SLOT_SIZE];
};

enum h_verdict { H_DELIVER, H_DROP, H_DUPLICATE, H_HOLD };

/* Decides the fate of a datagram on its way between the nodes. */
typedef enum h_verdict (*h_filter_fn)(void *ctx, const struct h_datagram *dg);

struct harness {
	uint64_t now;       /* fake monotonic clock, ns */
	uint64_t wall_base; /* wall clock at now == 0, seconds */
	struct h_node a, b;
	struct h_node *relay; /* optional third node, served by address */

	h_filter_fn filter;
	void *filter_ctx;

	/* Copies of datagrams whose type bit (1 << type) is in capture_types. */
	unsigned capture_types;
	struct h_datagram captured[H_MAX_CAPTURED];
	unsigned captured_count;

	struct h_datagram held[H_MAX_HELD];
	unsigned held_count;
};

/* Two nodes configured as each other's peer: keys from seed, allowed IPs
 * 10.0.0.1/32 + fd00::1/128 (A) and 10.0.0.2/32 + fd00::2/128 (B), endpoints
 * set. The clock starts at 1000 s. Free with h_free(). */
struct harness *h_new(uint64_t seed);
void h_free(struct harness *h);

/* Sets up a further node on the harness clock (keys from seed and host,
 * address 192.0.2.host:51820, no peers): for third parties the pump does not
 * serve. Free with h_node_free(). 0 or -1. */
int h_node_init(struct harness *h, struct h_node *n, const char *name, uint8_t host, uint64_t seed);
void h_node_free(struct h_node *n);

/*
 * Gives the node a crypt queue of cap jobs run by a pool of threads (the
 * caller included) that shares even a single job, or with threads 0 takes
 * it away. The harness runs the
 * queue where the daemon's data plane does: before a node's UDP output goes
 * out, and after each TUN input. Nodes get one at start when the environment
 * sets MESHGATE_TEST_CRYPTO_THREADS (so every in-process test can also run
 * with threads). 0 or -1.
 */
int h_node_set_crypto(struct h_node *n, unsigned threads, unsigned cap);
/* Replaces the node's TUN output batch by one of cap slots (still checked). */
void h_node_set_tun_out_cap(struct h_node *n, unsigned cap);

/* Moves datagrams between the nodes until both are quiet. */
void h_pump(struct harness *h);
/* Delivers the held datagrams, last held first (so they arrive reordered). */
void h_release_held(struct harness *h, bool reverse);

/* Moves the clock to t (ns), firing every timer of both nodes at its own
 * deadline on the way and pumping after each. */
void h_advance_to(struct harness *h, uint64_t t);
static inline void h_advance(struct harness *h, uint64_t ns)
{
	h_advance_to(h, h->now + ns);
}

/* Builds an IPv4 (family AF_INET) or IPv6 packet of len bytes (header
 * included) from src to dst carrying seq and the pattern. Returns len. */
uint32_t h_build_ip(uint8_t *buf, int family, const uint8_t *src, const uint8_t *dst, uint32_t seq,
		    uint32_t len);
/* The sequence number of a patterned packet, or -1 if it is not intact. */
long h_check_ip(const uint8_t *buf, uint32_t len);

/* Injects a packet into the node's TUN input, from its own inner address to
 * the other node's; no pump. */
void h_send(struct h_node *n, int family, uint32_t seq, uint32_t len);
/* As h_send with explicit inner addresses (4 or 16 bytes by family). */
void h_send_ip(struct h_node *n, int family, const uint8_t *src, const uint8_t *dst, uint32_t seq,
	       uint32_t len);
/* count packets with sequence numbers first.. in one TUN input batch. */
void h_send_burst(struct h_node *n, int family, uint32_t first, uint32_t count, uint32_t len);
/* Appends one datagram to the node's UDP input batch without processing it
 * (the next h_udp_input or pump hands the whole batch to the engine). */
void h_udp_queue(struct h_node *n, const void *data, uint32_t len, const struct wg_endpoint *src);
/* Hands one datagram to the node's UDP input as if it came from src. */
void h_udp_input(struct h_node *n, const void *data, uint32_t len, const struct wg_endpoint *src);

/* Handshake from A to B, then one data packet each way; true when both
 * have a session. */
bool h_connect(struct harness *h);

/* Packets with sequence numbers in [first, last] that arrived exactly once. */
unsigned h_rx_once(const struct h_node *n, uint32_t first, uint32_t last);
/* Sum of rx_seq over [first, last]. */
unsigned h_rx_total(const struct h_node *n, uint32_t first, uint32_t last);

/*
 * A ready-made filter: records when datagrams of one type (and length, when
 * len is not 0) leave one node, and drops the types whose bit is set in that
 * direction's drop mask. Install with h_watch().
 */
struct h_watch {
	struct harness *h;
	const struct h_node *from;
	uint32_t type;
	uint32_t len;
	uint64_t times[256];
	unsigned count;
	unsigned drop_from_a, drop_from_b; /* bit 1 << message type */
};

void h_watch(struct harness *h, struct h_watch *w, const struct h_node *from, uint32_t type,
	     uint32_t len);
#define H_ALL_TYPES 0x1fu

/* An IPv4 endpoint a.b.c.d:port. */
struct wg_endpoint h_endpoint4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
bool h_endpoint_equal(const struct wg_endpoint *x, const struct wg_endpoint *y);

/* Total drops of a node for one reason. */
static inline uint64_t h_drops(const struct h_node *n, enum wg_drop_reason r)
{
	return n->dev->stats.drops[r];
}

#endif
