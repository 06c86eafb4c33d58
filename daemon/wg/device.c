/*
 * The device: identity, peers and their session slots, the index table.
 * The packet paths are in send.c and receive.c, the timers in timers.c.
 */
#include "wg/engine.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wg/crypto.h"

static const char *const drop_reason_names[DROP_REASON_COUNT] = {
	[DROP_RX_MALFORMED] = "rx_malformed",
	[DROP_RX_BAD_MAC] = "rx_bad_mac",
	[DROP_RX_RATELIMITED] = "rx_ratelimited",
	[DROP_RX_HANDSHAKE_INVALID] = "rx_handshake_invalid",
	[DROP_RX_UNKNOWN_PEER] = "rx_unknown_peer",
	[DROP_RX_HANDSHAKE_REPLAY] = "rx_handshake_replay",
	[DROP_RX_HANDSHAKE_FLOOD] = "rx_handshake_flood",
	[DROP_RX_UNKNOWN_INDEX] = "rx_unknown_index",
	[DROP_RX_KEY_EXPIRED] = "rx_key_expired",
	[DROP_RX_DECRYPT] = "rx_decrypt",
	[DROP_RX_REPLAY] = "rx_replay",
	[DROP_RX_BAD_INNER] = "rx_bad_inner",
	[DROP_RX_SOURCE_NOT_ALLOWED] = "rx_source_not_allowed",
	[DROP_RX_RELAY_PATH] = "rx_relay_path",
	[DROP_TX_NO_ROUTE] = "tx_no_route",
	[DROP_TX_LINK_LOCAL] = "tx_link_local",
	[DROP_TX_NO_ENDPOINT] = "tx_no_endpoint",
	[DROP_TX_MALFORMED] = "tx_malformed",
	[DROP_TX_STAGED_OVERFLOW] = "tx_staged_overflow",
	[DROP_TX_GAVE_UP] = "tx_gave_up",
	[DROP_BATCH_FULL] = "batch_full",
};

const char *wg_drop_reason_name(enum wg_drop_reason reason)
{
	return reason < DROP_REASON_COUNT ? drop_reason_names[reason] : "unknown";
}

uint64_t dev_jitter(struct wg_device *dev)
{
	if (dev->jitter_left == 0) {
		dev_random(dev, dev->jitter_pool, sizeof(dev->jitter_pool));
		dev->jitter_left = WG_JITTER_POOL;
	}
	return (uint64_t)(dev->jitter_pool[--dev->jitter_left] % REKEY_TIMEOUT_JITTER_MAX_MS) *
	       NSEC_PER_MSEC;
}

int dev_index_new(struct wg_device *dev, enum index_kind kind, struct wg_peer *peer,
		  struct keypair *kp, uint32_t *out)
{
	int ret;

	ret = index_table_reserve(&dev->index, dev->index.count + 1);
	if (ret < 0)
		return ret;
	do {
		dev_random(dev, out, sizeof(*out));
		ret = index_table_insert(&dev->index, *out, kind, peer, kp);
	} while (ret == -EEXIST);
	return ret;
}

struct wg_device *wg_device_new(const struct wg_env *env, uint32_t mtu)
{
	struct wg_device *dev = calloc(1, sizeof(*dev));
	uint8_t secret[16];

	if (!dev)
		return NULL;
	dev->env = *env;
	dev->mtu = mtu;
	dev->under_load_threshold = UNDER_LOAD_HANDSHAKES_PER_SECOND;
	noise_init();
	allowedips_init(&dev->allowedips);
	dev_random(dev, secret, sizeof(secret));
	if (index_table_init(&dev->index, 64) < 0)
		goto err_index;
	if (ratelimiter_init(&dev->ratelimiter, 8192, secret) < 0)
		goto err_ratelimiter;
	sodium_memzero(secret, sizeof(secret));
	return dev;

err_ratelimiter:
	index_table_free(&dev->index);
err_index:
	allowedips_free(&dev->allowedips);
	free(dev);
	return NULL;
}

