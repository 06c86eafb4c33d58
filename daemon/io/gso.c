/*
 * Segmentation offload: splitting virtio-net GSO super-packets read from a
 * TUN and coalescing TCP segments for one TUN write. See gso.h.
 */
#include "io/gso.h"

#include <errno.h>
#include <string.h>

#include "bigendian.h"

enum {
	IP4_HDR_MIN = 20,
	IP6_HDR_LEN = 40,
	TCP_HDR_MIN = 20,
	UDP_HDR_LEN = 8,
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_URG = 0x20,
	TCP_CWR = 0x80,
};

/* Where the headers of one IP packet lie. */
struct l4_layout {
	unsigned version;
	size_t iphlen; /* IP header length; L4 starts here */
	size_t l4hlen; /* TCP or UDP header length */
	uint8_t proto;
};

/* Sums the data as native 32-bit words (the tail zero-padded) into 64-bit
 * accumulators and folds it: a one's-complement sum taken in the other byte
 * order is the byte swap of the same sum (RFC 1071, 2.B), and native loads
 * are several times faster than assembling big-endian words byte by byte.
 * The result is 0 only for all-zero data, as the plain sum's. */
static uint16_t csum_native(const uint8_t *data, size_t len)
{
	uint64_t s0 = 0, s1 = 0;
	uint32_t w[2] = { 0, 0 };
	size_t i = 0;

	for (; i + 16 <= len; i += 16) {
		uint32_t v[4];

		memcpy(v, data + i, sizeof(v));
		s0 += (uint64_t)v[0] + v[1];
		s1 += (uint64_t)v[2] + v[3];
	}
	if (i < len) {
		memcpy(w, data + i, len - i > 8 ? 8 : len - i);
		s0 += (uint64_t)w[0] + w[1];
		if (len - i > 8) {
			w[0] = w[1] = 0;
			memcpy(w, data + i + 8, len - i - 8);
			s1 += (uint64_t)w[0] + w[1];
		}
	}
	s0 = (s0 & 0xffffffffu) + (s0 >> 32) + (s1 & 0xffffffffu) + (s1 >> 32);
	s0 = (s0 & 0xffffffffu) + (s0 >> 32);
	s0 = (s0 & 0xffffffffu) + (s0 >> 32);
	return gso_csum_fold((uint32_t)s0);
}

uint32_t gso_csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	uint16_t c = csum_native(data, len);
	uint64_t s;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	c = (uint16_t)(c << 8 | c >> 8);
#endif
	s = (uint64_t)sum + c;
	return (uint32_t)((s & 0xffffffffu) + (s >> 32));
}

uint16_t gso_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header sum: addresses, protocol and L4 length. */
static uint32_t pseudo_sum(const uint8_t *ip, unsigned version, uint8_t proto, size_t l4len)
{
	uint32_t sum = proto + (uint32_t)l4len;

	if (version == 4)
		return gso_csum_add(sum, ip + 12, 8);
	return gso_csum_add(sum, ip + 8, 32);
}

static void ip4_set_csum(uint8_t *ip, size_t iphlen)
{
	put_be16(ip + 10, 0);
	put_be16(ip + 10, (uint16_t)~gso_csum_fold(gso_csum_add(0, ip, iphlen)));
}

/* Fills the L4 checksum of a whole packet at ip (L4 header and payload
 * already in place). */
