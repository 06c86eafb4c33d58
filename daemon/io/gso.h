/*
 * Segmentation offload's packet surgery, with no system calls: the pure core
 * that a TUN opened with IFF_VNET_HDR needs (io/tun.c).
 *
 * Split (TUN -> engine): the buffer is a struct virtio_net_hdr (native byte
 * order, as a legacy TUN on a little-endian host writes it) followed by one
 * IP packet. gso_type NONE: a packet with VIRTIO_NET_HDR_F_NEEDS_CSUM gets its
 * checksum completed (the 16 bits at csum_start + csum_offset hold the partial
 * sum; the sum from csum_start to the end is folded in and complemented); a
 * packet without it is copied unchanged. TCPV4 / TCPV6 / UDP_L4 (ECN bit
 * allowed): an IPv4 or IPv6 (no extension headers) TCP or UDP super-packet,
 * NEEDS_CSUM set, csum_start = the IP header length, csum_offset 16 (TCP) or
 * 6 (UDP), gso_size > 0, at most GSO_MAX_PACKET bytes of IP packet. hdr_len
 * is not trusted: the L4 header length comes from the TCP data offset. Each
 * segment is the headers plus gso_size bytes of payload (the last one the
 * rest), with IPv4 total length, id (+1 a segment) and header checksum, IPv6
 * payload length, TCP sequence (+gso_size a segment), FIN and PSH on the last
 * segment only, CWR on the first only, UDP length, and the L4 checksum
 * computed whole over the pseudo-header. Anything else is refused with a
 * reason; nothing is read outside the buffer.
 *
 * Coalesce (engine -> TUN): plain IP packets in, each output a virtio_net_hdr
 * plus one packet. A TCP segment is appended to the latest output of its flow
 * when that output is still open and the segment follows it: same IP header
 * except total/payload length, id and checksum (IPv4 id exactly +1 a
 * segment, or the same id on every segment when DF is set, which the
 * kernel's resegmentation then renumbers; no fragments, no IPv6 extension headers), same TCP header
 * except sequence (exactly the next byte), checksum and PSH; no SYN, FIN, RST, URG, nor CWR after
 * the first; payload not empty and not larger than the first segment's; a valid TCP checksum. A
 * segment shorter than the first, or one with PSH, closes the output. A merged output carries
 * GSO_TCPV4/TCPV6 (plus the ECN bit when the first segment has CWR, as tcp_gro_complete sets it),
 * gso_size = the first segment's payload, NEEDS_CSUM with csum_start the IP
 * header length, csum_offset 16, and the folded pseudo-header sum (not
 * complemented) in the TCP checksum field, as the kernel's TSO expects; it
 * never exceeds 65535 bytes of IP packet nor its slot. Everything else,
 * and an output of one segment, passes unchanged behind a zero header.
 * Per-flow order is kept; different flows may be reordered between
 * themselves.
 */
#ifndef MESHGATE_IO_GSO_H
#define MESHGATE_IO_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* USO; Linux 4.18, absent from older uapi headers */
#endif

enum {
	GSO_VNET_HDR_LEN = sizeof(struct virtio_net_hdr), /* 10 */
	GSO_MAX_PACKET = 65535 + 40, /* IPv6 header plus a full payload length */
	GSO_MAX_COALESCED = 65535,   /* IP bytes of one coalesced packet */
};

enum gso_reason {
	GSO_OK,
	GSO_SHORT,          /* shorter than its headers */
	GSO_TOO_LONG,       /* more than GSO_MAX_PACKET */
	GSO_BAD_TYPE,       /* unknown gso_type or flags */
	GSO_NO_CSUM,        /* GSO without NEEDS_CSUM */
	GSO_BAD_IP,         /* IP version, header length, or L4 protocol */
	GSO_BAD_CSUM_START, /* csum_start / csum_offset outside the packet or L4 header */
	GSO_BAD_L4,         /* TCP data offset short or past the packet */
	GSO_ZERO_SIZE,      /* gso_size 0 */
	GSO_NO_ROOM,        /* too few output slots, or a slot too small */
};

/* One caller-owned buffer: data[0 .. cap-1], len bytes used. */
struct gso_buf {
	uint8_t *data;
	size_t cap;
	size_t len;
	/* Coalesce bookkeeping; after gso_coalesce() segs is the number of
	 * input packets an output holds, the rest is meaningless. */
	uint32_t segs, seg_size, next_seq;
	bool open, tcp;
};

/* Splits in[0 .. len-1] (virtio_net_hdr + packet) into plain IP packets in
 * out[0 ..], at most nout. Returns the number of packets (>= 1) or -EINVAL
 * with *why set; out[] contents are then unspecified. */
int gso_split(const uint8_t *in, size_t len, struct gso_buf *out, size_t nout, enum gso_reason *why)
    __attribute__((warn_unused_result));

/* The resumable form, for a super-packet with more segments than free
 * slots: writes segments first .. first + nout - 1 (fewer at the end) to
 * out[0 ..] and sets *total to the super-packet's segment count. Returns the
 * number written, 0 when first >= *total, or -EINVAL with *why set (and
 * *total 0 when the input itself is refused). Every call validates the
 * whole input again, so the caller may keep it as read. */
int gso_split_part(const uint8_t *in, size_t len, size_t first, struct gso_buf *out, size_t nout,
		   size_t *total, enum gso_reason *why) __attribute__((warn_unused_result));

/* Coalesces the plain IP packets in[0 .. nin-1] (data, len) into out[0 ..]
 * (each a virtio_net_hdr + packet). Returns the number of outputs or
 * -ENOBUFS when out[] has too few slots or a slot cannot hold its packet.
 * In place is allowed: out[k] may share memory with in[k] (the same slot,
 * out[k].data at or before in[k].data), since output k is only written once
 * input k has been read; out[] and in[] may not overlap otherwise. With
 * nout >= nin and every out[k].cap >= GSO_VNET_HDR_LEN + the longest input,
 * it cannot fail. */
int gso_coalesce(const struct gso_buf *in, size_t nin, struct gso_buf *out, size_t nout)
    __attribute__((warn_unused_result));

const char *gso_reason_str(enum gso_reason why);

/* Internet checksum helpers, exported for tests: the 32-bit running sum of
 * data (odd length only at the end), and its fold to 16 bits. */
uint32_t gso_csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t gso_csum_fold(uint32_t sum);

#endif