void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	wg_device_remove_all_peers(dev);
	ratelimiter_deinit(&dev->ratelimiter);
	index_table_free(&dev->index);
	allowedips_free(&dev->allowedips);
	noise_static_identity_clear(&dev->identity);
	sodium_memzero(&dev->cookie_checker, sizeof(dev->cookie_checker));
	free(dev);
}

int wg_device_set_private_key(struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct noise_static_identity id = { 0 };
	int ret = 0;

	if (key) {
		ret = noise_static_identity_set(&id, key);
		if (ret < 0)
			goto out;
	}
	/* The same key again (a reload, `wg set` repeated) keeps the sessions. */
	if (id.has_identity == dev->identity.has_identity &&
	    sodium_memcmp(id.static_private, dev->identity.static_private, NOISE_PUBLIC_KEY_LEN) ==
		0)
		goto out;
	dev->identity = id;
	cookie_checker_init(&dev->cookie_checker, dev->identity.static_public);

	for (struct wg_peer **pp = &dev->peers; *pp;) {
		struct wg_peer *peer = *pp;
		if (dev->identity.has_identity &&
		    sodium_memcmp(peer->public_key, dev->identity.static_public,
				  NOISE_PUBLIC_KEY_LEN) == 0) {
			/* A peer cannot be ourselves. */
			wg_device_remove_peer(dev, peer);
			continue;
		}
		wg_peer_reset_sessions(peer);
		if (noise_handshake_precompute(&peer->handshake) < 0)
			ret = -EINVAL;
		pp = &peer->next_peer;
	}
out:
	sodium_memzero(&id, sizeof(id));
	return ret;
}

int wg_device_add_peer(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		       struct wg_peer **out)
{
	struct wg_peer *peer;
	int ret;

	if (wg_device_find_peer(dev, public_key))
		return -EEXIST;
	if (dev->identity.has_identity &&
	    sodium_memcmp(public_key, dev->identity.static_public, NOISE_PUBLIC_KEY_LEN) == 0)
		return -EINVAL;
	if (dev->peer_count >= MAX_PEERS_PER_DEVICE)
		return -ENOSPC;
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return -ENOMEM;
	peer->device = dev;
	memcpy(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	/* Refuses low-order keys with or without our own identity set. */
	ret = noise_handshake_init(&peer->handshake, &dev->identity, public_key, NULL);
	if (ret < 0) {
		free(peer);
		return ret;
	}
	/* Four index slots per peer: one handshake, three sessions. */
	ret = index_table_reserve(&dev->index, dev->index.count + 4 * (dev->peer_count + 1));
	if (ret < 0) {
		noise_handshake_wipe(&peer->handshake);
		free(peer);
		return ret;
	}
	cookie_init(&peer->cookie, public_key);
	peer->next_peer = dev->peers;
	dev->peers = peer;
	dev->peer_count++;
	*out = peer;
	return 0;
}

void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer)
{
	for (struct wg_peer **pp = &dev->peers; *pp; pp = &(*pp)->next_peer) {
		if (*pp == peer) {
			*pp = peer->next_peer;
			break;
		}
	}
	dev->peer_count--;
	timers_stop(peer);
	allowedips_remove_by_peer(&dev->allowedips, peer);
	peer_drop_keypairs(peer);
	peer_drop_handshake(peer);
	staged_clear(peer);
	pkt_batch_free(peer->staged);
	noise_handshake_wipe(&peer->handshake);
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void wg_device_remove_all_peers(struct wg_device *dev)
{
	while (dev->peers)
		wg_device_remove_peer(dev, dev->peers);
}

struct wg_peer *wg_device_find_peer(const struct wg_device *dev,
				    const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	/* Linear: peers are few, and this runs on the control path and once
	 * per handshake initiation, which costs four DH operations anyway. */
	wg_device_for_each_peer(dev, peer)
	{
		if (memcmp(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN) == 0)
			return peer;
	}
	return NULL;
}

bool wg_device_static_dh(const struct wg_device *dev, uint8_t out[NOISE_PUBLIC_KEY_LEN],
			 const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	if (!dev->identity.has_identity) {
		memset(out, 0, NOISE_PUBLIC_KEY_LEN);
		return false;
	}
	return x25519_dh(out, dev->identity.static_private, pub);
}

void wg_device_set_crypt_queue(struct wg_device *dev, struct wg_crypt_queue *q)
{
	dev->crypt_queue = q;
}

void wg_device_set_relay_check(struct wg_device *dev, wg_relay_check_fn fn, void *ctx)
{
	dev->relay_check = fn;
	dev->relay_check_ctx = fn ? ctx : NULL;
}

void wg_peer_set_name(struct wg_peer *peer, const char *name)
{
	snprintf(peer->name, sizeof(peer->name), "%s", name);
}

static bool is_inet(const struct wg_endpoint *ep)
{
	return ep->addr.sa.sa_family == AF_INET || ep->addr.sa.sa_family == AF_INET6;
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep)
{
	peer->endpoint = *ep;
	peer->has_endpoint = is_inet(ep);
}

static bool has_candidate(const struct wg_endpoint *list, unsigned n, const struct wg_endpoint *ep)
{
	for (unsigned i = 0; i < n; i++)
		if (wg_endpoint_same_path(&list[i], ep))
			return true;
	return false;
}

int wg_peer_set_candidates(struct wg_peer *peer, const struct wg_endpoint *eps, size_t n)
{
	struct wg_endpoint list[WG_MAX_CANDIDATES];
	unsigned count = 0;

	if (n > WG_MAX_CANDIDATES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!is_inet(&eps[i]))
			return -EINVAL;
		if (!has_candidate(list, count, &eps[i]))
			list[count++] = eps[i];
	}
	memcpy(peer->candidates, list, count * sizeof(list[0]));
	peer->candidate_count = count;
	return 0;
}

void wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	noise_handshake_set_psk(&peer->handshake, psk);
}

void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t seconds,
				      struct pkt_batch *udp_out)
{
	bool was_off = peer->persistent_keepalive_interval == 0;

	peer->persistent_keepalive_interval = seconds;
	if (seconds && was_off && peer->has_endpoint)
		send_keepalive(peer, udp_out, dev_now(peer->device));
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *ip, uint8_t cidr)
{
	return allowedips_insert(&peer->device->allowedips, family, ip, cidr, peer);
}

void wg_peer_clear_allowed_ips(struct wg_peer *peer)
{
	allowedips_remove_by_peer(&peer->device->allowedips, peer);
}

bool keypair_is_usable(const struct keypair *kp, uint64_t now, bool sending)
{
	if (!kp || !kp->in_use || has_expired(kp->birthdate, REJECT_AFTER_TIME, now))
		return false;
	if (sending)
		return kp->sending_counter < REJECT_AFTER_MESSAGES;
	return kp->receiving_counter.counter < REJECT_AFTER_MESSAGES;
}

bool wg_peer_has_session(const struct wg_peer *peer)
{
	return keypair_is_usable(peer->current, dev_now(peer->device), true);
}

static void keypair_free(struct wg_peer *peer, struct keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&peer->device->index, kp->local_index);
	sodium_memzero(kp, sizeof(*kp));
}

void peer_drop_keypairs(struct wg_peer *peer)
{
	keypair_free(peer, peer->previous);
	keypair_free(peer, peer->current);
	keypair_free(peer, peer->next);
	peer->previous = peer->current = peer->next = NULL;
}

/* Releases the index of the peer's handshake in progress, if it has one. */
static void handshake_index_release(struct wg_peer *peer)
{
	struct index_table *table = &peer->device->index;
	const struct index_entry *e =
	    index_table_lookup(table, peer->handshake.local_index, 1u << INDEX_HANDSHAKE);

	if (e && e->peer == peer)
		index_table_remove(table, peer->handshake.local_index);
}

