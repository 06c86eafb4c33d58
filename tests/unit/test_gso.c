/*
 * Segmentation offload: gso_split and gso_coalesce against a deliberately
 * naive reference that builds every expected packet from scratch (its own
 * checksum, its own header layout), refusals of malformed headers, and a
 * randomized split/coalesce round trip with a fixed seed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "io/gso.h"
#include "testlib.h"

enum { SLOTS = 64, SLOT_CAP = 70000 };

/* One TCP or UDP packet as the reference sees it. */
struct ref {
	int version; /* 4 or 6 */
	int proto;   /* 6 or 17 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport, id, win;
	uint32_t seq, ack;
	uint8_t flags, tos, ttl;
	uint8_t ipopt[40], tcpopt[40];
	size_t ipoptlen, tcpoptlen;
	const uint8_t *pay;
	size_t paylen;
	bool no_df;
	bool pseudo_only; /* checksum field = folded pseudo-header sum, as for NEEDS_CSUM */
};

static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Builds the packet r describes; returns its length. */
static size_t ref_build(uint8_t *out, const struct ref *r)
{
	static uint8_t tmp[SLOT_CAP + 64];
	size_t iph = r->version == 4 ? 20 + r->ipoptlen : 40;
	size_t l4h = r->proto == 6 ? 20 + r->tcpoptlen : 8;
	size_t l4len = l4h + r->paylen, len = iph + l4len, ph;
	uint8_t *ip = out, *l4 = out + iph;

	memset(out, 0, len);
	if (r->version == 4) {
		ip[0] = (uint8_t)(0x40 | iph / 4);
		ip[1] = r->tos;
		put_be16(ip + 2, (unsigned)len);
		put_be16(ip + 4, r->id);
		put_be16(ip + 6, r->no_df ? 0 : 0x4000);
		ip[8] = r->ttl;
		ip[9] = (uint8_t)r->proto;
		memcpy(ip + 12, r->src, 4);
		memcpy(ip + 16, r->dst, 4);
		memcpy(ip + 20, r->ipopt, r->ipoptlen);
		put_be16(ip + 10, (uint16_t)~ref_sum(ip, iph));
	} else {
		ip[0] = 0x60 | r->tos >> 4;
		ip[1] = (uint8_t)(r->tos << 4 | 0x0a);
		ip[3] = 0x42;
		put_be16(ip + 4, (unsigned)l4len);
		ip[6] = (uint8_t)r->proto;
		ip[7] = r->ttl;
		memcpy(ip + 8, r->src, 16);
		memcpy(ip + 24, r->dst, 16);
	}
	put_be16(l4, r->sport);
	put_be16(l4 + 2, r->dport);
	if (r->proto == 6) {
		put_be32(l4 + 4, r->seq);
		put_be32(l4 + 8, r->ack);
		l4[12] = (uint8_t)(l4h / 4 << 4);
		l4[13] = r->flags;
		put_be16(l4 + 14, r->win);
		memcpy(l4 + 20, r->tcpopt, r->tcpoptlen);
	} else {
		put_be16(l4 + 4, (unsigned)l4len);
	}
	memcpy(l4 + l4h, r->pay, r->paylen);
	/* Pseudo-header laid out as bytes, then the L4 part after it. */
	ph = r->version == 4 ? 12 : 40;
	memset(tmp, 0, ph);
	if (r->version == 4) {
		memcpy(tmp, r->src, 4);
		memcpy(tmp + 4, r->dst, 4);
		tmp[9] = (uint8_t)r->proto;
		put_be16(tmp + 10, (unsigned)l4len);
	} else {
		memcpy(tmp, r->src, 16);
		memcpy(tmp + 16, r->dst, 16);
		put_be32(tmp + 32, (uint32_t)l4len);
		tmp[39] = (uint8_t)r->proto;
	}
	if (r->pseudo_only) {
		put_be16(l4 + (r->proto == 6 ? 16 : 6), ref_sum(tmp, ph));
	} else {
		uint16_t c;

		memcpy(tmp + ph, l4, l4len);
		c = (uint16_t)~ref_sum(tmp, ph + l4len);
		if (c == 0 && r->proto == 17)
			c = 0xffff;
		put_be16(l4 + (r->proto == 6 ? 16 : 6), c);
	}
	return len;
}

static size_t vnet_put(uint8_t *out, uint8_t flags, uint8_t type, uint16_t hdr_len,
		       uint16_t gso_size, uint16_t start, uint16_t off)
{
	struct virtio_net_hdr h = { .flags = flags,
				    .gso_type = type,
				    .hdr_len = hdr_len,
				    .gso_size = gso_size,
				    .csum_start = start,
				    .csum_offset = off };

	memcpy(out, &h, sizeof(h));
	return sizeof(h);
}

static uint8_t *slot_mem;
static struct gso_buf slots[SLOTS];
static uint8_t *slot2_mem;
static struct gso_buf slots2[SLOTS];
static uint8_t payload[2 * SLOT_CAP];

