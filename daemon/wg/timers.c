/*
 * Per-peer timers, as the WireGuard whitepaper (section 6) and the reference
 * implementations define them. Each timer is a deadline on the monotonic
 * clock; the device runs the expired ones from its event loop.
 *
 *  retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation; resends
 *                        it, up to MAX_TIMER_HANDSHAKES times, then gives up
 *  send_keepalive        KEEPALIVE_TIMEOUT after data was received and
 *                        nothing was sent back
 *  new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data
 *                        was sent and nothing authenticated came back
 *  zero_key_material     REJECT_AFTER_TIME * 3 after the last new session
 *  persistent_keepalive  the configured interval after any traffic
 */
#include "wg/engine.h"

#include <sodium.h>

static bool pending(const struct wg_peer *peer, enum peer_timer t)
{
	return peer->timers[t] != 0;
}

static void mod_timer(struct wg_peer *peer, enum peer_timer t, uint64_t deadline)
{
	peer->timers[t] = deadline ? deadline : 1;
}

static void del_timer(struct wg_peer *peer, enum peer_timer t)
{
	peer->timers[t] = 0;
}

void timers_stop(struct wg_peer *peer)
{
	for (int t = 0; t < TIMER_COUNT; t++)
		del_timer(peer, t);
}

uint64_t timers_next_deadline(const struct wg_peer *peer)
{
	uint64_t next = UINT64_MAX;
	for (int t = 0; t < TIMER_COUNT; t++)
		if (pending(peer, t) && peer->timers[t] < next)
			next = peer->timers[t];
	return next;
}

void timers_any_authenticated_packet_received(struct wg_peer *peer, uint64_t now)
{
	del_timer(peer, TIMER_NEW_HANDSHAKE);
}

void timers_any_authenticated_packet_sent(struct wg_peer *peer, uint64_t now)
{
	del_timer(peer, TIMER_SEND_KEEPALIVE);
}

void timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive_interval)
		mod_timer(peer, TIMER_PERSISTENT_KEEPALIVE,
			  now + peer->persistent_keepalive_interval * NSEC_PER_SEC);
}

void timers_data_sent(struct wg_peer *peer, uint64_t now)
{
	if (!pending(peer, TIMER_NEW_HANDSHAKE))
		mod_timer(peer, TIMER_NEW_HANDSHAKE,
			  now + NEW_HANDSHAKE_TIMEOUT * NSEC_PER_SEC + dev_jitter(peer->device));
}

void timers_data_received(struct wg_peer *peer, uint64_t now)
{
	if (!pending(peer, TIMER_SEND_KEEPALIVE))
		mod_timer(peer, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT * NSEC_PER_SEC);
	else
		peer->need_another_keepalive = true;
}

void timers_handshake_initiated(struct wg_peer *peer, uint64_t now)
{
	mod_timer(peer, TIMER_RETRANSMIT_HANDSHAKE,
		  now + REKEY_TIMEOUT * NSEC_PER_SEC + dev_jitter(peer->device));
}

void timers_handshake_complete(struct wg_peer *peer, uint64_t now)
{
	struct wg_device *dev = peer->device;

	del_timer(peer, TIMER_RETRANSMIT_HANDSHAKE);
	peer->handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	peer->stats.handshakes++;
	dev->env.wall(dev->env.ctx, &peer->last_handshake);
}

void timers_session_derived(struct wg_peer *peer, uint64_t now)
{
	mod_timer(peer, TIMER_ZERO_KEY_MATERIAL, now + ZERO_KEY_MATERIAL_TIMEOUT * NSEC_PER_SEC);
}

static void expired_retransmit_handshake(struct wg_peer *peer, struct pkt_batch *out, uint64_t now)
{
	if (peer->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* Give up: drop what waited, stop keepalives, and erase keys
		 * later unless that is already scheduled. */
		del_timer(peer, TIMER_SEND_KEEPALIVE);
		peer->device->stats.drops[DROP_TX_GAVE_UP] +=
		    peer->staged ? peer->staged->count : 0;
		staged_clear(peer);
		if (!pending(peer, TIMER_ZERO_KEY_MATERIAL))
			mod_timer(peer, TIMER_ZERO_KEY_MATERIAL,
				  now + ZERO_KEY_MATERIAL_TIMEOUT * NSEC_PER_SEC);
		return;
	}
	peer->handshake_attempts++;
	/* The peer may have moved: let the kernel pick our source address. */
	peer->endpoint.src_ifindex = 0;
	sodium_memzero(&peer->endpoint.src6, sizeof(peer->endpoint.src6));
	send_handshake_initiation(peer, true, out, now);
}

static void expired_send_keepalive(struct wg_peer *peer, struct pkt_batch *out, uint64_t now)
{
	send_keepalive(peer, out, now);
	if (peer->need_another_keepalive) {
		peer->need_another_keepalive = false;
		mod_timer(peer, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT * NSEC_PER_SEC);
	}
}

static void expired_new_handshake(struct wg_peer *peer, struct pkt_batch *out, uint64_t now)
{
	/* We sent data and heard nothing for 15 s: the session may be dead. */
	peer->endpoint.src_ifindex = 0;
	sodium_memzero(&peer->endpoint.src6, sizeof(peer->endpoint.src6));
	send_handshake_initiation(peer, false, out, now);
}

static void expired_zero_key_material(struct wg_peer *peer, struct pkt_batch *out, uint64_t now)
{
	peer_drop_keypairs(peer);
	peer_drop_handshake(peer);
}

static void expired_persistent_keepalive(struct wg_peer *peer, struct pkt_batch *out, uint64_t now)
{
	if (peer->persistent_keepalive_interval)
		send_keepalive(peer, out, now);
}

void timers_expire(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	static void (*const handlers[TIMER_COUNT])(struct wg_peer *, struct pkt_batch *,
						   uint64_t) = {
		[TIMER_RETRANSMIT_HANDSHAKE] = expired_retransmit_handshake,
		[TIMER_SEND_KEEPALIVE] = expired_send_keepalive,
		[TIMER_NEW_HANDSHAKE] = expired_new_handshake,
		[TIMER_ZERO_KEY_MATERIAL] = expired_zero_key_material,
		[TIMER_PERSISTENT_KEEPALIVE] = expired_persistent_keepalive,
	};

	for (int t = 0; t < TIMER_COUNT; t++) {
		if (pending(peer, t) && peer->timers[t] <= now) {
			del_timer(peer, t);
			handlers[t](peer, udp_out, now);
		}
	}
}
