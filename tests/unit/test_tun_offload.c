/*
 * The TUN with offloads against the real kernel, in a private network
 * namespace of its own (needs root, else skipped):
 *  - open: IFF_VNET_HDR with TSO (and USO where the kernel has it);
 *  - write: a TCP peer beyond the TUN (10.78.0.2, then fd00:78::2) is
 *    played by hand; its
 *    handshake and 20 data segments go in through tun_write_batch(), which
 *    coalesces the segments into one write, and a local socket accepts the
 *    connection and receives every byte;
 *  - read: that socket sends 30000 bytes back; the kernel hands the TUN TSO
 *    super-packets, tun_read_batch() splits them into segments with valid
 *    checksums that carry the bytes in order;
 *  - read, tiny USO segments: a UDP_SEGMENT send of 30 datagrams read with 8
 *    free slots stays pending between calls and loses nothing;
 *  - refused reads, counted by reason, and the exact bytes of a coalesced
 *    write: the descriptor swapped for a SOCK_SEQPACKET pair, which keeps
 *    each read and write whole as the TUN does;
 *  - the fallbacks, which this kernel never takes: the same traffic again
 *    on a device opened while ioctl() refuses IFF_VNET_HDR, its header size,
 *    TUNSETOFFLOAD, or USO alone, as older kernels and sandboxes do. The
 *    device must come up plain (or with TSO alone), say so in its offload
 *    bits and refusal counters, and still carry every byte.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bigendian.h"
#include "io/gso.h"
#include "io/tun.h"
#include "testlib.h"

/* Writes coalesce in their own slots: as large as the data plane's. */
enum { SLOT = PKT_HEADROOM + 65536, PEER_PORT = 40000, SRV_PORT = 5000, UDP_PORT = 6000 };

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20 /* Linux 6.2 */
#define TUN_F_USO6 0x40
#endif

static const char ifname[] = "mgoff0";
static uint8_t local4[4], peer4[4], local6[16], peer6[16];
static struct tun the_tun;

/* The family the TCP test runs over: 4 or 6. */
static int ipv;
static const uint8_t *local, *peer;
static size_t iph, alen; /* IP header and address length */

static void use_family(int version)
{
	ipv = version;
	local = version == 4 ? local4 : local6;
	peer = version == 4 ? peer4 : peer6;
	iph = version == 4 ? 20 : 40;
	alen = version == 4 ? 4 : 16;
}

/* What ioctl() refuses, with EINVAL as a kernel without it does. */
enum refusal { REFUSE_NONE, REFUSE_VNET_HDR, REFUSE_HDRSZ, REFUSE_OFFLOAD, REFUSE_USO };
static enum refusal refuse;

static bool refused(unsigned long req, void *arg)
{
	unsigned long flags = (unsigned long)arg;

	switch (refuse) {
	case REFUSE_VNET_HDR:
		return req == TUNSETIFF && ((struct ifreq *)arg)->ifr_flags & IFF_VNET_HDR;
	case REFUSE_HDRSZ:
		return req == TUNSETVNETHDRSZ;
	case REFUSE_OFFLOAD:
		return req == TUNSETOFFLOAD;
	case REFUSE_USO:
		return req == TUNSETOFFLOAD && flags & (TUN_F_USO4 | TUN_F_USO6);
	default:
		return false;
	}
}

/* Every ioctl of the process passes through here to libc's, but for the one
 * refused. */
int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "ioctl");
	if (refused(req, arg)) {
		errno = EINVAL;
		return -1;
	}
	return real(fd, req, arg);
}

/* fd00:78::1/64 on name, usable at once (no duplicate address detection). */
static int addr_set6(const char *name)
{
	struct in6_ifreq r = { .ifr6_prefixlen = 64, .ifr6_ifindex = (int)if_nametoindex(name) };
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		return -1;
	close(fd);
	memcpy(&r.ifr6_addr, local6, 16);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ok = fd >= 0 && ioctl(fd, SIOCSIFADDR, &r) == 0;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Whether fd00:78::1 may be bound within a second: the kernel clears an
 * address's tentative flag in a work item after the link comes up, even
 * with duplicate detection off, and bind() says EADDRNOTAVAIL until then. */
static bool addr6_ready(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	bool ok = false;

	memcpy(&sa.sin6_addr, local6, 16);
	for (int i = 0; i < 200 && !ok; i++) {
		int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok)
			poll(NULL, 0, 5);
	}
	return ok;
}

