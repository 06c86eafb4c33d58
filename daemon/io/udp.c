/*
 * UDP socket I/O with recvmmsg/sendmmsg and sticky source addresses; see
 * udp.h.
 *
 * Modelled on wireguard-go's conn/bind_std.go and conn/sticky_linux.go, with
 * one dual-stack socket instead of two. UDP GSO (UDP_SEGMENT on send) and
 * GRO (UDP_GRO on receive) would be added in send_prepare() and
 * recv_prepare() without changing the engine's view of a batch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg, struct in6_pktinfo */
#endif
#include "io/udp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* How long a send waits for buffer space, and how often per batch, before
 * dropping the rest: UDP may lose packets, the event loop may not stall. */
enum { UDP_SEND_WAIT_MS = 5, UDP_SEND_MAX_WAITS = 4 };

/* Room for IP_PKTINFO and IPV6_PKTINFO together: an IPv4 datagram on the
 * dual-stack socket carries both. */
union udp_cmsg_buf {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

union udp_name {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Per-call arrays, one entry per datagram of a recvmmsg/sendmmsg call. */
struct udp_scratch {
	struct mmsghdr msgs[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	union udp_name names[UDP_BATCH_MAX];
	union udp_cmsg_buf cmsg[UDP_BATCH_MAX];
	unsigned slot[UDP_BATCH_MAX]; /* msgs[k] sends batch->pkts[slot[k]] */
};

static int setsockopt_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

/* Large buffers absorb bursts between two turns of the event loop.
 * SO_*BUFFORCE ignores net.core.[rw]mem_max but needs CAP_NET_ADMIN. */
static void set_buffers(int fd)
{
	if (setsockopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, UDP_SOCKET_BUFFER) < 0)
		(void)setsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_SOCKET_BUFFER);
	if (setsockopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, UDP_SOCKET_BUFFER) < 0)
		(void)setsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, UDP_SOCKET_BUFFER);
}

