/*
 * TUN device I/O; see tun.h.
 *
 * Linux's TUN has no multi-packet read or write without offloads, so a batch
 * is one syscall per packet. The batched shape is kept so that IFF_VNET_HDR
 * (a virtio_net_hdr in front of each packet, TSO/USO on read, GRO-coalesced
 * super-packets on write, as wireguard-go's tun_linux.go does) can be added
 * here without changing the engine.
 */
#include "io/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Declared here: <net/if.h> and <linux/if.h> cannot both be included. */
extern unsigned int if_nametoindex(const char *ifname);

static const char tun_path[] = "/dev/net/tun";

int tun_open(struct tun *tun, const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, err;

	tun->fd = -1;
	if (!name || !*name || strlen(name) >= sizeof(ifr.ifr_name))
		return -EINVAL;
	fd = open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT || err == ENODEV)
			return -ENODEV;
		/* A device cgroup says EPERM, the file mode EACCES: both mean
		 * the node is there but not ours to open. */
		return err == EPERM ? -EACCES : -err;
	}
	/* IFF_VNET_HDR (+ TUNSETOFFLOAD, TUNSETVNETHDRSZ) would be requested here
	 * to receive TSO super-packets and write GRO-coalesced ones. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto err_close;
	memcpy(tun->name, ifr.ifr_name, sizeof(tun->name));
	tun->name[sizeof(tun->name) - 1] = '\0';
	tun->ifindex = if_nametoindex(tun->name);
	if (!tun->ifindex)
		goto err_close;
	tun->fd = fd;
	memset(&tun->stats, 0, sizeof(tun->stats));
	return 0;
err_close:
	err = errno;
	close(fd);
	return -err;
}

void tun_close(struct tun *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
	tun->ifindex = 0;
}

/* Errors after which the descriptor is useless; anything else costs a packet. */
static bool tun_error_fatal(int err)
{
	return err == EBADF || err == EBADFD || err == EFAULT;
}

/* Reads one packet into pkt. Returns 1, 0 when the packet was dropped,
 * -EAGAIN when the queue is empty, or -errno. */
static int tun_read_one(struct tun *tun, struct pkt *pkt)
{
	uint32_t room = pkt_tailroom(pkt);
	ssize_t n;

	do {
		n = read(tun->fd, pkt->data, room);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n >= room) {
		/* Cannot tell a packet that fits exactly from a cut one. */
		tun->stats.tun_truncated++;
		return 0;
	}
	pkt->len = (uint32_t)n;
	return 1;
}

int tun_read_batch(struct tun *tun, struct pkt_batch *batch)
{
	int got = 0, r;

	while (batch->count < batch->cap) {
		struct pkt *pkt = &batch->pkts[batch->count];

		pkt_reset(pkt);
		r = tun_read_one(tun, pkt);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return got ? got : r;
		if (r == 0)
			continue;
		batch->count++;
		got++;
	}
	tun->stats.tun_rx += (uint64_t)got;
	return got;
}

int tun_write_batch(struct tun *tun, struct pkt_batch *batch)
{
	unsigned i;
	int sent = 0, err = 0;

	for (i = 0; i < batch->count; i++) {
		const struct pkt *pkt = &batch->pkts[i];
		ssize_t n;

		do {
			n = write(tun->fd, pkt->data, pkt->len);
		} while (n < 0 && errno == EINTR);
		if (n >= 0) {
			sent++;
			continue;
		}
		tun->stats.tun_write_errors++;
		if (tun_error_fatal(errno)) {
			err = -errno;
			break;
		}
	}
	if (err)
		tun->stats.tun_write_errors += batch->count - i - 1;
	tun->stats.tun_tx += (uint64_t)sent;
	batch->count = 0;
	return err ? err : sent;
}
