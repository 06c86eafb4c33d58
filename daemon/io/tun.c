/*
 * TUN device I/O; see tun.h.
 *
 * Linux's TUN has no multi-packet read or write, so a batch is one syscall
 * per packet; with IFF_VNET_HDR one syscall carries up to 64 KiB of one TCP
 * (or UDP) flow instead, which is where the offloads win.
 */
#include "io/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20 /* Linux 6.2; absent from older uapi headers */
#define TUN_F_USO6 0x40
#endif

/* Declared here: <net/if.h> and <linux/if.h> cannot both be included. */
extern unsigned int if_nametoindex(const char *ifname);

static const char tun_path[] = "/dev/net/tun";

/* Opens /dev/net/tun and attaches it to name with flags. Returns the
 * descriptor or -errno. */
static int tun_attach(const char *name, short flags, struct ifreq *ifr)
{
	int fd = open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC), err;

	if (fd < 0) {
		err = errno;
		if (err == ENOENT || err == ENODEV)
			return -ENODEV;
		/* A device cgroup says EPERM, the file mode EACCES: both mean
		 * the node is there but not ours to open. */
		return err == EPERM ? -EACCES : -err;
	}
	memset(ifr, 0, sizeof(*ifr));
	ifr->ifr_flags = flags;
	memcpy(ifr->ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, ifr) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* Asks for the offloads on a IFF_VNET_HDR descriptor, USO first (older
 * kernels refuse it with EINVAL), counting the first refusal. False when
 * the kernel takes none. */
static bool tun_offload(struct tun *tun, int fd)
{
	int hdrsz = GSO_VNET_HDR_LEN;
	unsigned long tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		tun->stats.tun_vnet_refused++;
		return false;
	}
	if (ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0) {
		tun->uso = true;
	} else if (ioctl(fd, TUNSETOFFLOAD, tso) == 0) {
		tun->stats.tun_uso_refused++;
	} else {
		tun->stats.tun_tso_refused++;
		return false;
	}
	tun->tso = true;
	return true;
}

static void tun_free_buffers(struct tun *tun)
{
	free(tun->rx_buf);
	free(tun->co_in);
	free(tun->co_out);
	tun->rx_buf = NULL;
	tun->co_in = tun->co_out = NULL;
	tun->rx_len = tun->rx_next = 0;
}

/* The read buffer has a byte to spare: a read that fills it was cut. */
static int tun_alloc_buffers(struct tun *tun)
{
	tun->rx_buf = malloc(GSO_VNET_HDR_LEN + GSO_MAX_PACKET + 1);
	tun->co_in = calloc(TUN_COALESCE_MAX, sizeof(*tun->co_in));
	tun->co_out = calloc(TUN_COALESCE_MAX, sizeof(*tun->co_out));
	if (tun->rx_buf && tun->co_in && tun->co_out)
		return 0;
	tun_free_buffers(tun);
	return -ENOMEM;
}

int tun_open(struct tun *tun, const char *name, bool offloads)
{
	struct ifreq ifr;
	int fd, err;

	*tun = (struct tun){ .fd = -1 };
	if (!name || !*name || strlen(name) >= sizeof(ifr.ifr_name))
		return -EINVAL;
	fd = offloads ? tun_attach(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, &ifr) : -EINVAL;
	if (offloads && fd < 0)
		tun->stats.tun_vnet_refused++;
	if (fd >= 0 && tun_offload(tun, fd) && tun_alloc_buffers(tun) == 0) {
		tun->vnet_hdr = true;
	} else {
		/* Without offloads the device is reopened plain: a vnet header
		 * with nothing to offload would only cost a copy. */
		if (fd >= 0)
			close(fd);
		tun->tso = tun->uso = false;
		fd = tun_attach(name, IFF_TUN | IFF_NO_PI, &ifr);
	}
	if (fd < 0) {
		tun_free_buffers(tun);
		return fd;
	}
	memcpy(tun->name, ifr.ifr_name, sizeof(tun->name));
	tun->name[sizeof(tun->name) - 1] = '\0';
	tun->ifindex = if_nametoindex(tun->name);
	if (!tun->ifindex) {
		err = errno;
		close(fd);
		tun_free_buffers(tun);
		return -err;
	}
	tun->fd = fd;
	return 0;
}

void tun_close(struct tun *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
	tun->ifindex = 0;
	tun_free_buffers(tun);
	tun->vnet_hdr = tun->tso = tun->uso = false;
}