/* Socket options, then the bind, for either family. */
static int socket_setup(struct udp *udp, uint16_t port)
{
	union udp_name name = { 0 };
	socklen_t len;
	int err;

	if (udp->family == AF_INET6) {
		err = setsockopt_int(udp->fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
		if (!err)
			err = setsockopt_int(udp->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
		if (err)
			return err;
		name.in6.sin6_family = AF_INET6;
		name.in6.sin6_port = htons(port);
		len = sizeof(name.in6);
	} else {
		name.in4.sin_family = AF_INET;
		name.in4.sin_port = htons(port);
		len = sizeof(name.in4);
	}
	/* Also on the IPv6 socket: IPv4 datagrams then carry ipi_spec_dst. */
	err = setsockopt_int(udp->fd, IPPROTO_IP, IP_PKTINFO, 1);
	if (err)
		return err;
	set_buffers(udp->fd);
	if (bind(udp->fd, &name.sa, len) < 0)
		return -errno;
	if (getsockname(udp->fd, &name.sa, &len) < 0)
		return -errno;
	udp->port = ntohs(udp->family == AF_INET6 ? name.in6.sin6_port : name.in4.sin_port);
	return 0;
}

int udp_open(struct udp *udp, uint16_t port, uint32_t fwmark)
{
	int err;

	memset(&udp->stats, 0, sizeof(udp->stats));
	udp->port = 0;
	udp->fwmark = 0;
	udp->family = AF_INET6;
	udp->scratch = calloc(1, sizeof(*udp->scratch));
	if (!udp->scratch) {
		udp->fd = -1;
		return -ENOMEM;
	}
	udp->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (udp->fd < 0 && errno == EAFNOSUPPORT) {
		log_info("IPv6 is not available; UDP socket is IPv4 only");
		udp->family = AF_INET;
		udp->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (udp->fd < 0) {
		err = -errno;
		udp_close(udp);
		return err;
	}
	err = socket_setup(udp, port);
	if (!err && fwmark)
		err = udp_set_fwmark(udp, fwmark);
	if (err)
		udp_close(udp);
	return err;
}

void udp_close(struct udp *udp)
{
	if (udp->fd >= 0)
		close(udp->fd);
	udp->fd = -1;
	free(udp->scratch);
	udp->scratch = NULL;
}

int udp_set_fwmark(struct udp *udp, uint32_t fwmark)
{
	int err = setsockopt_int(udp->fd, SOL_SOCKET, SO_MARK, (int)fwmark);

	if (!err)
		udp->fwmark = fwmark;
	return err;
}

/* ---- receive ---- */

static void recv_prepare(struct udp *udp, struct pkt_batch *batch, unsigned want)
{
	for (unsigned i = 0; i < want; i++) {
		struct pkt *pkt = &batch->pkts[batch->count + i];
		struct msghdr *hdr = &udp->scratch->msgs[i].msg_hdr;

		pkt_reset(pkt);
		memset(&pkt->ep, 0, sizeof(pkt->ep));
		udp->scratch->iov[i].iov_base = pkt->data;
		udp->scratch->iov[i].iov_len = pkt_tailroom(pkt);
		*hdr = (struct msghdr){ .msg_name = &pkt->ep.addr,
					.msg_namelen = sizeof(pkt->ep.addr),
					.msg_iov = &udp->scratch->iov[i],
					.msg_iovlen = 1,
					.msg_control = udp->scratch->cmsg[i].buf,
					.msg_controllen = sizeof(udp->scratch->cmsg[i].buf) };
	}
}

/* Records where the datagram arrived. An IPv4 datagram on the dual-stack
 * socket carries both IP_PKTINFO and a v4-mapped IPV6_PKTINFO; the former's
 * ipi_spec_dst (the address to reply from) wins. */
static void recv_pktinfo(struct msghdr *hdr, struct wg_endpoint *ep)
{
	bool have4 = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c; c = CMSG_NXTHDR(hdr, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo info;

			memcpy(&info, CMSG_DATA(c), sizeof(info));
			ep->src4 = info.ipi_spec_dst;
			ep->src_ifindex = info.ipi_ifindex;
			have4 = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo info;

			memcpy(&info, CMSG_DATA(c), sizeof(info));
			if (!IN6_IS_ADDR_V4MAPPED(&info.ipi6_addr))
				ep->src6 = info.ipi6_addr;
			else if (!have4)
				memcpy(&ep->src4, &info.ipi6_addr.s6_addr[12], 4);
			else
				continue;
			ep->src_ifindex = (int)info.ipi6_ifindex;
		}
	}
}

/* The engine sees IPv4 peers as AF_INET, whatever socket they came in on. */
static void unmap_v4(struct wg_endpoint *ep)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };

	if (ep->addr.sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&ep->addr.in6.sin6_addr))
		return;
	in4.sin_port = ep->addr.in6.sin6_port;
	memcpy(&in4.sin_addr, &ep->addr.in6.sin6_addr.s6_addr[12], 4);
	memset(&ep->addr, 0, sizeof(ep->addr));
	ep->addr.in4 = in4;
}

/* Keeps the good datagrams of the n received, packed from batch->count on.
 * A dropped datagram leaves a hole that later ones are copied into; that
 * happens only for oversized (usually hostile) datagrams. */
static void recv_commit(struct udp *udp, struct pkt_batch *batch, unsigned n)
{
	struct pkt *base = &batch->pkts[batch->count];
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++) {
		struct msghdr *hdr = &udp->scratch->msgs[i].msg_hdr;
		struct pkt *pkt = &base[i];

		if (hdr->msg_flags & MSG_TRUNC) {
			udp->stats.udp_truncated++;
			continue;
		}
		pkt->len = udp->scratch->msgs[i].msg_len;
		recv_pktinfo(hdr, &pkt->ep);
		unmap_v4(&pkt->ep);
		if (kept != i) {
			pkt_reset(&base[kept]);
			memcpy(base[kept].data, pkt->data, pkt->len);
			base[kept].len = pkt->len;
			base[kept].ep = pkt->ep;
		}
		kept++;
	}
	batch->count += kept;
	udp->stats.udp_rx += kept;
}

