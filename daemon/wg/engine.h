/*
 * Functions shared by the engine's own files (device.c, send.c, receive.c,
 * timers.c). Not for use outside daemon/wg/.
 */
#ifndef MESHGATE_WG_ENGINE_H
#define MESHGATE_WG_ENGINE_H

#include "timeutil.h"
#include "wg/device.h"

static inline uint64_t dev_now(const struct wg_device *dev)
{
	return dev->env.now(dev->env.ctx);
}

static inline void dev_random(const struct wg_device *dev, void *buf, size_t len)
{
	dev->env.random(dev->env.ctx, buf, len);
}

static inline void dev_drop(struct wg_device *dev, enum wg_drop_reason reason)
{
	dev->stats.drops[reason]++;
}

/* A random delay in [0, REKEY_TIMEOUT_JITTER_MAX_MS) ms, in ns. Drawn from
 * a pool that one env.random call refills every WG_JITTER_POOL delays. */
uint64_t dev_jitter(struct wg_device *dev);

/* Draws a fresh random index and registers it. 0 or -errno. */
int dev_index_new(struct wg_device *dev, enum index_kind kind, struct wg_peer *peer,
		  struct keypair *kp, uint32_t *out);

/* Session slots (device.c). */
struct keypair *peer_add_keypair(struct wg_peer *peer, const struct noise_session_keys *keys,
				 uint64_t now);
/* Promotes `next` to current when kp is it (key confirmation). True if it did. */
bool peer_received_with_keypair(struct wg_peer *peer, struct keypair *kp);
void peer_drop_keypairs(struct wg_peer *peer);
void peer_drop_handshake(struct wg_peer *peer);
/* Registers a fresh index for the peer's next handshake message, releasing
 * the one of a handshake it replaces. */
int peer_handshake_index_new(struct wg_peer *peer, uint32_t *index);

/* Sending (send.c). */
void send_handshake_initiation(struct wg_peer *peer, bool is_retry, struct pkt_batch *udp_out,
			       uint64_t now);
/* Sends the staged packets, or a keepalive when nothing is staged. */
void send_keepalive(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now);
void send_staged_packets(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now);
void staged_clear(struct wg_peer *peer);
/* Appends a control message (handshake, cookie) to udp_out towards ep. */
void send_control(struct wg_device *dev, struct pkt_batch *udp_out, const struct wg_endpoint *ep,
		  const void *msg, size_t len);

/* Timers (timers.c): runs every expired timer of peer. */
void timers_expire(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now);

#endif
