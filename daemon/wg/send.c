/*
 * The sending half: plaintext from the TUN is routed to a peer by its
 * destination address, padded to a multiple of 16 bytes (capped at the MTU),
 * encrypted with the peer's current session and appended to the UDP batch.
 * Packets that find no usable session wait in the peer's staged queue while
 * a handshake is started. Also builds handshake initiations and keepalives.
 */
#include "wg/engine.h"

#include <endian.h>
#include <sodium.h>
#include <string.h>

#include "wg/crypto.h"

void send_control(struct wg_device *dev, struct pkt_batch *udp_out, const struct wg_endpoint *ep,
		  const void *msg, size_t len)
{
	struct pkt *out = pkt_batch_add(udp_out);

	if (!out || len > pkt_tailroom(out)) {
		dev_drop(dev, DROP_BATCH_FULL);
		if (out)
			udp_out->count--;
		return;
	}
	memcpy(out->data, msg, len);
	out->len = (uint32_t)len;
	out->ep = *ep;
}

/*
 * Sends one initiation to the endpoint and identical copies to every other
 * candidate. The responder accepts the first copy to arrive (later ones fail
 * the timestamp check), answers along its path, and the response moves our
 * endpoint there: the first path to answer wins. Copies sent by both sides
 * open endpoint-independent NAT mappings for each other.
 */
static void send_initiation_copies(struct wg_peer *peer,
				   const struct message_handshake_initiation *msg,
				   struct pkt_batch *udp_out)
{
	struct wg_device *dev = peer->device;

	if (peer->has_endpoint) {
		send_control(dev, udp_out, &peer->endpoint, msg, sizeof(*msg));
		peer->stats.tx_bytes += sizeof(*msg);
	}
	for (unsigned i = 0; i < peer->candidate_count; i++) {
		const struct wg_endpoint *ep = &peer->candidates[i];

		if (peer->has_endpoint && wg_endpoint_same_path(ep, &peer->endpoint))
			continue;
		send_control(dev, udp_out, ep, msg, sizeof(*msg));
		peer->stats.tx_bytes += sizeof(*msg);
	}
}

void send_handshake_initiation(struct wg_peer *peer, bool is_retry, struct pkt_batch *udp_out,
			       uint64_t now)
{
	struct wg_device *dev = peer->device;
	struct message_handshake_initiation msg;
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
	struct timespec wall;
	uint32_t index;

	if (!is_retry)
		peer->handshake_attempts = 0;
	/* At most one initiation per REKEY_TIMEOUT, whatever asks for it. */
	if (peer->last_sent_handshake &&
	    !has_expired(peer->last_sent_handshake, REKEY_TIMEOUT, now))
		return;
	peer->last_sent_handshake = now;
	if (!dev->identity.has_identity)
		return;

	if (peer_handshake_index_new(peer, &index) < 0)
		return;
	dev_random(dev, ephemeral, sizeof(ephemeral));
	dev->env.wall(dev->env.ctx, &wall);
	tai64n_from_timespec(timestamp, &wall);
	if (noise_create_initiation(&msg, &peer->handshake, index, ephemeral, timestamp) < 0) {
		sodium_memzero(ephemeral, sizeof(ephemeral));
		peer_drop_handshake(peer);
		return;
	}
	sodium_memzero(ephemeral, sizeof(ephemeral));
	cookie_add_mac_to_packet(&msg, sizeof(msg), &peer->cookie, now);

	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer, now);
	if (peer->has_endpoint || peer->candidate_count) {
		send_initiation_copies(peer, &msg, udp_out);
		dev->stats.handshake_initiations_tx++;
	} else {
		dev_drop(dev, DROP_TX_NO_ENDPOINT);
	}
	timers_handshake_initiated(peer, now);
}

/* Padding that brings len to a multiple of 16, without exceeding the MTU. */
static uint32_t padding_for(uint32_t len, uint32_t mtu)
{
	uint32_t last_unit = len, padded;

	if (mtu && last_unit > mtu)
		last_unit %= mtu;
	padded =
	    (last_unit + MESSAGE_PADDING_MULTIPLE - 1) & ~(uint32_t)(MESSAGE_PADDING_MULTIPLE - 1);
	if (mtu && padded > mtu)
		padded = mtu;
	return padded - last_unit;
}

/* Records the AEAD of a data message as a job, running the queue first when
 * it is full. */