int udp_recv_batch(struct udp *udp, struct pkt_batch *batch)
{
	unsigned start = batch->count;

	while (batch->count < batch->cap) {
		unsigned want = batch->cap - batch->count;
		int n;

		if (want > UDP_BATCH_MAX)
			want = UDP_BATCH_MAX;
		recv_prepare(udp, batch, want);
		do {
			n = recvmmsg(udp->fd, udp->scratch->msgs, want, MSG_DONTWAIT, NULL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (batch->count == start)
				return -errno;
			break;
		}
		recv_commit(udp, batch, (unsigned)n);
		if ((unsigned)n < want)
			break; /* drained: the next call would only see EAGAIN */
	}
	return (int)(batch->count - start);
}

/* ---- send ---- */

static bool src4_set(const struct wg_endpoint *ep)
{
	return ep->src4.s_addr != 0;
}

static bool src6_set(const struct wg_endpoint *ep)
{
	return !IN6_IS_ADDR_UNSPECIFIED(&ep->src6);
}

/* Fills the destination of message k; false when the endpoint cannot be
 * reached through this socket. */
static bool send_name(struct udp *udp, unsigned k, const struct wg_endpoint *ep)
{
	struct msghdr *hdr = &udp->scratch->msgs[k].msg_hdr;
	union udp_name *name = &udp->scratch->names[k];
	int family = ep->addr.sa.sa_family;

	if (family == AF_INET && udp->family == AF_INET6) {
		memset(&name->in6, 0, sizeof(name->in6));
		name->in6.sin6_family = AF_INET6;
		name->in6.sin6_port = ep->addr.in4.sin_port;
		name->in6.sin6_addr.s6_addr[10] = 0xff;
		name->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&name->in6.sin6_addr.s6_addr[12], &ep->addr.in4.sin_addr, 4);
		hdr->msg_namelen = sizeof(name->in6);
	} else if (family == AF_INET) {
		name->in4 = ep->addr.in4;
		hdr->msg_namelen = sizeof(name->in4);
	} else if (family == AF_INET6 && udp->family == AF_INET6) {
		name->in6 = ep->addr.in6;
		hdr->msg_namelen = sizeof(name->in6);
	} else {
		return false;
	}
	hdr->msg_name = name;
	return true;
}

/* Adds the sticky source address, if any. IPv4 passes no interface, so the
 * kernel routes freely (as Linux's WireGuard); IPv6 passes it only for a
 * link-local source, which is meaningless without one. */
static void send_source(struct udp *udp, unsigned k, const struct wg_endpoint *ep)
{
	struct msghdr *hdr = &udp->scratch->msgs[k].msg_hdr;
	struct cmsghdr *c = (struct cmsghdr *)udp->scratch->cmsg[k].buf;

	hdr->msg_control = NULL;
	hdr->msg_controllen = 0;
	if (ep->addr.sa.sa_family == AF_INET && src4_set(ep)) {
		struct in_pktinfo info = { .ipi_spec_dst = ep->src4 };

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(c), &info, sizeof(info));
		hdr->msg_controllen = CMSG_SPACE(sizeof(info));
	} else if (ep->addr.sa.sa_family == AF_INET6 && udp->family == AF_INET6 && src6_set(ep)) {
		struct in6_pktinfo info = { .ipi6_addr = ep->src6 };

		if (IN6_IS_ADDR_LINKLOCAL(&ep->src6))
			info.ipi6_ifindex = (unsigned)ep->src_ifindex;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(info));
		memcpy(CMSG_DATA(c), &info, sizeof(info));
		hdr->msg_controllen = CMSG_SPACE(sizeof(info));
	} else {
		return;
	}
	hdr->msg_control = c;
}

/* Builds messages for pkts[first ..] up to UDP_BATCH_MAX of them; packets
 * without a usable endpoint are dropped here. Returns the message count and
 * sets *next to the first packet not consumed. */
