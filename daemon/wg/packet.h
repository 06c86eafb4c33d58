/*
 * Packets and batches: the shape of every packet interface.
 *
 * The I/O layer reads a batch of datagrams or TUN packets into preallocated
 * slots; the engine consumes an input batch and appends its output to other
 * batches (ciphertext to a UDP batch, plaintext to a TUN batch). A batch that
 * fills up is handed to its flush callback, which sends it and empties it, so
 * an engine call can emit any number of packets without allocating.
 */
#ifndef MESHGATE_WG_PACKET_H
#define MESHGATE_WG_PACKET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Where a datagram came from or goes to, plus the local address it arrived
 * on (so replies leave from the same address, as WireGuard's sticky sockets).
 *
 * A relay endpoint (relay_via != 0) names a peer reached through the mesh
 * relay: addr is the relay's UDP address and relay_via the peer's mesh node
 * id, which the I/O layer puts into the relay header. The engine treats
 * endpoints as opaque values; only I/O looks inside.
 */
struct wg_endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	union {
		struct in_addr src4;
		struct in6_addr src6;
	};
	int src_ifindex;    /* 0: let the kernel choose */
	uint32_t relay_via; /* 0: direct; else the peer's node id, through the relay at addr */
};

static inline bool wg_endpoint_is_relay(const struct wg_endpoint *ep)
{
	return ep->relay_via != 0;
}

/* True when both name the same path: address family, address, port and
 * relay; the local source address is not compared. */
bool wg_endpoint_same_path(const struct wg_endpoint *a, const struct wg_endpoint *b);

/* Bytes reserved in front of a packet so a header can be prepended in place. */
enum { PKT_HEADROOM = 32 };

struct pkt {
	uint8_t *buf;          /* slot memory, owned by the batch */
	uint32_t cap;          /* size of buf */
	uint8_t *data;         /* first byte of the packet, inside buf */
	uint32_t len;          /* bytes at data */
	struct wg_endpoint ep; /* UDP only: source on receive, destination on send */
};

struct pkt_batch;
typedef void (*pkt_batch_flush_fn)(void *ctx, struct pkt_batch *batch);

struct pkt_batch {
	struct pkt *pkts;
	unsigned count;           /* packets in use, pkts[0 .. count-1] */
	unsigned cap;             /* slots */
	pkt_batch_flush_fn flush; /* sends and empties a full batch; may be NULL */
	void *flush_ctx;
	uint64_t dropped_full; /* packets lost because the batch was full and unflushable */
};

/* Allocates a batch of cap slots of slot_size bytes each (headroom included).
 * Returns NULL on allocation failure. Free with pkt_batch_free(). The owner
 * may reorder the slots of pkts[] (never swap in foreign buffers). */
struct pkt_batch *pkt_batch_new(unsigned cap, uint32_t slot_size);
void pkt_batch_free(struct pkt_batch *batch);

/* Resets a slot so that data points just past the headroom. */
static inline void pkt_reset(struct pkt *pkt)
{
	pkt->data = pkt->buf + PKT_HEADROOM;
	pkt->len = 0;
}

/* Returns the next free slot, flushing a full batch first; NULL if the batch
 * is full and cannot be flushed (the packet is then counted as dropped). */
static inline struct pkt *pkt_batch_add(struct pkt_batch *batch)
{
	if (batch->count == batch->cap) {
		if (batch->flush)
			batch->flush(batch->flush_ctx, batch);
		if (batch->count == batch->cap) {
			batch->dropped_full++;
			return NULL;
		}
	}
	struct pkt *pkt = &batch->pkts[batch->count++];
	pkt_reset(pkt);
	return pkt;
}

/* Room for payload after data in this slot. */
static inline uint32_t pkt_tailroom(const struct pkt *pkt)
{
	return (uint32_t)(pkt->cap - (uint32_t)(pkt->data - pkt->buf));
}

#endif
