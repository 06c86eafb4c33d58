/*
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with the
 * prologue "WireGuard v1 zx2c4 Jason@zx2c4.com".
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss, {t}        (initiation; payload: TAI64N timestamp)
 *     <- e, ee, se, psk, {}       (response; empty payload)
 *
 * Pure protocol code: the caller supplies ephemeral randomness, timestamps
 * and the monotonic clock, and finds peers through a lookup callback. MACs
 * are the cookie module's business (cookie.h). Indices are host byte order
 * in this API and little-endian on the wire.
 */
#ifndef MESHGATE_WG_NOISE_H
#define MESHGATE_WG_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/messages.h"

#define NOISE_WARN_UNUSED __attribute__((warn_unused_result))

/* The local static key pair, one per device. */
struct noise_static_identity {
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	bool has_identity;
};

/* Sets the private key (clamped copy) and derives the public key; -EINVAL if
 * unusable (all zero, which WireGuard uses for "no key"; the identity is then
 * cleared). */
int NOISE_WARN_UNUSED noise_static_identity_set(struct noise_static_identity *id,
						const uint8_t private_key[32]);
void noise_static_identity_clear(struct noise_static_identity *id);

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE
};

/* The handshake state of one peer. */
struct noise_handshake {
	enum noise_handshake_state state;
	uint64_t last_initiation_consumption; /* monotonic ns, flood check */
	const struct noise_static_identity *static_identity;
	uint8_t remote_static[32];
	uint8_t precomputed_static_static[32]; /* DH(s, rs); all zero when unusable */
	uint8_t preshared_key[32];
	uint8_t ephemeral_private[32];
	uint8_t remote_ephemeral[32];
	uint8_t hash[32];
	uint8_t chaining_key[32];
	/* Greatest TAI64N consumed from this peer; all zero until the first
	 * initiation is consumed (last_initiation_consumption is valid only
	 * from then on). */
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint32_t local_index;
	uint32_t remote_index;
};

/* Computes the initial chaining key and hash (Construction, Identifier) once;
 * call at start. Idempotent and thread-safe. */
void noise_init(void);

/* Prepares hs for a peer: copies keys, precomputes DH(s, rs). psk NULL means
 * all zeros. id may have no identity yet (precompute again once it has).
 * -EINVAL when remote_static is a low-order point (peer must be refused). */
int NOISE_WARN_UNUSED noise_handshake_init(struct noise_handshake *hs,
					   const struct noise_static_identity *id,
					   const uint8_t remote_static[32], const uint8_t psk[32]);
/* Recompute DH(s, rs) after the local identity changed (-EINVAL as above). */
int NOISE_WARN_UNUSED noise_handshake_precompute(struct noise_handshake *hs);
/* psk NULL means all zeros. */
void noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t psk[32]);
/* Forgets ephemeral state, hash, chaining key and both indices (state ZEROED);
 * keeps keys, psk, latest_timestamp and the flood time. */
void noise_handshake_clear(struct noise_handshake *hs);
/* Wipes everything. */
void noise_handshake_wipe(struct noise_handshake *hs);

/*
 * Builds an initiation (MACs left zero: the cookie module adds them).
 * ephemeral_private: 32 random bytes from the caller (clamped inside);
 * timestamp: TAI64N from tai64n_from_timespec. Sets state CREATED_INITIATION
 * and local_index. -ENOKEY without a local identity, -EINVAL when DH(s, rs)
 * is unusable, -EBADMSG when a DH fails; hs is untouched on error.
 */
int NOISE_WARN_UNUSED noise_create_initiation(struct message_handshake_initiation *dst,
					      struct noise_handshake *hs, uint32_t local_index,
					      const uint8_t ephemeral_private[32],
					      const uint8_t timestamp[NOISE_TIMESTAMP_LEN]);

/* Finds the handshake of the peer whose static key this is; NULL if unknown. */
typedef struct noise_handshake *(*noise_lookup_fn)(void *ctx, const uint8_t remote_static[32]);

/*
 * Consumes an initiation whose MACs were already checked. Works on copies and
 * commits into the peer's handshake only when everything passed. Errors:
 * -EBADMSG (decryption/DH failure), -ENOKEY (unknown static key, or no local
 * identity), -ESTALE (timestamp not greater than latest_timestamp: replay),
 * -EBUSY (less than 1/INITIATIONS_PER_SECOND after the last consumed one:
 * flood). On success *out is the peer's handshake, state CONSUMED_INITIATION,
 * remote_index set.
 */
int NOISE_WARN_UNUSED noise_consume_initiation(const struct message_handshake_initiation *src,
					       const struct noise_static_identity *id,
					       noise_lookup_fn lookup, void *lookup_ctx,
					       uint64_t now_ns, struct noise_handshake **out);

/* Builds the response to a consumed initiation; state CREATED_RESPONSE, MACs
 * zero. -EINVAL unless hs is in state CONSUMED_INITIATION; -EBADMSG when a DH
 * fails (hs untouched). */
int NOISE_WARN_UNUSED noise_create_response(struct message_handshake_response *dst,
					    struct noise_handshake *hs, uint32_t local_index,
					    const uint8_t ephemeral_private[32]);

/* Consumes a response for hs (which the caller found by receiver_index).
 * Requires state CREATED_INITIATION and receiver_index == hs->local_index
 * (-EINVAL otherwise); -EBADMSG on failure; computes on copies, commits on
 * success; state CONSUMED_RESPONSE, remote_index set. */
int NOISE_WARN_UNUSED noise_consume_response(const struct message_handshake_response *src,
					     struct noise_handshake *hs);

/* Transport keys of a new session. Wipe with sodium_memzero when done. */
struct noise_session_keys {
	uint8_t sending[32];
	uint8_t receiving[32];
	uint32_t local_index;
	uint32_t remote_index;
	bool is_initiator;
};

/* Derives transport keys (Noise Split) from a handshake in CREATED_RESPONSE
 * (responder) or CONSUMED_RESPONSE (initiator) state, then clears the
 * handshake's ephemeral state (state ZEROED). -EINVAL in any other state. */
int NOISE_WARN_UNUSED noise_begin_session(struct noise_handshake *hs,
					  struct noise_session_keys *out);

#endif