/* Brings name up with 10.78.0.1/24, fd00:78::1/64 and MTU 1280. */
static int link_setup(const char *name)
{
	struct ifreq ifr = { 0 };
	char addr[INET_ADDRSTRLEN];

	if (addr_set6(name) < 0 || !inet_ntop(AF_INET, local4, addr, sizeof(addr)) ||
	    test_addr_set4(name, addr, "255.255.255.0") < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = 1280;
	if (test_ifreq_ioctl(SIOCSIFMTU, &ifr) < 0 || test_link_up(name) < 0)
		return -1;
	return addr6_ready() ? 0 : -1;
}

/* The L4 checksum over the pseudo-header verifies (or, with fill, is
 * written); IPv4 or IPv6 by the packet's version. */
static bool l4_csum(uint8_t *ip, size_t len, bool fill)
{
	bool v4 = ip[0] >> 4 == 4;
	size_t hl = v4 ? (size_t)(ip[0] & 15) * 4 : 40, al = v4 ? 4 : 16;
	uint8_t proto = v4 ? ip[9] : ip[6], ph[4] = { 0, proto };
	size_t off = proto == 6 ? 16 : 6;
	uint32_t sum;

	put_be16(ph + 2, (unsigned)(len - hl));
	if (fill)
		put_be16(ip + hl + off, 0);
	sum = gso_csum_add(gso_csum_add(0, ip + (v4 ? 12 : 8), 2 * al), ph, 4);
	sum = gso_csum_add(sum, ip + hl, len - hl);
	if (fill)
		put_be16(ip + hl + off, (uint16_t)~gso_csum_fold(sum));
	return gso_csum_fold(sum) == 0xffff;
}

/* A TCP packet from the played peer to the local socket. */
static size_t peer_tcp(uint8_t *p, uint16_t id, uint32_t seq, uint32_t ack, uint8_t flags,
		       const uint8_t *pay, size_t n)
{
	static const uint8_t mss[4] = { 2, 4, 1200 >> 8, 1200 & 0xff };
	size_t optlen = flags & 0x02 ? sizeof(mss) : 0, len = iph + 20 + optlen + n;
	uint8_t *tcp = p + iph;

	memset(p, 0, iph + 20 + optlen);
	if (ipv == 4) {
		p[0] = 0x45;
		put_be16(p + 2, (unsigned)len);
		put_be16(p + 4, id);
		put_be16(p + 6, 0x4000);
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, peer, 4);
		memcpy(p + 16, local, 4);
		put_be16(p + 10, (uint16_t)~gso_csum_fold(gso_csum_add(0, p, 20)));
	} else {
		p[0] = 0x60;
		put_be16(p + 4, (unsigned)(len - 40));
		p[6] = 6;
		p[7] = 64;
		memcpy(p + 8, peer, 16);
		memcpy(p + 24, local, 16);
	}
	put_be16(tcp, PEER_PORT);
	put_be16(tcp + 2, SRV_PORT);
	put_be32(tcp + 4, seq);
	put_be32(tcp + 8, ack);
	tcp[12] = (uint8_t)((20 + optlen) / 4 << 4);
	tcp[13] = flags;
	put_be16(tcp + 14, 65535);
	memcpy(tcp + 20, mss, optlen);
	if (n)
		memcpy(tcp + 20 + optlen, pay, n);
	l4_csum(p, len, true);
	return len;
}

/* Writes one packet from the played peer into the kernel. */
static int peer_send(struct tun *tun, struct pkt_batch *b, uint16_t id, uint32_t seq, uint32_t ack,
		     uint8_t flags)
{
	struct pkt *pkt;

	b->count = 0;
	pkt = pkt_batch_add(b);
	pkt->len = (uint32_t)peer_tcp(pkt->data, id, seq, ack, flags, NULL, 0);
	return tun_write_batch(tun, b);
}

