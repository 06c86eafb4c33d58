/*
 * The WireGuard handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s.
 *
 * The lower half is the IKpsk2 pattern with the prologue and payloads as
 * parameters (noise_internal.h), so it can be checked against the public
 * Noise test vectors; the upper half wraps it into WireGuard messages and
 * adds the replay and flood checks on initiations.
 *
 * Every handshake AEAD uses nonce 0: each encryption follows a MixKey, which
 * resets the Noise cipher state's counter.
 */
#include "wg/noise.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>

#include "timeutil.h"
#include "wg/crypto.h"
#include "wg/noise_internal.h"

/* The protocol name is longer than HASHLEN, so InitializeSymmetric hashes it. */
static const char noise_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char wg_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* Read-only once noise_init() has run. */
static struct noise_ik_params wg_params;
static pthread_once_t wg_params_once = PTHREAD_ONCE_INIT;

/* ---- Symmetric state operations (Noise section 5.2) ---- */

/* MixHash: h = HASH(h || data). */
static void mix_hash(uint8_t h[NOISE_HASH_LEN], const void *data, size_t len)
{
	blake2s_hash2(h, h, NOISE_HASH_LEN, data, len);
}

/* MixKey: ck, k = KDF2(ck, data). */
static void mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t *data, size_t len)
{
	blake2s_kdf(ck, key, NULL, data, len, ck);
}

/* MixKey(DH(priv, pub)); false when the DH result is zero. */
static bool mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		   const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
		   const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	bool ok = x25519_dh(dh, priv, pub);

	if (ok)
		mix_key(ck, key, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return ok;
}

/* MixKeyAndHash(psk): ck, tau, k = KDF3(ck, psk); h = HASH(h || tau). */
static void mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
		    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	blake2s_kdf(ck, tau, key, psk, NOISE_SYMMETRIC_KEY_LEN, ck);
	mix_hash(h, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

/* The e token in a psk handshake: MixHash(e) and also MixKey(e). */
static void mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			  const uint8_t e[NOISE_PUBLIC_KEY_LEN])
{
	mix_hash(h, e, NOISE_PUBLIC_KEY_LEN);
	blake2s_kdf(ck, NULL, NULL, e, NOISE_PUBLIC_KEY_LEN, ck);
}

static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

/* EncryptAndHash: dst = AEAD(k, 0, src, h); h = HASH(h || dst). */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	static const uint8_t empty[1];

	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, len ? src : empty, len, h,
						  NOISE_HASH_LEN, NULL, zero_nonce, key);
	mix_hash(h, dst, noise_encrypted_len(len));
}

/* DecryptAndHash: dst = AEAD-open(k, 0, src, h); h = HASH(h || src). */
static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	uint8_t empty[1];

	if (crypto_aead_chacha20poly1305_ietf_decrypt(len ? dst : empty, NULL, NULL, src,
						      noise_encrypted_len(len), h, NOISE_HASH_LEN,
						      zero_nonce, key) != 0)
		return false;
	mix_hash(h, src, noise_encrypted_len(len));
	return true;
}

/* ---- Parameterised IKpsk2 (noise_internal.h) ---- */

void noise_ik_params_init(struct noise_ik_params *p, const uint8_t *prologue, size_t prologue_len)
{
	/* InitializeSymmetric: h = HASH(protocol_name); ck = h. */
	blake2s_hash(p->hash, noise_construction, strlen(noise_construction));
	memcpy(p->chaining_key, p->hash, NOISE_HASH_LEN);
	mix_hash(p->hash, prologue, prologue_len);
}

static void wg_params_compute(void)
{
	noise_ik_params_init(&wg_params, (const uint8_t *)wg_identifier, strlen(wg_identifier));
}

void noise_init(void)
{
	pthread_once(&wg_params_once, wg_params_compute);
}

const struct noise_ik_params *noise_wireguard_params(void)
{
	noise_init();
	return &wg_params;
}

/* The pre-message "<- s": both sides start from MixHash(responder static). */
static void handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			    const struct noise_ik_params *p,
			    const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(ck, p->chaining_key, NOISE_HASH_LEN);
	memcpy(h, p->hash, NOISE_HASH_LEN);
	mix_hash(h, responder_static, NOISE_PUBLIC_KEY_LEN);
}

