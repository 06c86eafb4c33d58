/*
 * Packet I/O against the real kernel: UDP batches over loopback (IPv4 and
 * IPv6, pktinfo, sticky sources, truncation, unreachable destinations), one
 * datagram from a socket of its own (udp_send_once: a new source port, the
 * fwmark, nothing left open) and a TUN device (write a packet in, read a
 * routed packet out, removal on close).
 *
 * Needs root; everything happens in a private network namespace created by
 * unshare(CLONE_NEWNET), so the host's interfaces and routes are untouched
 * and nothing can leave the machine (the namespace has only lo and the TUN).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io/tun.h"
#include "io/udp.h"
#include "testlib.h"

enum { SLOT = 2048 };

static unsigned lo_index;
static bool have_ipv6;

/* ---- namespace and interface setup (ioctl, as a test may) ---- */

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = fd < 0 ? -1 : ioctl(fd, req, ifr);

	if (fd >= 0)
		close(fd);
	return r;
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ifreq_ioctl(SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

static int addr_set4(const char *name, const char *addr, const char *mask)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	if (ifreq_ioctl(SIOCSIFADDR, &ifr) < 0)
		return -1;
	inet_pton(AF_INET, mask, &sin->sin_addr);
	return ifreq_ioctl(SIOCSIFNETMASK, &ifr);
}

static bool ipv6_usable(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* ---- endpoints and payloads ---- */

static void ep_set4(struct wg_endpoint *ep, const char *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, addr, &ep->addr.in4.sin_addr);
}

static void ep_set6(struct wg_endpoint *ep, const char *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in6.sin6_family = AF_INET6;
	ep->addr.in6.sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &ep->addr.in6.sin6_addr);
}

static bool ip4_is(const struct in_addr *a, const char *want)
{
	struct in_addr w;

	inet_pton(AF_INET, want, &w);
	return a->s_addr == w.s_addr;
}

static bool ip6_is(const struct in6_addr *a, const char *want)
{
	struct in6_addr w;

	inet_pton(AF_INET6, want, &w);
	return memcmp(a, &w, sizeof(w)) == 0;
}

static void payload_fill(uint8_t *p, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i);
}

static bool payload_ok(const struct pkt *pkt, uint32_t len, unsigned seed)
{
	if (pkt->len != len)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (pkt->data[i] != (uint8_t)(seed * 31 + i))
			return false;
	return true;
}

/* Appends one datagram of len bytes (pattern seed) to batch. */
static struct pkt *batch_put(struct pkt_batch *batch, uint32_t len, unsigned seed)
{
	struct pkt *pkt = pkt_batch_add(batch);

	payload_fill(pkt->data, len, seed);
	pkt->len = len;
	return pkt;
}

/* Receives until batch holds want packets; bounded at about two seconds. */
static void recv_until(struct udp *udp, struct pkt_batch *batch, unsigned want)
{
	struct pollfd pfd = { .fd = udp->fd, .events = POLLIN };

	for (int i = 0; i < 40 && batch->count < want; i++) {
		if (poll(&pfd, 1, 50) > 0)
			CHECK(udp_recv_batch(udp, batch) >= 0);
	}
}

/* ---- UDP ---- */

