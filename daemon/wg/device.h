/*
 * The WireGuard engine's device: our identity, the peers, the allowed-IPs
 * table, the index table and the three entry points that move packets.
 *
 * The device does no I/O. The caller reads batches from TUN and UDP and hands
 * them in; the engine appends what must be sent to the caller's output
 * batches (see packet.h). Time and randomness come from struct wg_env, so two
 * devices can run in one process against a fake clock.
 */
#ifndef MESHGATE_WG_DEVICE_H
#define MESHGATE_WG_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "wg/allowedips.h"
#include "wg/cookie.h"
#include "wg/cryptjob.h"
#include "wg/index.h"
#include "wg/noise.h"
#include "wg/packet.h"
#include "wg/peer.h"
#include "wg/ratelimiter.h"

/* What the engine needs from the world. */
struct wg_env {
	uint64_t (*now)(void *ctx);                   /* monotonic clock, ns */
	void (*wall)(void *ctx, struct timespec *ts); /* wall clock, for TAI64N */
	void (*random)(void *ctx, void *buf, size_t len);
	void *ctx;
};

/* Why a packet was dropped. Dropping is silent on the wire and counted here. */
enum wg_drop_reason {
	DROP_RX_MALFORMED,          /* unknown type, wrong size */
	DROP_RX_BAD_MAC,            /* MAC1 invalid: not for us */
	DROP_RX_RATELIMITED,        /* under load, source over its rate */
	DROP_RX_HANDSHAKE_INVALID,  /* decryption failed, wrong state */
	DROP_RX_UNKNOWN_PEER,       /* initiation from a key we don't know */
	DROP_RX_HANDSHAKE_REPLAY,   /* timestamp not newer than the last one */
	DROP_RX_HANDSHAKE_FLOOD,    /* initiations from one peer too fast */
	DROP_RX_UNKNOWN_INDEX,      /* data/response/cookie for no session */
	DROP_RX_KEY_EXPIRED,        /* session too old or too many messages */
	DROP_RX_DECRYPT,            /* data failed to authenticate */
	DROP_RX_REPLAY,             /* counter seen or too old */
	DROP_RX_BAD_INNER,          /* decrypted packet is not IPv4/IPv6 */
	DROP_RX_SOURCE_NOT_ALLOWED, /* inner source outside the peer's allowed IPs */
	DROP_RX_RELAY_PATH,         /* relayed, but not on the peer's own relay path */
	DROP_TX_NO_ROUTE,           /* destination in no peer's allowed IPs */
	DROP_TX_LINK_LOCAL,         /* the same, link-scoped: the kernel's own chatter */
	DROP_TX_NO_ENDPOINT,        /* peer has no known endpoint */
	DROP_TX_MALFORMED,          /* not an IP packet, or larger than the MTU */
	DROP_TX_STAGED_OVERFLOW,    /* too many packets waiting for a handshake */
	DROP_TX_GAVE_UP,            /* handshake attempts exhausted */
	DROP_BATCH_FULL,            /* output batch full and not flushable */
	DROP_REASON_COUNT
};

/* Stable names for logs and metrics (snake_case). */
const char *wg_drop_reason_name(enum wg_drop_reason reason);

struct wg_device_stats {
	uint64_t drops[DROP_REASON_COUNT];
	uint64_t handshake_initiations_rx;
	uint64_t handshake_initiations_tx;
	uint64_t handshake_responses_rx;
	uint64_t handshake_responses_tx;
	uint64_t cookie_replies_rx;
	uint64_t cookie_replies_tx;
	uint64_t sessions_established;
};

/*
 * Whether a message relayed for peer (its endpoint's relay_via, nonzero) came
 * through the peer's own relay path: the engine knows relay endpoints only as
 * ids, their owner knows which id is whose. Asked before the message may
 * change any state of the peer but an initiation's handshake, whose peer is
 * known only after it is consumed; a refused message is dropped
 * (DROP_RX_RELAY_PATH), so the peer's endpoint never roams to it.
 */
typedef bool (*wg_relay_check_fn)(void *ctx, const struct wg_peer *peer, uint32_t relay_via);

/* Timer jitter values drawn per env.random call. */
enum { WG_JITTER_POOL = 64 };

struct wg_device {
	struct wg_env env;
	struct noise_static_identity identity;
	struct cookie_checker cookie_checker;
	struct ratelimiter ratelimiter;
	struct allowedips allowedips;
	struct index_table index;

	struct wg_peer *peers; /* singly linked, in insertion order reversed */
	unsigned peer_count;

	uint32_t mtu; /* of the TUN: bounds plaintext and padding */

	/* Under-load detection: handshake messages per one-second window. */
	uint64_t load_window_start;
	unsigned load_window_count;
	uint64_t last_under_load; /* 0 = not under load */
	unsigned under_load_threshold;

	wg_relay_check_fn relay_check; /* NULL: relay endpoints are taken as any */
	void *relay_check_ctx;

	struct wg_crypt_queue *crypt_queue; /* NULL: data AEAD inline */

