/*
 * The mesh relay: WireGuard datagrams between two nodes without a direct path
 * travel through the coordinator inside MESH_RELAY datagrams (protocol.h):
 *
 *   type (0x83, LE32) | source node id (LE32) | destination node id (LE32) |
 *   MAC (16) | WireGuard datagram
 *
 * MAC = BLAKE2s-128 keyed with a relay key, over the header without the MAC
 * followed by the payload. Each node shares one relay key with the
 * coordinator (relay_key_derive, from their WireGuard static keys), and each
 * hop uses the key of its node end: source -> coordinator under the source's
 * key, coordinator -> destination under the destination's key. The ids are
 * inside the MAC, so a datagram cannot be turned around (a node accepts only
 * datagrams addressed to itself, the coordinator verifies with the source's
 * key). The payload is an ordinary WireGuard message, end-to-end encrypted
 * between the two nodes: the coordinator never sees plaintext. Replays are
 * left to WireGuard's own replay window at the destination.
 *
 * Node ids are the coordinator's registry ids; 0 is never a node (in struct
 * wg_endpoint, relay_via = 0 means direct).
 */
#ifndef MESHGATE_MESH_RELAY_H
#define MESHGATE_MESH_RELAY_H

#include <stdint.h>

#include "mesh/dh.h"
#include "mesh/protocol.h"
#include "wg/packet.h"

enum {
	RELAY_KEY_LEN = 32,
	RELAY_MAC_LEN = 16,
	RELAY_MAC_OFFSET = 4 + 4 + 4, /* type, source, destination */
};

_Static_assert((int)MESH_RELAY_HEADER == RELAY_MAC_OFFSET + RELAY_MAC_LEN, "relay header layout");
_Static_assert((int)PKT_HEADROOM >= (int)MESH_RELAY_HEADER,
	       "a relay header must fit in the headroom");

/* Domain separation of the relay key from every other use of the DH. */
#define RELAY_KEY_LABEL "meshgate relay v1"

/* The relay key of a node and the coordinator: BLAKE2s-256 keyed with
 * X25519(own static key, other_public) as own computes it (mesh/dh.h), over
 * RELAY_KEY_LABEL. Both ends derive
 * the same key. -EINVAL when the DH result is zero (a low-order key). */
int relay_key_derive(uint8_t out[RELAY_KEY_LEN], const struct mesh_dh *own,
		     const uint8_t other_public[32]) __attribute__((warn_unused_result));

/*
 * Returns the key that authenticates relay datagrams from node_id (the
 * header's source) on this hop, or NULL to refuse them: on the coordinator,
 * the key shared with node_id; on a node, its own key with the coordinator
 * when node_id is a peer it accepts through the relay. relay_forward() also
 * calls it with the destination id for the outgoing hop.
 */
typedef const uint8_t *(*relay_key_fn)(void *ctx, uint32_t node_id);

/* Prepends the relay header to the packet in place (data moves back by
 * MESH_RELAY_HEADER bytes into the headroom). -ENOSPC without the headroom,
 * -EINVAL for a zero id. */
int relay_wrap(struct pkt *pkt, uint32_t src_id, uint32_t dst_id, const uint8_t key[RELAY_KEY_LEN])
    __attribute__((warn_unused_result));

/* Verifies and strips the relay header in place, with key_for(ctx, source).
 * -EBADMSG for anything else than an authentic relay datagram between two
 * distinct nonzero ids (too short, wrong type, refused source, bad MAC); the
 * packet is then unchanged. */
int relay_unwrap(struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id, relay_key_fn key_for,
		 void *ctx) __attribute__((warn_unused_result));

/* A node's receive step: unwraps a datagram addressed to own_id and marks the
 * packet as coming from its source through the relay (ep.relay_via = source;
 * ep.addr stays the relay's address), ready for the engine, whose roaming
 * then points the peer's endpoint at the relay. -EBADMSG otherwise. */
int relay_receive(struct pkt *pkt, uint32_t own_id, relay_key_fn key_for, void *ctx)
    __attribute__((warn_unused_result));

/* The coordinator's forwarding step, in place: verifies with the source's
 * key and re-authenticates for the destination with key_for(ctx, dst). The
 * header keeps the source id, so the destination knows who sent it. Sets
 * *src_id and *dst_id (the caller sends to the destination's endpoint).
 * -EBADMSG as relay_unwrap, -EHOSTUNREACH when key_for refuses the
 * destination; the packet is unchanged on failure. */
int relay_forward(struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id, relay_key_fn key_for,
		  void *ctx) __attribute__((warn_unused_result));

#endif
