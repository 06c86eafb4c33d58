/*
 * UDP socket I/O with recvmmsg/sendmmsg, sticky source addresses and UDP
 * GSO/GRO; see udp.h.
 *
 * Modelled on wireguard-go's conn/bind_std.go, conn/sticky_linux.go and
 * conn/gso_linux.go, with one dual-stack socket instead of two, and iovecs
 * instead of copies to build a GSO message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg, struct in6_pktinfo */
#endif
#include "io/udp.h"

#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* How long a send waits for buffer space, and how often per batch, before
 * dropping the rest: UDP may lose packets, the event loop may not stall. */
enum { UDP_SEND_WAIT_MS = 5, UDP_SEND_MAX_WAITS = 4 };

/* Messages per read with GRO on (wireguard-go reads 2). Each GRO buffer
 * fills up to 64 KiB of the slot it lands in; reading few at a time into
 * the same slots keeps the slots that ever hold one (the first few, and the
 * last few where pending buffers wait) few and the memory resident small,
 * at the cost of more reads for plain datagrams. */
enum { UDP_GRO_READ_MAX = 4 };

/* Room for IP_PKTINFO and IPV6_PKTINFO together (an IPv4 datagram on the
 * dual-stack socket carries both) and UDP_GRO (an int) or UDP_SEGMENT. */
union udp_cmsg_buf {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
		    CMSG_SPACE(sizeof(int))];
};

