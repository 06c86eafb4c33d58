/*
 * The receiving half: every datagram is classified by type and exact size;
 * handshake messages pass the MAC (and, under load, cookie) checks before any
 * public-key work; data messages are decrypted with the session their index
 * names, checked against the replay window only after they authenticate, and
 * delivered to the TUN only when their inner source is in the peer's allowed
 * IPs. Anything that fails is dropped silently and counted.
 */
#include "wg/engine.h"

#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "bigendian.h"

static uint32_t read_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t read_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static struct wg_peer *peer_of_handshake(struct noise_handshake *hs)
{
	return (struct wg_peer *)((char *)hs - offsetof(struct wg_peer, handshake));
}

static struct noise_handshake *lookup_handshake(void *ctx, const uint8_t remote_static[32])
{
	struct wg_peer *peer = wg_device_find_peer(ctx, remote_static);
	return peer ? &peer->handshake : NULL;
}

/* Roaming: the peer's endpoint follows its latest authenticated packet. */
static void update_endpoint(struct wg_peer *peer, const struct pkt *pkt)
{
	peer->endpoint = pkt->ep;
	peer->has_endpoint = true;
}

/* A relayed message must come through its peer's own relay path; else it
 * is dropped before it can move the endpoint or any other state. */
static bool relay_path_allowed(struct wg_device *dev, const struct wg_peer *peer,
			       const struct pkt *pkt)
{
	if (!pkt->ep.relay_via || !dev->relay_check ||
	    dev->relay_check(dev->relay_check_ctx, peer, pkt->ep.relay_via))
		return true;
	dev_drop(dev, DROP_RX_RELAY_PATH);
	return false;
}

/* Counts a handshake message with a valid MAC1 against the one-second window
 * and says whether the device is under load (and stays so for
 * UNDER_LOAD_AFTER_TIME). Messages with a wrong MAC1 cost one BLAKE2s and do
 * not count, as only MAC1-valid ones reach Linux's handshake queue. */
static bool under_load(struct wg_device *dev, uint64_t now)
{
	if (now - dev->load_window_start >= NSEC_PER_SEC) {
		dev->load_window_start = now;
		dev->load_window_count = 0;
	}
	if (++dev->load_window_count > dev->under_load_threshold) {
		dev->last_under_load = now;
		return true;
	}
	if (dev->last_under_load && !has_expired(dev->last_under_load, UNDER_LOAD_AFTER_TIME, now))
		return true;
	dev->last_under_load = 0;
	return false;
}

static void random_secret(struct wg_device *dev, uint8_t secret[32], uint64_t now)
{
	/* Draw randomness only when the cookie secret is due for renewal. */
	if (cookie_checker_needs_secret(&dev->cookie_checker, now))
		dev_random(dev, secret, 32);
	else
		memset(secret, 0, 32);
}

static void send_cookie_reply(struct wg_device *dev, const struct pkt *pkt, const uint8_t *src,
			      size_t src_len, const uint8_t secret[32], struct pkt_batch *udp_out,
			      uint64_t now)
{
	struct message_handshake_cookie reply;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint32_t sender_index = read_le32(pkt->data + 4);

	dev_random(dev, nonce, sizeof(nonce));
	if (cookie_message_create(&reply, pkt->data, pkt->len, sender_index, src, src_len,
				  &dev->cookie_checker, now, nonce, secret) < 0)
		return;
	send_control(dev, udp_out, &pkt->ep, &reply, sizeof(reply));
	dev->stats.cookie_replies_tx++;
}

/*
 * MAC checks for an initiation or response. Returns true when the message may
 * be processed; otherwise it was dropped or answered with a cookie reply.
 */
static bool handshake_admitted(struct wg_device *dev, const struct pkt *pkt,
			       struct pkt_batch *udp_out, uint64_t now)
{
	static const uint8_t no_secret[32];
	uint8_t src[COOKIE_SOURCE_MAX_LEN], secret[32];
	size_t src_len = 0;
	bool admitted = false;