int peer_handshake_index_new(struct wg_peer *peer, uint32_t *index)
{
	handshake_index_release(peer);
	return dev_index_new(peer->device, INDEX_HANDSHAKE, peer, NULL, index);
}

void peer_drop_handshake(struct wg_peer *peer)
{
	handshake_index_release(peer);
	noise_handshake_clear(&peer->handshake);
}

void wg_peer_reset_sessions(struct wg_peer *peer)
{
	peer_drop_keypairs(peer);
	peer_drop_handshake(peer);
	timers_stop(peer);
	peer->handshake_attempts = 0;
	peer->last_sent_handshake = 0;
}

static struct keypair *keypair_slot(struct wg_peer *peer)
{
	for (size_t i = 0; i < 4; i++)
		if (!peer->keypair_pool[i].in_use)
			return &peer->keypair_pool[i];
	return NULL; /* unreachable: at most three slots are referenced */
}

struct keypair *peer_add_keypair(struct wg_peer *peer, const struct noise_session_keys *keys,
				 uint64_t now)
{
	struct keypair *kp = keypair_slot(peer);
	struct index_entry *e;

	if (!kp)
		return NULL;
	*kp = (struct keypair){ .birthdate = now,
				.local_index = keys->local_index,
				.remote_index = keys->remote_index,
				.is_initiator = keys->is_initiator,
				.in_use = true };
	memcpy(kp->sending_key, keys->sending, sizeof(kp->sending_key));
	memcpy(kp->receiving_key, keys->receiving, sizeof(kp->receiving_key));
	replay_init(&kp->receiving_counter);

	/* The handshake's index now names this session. */
	e = (struct index_entry *)index_table_lookup(&peer->device->index, kp->local_index,
						     1u << INDEX_HANDSHAKE);
	if (e) {
		e->kind = INDEX_KEYPAIR;
		e->keypair = kp;
	}

	if (kp->is_initiator) {
		/* The response confirmed the keys: use them at once. An unused
		 * next session is demoted to previous (it may still receive). */
		if (peer->next) {
			keypair_free(peer, peer->previous);
			peer->previous = peer->next;
			peer->next = NULL;
			keypair_free(peer, peer->current);
		} else {
			keypair_free(peer, peer->previous);
			peer->previous = peer->current;
		}
		peer->current = kp;
	} else {
		/* Responder: unusable for sending until the initiator's first
		 * data message confirms it (see peer_received_with_keypair). */
		keypair_free(peer, peer->next);
		keypair_free(peer, peer->previous);
		peer->previous = NULL;
		peer->next = kp;
	}
	return kp;
}

bool peer_received_with_keypair(struct wg_peer *peer, struct keypair *kp)
{
	if (kp != peer->next)
		return false;
	keypair_free(peer, peer->previous);
	peer->previous = peer->current;
	peer->current = kp;
	peer->next = NULL;
	return true;
}

void wg_device_run_timers(struct wg_device *dev, struct pkt_batch *udp_out)
{
	uint64_t now = dev_now(dev);

	wg_device_for_each_peer(dev, peer)
	{
		if (timers_next_deadline(peer) <= now)
			timers_expire(peer, udp_out, now);
	}
	ratelimiter_gc(&dev->ratelimiter, now);
}

uint64_t wg_device_next_deadline(const struct wg_device *dev)
{
	uint64_t next = UINT64_MAX;

	wg_device_for_each_peer(dev, peer)
	{
		uint64_t t = timers_next_deadline(peer);
		if (t < next)
			next = t;
	}
	return next;
}

void wg_peer_send_handshake(struct wg_peer *peer, struct pkt_batch *udp_out)
{
	send_handshake_initiation(peer, false, udp_out, dev_now(peer->device));
}
