/*
 * WireGuard's MAC1/MAC2 and cookie replies (whitepaper section 5.4.4, 5.4.7).
 *
 * Every handshake message ends with mac1 = MAC(HASH("mac1----" || Spub_m'), m)
 * keyed by the receiver's public key, and mac2 = MAC(cookie, m || mac1). A
 * responder under load answers messages without a valid mac2 with a cookie
 * reply: cookie = MAC(secret, source address || port), sent as
 * XAEAD(HASH("cookie--" || Spub_m), nonce, cookie, mac1 of the message). The
 * secret changes every COOKIE_SECRET_MAX_AGE seconds.
 *
 * Pure: the caller passes the monotonic clock and the random bytes. Indices
 * are host byte order in this API.
 *
 * The same mechanism serves other datagrams (the mesh's join requests):
 * the *_labels initialisers take the two 8-byte key labels (one pair per
 * message family, for domain separation), and the *_macs / cookie_reply_*
 * functions take any message whose last COOKIE_MACS_LEN bytes are mac1 and
 * mac2. The WireGuard entry points below accept only handshake sizes.
 */
#ifndef MESHGATE_WG_COOKIE_H
#define MESHGATE_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wg/messages.h"

enum cookie_mac_state {
	COOKIE_MAC_INVALID,
	COOKIE_MAC_VALID_NO_COOKIE,
	COOKIE_MAC_VALID_WITH_COOKIE
};

/* IPv6 address (16) + port (2): the most source bytes a cookie covers. */
enum {
	COOKIE_SOURCE_MAX_LEN = 18,
	COOKIE_MACS_LEN = 2 * COOKIE_LEN,               /* mac1 | mac2, ending a message */
	COOKIE_ENCRYPTED_LEN = COOKIE_LEN + COOKIE_LEN, /* XAEAD(cookie): 16 + tag 16 */
};

/* Key labels (8 bytes each, no NUL on the wire): mac1 key = HASH(mac1 ||
 * Spub), cookie key = HASH(cookie || Spub). */
struct cookie_labels {
	const char *mac1;
	const char *cookie;
};

/* WireGuard's "mac1----" and "cookie--". */
extern const struct cookie_labels cookie_labels_wireguard;

/* Responder side, one per device. */
struct cookie_checker {
	uint8_t secret[32];
	uint64_t secret_birthdate; /* monotonic ns */
	bool has_secret;
	uint8_t cookie_encryption_key[32];
	uint8_t message_mac1_key[32];
};

/* Derives the MAC1 and cookie keys from our public key (LABEL_MAC1 "mac1----",
 * LABEL_COOKIE "cookie--"). Call again when the identity changes; the secret
 * is kept. */
void cookie_checker_init(struct cookie_checker *c, const uint8_t local_public[32]);
/* The same with another message family's labels. */
void cookie_checker_init_labels(struct cookie_checker *c, const uint8_t local_public[32],
				const struct cookie_labels *labels);
/* Wipes the checker (keys and secret). */
void cookie_checker_wipe(struct cookie_checker *c);

/* True when the next cookie computed at now_ns needs a new secret (none yet,
 * or COOKIE_SECRET_MAX_AGE old): only then does cookie_validate_packet or
 * cookie_message_create read random_secret, so the caller may draw random
 * bytes only when this says so. */
bool __attribute__((warn_unused_result))
cookie_checker_needs_secret(const struct cookie_checker *c, uint64_t now_ns);

/*
 * The bytes a cookie binds a sender to, as the reference implementations
 * hash them: IPv4: 4 address bytes then 2 port bytes, network order (6);
 * IPv6: 16 + 2 (18). An IPv4-mapped IPv6 address is used as IPv6 as given;
 * normalise it first if the socket is dual-stack. -EAFNOSUPPORT for any
 * other family.
 */
int __attribute__((warn_unused_result))
cookie_source_from_sockaddr(const struct sockaddr *sa, uint8_t out[COOKIE_SOURCE_MAX_LEN],
			    size_t *len);

/*
 * Validates MAC1 (and MAC2 when check_cookie) of a handshake message of
 * length len: only initiations (148) and responses (92) can be valid.
 * src/src_len: the sender's source bytes (cookie_source_from_sockaddr).
 * random_secret: 32 random bytes, used only if the secret must be
 * (re)generated (none yet, or older than COOKIE_SECRET_MAX_AGE).
 * COOKIE_MAC_VALID_NO_COOKIE when mac1 is right but mac2 was not checked or
 * is wrong.
 */
