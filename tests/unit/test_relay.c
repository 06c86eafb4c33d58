/*
 * Relay datagrams: the key derivation (known answer, symmetry, low-order
 * keys), wrap/unwrap round trips with a known MAC, every single-byte change
 * and every short length rejected with the packet left as it was, the node's
 * receive step and the coordinator's forwarding step.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "mesh/relay.h"
#include "test_dh.h"
#include "testlib.h"
#include "wg/crypto.h"

enum { SLOT = 256, ID_A = 7, ID_B = 9, ID_UNKNOWN = 11 };

struct keyring {
	uint8_t key_a[RELAY_KEY_LEN]; /* node A with the coordinator */
	uint8_t key_b[RELAY_KEY_LEN]; /* node B with the coordinator */
	unsigned lookups;
};

/* The coordinator's view: every registered node's key. */
static const uint8_t *coordinator_key(void *ctx, uint32_t node_id)
{
	struct keyring *k = ctx;

	k->lookups++;
	if (node_id == ID_A)
		return k->key_a;
	if (node_id == ID_B)
		return k->key_b;
	return NULL;
}

/* Node B's view: its own key, for datagrams from A (its only relayed peer). */
static const uint8_t *node_b_key(void *ctx, uint32_t node_id)
{
	struct keyring *k = ctx;

	return node_id == ID_A ? k->key_b : NULL;
}

static void keyring_init(struct keyring *k)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < RELAY_KEY_LEN; i++) {
		k->key_a[i] = (uint8_t)(0xa0 + i);
		k->key_b[i] = (uint8_t)(0xb0 + i);
	}
}

static const uint8_t payload[20] = { 4, 0, 0, 0, 0,  1,  2,  3,  4,  5,
				     6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* A packet in a slot with full headroom, holding the payload. */
static void pkt_init(struct pkt *pkt, uint8_t *slot)
{
	memset(pkt, 0, sizeof(*pkt));
	memset(slot, 0, SLOT);
	pkt->buf = slot;
	pkt->cap = SLOT;
	pkt_reset(pkt);
	memcpy(pkt->data, payload, sizeof(payload));
	pkt->len = sizeof(payload);
}

static void clamped(uint8_t priv[32], uint8_t first)
{
	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(first + i);
	x25519_clamp(priv);
}

/*
 * Known answer computed with Python (cryptography's X25519, hashlib.blake2s):
 *   a, c = clamp(bytes(range(1, 33))), clamp(bytes(range(101, 133)))
 *   key = blake2s(b"meshgate relay v1", key=X25519(a, C)).digest()
 */
static void test_key_derive(void)
{
	static const char *want_hex =
	    "afe0858b3660759efcd708d64d80c08a782c0d902ce74667e234081a7d400718";
	uint8_t a_priv[32], c_priv[32], b_priv[32], a_pub[32], c_pub[32], b_pub[32];
	uint8_t ac[32], ca[32], bc[32], want[32], zero[32] = { 0 };

	clamped(a_priv, 1);
	clamped(c_priv, 101);
	clamped(b_priv, 201);
	CHECK(x25519_public(a_pub, a_priv) && x25519_public(c_pub, c_priv) &&
	      x25519_public(b_pub, b_priv));
	CHECK_EQ_INT(test_unhex(want_hex, want, sizeof(want)), 32);

	CHECK_EQ_INT(relay_key_derive(ac, DH_OF(a_priv), c_pub), 0);
	CHECK_MEM(ac, want, 32);
	CHECK_EQ_INT(relay_key_derive(ca, DH_OF(c_priv), a_pub), 0);
	CHECK_MEM(ca, ac, 32);
	CHECK_EQ_INT(relay_key_derive(bc, DH_OF(b_priv), c_pub), 0);
	CHECK(memcmp(bc, ac, 32) != 0);

	/* A low-order public key gives a zero DH result. */
	CHECK_EQ_INT(relay_key_derive(bc, DH_OF(a_priv), zero), -EINVAL);
}

/*
 * Known answer: blake2s(pack("<III", 0x83, 7, 9) + payload, key=key_a,
 * digest_size=16) with key_a = bytes(range(0xa0, 0xc0)).
 */
static void test_wrap_unwrap(void)
{
	static const char *mac_hex = "958a883a77cae97d94aeafe7196bb7d1";
	struct keyring k;
	uint8_t slot[SLOT], want_mac[16];
	uint32_t src = 0, dst = 0, word;
	struct pkt pkt;
	uint8_t *start;

	keyring_init(&k);
	CHECK_EQ_INT(test_unhex(mac_hex, want_mac, sizeof(want_mac)), 16);
	pkt_init(&pkt, slot);
	start = pkt.data;
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	CHECK(pkt.data == start - MESH_RELAY_HEADER);
	CHECK_EQ_INT(pkt.len, sizeof(payload) + MESH_RELAY_HEADER);
	memcpy(&word, pkt.data, 4);
	CHECK_EQ_INT(le32toh(word), MESH_RELAY);
	memcpy(&word, pkt.data + 4, 4);
	CHECK_EQ_INT(le32toh(word), ID_A);
	memcpy(&word, pkt.data + 8, 4);
	CHECK_EQ_INT(le32toh(word), ID_B);
	CHECK_MEM(pkt.data + RELAY_MAC_OFFSET, want_mac, 16);
	CHECK_MEM(pkt.data + MESH_RELAY_HEADER, payload, sizeof(payload));

	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, coordinator_key, &k), 0);
	CHECK_EQ_INT(src, ID_A);
	CHECK_EQ_INT(dst, ID_B);
	CHECK(pkt.data == start);
	CHECK_EQ_INT(pkt.len, sizeof(payload));
	CHECK_MEM(pkt.data, payload, sizeof(payload));
}

