/* STUN Binding requests and responses; see stun.h. */
#include "mesh/stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "bigendian.h"

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
	}
	return ~crc;
}

bool stun_is_message(const uint8_t *buf, size_t len)
{
	return len >= STUN_HEADER_LEN && len <= STUN_MAX_LEN && (buf[0] & 0xc0) == 0 &&
	       get_be32(buf + 4) == STUN_MAGIC_COOKIE && get_be16(buf + 2) % 4 == 0 &&
	       (size_t)get_be16(buf + 2) + STUN_HEADER_LEN == len;
}

size_t stun_binding_request(uint8_t *out, const uint8_t txid[STUN_TXID_LEN])
{
	put_be16(out, STUN_BINDING_REQUEST);
	put_be16(out + 2, 0);
	put_be32(out + 4, STUN_MAGIC_COOKIE);
	memcpy(out + 8, txid, STUN_TXID_LEN);
	return STUN_HEADER_LEN;
}

/* Reads an (XOR-)MAPPED-ADDRESS value; -EINVAL when it is not one. */
static int address_parse(const uint8_t *v, size_t len, bool xored, const uint8_t *header,
			 union sockaddr_inet *out)
{
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (len < 4 || v[0] != 0)
		return -EINVAL;
	port = get_be16(v + 2);
	if (xored)
		port ^= STUN_MAGIC_COOKIE >> 16;
	if (v[1] == 0x01 && len == 8) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		memcpy(&out->in.sin_addr, v + 4, 4);
		for (int i = 0; xored && i < 4; i++)
			((uint8_t *)&out->in.sin_addr)[i] ^= header[4 + i];
		return 0;
	}
	if (v[1] == 0x02 && len == 20) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		memcpy(&out->in6.sin6_addr, v + 4, 16);
		/* The key is the cookie and the transaction id: header bytes 4..19. */
		for (int i = 0; xored && i < 16; i++)
			out->in6.sin6_addr.s6_addr[i] ^= header[4 + i];
		return 0;
	}
	return -EINVAL;
}

struct found {
	bool xored, plain, integrity;
	union sockaddr_inet xor_addr, addr;
};

/* One attribute at buf + off (its header inside the message); -EINVAL
 * when it is malformed. */
static int attribute_read(const uint8_t *buf, size_t len, size_t off, struct found *f)
{
	uint16_t type = get_be16(buf + off), alen = get_be16(buf + off + 2);
	const uint8_t *v = buf + off + 4;

	if (type == STUN_ATTR_FINGERPRINT)
		return alen == 4 && off + 8 == len &&
			       get_be32(v) == (stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR)
			   ? 0
			   : -EINVAL;
	if (f->integrity) /* after MESSAGE-INTEGRITY: ignored */
		return 0;
	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		f->integrity = true;
	else if (type == STUN_ATTR_XOR_MAPPED_ADDRESS && !f->xored) {
		if (address_parse(v, alen, true, buf, &f->xor_addr) < 0)
			return -EINVAL;
		f->xored = true;
	} else if (type == STUN_ATTR_MAPPED_ADDRESS && !f->plain) {
		if (address_parse(v, alen, false, buf, &f->addr) < 0)
			return -EINVAL;
		f->plain = true;
	}
	return 0;
}

int stun_parse_response(const uint8_t *buf, size_t len, uint8_t txid[STUN_TXID_LEN],
			union sockaddr_inet *mapped)
{
	struct found f = { 0 };
	size_t off = STUN_HEADER_LEN, alen;

	memset(mapped, 0, sizeof(*mapped));
	if (!stun_is_message(buf, len))
		return -EINVAL;
	while (off < len) {
		if (len - off < 4)
			return -EINVAL;
		alen = get_be16(buf + off + 2);
		if ((alen + 3) / 4 * 4 > len - off - 4)
			return -EINVAL;
		if (attribute_read(buf, len, off, &f) < 0)
			return -EINVAL;
		off += 4 + (alen + 3) / 4 * 4;
	}
	if (get_be16(buf) != STUN_BINDING_SUCCESS)
		return -EPROTO;
	memcpy(txid, buf + 8, STUN_TXID_LEN);
	if (!f.xored && !f.plain)
		return -ENOENT;
	*mapped = f.xored ? f.xor_addr : f.addr;
	return 0;
}
