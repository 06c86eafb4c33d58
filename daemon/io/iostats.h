/*
 * Packet I/O counters.
 *
 * struct tun and struct udp each embed one struct io_stats and update only
 * their own fields (tun_* or udp_*), so the event loop may read them without
 * locking; io_stats_add() sums the two for metrics and status output.
 */
#ifndef MESHGATE_IO_IOSTATS_H
#define MESHGATE_IO_IOSTATS_H

#include <stdint.h>

struct io_stats {
	uint64_t tun_rx;           /* packets read from the TUN device */
	uint64_t tun_tx;           /* packets written to the TUN device */
	uint64_t udp_rx;           /* datagrams received and handed to the engine */
	uint64_t udp_tx;           /* datagrams the kernel accepted */
	uint64_t udp_truncated;    /* datagrams larger than a slot, dropped */
	uint64_t tun_write_errors; /* packets the TUN device refused, dropped */
	uint64_t udp_send_errors;  /* datagrams that could not be sent, dropped */
	uint64_t tun_truncated;    /* TUN packets (or segments) larger than a slot, dropped */
	uint64_t udp_src_cleared;  /* sends retried without a vanished source address */
	uint64_t udp_send_blocked; /* of udp_send_errors: send buffer stayed full */
	/* TUN offloads (IFF_VNET_HDR). tun_rx counts the segments. */
	uint64_t tun_gso_rx;           /* super-packets (TSO/USO) read */
	uint64_t tun_gso_segs;         /* segments split from them */
	uint64_t tun_split_bad_hdr;    /* reads with a malformed virtio-net header, dropped */
	uint64_t tun_split_bad_pkt;    /* reads whose IP/L4 headers do not fit it, dropped */
	uint64_t tun_coalesced_writes; /* writes carrying several segments */
	uint64_t tun_coalesced_segs;   /* segments in those writes */
	/* Offloads the kernel refused at open (0 or 1 each; the first refusal
	 * counts). Without IFF_VNET_HDR or TUNSETOFFLOAD the device is plain. */
	uint64_t tun_vnet_refused; /* IFF_VNET_HDR or its header size refused */
	uint64_t tun_tso_refused;  /* TUNSETOFFLOAD refused TSO4/6 */
	uint64_t tun_uso_refused;  /* TUNSETOFFLOAD refused USO4/6: TSO alone (before Linux 6.2) */
	/* UDP offloads (UDP_SEGMENT, UDP_GRO). udp_tx / udp_rx count datagrams. */
	uint64_t udp_gso_msgs;      /* UDP_SEGMENT messages the kernel accepted */
	uint64_t udp_gso_datagrams; /* datagrams those carried */
	uint64_t udp_gso_off;       /* GSO turned off after EIO from the route's device */
	uint64_t udp_gro_buffers;   /* UDP_GRO buffers holding more than one datagram */
	uint64_t udp_gro_datagrams; /* datagrams split from those */
	uint64_t udp_gro_dropped;   /* pending datagrams lost: another batch was passed */
};

static inline void io_stats_add(struct io_stats *sum, const struct io_stats *s)
{
	sum->tun_rx += s->tun_rx;
	sum->tun_tx += s->tun_tx;
	sum->udp_rx += s->udp_rx;
	sum->udp_tx += s->udp_tx;
	sum->udp_truncated += s->udp_truncated;
	sum->tun_write_errors += s->tun_write_errors;
	sum->udp_send_errors += s->udp_send_errors;
	sum->tun_truncated += s->tun_truncated;
	sum->udp_src_cleared += s->udp_src_cleared;
	sum->udp_send_blocked += s->udp_send_blocked;
	sum->tun_gso_rx += s->tun_gso_rx;
	sum->tun_gso_segs += s->tun_gso_segs;
	sum->tun_split_bad_hdr += s->tun_split_bad_hdr;
	sum->tun_split_bad_pkt += s->tun_split_bad_pkt;
	sum->tun_coalesced_writes += s->tun_coalesced_writes;
	sum->tun_coalesced_segs += s->tun_coalesced_segs;
	sum->tun_vnet_refused += s->tun_vnet_refused;
	sum->tun_tso_refused += s->tun_tso_refused;
	sum->tun_uso_refused += s->tun_uso_refused;
	sum->udp_gso_msgs += s->udp_gso_msgs;
	sum->udp_gso_datagrams += s->udp_gso_datagrams;
	sum->udp_gso_off += s->udp_gso_off;
	sum->udp_gro_buffers += s->udp_gro_buffers;
	sum->udp_gro_datagrams += s->udp_gro_datagrams;
	sum->udp_gro_dropped += s->udp_gro_dropped;
}

#endif