	if (cookie_source_from_sockaddr(&pkt->ep.addr.sa, src, &src_len) < 0) {
		dev_drop(dev, DROP_RX_MALFORMED);
		return false;
	}
	/* MAC1 alone (the secret is not read without the cookie check). */
	if (cookie_validate_packet(&dev->cookie_checker, pkt->data, pkt->len, src, src_len, false,
				   now, no_secret) == COOKIE_MAC_INVALID) {
		dev_drop(dev, DROP_RX_BAD_MAC);
		return false;
	}
	if (!under_load(dev, now))
		return true;
	/* MAC1 again and MAC2: one more BLAKE2s, under load only. */
	random_secret(dev, secret, now);
	if (cookie_validate_packet(&dev->cookie_checker, pkt->data, pkt->len, src, src_len, true,
				   now, secret) != COOKIE_MAC_VALID_WITH_COOKIE) {
		send_cookie_reply(dev, pkt, src, src_len, secret, udp_out, now);
		goto out;
	}
	/* Proven source address, but each source still gets a fair share. */
	if (!ratelimiter_allow(&dev->ratelimiter, pkt->ep.addr.sa.sa_family,
			       pkt->ep.addr.sa.sa_family == AF_INET
				   ? (const uint8_t *)&pkt->ep.addr.in4.sin_addr
				   : (const uint8_t *)&pkt->ep.addr.in6.sin6_addr,
			       now)) {
		dev_drop(dev, DROP_RX_RATELIMITED);
		goto out;
	}
	admitted = true;
out:
	sodium_memzero(secret, sizeof(secret));
	return admitted;
}

static void handshake_received(struct wg_peer *peer, const struct pkt *pkt, uint64_t now)
{
	peer->stats.rx_bytes += pkt->len;
	timers_any_authenticated_packet_received(peer, now);
	timers_any_authenticated_packet_traversal(peer, now);
}

static void send_response(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	struct wg_device *dev = peer->device;
	struct message_handshake_response msg;
	struct noise_session_keys keys;
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint32_t index;
	int ret;

	if (peer_handshake_index_new(peer, &index) < 0)
		return;
	dev_random(dev, ephemeral, sizeof(ephemeral));
	ret = noise_create_response(&msg, &peer->handshake, index, ephemeral);
	sodium_memzero(ephemeral, sizeof(ephemeral));
	if (ret < 0) {
		peer_drop_handshake(peer);
		return;
	}
	cookie_add_mac_to_packet(&msg, sizeof(msg), &peer->cookie, now);
	if (noise_begin_session(&peer->handshake, &keys) == 0 &&
	    peer_add_keypair(peer, &keys, now)) {
		timers_session_derived(peer, now);
		dev->stats.sessions_established++;
	}
	sodium_memzero(&keys, sizeof(keys));
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer, now);
	peer->last_sent_handshake = now;
	send_control(dev, udp_out, &peer->endpoint, &msg, sizeof(msg));
	peer->stats.tx_bytes += sizeof(msg);
	dev->stats.handshake_responses_tx++;
}

static enum wg_drop_reason consume_error_reason(int err)
{
	switch (err) {
	case -ENOKEY:
		return DROP_RX_UNKNOWN_PEER;
	case -ESTALE:
		return DROP_RX_HANDSHAKE_REPLAY;
	case -EBUSY:
		return DROP_RX_HANDSHAKE_FLOOD;
	default:
		return DROP_RX_HANDSHAKE_INVALID;
	}
}

static void receive_initiation(struct wg_device *dev, const struct pkt *pkt,
			       struct pkt_batch *udp_out, uint64_t now)
{
	struct noise_handshake *hs;
	struct wg_peer *peer;
	int ret;

	if (!dev->identity.has_identity || !handshake_admitted(dev, pkt, udp_out, now))
		return;
	ret = noise_consume_initiation((const void *)pkt->data, &dev->identity, lookup_handshake,
				       dev, now, &hs);
	if (ret < 0) {
		dev_drop(dev, consume_error_reason(ret));
		return;
	}
	peer = peer_of_handshake(hs);
	if (!relay_path_allowed(dev, peer, pkt))
		return;
	dev->stats.handshake_initiations_rx++;
	update_endpoint(peer, pkt);
	send_response(peer, udp_out, now);
	handshake_received(peer, pkt, now);
}

static void receive_response(struct wg_device *dev, const struct pkt *pkt,
			     struct pkt_batch *udp_out, uint64_t now)
{
	const struct message_handshake_response *msg = (const void *)pkt->data;
	const struct index_entry *e;
	struct noise_session_keys keys;
	struct wg_peer *peer;

