/*
 * The primitives WireGuard builds on, as named in the whitepaper:
 * HASH and MAC (BLAKE2s, from libb2: libsodium has only BLAKE2b), HMAC and
 * the HKDF-style KDF over HMAC-BLAKE2s, DH (X25519, libsodium) and TAI64N.
 * AEAD is used straight from libsodium (ChaCha20-Poly1305 IETF, XChaCha20).
 */
#ifndef MESHGATE_WG_CRYPTO_H
#define MESHGATE_WG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wg/messages.h"

enum { BLAKE2S_HASH_LEN = 32, BLAKE2S_BLOCK_LEN = 64 };

/* HASH(in): unkeyed BLAKE2s-256. */
void blake2s_hash(uint8_t out[BLAKE2S_HASH_LEN], const void *in, size_t len);

/* HASH(a || b) without building the concatenation. */
void blake2s_hash2(uint8_t out[BLAKE2S_HASH_LEN], const void *a, size_t alen, const void *b,
		   size_t blen);

/* MAC(key, in): keyed BLAKE2s with an outlen-byte digest (16 for MAC1/MAC2). */
void blake2s_mac(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
		 size_t len);

/* HMAC(key, in) per RFC 2104 with BLAKE2s-256 as the hash. */
void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const void *key, size_t keylen, const void *in,
		  size_t len);

/*
 * KDF_n(ck, data) from the whitepaper: t0 = HMAC(ck, data);
 * t1 = HMAC(t0, 0x1); t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3).
 * Outputs that are NULL are not computed past the last one asked for.
 */
void blake2s_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const void *data, size_t len,
		 const uint8_t ck[NOISE_HASH_LEN]);

/* DH(priv, pub). Returns false when the result is all zeros (a low-order
 * public key), which the protocol must treat as a failure. */
bool __attribute__((warn_unused_result))
x25519_dh(uint8_t out[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
	  const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);

/* Clamps 32 random bytes into an X25519 private key. */
void x25519_clamp(uint8_t priv[NOISE_PUBLIC_KEY_LEN]);

/* Public key of a private key; false for a private key that yields zero. */
bool __attribute__((warn_unused_result))
x25519_public(uint8_t pub[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN]);

/*
 * TAI64N label of a wall-clock time. The nanoseconds are rounded down to a
 * power of two below 1/INITIATIONS_PER_SECOND so a timestamp reveals little
 * about the host's clock, as the reference implementations do.
 */
void tai64n_from_timespec(uint8_t out[NOISE_TIMESTAMP_LEN], const struct timespec *ts);

#endif
