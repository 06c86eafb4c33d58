/*
 * WireGuard wire format and protocol constants.
 *
 * Every size and time the protocol fixes lives here, derived from each other
 * where the whitepaper derives them. Wire structs are packed and little-endian
 * as on the wire; sizes are checked at compile time.
 */
#ifndef MESHGATE_WG_MESSAGES_H
#define MESHGATE_WG_MESSAGES_H

#include <stdint.h>

enum noise_lengths {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12, /* TAI64N */
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32
};

#define noise_encrypted_len(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

enum cookie_values {
	COOKIE_SECRET_MAX_AGE = 2 * 60, /* seconds */
	COOKIE_SECRET_LATENCY = 5,      /* seconds */
	COOKIE_NONCE_LEN = 24,          /* XChaCha20-Poly1305 */
	COOKIE_LEN = 16
};

/* Times in seconds unless the name says otherwise. */
enum counter_values {
	COUNTER_BITS_TOTAL = 8192,
	COUNTER_REDUNDANT_BITS = 64,
	COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS
};

enum limits {
	REKEY_AFTER_MESSAGES_LOG2 = 60,
	REKEY_TIMEOUT = 5,
	REKEY_TIMEOUT_JITTER_MAX_MS = 334, /* jitter is uniform in [0, 333] ms */
	KEEPALIVE_TIMEOUT = 10,
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	/* A receiving initiator that has heard nothing but keepalives rekeys
	 * before the responder's session would be rejected. */
	REKEY_AFTER_TIME_RECV = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT,
	/* Silence after sending data triggers a new handshake after this. */
	NEW_HANDSHAKE_TIMEOUT = KEEPALIVE_TIMEOUT + REKEY_TIMEOUT,
	/* All key material of a peer is erased after this much inactivity. */
	ZERO_KEY_MATERIAL_TIMEOUT = REJECT_AFTER_TIME * 3,
	INITIATIONS_PER_SECOND = 50,
	MAX_PEERS_PER_DEVICE = 1 << 20,
	MAX_QUEUED_INCOMING_HANDSHAKES = 4096,
	/* Past this many queued handshakes the device is "under load". */
	UNDER_LOAD_QUEUE_THRESHOLD = MAX_QUEUED_INCOMING_HANDSHAKES / 8,
	UNDER_LOAD_AFTER_TIME = 1, /* stays under load this long after the queue drains */
	MAX_STAGED_PACKETS = 128
};

#define REKEY_AFTER_MESSAGES  (1ULL << REKEY_AFTER_MESSAGES_LOG2)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - COUNTER_WINDOW_SIZE - 1)

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4
};

/* The first byte is the type; the three after it are zero. Stored LE. */
struct message_header {
	uint32_t type;
} __attribute__((packed));

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
} __attribute__((packed));

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[noise_encrypted_len(0)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[noise_encrypted_len(COOKIE_LEN)];
} __attribute__((packed));

struct message_data {
	struct message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

_Static_assert(sizeof(struct message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == 16, "data header is 16 bytes");

enum message_alignments {
	MESSAGE_PADDING_MULTIPLE = 16,
	MESSAGE_MINIMUM_LENGTH = sizeof(struct message_data) + noise_encrypted_len(0)
};

/* Worst-case growth of a plaintext packet into a data message. */
#define MESSAGE_DATA_OVERHEAD                                                                      \
	(sizeof(struct message_data) + MESSAGE_PADDING_MULTIPLE - 1 + NOISE_AUTHTAG_LEN)

/* The offset of the MACs inside a handshake message of type T. */
#define message_macs_offset(T) (sizeof(T) - sizeof(struct message_macs))

#define MESSAGE_TYPE_HEADER(t) ((uint32_t)(t))

#endif