static bool wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 1000) == 1;
}

/* Whether p is a TCP packet from the local socket to the peer. */
static bool to_peer(const uint8_t *p, size_t len)
{
	const uint8_t *tcp = p + iph;

	if (len < iph + 20 || p[0] >> 4 != ipv ||
	    (ipv == 4 ? p[0] != 0x45 || p[9] != 6 : p[6] != 6))
		return false;
	return !memcmp(p + (ipv == 4 ? 16 : 24), peer, alen) && get_be16(tcp) == SRV_PORT &&
	       get_be16(tcp + 2) == PEER_PORT;
}

/* Reads until the SYN-ACK; returns the server's ISN through isn. */
static bool read_synack(struct tun *tun, struct pkt_batch *b, uint32_t *isn)
{
	for (int round = 0; round < 20 && wait_readable(tun->fd); round++) {
		b->count = 0;
		CHECK(tun_read_batch(tun, b) >= 0);
		for (unsigned i = 0; i < b->count; i++) {
			const uint8_t *p = b->pkts[i].data;

			if (to_peer(p, b->pkts[i].len) && p[iph + 13] == 0x12) {
				*isn = get_be32(p + iph + 4);
				return true;
			}
		}
	}
	return false;
}

static uint8_t sent[65536], got[65536];

/* The played peer: a handshake and 20 segments in through one coalesced
 * write, then 30000 bytes back out as TSO super-packets. */