static void l4_set_csum(uint8_t *ip, const struct l4_layout *l, size_t pktlen)
{
	size_t l4len = pktlen - l->iphlen;
	uint8_t *field = ip + l->iphlen + (l->proto == PROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	uint16_t c;

	put_be16(field, 0);
	c = (uint16_t)~gso_csum_fold(
	    gso_csum_add(pseudo_sum(ip, l->version, l->proto, l4len), ip + l->iphlen, l4len));
	if (c == 0 && l->proto == PROTO_UDP)
		c = 0xffff;
	put_be16(field, c);
}

/* Parses the IP and L4 headers of pkt, checking that they fit. */
static enum gso_reason l4_parse(const uint8_t *pkt, size_t len, struct l4_layout *l)
{
	const uint8_t *l4;
	size_t min;

	if (len < IP4_HDR_MIN)
		return GSO_SHORT;
	l->version = pkt[0] >> 4;
	if (l->version == 4) {
		l->iphlen = (size_t)(pkt[0] & 0x0f) * 4;
		l->proto = pkt[9];
	} else if (l->version == 6) {
		l->iphlen = IP6_HDR_LEN;
		l->proto = pkt[6];
	} else {
		return GSO_BAD_IP;
	}
	if (l->iphlen < IP4_HDR_MIN || l->iphlen > len)
		return l->iphlen > len ? GSO_SHORT : GSO_BAD_IP;
	if (l->proto != PROTO_TCP && l->proto != PROTO_UDP)
		return GSO_BAD_IP;
	min = l->proto == PROTO_TCP ? TCP_HDR_MIN : UDP_HDR_LEN;
	if (len - l->iphlen < min)
		return GSO_SHORT;
	l4 = pkt + l->iphlen;
	l->l4hlen = l->proto == PROTO_TCP ? (size_t)(l4[12] >> 4) * 4 : UDP_HDR_LEN;
	if (l->l4hlen < min || l->l4hlen > len - l->iphlen)
		return GSO_BAD_L4;
	return GSO_OK;
}

static int split_plain(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
		       struct gso_buf *out, size_t nout, enum gso_reason *why)
{
	if (nout < 1 || out[0].cap < len) {
		*why = GSO_NO_ROOM;
		return -EINVAL;
	}
	memcpy(out[0].data, pkt, len);
	out[0].len = len;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = h->csum_start, field = start + h->csum_offset;
		uint32_t sum;

		if (start > len || h->csum_offset > len || field + 2 > len) {
			*why = GSO_BAD_CSUM_START;
			return -EINVAL;
		}
		/* The field holds the partial (pseudo-header) sum. A result
		 * of 0 goes out as 0xffff, as skb_checksum_help() does: 0
		 * means "no checksum" to UDP over IPv4 and is invalid over
		 * IPv6, and 0xffff is the same sum to TCP. */
		sum = gso_csum_add(0, out[0].data + start, len - start);
		put_be16(out[0].data + field, (uint16_t)~gso_csum_fold(sum) ?: 0xffff);
	}
	return 1;
}

/* Checks a GSO header against the packet's own headers. */
static enum gso_reason gso_check(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
				 struct l4_layout *l)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t proto = type == VIRTIO_NET_HDR_GSO_UDP_L4 ? PROTO_UDP : PROTO_TCP;

	enum gso_reason why = l4_parse(pkt, len, l);

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return GSO_NO_CSUM;
	if (h->gso_size == 0)
		return GSO_ZERO_SIZE;
	if (why != GSO_OK)
		return why;
	if (l->proto != proto || (type == VIRTIO_NET_HDR_GSO_TCPV4 && l->version != 4) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && l->version != 6))
		return GSO_BAD_IP;
	if (h->csum_start != l->iphlen ||
	    h->csum_offset != (proto == PROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF))
		return GSO_BAD_CSUM_START;
	return GSO_OK;
}

