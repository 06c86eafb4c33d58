/*
 * Packet I/O against the real kernel: UDP batches over loopback (IPv4 and
 * IPv6, pktinfo, sticky sources, truncation, unreachable destinations), one
 * datagram from a socket of its own (udp_send_once: a new source port, the
 * fwmark, nothing left open), UDP GSO and GRO (mixed batches arrive whole and
 * in order with the offloads on or off at either end, GRO buffers larger
 * than the batch wait and arrive, refused GSO messages go again one by one)
 * and a TUN device (write a packet in, read a
 * routed packet out, removal on close).
 *
 * Needs root; everything happens in a private network namespace created by
 * unshare(CLONE_NEWNET), so the host's interfaces and routes are untouched
 * and nothing can leave the machine (the namespace has only lo and the TUN).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/udp.h>
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

	CHECK_EQ_INT(udp_open(&a, 0, 0x1234, 0), 0);
	CHECK(a.port != 0);
	CHECK_EQ_INT(a.family, AF_INET6);
	CHECK(getsockopt(a.fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == 0x1234);
	CHECK_EQ_INT(udp_set_fwmark(&a, 0), 0);
	CHECK(getsockopt(a.fd, SOL_SOCKET, SO_MARK, &mark, &len) == 0 && mark == 0);
	CHECK(fcntl(a.fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ_INT(udp_open(&b, a.port, 0, 0), -EADDRINUSE);
	udp_close(&a);
	udp_close(&a);
}

static void test_udp_v4(void)
{
	struct pkt_batch *tx = pkt_batch_new(8, SLOT), *rx = pkt_batch_new(8, SLOT);
	static const uint32_t lens[] = { 1, 100, 1400 };
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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
	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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

	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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

	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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

	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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

/* ---- UDP GSO and GRO ---- */

/* Slots as the data plane has them: a GRO buffer holds up to 64 KiB. */
enum { GRO_SLOT = PKT_HEADROOM + 65536, UDP_OFFLOADS = UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO };

/* With fake_eio set, sendmmsg() refuses a leading UDP_SEGMENT message with
 * EIO, as Linux before 6.11 did when the route's device could not checksum;
 * this kernel checksums in software instead, so the failure is injected. */
static bool fake_eio;

static bool msg_has_segment(struct msghdr *hdr)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c; c = CMSG_NXTHDR(hdr, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT)
			return true;
	return false;
}

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	static int (*real)(int, struct mmsghdr *, unsigned int, int);
	unsigned plain = 0;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "sendmmsg");
	while (fake_eio && plain < n && !msg_has_segment(&msgs[plain].msg_hdr))
		plain++;
	if (fake_eio && plain == 0 && n) {
		errno = EIO;
		return -1;
	}
	return real(fd, msgs, fake_eio ? plain : n, flags);
}

struct sent_dgram {
	uint32_t len;
	int dest;    /* 0: b over IPv4, 1: b over IPv6, 2: c over IPv4 */
	bool sticky; /* from 127.0.0.2 */
};

/* Runs of equal sizes (70 in one: more than a GSO message), a trailing short
 * one, a longer one after a run, IPv6, another receiver, another source. */
static const struct sent_dgram *mixed_batch(unsigned *count)
{
	static struct sent_dgram d[100];
	unsigned n = 0;

	for (unsigned i = 0; i < 70; i++)
		d[n++] = (struct sent_dgram){ 1000, 0, false };
	d[n++] = (struct sent_dgram){ 300, 0, false };
	for (unsigned i = 0; i < 5; i++)
		d[n++] = (struct sent_dgram){ 1200, 1, false };
	for (unsigned i = 0; i < 3; i++)
		d[n++] = (struct sent_dgram){ 800, 2, false };
	for (unsigned i = 0; i < 4; i++)
		d[n++] = (struct sent_dgram){ 600, 0, true };
	d[n++] = (struct sent_dgram){ 900, 0, false };
	d[n++] = (struct sent_dgram){ 900, 0, false };
	d[n++] = (struct sent_dgram){ 950, 0, false };
	d[n++] = (struct sent_dgram){ 1, 0, false };
	*count = n;
	return d;
}

/* Checks that rx holds, in order and byte-exact, the datagrams of d that
 * went to receiver `which` (0: b, 2: c). */
