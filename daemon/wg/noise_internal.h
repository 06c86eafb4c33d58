/*
 * The IKpsk2 handshake with the prologue and payloads as parameters.
 *
 * WireGuard's messages are this handshake with the WireGuard prologue, a
 * TAI64N payload in message 1 and an empty payload in message 2; noise.c
 * wraps these functions. They are exported for the Noise test vectors and
 * are not meant for other callers.
 *
 * Message bodies are laid out as Noise writes them, which is also the byte
 * order of the WireGuard structs after their indices:
 *   message 1: e (32) || AEAD(s) (48) || AEAD(payload) (n + 16)
 *   message 2: e (32) || AEAD(payload) (n + 16)
 */
#ifndef MESHGATE_WG_NOISE_INTERNAL_H
#define MESHGATE_WG_NOISE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wg/noise.h"

#define NOISE_IK_MSG1_LEN(n)                                                                       \
	(NOISE_PUBLIC_KEY_LEN + noise_encrypted_len(NOISE_PUBLIC_KEY_LEN) + noise_encrypted_len(n))
#define NOISE_IK_MSG2_LEN(n) (NOISE_PUBLIC_KEY_LEN + noise_encrypted_len(n))

/* The symmetric state after InitializeSymmetric(protocol name) and
 * MixHash(prologue): the starting point of every handshake. */
struct noise_ik_params {
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
};

void noise_ik_params_init(struct noise_ik_params *p, const uint8_t *prologue, size_t prologue_len);

/* WireGuard's parameters (prologue "WireGuard v1 zx2c4 Jason@zx2c4.com"). */
const struct noise_ik_params *noise_wireguard_params(void);

/* Initiator: writes message 1 (NOISE_IK_MSG1_LEN(payload_len) bytes to out)
 * and on success commits e, h, ck into hs with state CREATED_INITIATION. */
int NOISE_WARN_UNUSED noise_ik_write_msg1(struct noise_handshake *hs,
					  const struct noise_ik_params *p,
					  const uint8_t ephemeral_private[32],
					  const uint8_t *payload, size_t payload_len, uint8_t *out);

/* Message 1 read by the responder but not yet committed to the peer. */
struct noise_ik_msg1 {
	struct noise_handshake *hs; /* the peer found by lookup */
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
};

/* Responder: reads message 1 (NOISE_IK_MSG1_LEN(payload_len) bytes at in)
 * into st and payload. Touches no handshake. Errors as for
 * noise_consume_initiation (-EBADMSG, -ENOKEY). Wipe st with
 * noise_ik_msg1_wipe() whether or not it is committed. */
int NOISE_WARN_UNUSED noise_ik_read_msg1(struct noise_ik_msg1 *st, const struct noise_ik_params *p,
					 const struct noise_static_identity *id,
					 noise_lookup_fn lookup, void *lookup_ctx,
					 const uint8_t *in, uint8_t *payload, size_t payload_len);
/* Commits a read message 1 into st->hs: state CONSUMED_INITIATION. */
void noise_ik_commit_msg1(const struct noise_ik_msg1 *st);
void noise_ik_msg1_wipe(struct noise_ik_msg1 *st);

/* Responder: writes message 2 for hs in state CONSUMED_INITIATION; state
 * CREATED_RESPONSE on success. */
int NOISE_WARN_UNUSED noise_ik_write_msg2(struct noise_handshake *hs,
					  const uint8_t ephemeral_private[32],
					  const uint8_t *payload, size_t payload_len, uint8_t *out);

/* Initiator: reads message 2 for hs (state CREATED_INITIATION, not checked
 * here); commits with state CONSUMED_RESPONSE on success, else hs untouched. */
int NOISE_WARN_UNUSED noise_ik_read_msg2(struct noise_handshake *hs, const uint8_t *in,
					 uint8_t *payload, size_t payload_len);

#endif