union udp_name {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Per-call arrays, one entry per message of a recvmmsg/sendmmsg call (iov:
 * per datagram; a GSO message has one iovec per datagram). */
struct udp_scratch {
	struct mmsghdr msgs[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	union udp_name names[UDP_BATCH_MAX];
	union udp_cmsg_buf cmsg[UDP_BATCH_MAX];
	unsigned slot[UDP_BATCH_MAX]; /* msgs[k] sends batch->pkts[slot[k] ..] */
	unsigned segs[UDP_BATCH_MAX]; /* .. that many datagrams */
	/* Segment size of received buffer k (0: one datagram); for pending
	 * buffers, of the k-th one still waiting. */
	uint16_t gso[UDP_BATCH_MAX];
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

/* As wireguard-go's supportsUDPOffload(): UDP_SEGMENT is there when its
 * getsockopt works; UDP_GRO when it can be switched on. */
static void offloads_probe(struct udp *udp, unsigned offloads)
{
	int value;
	socklen_t len = sizeof(value);

	if (offloads & UDP_OFFLOAD_GSO)
		udp->gso = getsockopt(udp->fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
	if (offloads & UDP_OFFLOAD_GRO)
		udp->gro = setsockopt_int(udp->fd, SOL_UDP, UDP_GRO, 1) == 0;
}

int udp_open(struct udp *udp, uint16_t port, uint32_t fwmark, unsigned offloads)
{
	int err;

	memset(&udp->stats, 0, sizeof(udp->stats));
	udp->port = 0;
	udp->fwmark = 0;
	udp->family = AF_INET6;
	udp->gso = udp->gro = udp->rx_more = false;
	udp->rx_batch = NULL;
	udp->rx_pending = 0;
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
	if (!err)
		offloads_probe(udp, offloads);
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

static void slot_swap(struct pkt *a, struct pkt *b)
{
	struct pkt tmp = *a;

	*a = *b;
	*b = tmp;
}

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

/* Records where the datagram arrived and returns the segment size of a
 * UDP_GRO buffer (0: none). An IPv4 datagram on the dual-stack socket
 * carries both IP_PKTINFO and a v4-mapped IPV6_PKTINFO; the former's
 * ipi_spec_dst (the address to reply from) wins. */
static unsigned recv_control(struct msghdr *hdr, struct wg_endpoint *ep)
{
	bool have4 = false;
	int gso = 0;

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
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(gso))) {
			memcpy(&gso, CMSG_DATA(c), sizeof(gso));
		}
	}
	return gso > 0 ? (unsigned)gso : 0;
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

/* Datagrams in a buffer of len bytes cut every gso bytes (gso 0: one). */
static unsigned gro_count(uint32_t len, unsigned gso)
{
	return gso ? (len + gso - 1) / gso : 1;
}

/* Length of the first datagram left in a buffer. */
static uint32_t gro_first_len(const struct pkt *buf, unsigned gso)
{
	return gso && buf->len > gso ? gso : buf->len;
}

/* Copies datagram s of buffer src (segment size gso, 0: one datagram) into
 * slot dst. */
static void gro_copy(struct pkt *dst, const struct pkt *src, unsigned gso, unsigned s)
{
	uint32_t off = s * gso, len = src->len - off;

	if (gso && len > gso)
		len = gso;
	pkt_reset(dst);
	memcpy(dst->data, src->data + off, len);
	dst->len = len;
	dst->ep = src->ep;
}

/* Keeps the good buffers of the n received, packed from batch->count on
 * (slots swapped, no bytes copied), their segment sizes in scratch->gso.
 * Returns how many were kept. */
static unsigned recv_keep(struct udp *udp, struct pkt_batch *batch, unsigned n)
{
	struct pkt *base = &batch->pkts[batch->count];
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++) {
		struct msghdr *hdr = &udp->scratch->msgs[i].msg_hdr;
		struct pkt *pkt = &base[i];
		unsigned gso;

		if (hdr->msg_flags & MSG_TRUNC) {
			udp->stats.udp_truncated++;
			continue;
		}
		pkt->len = udp->scratch->msgs[i].msg_len;
		gso = recv_control(hdr, &pkt->ep);
		unmap_v4(&pkt->ep);
		if (gso >= pkt->len)
			gso = 0;
		if (gso) {
			udp->stats.udp_gro_buffers++;
			udp->stats.udp_gro_datagrams += gro_count(pkt->len, gso);
		}
		udp->scratch->gso[kept] = (uint16_t)gso;
		if (kept != i)
			slot_swap(&base[kept], pkt);
		kept++;
	}
	return kept;
}

/* Spreads buffer j (at base[j], its datagrams going to base[t ..]) over
 * its slots by copying; every slot in between is free or already laid out.
 * Buffers do not move between slots, so only the few slots reads go to
 * ever hold a whole GRO buffer (see UDP_GRO_READ_MAX). */
static void recv_spread(struct pkt *base, unsigned j, unsigned t, unsigned gso)
{
	struct pkt *src = &base[j];
	unsigned n = gro_count(src->len, gso);

	for (unsigned s = n - 1; s > 0; s--)
		gro_copy(&base[t + s], src, gso, s);
	if (t != j)
		gro_copy(&base[t], src, gso, 0);
	else
		src->len = gro_first_len(src, gso);
}

/* Lays out the kept buffers as one datagram per slot from batch->count on,
 * in order. When they hold more than the free slots, the buffers (or the
 * rest of the one) that do not fit move to the batch's last slots, pending:
 * each needs a slot of its own until it is delivered. */
static void recv_split(struct udp *udp, struct pkt_batch *batch, unsigned kept)
{
	struct pkt *base = &batch->pkts[batch->count];
	uint16_t *gso = udp->scratch->gso;
	unsigned room = batch->cap - batch->count, placed = 0, part = 0, m, pending;

	for (m = 0; m < kept; m++) {
		unsigned n = gro_count(base[m].len, gso[m]), after = kept - m - 1;

		if (placed + n + after > room) {
			part = room - placed - after - 1; /* of buffer m, which stays */
			break;
		}
		placed += n;
	}
	pending = kept - m;
	/* From the last, so that no pending buffer is overwritten. */
	for (unsigned j = kept; j-- > m;)
		slot_swap(&base[j], &batch->pkts[batch->cap - (kept - j)]);
	if (pending) {
		struct pkt *rest = &batch->pkts[batch->cap - pending];

		for (unsigned s = 0; s < part; s++)
			gro_copy(&base[placed + s], rest, gso[m], s);
		rest->data += part * gso[m];
		rest->len -= part * gso[m];
	}
	/* From the last too: a buffer's datagrams go to its slot or later. */
	for (unsigned j = m, to = placed; j-- > 0;) {
		to -= gro_count(base[j].len, gso[j]);
		recv_spread(base, j, to, gso[j]);
	}
	memmove(gso, gso + m, pending * sizeof(*gso));
	batch->count += placed + part;
	udp->stats.udp_rx += placed + part;
	udp->rx_pending = pending;
	udp->rx_batch = batch;
}

/* Delivers pending datagrams into the free slots before them, oldest
 * first; an emptied buffer's slot joins the free ones. */
static void recv_drain(struct udp *udp, struct pkt_batch *batch)
{
	uint16_t *gso = udp->scratch->gso;
	unsigned done = 0;

	if (udp->rx_pending &&
	    (batch != udp->rx_batch || batch->count + udp->rx_pending > batch->cap)) {
		udp->stats.udp_gro_dropped += udp->rx_pending; /* the caller broke the contract */
		udp->rx_pending = 0;
	}
	while (udp->rx_pending) {
		unsigned end = batch->cap - udp->rx_pending;
		struct pkt *src = &batch->pkts[end], *dst;
		uint32_t len;

		while (batch->count < end && src->len) {
			len = gro_first_len(src, gso[done]);
			dst = &batch->pkts[batch->count++];
			gro_copy(dst, src, gso[done], 0);
			src->data += len;
			src->len -= len;
			udp->stats.udp_rx++;
		}
		if (src->len)
			break;
		udp->rx_pending--;
		done++;
	}
	memmove(gso, gso + done, udp->rx_pending * sizeof(*gso));
}

int udp_recv_pending(struct udp *udp, struct pkt_batch *batch)
{
	unsigned start = batch->count;

	recv_drain(udp, batch);
	udp->rx_more = udp->rx_pending != 0;
	return (int)(batch->count - start);
}

int udp_recv_batch(struct udp *udp, struct pkt_batch *batch)
{
	unsigned start = batch->count;
	bool filled = false;

	recv_drain(udp, batch);
	/* With GRO, one read per call and none after pending datagrams: reads
	 * then always land in the same few slots (from count, which the data
	 * plane's batch has at 0). */
	while (!udp->rx_pending && batch->count < batch->cap &&
	       !(udp->gro && batch->count != start)) {
		/* With GRO one slot stays free, so that a read always delivers a
		 * datagram and pending buffers never fill the batch. */
		unsigned want = batch->cap - batch->count - (udp->gro ? 1 : 0);
		int n;

		if (want > UDP_BATCH_MAX)
			want = UDP_BATCH_MAX;
		if (udp->gro && want > UDP_GRO_READ_MAX)
			want = UDP_GRO_READ_MAX;
		if (want == 0)
			break;
		recv_prepare(udp, batch, want);
		do {
			n = recvmmsg(udp->fd, udp->scratch->msgs, want, MSG_DONTWAIT, NULL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || batch->count != start)
				break;
			return -errno;
		}
		recv_split(udp, batch, recv_keep(udp, batch, (unsigned)n));
		filled = (unsigned)n == want;
		if (!filled || udp->gro)
			break; /* drained: the next call would only see EAGAIN */
	}
	udp->rx_more = filled || udp->rx_pending;
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

/* True when the datagram goes from a sticky source address (pktinfo). */
static bool send_has_source(const struct udp *udp, const struct wg_endpoint *ep)
{
	if (ep->addr.sa.sa_family == AF_INET)
		return src4_set(ep);
	return ep->addr.sa.sa_family == AF_INET6 && udp->family == AF_INET6 && src6_set(ep);
}

/* True when b can ride in a's GSO message: one destination, one source. */
static bool send_same_flow(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family || a->src_ifindex != b->src_ifindex)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr &&
		       a->src4.s_addr == b->src4.s_addr;
	return a->addr.sa.sa_family == AF_INET6 && a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
	       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
	       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr, sizeof(struct in6_addr)) &&
	       !memcmp(&a->src6, &b->src6, sizeof(a->src6));
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

static size_t put_cmsg(uint8_t *buf, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *c = (struct cmsghdr *)buf;

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return CMSG_SPACE(len);
}

/* Builds message k's control data: the sticky source address, if any, and
 * for a GSO message its segment size. IPv4 passes no interface, so the
 * kernel routes freely (as Linux's WireGuard); IPv6 passes it only for a
 * link-local source, which is meaningless without one. */
static void send_control(struct udp *udp, unsigned k, const struct wg_endpoint *ep, uint16_t gso)
{
	struct msghdr *hdr = &udp->scratch->msgs[k].msg_hdr;
	uint8_t *buf = udp->scratch->cmsg[k].buf;
	size_t len = 0;

	if (send_has_source(udp, ep) && ep->addr.sa.sa_family == AF_INET) {
		struct in_pktinfo info = { .ipi_spec_dst = ep->src4 };

		len = put_cmsg(buf, IPPROTO_IP, IP_PKTINFO, &info, sizeof(info));
	} else if (send_has_source(udp, ep)) {
		struct in6_pktinfo info = { .ipi6_addr = ep->src6 };

		if (IN6_IS_ADDR_LINKLOCAL(&ep->src6))
			info.ipi6_ifindex = (unsigned)ep->src_ifindex;
		len = put_cmsg(buf, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info));
	}
	if (gso)
		len += put_cmsg(buf + len, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
	hdr->msg_control = len ? buf : NULL;
	hdr->msg_controllen = len;
}

/* How many packets from pkts[i] on go as one message: with GSO, a run to
 * one flow, all of pkts[i]'s length but a shorter last, within the limits
 * and room iovecs; packets before nogso_until go alone. */
static unsigned send_run(const struct udp *udp, const struct pkt_batch *batch, unsigned i,
			 unsigned room, unsigned nogso_until)
{
	const struct pkt *head = &batch->pkts[i];
	uint32_t bytes = head->len;
	unsigned n = 1;

	if (!udp->gso || i < nogso_until || !head->len)
		return 1;
	if (room > UDP_GSO_MAX_SEGMENTS)
		room = UDP_GSO_MAX_SEGMENTS;
	while (i + n < batch->count && n < room) {
		const struct pkt *pkt = &batch->pkts[i + n];

		if (!pkt->len || pkt->len > head->len || bytes + pkt->len > UDP_GSO_MAX_BYTES ||
		    !send_same_flow(&head->ep, &pkt->ep))
			break;
		bytes += pkt->len;
		n++;
		if (pkt->len < head->len)
			break;
	}
	return n;
}

static uint16_t send_gso_size(const struct udp_scratch *sc, const struct pkt_batch *batch,
			      unsigned k)
{
	return sc->segs[k] > 1 ? (uint16_t)batch->pkts[sc->slot[k]].len : 0;
}

/* Builds messages for pkts[first ..], using up to UDP_BATCH_MAX iovecs;
 * packets without a usable endpoint are dropped here. Returns the message
 * count and sets *next to the first packet not consumed. */
static unsigned send_prepare(struct udp *udp, struct pkt_batch *batch, unsigned first,
			     unsigned nogso_until, unsigned *next)
{
	struct udp_scratch *sc = udp->scratch;
	unsigned i = first, k = 0, v = 0;

	while (i < batch->count && v < UDP_BATCH_MAX) {
		struct msghdr *hdr = &sc->msgs[k].msg_hdr;
		unsigned run;

		if (!send_name(udp, k, &batch->pkts[i].ep)) {
			udp->stats.udp_send_errors++;
			i++;
			continue;
		}
		run = send_run(udp, batch, i, UDP_BATCH_MAX - v, nogso_until);
		for (unsigned s = 0; s < run; s++) {
			sc->iov[v + s].iov_base = batch->pkts[i + s].data;
			sc->iov[v + s].iov_len = batch->pkts[i + s].len;
		}
		sc->slot[k] = i;
		sc->segs[k] = run;
		send_control(udp, k, &batch->pkts[i].ep, send_gso_size(sc, batch, k));
		hdr->msg_iov = &sc->iov[v];
		hdr->msg_iovlen = run;
		hdr->msg_flags = 0;
		i += run;
		v += run;
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
	struct udp_scratch *sc = udp->scratch;

	for (unsigned s = 0; s < sc->segs[k]; s++) {
		struct wg_endpoint *ep = &batch->pkts[sc->slot[k] + s].ep;

		memset(&ep->src6, 0, sizeof(ep->src6));
		ep->src_ifindex = 0;
	}
	send_control(udp, k, &batch->pkts[sc->slot[k]].ep, send_gso_size(sc, batch, k));
	udp->stats.udp_src_cleared += sc->segs[k];
}

/* Datagrams in messages [from, to). */
static unsigned send_datagrams(const struct udp_scratch *sc, unsigned from, unsigned to)
{
	unsigned n = 0;

	while (from < to)
		n += sc->segs[from++];
	return n;
}

static void send_count(struct udp *udp, unsigned from, unsigned to, unsigned *sent)
{
	for (; from < to; from++) {
		unsigned segs = udp->scratch->segs[from];

		*sent += segs;
		if (segs > 1) {
			udp->stats.udp_gso_msgs++;
			udp->stats.udp_gso_datagrams += segs;
		}
	}
}

/* EIO from a GSO send: the route's device cannot checksum for us (or the
 * route is IPsec), which UDP_SEGMENT requires. As wireguard-go, stop. */
static void send_gso_off(struct udp *udp)
{
	udp->gso = false;
	udp->stats.udp_gso_off++;
	log_warn("UDP GSO turned off: a route's device cannot segment for us (EIO)");
}

/* Sends msgs[0 .. n-1], adding the datagrams sent to *sent. A GSO message
 * refused as such (EIO, EINVAL, EMSGSIZE) is to be sent again datagram by
 * datagram: 1 is returned, *resume names its first packet, *nogso_until
 * the packet after it, and later messages are not sent. Otherwise returns
 * 0, or -errno when the socket is unusable (the rest are then counted as
 * errors). */
static int send_msgs(struct udp *udp, struct pkt_batch *batch, unsigned n, unsigned *sent,
		     unsigned *resume, unsigned *nogso_until)
{
	struct udp_scratch *sc = udp->scratch;
	unsigned i = 0, waits = 0;

	while (i < n) {
		int r = sendmmsg(udp->fd, &sc->msgs[i], n - i, MSG_DONTWAIT);
		int err = errno;

		if (r > 0) {
			send_count(udp, i, i + (unsigned)r, sent);
			i += (unsigned)r;
			continue;
		}
		if (err == EINTR)
			continue;
		if (err == EAGAIN) {
			if (waits++ < UDP_SEND_MAX_WAITS && wait_writable(udp->fd))
				continue;
			udp->stats.udp_send_errors += send_datagrams(sc, i, n);
			udp->stats.udp_send_blocked += send_datagrams(sc, i, n);
			return 0;
		}
		if (sc->segs[i] > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
			if (err == EIO)
				send_gso_off(udp);
			*resume = sc->slot[i];
			*nogso_until = sc->slot[i] + sc->segs[i];
			return 1;
		}
		/* ENETUNREACH: IPv4 route lookup from a non-local source. */
		if ((err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH) &&
		    send_has_source(udp, &batch->pkts[sc->slot[i]].ep)) {
			send_clear_source(udp, batch, i);
			continue;
		}
		if (err == EBADF || err == ENOTSOCK || err == EFAULT) {
			udp->stats.udp_send_errors += send_datagrams(sc, i, n);
			return -err;
		}
		/* Unreachable, filtered, too big: these datagrams are lost. */
		udp->stats.udp_send_errors += sc->segs[i];
		i++;
	}
	return 0;
}

int udp_send_batch(struct udp *udp, struct pkt_batch *batch)
{
	unsigned first = 0, next, resume = 0, nogso_until = 0, sent = 0;
	int err = 0;

	while (first < batch->count && err >= 0) {
		unsigned n = send_prepare(udp, batch, first, nogso_until, &next);

		err = n ? send_msgs(udp, batch, n, &sent, &resume, &nogso_until) : 0;
		first = err == 1 ? resume : next;
	}
	if (err < 0) /* packets never prepared are lost too */
		udp->stats.udp_send_errors += batch->count - first;
	udp->stats.udp_tx += sent;
	batch->count = 0;
	return err < 0 ? err : (int)sent;
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