static void mixed_check(const struct sent_dgram *d, unsigned n, int which,
			const struct pkt_batch *rx, uint16_t from_port)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct pkt *pkt;

		if ((d[i].dest == 2) != (which == 2) || (d[i].dest == 1 && !have_ipv6))
			continue;
		CHECK(k < rx->count);
		if (k >= rx->count)
			return;
		pkt = &rx->pkts[k++];
		CHECK(payload_ok(pkt, d[i].len, i));
		CHECK_EQ_INT(pkt->ep.addr.sa.sa_family, d[i].dest == 1 ? AF_INET6 : AF_INET);
		if (d[i].dest != 1) {
			CHECK(ip4_is(&pkt->ep.addr.in4.sin_addr,
				     d[i].sticky ? "127.0.0.2" : "127.0.0.1"));
			CHECK_EQ_INT(ntohs(pkt->ep.addr.in4.sin_port), from_port);
		}
	}
	CHECK_EQ_INT(rx->count, k);
}

/* One batch of mixed datagrams a -> b and c, with the offloads on or off at
 * each end: what arrives is the same, in order, byte for byte. */
static void offload_mixed(bool tx_offloads, bool rx_offloads)
{
	struct pkt_batch *tx = pkt_batch_new(128, SLOT);
	struct pkt_batch *rxb = pkt_batch_new(128, GRO_SLOT), *rxc = pkt_batch_new(8, GRO_SLOT);
	const struct sent_dgram *d;
	unsigned n, want_b = 0;
	struct udp a, b, c;

	CHECK_EQ_INT(udp_open(&a, 0, 0, tx_offloads ? UDP_OFFLOADS : 0), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, rx_offloads ? UDP_OFFLOADS : 0), 0);
	CHECK_EQ_INT(udp_open(&c, 0, 0, rx_offloads ? UDP_OFFLOADS : 0), 0);
	CHECK(a.gso == tx_offloads && b.gro == rx_offloads);
	d = mixed_batch(&n);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *pkt;

		if (d[i].dest == 1 && !have_ipv6)
			continue;
		pkt = batch_put(tx, d[i].len, i);
		if (d[i].dest == 1)
			ep_set6(&pkt->ep, "::1", b.port);
		else
			ep_set4(&pkt->ep, "127.0.0.1", d[i].dest == 2 ? c.port : b.port);
		if (d[i].sticky)
			inet_pton(AF_INET, "127.0.0.2", &pkt->ep.src4);
		want_b += d[i].dest != 2;
	}
	CHECK_EQ_INT(udp_send_batch(&a, tx), want_b + 3);
	recv_until(&b, rxb, want_b);
	recv_until(&c, rxc, 3);
	mixed_check(d, n, 0, rxb, a.port);
	mixed_check(d, n, 2, rxc, a.port);
	CHECK_EQ_INT(a.stats.udp_tx, want_b + 3);
	CHECK_EQ_INT(a.stats.udp_send_errors, 0);
	if (tx_offloads) {
		/* 64 + 7 (a shorter one ends a run) + 5 + 3 + 4 + 2 + 2 (the
		 * longer one starts a run, the 1-byte one ends it) */
		CHECK_EQ_INT(a.stats.udp_gso_msgs, have_ipv6 ? 7 : 6);
		CHECK_EQ_INT(a.stats.udp_gso_datagrams, have_ipv6 ? 87 : 82);
	} else {
		CHECK_EQ_INT(a.stats.udp_gso_msgs, 0);
	}
	/* Loopback hands a GSO message to a GRO socket whole. */
	CHECK(tx_offloads && rx_offloads ? b.stats.udp_gro_buffers >= 4
					 : b.stats.udp_gro_buffers == 0);
	CHECK_EQ_INT(b.stats.udp_gro_datagrams,
		     b.stats.udp_gro_buffers ? 71 + 4 + 2 + 2 + 5 * have_ipv6 : 0);
	CHECK_EQ_INT(b.stats.udp_rx, want_b);
	CHECK(!udp_rx_has_pending(&b));
	udp_close(&a);
	udp_close(&b);
	udp_close(&c);
	pkt_batch_free(tx);
	pkt_batch_free(rxb);
	pkt_batch_free(rxc);
}

static void test_udp_offload_mixed(void)
{
	offload_mixed(true, true);
	offload_mixed(false, false);
	offload_mixed(true, false);
	offload_mixed(false, true);
}

/* Three GRO buffers of 40 datagrams and a single, into a batch of 16 slots
 * (the first call finds one slot taken): nothing is lost, nothing
 * reordered; what does not fit waits, and udp_recv_pending() delivers it
 * without reading. */
