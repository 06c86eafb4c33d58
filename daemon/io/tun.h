/*
 * The TUN device: plaintext IP packets between the kernel and the engine.
 *
 * The device is opened IFF_TUN | IFF_NO_PI (each read or write is exactly one
 * IP packet, no packet-information prefix) and is not persistent: it goes
 * away when the descriptor is closed, so a crashed daemon leaves no device.
 * Addresses, MTU and link state are set by router/ over netlink.
 */
#ifndef MESHGATE_IO_TUN_H
#define MESHGATE_IO_TUN_H

#include "io/iostats.h"
#include "wg/packet.h"

struct tun {
	int fd;        /* -1 when closed */
	char name[16]; /* IFNAMSIZ; the kernel's name for the device */
	unsigned ifindex;
	struct io_stats stats; /* tun_* fields only */
};

/* Creates (or attaches to) TUN device `name`, non-blocking and close-on-exec.
 * Returns 0, -ENODEV when /dev/net/tun is missing (the caller explains how to
 * pass the device into an LXC container), -EACCES when it may not be opened
 * (file mode, or a device cgroup), -EPERM when the device may not be created
 * (no CAP_NET_ADMIN), or another -errno. */
int tun_open(struct tun *tun, const char *name) __attribute__((warn_unused_result));

/* Closes the descriptor; the kernel then removes the device. Safe to call on
 * a closed tun. */
void tun_close(struct tun *tun);

/* Reads packets until EAGAIN or the batch is full, appending to batch (each
 * slot's data at buf + PKT_HEADROOM, len set). A read that fills a slot
 * cannot be told from a cut packet and is dropped and counted, so slots need
 * room for MTU + 1 bytes after the headroom. Returns the number of
 * packets read (0 on EAGAIN) or -errno when the device is unusable. */
int tun_read_batch(struct tun *tun, struct pkt_batch *batch);

/* Writes every packet of the batch, one write() each, and empties it.
 * Packets the kernel refuses (not IPv4/IPv6, device down) are dropped and
 * counted. Returns the number written or -errno when the device is unusable
 * (the batch is emptied either way). */
int tun_write_batch(struct tun *tun, struct pkt_batch *batch);

#endif