static void slots_init(void)
{
	slot_mem = malloc((size_t)SLOTS * SLOT_CAP);
	slot2_mem = malloc((size_t)SLOTS * SLOT_CAP);
	for (int i = 0; i < SLOTS; i++) {
		slots[i] =
		    (struct gso_buf){ .data = slot_mem + (size_t)i * SLOT_CAP, .cap = SLOT_CAP };
		slots2[i] =
		    (struct gso_buf){ .data = slot2_mem + (size_t)i * SLOT_CAP, .cap = SLOT_CAP };
	}
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + i / 251);
}

/* Whether the IP header and L4 checksums of a plain packet verify. */
static bool valid_packet(const uint8_t *p, size_t len)
{
	size_t iph, l4len;
	uint8_t tmp[40] = { 0 };
	uint32_t s;

	if (len < 20)
		return false;
	if (p[0] >> 4 == 4) {
		iph = (size_t)(p[0] & 15) * 4;
		if (ref_sum(p, iph) != 0xffff || get_be16(p + 2) != len)
			return false;
		memcpy(tmp, p + 12, 8);
		tmp[9] = p[9];
		l4len = len - iph;
		put_be16(tmp + 10, (unsigned)l4len);
		s = (uint32_t)ref_sum(tmp, 12) + ref_sum(p + iph, l4len);
	} else {
		iph = 40;
		if ((size_t)get_be16(p + 4) + 40 != len)
			return false;
		l4len = len - iph;
		memcpy(tmp, p + 8, 32);
		put_be32(tmp + 32, (uint32_t)l4len);
		tmp[39] = p[6];
		s = (uint32_t)ref_sum(tmp, 40) + ref_sum(p + iph, l4len);
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static struct ref ref_tcp(int version)
{
	struct ref r = { .version = version,
			 .proto = 6,
			 .sport = 40000,
			 .dport = 5201,
			 .id = 0xfff0,
			 .win = 502,
			 .seq = 0xfffff000u,
			 .ack = 12345,
			 .flags = 0x10,
			 .tos = 0x02,
			 .ttl = 64,
			 .pay = payload };

	if (version == 4) {
		memcpy(r.src, (uint8_t[]){ 100, 64, 0, 1 }, 4);
		memcpy(r.dst, (uint8_t[]){ 100, 64, 0, 2 }, 4);
	} else {
		memcpy(r.src, (uint8_t[]){ 0xfd, 0x7a, 0x11, 0x5c, [15] = 1 }, 16);
		memcpy(r.dst, (uint8_t[]){ 0xfd, 0x7a, 0x11, 0x5c, [15] = 2 }, 16);
	}
	return r;
}

static uint8_t inbuf[SLOT_CAP + 64], want[SLOT_CAP + 64];

/* Splits the super-packet r (paylen bytes) at gso and compares every
 * segment with one the reference builds. */
static void split_case(struct ref r, uint16_t gso)
{
	size_t iph = r.version == 4 ? 20 + r.ipoptlen : 40;
	size_t l4h = r.proto == 6 ? 20 + r.tcpoptlen : 8;
	uint8_t type = r.proto == 17    ? VIRTIO_NET_HDR_GSO_UDP_L4
		       : r.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
					: VIRTIO_NET_HDR_GSO_TCPV6;
	size_t total = r.paylen,
	       n = vnet_put(inbuf, VIRTIO_NET_HDR_F_NEEDS_CSUM, type, (uint16_t)(iph + l4h), gso,
			    (uint16_t)iph, r.proto == 6 ? 16 : 6);
	size_t nseg = total ? (total + gso - 1) / gso : 1;
	enum gso_reason why;
	struct ref s = r;
	int got;

	r.pseudo_only = true;
	n += ref_build(inbuf + n, &r);
	got = gso_split(inbuf, n, slots, SLOTS, &why);
	if (!CHECK_EQ_INT(got, (long long)nseg)) {
		fprintf(stderr, "  reason: %s\n", gso_reason_str(why));
		return;
	}
	for (size_t i = 0; i < nseg; i++) {
		s.paylen = i + 1 == nseg ? total - i * gso : gso;
		s.pay = r.pay + i * gso;
		s.id = (uint16_t)(r.id + i);
		s.seq = r.seq + (uint32_t)(i * gso);
		s.flags = r.flags;
		if (i + 1 < nseg)
			s.flags &= (uint8_t)~0x09;
		if (i > 0)
			s.flags &= (uint8_t)~0x80;
		size_t wl = ref_build(want, &s);

		if (!CHECK_EQ_INT(slots[i].len, wl) || !CHECK_MEM(slots[i].data, want, wl) ||
		    !CHECK(valid_packet(slots[i].data, slots[i].len))) {
			fprintf(stderr, "  segment %zu of %zu\n", i, nseg);
			return;
		}
	}
}

static void test_split_tcp4(void)
{
	struct ref r = ref_tcp(4);

	r.flags = 0x10 | 0x08 | 0x01 | 0x80; /* ACK PSH FIN CWR */
	r.paylen = 4000;
	split_case(r, 1448);
	r.paylen = 2896; /* exact multiple */
	split_case(r, 1448);
	r.paylen = 100; /* one segment */
	split_case(r, 1448);
	r.paylen = 65535 - 40;
	split_case(r, 1448);
}

static void test_split_tcp4_options(void)
{
	struct ref r = ref_tcp(4);

	r.ipoptlen = 4;
	memcpy(r.ipopt, (uint8_t[]){ 0x94, 0x04, 0, 0 }, 4); /* router alert */
	r.tcpoptlen = 12;
	memcpy(r.tcpopt, (uint8_t[]){ 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0 }, 12);
	r.paylen = 5001;
	r.flags = 0x18;
	split_case(r, 1436);
	r.tcpoptlen = 40;
	memset(r.tcpopt, 1, 40);
	split_case(r, 999);
}

static void test_split_tcp6(void)
{
	struct ref r = ref_tcp(6);

	r.flags = 0x10 | 0x08 | 0x80 | 0x40;
	r.paylen = 9000;
	r.tcpoptlen = 12;
	memcpy(r.tcpopt, (uint8_t[]){ 1, 1, 8, 10, 9, 9, 9, 9, 7, 7, 7, 7 }, 12);
	split_case(r, 1208);
	r.paylen = 65535 - 32 - 40;
	split_case(r, 1388);
}

static void test_split_udp(void)
{
	struct ref r = ref_tcp(4);

	r.proto = 17;
	r.paylen = 3333;
	split_case(r, 1200);
	r = ref_tcp(6);
	r.proto = 17;
	r.paylen = 20000;
	split_case(r, 1232);
}

/* Non-GSO packets: NEEDS_CSUM completes the checksum; plain ones pass. */
static void test_split_plain(void)
{
	struct ref r = ref_tcp(6);
	enum gso_reason why;
	size_t n, wl;

	r.paylen = 777;
	r.pseudo_only = true;
	n = vnet_put(inbuf, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 40, 16);
	n += ref_build(inbuf + n, &r);
	r.pseudo_only = false;
	wl = ref_build(want, &r);
	CHECK_EQ_INT(gso_split(inbuf, n, slots, 1, &why), 1);
	CHECK(slots[0].len == wl && !memcmp(slots[0].data, want, wl));
	CHECK(valid_packet(slots[0].data, slots[0].len));

	r = ref_tcp(4);
	r.proto = 17;
	r.paylen = 31;
	r.pseudo_only = true;
	n = vnet_put(inbuf, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 20, 6);
	n += ref_build(inbuf + n, &r);
	CHECK_EQ_INT(gso_split(inbuf, n, slots, 1, &why), 1);
	CHECK(valid_packet(slots[0].data, slots[0].len));

	r.pseudo_only = false;
	n = vnet_put(inbuf, 0, 0, 0, 0, 0, 0);
	n += ref_build(inbuf + n, &r);
	CHECK_EQ_INT(gso_split(inbuf, n, slots, 1, &why), 1);
	CHECK(slots[0].len == n - 10 && !memcmp(slots[0].data, inbuf + 10, n - 10));
}

/* A UDP checksum that computes to 0 goes out as 0xffff, which the reference
 * writes (0 is "none" over IPv4 and invalid over IPv6). The payload's last
 * two bytes are the checksum the packet had with them at 0: that makes the
 * sum 0xffff, whose complement is 0. */
static void test_split_plain_udp_zero_csum(void)
{
	static uint8_t pay[64];
	enum gso_reason why;

	for (int version = 4; version <= 6; version += 2) {
		struct ref r = ref_tcp(version);
		size_t n, wl, iph = version == 4 ? 20 : 40;

		r.proto = 17;
		r.pay = pay;
		r.paylen = sizeof(pay);
		memset(pay, 0x5a, sizeof(pay) - 2);
		pay[sizeof(pay) - 2] = pay[sizeof(pay) - 1] = 0;
		ref_build(want, &r);
		memcpy(pay + sizeof(pay) - 2, want + iph + 6, 2);
		wl = ref_build(want, &r);
		CHECK(want[iph + 6] == 0xff && want[iph + 7] == 0xff);
		r.pseudo_only = true;
		n = vnet_put(inbuf, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)iph, 6);
		n += ref_build(inbuf + n, &r);
		CHECK_EQ_INT(gso_split(inbuf, n, slots, 1, &why), 1);
		CHECK(slots[0].len == wl && !memcmp(slots[0].data, want, wl));
	}
}

struct bad_case {
	const char *name;
	enum gso_reason why;
	uint8_t flags, type;
	uint16_t gso, start, off;
	int version, proto, cut, doff;
};

static void test_split_refused(void)
{
	static const struct bad_case cases[] = {
		{ "no csum", GSO_NO_CSUM, 0, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 16, 4, 6, 0, 0 },
		{ "gso 0", GSO_ZERO_SIZE, 1, VIRTIO_NET_HDR_GSO_TCPV4, 0, 20, 16, 4, 6, 0, 0 },
		{ "type", GSO_BAD_TYPE, 1, 2, 1000, 20, 16, 4, 6, 0, 0 },
		{ "v6 as v4", GSO_BAD_IP, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 40, 16, 6, 6, 0, 0 },
		{ "udp as tcp", GSO_BAD_IP, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 6, 4, 17, 0, 0 },
		{ "start", GSO_BAD_CSUM_START, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 24, 16, 4, 6, 0,
		  0 },
		{ "offset", GSO_BAD_CSUM_START, 1, VIRTIO_NET_HDR_GSO_TCPV6, 1000, 40, 6, 6, 6, 0,
		  0 },
		{ "doff short", GSO_BAD_L4, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 16, 4, 6, 0, 4 },
		{ "doff past end", GSO_BAD_L4, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 16, 4, 6, 0,
		  15 },
		{ "cut in tcp", GSO_SHORT, 1, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 16, 4, 6, 10, 0 },
		{ "cut in v6", GSO_SHORT, 1, VIRTIO_NET_HDR_GSO_TCPV6, 1000, 40, 16, 6, 6, 30, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct ref r = ref_tcp(c->version);
		enum gso_reason why;
		size_t n;

		r.proto = c->proto;
		r.paylen = c->cut ? 0 : 1000 - (c->doff == 15 ? 990 : 0);
		n = vnet_put(inbuf, c->flags, c->type, 0, c->gso, c->start, c->off);
		n += ref_build(inbuf + n, &r);
		if (c->doff)
			inbuf[10 + (c->version == 4 ? 20 : 40) + 12] = (uint8_t)(c->doff << 4);
		if (c->cut)
			n = 10 + 30; /* v4: 10 bytes of TCP header; v6: inside the IP header */
		if (!CHECK_EQ_INT(gso_split(inbuf, n, slots, SLOTS, &why), -EINVAL) ||
		    !CHECK_EQ_INT(why, c->why))
			fprintf(stderr, "  case %s: %s\n", c->name, gso_reason_str(why));
	}
	/* Short of the virtio header, too long, too few slots, slot too small. */
	enum gso_reason why;
	struct ref r = ref_tcp(4);
	size_t n;

	CHECK(gso_split(inbuf, 9, slots, SLOTS, &why) == -EINVAL && why == GSO_SHORT);
	CHECK(gso_split(inbuf, 10 + GSO_MAX_PACKET + 1, slots, SLOTS, &why) == -EINVAL &&
	      why == GSO_TOO_LONG);
	r.paylen = 3000;
	n = vnet_put(inbuf, 1, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);
	n += ref_build(inbuf + n, &r);
	CHECK(gso_split(inbuf, n, slots, 2, &why) == -EINVAL && why == GSO_NO_ROOM);
	struct gso_buf small[3] = { slots[0], slots[1], slots[2] };
	small[2].cap = 1039;
	CHECK(gso_split(inbuf, n, small, 3, &why) == -EINVAL && why == GSO_NO_ROOM);
	small[2].cap = 1040;
	CHECK_EQ_INT(gso_split(inbuf, n, small, 3, &why), 3);
	/* NEEDS_CSUM on a plain packet with the field past its end. */
	n = vnet_put(inbuf, 1, 0, 0, 0, 20, 1000);
	n += ref_build(inbuf + n, &r);
	n = 10 + 500;
	CHECK(gso_split(inbuf, n, slots, 1, &why) == -EINVAL && why == GSO_BAD_CSUM_START);
}

/* Whether got is segment i of nseg of the super-packet r split at gso, as
 * the reference builds it. */
static bool segment_is(const struct gso_buf *got, struct ref r, uint16_t gso, size_t i, size_t nseg)
{
	struct ref s = r;
	size_t wl;

	s.paylen = i + 1 == nseg ? r.paylen - i * gso : gso;
	s.pay = r.pay + i * gso;
	s.id = (uint16_t)(r.id + i);
	s.seq = r.seq + (uint32_t)(i * gso);
	if (i + 1 < nseg)
		s.flags &= (uint8_t)~0x09;
	if (i > 0)
		s.flags &= (uint8_t)~0x80;
	wl = ref_build(want, &s);
	return got->len == wl && !memcmp(got->data, want, wl) && valid_packet(got->data, got->len);
}

/* Splits r part by part, step slots at a time, and checks every segment. */
static void split_part_case(struct ref r, uint16_t gso, size_t step)
{
	size_t iph = r.version == 4 ? 20 + r.ipoptlen : 40;
	size_t l4h = r.proto == 6 ? 20 + r.tcpoptlen : 8;
	uint8_t type = r.proto == 17    ? VIRTIO_NET_HDR_GSO_UDP_L4
		       : r.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
					: VIRTIO_NET_HDR_GSO_TCPV6;
	size_t nseg = r.paylen ? (r.paylen + gso - 1) / gso : 1, first = 0, total = 0, n;
	enum gso_reason why;
	struct ref in = r;

	n = vnet_put(inbuf, VIRTIO_NET_HDR_F_NEEDS_CSUM, type, (uint16_t)(iph + l4h), gso,
		     (uint16_t)iph, r.proto == 6 ? 16 : 6);
	in.pseudo_only = true;
	n += ref_build(inbuf + n, &in);
	while (first < nseg) {
		int got = gso_split_part(inbuf, n, first, slots, step, &total, &why);

		if (!CHECK_EQ_INT(total, nseg) ||
		    !CHECK_EQ_INT(got, (long long)(nseg - first < step ? nseg - first : step))) {
			fprintf(stderr, "  at %zu: %s\n", first, gso_reason_str(why));
			return;
		}
		for (int k = 0; k < got; k++)
			if (!CHECK(segment_is(&slots[k], r, gso, first + (size_t)k, nseg))) {
				fprintf(stderr, "  segment %zu of %zu\n", first + (size_t)k, nseg);
				return;
			}
		first += (size_t)got;
	}
	CHECK_EQ_INT(gso_split_part(inbuf, n, first, slots, step, &total, &why), 0);
}

/* A super-packet with more segments than slots is split part by part, each
 * part byte-exact; tiny USO segments (the sender picks gso_size) are many
 * but bounded; a refused input says so on every part. */
static void test_split_part(void)
{
	struct ref r = ref_tcp(4);
	enum gso_reason why;
	size_t total = 99, n;

	r.flags = 0x99; /* CWR, PSH, FIN, ACK */
	r.paylen = 65535 - 40;
	split_part_case(r, 1240, 7);
	split_part_case(r, 1240, 64);
	r = ref_tcp(6);
	r.tcpoptlen = 12;
	memcpy(r.tcpopt, (uint8_t[]){ 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8 }, 12);
	r.paylen = 65535 - 32;
	split_part_case(r, 1208, 1);
	r = ref_tcp(6);
	r.proto = 17;
	r.paylen = 3000;
	split_part_case(r, 1, 64); /* 3000 one-byte datagrams */
	r.version = 4;
	r.paylen = 1000;
	split_part_case(r, 3, 33);

	/* A plain packet is one segment. */
	r = ref_tcp(4);
	r.paylen = 100;
	n = vnet_put(inbuf, 0, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0);
	n += ref_build(inbuf + n, &r);
	CHECK_EQ_INT(gso_split_part(inbuf, n, 0, slots, 1, &total, &why), 1);
	CHECK_EQ_INT(total, 1);
	CHECK_MEM(slots[0].data, inbuf + 10, n - 10);
	CHECK_EQ_INT(gso_split_part(inbuf, n, 1, slots, 1, &total, &why), 0);

	/* Refused: total 0 and a reason, whatever the offset. */
	n = vnet_put(inbuf, 0, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);
	n += ref_build(inbuf + n, &r);
	for (size_t first = 0; first < 3; first++) {
		total = 99;
		CHECK(gso_split_part(inbuf, n, first, slots, 8, &total, &why) == -EINVAL &&
		      why == GSO_NO_CSUM && total == 0);
	}
	/* A segment larger than its slot: refused, nothing read or written past. */
	r.paylen = 3000;
	r.pseudo_only = true;
	n = vnet_put(inbuf, 1, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1400, 20, 16);
	n += ref_build(inbuf + n, &r);
	{
		struct gso_buf small = { .data = slots[0].data, .cap = 1439 };

		CHECK(gso_split_part(inbuf, n, 1, &small, 1, &total, &why) == -EINVAL &&
		      why == GSO_NO_ROOM && total == 3);
		small.cap = 1440;
		CHECK_EQ_INT(gso_split_part(inbuf, n, 1, &small, 1, &total, &why), 1);
		CHECK_EQ_INT(gso_split_part(inbuf, n, 1, &small, 0, &total, &why), -EINVAL);
	}
	/* gso_split itself still refuses before writing when slots are few. */
	CHECK(gso_split(inbuf, n, slots, 2, &why) == -EINVAL && why == GSO_NO_ROOM);
}

/* Builds nseg plain segments of the flow r into slots2 as coalesce input. */
static size_t segments(struct ref r, const size_t *sizes, size_t nseg, const uint8_t *flags,
		       struct gso_buf *in)
{
	size_t off = 0;

	for (size_t i = 0; i < nseg; i++) {
		struct ref s = r;

		s.paylen = sizes[i];
		s.pay = r.pay + off;
		s.id = (uint16_t)(r.id + i);
		s.seq = r.seq + (uint32_t)off;
		s.flags = flags ? flags[i] : r.flags;
		in[i] = slots2[i];
		in[i].len = ref_build(in[i].data, &s);
		off += sizes[i];
	}
	return nseg;
}

/* Expects out to be the merged super-packet of r with total bytes and
 * segment size gso, then splits it back and compares with in[]. */
static void expect_merged(const struct gso_buf *out, struct ref r, size_t total, uint16_t gso,
			  const struct gso_buf *in, size_t nin)
{
	size_t iph = r.version == 4 ? 20 + r.ipoptlen : 40, l4h = 20 + r.tcpoptlen, n;
	enum gso_reason why;

	r.paylen = total;
	r.pseudo_only = true;
	n = vnet_put(want, 1, (uint8_t)((r.version == 4 ? 1 : 4) | (r.flags & 0x80)),
		     (uint16_t)(iph + l4h), gso, (uint16_t)iph, 16);
	n += ref_build(want + n, &r);
	if (!CHECK_EQ_INT(out->len, n) || !CHECK_MEM(out->data, want, n))
		return;
	if (!CHECK_EQ_INT(gso_split(out->data, out->len, slots, SLOTS, &why), (long long)nin))
		return;
	for (size_t i = 0; i < nin; i++)
		if (!CHECK(slots[i].len == in[i].len &&
			   !memcmp(slots[i].data, in[i].data, in[i].len)))
			fprintf(stderr, "  round trip segment %zu\n", i);
}

static bool passthrough(const struct gso_buf *out, const struct gso_buf *in)
{
	static const uint8_t zero[10];

	return out->len == in->len + 10 && !memcmp(out->data, zero, 10) &&
	       !memcmp(out->data + 10, in->data, in->len);
}

static void test_coalesce_basic(void)
{
	static const size_t sizes[] = { 1448, 1448, 1448, 1000 };
	static const uint8_t flags[] = { 0x90, 0x10, 0x10, 0x18 }; /* CWR first, PSH last */
	struct gso_buf in[8];

	for (int v = 4; v <= 6; v += 2) {
		struct ref r = ref_tcp(v);

		r.tcpoptlen = 12;
		memcpy(r.tcpopt, (uint8_t[]){ 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8 }, 12);
		segments(r, sizes, 4, flags, in);
		CHECK_EQ_INT(gso_coalesce(in, 4, slots2 + 8, 8), 1);
		r.flags = 0x98;
		expect_merged(&slots2[8], r, 5344, 1448, in, 4);
	}
}

static void test_coalesce_breaks(void)
{
	struct ref r = ref_tcp(4);
	struct gso_buf in[8], tmp;
	size_t sizes[] = { 1000, 1000, 1000, 1000 };
	uint8_t flags[] = { 0x10, 0x18, 0x10, 0x11 };

	/* PSH in the middle closes; FIN is never merged. */
	segments(r, sizes, 4, flags, in);
	CHECK_EQ_INT(gso_coalesce(in, 4, slots2 + 8, 8), 3);
	r.flags = 0x18;
	expect_merged(&slots2[8], r, 2000, 1000, in, 2);
	CHECK(passthrough(&slots2[9], &in[2]) && passthrough(&slots2[10], &in[3]));

	/* Out of order: 0 2 1 -> three outputs, order kept. */
	memset(flags, 0x10, sizeof(flags));
	segments(ref_tcp(4), sizes, 3, flags, in);
	tmp = in[1];
	in[1] = in[2];
	in[2] = tmp;
	CHECK_EQ_INT(gso_coalesce(in, 3, slots2 + 8, 8), 3);
	for (int i = 0; i < 3; i++)
		CHECK(passthrough(&slots2[8 + i], &in[i]));

	/* A shorter segment closes, a longer one is not merged. */
	sizes[1] = 500;
	sizes[2] = 1000;
	segments(ref_tcp(6), sizes, 3, NULL, in);
	CHECK_EQ_INT(gso_coalesce(in, 3, slots2 + 8, 8), 2);
	expect_merged(&slots2[8], ref_tcp(6), 1500, 1000, in, 2);
	sizes[0] = 500;
	sizes[1] = 1000;
	segments(ref_tcp(6), sizes, 2, NULL, in);
	CHECK_EQ_INT(gso_coalesce(in, 2, slots2 + 8, 8), 2);

	/* A bad checksum in the middle passes unchanged and stops the merge. */
	segments(ref_tcp(4), (size_t[]){ 500, 500, 500 }, 3, NULL, in);
	in[1].data[60] ^= 1;
	CHECK_EQ_INT(gso_coalesce(in, 3, slots2 + 8, 8), 3);
	CHECK(passthrough(&slots2[9], &in[1]));

	/* Different window, TTL or options: not merged. */
	for (int field = 0; field < 3; field++) {
		struct ref o = ref_tcp(4);

		segments(o, (size_t[]){ 500, 500 }, 2, NULL, in);
		o.paylen = 500;
		o.pay += 500;
		o.seq += 500;
		o.id++;
		if (field == 0)
			o.win++;
		else if (field == 1)
			o.ttl--;
		else
			o.tcpoptlen = 4;
		in[1].len = ref_build(in[1].data, &o);
		CHECK_EQ_INT(gso_coalesce(in, 2, slots2 + 8, 8), 2);
	}

	/* A fixed IPv4 id merges with DF (the split renumbers), not without. */
	for (int df = 0; df < 2; df++) {
		struct ref o = ref_tcp(4);

		o.no_df = !df;
		segments(o, (size_t[]){ 500, 500, 500 }, 3, NULL, in);
		for (int i = 1; i < 3; i++) {
			struct ref f = o;

			f.paylen = 500;
			f.pay += 500 * i;
			f.seq += 500 * (uint32_t)i;
			in[i].len = ref_build(in[i].data, &f);
		}
		CHECK_EQ_INT(gso_coalesce(in, 3, slots2 + 8, 8), df ? 1 : 3);
	}

	/* Pure ACKs and non-TCP pass. */
	segments(ref_tcp(4), (size_t[]){ 0, 0 }, 2, NULL, in);
	CHECK_EQ_INT(gso_coalesce(in, 2, slots2 + 8, 8), 2);

	/* Too few output slots. */
	segments(ref_tcp(4), (size_t[]){ 10, 10 }, 2, (uint8_t[]){ 0x18, 0x18 }, in);
	CHECK_EQ_INT(gso_coalesce(in, 2, slots2 + 8, 1), -ENOBUFS);
}

static void test_coalesce_mixed(void)
{
	struct ref a = ref_tcp(4), b = ref_tcp(6), u = ref_tcp(4);
	struct gso_buf ain[4], bin[4], in[9], uin;
	size_t sz[] = { 1200, 1200, 1200 };

	segments(a, sz, 3, NULL, in);
	for (int i = 0; i < 3; i++) {
		ain[i] = (struct gso_buf){ .data = slot_mem + (size_t)(40 + i) * SLOT_CAP,
					   .len = in[i].len };
		memcpy(ain[i].data, in[i].data, in[i].len);
	}
	segments(b, sz, 3, NULL, bin);
	u.proto = 17;
	u.paylen = 99;
	uin = (struct gso_buf){ .data = slot_mem + (size_t)50 * SLOT_CAP };
	uin.len = ref_build(uin.data, &u);
	/* a0 b0 u a1 b1 a2 b2 */
	const struct gso_buf order[] = { ain[0], bin[0], uin, ain[1], bin[1], ain[2], bin[2] };
	memcpy(in, order, sizeof(order));
	CHECK_EQ_INT(gso_coalesce(in, 7, slots2 + 8, 8), 3);
	expect_merged(&slots2[8], a, 3600, 1200, ain, 3);
	expect_merged(&slots2[9], b, 3600, 1200, bin, 3);
	CHECK(passthrough(&slots2[10], &uin));
}

/* The 64 KiB bound: 50 segments of 1448 make two outputs. */
static void test_coalesce_bound(void)
{
	size_t sizes[50];
	struct gso_buf in[50];
	int n;

	for (int i = 0; i < 50; i++)
		sizes[i] = 1448;
	segments(ref_tcp(4), sizes, 50, NULL, in);
	n = gso_coalesce(in, 50, slots, SLOTS);
	CHECK_EQ_INT(n, 2);
	CHECK(slots[0].len - 10 <= 65535 && slots[0].len - 10 + 1448 > 65535);
}

/* In place, as tun.c does it: each input at offset 32 of its slot, each
 * output at the slot's start. Mixed flows, IPv4 and IPv6, a UDP packet and
 * sizes that close outputs; the result must equal the coalesce into
 * separate buffers, byte for byte. */
static void test_coalesce_in_place(void)
{
	struct test_rng rng = { 0x243f6a8885a308d3ull };
	struct gso_buf in[SLOTS], sep[SLOTS], place[SLOTS];

	for (int round = 0; round < 50; round++) {
		struct ref flows[3] = { ref_tcp(4), ref_tcp(6), ref_tcp(4) };
		uint32_t off[3] = { 0, 0, 0 };
		size_t nin = 1 + test_rng_next(&rng) % SLOTS;
		int a, b;

		flows[2].sport = 40001;
		for (size_t i = 0; i < nin; i++) {
			unsigned f = (unsigned)(test_rng_next(&rng) % 4);
			struct ref s = f < 3 ? flows[f] : ref_tcp(6);
			size_t pay =
			    test_rng_next(&rng) % 5 ? 1200 : 1 + test_rng_next(&rng) % 1200;

			if (f == 3)
				s.proto = 17;
			else {
				s.seq += off[f];
				s.id = (uint16_t)(s.id + i);
				off[f] += (uint32_t)pay;
			}
			s.paylen = pay;
			s.pay = payload + i;
			in[i] =
			    (struct gso_buf){ .data = slots[i].data + 32, .cap = SLOT_CAP - 32 };
			in[i].len = ref_build(in[i].data, &s);
			sep[i] = slots2[i];
		}
		a = gso_coalesce(in, nin, sep, SLOTS);
		for (size_t i = 0; i < nin; i++)
			place[i] = slots[i];
		b = gso_coalesce(in, nin, place, nin);
		if (!CHECK(a >= 1) || !CHECK_EQ_INT(a, b))
			return;
		for (int i = 0; i < a; i++)
			if (!CHECK(sep[i].len == place[i].len &&
				   !memcmp(sep[i].data, place[i].data, sep[i].len))) {
				fprintf(stderr, "  round %d output %d\n", round, i);
				return;
			}
	}
}

/* The checksum helpers against the reference's 16-bit sum: every length
 * and alignment, with a running sum carried in, chained at even lengths. */
static void test_csum(void)
{
	struct test_rng rng = { 0x13198a2e03707344ull };
	static uint8_t buf[4096];

	test_rng_bytes(&rng, buf, sizeof(buf));
	memset(buf + 3000, 0xff, 1000);
	for (size_t n = 0; n < 300; n++)
		for (size_t at = 0; at < 8; at++) {
			uint32_t carry = (uint32_t)test_rng_next(&rng);
			uint32_t expect = (uint32_t)ref_sum(buf + at, n) + gso_csum_fold(carry);

			if (!CHECK_EQ_INT(gso_csum_fold(gso_csum_add(carry, buf + at, n)),
					  gso_csum_fold(expect)))
				return;
		}
	CHECK_EQ_INT(gso_csum_fold(gso_csum_add(gso_csum_add(0, buf + 3000, 998), buf + 3998, 98)),
		     ref_sum(buf + 3000, 1096));
	CHECK_EQ_INT(gso_csum_fold(gso_csum_add(0, buf, sizeof(buf))), ref_sum(buf, sizeof(buf)));
}

/* Random super-packets: split, validate, coalesce back to the original. */
static void test_random_round_trip(void)
{
	struct test_rng rng = { 0x9e3779b97f4a7c15ull };

	for (int round = 0; round < 300; round++) {
		struct ref r = ref_tcp(test_rng_next(&rng) % 2 ? 4 : 6);
		size_t iph, l4h, n, maxpay;
		uint16_t gso = (uint16_t)(500 + test_rng_next(&rng) % 1500);
		uint8_t type;
		enum gso_reason why;
		int got;

		r.tcpoptlen = (test_rng_next(&rng) % 11) * 4;
		test_rng_bytes(&rng, r.tcpopt, r.tcpoptlen);
		if (r.version == 4 && test_rng_next(&rng) % 4 == 0) {
			r.ipoptlen = 4 * (1 + test_rng_next(&rng) % 10);
			test_rng_bytes(&rng, r.ipopt, r.ipoptlen);
		}
		r.flags = (uint8_t)(0x10 | (test_rng_next(&rng) & 0xc8));
		r.seq = (uint32_t)test_rng_next(&rng);
		r.id = (uint16_t)test_rng_next(&rng);
		iph = r.version == 4 ? 20 + r.ipoptlen : 40;
		l4h = 20 + r.tcpoptlen;
		maxpay = 65535 - l4h - iph;
		r.paylen = 1 + test_rng_next(&rng) % maxpay;
		if ((r.paylen + gso - 1) / gso > SLOTS)
			r.paylen = (size_t)gso * SLOTS;
		if (r.paylen > maxpay)
			r.paylen = maxpay;
		r.pay = payload + test_rng_next(&rng) % 1000;
		type = (uint8_t)((r.version == 4 ? 1 : 4) | (r.flags & 0x80)); /* ECN with CWR */
		r.pseudo_only = true;
		n = vnet_put(inbuf, 1, type, (uint16_t)(iph + l4h), gso, (uint16_t)iph, 16);
		n += ref_build(inbuf + n, &r);
		got = gso_split(inbuf, n, slots, SLOTS, &why);
		if (!CHECK(got >= 1)) {
			fprintf(stderr, "  round %d: %s\n", round, gso_reason_str(why));
			return;
		}
		for (int i = 0; i < got; i++)
			if (!CHECK(valid_packet(slots[i].data, slots[i].len)))
				return;
		got = gso_coalesce(slots, (size_t)got, slots2, SLOTS);
		if (r.paylen <= gso) {
			CHECK(got == 1 && slots2[0].len == n - 10 + 10);
			continue;
		}
		/* A PSH+... original keeps PSH on the last; CWR on the first. */
		if (!CHECK_EQ_INT(got, 1) || !CHECK_EQ_INT(slots2[0].len, n) ||
		    !CHECK_MEM(slots2[0].data, inbuf, n)) {
			fprintf(stderr, "  round %d: v%d pay %zu gso %u\n", round, r.version,
				r.paylen, gso);
			return;
		}
	}
}

int main(void)
{
	slots_init();
	RUN(test_split_tcp4);
	RUN(test_split_tcp4_options);
	RUN(test_split_tcp6);
	RUN(test_split_udp);
	RUN(test_csum);
	RUN(test_split_plain);
	RUN(test_split_plain_udp_zero_csum);
	RUN(test_split_refused);
	RUN(test_split_part);
	RUN(test_coalesce_basic);
	RUN(test_coalesce_breaks);
	RUN(test_coalesce_mixed);
	RUN(test_coalesce_bound);
	RUN(test_coalesce_in_place);
	RUN(test_random_round_trip);
	free(slot_mem);
	free(slot2_mem);
	return test_summary();
}