static void test_tcp_both_ways(void)
{
	struct tun *tun = &the_tun;
	struct pkt_batch *b = pkt_batch_new(64, SLOT);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SRV_PORT) };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(SRV_PORT) };
	struct sockaddr *addr = ipv == 4 ? (struct sockaddr *)&sa : (struct sockaddr *)&sa6;
	socklen_t addrlen = ipv == 4 ? sizeof(sa) : sizeof(sa6);
	int lfd = socket(ipv == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd = -1,
	    one = 1;
	uint32_t isn = 0, seq = 1000, end = 0;
	struct io_stats before;
	size_t have = 0;

	memcpy(&sa.sin_addr, local4, 4);
	memcpy(&sa6.sin6_addr, local6, 16);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!CHECK(bind(lfd, addr, addrlen) == 0 && listen(lfd, 1) == 0)) {
		perror("bind");
		goto out;
	}
	CHECK_EQ_INT(peer_send(tun, b, 1, seq, 0, 0x02), 1);
	if (!CHECK(read_synack(tun, b, &isn)))
		goto out;
	seq++;
	CHECK_EQ_INT(peer_send(tun, b, 2, seq, isn + 1, 0x10), 1);
	if (!CHECK(wait_readable(lfd)))
		goto out;
	cfd = accept(lfd, NULL, NULL);
	if (!CHECK(cfd >= 0))
		goto out;

	/* In: 20 segments of 1000 bytes, one write. */
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 13 + i / 253);
	before = tun->stats;
	for (unsigned i = 0; i < 20; i++) {
		struct pkt *pkt = pkt_batch_add(b);

		pkt->len = (uint32_t)peer_tcp(pkt->data, (uint16_t)(3 + i), seq + i * 1000, isn + 1,
					      i == 19 ? 0x18 : 0x10, sent + i * 1000, 1000);
	}
	CHECK_EQ_INT(tun_write_batch(tun, b), 20);
	CHECK_EQ_INT(tun->stats.tun_coalesced_writes - before.tun_coalesced_writes, tun->vnet_hdr);
	CHECK_EQ_INT(tun->stats.tun_coalesced_segs - before.tun_coalesced_segs,
		     tun->vnet_hdr ? 20 : 0);
	CHECK_EQ_INT(tun->stats.tun_write_errors, 0);
	seq += 20000;
	while (have < 20000 && wait_readable(cfd)) {
		ssize_t n = recv(cfd, got + have, sizeof(got) - have, 0);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	CHECK_EQ_INT(have, 20000);
	CHECK_MEM(got, sent, 20000);

	/* Out: 30000 bytes, acknowledged as they come. */
	memset(got, 0, sizeof(got));
	before = tun->stats;
	CHECK_EQ_INT(send(cfd, sent + 7, 30000, 0), 30000);
	for (int round = 0; round < 200 && end < 30000 && wait_readable(tun->fd); round++) {
		b->count = 0;
		CHECK(tun_read_batch(tun, b) >= 0);
		for (unsigned i = 0; i < b->count; i++) {
			uint8_t *p = b->pkts[i].data;
			size_t len = b->pkts[i].len, hl;
			uint32_t off;

			if (!to_peer(p, len))
				continue;
			hl = iph + (size_t)(p[iph + 12] >> 4) * 4;
			if (!CHECK(l4_csum(p, len, false)) || !CHECK(len <= 1280))
				goto out;
			off = get_be32(p + iph + 4) - (isn + 1);
			if (off <= 30000 && len - hl <= 30000 - off)
				memcpy(got + off, p + hl, len - hl);
			if (off <= end && off + (len - hl) > end)
				end = off + (uint32_t)(len - hl);
		}
		b->count = 0;
		peer_send(tun, b, 100, seq, isn + 1 + end, 0x10);
	}
	CHECK_EQ_INT(end, 30000);
	CHECK_MEM(got, sent + 7, 30000);
	CHECK(tun->tso ? tun->stats.tun_gso_rx > before.tun_gso_rx
		       : tun->stats.tun_gso_rx == before.tun_gso_rx);
	CHECK(tun->stats.tun_gso_segs - before.tun_gso_segs >=
	      2 * (tun->stats.tun_gso_rx - before.tun_gso_rx));
	CHECK_EQ_INT(tun->stats.tun_split_bad_hdr + tun->stats.tun_split_bad_pkt, 0);
	printf("# IPv%d, 30000 bytes out: %llu super-packets, %llu segments\n", ipv,
	       (unsigned long long)(tun->stats.tun_gso_rx - before.tun_gso_rx),
	       (unsigned long long)(tun->stats.tun_gso_segs - before.tun_gso_segs));
out:
	if (cfd >= 0) {
		struct linger rst = { .l_onoff = 1 };

		/* Gone at once, so the next run may use the same ports. */
		setsockopt(cfd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(cfd);
	}
	close(lfd);
	pkt_batch_free(b);
}

static void test_tcp6_both_ways(void)
{
	test_tcp_both_ways();
}

/* 30 datagrams of 10 bytes in one UDP_SEGMENT send, read 8 slots at a time:
 * with USO one super-packet, pending between the calls; without, 30 packets
 * the kernel split. */
static void test_uso_pending(void)
{
	struct tun *tun = &the_tun;
	struct pkt_batch *b = pkt_batch_new(8, SLOT);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(UDP_PORT) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), gso = 10;
	struct io_stats before = tun->stats;
	unsigned seen = 0;
	bool was_pending = false;
	uint8_t msg[300];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	memcpy(&to.sin_addr, peer4, 4);
	CHECK_EQ_INT(setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso)), 0);
	CHECK_EQ_INT(sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
		     (long long)sizeof(msg));
	for (int round = 0; round < 40 && seen < 30; round++) {
		if (!tun_pending(tun) && !wait_readable(tun->fd))
			break;
		b->count = 0;
		CHECK(tun_read_batch(tun, b) >= 0);
		was_pending |= tun_pending(tun);
		for (unsigned i = 0; i < b->count; i++) {
			const uint8_t *p = b->pkts[i].data;

			if (b->pkts[i].len != 38 || p[9] != 17 || get_be16(p + 22) != UDP_PORT)
				continue;
			CHECK(l4_csum(b->pkts[i].data, 38, false));
			CHECK_MEM(p + 28, msg + seen * 10, 10);
			seen++;
		}
	}
	CHECK_EQ_INT(seen, 30);
	if (tun->uso) {
		CHECK_EQ_INT(tun->stats.tun_gso_rx - before.tun_gso_rx, 1);
		CHECK_EQ_INT(tun->stats.tun_gso_segs - before.tun_gso_segs, 30);
		CHECK(was_pending);
	} else {
		CHECK_EQ_INT(tun->stats.tun_gso_rx - before.tun_gso_rx, 0);
	}
	close(fd);
	pkt_batch_free(b);
}