/* Errors after which the descriptor is useless; anything else costs a packet. */
static bool tun_error_fatal(int err)
{
	return err == EBADF || err == EBADFD || err == EFAULT;
}

/* One read into buf. Returns its length, -EMSGSIZE when it filled room
 * (counted: a packet that fits exactly cannot be told from a cut one),
 * -EAGAIN when the queue is empty, or -errno. */
static ssize_t tun_read_whole(struct tun *tun, void *buf, size_t room)
{
	ssize_t n;

	do {
		n = read(tun->fd, buf, room);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n >= room) {
		tun->stats.tun_truncated++;
		return -EMSGSIZE;
	}
	return n;
}

/* Reads one packet into pkt. Returns 1, 0 when the packet was dropped,
 * -EAGAIN when the queue is empty, or -errno. */
static int tun_read_one(struct tun *tun, struct pkt *pkt)
{
	ssize_t n = tun_read_whole(tun, pkt->data, pkt_tailroom(pkt));

	if (n == -EMSGSIZE)
		return 0;
	if (n < 0)
		return (int)n;
	pkt->len = (uint32_t)n;
	return 1;
}

/* Counts a refused read (or the rest of one) by reason. */
static void tun_split_dropped(struct tun *tun, enum gso_reason why)
{
	switch (why) {
	case GSO_NO_ROOM:
		tun->stats.tun_truncated++;
		break;
	case GSO_BAD_TYPE:
	case GSO_NO_CSUM:
	case GSO_ZERO_SIZE:
	case GSO_BAD_CSUM_START:
		tun->stats.tun_split_bad_hdr++;
		break;
	default:
		tun->stats.tun_split_bad_pkt++;
		break;
	}
}

/* Hands the pending read's next segments to the free slots of batch.
 * Returns the number appended; the read stays pending while segments are
 * left. */
static unsigned tun_split_pending(struct tun *tun, struct pkt_batch *batch)
{
	struct gso_buf *out = tun->co_out;
	size_t nfree = batch->cap - batch->count, total, most = 1;
	struct virtio_net_hdr h;
	enum gso_reason why;
	int n;

	/* Only as many slots readied as there can be segments left. */
	memcpy(&h, tun->rx_buf, sizeof(h));
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE && h.gso_size)
		most = (tun->rx_len - GSO_VNET_HDR_LEN) / h.gso_size + 1;
	if (most > tun->rx_next && most - tun->rx_next < nfree)
		nfree = most - tun->rx_next;
	if (nfree > TUN_COALESCE_MAX)
		nfree = TUN_COALESCE_MAX;
	for (size_t k = 0; k < nfree; k++) {
		struct pkt *pkt = &batch->pkts[batch->count + k];

		pkt_reset(pkt);
		out[k] = (struct gso_buf){ .data = pkt->data, .cap = pkt_tailroom(pkt) };
	}
	n = gso_split_part(tun->rx_buf, tun->rx_len, tun->rx_next, out, nfree, &total, &why);
	if (n < 0) {
		tun_split_dropped(tun, why);
		tun->rx_len = 0;
		return 0;
	}
	for (int k = 0; k < n; k++)
		batch->pkts[batch->count + (unsigned)k].len = (uint32_t)out[k].len;
	batch->count += (unsigned)n;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		tun->stats.tun_gso_rx += tun->rx_next == 0;
		tun->stats.tun_gso_segs += (uint64_t)n;
	}
	tun->rx_next += (size_t)n;
	if (n == 0 || tun->rx_next >= total)
		tun->rx_len = 0;
	return (unsigned)n;
}

/* One read of a virtio_net_hdr and its packet into rx_buf. Returns 1, 0
 * when it was dropped, -EAGAIN or -errno. */
static int tun_read_vnet(struct tun *tun)
{
	ssize_t n = tun_read_whole(tun, tun->rx_buf, GSO_VNET_HDR_LEN + GSO_MAX_PACKET + 1);

	if (n == -EMSGSIZE)
		return 0;
	if (n < 0)
		return (int)n;
	if ((size_t)n < GSO_VNET_HDR_LEN) {
		tun->stats.tun_split_bad_hdr++;
		return 0;
	}
	tun->rx_len = (size_t)n;
	tun->rx_next = 0;
	return 1;
}