	if (!dev->identity.has_identity || !handshake_admitted(dev, pkt, udp_out, now))
		return;
	e = index_table_lookup(&dev->index, le32toh(msg->receiver_index), 1u << INDEX_HANDSHAKE);
	if (!e) {
		dev_drop(dev, DROP_RX_UNKNOWN_INDEX);
		return;
	}
	peer = e->peer;
	if (!relay_path_allowed(dev, peer, pkt))
		return;
	if (noise_consume_response(msg, &peer->handshake) < 0) {
		dev_drop(dev, DROP_RX_HANDSHAKE_INVALID);
		return;
	}
	dev->stats.handshake_responses_rx++;
	update_endpoint(peer, pkt);
	if (noise_begin_session(&peer->handshake, &keys) == 0 &&
	    peer_add_keypair(peer, &keys, now)) {
		dev->stats.sessions_established++;
		timers_session_derived(peer, now);
		timers_handshake_complete(peer, now);
		/* Confirms the session to the responder at once: staged
		 * packets if there are any, else a keepalive. */
		send_keepalive(peer, udp_out, now);
	}
	sodium_memzero(&keys, sizeof(keys));
	handshake_received(peer, pkt, now);
}

static void receive_cookie(struct wg_device *dev, const struct pkt *pkt, uint64_t now)
{
	const struct message_handshake_cookie *msg = (const void *)pkt->data;
	const struct index_entry *e;

	e = index_table_lookup(&dev->index, le32toh(msg->receiver_index),
			       1u << INDEX_HANDSHAKE | 1u << INDEX_KEYPAIR);
	if (!e) {
		dev_drop(dev, DROP_RX_UNKNOWN_INDEX);
		return;
	}
	if (cookie_message_consume(msg, &e->peer->cookie, now) < 0) {
		dev_drop(dev, DROP_RX_HANDSHAKE_INVALID);
		return;
	}
	dev->stats.cookie_replies_rx++;
}

/* The responder-side rekey: an initiator whose session nears REJECT_AFTER_TIME
 * while only receiving starts one last handshake. */
static void keep_key_fresh(struct wg_peer *peer, struct pkt_batch *udp_out, uint64_t now)
{
	const struct keypair *kp = peer->current;

	if (peer->sent_lastminute_handshake)
		return;
	if (kp && kp->in_use && kp->is_initiator &&
	    has_expired(kp->birthdate, REKEY_AFTER_TIME_RECV, now)) {
		peer->sent_lastminute_handshake = true;
		send_handshake_initiation(peer, false, udp_out, now);
	}
}

/* Length of the IP packet at p (at most len bytes), or 0 if it is not one.
 * Sets the family and source address. */
static uint32_t inner_packet(const uint8_t *p, uint32_t len, int *family, const uint8_t **src)
{
	uint32_t total;

	if (len >= 20 && (p[0] >> 4) == 4) {
		total = get_be16(p + 2);
		if ((p[0] & 0x0f) < 5 || total < 20 || total > len)
			return 0;
		*family = AF_INET;
		*src = p + 12;
		return total;
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		total = 40 + (uint32_t)get_be16(p + 4);
		if (total > len)
			return 0;
		*family = AF_INET6;
		*src = p + 8;
		return total;
	}
	return 0;
}

static bool decrypt_into(const struct keypair *kp, const struct pkt *pkt, struct pkt *out)
{
	const uint8_t *ct = pkt->data + sizeof(struct message_data);
	uint32_t ct_len = pkt->len - (uint32_t)sizeof(struct message_data) - NOISE_AUTHTAG_LEN;
	uint8_t nonce[12] = { 0 };

	memcpy(nonce + 4, pkt->data + offsetof(struct message_data, counter), 8);
	if (ct_len > pkt_tailroom(out))
		return false;
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		out->data, NULL, ct, ct_len, ct + ct_len, NULL, 0, nonce, kp->receiving_key) != 0)
		return false;
	out->len = ct_len;
	return true;
}

/* The session a data message names, if it may be decrypted now; else the
 * message is dropped and counted. The relay path is checked on arrival only
 * (relay set): it depends on nothing the engine changes. */
