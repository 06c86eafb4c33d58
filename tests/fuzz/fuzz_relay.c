/*
 * Fuzz harness for the relay frames (MESH_RELAY, mesh/relay.h), with fixed
 * relay keys: node ids 1, 2 and 3 share the key K(id) = 32 bytes of id with
 * the coordinator; id 4 is unknown to it. The first input byte picks the
 * target, the rest is its input:
 *   0  a datagram to relay_receive() at node 2, which accepts nodes 1 and 3
 *      through the relay
 *   1  a datagram to relay_forward() at the coordinator
 *   2  a frame made here: source id, destination id (one byte each), a
 *      16-bit offset and a byte to XOR there, then the payload; node
 *      "source" wraps it, the byte is flipped, the coordinator forwards it
 *      and the destination receives it
 *
 * Invariants beyond memory safety: a refused datagram is left as it was
 * (pointer, length, bytes); a received one was addressed to node 2 from
 * node 1 or 3 and is the payload behind the header, marked relayed from
 * its source; a forwarded one keeps its ids and payload and carries a MAC
 * that its destination accepts; a frame made here arrives intact exactly
 * when no byte was flipped and both ends are known nodes.
 *
 * Seeds (tests/fuzz/seeds/fuzz_relay) were written with Python's keyed
 * BLAKE2s: a valid frame for each target, and near misses of each check
 * (short, wrong type, zero or equal ids, unknown source or destination,
 * wrong MAC).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum target { NODE_RECEIVE, COORDINATOR_FORWARD, ROUND_TRIP, TARGETS };
enum { NODE_ID = 2, UNKNOWN_ID = 4, MAX_FRAME = 65535 };

static uint8_t keys[UNKNOWN_ID][RELAY_KEY_LEN]; /* keys[id - 1] */
static uint8_t buf[PKT_HEADROOM + MAX_FRAME];
static uint8_t before[MAX_FRAME];

static const uint8_t *key_of(uint32_t id)
{
	if (!keys[0][0])
		for (unsigned i = 0; i < UNKNOWN_ID; i++)
			memset(keys[i], (int)i + 1, RELAY_KEY_LEN);
	return id >= 1 && id < UNKNOWN_ID ? keys[id - 1] : NULL;
}

/* The coordinator knows every node but UNKNOWN_ID. */
static const uint8_t *coordinator_key(void *ctx, uint32_t node_id)
{
	return key_of(node_id);
}

/* Node *ctx accepts the other known nodes, with its own key. */
static const uint8_t *node_key(void *ctx, uint32_t node_id)
{
	uint32_t self = *(const uint32_t *)ctx;

	return node_id != self && key_of(node_id) ? key_of(self) : NULL;
}

static void load(struct pkt *pkt, const uint8_t *data, size_t size)
{
	memset(pkt, 0, sizeof(*pkt));
	pkt->buf = buf;
	pkt->cap = sizeof(buf);
	pkt->data = buf + PKT_HEADROOM;
	pkt->len = (uint32_t)size;
	memcpy(pkt->data, data, size);
	memcpy(before, data, size);
}

static void check_unchanged(const struct pkt *pkt, size_t size)
{
	if (pkt->data != buf + PKT_HEADROOM || pkt->len != size || memcmp(pkt->data, before, size))
		abort();
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void node_receive(const uint8_t *data, size_t size)
{
	uint32_t self = NODE_ID;
	struct pkt pkt;

	load(&pkt, data, size);
	if (relay_receive(&pkt, self, node_key, &self) < 0) {
		check_unchanged(&pkt, size);
		return;
	}
	if (size < MESH_RELAY_HEADER || le32_at(before + 8) != NODE_ID ||
	    (pkt.ep.relay_via != 1 && pkt.ep.relay_via != 3) ||
	    pkt.ep.relay_via != le32_at(before + 4) ||
	    pkt.data != buf + PKT_HEADROOM + MESH_RELAY_HEADER ||
	    pkt.len != size - MESH_RELAY_HEADER)
		abort();
}

static void coordinator_forward(const uint8_t *data, size_t size)
{
	struct pkt pkt;
	uint32_t src = 0, dst = 0;
	int ret;

	load(&pkt, data, size);
	ret = relay_forward(&pkt, &src, &dst, coordinator_key, NULL);
	if (ret < 0) {
		check_unchanged(&pkt, size);
		return;
	}
	if (!key_of(src) || !key_of(dst) || src == dst || src != le32_at(before + 4) ||
	    dst != le32_at(before + 8) || pkt.len != size ||
	    memcmp(pkt.data, before, RELAY_MAC_OFFSET) ||
	    memcmp(pkt.data + MESH_RELAY_HEADER, before + MESH_RELAY_HEADER,
		   size - MESH_RELAY_HEADER))
		abort();
	if (relay_receive(&pkt, dst, node_key, &dst) < 0 || pkt.ep.relay_via != src)
		abort();
}

/* Wraps at the source, flips one byte, forwards, receives. */
static void round_trip(const uint8_t *data, size_t size)
{
	uint32_t src, dst, fwd_src = 0, fwd_dst = 0;
	size_t offset, payload;
	uint8_t flip;
	struct pkt pkt;
	bool arrived;

	if (size < 5 || size - 5 > MAX_FRAME - MESH_RELAY_HEADER)
		return;
	src = data[0];
	dst = data[1];
	offset = (size_t)data[2] << 8 | data[3];
	flip = data[4];
	payload = size - 5;
	load(&pkt, data + 5, payload);
	if (relay_wrap(&pkt, src, dst, key_of(src) ? key_of(src) : keys[0]) < 0) {
		if (src && dst && src != dst)
			abort();
		return;
	}
	if (offset < pkt.len)
		pkt.data[offset] ^= flip;
	arrived = relay_forward(&pkt, &fwd_src, &fwd_dst, coordinator_key, NULL) == 0 &&
		  relay_receive(&pkt, dst, node_key, &dst) == 0;
	if (arrived != (key_of(src) && key_of(dst) && (offset >= pkt.len || !flip)))
		abort();
	if (arrived && (pkt.len != payload || memcmp(pkt.data, before, payload) ||
			pkt.ep.relay_via != src || fwd_src != src || fwd_dst != dst))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > MAX_FRAME)
		return 0;
	switch (data[0] % TARGETS) {
	case NODE_RECEIVE:
		node_receive(data + 1, size - 1);
		break;
	case COORDINATOR_FORWARD:
		coordinator_forward(data + 1, size - 1);
		break;
	default:
		round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
