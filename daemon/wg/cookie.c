/*
 * MAC1/MAC2 of handshake messages and cookie replies (see cookie.h).
 *
 * mac1 covers the message up to mac1; mac2 covers it up to mac2 (mac1
 * included). Both are 16-byte keyed BLAKE2s. The macs are the last
 * COOKIE_MACS_LEN bytes of any message; WireGuard's own entry points accept
 * only initiations and responses, the *_macs ones any length.
 */
#include "wg/cookie.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "timeutil.h"
#include "wg/crypto.h"

enum { COOKIE_KEY_LABEL_LEN = 8 };
static const char label_mac1[COOKIE_KEY_LABEL_LEN + 1] = "mac1----";
static const char label_cookie[COOKIE_KEY_LABEL_LEN + 1] = "cookie--";

_Static_assert(sizeof(((struct cookie *)0)->cookie) == COOKIE_LEN, "cookie size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == COOKIE_NONCE_LEN, "XChaCha nonce");
_Static_assert(sizeof(struct message_macs) == COOKIE_MACS_LEN, "macs at the end");
_Static_assert(sizeof(((struct message_handshake_cookie *)0)->encrypted_cookie) ==
		   COOKIE_ENCRYPTED_LEN,
	       "encrypted cookie");

const struct cookie_labels cookie_labels_wireguard = { label_mac1, label_cookie };

/* key = HASH(label || public key). */
static void precompute_key(uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			   const uint8_t pub[NOISE_PUBLIC_KEY_LEN], const char *label)
{
	blake2s_hash2(key, label, COOKIE_KEY_LABEL_LEN, pub, NOISE_PUBLIC_KEY_LEN);
}

/* Only initiations and responses carry MACs. */
static bool is_handshake_len(size_t len)
{
	return len == sizeof(struct message_handshake_initiation) ||
	       len == sizeof(struct message_handshake_response);
}

static size_t mac1_offset(size_t len)
{
	return len - COOKIE_MACS_LEN;
}

static size_t mac2_offset(size_t len)
{
	return mac1_offset(len) + COOKIE_LEN;
}

/* mac1 = MAC(HASH("mac1----" || Spub_receiver), msg up to mac1). */
static void compute_mac1(uint8_t mac1[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	blake2s_mac(mac1, COOKIE_LEN, key, NOISE_SYMMETRIC_KEY_LEN, msg, mac1_offset(len));
}

/* mac2 = MAC(cookie, msg up to mac2). */
static void compute_mac2(uint8_t mac2[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t cookie[COOKIE_LEN])
{
	blake2s_mac(mac2, COOKIE_LEN, cookie, COOKIE_LEN, msg, mac2_offset(len));
}

/* cookie = MAC(secret, source address || port); the secret is replaced every
 * COOKIE_SECRET_MAX_AGE seconds. */
bool cookie_checker_needs_secret(const struct cookie_checker *c, uint64_t now_ns)
{
	return !c->has_secret || time_elapsed(c->secret_birthdate, COOKIE_SECRET_MAX_AGE, now_ns);
}

static void make_cookie(uint8_t cookie[COOKIE_LEN], struct cookie_checker *c, const uint8_t *src,
			size_t src_len, uint64_t now_ns, const uint8_t random_secret[32])
{
	if (cookie_checker_needs_secret(c, now_ns)) {
		memcpy(c->secret, random_secret, sizeof(c->secret));
		c->secret_birthdate = now_ns;
		c->has_secret = true;
	}
	blake2s_mac(cookie, COOKIE_LEN, c->secret, sizeof(c->secret), src, src_len);
}

void cookie_checker_init_labels(struct cookie_checker *c, const uint8_t local_public[32],
				const struct cookie_labels *labels)
{
	precompute_key(c->cookie_encryption_key, local_public, labels->cookie);
	precompute_key(c->message_mac1_key, local_public, labels->mac1);
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t local_public[32])
{
	cookie_checker_init_labels(c, local_public, &cookie_labels_wireguard);
}

void cookie_checker_wipe(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

int cookie_source_from_sockaddr(const struct sockaddr *sa, uint8_t out[COOKIE_SOURCE_MAX_LEN],
				size_t *len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	switch (sa->sa_family) {
	case AF_INET:
		memcpy(out, &in4->sin_addr, 4);
		memcpy(out + 4, &in4->sin_port, 2);
		*len = 6;
		return 0;
	case AF_INET6:
		memcpy(out, &in6->sin6_addr, 16);
		memcpy(out + 16, &in6->sin6_port, 2);
		*len = 18;
		return 0;
	default:
		*len = 0;
		return -EAFNOSUPPORT;
	}
}

enum cookie_mac_state cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg,
					     size_t len, const uint8_t *src, size_t src_len,
					     bool check_cookie, uint64_t now_ns,
					     const uint8_t random_secret[32])
{
	if (!is_handshake_len(len))
		return COOKIE_MAC_INVALID;
	return cookie_validate_macs(c, msg, len, src, src_len, check_cookie, now_ns, random_secret);
}

enum cookie_mac_state cookie_validate_macs(struct cookie_checker *c, const uint8_t *msg, size_t len,
					   const uint8_t *src, size_t src_len, bool check_cookie,
					   uint64_t now_ns, const uint8_t random_secret[32])
{
	enum cookie_mac_state state = COOKIE_MAC_INVALID;
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];

	if (len < COOKIE_MACS_LEN)
		return COOKIE_MAC_INVALID;
	compute_mac1(computed, msg, len, c->message_mac1_key);
	if (sodium_memcmp(computed, msg + mac1_offset(len), COOKIE_LEN) != 0)
		goto out;
	state = COOKIE_MAC_VALID_NO_COOKIE;
	if (!check_cookie)
		goto out;
	make_cookie(cookie, c, src, src_len, now_ns, random_secret);
	compute_mac2(computed, msg, len, cookie);
	if (sodium_memcmp(computed, msg + mac2_offset(len), COOKIE_LEN) != 0)
		goto out;
	state = COOKIE_MAC_VALID_WITH_COOKIE;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return state;
}

int cookie_message_create(struct message_handshake_cookie *dst, const uint8_t *msg, size_t len,
			  uint32_t sender_index, const uint8_t *src, size_t src_len,
			  struct cookie_checker *c, uint64_t now_ns,
			  const uint8_t nonce[COOKIE_NONCE_LEN], const uint8_t random_secret[32])
{
	if (!is_handshake_len(len))
		return -EINVAL;
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_COOKIE);
	dst->receiver_index = htole32(sender_index);
	memcpy(dst->nonce, nonce, COOKIE_NONCE_LEN);
	return cookie_reply_seal(dst->encrypted_cookie, msg, len, src, src_len, c, now_ns, nonce,
				 random_secret);
}

int cookie_reply_seal(uint8_t encrypted[COOKIE_ENCRYPTED_LEN], const uint8_t *msg, size_t len,
		      const uint8_t *src, size_t src_len, struct cookie_checker *c, uint64_t now_ns,
		      const uint8_t nonce[COOKIE_NONCE_LEN], const uint8_t random_secret[32])
{
	uint8_t cookie[COOKIE_LEN];

	if (len < COOKIE_MACS_LEN)
		return -EINVAL;
	make_cookie(cookie, c, src, src_len, now_ns, random_secret);
	/* msg.cookie = XAEAD(HASH("cookie--" || Spub_m), nonce, cookie, mac1 of msg) */
	crypto_aead_xchacha20poly1305_ietf_encrypt(encrypted, NULL, cookie, COOKIE_LEN,
						   msg + mac1_offset(len), COOKIE_LEN, NULL, nonce,
						   c->cookie_encryption_key);
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

void cookie_init_labels(struct cookie *ck, const uint8_t remote_public[32],
			const struct cookie_labels *labels)
{
	sodium_memzero(ck, sizeof(*ck));
	precompute_key(ck->cookie_decryption_key, remote_public, labels->cookie);
	precompute_key(ck->message_mac1_key, remote_public, labels->mac1);
}

void cookie_init(struct cookie *ck, const uint8_t remote_public[32])
{
	cookie_init_labels(ck, remote_public, &cookie_labels_wireguard);
}

void cookie_add_mac_to_packet(void *msg, size_t len, struct cookie *ck, uint64_t now_ns)
{
	if (is_handshake_len(len))
		cookie_add_macs(msg, len, ck, now_ns);
}

void cookie_add_macs(void *msg, size_t len, struct cookie *ck, uint64_t now_ns)
{
	uint8_t *m = msg;
	uint8_t *mac1, *mac2;

	if (len < COOKIE_MACS_LEN)
		return;
	mac1 = m + mac1_offset(len);
	mac2 = m + mac2_offset(len);
	compute_mac1(mac1, m, len, ck->message_mac1_key);
	memcpy(ck->last_mac1_sent, mac1, COOKIE_LEN);
	ck->have_sent_mac1 = true;

	/* A cookie is used only while the responder surely still has its
	 * secret: COOKIE_SECRET_LATENCY short of its maximum age. */
	if (ck->is_valid &&
	    !time_elapsed(ck->birthdate, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now_ns))
		compute_mac2(mac2, m, len, ck->cookie);
	else
		memset(mac2, 0, COOKIE_LEN);
}

int cookie_message_consume(const struct message_handshake_cookie *src, struct cookie *ck,
			   uint64_t now_ns)
{
	return cookie_reply_open(src->nonce, src->encrypted_cookie, ck, now_ns);
}

int cookie_reply_open(const uint8_t nonce[COOKIE_NONCE_LEN],
		      const uint8_t encrypted[COOKIE_ENCRYPTED_LEN], struct cookie *ck,
		      uint64_t now_ns)
{
	uint8_t cookie[COOKIE_LEN];

	if (!ck->have_sent_mac1)
		return -EINVAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cookie, NULL, NULL, encrypted, COOKIE_ENCRYPTED_LEN, ck->last_mac1_sent, COOKIE_LEN,
		nonce, ck->cookie_decryption_key) != 0)
		return -EBADMSG;
	memcpy(ck->cookie, cookie, COOKIE_LEN);
	ck->birthdate = now_ns;
	ck->is_valid = true;
	ck->have_sent_mac1 = false;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}
