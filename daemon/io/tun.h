/*
 * The TUN device: plaintext IP packets between the kernel and the engine.
 *
 * The device is opened IFF_TUN | IFF_NO_PI (each read or write is exactly one
 * IP packet, no packet-information prefix) and is not persistent: it goes
 * away when the descriptor is closed, so a crashed daemon leaves no device.
 * Addresses, MTU and link state are set by router/ over netlink.
 *
 * With offloads the device is opened with IFF_VNET_HDR as well and told
 * (TUNSETOFFLOAD) that it may hand us unchecksummed packets and TCP
 * super-packets (TSO4/6), and UDP ones where the kernel has USO (6.2+).
 * Each read is then a virtio_net_hdr plus up to 64 KiB, split here into
 * plain packets (io/gso.h); each write is the batch's packets coalesced per
 * TCP flow behind virtio-net GSO headers. The engine sees plain packets
 * either way.
 */
#ifndef MESHGATE_IO_TUN_H
#define MESHGATE_IO_TUN_H

#include <stdbool.h>

#include "io/gso.h"
#include "io/iostats.h"
#include "wg/packet.h"

/* Packets coalesced per gso_coalesce() call; a larger batch goes in parts. */
enum { TUN_COALESCE_MAX = 128 };

struct tun {
	int fd;        /* -1 when closed */
	char name[16]; /* IFNAMSIZ; the kernel's name for the device */
	unsigned ifindex;
	bool vnet_hdr; /* reads and writes carry a virtio_net_hdr */
	bool tso;      /* TUNSETOFFLOAD took TSO4/6: reads may be TCP super-packets */
	bool uso;      /* and USO4/6: UDP super-packets */
	/* With vnet_hdr, allocated at open: the last read, and the first segment
	 * of it not yet handed out (rx_len 0: nothing pending). */
	uint8_t *rx_buf;
	size_t rx_len, rx_next;
	struct gso_buf *co_in, *co_out; /* TUN_COALESCE_MAX each, for writes */
	struct io_stats stats;          /* tun_* fields only */
};

/* Creates (or attaches to) TUN device `name`, non-blocking and close-on-exec,
 * with offloads when asked for and the kernel has them (tun->vnet_hdr, tso,
 * uso say which; without TUNSETOFFLOAD the device is reopened plain, and the
 * first refusal is counted in stats.tun_*_refused).
 * Returns 0, -ENODEV when /dev/net/tun is missing (the caller explains how to
 * pass the device into an LXC container), -EACCES when it may not be opened
 * (file mode, or a device cgroup), -EPERM when the device may not be created
 * (no CAP_NET_ADMIN), or another -errno. */
int tun_open(struct tun *tun, const char *name, bool offloads) __attribute__((warn_unused_result));

/* Closes the descriptor (the kernel then removes the device) and frees the
 * offload buffers. Safe to call on a closed tun. */
void tun_close(struct tun *tun);

/* Reads packets until EAGAIN or the batch is full, appending to batch (each
 * slot's data at buf + PKT_HEADROOM, len set). A read that fills a slot
 * cannot be told from a cut packet and is dropped and counted, so slots need
 * room for MTU + 1 bytes after the headroom. With vnet_hdr a super-packet
 * whose segments do not all fit stays pending (tun_pending) and its other
 * segments come first in the next call; a segment larger than its slot, or a
 * malformed header, drops the rest of the read, counted. Returns the number
 * of packets read (0 on EAGAIN) or -errno when the device is unusable. */
int tun_read_batch(struct tun *tun, struct pkt_batch *batch);

/* True when a super-packet read earlier still has segments to hand out:
 * the descriptor may not poll readable for them. */
static inline bool tun_pending(const struct tun *tun)
{
	return tun->rx_len != 0;
}

/* Writes every packet of the batch, one write() each, and empties it; with
 * vnet_hdr consecutive segments of one TCP flow go in one write (the slots
 * are overwritten in place). Packets the kernel refuses (not IPv4/IPv6,
 * device down) are dropped and counted. Returns the number of packets
 * written or -errno when the device is unusable (the batch is emptied
 * either way). */
int tun_write_batch(struct tun *tun, struct pkt_batch *batch);

#endif