static const struct index_entry *data_session(struct wg_device *dev, const struct pkt *pkt,
					      bool relay, uint64_t now)
{
	const struct index_entry *e;

	e = index_table_lookup(&dev->index, read_le32(pkt->data + 4), 1u << INDEX_KEYPAIR);
	if (!e) {
		dev_drop(dev, DROP_RX_UNKNOWN_INDEX);
		return NULL;
	}
	if (relay && !relay_path_allowed(dev, e->peer, pkt))
		return NULL;
	if (!keypair_is_usable(e->keypair, now, false)) {
		dev_drop(dev, DROP_RX_KEY_EXPIRED);
		return NULL;
	}
	return e;
}

/*
 * Everything after the AEAD of a data message, in arrival order: replay
 * window (only once authentic), roaming, timers, then the inner packet's
 * checks. out holds the plaintext; returns true when it goes to the TUN.
 */
static bool data_received(struct wg_device *dev, const struct pkt *pkt, const struct index_entry *e,
			  bool authentic, struct pkt *out, struct pkt_batch *udp_out, uint64_t now)
{
	struct wg_peer *peer = e->peer;
	struct keypair *kp = e->keypair;
	const uint8_t *src;
	uint32_t ip_len;
	int family;

	if (!authentic) {
		dev_drop(dev, DROP_RX_DECRYPT);
		return false;
	}
	/* Authenticated: only now may the counter move the replay window. */
	if (!replay_counter_validate(&kp->receiving_counter, read_le64(pkt->data + 8))) {
		dev_drop(dev, DROP_RX_REPLAY);
		return false;
	}
	update_endpoint(peer, pkt);
	peer->stats.rx_bytes += pkt->len;
	peer->stats.rx_packets++;
	if (peer_received_with_keypair(peer, kp)) {
		timers_handshake_complete(peer, now);
		send_staged_packets(peer, udp_out, now);
	}
	keep_key_fresh(peer, udp_out, now);
	timers_any_authenticated_packet_received(peer, now);
	timers_any_authenticated_packet_traversal(peer, now);

	if (out->len == 0) /* keepalive */
		return false;
	ip_len = inner_packet(out->data, out->len, &family, &src);
	if (!ip_len) {
		dev_drop(dev, DROP_RX_BAD_INNER);
		return false;
	}
	if (allowedips_lookup(&dev->allowedips, family, src) != peer) {
		dev_drop(dev, DROP_RX_SOURCE_NOT_ALLOWED);
		return false;
	}
	timers_data_received(peer, now);
	out->len = ip_len; /* strips the padding */
	return true;
}

static void receive_data(struct wg_device *dev, const struct pkt *pkt, struct pkt_batch *tun_out,
			 struct pkt_batch *udp_out, uint64_t now)
{
	const struct index_entry *e = data_session(dev, pkt, true, now);
	struct pkt *out;
	bool authentic;

	if (!e)
		return;
	out = pkt_batch_add(tun_out);
	if (!out) {
		dev_drop(dev, DROP_BATCH_FULL);
		return;
	}
	authentic = decrypt_into(e->keypair, pkt, out);
	if (!data_received(dev, pkt, e, authentic, out, udp_out, now))
		tun_out->count--;
}

static bool is_data(const struct pkt *pkt)
{
	return pkt->len >= MESSAGE_MINIMUM_LENGTH && read_le32(pkt->data) == MESSAGE_DATA;
}

/*
 * Pass 1 of a chunk: what receive_data does up to the AEAD, which becomes a
 * job whose output slot is appended to tun_out. Returns false when the
 * message was dropped.
 */
static bool data_record(struct wg_device *dev, const struct pkt *pkt, struct pkt_batch *tun_out,
			uint64_t now)
{
	struct wg_crypt_queue *q = dev->crypt_queue;
	const struct index_entry *e = data_session(dev, pkt, true, now);
	uint32_t ct_len = pkt->len - (uint32_t)sizeof(struct message_data) - NOISE_AUTHTAG_LEN;
	struct wg_crypt_job *job;
	struct pkt *out;

	if (!e)
		return false;
	out = pkt_batch_add(tun_out);
	if (!out) {
		dev_drop(dev, DROP_BATCH_FULL);
		return false;
	}
	if (ct_len > pkt_tailroom(out)) {
		tun_out->count--;
		dev_drop(dev, DROP_RX_DECRYPT);
		return false;
	}
	out->len = ct_len;
	job = &q->jobs[q->count++];
	job->dst = out->data;
	job->src = pkt->data + sizeof(struct message_data);
	job->len = ct_len;
	job->encrypt = false;
	job->counter = read_le64(pkt->data + 8);
	memcpy(job->key, e->keypair->receiving_key, sizeof(job->key));
	return true;
}