/* Clamps the caller's random bytes and derives the ephemeral public key. */
static bool ephemeral_generate(uint8_t priv[NOISE_PUBLIC_KEY_LEN],
			       uint8_t pub[NOISE_PUBLIC_KEY_LEN],
			       const uint8_t random[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(priv, random, NOISE_PUBLIC_KEY_LEN);
	x25519_clamp(priv);
	return x25519_public(pub, priv);
}

int noise_ik_write_msg1(struct noise_handshake *hs, const struct noise_ik_params *p,
			const uint8_t ephemeral_private[32], const uint8_t *payload,
			size_t payload_len, uint8_t *out)
{
	const struct noise_static_identity *id = hs->static_identity;
	uint8_t *out_e = out;
	uint8_t *out_s = out_e + NOISE_PUBLIC_KEY_LEN;
	uint8_t *out_payload = out_s + noise_encrypted_len(NOISE_PUBLIC_KEY_LEN);
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e_priv[NOISE_PUBLIC_KEY_LEN];
	int ret = -EBADMSG;

	if (!id || !id->has_identity)
		return -ENOKEY;
	if (sodium_is_zero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN))
		return -EINVAL;
	handshake_start(ck, h, p, hs->remote_static);

	/* e */
	if (!ephemeral_generate(e_priv, out_e, ephemeral_private))
		goto out;
	mix_ephemeral(ck, h, out_e);
	/* es */
	if (!mix_dh(ck, key, e_priv, hs->remote_static))
		goto out;
	/* s */
	encrypt_and_hash(out_s, id->static_public, NOISE_PUBLIC_KEY_LEN, key, h);
	/* ss */
	mix_key(ck, key, hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	/* {t} */
	encrypt_and_hash(out_payload, payload, payload_len, key, h);

	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	return ret;
}

int noise_ik_read_msg1(struct noise_ik_msg1 *st, const struct noise_ik_params *p,
		       const struct noise_static_identity *id, noise_lookup_fn lookup,
		       void *lookup_ctx, const uint8_t *in, uint8_t *payload, size_t payload_len)
{
	const uint8_t *in_e = in;
	const uint8_t *in_s = in_e + NOISE_PUBLIC_KEY_LEN;
	const uint8_t *in_payload = in_s + noise_encrypted_len(NOISE_PUBLIC_KEY_LEN);
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], s[NOISE_PUBLIC_KEY_LEN];
	struct noise_handshake *hs;
	int ret = -EBADMSG;

	memset(st, 0, sizeof(*st));
	if (!id || !id->has_identity)
		return -ENOKEY;
	handshake_start(st->chaining_key, st->hash, p, id->static_public);

	/* e */
	memcpy(st->remote_ephemeral, in_e, NOISE_PUBLIC_KEY_LEN);
	mix_ephemeral(st->chaining_key, st->hash, st->remote_ephemeral);
	/* es */
	if (!mix_dh(st->chaining_key, key, id->static_private, st->remote_ephemeral))
		goto out;
	/* s */
	if (!decrypt_and_hash(s, in_s, NOISE_PUBLIC_KEY_LEN, key, st->hash))
		goto out;
	hs = lookup(lookup_ctx, s);
	if (!hs || sodium_memcmp(hs->remote_static, s, NOISE_PUBLIC_KEY_LEN) != 0) {
		ret = -ENOKEY;
		goto out;
	}
	if (sodium_is_zero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN))
		goto out;
	/* ss */
	mix_key(st->chaining_key, key, hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	/* {t} */
	if (!decrypt_and_hash(payload, in_payload, payload_len, key, st->hash))
		goto out;
	st->hs = hs;
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(s, sizeof(s));
	if (ret)
		noise_ik_msg1_wipe(st);
	return ret;
}

void noise_ik_commit_msg1(const struct noise_ik_msg1 *st)
{
	struct noise_handshake *hs = st->hs;

	memcpy(hs->remote_ephemeral, st->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->chaining_key, st->chaining_key, NOISE_HASH_LEN);
	memcpy(hs->hash, st->hash, NOISE_HASH_LEN);
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
}

void noise_ik_msg1_wipe(struct noise_ik_msg1 *st)
{
	sodium_memzero(st, sizeof(*st));
}

int noise_ik_write_msg2(struct noise_handshake *hs, const uint8_t ephemeral_private[32],
			const uint8_t *payload, size_t payload_len, uint8_t *out)
{
	uint8_t *out_e = out;
	uint8_t *out_payload = out_e + NOISE_PUBLIC_KEY_LEN;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e_priv[NOISE_PUBLIC_KEY_LEN];
	int ret = -EBADMSG;

	if (hs->state != HANDSHAKE_CONSUMED_INITIATION)
		return -EINVAL;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	/* e */
	if (!ephemeral_generate(e_priv, out_e, ephemeral_private))
		goto out;
	mix_ephemeral(ck, h, out_e);
	/* ee */
	if (!mix_dh(ck, key, e_priv, hs->remote_ephemeral))
		goto out;
	/* se */
	if (!mix_dh(ck, key, e_priv, hs->remote_static))
		goto out;
	/* psk */
	mix_psk(ck, h, key, hs->preshared_key);
	/* {} */
	encrypt_and_hash(out_payload, payload, payload_len, key, h);

	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	return ret;
}

int noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *in, uint8_t *payload,
		       size_t payload_len)
{
	const struct noise_static_identity *id = hs->static_identity;
	const uint8_t *in_e = in;
	const uint8_t *in_payload = in_e + NOISE_PUBLIC_KEY_LEN;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t re[NOISE_PUBLIC_KEY_LEN];
	int ret = -EBADMSG;

	if (!id || !id->has_identity)
		return -ENOKEY;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	/* e */
	memcpy(re, in_e, sizeof(re));
	mix_ephemeral(ck, h, re);
	/* ee */
	if (!mix_dh(ck, key, hs->ephemeral_private, re))
		goto out;
	/* se */
	if (!mix_dh(ck, key, id->static_private, re))
		goto out;
	/* psk */
	mix_psk(ck, h, key, hs->preshared_key);
	/* {} */
	if (!decrypt_and_hash(payload, in_payload, payload_len, key, h))
		goto out;

	memcpy(hs->remote_ephemeral, re, sizeof(re));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(re, sizeof(re));
	return ret;
}

/* ---- Keys and handshake lifetime ---- */

int noise_static_identity_set(struct noise_static_identity *id, const uint8_t private_key[32])
{
	if (sodium_is_zero(private_key, NOISE_PUBLIC_KEY_LEN))
		goto err;
	memcpy(id->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
	x25519_clamp(id->static_private);
	if (!x25519_public(id->static_public, id->static_private))
		goto err;
	id->has_identity = true;
	return 0;
err:
	noise_static_identity_clear(id);
	return -EINVAL;
}

void noise_static_identity_clear(struct noise_static_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

/* True for the points of small order (and the twist's): a clamped scalar is
 * a multiple of the cofactor, so the DH result is zero whatever the scalar. */
static bool is_low_order(const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	static const uint8_t probe[NOISE_PUBLIC_KEY_LEN] = {
		0x58, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a
	};
	uint8_t out[NOISE_PUBLIC_KEY_LEN];
	bool low = !x25519_dh(out, probe, pub);

	sodium_memzero(out, sizeof(out));
	return low;
}

int noise_handshake_precompute(struct noise_handshake *hs)
{
	const struct noise_static_identity *id = hs->static_identity;

	sodium_memzero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	if (!id || !id->has_identity)
		return is_low_order(hs->remote_static) ? -EINVAL : 0;
	if (!x25519_dh(hs->precomputed_static_static, id->static_private, hs->remote_static))
		return -EINVAL;
	return 0;
}

int noise_handshake_init(struct noise_handshake *hs, const struct noise_static_identity *id,
			 const uint8_t remote_static[32], const uint8_t psk[32])
{
	noise_init();
	sodium_memzero(hs, sizeof(*hs));
	hs->static_identity = id;
	memcpy(hs->remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
	noise_handshake_set_psk(hs, psk);
	return noise_handshake_precompute(hs);
}

void noise_handshake_set_psk(struct noise_handshake *hs, const uint8_t psk[32])
{
	if (psk)
		memcpy(hs->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		sodium_memzero(hs->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->local_index = 0;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

void noise_handshake_wipe(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

/* ---- WireGuard messages ---- */

/* The Noise message body follows the indices, in Noise order. */
_Static_assert(offsetof(struct message_handshake_initiation, encrypted_static) ==
		   offsetof(struct message_handshake_initiation, unencrypted_ephemeral) +
		       NOISE_PUBLIC_KEY_LEN,
	       "initiation body is contiguous");
_Static_assert(offsetof(struct message_handshake_initiation, encrypted_timestamp) ==
		   offsetof(struct message_handshake_initiation, encrypted_static) +
		       noise_encrypted_len(NOISE_PUBLIC_KEY_LEN),
	       "initiation body is contiguous");
_Static_assert(offsetof(struct message_handshake_response, encrypted_nothing) ==
		   offsetof(struct message_handshake_response, unencrypted_ephemeral) +
		       NOISE_PUBLIC_KEY_LEN,
	       "response body is contiguous");

#define INITIATION_BODY(m)                                                                         \
	((m) + offsetof(struct message_handshake_initiation, unencrypted_ephemeral))
#define RESPONSE_BODY(m) ((m) + offsetof(struct message_handshake_response, unencrypted_ephemeral))

int noise_create_initiation(struct message_handshake_initiation *dst, struct noise_handshake *hs,
			    uint32_t local_index, const uint8_t ephemeral_private[32],
			    const uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	int ret;

	memset(dst, 0, sizeof(*dst));
	ret = noise_ik_write_msg1(hs, noise_wireguard_params(), ephemeral_private, timestamp,
				  NOISE_TIMESTAMP_LEN, INITIATION_BODY((uint8_t *)dst));
	if (ret)
		return ret;
	dst->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	dst->sender_index = htole32(local_index);
	hs->local_index = local_index;
	return 0;
}

/* Replay: TAI64N is big-endian, so byte order is time order. */
static bool timestamp_is_replay(const struct noise_handshake *hs,
				const uint8_t t[NOISE_TIMESTAMP_LEN])
{
	return memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
}

/* Flood: at most INITIATIONS_PER_SECOND consumed per peer. A zero
 * latest_timestamp means none was consumed yet. */
static bool initiation_is_flood(const struct noise_handshake *hs, uint64_t now_ns)
{
	if (sodium_is_zero(hs->latest_timestamp, NOISE_TIMESTAMP_LEN))
		return false;
	return now_ns < hs->last_initiation_consumption + NSEC_PER_SEC / INITIATIONS_PER_SECOND;
}

int noise_consume_initiation(const struct message_handshake_initiation *src,
			     const struct noise_static_identity *id, noise_lookup_fn lookup,
			     void *lookup_ctx, uint64_t now_ns, struct noise_handshake **out)
{
	struct noise_ik_msg1 st;
	uint8_t t[NOISE_TIMESTAMP_LEN];
	struct noise_handshake *hs;
	int ret;

	*out = NULL;
	ret = noise_ik_read_msg1(&st, noise_wireguard_params(), id, lookup, lookup_ctx,
				 INITIATION_BODY((const uint8_t *)src), t, sizeof(t));
	if (ret)
		goto out;
	hs = st.hs;
	ret = -ESTALE;
	if (timestamp_is_replay(hs, t))
		goto out;
	ret = -EBUSY;
	if (initiation_is_flood(hs, now_ns))
		goto out;

	noise_ik_commit_msg1(&st);
	memcpy(hs->latest_timestamp, t, sizeof(t));
	hs->last_initiation_consumption = now_ns;
	hs->remote_index = le32toh(src->sender_index);
	*out = hs;
	ret = 0;
out:
	noise_ik_msg1_wipe(&st);
	sodium_memzero(t, sizeof(t));
	return ret;
}

int noise_create_response(struct message_handshake_response *dst, struct noise_handshake *hs,
			  uint32_t local_index, const uint8_t ephemeral_private[32])
{
	int ret;

	memset(dst, 0, sizeof(*dst));
	ret = noise_ik_write_msg2(hs, ephemeral_private, NULL, 0, RESPONSE_BODY((uint8_t *)dst));
	if (ret)
		return ret;
	dst->header.type = htole32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->sender_index = htole32(local_index);
	dst->receiver_index = htole32(hs->remote_index);
	hs->local_index = local_index;
	return 0;
}

int noise_consume_response(const struct message_handshake_response *src, struct noise_handshake *hs)
{
	int ret;

	if (hs->state != HANDSHAKE_CREATED_INITIATION ||
	    le32toh(src->receiver_index) != hs->local_index)
		return -EINVAL;
	ret = noise_ik_read_msg2(hs, RESPONSE_BODY((const uint8_t *)src), NULL, 0);
	if (ret)
		return ret;
	hs->remote_index = le32toh(src->sender_index);
	return 0;
}

int noise_begin_session(struct noise_handshake *hs, struct noise_session_keys *out)
{
	uint8_t *first, *second;

	if (hs->state == HANDSHAKE_CONSUMED_RESPONSE)
		out->is_initiator = true;
	else if (hs->state == HANDSHAKE_CREATED_RESPONSE)
		out->is_initiator = false;
	else
		return -EINVAL;

	/* Split: T1 keys initiator-to-responder, T2 the other way. */
	first = out->is_initiator ? out->sending : out->receiving;
	second = out->is_initiator ? out->receiving : out->sending;
	blake2s_kdf(first, second, NULL, "", 0, hs->chaining_key);
	out->local_index = hs->local_index;
	out->remote_index = hs->remote_index;
	noise_handshake_clear(hs);
	return 0;
}