/* Writes segment i (payload pay[0 .. n-1]) of the super-packet pkt. */
static void segment_build(uint8_t *dst, const uint8_t *pkt, const struct l4_layout *l,
			  const uint8_t *pay, size_t n, unsigned i, bool last, uint16_t gso_size)
{
	size_t hlen = l->iphlen + l->l4hlen;
	uint8_t *l4 = dst + l->iphlen;

	memcpy(dst, pkt, hlen);
	memcpy(dst + hlen, pay, n);
	if (l->version == 4) {
		put_be16(dst + 2, (uint16_t)(hlen + n));
		put_be16(dst + 4, (uint16_t)(get_be16(pkt + 4) + i));
		ip4_set_csum(dst, l->iphlen);
	} else {
		put_be16(dst + 4, (uint16_t)(hlen + n - IP6_HDR_LEN));
	}
	if (l->proto == PROTO_TCP) {
		put_be32(l4 + 4, get_be32(pkt + l->iphlen + 4) + (uint32_t)i * gso_size);
		if (!last)
			l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (i > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
	} else {
		put_be16(l4 + 4, (uint16_t)(UDP_HDR_LEN + n));
	}
	l4_set_csum(dst, l, hlen + n);
}

/* Validates in (virtio_net_hdr + packet): fills h and, for GSO, l.
 * Returns GSO_OK or why it is refused. */
static enum gso_reason split_check(const uint8_t *in, size_t len, struct virtio_net_hdr *h,
				   struct l4_layout *l)
{
	const uint8_t *pkt = in + GSO_VNET_HDR_LEN;
	size_t pktlen;
	uint8_t type;

	if (len < GSO_VNET_HDR_LEN)
		return GSO_SHORT;
	memcpy(h, in, sizeof(*h));
	pktlen = len - GSO_VNET_HDR_LEN;
	type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (pktlen > GSO_MAX_PACKET)
		return GSO_TOO_LONG;
	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return GSO_BAD_TYPE;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return GSO_OK;
	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return GSO_BAD_TYPE;
	return gso_check(h, pkt, pktlen, l);
}

int gso_split_part(const uint8_t *in, size_t len, size_t first, struct gso_buf *out, size_t nout,
		   size_t *total, enum gso_reason *why)
{
	struct virtio_net_hdr h;
	struct l4_layout l = { 0 };
	const uint8_t *pkt = in + GSO_VNET_HDR_LEN;
	size_t hlen, paylen, nseg, i;

	*total = 0;
	*why = split_check(in, len, &h, &l);
	if (*why != GSO_OK)
		return -EINVAL;
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		*total = 1;
		if (first >= 1)
			return 0;
		return split_plain(&h, pkt, len - GSO_VNET_HDR_LEN, out, nout, why);
	}
	hlen = l.iphlen + l.l4hlen;
	paylen = len - GSO_VNET_HDR_LEN - hlen;
	nseg = paylen ? (paylen + h.gso_size - 1) / h.gso_size : 1;
	*total = nseg;
	if (first >= nseg)
		return 0;
	if (nout < 1) {
		*why = GSO_NO_ROOM;
		return -EINVAL;
	}
	for (i = first; i < nseg && i - first < nout; i++) {
		size_t off = i * h.gso_size;
		size_t n = paylen - off < h.gso_size ? paylen - off : h.gso_size;
		struct gso_buf *o = &out[i - first];

		if (o->cap < hlen + n) {
			*why = GSO_NO_ROOM;
			return -EINVAL;
		}
		segment_build(o->data, pkt, &l, pkt + hlen + off, n, (unsigned)i, i + 1 == nseg,
			      h.gso_size);
		o->len = hlen + n;
	}
	return (int)(i - first);
}

int gso_split(const uint8_t *in, size_t len, struct gso_buf *out, size_t nout, enum gso_reason *why)
{
	struct virtio_net_hdr h;
	struct l4_layout l = { 0 };
	size_t total;

	/* All or nothing: refuse before writing when the slots are too few. */
	*why = split_check(in, len, &h, &l);
	if (*why != GSO_OK)
		return -EINVAL;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		size_t paylen = len - GSO_VNET_HDR_LEN - l.iphlen - l.l4hlen;

		if ((paylen ? (paylen + h.gso_size - 1) / h.gso_size : 1) > nout) {
			*why = GSO_NO_ROOM;
			return -EINVAL;
		}
	}
	return gso_split_part(in, len, 0, out, nout, &total, why);
}

/* A TCP segment that may join a coalesced packet. */
static bool tcp_candidate(const uint8_t *pkt, size_t len, struct l4_layout *l)
{
	const uint8_t *tcp;
	uint16_t sum;

	if (l4_parse(pkt, len, l) != GSO_OK || l->proto != PROTO_TCP ||
	    len == l->iphlen + l->l4hlen)
		return false;
	if (l->version == 4 && (get_be16(pkt + 2) != len || (get_be16(pkt + 6) & 0x3fff)))
		return false; /* trailing bytes, or a fragment */
	if (l->version == 6 && get_be16(pkt + 4) + (size_t)IP6_HDR_LEN != len)
		return false;
	if (len > GSO_MAX_COALESCED)
		return false;
	tcp = pkt + l->iphlen;
	if (tcp[13] & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG))
		return false;
	sum = gso_csum_fold(gso_csum_add(pseudo_sum(pkt, l->version, PROTO_TCP, len - l->iphlen),
					 tcp, len - l->iphlen));
	return sum == 0xffff;
}