static void test_wrap_refuses(void)
{
	struct keyring k;
	uint8_t slot[SLOT];
	struct pkt pkt;

	keyring_init(&k);
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, 0, ID_B, k.key_a), -EINVAL);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, 0, k.key_a), -EINVAL);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_A, k.key_a), -EINVAL);
	/* Headroom one byte short of a header. */
	pkt.data = pkt.buf + MESH_RELAY_HEADER - 1;
	memcpy(pkt.data, payload, sizeof(payload));
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), -ENOSPC);
	CHECK(pkt.data == pkt.buf + MESH_RELAY_HEADER - 1);
	CHECK_EQ_INT(pkt.len, sizeof(payload));
	/* Exactly a header's worth works. */
	pkt.data = pkt.buf + MESH_RELAY_HEADER;
	memcpy(pkt.data, payload, sizeof(payload));
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	CHECK(pkt.data == pkt.buf);
}

/* Every single-bit change anywhere in the datagram is refused, and the
 * packet stays as it was. */
static void test_tampering(void)
{
	struct keyring k;
	uint8_t slot[SLOT], copy[SLOT];
	uint32_t src, dst;
	struct pkt pkt;
	unsigned refused = 0, total;

	keyring_init(&k);
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	memcpy(copy, slot, SLOT);
	total = pkt.len * 8;
	for (unsigned bit = 0; bit < total; bit++) {
		pkt.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		refused += relay_unwrap(&pkt, &src, &dst, coordinator_key, &k) == -EBADMSG;
		pkt.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_EQ_INT(refused, total);
	CHECK(pkt.data == pkt.buf + PKT_HEADROOM - MESH_RELAY_HEADER);
	CHECK_MEM(slot, copy, SLOT);

	/* The right MAC under the wrong key: B's key for A's datagram. */
	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, node_b_key, &k), -EBADMSG);
	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, coordinator_key, &k), 0);
}