enum cookie_mac_state __attribute__((warn_unused_result))
cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg, size_t len, const uint8_t *src,
		       size_t src_len, bool check_cookie, uint64_t now_ns,
		       const uint8_t random_secret[32]);

/*
 * Builds a cookie reply to msg (a handshake message of len bytes whose MAC1
 * was valid, and whose sender index is sender_index, host order). nonce: 24
 * random bytes from the caller. -EINVAL when len is not a handshake size.
 */
int __attribute__((warn_unused_result))
cookie_message_create(struct message_handshake_cookie *dst, const uint8_t *msg, size_t len,
		      uint32_t sender_index, const uint8_t *src, size_t src_len,
		      struct cookie_checker *c, uint64_t now_ns,
		      const uint8_t nonce[COOKIE_NONCE_LEN], const uint8_t random_secret[32]);

/* cookie_validate_packet for a message of any length ending in the macs
 * (COOKIE_MAC_INVALID when shorter than COOKIE_MACS_LEN). */
enum cookie_mac_state __attribute__((warn_unused_result))
cookie_validate_macs(struct cookie_checker *c, const uint8_t *msg, size_t len, const uint8_t *src,
		     size_t src_len, bool check_cookie, uint64_t now_ns,
		     const uint8_t random_secret[32]);

/* The encrypted cookie for msg (any length ending in the macs; mac1 is the
 * AD): encrypted = XAEAD(cookie key, nonce, cookie for src, mac1). -EINVAL
 * when msg is shorter than COOKIE_MACS_LEN. */
int __attribute__((warn_unused_result))
cookie_reply_seal(uint8_t encrypted[COOKIE_ENCRYPTED_LEN], const uint8_t *msg, size_t len,
		  const uint8_t *src, size_t src_len, struct cookie_checker *c, uint64_t now_ns,
		  const uint8_t nonce[COOKIE_NONCE_LEN], const uint8_t random_secret[32]);

/* Initiator side, one per peer. */
struct cookie {
	uint64_t birthdate;
	bool is_valid;
	uint8_t cookie[COOKIE_LEN];
	bool have_sent_mac1;
	uint8_t last_mac1_sent[COOKIE_LEN];
	uint8_t cookie_decryption_key[32];
	uint8_t message_mac1_key[32];
};

/* Derives the peer's MAC1 and cookie keys from its public key; no cookie. */
void cookie_init(struct cookie *ck, const uint8_t remote_public[32]);
/* The same with another message family's labels. */
void cookie_init_labels(struct cookie *ck, const uint8_t remote_public[32],
			const struct cookie_labels *labels);

/*
 * Fills in mac1 and (with a cookie younger than COOKIE_SECRET_MAX_AGE -
 * COOKIE_SECRET_LATENCY) mac2 of an outgoing handshake message of len bytes
 * (initiation or response; mac2 is zero otherwise); remembers mac1 for the
 * cookie reply. Call last, after every other byte of msg is final.
 */
void cookie_add_mac_to_packet(void *msg, size_t len, struct cookie *ck, uint64_t now_ns);
/* The same for a message of any length ending in the macs (no-op when
 * shorter than COOKIE_MACS_LEN). */
void cookie_add_macs(void *msg, size_t len, struct cookie *ck, uint64_t now_ns);

/* Consumes a cookie reply for this peer (the caller finds the peer by
 * receiver_index): decrypts with last_mac1_sent as AD; -EINVAL without a
 * sent mac1, -EBADMSG on failure; stores the cookie (birthdate now_ns) and
 * forgets the sent mac1, so one reply is accepted per message sent. */
int __attribute__((warn_unused_result))
cookie_message_consume(const struct message_handshake_cookie *src, struct cookie *ck,
		       uint64_t now_ns);
/* The same from the nonce and encrypted cookie of any cookie reply. */
int __attribute__((warn_unused_result))
cookie_reply_open(const uint8_t nonce[COOKIE_NONCE_LEN],
		  const uint8_t encrypted[COOKIE_ENCRYPTED_LEN], struct cookie *ck,
		  uint64_t now_ns);

#endif