static int tun_read_batch_vnet(struct tun *tun, struct pkt_batch *batch)
{
	unsigned got = 0;
	int r;

	while (batch->count < batch->cap) {
		if (!tun->rx_len) {
			r = tun_read_vnet(tun);
			if (r == -EAGAIN)
				break;
			if (r < 0)
				return got ? (int)got : r;
			if (r == 0)
				continue;
		}
		got += tun_split_pending(tun, batch);
	}
	tun->stats.tun_rx += got;
	return (int)got;
}

int tun_read_batch(struct tun *tun, struct pkt_batch *batch)
{
	int got = 0, r;

	if (tun->vnet_hdr)
		return tun_read_batch_vnet(tun, batch);
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

/* One write of n bytes, or of a zero virtio header and then them when hdr.
 * Returns 0 or -errno. */
static int tun_write_one(struct tun *tun, const uint8_t *data, size_t n, bool hdr)
{
	static const uint8_t zero[GSO_VNET_HDR_LEN];
	struct iovec iov[2] = { { (void *)zero, sizeof(zero) }, { (void *)data, n } };
	ssize_t w;

	do {
		w = hdr ? writev(tun->fd, iov, 2) : write(tun->fd, data, n);
	} while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
}

/* Coalesces pkts[0 .. n-1] in their own slots. False (nothing touched) when
 * a slot could not hold the longest packet behind its header. */
static bool tun_coalesce(struct tun *tun, struct pkt *pkts, unsigned n, int *nout)
{
	uint32_t room = UINT32_MAX, longest = 0;

	for (unsigned i = 0; i < n; i++) {
		if (pkts[i].cap < room)
			room = pkts[i].cap;
		if (pkts[i].len > longest)
			longest = pkts[i].len;
	}
	if ((uint64_t)longest + GSO_VNET_HDR_LEN > room)
		return false;
	for (unsigned i = 0; i < n; i++) {
		tun->co_in[i] = (struct gso_buf){ .data = pkts[i].data, .len = pkts[i].len };
		tun->co_out[i] = (struct gso_buf){ .data = pkts[i].buf, .cap = pkts[i].cap };
	}
	*nout = gso_coalesce(tun->co_in, n, tun->co_out, n);
	return true;
}

/* Writes pkts[0 .. n-1] (n <= TUN_COALESCE_MAX) behind virtio headers,
 * adding the packets written to *sent. Returns 0 or -errno when the device
 * is unusable. */
static int tun_write_vnet(struct tun *tun, struct pkt *pkts, unsigned n, int *sent)
{
	int nout = 0, err = 0;
	bool merged = tun_coalesce(tun, pkts, n, &nout);
	unsigned total = merged ? (unsigned)(nout < 0 ? 0 : nout) : n;

	if (merged && nout < 0) /* cannot happen: slots checked; they are spoilt */
		tun->stats.tun_write_errors += n;
	for (unsigned i = 0; i < total; i++) {
		const struct gso_buf *o = &tun->co_out[i];
		uint32_t segs = merged ? o->segs : 1;

		err = merged ? tun_write_one(tun, o->data, o->len, false)
			     : tun_write_one(tun, pkts[i].data, pkts[i].len, true);
		if (err == 0) {
			*sent += (int)segs;
			if (segs > 1) {
				tun->stats.tun_coalesced_writes++;
				tun->stats.tun_coalesced_segs += segs;
			}
			continue;
		}
		tun->stats.tun_write_errors += segs;
		if (tun_error_fatal(-err)) {
			for (i++; i < total; i++)
				tun->stats.tun_write_errors += merged ? tun->co_out[i].segs : 1;
			return err;
		}
	}
	return 0;
}

static int tun_write_batch_vnet(struct tun *tun, struct pkt_batch *batch)
{
	int sent = 0;

	for (unsigned at = 0; at < batch->count;) {
		unsigned n =
		    batch->count - at < TUN_COALESCE_MAX ? batch->count - at : TUN_COALESCE_MAX;
		int r = tun_write_vnet(tun, &batch->pkts[at], n, &sent);

		at += n;
		if (r < 0) {
			tun->stats.tun_write_errors += batch->count - at;
			tun->stats.tun_tx += (uint64_t)sent;
			batch->count = 0;
			return r;
		}
	}
	tun->stats.tun_tx += (uint64_t)sent;
	batch->count = 0;
	return sent;
}

int tun_write_batch(struct tun *tun, struct pkt_batch *batch)
{
	unsigned i;
	int sent = 0, err = 0;

	if (tun->vnet_hdr)
		return tun_write_batch_vnet(tun, batch);
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
