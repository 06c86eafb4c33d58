/*
 * A small, strict STUN codec (RFC 8489, RFC 5389): Binding requests out,
 * Binding success responses in, nothing else. The coordinator sends the
 * requests from its mesh UDP socket and reads the mapped address the
 * server saw (stunclient.h).
 *
 *   header  type (2) | length (2, of the attributes) | magic cookie (4) |
 *           transaction id (12)
 *   then    attributes: type (2) | length (2) | value, padded to 4 bytes
 *
 * A STUN message's first two bits are 0 and bytes 4..7 hold the cookie:
 * WireGuard messages (types 1..4, three zero bytes) and the mesh's own
 * datagrams (protocol.h, first byte >= 0x80) never look like one.
 *
 * What a response must be to be read: type 0x0101, a length that is a
 * multiple of 4 and matches the datagram, every attribute inside it, an
 * XOR-MAPPED-ADDRESS (or, from an RFC 3489 server, a MAPPED-ADDRESS) of 8
 * (IPv4) or 20 (IPv6) bytes, and a FINGERPRINT, when there is one, that is
 * the last attribute and matches. MESSAGE-INTEGRITY is skipped unchecked
 * (a Binding request without credentials gets none from a real server);
 * attributes after it other than FINGERPRINT are ignored, as RFC 8489 says.
 */
#ifndef MESHGATE_MESH_STUN_H
#define MESHGATE_MESH_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum {
	STUN_HEADER_LEN = 20,
	STUN_TXID_LEN = 12,
	STUN_MAGIC_COOKIE = 0x2112A442,
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_BINDING_ERROR = 0x0111,
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_FINGERPRINT_XOR = 0x5354554e,
	/* A response read here: the header and a few attributes. */
	STUN_MAX_LEN = 1500,
};

/* Whether buf looks like a STUN message: 20 bytes at least, the first two
 * bits 0, the cookie at bytes 4..7, and the length field matching len. */
bool stun_is_message(const uint8_t *buf, size_t len);

/* Writes a Binding request with the transaction id into out (at least
 * STUN_HEADER_LEN bytes); returns its length. */
size_t stun_binding_request(uint8_t *out, const uint8_t txid[STUN_TXID_LEN]);

/*
 * Reads a Binding success response: its transaction id into txid and the
 * mapped address (port included) into mapped. Returns 0, -EINVAL for
 * anything malformed (see above), -EPROTO for a well-formed STUN message
 * that is not a Binding success response (an error response), -ENOENT for
 * a response without a mapped address.
 */
int stun_parse_response(const uint8_t *buf, size_t len, uint8_t txid[STUN_TXID_LEN],
			union sockaddr_inet *mapped) __attribute__((warn_unused_result));

/* CRC-32 (ISO-HDLC, as zlib) of buf: FINGERPRINT is this XOR
 * STUN_FINGERPRINT_XOR. */
uint32_t stun_crc32(const uint8_t *buf, size_t len);

#endif
