/*
 * A WireGuard peer: its keys and handshake, its three session slots
 * (previous, current, next), its endpoint, timers, counters, and the packets
 * staged while no session exists.
 *
 * The engine is single-threaded: every field is owned by the device's event
 * loop, so nothing here is locked or reference counted. A peer pointer stays
 * valid until wg_device_remove_peer().
 */
#ifndef MESHGATE_WG_PEER_H
#define MESHGATE_WG_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/cookie.h"
#include "wg/messages.h"
#include "wg/noise.h"
#include "wg/packet.h"
#include "wg/replay.h"

struct wg_device;

/* Candidate endpoints a peer's handshake initiations also go to. */
enum { WG_MAX_CANDIDATES = 8 };

/* One session: the transport keys of one completed handshake. */
struct keypair {
	uint8_t sending_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t receiving_key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t sending_counter;
	struct replay_counter receiving_counter;
	uint64_t birthdate; /* monotonic ns */
	uint32_t local_index;
	uint32_t remote_index;
	bool is_initiator;
	bool in_use;
};

/* The peer's timers, named after what they do when they fire. */
enum peer_timer {
	TIMER_RETRANSMIT_HANDSHAKE,
	TIMER_SEND_KEEPALIVE,
	TIMER_NEW_HANDSHAKE,
	TIMER_ZERO_KEY_MATERIAL,
	TIMER_PERSISTENT_KEEPALIVE,
	TIMER_COUNT
};

struct peer_stats {
	uint64_t rx_bytes; /* every authenticated datagram, as the kernel counts */
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t handshakes; /* completed */
};

struct wg_peer {
	struct wg_peer *next_peer; /* device's peer list */
	struct wg_device *device;
	char name[64]; /* for logs and status: a name or the short key */

	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	struct noise_handshake handshake;
	struct cookie cookie;

	/* Session slots point into keypair_pool; at most three are in use, so
	 * a fourth is always free for the next handshake. */
	struct keypair *current, *previous, *next;
	struct keypair keypair_pool[4];

	struct wg_endpoint endpoint;
	bool has_endpoint;
	/* Paths to try: every initiation also goes to each candidate that is
	 * not the endpoint; whichever answers becomes the endpoint (roaming). */
	struct wg_endpoint candidates[WG_MAX_CANDIDATES];
	unsigned candidate_count;

	uint64_t timers[TIMER_COUNT]; /* deadline, monotonic ns; 0 = not pending */
	unsigned handshake_attempts;
	uint64_t last_sent_handshake;   /* monotonic ns; 0 = never */
	struct timespec last_handshake; /* wall clock of the last completed handshake */
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	uint16_t persistent_keepalive_interval; /* seconds; 0 = off */

	/* Packets waiting for a session; allocated on first use. */
	struct pkt_batch *staged;

	struct peer_stats stats;
};

/* Call after an authenticated handshake, data or keepalive message is received. */
void timers_any_authenticated_packet_received(struct wg_peer *peer, uint64_t now);
/* Call after an authenticated message is sent. */
void timers_any_authenticated_packet_sent(struct wg_peer *peer, uint64_t now);
/* Call after any authenticated message is sent or received. */
void timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now);
/* Call after a data message (not a keepalive) is sent. */
void timers_data_sent(struct wg_peer *peer, uint64_t now);
/* Call after a data message (not a keepalive) is received. */
void timers_data_received(struct wg_peer *peer, uint64_t now);
/* Call after a handshake initiation is sent. */
void timers_handshake_initiated(struct wg_peer *peer, uint64_t now);
/* Call after a handshake completes: response consumed, or first data on a
 * responder's new session. */
void timers_handshake_complete(struct wg_peer *peer, uint64_t now);
/* Call after new transport keys are derived. */
void timers_session_derived(struct wg_peer *peer, uint64_t now);
/* Stops every timer (peer removed, device down). */
void timers_stop(struct wg_peer *peer);

/* Earliest pending deadline of the peer, or UINT64_MAX. */
uint64_t timers_next_deadline(const struct wg_peer *peer);

/* True when the keypair may still send or receive (age and counter limits). */
bool keypair_is_usable(const struct keypair *kp, uint64_t now, bool sending);

#endif