static void test_udp_gro_pending(void)
{
	struct pkt_batch *tx = pkt_batch_new(64, SLOT), *rx = pkt_batch_new(16, GRO_SLOT);
	struct pollfd pfd;
	unsigned seq = 0, next = 0;
	bool saw_pending = false, drained_alone = false;
	struct udp a, b;

	CHECK_EQ_INT(udp_open(&a, 0, 0, UDP_OFFLOADS), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, UDP_OFFLOADS), 0);
	for (unsigned m = 0; m < 3; m++) {
		for (unsigned i = 0; i < 40; i++, seq++)
			ep_set4(&batch_put(tx, 500, seq)->ep, "127.0.0.1", b.port);
		CHECK_EQ_INT(udp_send_batch(&a, tx), 40);
	}
	ep_set4(&batch_put(tx, 100, seq++)->ep, "127.0.0.1", b.port);
	CHECK_EQ_INT(udp_send_batch(&a, tx), 1);
	CHECK_EQ_INT(a.stats.udp_gso_msgs, 3);

	pfd = (struct pollfd){ .fd = b.fd, .events = POLLIN };
	rx->count = 1;
	rx->pkts[0].len = 0;
	for (int round = 0; round < 200 && next < seq; round++) {
		unsigned first = rx->count;
		int n;

		if (udp_rx_has_pending(&b) && round % 2) {
			n = udp_recv_pending(&b, rx);
			drained_alone = true;
		} else {
			if (!udp_rx_has_pending(&b) && poll(&pfd, 1, 50) <= 0)
				continue;
			n = udp_recv_batch(&b, rx);
		}
		CHECK(n > 0);
		CHECK_EQ_INT(rx->count, first + (unsigned)(n > 0 ? n : 0));
		for (unsigned i = first; i < rx->count; i++, next++)
			CHECK(payload_ok(&rx->pkts[i], next < 120 ? 500 : 100, next));
		saw_pending |= udp_rx_has_pending(&b);
		rx->count = 0;
	}
	CHECK_EQ_INT(next, seq);
	CHECK(saw_pending && drained_alone);
	CHECK(!udp_rx_has_pending(&b));
	CHECK_EQ_INT(b.stats.udp_gro_buffers, 3);
	CHECK_EQ_INT(b.stats.udp_gro_datagrams, 120);
	CHECK_EQ_INT(b.stats.udp_rx, seq);
	CHECK_EQ_INT(b.stats.udp_gro_dropped, 0);
	CHECK_EQ_INT(udp_recv_batch(&b, rx), 0);
	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

/* Random GRO buffers (1..64 datagrams of 1..1400 bytes, some with a shorter
 * last) into batches of random sizes, partly filled when nothing waits:
 * every datagram arrives once, in order, byte-exact. */
static void test_udp_gro_random(void)
{
	enum { MAX_DGRAMS = 6 * 64 };
	struct pkt_batch *tx = pkt_batch_new(64, SLOT), *rx = pkt_batch_new(24, GRO_SLOT);
	static uint32_t lens[MAX_DGRAMS];
	struct udp a, b;
	unsigned rnd = 12345;

	CHECK_EQ_INT(udp_open(&a, 0, 0, UDP_OFFLOADS), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, UDP_OFFLOADS), 0);
	for (int trial = 0; trial < 40; trial++) {
		struct pollfd pfd = { .fd = b.fd, .events = POLLIN };
		unsigned seq = 0, next = 0, msgs = 1 + (rnd = rnd * 1103515245 + 12345) % 6;

		for (unsigned m = 0; m < msgs; m++) {
			unsigned count = 1 + (rnd = rnd * 1103515245 + 12345) % 64;
			uint32_t size = 1 + (rnd = rnd * 1103515245 + 12345) % 1000;

			for (unsigned i = 0; i < count; i++, seq++) {
				lens[seq] = i + 1 == count && rnd % 3 == 0 ? 1 + size / 2 : size;
				ep_set4(&batch_put(tx, lens[seq], seq)->ep, "127.0.0.1", b.port);
			}
			CHECK_EQ_INT(udp_send_batch(&a, tx), count);
		}
		rx->cap = 2 + (rnd = rnd * 1103515245 + 12345) % 23;
		for (int round = 0; round < 400 && next < seq; round++) {
			unsigned first;

			rx->count = udp_rx_has_pending(&b)
					? 0
					: (rnd = rnd * 1103515245 + 12345) % (rx->cap - 1);
			first = rx->count;
			if (!udp_rx_has_pending(&b) && poll(&pfd, 1, 50) <= 0)
				continue;
			CHECK(udp_recv_batch(&b, rx) >= 0);
			for (unsigned i = first; i < rx->count && next < seq; i++, next++)
				CHECK(payload_ok(&rx->pkts[i], lens[next], next));
		}
		CHECK_EQ_INT(next, seq);
		CHECK(!udp_rx_has_pending(&b));
		rx->cap = 24;
	}
	CHECK_EQ_INT(b.stats.udp_gro_dropped, 0);
	CHECK_EQ_INT(b.stats.udp_truncated, 0);
	CHECK_EQ_INT(udp_recv_batch(&b, rx), 0);
	udp_close(&a);
	udp_close(&b);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
}