/* One message as a TUN read would bring it: a virtio header, then p. */
static void feed(int fd, uint8_t flags, uint8_t type, uint16_t gso, const uint8_t *p, size_t len)
{
	struct virtio_net_hdr h = { .flags = flags,
				    .gso_type = type,
				    .gso_size = gso,
				    .csum_start = 20,
				    .csum_offset = 16 };
	uint8_t msg[2048];

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), p, len);
	CHECK_EQ_INT(send(fd, msg, sizeof(h) + len, 0), (long long)(sizeof(h) + len));
}

static void test_refused_and_written(void)
{
	struct tun *tun = &the_tun;
	struct pkt_batch *b = pkt_batch_new(8, PKT_HEADROOM + 1300), *w = pkt_batch_new(8, SLOT);
	struct io_stats before = tun->stats;
	struct virtio_net_hdr h;
	uint8_t pkt[1500], msg[70000];
	int sp[2], real = tun->fd;
	size_t len;

	use_family(4);
	if (!CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) == 0))
		goto out;
	tun->fd = sp[0];
	CHECK_EQ_INT(send(sp[1], "short", 5, 0), 5);
	len = peer_tcp(pkt, 1, 1000, 1, 0x10, sent, 500);
	feed(sp[1], 1, 9, 100, pkt, len);                        /* unknown gso_type */
	feed(sp[1], 0, VIRTIO_NET_HDR_GSO_TCPV4, 100, pkt, len); /* GSO without NEEDS_CSUM */
	pkt[0] = 0x55;
	feed(sp[1], 1, VIRTIO_NET_HDR_GSO_TCPV4, 100, pkt, len); /* IP version 5 */
	len = peer_tcp(pkt, 1, 1000, 1, 0x10, sent, 1400);
	feed(sp[1], 0, 0, 0, pkt, len); /* larger than a slot */
	len = peer_tcp(pkt, 1, 1000, 1, 0x10, sent, 100);
	feed(sp[1], 0, 0, 0, pkt, len);
	CHECK_EQ_INT(tun_read_batch(tun, b), 1);
	CHECK(b->count == 1 && b->pkts[0].len == len && !memcmp(b->pkts[0].data, pkt, len));
	CHECK_EQ_INT(tun->stats.tun_split_bad_hdr - before.tun_split_bad_hdr, 3);
	CHECK_EQ_INT(tun->stats.tun_split_bad_pkt - before.tun_split_bad_pkt, 1);
	CHECK_EQ_INT(tun->stats.tun_truncated - before.tun_truncated, 1);
	CHECK_EQ_INT(tun->stats.tun_rx - before.tun_rx, 1);

	/* Written: 5 segments of one flow in one message behind a TCPV4
	 * header, then a packet of another flow behind a zero one. */
	for (unsigned i = 0; i < 6; i++) {
		struct pkt *p = pkt_batch_add(w);

		p->len = (uint32_t)peer_tcp(p->data, (uint16_t)(10 + i), 5000 + i * 1000, 1, 0x10,
					    sent + i * 1000, 1000);
		if (i == 5)
			p->data[iph + 1] ^= 1; /* another source port */
		if (i == 5)
			l4_csum(p->data, p->len, true);
	}
	CHECK_EQ_INT(tun_write_batch(tun, w), 6);
	CHECK_EQ_INT(recv(sp[1], msg, sizeof(msg), 0), 10 + 40 + 5000);
	memcpy(&h, msg, sizeof(h));
	CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h.gso_size == 1000 &&
	      h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csum_start == 20 && h.csum_offset == 16);
	CHECK_MEM(msg + 50, sent, 5000);
	CHECK_EQ_INT(recv(sp[1], msg, sizeof(msg), 0), 10 + 40 + 1000);
	memcpy(&h, msg, sizeof(h));
	CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_NONE && h.flags == 0);
	CHECK(l4_csum(msg + 10, 1040, false));
	CHECK_EQ_INT(recv(sp[1], msg, sizeof(msg), 0), -1);
	tun->fd = real;
	close(sp[0]);
	close(sp[1]);