static void test_short_and_unknown(void)
{
	struct keyring k;
	uint8_t slot[SLOT];
	uint32_t src, dst, len;
	struct pkt pkt;
	unsigned refused = 0;

	keyring_init(&k);
	pkt_init(&pkt, slot);
	pkt.len = 0; /* an empty payload is a valid relay datagram */
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	len = pkt.len;
	CHECK_EQ_INT(len, MESH_RELAY_HEADER);
	for (pkt.len = 0; pkt.len < len; pkt.len++)
		refused += relay_unwrap(&pkt, &src, &dst, coordinator_key, &k) == -EBADMSG;
	CHECK_EQ_INT(refused, len);
	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, coordinator_key, &k), 0);
	CHECK_EQ_INT(pkt.len, 0);

	/* A source the key lookup does not know: refused before any MAC. */
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_UNKNOWN, ID_B, k.key_a), 0);
	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, coordinator_key, &k), -EBADMSG);
}

static void test_receive(void)
{
	struct keyring k;
	uint8_t slot[SLOT];
	struct pkt pkt;

	keyring_init(&k);
	/* As forwarded by the coordinator: A -> B under B's key. */
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_b), 0);
	CHECK_EQ_INT(relay_receive(&pkt, ID_A, node_b_key, &k), -EBADMSG); /* not for A */
	CHECK_EQ_INT(relay_receive(&pkt, 0, node_b_key, &k), -EBADMSG);
	CHECK_EQ_INT(pkt.ep.relay_via, 0);
	CHECK_EQ_INT(relay_receive(&pkt, ID_B, node_b_key, &k), 0);
	CHECK_EQ_INT(pkt.ep.relay_via, ID_A);
	CHECK(wg_endpoint_is_relay(&pkt.ep));
	CHECK_MEM(pkt.data, payload, sizeof(payload));

	/* What A sent the coordinator does not pass at B unforwarded. */
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	CHECK_EQ_INT(relay_receive(&pkt, ID_B, node_b_key, &k), -EBADMSG);
}

static void test_forward(void)
{
	struct keyring k;
	uint8_t slot[SLOT], copy[SLOT];
	uint32_t src = 0, dst = 0;
	struct pkt pkt;
	uint8_t *wrapped;

	keyring_init(&k);
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_a), 0);
	wrapped = pkt.data;
	CHECK_EQ_INT(relay_forward(&pkt, &src, &dst, coordinator_key, &k), 0);
	CHECK_EQ_INT(src, ID_A);
	CHECK_EQ_INT(dst, ID_B);
	CHECK(pkt.data == wrapped);
	CHECK_EQ_INT(pkt.len, sizeof(payload) + MESH_RELAY_HEADER);
	/* Now B's: the coordinator's check with A's key fails, B's passes. */
	CHECK_EQ_INT(relay_unwrap(&pkt, &src, &dst, coordinator_key, &k), -EBADMSG);
	CHECK_EQ_INT(relay_receive(&pkt, ID_B, node_b_key, &k), 0);
	CHECK_EQ_INT(pkt.ep.relay_via, ID_A);
	CHECK_MEM(pkt.data, payload, sizeof(payload));

	/* An unknown destination: refused, packet unchanged. */
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_UNKNOWN, k.key_a), 0);
	memcpy(copy, slot, SLOT);
	CHECK_EQ_INT(relay_forward(&pkt, &src, &dst, coordinator_key, &k), -EHOSTUNREACH);
	CHECK_MEM(slot, copy, SLOT);

	/* A forged one: refused, packet unchanged. */
	pkt_init(&pkt, slot);
	CHECK_EQ_INT(relay_wrap(&pkt, ID_A, ID_B, k.key_b), 0);
	memcpy(copy, slot, SLOT);
	CHECK_EQ_INT(relay_forward(&pkt, &src, &dst, coordinator_key, &k), -EBADMSG);
	CHECK_MEM(slot, copy, SLOT);
}

int main(void)
{
	RUN(test_key_derive);
	RUN(test_wrap_unwrap);
	RUN(test_wrap_refuses);
	RUN(test_tampering);
	RUN(test_short_and_unknown);
	RUN(test_receive);
	RUN(test_forward);
	return test_summary();
}