static unsigned send_prepare(struct udp *udp, struct pkt_batch *batch, unsigned first,
			     unsigned *next)
{
	unsigned i = first, k = 0;

	for (; i < batch->count && k < UDP_BATCH_MAX; i++) {
		struct pkt *pkt = &batch->pkts[i];

		if (!send_name(udp, k, &pkt->ep)) {
			udp->stats.udp_send_errors++;
			continue;
		}
		send_source(udp, k, &pkt->ep);
		udp->scratch->iov[k].iov_base = pkt->data;
		udp->scratch->iov[k].iov_len = pkt->len;
		udp->scratch->msgs[k].msg_hdr.msg_iov = &udp->scratch->iov[k];
		udp->scratch->msgs[k].msg_hdr.msg_iovlen = 1;
		udp->scratch->msgs[k].msg_hdr.msg_flags = 0;
		udp->scratch->slot[k] = i;
		k++;
	}
	*next = i;
	return k;
}

static bool wait_writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, UDP_SEND_WAIT_MS) > 0;
}

/* The source address of a sticky endpoint has gone away: forget it and
 * send message k from whatever address the kernel picks. */
static void send_clear_source(struct udp *udp, struct pkt_batch *batch, unsigned k)
{
	struct wg_endpoint *ep = &batch->pkts[udp->scratch->slot[k]].ep;

	memset(&ep->src6, 0, sizeof(ep->src6));
	ep->src_ifindex = 0;
	udp->scratch->msgs[k].msg_hdr.msg_control = NULL;
	udp->scratch->msgs[k].msg_hdr.msg_controllen = 0;
	udp->stats.udp_src_cleared++;
}

/* Sends msgs[0 .. n-1], adding the number sent to *sent. Returns 0, or
 * -errno when the socket is unusable (the rest are then counted as errors). */
static int send_msgs(struct udp *udp, struct pkt_batch *batch, unsigned n, unsigned *sent)
{
	unsigned i = 0, waits = 0;

	while (i < n) {
		int r = sendmmsg(udp->fd, &udp->scratch->msgs[i], n - i, MSG_DONTWAIT);
		int err = errno;

		if (r > 0) {
			i += (unsigned)r;
			*sent += (unsigned)r;
			continue;
		}
		switch (err) {
		case EINTR:
			continue;
		case EAGAIN:
			if (waits++ < UDP_SEND_MAX_WAITS && wait_writable(udp->fd))
				continue;
			udp->stats.udp_send_errors += n - i;
			udp->stats.udp_send_blocked += n - i;
			return 0;
		case EINVAL:
		case EADDRNOTAVAIL:
		case ENETUNREACH: /* IPv4 route lookup from a non-local source */
			if (udp->scratch->msgs[i].msg_hdr.msg_control) {
				send_clear_source(udp, batch, i);
				continue;
			}
			break;
		case EBADF:
		case ENOTSOCK:
		case EFAULT:
			udp->stats.udp_send_errors += n - i;
			return -err;
		}
		/* Unreachable, filtered, too big: this datagram is lost. */
		udp->stats.udp_send_errors++;
		i++;
	}
	return 0;
}

int udp_send_batch(struct udp *udp, struct pkt_batch *batch)
{
	unsigned first = 0, next, sent = 0;
	int err = 0;

	while (first < batch->count && !err) {
		unsigned n = send_prepare(udp, batch, first, &next);

		if (n)
			err = send_msgs(udp, batch, n, &sent);
		first = next;
	}
	if (err) /* packets never prepared are lost too */
		udp->stats.udp_send_errors += batch->count - first;
	udp->stats.udp_tx += sent;
	batch->count = 0;
	return err ? err : (int)sent;
}

/* ---- one datagram from a fresh socket ---- */

int udp_send_once(const struct sockaddr *to, socklen_t tolen, const void *data, size_t len,
		  uint32_t fwmark)
{
	socklen_t anylen =
	    to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	union udp_name any;
	int fd, err = 0;

	if (to->sa_family != AF_INET && to->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(&any, 0, sizeof(any));
	any.sa.sa_family = to->sa_family;
	fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The mark first: the route lookup of the send must see it, so exit-
	 * node routing through the mesh cannot capture the datagram. */
	if (fwmark)
		err = setsockopt_int(fd, SOL_SOCKET, SO_MARK, (int)fwmark);
	if (!err && bind(fd, &any.sa, anylen) < 0)
		err = -errno;
	if (!err && sendto(fd, data, len, 0, to, tolen) < 0)
		err = -errno;
	close(fd);
	return err;
}
