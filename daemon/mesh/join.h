/*
 * The join datagrams, on the coordinator's WireGuard UDP port (protocol.h):
 *
 *   JOIN_REQUEST   type (4, LE) | joiner public key (32) | nonce (24) |
 *                  crypto_box(joiner -> coordinator) of
 *                    invite id (8, LE) | secret (32) |
 *                    timestamp (8, LE, unix seconds) | hello JSON |
 *                  mac1 (16) | mac2 (16)
 *   JOIN_RESPONSE  type (4, LE) | nonce (24) |
 *                  crypto_box(coordinator -> joiner) of the result JSON
 *   JOIN_COOKIE    type (4, LE) | nonce (24) |
 *                  XChaCha20-Poly1305(HASH("mgjcook-" || coordinator key),
 *                    nonce, cookie (16), AD = the request's mac1) (32)
 *
 * mac1 and mac2 are WireGuard's (wg/cookie.h) with labels of the join's own:
 * mac1 = MAC(HASH("mgjoin1-" || coordinator public key), request up to
 * mac1), so only a sender that knows the coordinator's key makes one and
 * the coordinator checks it before any public-key work; mac2 = MAC(cookie,
 * request up to mac2), zero without a cookie. A coordinator busy with joins
 * answers a request without a valid mac2 with a JOIN_COOKIE (the cookie
 * binds the joiner's source address and port), and the joiner sends again
 * with mac2. A joiner sends one request (one nonce) to all the invite's
 * endpoints per attempt.
 *
 * Both directions use one X25519 shared key (joiner and coordinator static
 * keys), so every message needs a fresh random nonce (randombytes_buf): a
 * response must never reuse the request's nonce. Each datagram is at most
 * MESH_JOIN_MAX bytes.
 *
 * hello: {"hostname": "laptop", "routes": ["192.168.1.0/24"],
 *         "exit_node": false, "endpoints": ["192.168.1.20:41641"]}
 * result: {"ok": true, "name": "laptop", "addresses": [...],
 *          "coordinator": {"public_key": ..., "addresses": [...],
 *                          "endpoints": [...], "sign_key": "<Ed25519, b64>"},
 *          "netmap": <netmap wire message>}
 *      or {"ok": false, "error": "this invite has expired"}.
 *
 * These functions check the envelope: keys, boxes, sizes, the timestamp and
 * that hello and result are JSON objects (result with a boolean "ok"). The
 * members are the caller's to validate. The macs are the caller's to check
 * first (the coordinator's join gate, joingate.h), which also refuses a
 * request whose nonce it has opened before within the clock window.
 */
#ifndef MESHGATE_MESH_JOIN_H
#define MESHGATE_MESH_JOIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mesh/dh.h"
#include "mesh/protocol.h"
#include "wg/cookie.h"

enum {
	JOIN_HEADER_LEN = 4,
	JOIN_MACS_LEN = COOKIE_MACS_LEN,
	JOIN_NONCE_AT = JOIN_HEADER_LEN + KEY_LEN,
	JOIN_REQUEST_FIXED = JOIN_HEADER_LEN + KEY_LEN + MESH_NONCE_LEN + MESH_BOX_OVERHEAD + 8 +
			     MESH_SECRET_LEN + 8 + JOIN_MACS_LEN,
	JOIN_COOKIE_LEN = JOIN_HEADER_LEN + COOKIE_NONCE_LEN + COOKIE_ENCRYPTED_LEN,
	JOIN_HELLO_MAX = MESH_JOIN_MAX - JOIN_REQUEST_FIXED,
	JOIN_RESPONSE_FIXED = JOIN_HEADER_LEN + MESH_NONCE_LEN + MESH_BOX_OVERHEAD,
	JOIN_RESULT_MAX = MESH_JOIN_MAX - JOIN_RESPONSE_FIXED,
};

struct join_request {
	uint8_t joiner_key[KEY_LEN];
	uint64_t invite_id;
	uint8_t secret[MESH_SECRET_LEN];
	int64_t timestamp;
	json_t *hello; /* an object; owned (join_request_clear() releases it) */
};

/* The join's mac1 and cookie key labels ("mgjoin1-", "mgjcook-"). */
extern const struct cookie_labels join_cookie_labels;

