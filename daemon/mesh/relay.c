/*
 * The mesh relay's datagrams: header, MAC, and the coordinator's forwarding
 * step; see relay.h for the format and the keys of each hop.
 */
#include "mesh/relay.h"

#include <blake2.h>
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wg/crypto.h"

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/* MAC(key, header without the MAC || payload) of the datagram at data. */
static void relay_mac(uint8_t out[RELAY_MAC_LEN], const uint8_t key[RELAY_KEY_LEN],
		      const uint8_t *data, uint32_t len)
{
	blake2s_state state;

	blake2s_init_key(&state, RELAY_MAC_LEN, key, RELAY_KEY_LEN);
	blake2s_update(&state, data, RELAY_MAC_OFFSET);
	blake2s_update(&state, data + MESH_RELAY_HEADER, len - MESH_RELAY_HEADER);
	blake2s_final(&state, out, RELAY_MAC_LEN);
	sodium_memzero(&state, sizeof(state));
}

int relay_key_derive(uint8_t out[RELAY_KEY_LEN], const struct mesh_dh *own,
		     const uint8_t other_public[32])
{
	static const char label[] = RELAY_KEY_LABEL;
	uint8_t shared[32];
	int ret = -EINVAL;

	if (!own->fn(own->ctx, shared, other_public))
		goto out;
	blake2s_mac(out, RELAY_KEY_LEN, shared, sizeof(shared), label, sizeof(label) - 1);
	ret = 0;
out:
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

int relay_wrap(struct pkt *pkt, uint32_t src_id, uint32_t dst_id, const uint8_t key[RELAY_KEY_LEN])
{
	uint8_t *h;

	if (!src_id || !dst_id || src_id == dst_id)
		return -EINVAL;
	if (pkt->data - pkt->buf < MESH_RELAY_HEADER)
		return -ENOSPC;
	pkt->data -= MESH_RELAY_HEADER;
	pkt->len += MESH_RELAY_HEADER;
	h = pkt->data;
	put_le32(h, MESH_RELAY);
	put_le32(h + 4, src_id);
	put_le32(h + 8, dst_id);
	relay_mac(h + RELAY_MAC_OFFSET, key, h, pkt->len);
	return 0;
}

/* Reads the ids of a well-formed relay header: the right type, two distinct
 * nonzero ids. Says nothing about authenticity. */
static bool parse_header(const struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id)
{
	if (pkt->len < MESH_RELAY_HEADER || get_le32(pkt->data) != MESH_RELAY)
		return false;
	*src_id = get_le32(pkt->data + 4);
	*dst_id = get_le32(pkt->data + 8);
	return *src_id && *dst_id && *src_id != *dst_id;
}

static bool mac_valid(const struct pkt *pkt, const uint8_t *key)
{
	uint8_t mac[RELAY_MAC_LEN];
	bool ok;

	if (!key)
		return false;
	relay_mac(mac, key, pkt->data, pkt->len);
	ok = sodium_memcmp(mac, pkt->data + RELAY_MAC_OFFSET, RELAY_MAC_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

/* Parses and authenticates with the source's key; nothing is changed. */
static int relay_verify(const struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id,
			relay_key_fn key_for, void *ctx)
{
	uint32_t src, dst;

	if (!parse_header(pkt, &src, &dst) || !mac_valid(pkt, key_for(ctx, src)))
		return -EBADMSG;
	*src_id = src;
	*dst_id = dst;
	return 0;
}

int relay_unwrap(struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id, relay_key_fn key_for,
		 void *ctx)
{
	int ret = relay_verify(pkt, src_id, dst_id, key_for, ctx);

	if (ret < 0)
		return ret;
	pkt->data += MESH_RELAY_HEADER;
	pkt->len -= MESH_RELAY_HEADER;
	return 0;
}

int relay_receive(struct pkt *pkt, uint32_t own_id, relay_key_fn key_for, void *ctx)
{
	uint32_t src, dst;

	/* Checked before the MAC: a datagram for someone else is not ours to
	 * verify, and ours carry our id. */
	if (!own_id || !parse_header(pkt, &src, &dst) || dst != own_id)
		return -EBADMSG;
	if (relay_unwrap(pkt, &src, &dst, key_for, ctx) < 0)
		return -EBADMSG;
	pkt->ep.relay_via = src;
	return 0;
}

int relay_forward(struct pkt *pkt, uint32_t *src_id, uint32_t *dst_id, relay_key_fn key_for,
		  void *ctx)
{
	const uint8_t *dst_key;
	uint32_t src, dst;
	int ret;

	ret = relay_verify(pkt, &src, &dst, key_for, ctx);
	if (ret < 0)
		return ret;
	dst_key = key_for(ctx, dst);
	if (!dst_key)
		return -EHOSTUNREACH;
	/* Same header, same payload: only the MAC changes to the next hop's. */
	relay_mac(pkt->data + RELAY_MAC_OFFSET, dst_key, pkt->data, pkt->len);
	*src_id = src;
	*dst_id = dst;
	return 0;
}
