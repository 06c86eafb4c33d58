/* BLAKE2s hash/MAC/HMAC/KDF, X25519 and TAI64N, as used by WireGuard. */
#include "wg/crypto.h"

#include <blake2.h>
#include <endian.h>
#include <sodium.h>
#include <string.h>

void blake2s_hash(uint8_t out[BLAKE2S_HASH_LEN], const void *in, size_t len)
{
	blake2s(out, in, NULL, BLAKE2S_HASH_LEN, len, 0);
}

void blake2s_hash2(uint8_t out[BLAKE2S_HASH_LEN], const void *a, size_t alen, const void *b,
		   size_t blen)
{
	blake2s_state state;

	blake2s_init(&state, BLAKE2S_HASH_LEN);
	blake2s_update(&state, a, alen);
	blake2s_update(&state, b, blen);
	blake2s_final(&state, out, BLAKE2S_HASH_LEN);
	sodium_memzero(&state, sizeof(state));
}

void blake2s_mac(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
		 size_t len)
{
	blake2s(out, in, key, outlen, len, keylen);
}

void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const void *key, size_t keylen, const void *in,
		  size_t len)
{
	uint8_t x_key[BLAKE2S_BLOCK_LEN] = { 0 };
	uint8_t i_hash[BLAKE2S_HASH_LEN];
	blake2s_state state;

	if (keylen > BLAKE2S_BLOCK_LEN)
		blake2s_hash(x_key, key, keylen);
	else
		memcpy(x_key, key, keylen);

	for (size_t i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		x_key[i] ^= 0x36;
	blake2s_init(&state, BLAKE2S_HASH_LEN);
	blake2s_update(&state, x_key, BLAKE2S_BLOCK_LEN);
	blake2s_update(&state, in, len);
	blake2s_final(&state, i_hash, BLAKE2S_HASH_LEN);

	for (size_t i = 0; i < BLAKE2S_BLOCK_LEN; i++)
		x_key[i] ^= 0x5c ^ 0x36;
	blake2s_init(&state, BLAKE2S_HASH_LEN);
	blake2s_update(&state, x_key, BLAKE2S_BLOCK_LEN);
	blake2s_update(&state, i_hash, BLAKE2S_HASH_LEN);
	blake2s_final(&state, out, BLAKE2S_HASH_LEN);

	sodium_memzero(x_key, sizeof(x_key));
	sodium_memzero(i_hash, sizeof(i_hash));
	sodium_memzero(&state, sizeof(state));
}

void blake2s_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const void *data, size_t len,
		 const uint8_t ck[NOISE_HASH_LEN])
{
	uint8_t secret[BLAKE2S_HASH_LEN];
	uint8_t output[BLAKE2S_HASH_LEN + 1];

	/* Extract: secret = HMAC(ck, data). */
	blake2s_hmac(secret, ck, NOISE_HASH_LEN, data, len);

	/* Expand: T1 = HMAC(secret, 0x1). */
	output[0] = 1;
	blake2s_hmac(output, secret, sizeof(secret), output, 1);
	if (t1)
		memcpy(t1, output, BLAKE2S_HASH_LEN);
	if (!t2 && !t3)
		goto out;

	/* T2 = HMAC(secret, T1 || 0x2). */
	output[BLAKE2S_HASH_LEN] = 2;
	blake2s_hmac(output, secret, sizeof(secret), output, BLAKE2S_HASH_LEN + 1);
	if (t2)
		memcpy(t2, output, BLAKE2S_HASH_LEN);
	if (!t3)
		goto out;

	/* T3 = HMAC(secret, T2 || 0x3). */
	output[BLAKE2S_HASH_LEN] = 3;
	blake2s_hmac(output, secret, sizeof(secret), output, BLAKE2S_HASH_LEN + 1);
	memcpy(t3, output, BLAKE2S_HASH_LEN);
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(output, sizeof(output));
}

bool x25519_dh(uint8_t out[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
	       const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	/* libsodium fails (and leaves out undefined) on an all-zero result. */
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, NOISE_PUBLIC_KEY_LEN);
		return false;
	}
	return true;
}

void x25519_clamp(uint8_t priv[NOISE_PUBLIC_KEY_LEN])
{
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
}

bool x25519_public(uint8_t pub[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0;
}

void tai64n_from_timespec(uint8_t out[NOISE_TIMESTAMP_LEN], const struct timespec *ts)
{
	/* Largest power of two not above NSEC_PER_SEC / INITIATIONS_PER_SECOND. */
	uint32_t granularity = 1;
	while (granularity * 2 <= 1000000000u / INITIATIONS_PER_SECOND)
		granularity *= 2;

	uint64_t secs = htobe64(0x400000000000000aULL + (uint64_t)ts->tv_sec);
	uint32_t nsecs = htobe32((uint32_t)ts->tv_nsec / granularity * granularity);
	memcpy(out, &secs, sizeof(secs));
	memcpy(out + sizeof(secs), &nsecs, sizeof(nsecs));
}