static void test_udp_open(void)
{
	struct udp a, b;
	int mark = -1;
	socklen_t len = sizeof(mark);

	CHECK_EQ_INT(udp_open(&a, 0, 0x1234), 0);
	CHECK(a.port != 0);
	CHECK_EQ_INT(a.family, AF_INET6);
	CHECK(getsockopt(a.fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == 0x1234);
	CHECK_EQ_INT(udp_set_fwmark(&a, 0), 0);
	CHECK(getsockopt(a.fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == 0);
	CHECK(fcntl(a.fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ_INT(udp_open(&b, a.port, 0), -EADDRINUSE);
	udp_close(&a);
	udp_close(&a);
}

static void test_udp_v4(void)
{
	struct pkt_batch *tx = pkt_batch_new(8, SLOT), *rx = pkt_batch_new(8, SLOT);
	static const uint32_t lens[] = { 1, 100, 1400 };
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	rx->count = 1; /* receiving appends after what the batch holds */
	for (unsigned i = 0; i < 3; i++)
		ep_set4(&batch_put(tx, lens[i], i)->ep, "127.0.0.1", b.port);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 3);
	CHECK_EQ_INT(tx->count, 0);
	recv_until(&b, rx, 4);
	CHECK_EQ_INT(rx->count, 4);
	for (unsigned i = 0; i < 3; i++) {
		const struct pkt *pkt = &rx->pkts[1 + i];

		CHECK(payload_ok(pkt, lens[i], i));
		CHECK_EQ_INT(pkt->ep.addr.sa.sa_family, AF_INET);
		CHECK(ip4_is(&pkt->ep.addr.in4.sin_addr, "127.0.0.1"));
		CHECK_EQ_INT(ntohs(pkt->ep.addr.in4.sin_port), a.port);
		CHECK(ip4_is(&pkt->ep.src4, "127.0.0.1"));
		CHECK_EQ_INT(pkt->ep.src_ifindex, lo_index);
	}
	CHECK_EQ_INT(a.stats.udp_tx, 3);
	CHECK_EQ_INT(b.stats.udp_rx, 3);

	/* A sticky source is used, and the local address is reported. */
	rx->count = 0;
	struct pkt *pkt = batch_put(tx, 20, 7);
	ep_set4(&pkt->ep, "127.0.0.3", b.port);
	inet_pton(AF_INET, "127.0.0.2", &pkt->ep.src4);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 1);
	recv_until(&b, rx, 1);
	CHECK_EQ_INT(rx->count, 1);
	CHECK(ip4_is(&rx->pkts[0].ep.addr.in4.sin_addr, "127.0.0.2"));
	CHECK(ip4_is(&rx->pkts[0].ep.src4, "127.0.0.3"));

	/* A source address that is not (or no longer) local is dropped. */
	rx->count = 0;
	pkt = batch_put(tx, 20, 8);
	ep_set4(&pkt->ep, "127.0.0.1", b.port);
	inet_pton(AF_INET, "192.0.2.1", &pkt->ep.src4);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 1);
	CHECK_EQ_INT(a.stats.udp_src_cleared, 1);
	CHECK(tx->pkts[0].ep.src4.s_addr == 0);
	recv_until(&b, rx, 1);
	CHECK_EQ_INT(rx->count, 1);
	CHECK(payload_ok(&rx->pkts[0], 20, 8));
	CHECK(ip4_is(&rx->pkts[0].ep.addr.in4.sin_addr, "127.0.0.1"));

	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

static void test_udp_v6(void)
{
	struct pkt_batch *tx = pkt_batch_new(8, SLOT), *rx = pkt_batch_new(8, SLOT);
	struct udp a, b;
	struct pkt *pkt;

	if (!have_ipv6) {
		printf("  (no IPv6 in this kernel: skipped)\n");
		goto out;
	}
	CHECK_EQ_INT(udp_open(&a, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	ep_set6(&batch_put(tx, 333, 1)->ep, "::1", b.port);
	pkt = batch_put(tx, 44, 2);
	ep_set6(&pkt->ep, "::1", b.port);
	inet_pton(AF_INET6, "2001:db8::1", &pkt->ep.src6);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 2);
	CHECK_EQ_INT(a.stats.udp_src_cleared, 1);
	recv_until(&b, rx, 2);
	CHECK_EQ_INT(rx->count, 2);
	for (unsigned i = 0; i < rx->count; i++) {
		pkt = &rx->pkts[i];
		CHECK(payload_ok(pkt, i ? 44 : 333, i + 1));
		CHECK_EQ_INT(pkt->ep.addr.sa.sa_family, AF_INET6);
		CHECK(ip6_is(&pkt->ep.addr.in6.sin6_addr, "::1"));
		CHECK_EQ_INT(ntohs(pkt->ep.addr.in6.sin6_port), a.port);
		CHECK(ip6_is(&pkt->ep.src6, "::1"));
		CHECK_EQ_INT(pkt->ep.src_ifindex, lo_index);
	}
	udp_close(&a);
	udp_close(&b);
out:
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

static void test_udp_truncated(void)
{
	/* Slots with room for 100 bytes of payload. */
	struct pkt_batch *tx = pkt_batch_new(8, SLOT), *rx = pkt_batch_new(8, PKT_HEADROOM + 100);
	static const uint32_t lens[] = { 50, 500, 60, 100, 101, 7 };
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	for (unsigned i = 0; i < 6; i++)
		ep_set4(&batch_put(tx, lens[i], i)->ep, "127.0.0.1", b.port);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 6);
	for (int i = 0; i < 40 && rx->count + b.stats.udp_truncated < 6; i++) {
		struct pollfd pfd = { .fd = b.fd, .events = POLLIN };

		if (poll(&pfd, 1, 50) > 0)
			CHECK(udp_recv_batch(&b, rx) >= 0);
	}
	CHECK_EQ_INT(b.stats.udp_truncated, 2);
	CHECK_EQ_INT(rx->count, 4);
	CHECK(payload_ok(&rx->pkts[0], 50, 0));
	CHECK(payload_ok(&rx->pkts[1], 60, 2));
	CHECK(payload_ok(&rx->pkts[2], 100, 3));
	CHECK(payload_ok(&rx->pkts[3], 7, 5));
	CHECK_EQ_INT(rx->pkts[3].ep.addr.sa.sa_family, AF_INET);
	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

/* n datagrams a -> b (alternating IPv4 and IPv6), then echoed b -> a from the
 * batch as received, so replies go back from the reported local address. */
static void round_trip(unsigned n)
{
	struct pkt_batch *tx = pkt_batch_new(n, SLOT), *rx = pkt_batch_new(n, SLOT);
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *pkt = batch_put(tx, 64 + (i * 37) % 1300, i);

		if (have_ipv6 && i % 2)
			ep_set6(&pkt->ep, "::1", b.port);
		else
			ep_set4(&pkt->ep, "127.0.0.1", b.port);
	}
	CHECK_EQ_INT(udp_send_batch(&a, tx), n);
	recv_until(&b, rx, n);
	CHECK_EQ_INT(rx->count, n);
	CHECK_EQ_INT(udp_send_batch(&b, rx), n);
	CHECK_EQ_INT(rx->count, 0);
	recv_until(&a, tx, n);
	CHECK_EQ_INT(tx->count, n);
	for (unsigned i = 0; i < tx->count; i++) {
		const struct pkt *pkt = &tx->pkts[i];
		int family = have_ipv6 && i % 2 ? AF_INET6 : AF_INET;

		CHECK(payload_ok(pkt, 64 + (i * 37) % 1300, i));
		CHECK_EQ_INT(pkt->ep.addr.sa.sa_family, family);
	}
	CHECK_EQ_INT(a.stats.udp_rx, n);
	CHECK_EQ_INT(b.stats.udp_tx, n);
	CHECK_EQ_INT(a.stats.udp_send_errors + b.stats.udp_send_errors, 0);
	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

static void test_udp_batch64(void)
{
	round_trip(64);
}

static void test_udp_batch_over_max(void)
{
	round_trip(UDP_BATCH_MAX + 72);
}

static void test_udp_unreachable(void)
{
	struct pkt_batch *tx = pkt_batch_new(8, SLOT), *rx = pkt_batch_new(8, SLOT);
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	/* The namespace has no routes beyond lo: these fail in the kernel. */
	ep_set4(&batch_put(tx, 10, 0)->ep, "203.0.113.1", 9);
	memset(&batch_put(tx, 10, 1)->ep, 0, sizeof(struct wg_endpoint));
	ep_set6(&batch_put(tx, 10, 2)->ep, "2001:db8::1", 9);
	ep_set4(&batch_put(tx, 10, 3)->ep, "127.0.0.1", b.port);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 1);
	CHECK_EQ_INT(a.stats.udp_send_errors, 3);
	recv_until(&b, rx, 1);
	CHECK_EQ_INT(rx->count, 1);
	CHECK(payload_ok(&rx->pkts[0], 10, 3));
	CHECK_EQ_INT(udp_recv_batch(&a, rx), 0);
	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

/* ---- TUN ---- */

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 + UDP (checksum 0: none) from src:sport to dst:dport. */
static uint32_t udp4_build(uint8_t *p, const char *src, uint16_t sport, const char *dst,
			   uint16_t dport, const char *payload)
{
	uint32_t plen = (uint32_t)strlen(payload), len = 28 + plen;
	uint16_t csum;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	csum = ip_checksum(p, 20);
	p[10] = (uint8_t)(csum >> 8);
	p[11] = (uint8_t)csum;
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	p[24] = (uint8_t)((len - 20) >> 8);
	p[25] = (uint8_t)(len - 20);
	memcpy(p + 28, payload, plen);
	return len;
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The mark a datagram arrived with (SO_RCVMARK), -1 when not reported. */
static long recv_mark(int fd, uint8_t *buf, size_t cap, ssize_t *len, struct sockaddr_in6 *from)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(uint32_t))];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr hdr = { .msg_name = from,
			      .msg_namelen = sizeof(*from),
			      .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf.buf,
			      .msg_controllen = sizeof(cbuf.buf) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint32_t mark;

	*len = -1;
	if (poll(&pfd, 1, 2000) <= 0 || (*len = recvmsg(fd, &hdr, MSG_DONTWAIT)) < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c; c = CMSG_NXTHDR(&hdr, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK) {
			memcpy(&mark, CMSG_DATA(c), sizeof(mark));
			return mark;
		}
	return -1;
}

/* One datagram from a socket of its own: it arrives, from a port that is
 * not the receiver's, carries the mark, and no descriptor stays open. */
static void test_udp_send_once(void)
{
	static const uint8_t msg[20] = { 0x84, 0, 0, 0, 1, 2, 3 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in6 from;
	uint8_t buf[64];
	ssize_t len;
	struct udp b;
	int fds, on = 1;
	bool marks;

	CHECK_EQ_INT(udp_open(&b, 0, 0), 0);
	marks = setsockopt(b.fd, SOL_SOCKET, SO_RCVMARK, &on, sizeof(on)) == 0;
	to.sin_port = htons(b.port);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	fds = open_fds();
	CHECK_EQ_INT(udp_send_once((struct sockaddr *)&to, sizeof(to), msg, sizeof(msg), 0x1234),
		     0);
	CHECK_EQ_INT(open_fds(), fds);
	long mark = recv_mark(b.fd, buf, sizeof(buf), &len, &from);
	CHECK_EQ_INT(len, sizeof(msg));
	CHECK(len == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)));
	CHECK(from.sin6_port != 0 && ntohs(from.sin6_port) != b.port);
	if (marks)
		CHECK_EQ_INT(mark, 0x1234);
	if (have_ipv6) {
		to6.sin6_port = htons(b.port);
		CHECK_EQ_INT(
		    udp_send_once((struct sockaddr *)&to6, sizeof(to6), msg, sizeof(msg), 0), 0);
		mark = recv_mark(b.fd, buf, sizeof(buf), &len, &from);
		CHECK_EQ_INT(len, sizeof(msg));
		CHECK(IN6_IS_ADDR_LOOPBACK(&from.sin6_addr));
		if (marks)
			CHECK(mark <= 0);
	}
	CHECK_EQ_INT(open_fds(), fds);
	CHECK_EQ_INT(udp_send_once((struct sockaddr *)&(struct sockaddr){ .sa_family = AF_UNIX },
				   sizeof(struct sockaddr), msg, sizeof(msg), 0),
		     -EAFNOSUPPORT);
	udp_close(&b);
}

static void test_tun_open_close(void)
{
	struct tun tun;

	CHECK_EQ_INT(tun_open(&tun, "mgtest-name-too-long", false), -EINVAL);
	CHECK_EQ_INT(tun_open(&tun, "mgtest0", false), 0);
	CHECK(strcmp(tun.name, "mgtest0") == 0);
	CHECK(tun.ifindex != 0 && tun.ifindex == if_nametoindex("mgtest0"));
	CHECK(fcntl(tun.fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(tun.fd, F_GETFD) & FD_CLOEXEC);
	tun_close(&tun);
	CHECK_EQ_INT(if_nametoindex("mgtest0"), 0);
	tun_close(&tun);
}

/* Finds the IPv4 UDP packet to dst:dport among what the TUN has queued
 * (the kernel may also emit IPv6 router solicitations and MLD reports). */
static bool tun_find_udp4(struct tun *tun, struct pkt_batch *batch, const char *dst, uint16_t dport,
			  const char *payload)
{
	struct pollfd pfd = { .fd = tun->fd, .events = POLLIN };
	size_t plen = strlen(payload);

	for (int round = 0; round < 40; round++) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		batch->count = 0;
		CHECK(tun_read_batch(tun, batch) >= 0);
		for (unsigned i = 0; i < batch->count; i++) {
			const uint8_t *p = batch->pkts[i].data;

			if (batch->pkts[i].len == 28 + plen && p[0] == 0x45 &&
			    p[9] == IPPROTO_UDP && ip4_is((const void *)(p + 16), dst) &&
			    (p[22] << 8 | p[23]) == dport && !memcmp(p + 28, payload, plen))
				return true;
		}
	}
	return false;
}

static void test_tun_data(void)
{
	struct pkt_batch *tb = pkt_batch_new(16, SLOT), *ub = pkt_batch_new(16, SLOT);
	struct tun tun;
	struct udp u;
	struct pkt *pkt;

	CHECK_EQ_INT(tun_open(&tun, "mgtest0", false), 0);
	CHECK_EQ_INT(addr_set4("mgtest0", "10.77.0.1", "255.255.255.0"), 0);
	CHECK_EQ_INT(link_up("mgtest0"), 0);
	CHECK_EQ_INT(udp_open(&u, 0, 0), 0);

	/* Into the kernel: a garbage packet is refused, the next one delivered. */
	pkt = pkt_batch_add(tb);
	memset(pkt->data, 0x70, 40);
	pkt->len = 40;
	pkt = pkt_batch_add(tb);
	pkt->len = udp4_build(pkt->data, "10.77.0.2", 5555, "10.77.0.1", u.port, "into the tun");
	CHECK_EQ_INT(tun_write_batch(&tun, tb), 1);
	CHECK_EQ_INT(tb->count, 0);
	CHECK_EQ_INT(tun.stats.tun_write_errors, 1);
	CHECK_EQ_INT(tun.stats.tun_tx, 1);
	recv_until(&u, ub, 1);
	CHECK_EQ_INT(ub->count, 1);
	if (ub->count == 1) {
		pkt = &ub->pkts[0];
		CHECK(pkt->len == 12 && !memcmp(pkt->data, "into the tun", 12));
		CHECK_EQ_INT(pkt->ep.addr.sa.sa_family, AF_INET);
		CHECK(ip4_is(&pkt->ep.addr.in4.sin_addr, "10.77.0.2"));
		CHECK_EQ_INT(ntohs(pkt->ep.addr.in4.sin_port), 5555);
		CHECK(ip4_is(&pkt->ep.src4, "10.77.0.1"));
		CHECK_EQ_INT(pkt->ep.src_ifindex, tun.ifindex);
	}

	/* Out of the kernel: a datagram routed via the TUN's /24. */
	ub->count = 0;
	pkt = pkt_batch_add(ub);
	memcpy(pkt->data, "out of the tun", 14);
	pkt->len = 14;
	ep_set4(&pkt->ep, "10.77.0.5", 9999);
	CHECK_EQ_INT(udp_send_batch(&u, ub), 1);
	CHECK(tun_find_udp4(&tun, tb, "10.77.0.5", 9999, "out of the tun"));
	CHECK(tun.stats.tun_rx >= 1);

	/* A packet longer than a slot is dropped and counted; reading goes on. */
	struct pkt_batch *small = pkt_batch_new(4, PKT_HEADROOM + 100);
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pkt = pkt_batch_add(ub);
	memcpy(pkt->data, big, 500);
	pkt->len = 500;
	ep_set4(&pkt->ep, "10.77.0.5", 9999);
	pkt = pkt_batch_add(ub);
	memcpy(pkt->data, "small", 5);
	pkt->len = 5;
	ep_set4(&pkt->ep, "10.77.0.5", 9999);
	CHECK_EQ_INT(udp_send_batch(&u, ub), 2);
	CHECK(tun_find_udp4(&tun, small, "10.77.0.5", 9999, "small"));
	CHECK(tun.stats.tun_truncated >= 1);
	pkt_batch_free(small);

	udp_close(&u);
	tun_close(&tun);
	CHECK_EQ_INT(if_nametoindex("mgtest0"), 0);
	pkt_batch_free(tb);
	pkt_batch_free(ub);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	if (link_up("lo") < 0) {
		printf("cannot bring up lo: %s\n", strerror(errno));
		return 1;
	}
	lo_index = if_nametoindex("lo");
	have_ipv6 = ipv6_usable();

	RUN(test_udp_open);
	RUN(test_udp_v4);
	RUN(test_udp_v6);
	RUN(test_udp_truncated);
	RUN(test_udp_batch64);
	RUN(test_udp_batch_over_max);
	RUN(test_udp_unreachable);
	RUN(test_udp_send_once);
	RUN(test_tun_open_close);
	RUN(test_tun_data);
	return test_summary();
}