/* The same flow: addresses and ports. */
static bool same_flow(const uint8_t *a, const uint8_t *b, const struct l4_layout *l)
{
	if ((b[0] >> 4) != l->version)
		return false;
	if (l->version == 4)
		return (b[0] & 0x0f) * 4 == (int)l->iphlen && b[9] == PROTO_TCP &&
		       !memcmp(a + 12, b + 12, 8) && !memcmp(a + l->iphlen, b + l->iphlen, 4);
	return b[6] == PROTO_TCP && !memcmp(a + 8, b + 8, 32) && !memcmp(a + 40, b + 40, 4);
}

/* The headers of p (a candidate) match those of head but for length, id,
 * checksum, sequence and PSH; its id and sequence follow the output o. */
static bool follows(const struct gso_buf *o, const uint8_t *p, const struct l4_layout *l)
{
	const uint8_t *head = o->data + GSO_VNET_HDR_LEN;
	const uint8_t *ht = head + l->iphlen, *pt = p + l->iphlen;

	if (l->version == 4) {
		uint16_t id = get_be16(p + 4), head_id = get_be16(head + 4);

		if (memcmp(head, p, 2) || memcmp(head + 6, p + 6, 4) ||
		    memcmp(head + 12, p + 12, l->iphlen - 12))
			return false;
		/* Incrementing ids, or one fixed id with DF (as Linux GRO). */
		if (id != (uint16_t)(head_id + o->segs) && !(id == head_id && (head[6] & 0x40)))
			return false;
	} else if (memcmp(head, p, 4) || memcmp(head + 6, p + 6, 34)) {
		return false;
	}
	if ((ht[12] >> 4) * 4 != (int)l->l4hlen || get_be32(pt + 4) != o->next_seq)
		return false;
	if (memcmp(ht, pt, 4) || memcmp(ht + 8, pt + 8, 5) || memcmp(ht + 14, pt + 14, 2) ||
	    memcmp(ht + 18, pt + 18, l->l4hlen - 18))
		return false;
	return (pt[13] & (uint8_t) ~(TCP_PSH)) == (ht[13] & (uint8_t) ~(TCP_PSH | TCP_CWR)) &&
	       !(pt[13] & TCP_CWR);
}

static void append(struct gso_buf *o, const uint8_t *p, size_t len, const struct l4_layout *l)
{
	size_t hlen = l->iphlen + l->l4hlen, n = len - hlen;
	uint8_t *tcp = o->data + GSO_VNET_HDR_LEN + l->iphlen;

	memcpy(o->data + o->len, p + hlen, n);
	o->len += n;
	o->segs++;
	o->next_seq += (uint32_t)n;
	if (p[l->iphlen + 13] & TCP_PSH) {
		tcp[13] |= TCP_PSH;
		o->open = false;
	}
	if (n < o->seg_size)
		o->open = false;
}

/* Starts output o with packet p behind a zero virtio header. */
static int start(struct gso_buf *o, const uint8_t *p, size_t len, const struct l4_layout *l,
		 bool cand)
{
	if (o->cap < GSO_VNET_HDR_LEN + len)
		return -ENOBUFS;
	/* In place p may lie in o's own slot: moved, then only read at its copy. */
	memmove(o->data + GSO_VNET_HDR_LEN, p, len);
	memset(o->data, 0, GSO_VNET_HDR_LEN);
	p = o->data + GSO_VNET_HDR_LEN;
	o->len = GSO_VNET_HDR_LEN + len;
	o->segs = 1;
	o->open = cand && !(p[l->iphlen + 13] & TCP_PSH);
	if (cand) {
		o->seg_size = (uint32_t)(len - l->iphlen - l->l4hlen);
		o->next_seq = get_be32(p + l->iphlen + 4) + o->seg_size;
	}
	return 0;
}

