/*
 * The UDP socket: WireGuard datagrams between the network and the engine.
 *
 * One dual-stack socket (AF_INET6 with IPV6_V6ONLY off) carries IPv4 and IPv6
 * peers. Every received datagram reports the local address and interface it
 * arrived on (IP_PKTINFO / IPV6_RECVPKTINFO), and every send can name the
 * source address again, so replies leave from the address the peer talks to
 * (WireGuard's "sticky sockets"). On a host booted with IPv6 disabled
 * (ipv6.disable=1, so AF_INET6 sockets cannot exist) the socket is AF_INET
 * and IPv6 endpoints are dropped on send.
 *
 * With offloads the socket also batches inside the kernel, as wireguard-go
 * does: a run of datagrams of one size to one destination from one source
 * leaves as one message with UDP_SEGMENT (the kernel, or the NIC, cuts it),
 * and the kernel may hand over several datagrams of one flow as one buffer
 * with UDP_GRO, which is split here into one slot per datagram. The engine
 * sees single datagrams either way.
 *
 * Endpoints seen by the engine are plain: an IPv4 peer is a struct
 * sockaddr_in (never an IPv4-mapped IPv6 address) and its local address is
 * ep.src4; an IPv6 peer is a struct sockaddr_in6 and its local address is
 * ep.src6. An all-zero source means "let the kernel choose".
 */
#ifndef MESHGATE_IO_UDP_H
#define MESHGATE_IO_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io/iostats.h"
#include "wg/packet.h"

/* Datagrams per recvmmsg/sendmmsg call; larger batches take several calls. */
enum { UDP_BATCH_MAX = 128 };

/* Socket buffer size requested (wireguard-go uses the same 7 MiB). */
enum { UDP_SOCKET_BUFFER = 7 << 20 };

/* One UDP_SEGMENT message: at most 64 datagrams (UDP_MAX_SEGMENTS before
 * Linux 6.12) and the largest UDP payload of an IPv4 packet. */
enum { UDP_GSO_MAX_SEGMENTS = 64, UDP_GSO_MAX_BYTES = 65535 - 20 - 8 };

struct udp_scratch;

struct udp {
	int fd;                /* -1 when closed */
	uint16_t port;         /* bound port, host order */
	uint32_t fwmark;       /* SO_MARK on every datagram, 0 = none */
	int family;            /* AF_INET6, or AF_INET without IPv6 support */
	struct io_stats stats; /* udp_* fields only */
	bool gso;              /* UDP_SEGMENT on send: probed at open, off after EIO */
	bool gro;              /* UDP_GRO on receive */
	/* Datagrams of coalesced buffers that did not fit the batch wait in its
	 * last rx_pending slots (see udp_recv_batch()). */
	struct pkt_batch *rx_batch;
	unsigned rx_pending;
	bool rx_more; /* the last receive filled what it asked for: more may wait */
	/* mmsghdr/iovec/cmsg arrays for UDP_BATCH_MAX datagrams, allocated by
	 * udp_open() so that no call allocates; opaque here because struct
	 * mmsghdr and struct in6_pktinfo need _GNU_SOURCE. */
	struct udp_scratch *scratch;
};

/* Offloads udp_open() may use, where the kernel has them. */
enum udp_offload {
	UDP_OFFLOAD_GSO = 1 << 0, /* UDP_SEGMENT on send */
	UDP_OFFLOAD_GRO = 1 << 1, /* UDP_GRO on receive */
};

/* Opens the socket bound to the wildcard address on port (0: the kernel picks
 * one; udp->port tells which), non-blocking and close-on-exec, with pktinfo,
 * large buffers and, when fwmark is nonzero, SO_MARK (needs CAP_NET_ADMIN).
 * The offloads asked for (enum udp_offload bits) are probed and used where
 * the kernel has them (udp->gso, udp->gro). Returns 0 or -errno. */
int udp_open(struct udp *udp, uint16_t port, uint32_t fwmark, unsigned offloads)
    __attribute__((warn_unused_result));

/* Closes the socket and frees the scratch arrays. Safe to call twice. */
void udp_close(struct udp *udp);

/* Sets (or with 0 clears) the fwmark. Returns 0 or -errno. */
int udp_set_fwmark(struct udp *udp, uint32_t fwmark);

/* Receives datagrams into the batch's free slots until EAGAIN or the batch is
 * full: data/len, ep.addr (the peer), ep.src4/src6 and ep.src_ifindex (where
 * it arrived). Datagrams longer than a slot are dropped and counted. Returns
 * the number received (0 on EAGAIN) or -errno.
 *
 * With UDP_GRO a call reads once, at most a few buffers, and not after
 * delivering pending datagrams (pass the batch emptied, so reads land in
 * the same slots); a read leaves one slot free; slots should hold 64 KiB (a
 * buffer longer than a slot is dropped whole and counted as truncated).
 * One read may bring more datagrams than there are free slots. Those wait,
 * whole buffers, in the batch's last slots: while udp_rx_has_pending(),
 * pass the same batch again and leave the slots past count alone; the next
 * call delivers them, in order, before reading more. udp->rx_more says
 * whether another call may find more.
 * Slots of a batch may be permuted by this call (never exchanged with
 * another batch's). */
int udp_recv_batch(struct udp *udp, struct pkt_batch *batch);

/* Like udp_recv_batch(), but delivers only what is pending, reading nothing:
 * for the end of an event handler, since the socket may be empty. */
int udp_recv_pending(struct udp *udp, struct pkt_batch *batch);

static inline bool udp_rx_has_pending(const struct udp *udp)
{
	return udp->rx_pending != 0;
}

/* Sends every packet of the batch to its ep.addr, from ep's source address
 * when one is set, and empties the batch. With GSO, consecutive packets to
 * one destination from one source, all of one length but a shorter last,
 * go as one message (at most UDP_GSO_MAX_SEGMENTS and UDP_GSO_MAX_BYTES);
 * when the route's device cannot take them (EIO) GSO is turned off for the
 * socket and the datagrams are sent one by one. A source the kernel rejects
 * (EINVAL/EADDRNOTAVAIL for IPv6, ENETUNREACH for IPv4: the address is gone,
 * or no route from it) is cleared in the batch's copy of ep and the datagram
 * is sent again from a kernel-chosen address.
 * Datagrams that cannot be sent (no route, filtered, no endpoint, send buffer
 * full for too long) are dropped and counted. Returns the number sent, or
 * -errno only when the socket itself is unusable. */
int udp_send_batch(struct udp *udp, struct pkt_batch *batch);

/* Sends one datagram to `to` from a socket bound for it alone (wildcard
 * address, an ephemeral port the kernel picks), with SO_MARK fwmark when it
 * is nonzero, and closes the socket: the datagram comes from a source the
 * peer never talked to. Control traffic, not the data path. 0 or -errno. */
int udp_send_once(const struct sockaddr *to, socklen_t tolen, const void *data, size_t len,
		  uint32_t fwmark) __attribute__((warn_unused_result));

#endif