out:
	pkt_batch_free(b);
	pkt_batch_free(w);
}

/* A device opened while ioctl() refuses one request: the offload bits and
 * refusal counters it must show. */
struct fallback {
	const char *name;
	enum refusal refuse;
	bool vnet_hdr, tso;
	uint64_t vnet_refused, tso_refused, uso_refused;
};

static const struct fallback fallbacks[] = {
	{ "IFF_VNET_HDR refused", REFUSE_VNET_HDR, false, false, 1, 0, 0 },
	{ "TUNSETVNETHDRSZ refused", REFUSE_HDRSZ, false, false, 1, 0, 0 },
	{ "TUNSETOFFLOAD refused", REFUSE_OFFLOAD, false, false, 0, 1, 0 },
	{ "USO refused, TSO kept", REFUSE_USO, true, true, 0, 0, 1 },
};

/* Opens the device with offloads asked for and gives it its addresses. */
static bool open_up(struct tun *tun)
{
	if (!CHECK_EQ_INT(tun_open(tun, ifname, true), 0))
		return false;
	printf("# vnet_hdr %d tso %d uso %d\n", tun->vnet_hdr, tun->tso, tun->uso);
	if (CHECK_EQ_INT(link_setup(ifname), 0))
		return true;
	tun_close(tun);
	return false;
}

/* TCP in and out over IPv4 and IPv6, then UDP_SEGMENT datagrams out. */
static void run_traffic(void)
{
	use_family(4);
	RUN(test_tcp_both_ways);
	use_family(6);
	RUN(test_tcp6_both_ways);
	RUN(test_uso_pending);
}

static void test_fallback(const struct fallback *f)
{
	struct tun *tun = &the_tun;
	unsigned failed_before = test_counts.failed;
	bool up;

	printf("# %s\n", f->name);
	refuse = f->refuse;
	up = open_up(tun);
	refuse = REFUSE_NONE;
	if (!up)
		return;
	CHECK_EQ_INT(tun->vnet_hdr, f->vnet_hdr);
	CHECK_EQ_INT(tun->tso, f->tso);
	CHECK(!tun->uso);
	CHECK_EQ_INT(tun->rx_buf != NULL, f->vnet_hdr); /* a plain device reads into slots */
	CHECK_EQ_INT(tun->stats.tun_vnet_refused, f->vnet_refused);
	CHECK_EQ_INT(tun->stats.tun_tso_refused, f->tso_refused);
	CHECK_EQ_INT(tun->stats.tun_uso_refused, f->uso_refused);
	printf("%s open: %s\n", test_counts.failed == failed_before ? "ok  " : "FAIL", f->name);
	run_traffic();
	tun_close(tun);
}

int main(void)
{
	int skip = test_enter_private_netns();
	struct tun *tun = &the_tun;

	if (skip)
		return skip;
	inet_pton(AF_INET, "10.78.0.1", local4);
	inet_pton(AF_INET, "10.78.0.2", peer4);
	inet_pton(AF_INET6, "fd00:78::1", local6);
	inet_pton(AF_INET6, "fd00:78::2", peer6);
	if (!open_up(tun))
		return test_summary();
	CHECK(tun->vnet_hdr && tun->tso);
	CHECK_EQ_INT(tun->stats.tun_vnet_refused + tun->stats.tun_tso_refused, 0);
	CHECK_EQ_INT(tun->stats.tun_uso_refused, !tun->uso);
	run_traffic();
	RUN(test_refused_and_written);
	tun_close(tun);
	CHECK_EQ_INT(if_nametoindex(ifname), 0);
	CHECK(!tun->rx_buf && !tun->co_in && !tun->co_out);
	for (size_t i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++)
		test_fallback(&fallbacks[i]);
	return test_summary();
}