/*
 * Builds a JOIN_REQUEST into buf, with mac1 and a zero mac2 (a joiner
 * holding a cookie sets both again with cookie_add_macs()). The hello is serialised compactly; when
 * the datagram would exceed MESH_JOIN_MAX (or cap), -EMSGSIZE. -EINVAL when
 * hello is not an object or the keys give no shared secret (a low-order
 * coordinator key).
 */
int join_request_create(uint8_t *buf, size_t cap, size_t *len, const struct join_request *req,
			const struct mesh_dh *joiner_dh, const uint8_t coordinator_pub[KEY_LEN],
			const uint8_t nonce[MESH_NONCE_LEN]) __attribute__((warn_unused_result));

/*
 * Opens a JOIN_REQUEST on the coordinator. -EBADMSG for anything that is
 * not one, does not decrypt (a low-order joiner key included), carries a
 * joiner key in a non-canonical form (top bit set, or not below 2^255 - 19)
 * or does not parse: the caller then stays silent. -ESTALE when the timestamp is more
 * than MESH_JOIN_CLOCK_SKEW seconds from now; out is filled then, so the
 * caller may check the invite and tell a genuine joiner that the clocks
 * differ. Otherwise out is left zeroed on error. Release out with
 * join_request_clear() after 0 and -ESTALE.
 */
int join_request_open(const uint8_t *msg, size_t len, const struct mesh_dh *coordinator_dh,
		      int64_t now, struct join_request *out) __attribute__((warn_unused_result));

/* The nonce of a datagram of at least JOIN_REQUEST_FIXED bytes. */
static inline const uint8_t *join_request_nonce(const uint8_t *msg)
{
	return msg + JOIN_NONCE_AT;
}

/*
 * Builds a JOIN_COOKIE into buf (cap >= JOIN_COOKIE_LEN) answering the
 * request msg (its mac1 valid) from the source src (cookie_source_from_
 * sockaddr()). nonce: COOKIE_NONCE_LEN random bytes; random_secret as for
 * cookie_validate_macs(). -EINVAL for a request too short, -EMSGSIZE.
 */
int join_cookie_create(uint8_t *buf, size_t cap, size_t *len, const uint8_t *msg, size_t msg_len,
		       const uint8_t *src, size_t src_len, struct cookie_checker *checker,
		       uint64_t now_ns, const uint8_t nonce[COOKIE_NONCE_LEN],
		       const uint8_t random_secret[32]) __attribute__((warn_unused_result));

/*
 * Takes a JOIN_COOKIE on the joiner: ck (cookie_init_labels() with
 * join_cookie_labels and the coordinator's key) then holds the cookie for
 * the next request's mac2. -EBADMSG for anything else, -EINVAL when no
 * request was sent since the last cookie.
 */
int join_cookie_consume(const uint8_t *msg, size_t len, struct cookie *ck, uint64_t now_ns)
    __attribute__((warn_unused_result));

/* Wipes the secret and releases the hello; NULL-safe. */
void join_request_clear(struct join_request *req);

/*
 * Builds a JOIN_RESPONSE carrying result into buf. A netmap makes the
 * result grow with the mesh: when the datagram would exceed MESH_JOIN_MAX
 * (or cap), it is sent without the "netmap" member, and the node receives
 * the netmap over the control channel once it is connected. -EMSGSIZE when
 * even that does not fit; -EINVAL for a result without a boolean "ok" or a
 * low-order joiner key.
 */
int join_response_create(uint8_t *buf, size_t cap, size_t *len, const json_t *result,
			 const struct mesh_dh *coordinator_dh, const uint8_t joiner_pub[KEY_LEN],
			 const uint8_t nonce[MESH_NONCE_LEN]) __attribute__((warn_unused_result));

/*
 * Opens a JOIN_RESPONSE on the joiner: *result is a new reference to an
 * object with a boolean "ok". -EBADMSG for anything else.
 */
int join_response_open(const uint8_t *msg, size_t len, const struct mesh_dh *joiner_dh,
		       const uint8_t coordinator_pub[KEY_LEN], json_t **result)
    __attribute__((warn_unused_result));

#endif