static void encrypt_deferred(struct wg_crypt_queue *q, const struct keypair *kp, uint64_t counter,
			     const uint8_t *plain, uint32_t padded, struct message_data *msg)
{
	struct wg_crypt_job *job;

	if (q->count == q->cap)
		wg_crypt_queue_run(q);
	job = &q->jobs[q->count++];
	job->dst = msg->encrypted_data;
	job->src = plain;
	job->len = padded;
	job->encrypt = true;
	job->counter = counter;
	memcpy(job->key, kp->sending_key, sizeof(job->key));
}

/*
 * Encrypts len bytes at plain (which must have 16 bytes of writable room after
 * it for padding) into a data message appended to udp_out. With defer and a
 * crypt queue, the AEAD becomes a job and plain must stay until it runs.
 */
static bool encrypt_into(struct wg_peer *peer, struct keypair *kp, uint8_t *plain, uint32_t len,
			 struct pkt_batch *udp_out, bool defer)
{
	struct wg_device *dev = peer->device;
	uint32_t padded = len + padding_for(len, dev->mtu);
	struct message_data *msg;
	uint8_t nonce[12] = { 0 };
	uint64_t counter, counter_le;
	struct pkt *out;

	out = pkt_batch_add(udp_out);
	if (!out) {
		dev_drop(dev, DROP_BATCH_FULL);
		return false;
	}
	if (sizeof(*msg) + padded + NOISE_AUTHTAG_LEN > pkt_tailroom(out)) {
		udp_out->count--;
		dev_drop(dev, DROP_TX_MALFORMED);
		return false;
	}
	memset(plain + len, 0, padded - len);

	msg = (struct message_data *)out->data;
	counter = kp->sending_counter++;
	counter_le = htole64(counter);
	msg->header.type = htole32(MESSAGE_DATA);
	msg->key_idx = htole32(kp->remote_index);
	memcpy(&msg->counter, &counter_le, sizeof(counter_le));
	if (defer && dev->crypt_queue) {
		encrypt_deferred(dev->crypt_queue, kp, counter, plain, padded, msg);
	} else {
		memcpy(nonce + 4, &counter_le, sizeof(counter_le));
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    msg->encrypted_data, msg->encrypted_data + padded, NULL, plain, padded, NULL, 0,
		    NULL, nonce, kp->sending_key);
	}
	out->len = (uint32_t)(sizeof(*msg) + padded + NOISE_AUTHTAG_LEN);
	out->ep = peer->endpoint;
	peer->stats.tx_bytes += out->len;
	peer->stats.tx_packets++;
	return true;
}

/* Starts a handshake when the current session is getting old (initiator) or
 * has sent too many messages. */
static void keep_key_fresh(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	const struct keypair *kp = peer->current;

	if (kp && kp->in_use &&
	    (kp->sending_counter > REKEY_AFTER_MESSAGES ||
	     (kp->is_initiator && has_expired(kp->birthdate, REKEY_AFTER_TIME, now))))
		send_handshake_initiation(peer, false, udp_out, now);
}

static void data_sent(struct wg_peer *peer, bool had_data, struct pkt_batch *udp_out, uint64_t now)
{
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer, now);
	if (had_data)
		timers_data_sent(peer, now);
	keep_key_fresh(peer, udp_out, now);
}

static struct keypair *sending_keypair(struct wg_peer *peer, uint64_t now)
{
	return keypair_is_usable(peer->current, now, true) && peer->has_endpoint ? peer->current
										 : NULL;
}

void send_staged_packets(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	struct pkt_batch *staged = peer->staged;
	struct keypair *kp = sending_keypair(peer, now);
	bool had_data = false;

	if (!staged || !staged->count)
		return;
	if (!kp) {
		send_handshake_initiation(peer, false, udp_out, now);
		return;
	}
	for (unsigned i = 0; i < staged->count; i++) {
		struct pkt *p = &staged->pkts[i];
		if (encrypt_into(peer, kp, p->data, p->len, udp_out, false))
			had_data |= p->len > 0;
	}
	staged->count = 0;
	data_sent(peer, had_data, udp_out, now);
}

void staged_clear(struct wg_peer *peer)
{
	if (peer->staged)
		peer->staged->count = 0;
}

void send_keepalive(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	struct keypair *kp;
	uint8_t empty[MESSAGE_PADDING_MULTIPLE];

	if (peer->staged && peer->staged->count) {
		send_staged_packets(peer, udp_out, now);
		return;
	}
	kp = sending_keypair(peer, now);
	if (!kp) {
		send_handshake_initiation(peer, false, udp_out, now);
		return;
	}
	if (encrypt_into(peer, kp, empty, 0, udp_out, false))
		data_sent(peer, false, udp_out, now);
}