/* Writes the virtio header and lengths of a merged output. */
static void finish(struct gso_buf *o)
{
	struct virtio_net_hdr h = { 0 };
	uint8_t *ip = o->data + GSO_VNET_HDR_LEN;
	struct l4_layout l;
	size_t len = o->len - GSO_VNET_HDR_LEN;

	if (o->segs < 2 || l4_parse(ip, len, &l) != GSO_OK)
		return;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = l.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	h.hdr_len = (uint16_t)(l.iphlen + l.l4hlen);
	h.gso_size = (uint16_t)o->seg_size;
	h.csum_start = (uint16_t)l.iphlen;
	h.csum_offset = TCP_CSUM_OFF;
	if (ip[l.iphlen + 13] & TCP_CWR)
		h.gso_type |= VIRTIO_NET_HDR_GSO_ECN; /* as the kernel's tcp_gro_complete */
	memcpy(o->data, &h, sizeof(h));
	if (l.version == 4) {
		put_be16(ip + 2, (uint16_t)len);
		ip4_set_csum(ip, l.iphlen);
	} else {
		put_be16(ip + 4, (uint16_t)(len - IP6_HDR_LEN));
	}
	put_be16(ip + l.iphlen + TCP_CSUM_OFF,
		 gso_csum_fold(pseudo_sum(ip, l.version, PROTO_TCP, len - l.iphlen)));
}

/* The latest output of p's flow, or NULL. */
static struct gso_buf *flow_latest(struct gso_buf *out, size_t nout, const uint8_t *p,
				   const struct l4_layout *l)
{
	for (size_t i = nout; i-- > 0;)
		if (out[i].tcp && same_flow(p, out[i].data + GSO_VNET_HDR_LEN, l))
			return &out[i];
	return NULL;
}

int gso_coalesce(const struct gso_buf *in, size_t nin, struct gso_buf *out, size_t nout)
{
	size_t n = 0;

	for (size_t i = 0; i < nin; i++) {
		const uint8_t *p = in[i].data;
		size_t len = in[i].len;
		struct l4_layout l = { 0 };
		bool cand = tcp_candidate(p, len, &l);
		bool tcp = l4_parse(p, len, &l) == GSO_OK && l.proto == PROTO_TCP;
		struct gso_buf *o = tcp ? flow_latest(out, n, p, &l) : NULL;

		if (cand && o && o->open && len - l.iphlen - l.l4hlen <= o->seg_size &&
		    o->len + len - l.iphlen - l.l4hlen <= GSO_VNET_HDR_LEN + GSO_MAX_COALESCED &&
		    o->len + len - l.iphlen - l.l4hlen <= o->cap && follows(o, p, &l)) {
			append(o, p, len, &l);
			continue;
		}
		if (n == nout)
			return -ENOBUFS;
		out[n].seg_size = 0;
		out[n].tcp = tcp;
		if (start(&out[n], p, len, &l, cand) < 0)
			return -ENOBUFS;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		finish(&out[i]);
	return (int)n;
}

const char *gso_reason_str(enum gso_reason why)
{
	static const char *const text[] = {
		[GSO_OK] = "ok",
		[GSO_SHORT] = "shorter than its headers",
		[GSO_TOO_LONG] = "longer than 64 KiB",
		[GSO_BAD_TYPE] = "unknown gso_type or flags",
		[GSO_NO_CSUM] = "GSO without NEEDS_CSUM",
		[GSO_BAD_IP] = "bad IP header or protocol",
		[GSO_BAD_CSUM_START] = "csum_start/csum_offset do not match the headers",
		[GSO_BAD_L4] = "bad L4 header length",
		[GSO_ZERO_SIZE] = "gso_size 0",
		[GSO_NO_ROOM] = "too few or too small output slots",
	};

	return (unsigned)why < sizeof(text) / sizeof(text[0]) ? text[why] : "?";
}