	/* Timer jitter, drawn in batches: data sent after an answer re-arms
	 * new_handshake with fresh jitter, and the daemon's random source is a
	 * syscall, which one packet at a time would pay every time. */
	uint32_t jitter_pool[WG_JITTER_POOL];
	unsigned jitter_left;

	struct wg_device_stats stats;
};

/* Handshake messages per second past which the device is under load and
 * answers with cookie replies. Tests lower it through the field. */
enum { UNDER_LOAD_HANDSHAKES_PER_SECOND = 128 };

/* Returns a new device; free with wg_device_free(). NULL on allocation failure. */
struct wg_device *wg_device_new(const struct wg_env *env, uint32_t mtu);
void wg_device_free(struct wg_device *dev);

/* Sets (or with NULL clears) the private key. Sessions of every peer are
 * dropped, as a new identity invalidates them. -EINVAL for an unusable key;
 * peers whose key equals the new public key are removed (as wg does). */
int wg_device_set_private_key(struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);

/* Adds a peer. *out is set on success. -EEXIST if present, -EINVAL for a
 * low-order key or our own key. */
int __attribute__((warn_unused_result))
wg_device_add_peer(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		   struct wg_peer **out);
/* Removes a peer, its allowed IPs, sessions and staged packets; wipes keys. */
void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer);
void wg_device_remove_all_peers(struct wg_device *dev);
struct wg_peer *wg_device_find_peer(const struct wg_device *dev,
				    const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);

/* out = X25519(our static private key, pub): the DH the mesh's join boxes
 * and relay keys take, done here so that the key never leaves the engine.
 * false without a private key or for a low-order pub (out is zeroed). */
bool wg_device_static_dh(const struct wg_device *dev, uint8_t out[NOISE_PUBLIC_KEY_LEN],
			 const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
    __attribute__((warn_unused_result));

/* Installs (or with NULL removes) the relay path check; see wg_relay_check_fn. */
void wg_device_set_relay_check(struct wg_device *dev, wg_relay_check_fn fn, void *ctx);

/*
 * Installs (or with NULL removes) a queue for the AEAD of data messages:
 * with one, wg_device_tun_input records encryptions whose output slots are
 * in udp_out and whose input is in `in`, so the caller must run the queue
 * (wg_crypt_queue_run) before it sends udp_out or refills `in`; the engine
 * runs it itself when it is full. wg_device_udp_input records decryptions
 * and runs them before it returns. Staged packets and keepalives are
 * encrypted inline either way. q must outlive its use; cap > 0.
 */
void wg_device_set_crypt_queue(struct wg_device *dev, struct wg_crypt_queue *q);

void wg_peer_set_name(struct wg_peer *peer, const char *name);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep);
/* Replaces the peer's candidate endpoints (n = 0 clears them). Every
 * handshake initiation also goes, as identical copies, to each candidate that
 * differs from the current endpoint; the path that answers first becomes the
 * endpoint through roaming. A peer without an endpoint sends to its
 * candidates alone. Duplicates are kept once. -EINVAL when n exceeds
 * WG_MAX_CANDIDATES or an endpoint is not IPv4/IPv6 (nothing is changed). */
int wg_peer_set_candidates(struct wg_peer *peer, const struct wg_endpoint *eps, size_t n);
void wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
/* Sets the persistent keepalive interval (0 = off); as wg, a newly enabled
 * interval sends one keepalive right away. */
void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t seconds,
				      struct pkt_batch *udp_out);
int wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *ip, uint8_t cidr);
void wg_peer_clear_allowed_ips(struct wg_peer *peer);
/* Drops all sessions and handshake state of a peer (keys stay). */
void wg_peer_reset_sessions(struct wg_peer *peer);
/* True if the peer has a session usable for sending now. */
bool wg_peer_has_session(const struct wg_peer *peer);

/* Plaintext packets read from the TUN: routed by destination, encrypted and
 * appended to udp_out; packets without a session are staged and a handshake
 * is started. Empties `in`. */
void wg_device_tun_input(struct wg_device *dev, struct pkt_batch *in, struct pkt_batch *udp_out);

/* Datagrams read from the UDP socket: handshakes answered into udp_out,
 * data decrypted into tun_out. Empties `in`. */
void wg_device_udp_input(struct wg_device *dev, struct pkt_batch *in, struct pkt_batch *tun_out,
			 struct pkt_batch *udp_out);

/* Runs every expired timer (retransmits, keepalives, rekeys, key erasure). */
void wg_device_run_timers(struct wg_device *dev, struct pkt_batch *udp_out);

/* The earliest timer deadline (monotonic ns), or UINT64_MAX for none. */
uint64_t wg_device_next_deadline(const struct wg_device *dev);

/* Starts a handshake with peer now unless one was sent under REKEY_TIMEOUT ago. */
void wg_peer_send_handshake(struct wg_peer *peer, struct pkt_batch *udp_out);

#define wg_device_for_each_peer(dev, p) for (struct wg_peer *p = (dev)->peers; p; p = p->next_peer)

#endif