/*
 * Pass 2 for the message behind job k (slot base + k of tun_out). A message
 * decrypted with a session that an earlier one of the chunk retired (key
 * confirmation drops the previous session) or exhausted meets the same end
 * as inline: the lookup is repeated.
 */
static bool data_finish(struct wg_device *dev, const struct pkt *pkt,
			const struct wg_crypt_job *job, struct pkt *out, struct pkt_batch *udp_out,
			uint64_t now)
{
	const struct index_entry *e = data_session(dev, pkt, false, now);

	return e && data_received(dev, pkt, e, job->ok, out, udp_out, now);
}

static void swap_slots(struct pkt *a, struct pkt *b)
{
	struct pkt tmp = *a;

	*a = *b;
	*b = tmp;
}

/*
 * Data messages in[first ..] up to the next message of another type, a full
 * crypt queue, or a full tun_out (which must never be flushed with slots
 * still undecrypted): pass 1 records the decryptions, the queue runs them,
 * pass 2 finishes each message in order and closes the gaps its drops leave
 * in tun_out. Dropped messages get len 0 in pass 1. Returns the index after
 * the chunk.
 */
static unsigned receive_data_chunk(struct wg_device *dev, struct pkt_batch *in, unsigned first,
				   struct pkt_batch *tun_out, struct pkt_batch *udp_out,
				   uint64_t now)
{
	struct wg_crypt_queue *q = dev->crypt_queue;
	unsigned base, end, kept, k = 0;

	wg_crypt_queue_run(q); /* earlier encryptions: the chunk's jobs start at 0 */
	for (end = first; end < in->count && is_data(&in->pkts[end]) && q->count < q->cap; end++) {
		if (q->count && tun_out->count == tun_out->cap)
			break;
		if (!data_record(dev, &in->pkts[end], tun_out, now))
			in->pkts[end].len = 0;
	}
	/* The jobs' slots are the last ones (a flush may have come first). */
	base = tun_out->count - q->count;
	wg_crypt_queue_run(q);
	kept = base;
	for (unsigned i = first; i < end; i++) {
		struct pkt *out;

		if (!in->pkts[i].len)
			continue;
		out = &tun_out->pkts[base + k];
		if (data_finish(dev, &in->pkts[i], &q->jobs[k++], out, udp_out, now))
			swap_slots(&tun_out->pkts[kept++], out);
	}
	tun_out->count = kept;
	return end;
}

static void receive_one(struct wg_device *dev, const struct pkt *pkt, struct pkt_batch *tun_out,
			struct pkt_batch *udp_out, uint64_t now)
{
	uint32_t type = pkt->len >= 4 ? read_le32(pkt->data) : MESSAGE_INVALID;

	if (type == MESSAGE_DATA && pkt->len >= MESSAGE_MINIMUM_LENGTH)
		receive_data(dev, pkt, tun_out, udp_out, now);
	else if (type == MESSAGE_HANDSHAKE_INITIATION &&
		 pkt->len == sizeof(struct message_handshake_initiation))
		receive_initiation(dev, pkt, udp_out, now);
	else if (type == MESSAGE_HANDSHAKE_RESPONSE &&
		 pkt->len == sizeof(struct message_handshake_response))
		receive_response(dev, pkt, udp_out, now);
	else if (type == MESSAGE_HANDSHAKE_COOKIE &&
		 pkt->len == sizeof(struct message_handshake_cookie))
		receive_cookie(dev, pkt, now);
	else
		dev_drop(dev, DROP_RX_MALFORMED);
}

void wg_device_udp_input(struct wg_device *dev, struct pkt_batch *in, struct pkt_batch *tun_out,
			 struct pkt_batch *udp_out)
{
	uint64_t now = dev_now(dev);
	unsigned i = 0;

	while (i < in->count) {
		if (dev->crypt_queue && is_data(&in->pkts[i]))
			i = receive_data_chunk(dev, in, i, tun_out, udp_out, now);
		else
			receive_one(dev, &in->pkts[i++], tun_out, udp_out, now);
	}
	in->count = 0;
}
