/*
 * Invite codes: what `meshgate invite` prints and `meshgate join` reads.
 *
 *   "mg1-" base64url (no padding) of
 *     version (1, = 1) | coordinator WireGuard public key (32) |
 *     invite id (8, little-endian) | secret (32) | endpoint count (1, <= 8) |
 *     per endpoint: length (1) | "HOST:PORT" text (as endpoint_parse reads,
 *     numeric or a DNS name; at most 255 bytes)
 *
 * The code is a bearer credential: whoever holds it may join once (or until
 * it expires). The coordinator keeps only invite_secret_hash() of the
 * secret. There is no checksum: a damaged code that still decodes holds a
 * wrong secret or key, and the coordinator then stays silent.
 */
#ifndef MESHGATE_MESH_INVITE_H
#define MESHGATE_MESH_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mesh/protocol.h"
#include "netaddr.h"

enum {
	INVITE_VERSION = 1,
	INVITE_MAX_ENDPOINTS = 8,
	INVITE_ENDPOINT_TEXT_MAX = 255, /* the length byte */
	INVITE_HASH_LEN = 32,
	INVITE_FIXED_LEN = 1 + KEY_LEN + 8 + MESH_SECRET_LEN + 1,
	INVITE_BINARY_MAX =
	    INVITE_FIXED_LEN + INVITE_MAX_ENDPOINTS * (1 + INVITE_ENDPOINT_TEXT_MAX),
	/* "mg1-", base64 without padding of the largest binary, the NUL. */
	INVITE_CODE_MAX = 4 + (INVITE_BINARY_MAX * 4 + 2) / 3 + 1,
};

struct invite {
	uint8_t coordinator_key[KEY_LEN];
	uint64_t id;
	uint8_t secret[MESH_SECRET_LEN];
	struct endpoint endpoints[INVITE_MAX_ENDPOINTS];
	size_t n_endpoints;
};

/*
 * Fills inv for a new invite: the coordinator's key, a copy of the
 * endpoints and a fresh random secret. The id is 0: the registry numbers
 * invites (registry_invite_add() with invite_secret_hash() of the secret),
 * and the caller stores that number in inv->id before encoding. -EINVAL
 * for more than INVITE_MAX_ENDPOINTS endpoints or one whose text does not
 * fit a length byte. Wipe inv with invite_clear().
 */
int invite_generate(struct invite *inv, const uint8_t coordinator_key[KEY_LEN],
		    const struct endpoint *endpoints, size_t n_endpoints)
    __attribute__((warn_unused_result));

/* Wipes inv (its secret). */
void invite_clear(struct invite *inv);

/*
 * Writes the code of inv into out (INVITE_CODE_MAX is always enough).
 * Returns 0, -ENOSPC when len is too small, or -EINVAL for an invite that
 * cannot be encoded (too many endpoints, an endpoint text over 255 bytes).
 */
int invite_encode(const struct invite *inv, char *out, size_t len)
    __attribute__((warn_unused_result));

/*
 * Reads a code (white space around it is ignored). Returns 0 or -EINVAL
 * with a message for the user in errbuf; inv is wiped on error.
 */
int invite_decode(const char *code, struct invite *inv, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Where an invite's endpoint comes from (`meshgate invite` says). */
enum invite_source {
	INVITE_FROM_CONFIG, /* coordinator.endpoints */
	INVITE_FROM_STUN,   /* the public address STUN learned */
	INVITE_FROM_LOCAL,  /* an address of the host's interfaces */
};

/* "config", "stun" or "local". */
const char *invite_source_name(enum invite_source src);

/*
 * An invite's endpoints in the order a joiner tries them: the configured
 * ones, then the STUN one (stun may be NULL), then the local ones; each
 * once, at most max. A STUN endpoint that is one of the local ones (no NAT)
 * is listed as local. src[i] says where out[i] came from. Returns how many.
 */
size_t invite_endpoints_order(const struct endpoint *config, size_t n_config,
			      const struct endpoint *stun, const struct endpoint *local,
			      size_t n_local, struct endpoint *out, enum invite_source *src,
			      size_t max);

/*
 * Whether an endpoint may be reached from the internet: a name (it is the
 * admin's to say), or an address outside RFC 1918, CGNAT (100.64.0.0/10),
 * loopback, link-local, ULA (fc00::/7), unspecified and multicast. An
 * IPv4-mapped IPv6 address is judged as its IPv4 address.
 */
bool invite_endpoint_global(const struct endpoint *ep);

/* What the registry stores instead of the secret: BLAKE2b-256 keyed with a
 * constant naming this use, so the hash means nothing elsewhere. */
void invite_secret_hash(const uint8_t secret[MESH_SECRET_LEN], uint8_t out[INVITE_HASH_LEN]);

#endif