/* Copies a packet into the peer's staged queue, dropping the oldest when full. */
static void stage_packet(struct wg_peer *peer, const struct pkt *pkt)
{
	struct wg_device *dev = peer->device;
	struct pkt_batch *q = peer->staged;
	struct pkt *slot;

	if (!q) {
		q = peer->staged = pkt_batch_new(MAX_STAGED_PACKETS,
						 PKT_HEADROOM + dev->mtu + MESSAGE_DATA_OVERHEAD);
		if (!q) {
			dev_drop(dev, DROP_TX_STAGED_OVERFLOW);
			return;
		}
	}
	if (q->count == q->cap) {
		/* Rotate the oldest slot to the end and reuse it. */
		struct pkt oldest = q->pkts[0];
		memmove(&q->pkts[0], &q->pkts[1], (q->cap - 1) * sizeof(q->pkts[0]));
		q->pkts[q->cap - 1] = oldest;
		q->count--;
		dev_drop(dev, DROP_TX_STAGED_OVERFLOW);
	}
	slot = pkt_batch_add(q);
	if (pkt->len + MESSAGE_PADDING_MULTIPLE > pkt_tailroom(slot)) {
		q->count--;
		dev_drop(dev, DROP_TX_MALFORMED);
		return;
	}
	memcpy(slot->data, pkt->data, pkt->len);
	slot->len = pkt->len;
}

/* The destination address of an IP packet, or 0 for a malformed one. */
static int packet_destination(const struct pkt *pkt, const uint8_t **dst)
{
	if (pkt->len >= 20 && (pkt->data[0] >> 4) == 4) {
		*dst = pkt->data + 16;
		return AF_INET;
	}
	if (pkt->len >= 40 && (pkt->data[0] >> 4) == 6) {
		*dst = pkt->data + 24;
		return AF_INET6;
	}
	return 0;
}

/* Whether dst is link-scoped (fe80::/10, ff02::/16 and the other
 * link-scope multicast, 169.254.0.0/16, 224.0.0.0/24): what the kernel sends
 * on any link by itself, router solicitations to ff02::2 above all. */
static bool link_scoped(int family, const uint8_t *dst)
{
	if (family == AF_INET)
		return (dst[0] == 169 && dst[1] == 254) || (dst[0] == 224 && !dst[1] && !dst[2]);
	return (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) ||
	       (dst[0] == 0xff && (dst[1] & 0x0f) == 0x02);
}

void wg_device_tun_input(struct wg_device *dev, struct pkt_batch *in, struct pkt_batch *udp_out)
{
	uint64_t now = dev_now(dev);
	struct wg_peer *last_peer = NULL;
	bool last_had_data = false;

	for (unsigned i = 0; i < in->count; i++) {
		struct pkt *pkt = &in->pkts[i];
		const uint8_t *dst;
		int family = packet_destination(pkt, &dst);
		struct wg_peer *peer;
		struct keypair *kp;

		if (!family || pkt_tailroom(pkt) < pkt->len + MESSAGE_PADDING_MULTIPLE) {
			dev_drop(dev, DROP_TX_MALFORMED);
			continue;
		}
		peer = allowedips_lookup(&dev->allowedips, family, dst);
		if (!peer) {
			dev_drop(dev,
				 link_scoped(family, dst) ? DROP_TX_LINK_LOCAL : DROP_TX_NO_ROUTE);
			continue;
		}
		/* Without an endpoint, candidates still let a handshake start. */
		if (!peer->has_endpoint && !peer->candidate_count) {
			dev_drop(dev, DROP_TX_NO_ENDPOINT);
			continue;
		}
		/* Staged packets go first, to keep the order. */
		if (peer->staged && peer->staged->count)
			send_staged_packets(peer, udp_out, now);
		kp = sending_keypair(peer, now);
		if (!kp || (peer->staged && peer->staged->count)) {
			stage_packet(peer, pkt);
			send_handshake_initiation(peer, false, udp_out, now);
			continue;
		}
		/* Timers run once per run of packets to the same peer. */
		if (last_peer && last_peer != peer)
			data_sent(last_peer, last_had_data, udp_out, now);
		if (encrypt_into(peer, kp, pkt->data, pkt->len, udp_out, true)) {
			last_peer = peer;
			last_had_data = true;
		}
	}
	if (last_peer)
		data_sent(last_peer, last_had_data, udp_out, now);
	in->count = 0;
}