/* n datagrams of 700 bytes a -> b; returns how many arrived intact. A read
 * with GRO leaves the batch's last slot free: one more than n. */
static unsigned send_run_of(struct udp *a, struct udp *b, unsigned n)
{
	struct pkt_batch *tx = pkt_batch_new(n, SLOT), *rx = pkt_batch_new(n + 1, GRO_SLOT);
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ep_set4(&batch_put(tx, 700, i)->ep, "127.0.0.1", b->port);
	CHECK_EQ_INT(udp_send_batch(a, tx), n);
	recv_until(b, rx, n);
	for (unsigned i = 0; i < rx->count; i++)
		ok += payload_ok(&rx->pkts[i], 700, i);
	pkt_batch_free(tx);
	pkt_batch_free(rx);
	return ok;
}

/* A GSO message the kernel refuses as such goes again datagram by datagram:
 * EINVAL (here: SO_NO_CHECK, which UDP_SEGMENT cannot honour) for that
 * message only; EIO (the route's device cannot checksum) for good. */
static void test_udp_gso_fallback(void)
{
	struct udp a, b;
	int on = 1;

	CHECK_EQ_INT(udp_open(&a, 0, 0, UDP_OFFLOADS), 0);
	CHECK_EQ_INT(udp_open(&b, 0, 0, UDP_OFFLOADS), 0);
	CHECK(a.gso);
	CHECK_EQ_INT(setsockopt(a.fd, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)), 0);
	CHECK_EQ_INT(send_run_of(&a, &b, 10), 10);
	CHECK(a.gso);
	CHECK_EQ_INT(a.stats.udp_gso_msgs, 0);
	on = 0;
	CHECK_EQ_INT(setsockopt(a.fd, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)), 0);

	fake_eio = true;
	CHECK_EQ_INT(send_run_of(&a, &b, 10), 10);
	fake_eio = false;
	CHECK(!a.gso);
	CHECK_EQ_INT(a.stats.udp_gso_off, 1);
	CHECK_EQ_INT(a.stats.udp_gso_msgs, 0);
	CHECK_EQ_INT(send_run_of(&a, &b, 10), 10);
	CHECK_EQ_INT(a.stats.udp_gso_msgs, 0);
	CHECK_EQ_INT(a.stats.udp_tx, 30);
	CHECK_EQ_INT(a.stats.udp_send_errors, 0);
	udp_close(&a);
	udp_close(&b);
}

/* Offloads not asked for: neither is used, whatever the kernel has. */
static void test_udp_offloads_off(void)
{
	struct udp a;
	int gro = -1;
	socklen_t len = sizeof(gro);

	CHECK_EQ_INT(udp_open(&a, 0, 0, 0), 0);
	CHECK(!a.gso && !a.gro);
	CHECK(getsockopt(a.fd, SOL_UDP, UDP_GRO, &gro, &len) == 0 && gro == 0);
	udp_close(&a);
	CHECK_EQ_INT(udp_open(&a, 0, 0, UDP_OFFLOADS), 0);
	CHECK(a.gso && a.gro);
	udp_close(&a);
	CHECK_EQ_INT(udp_open(&a, 0, 0, UDP_OFFLOAD_GSO), 0);
	CHECK(a.gso && !a.gro);
	udp_close(&a);
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

	CHECK_EQ_INT(udp_open(&b, 0, 0, 0), 0);
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
	CHECK_EQ_INT(test_addr_set4("mgtest0", "10.77.0.1", "255.255.255.0"), 0);
	CHECK_EQ_INT(test_link_up("mgtest0"), 0);
	CHECK_EQ_INT(udp_open(&u, 0, 0, 0), 0);

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
	if (test_link_up("lo") < 0) {
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
	RUN(test_udp_offloads_off);
	RUN(test_udp_offload_mixed);
	RUN(test_udp_gro_pending);
	RUN(test_udp_gro_random);
	RUN(test_udp_gso_fallback);
	RUN(test_tun_open_close);
	RUN(test_tun_data);
	return test_summary();
}
