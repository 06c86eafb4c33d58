/* The data plane: TUN and UDP handlers around the engine; see dataplane.h. */
#include "dataplane.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

enum {
	BATCH_SIZE = 64,
	/* One 64 KiB super-packet read at MTU 1280 is ~55 segments. */
	TUN_IN_BATCH = 128,
	/* Rounds per readiness event before yielding to other sources. */
	MAX_ROUNDS = 16,
	/* Datagrams and decrypted packets can be as large as UDP allows, whatever
	 * our own MTU: the peer's MTU decides their size. Slots are only touched
	 * as far as packets fill them. */
	RX_SLOT_SIZE = PKT_HEADROOM + 65536,
	/* Outgoing datagrams too: besides our own packets (bounded by our MTU),
	 * the relay forwards whatever a node sent, sized by that node's MTU. */
	UDP_TX_SLOT_SIZE = RX_SLOT_SIZE,
};

static void swap_slots(struct pkt *a, struct pkt *b)
{
	struct pkt tmp = *a;

	*a = *b;
	*b = tmp;
}

/* True when the mesh code took the datagram. */
static bool mesh_consumed(struct dataplane_mesh *mesh, struct pkt *pkt, struct pkt_batch *udp_out)
{
	uint32_t type;

	/* Four bytes are read even from a shorter datagram (slots are larger),
	 * so ordinary traffic costs one comparison; runts are sorted out after. */
	memcpy(&type, pkt->data, sizeof(type));
	if (le32toh(type) < DATAPLANE_MESH_TYPE_MIN || pkt->len < sizeof(type))
		return false;
	return mesh->ops->rx(mesh->ctx, pkt, udp_out) == DEMUX_CONSUMED;
}

void dataplane_mesh_rx(struct dataplane_mesh *mesh, struct pkt_batch *in, struct pkt_batch *udp_out)
{
	unsigned i = 0, kept;

	if (!mesh->ops || !mesh->ops->rx)
		return;
	/* Nothing moves up to the first consumed datagram; after it, the kept
	 * ones are swapped down (slots, not bytes). */
	while (i < in->count && !mesh_consumed(mesh, &in->pkts[i], udp_out))
		i++;
	for (kept = i++; i < in->count; i++)
		if (!mesh_consumed(mesh, &in->pkts[i], udp_out))
			swap_slots(&in->pkts[kept++], &in->pkts[i]);
	in->count = kept;
}

/* Wraps a relay packet; false when it must be dropped. */
static bool relay_wrapped(struct dataplane_mesh *mesh, struct pkt *pkt)
{
	if (mesh->ops && mesh->ops->tx_relay && mesh->ops->tx_relay(mesh->ctx, pkt) == 0)
		return true;
	mesh->tx_relay_dropped++;
	return false;
}

void dataplane_mesh_tx(struct dataplane_mesh *mesh, struct pkt_batch *out)
{
	unsigned i = 0, kept;

	while (i < out->count && !out->pkts[i].ep.relay_via)
		i++;
	for (kept = i; i < out->count; i++) {
		struct pkt *pkt = &out->pkts[i];

		if (pkt->ep.relay_via && !relay_wrapped(mesh, pkt))
			continue;
		if (kept != i)
			swap_slots(&out->pkts[kept], pkt);
		kept++;
	}
	out->count = kept;
}

void dataplane_set_mesh_ops(struct dataplane *dp, const struct dataplane_mesh_ops *ops, void *ctx)
{
	dp->mesh.ops = ops;
	dp->mesh.ctx = ctx;
}

/* UDP offloads the data plane asks for. */
static unsigned udp_offloads(const struct dataplane *dp)
{
	return dp->opt.offloads ? UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO : 0;
}

static void flush_udp(void *ctx, struct pkt_batch *batch)
{
	struct dataplane *dp = ctx;
	/* Encryptions the engine recorded write into this batch. */
	wg_crypt_queue_run(&dp->crypt_queue);
	dataplane_mesh_tx(&dp->mesh, batch);
	udp_send_batch(&dp->udp, batch);
	batch->count = 0;
	dp->offloads.udp_gso = dp->udp.gso; /* EIO turns it off */
}

static void flush_tun(void *ctx, struct pkt_batch *batch)
{
	struct dataplane *dp = ctx;
	tun_write_batch(&dp->tun, batch);
	batch->count = 0;
}

static void flush_outputs(struct dataplane *dp)
{
	if (dp->tun_out->count)
		flush_tun(dp, dp->tun_out);
	if (dp->udp_out->count)
		flush_udp(dp, dp->udp_out);
}

/* The rounds go on past MAX_ROUNDS while a super-packet has segments left:
 * the descriptor will not poll readable for them. */
static void on_tun(void *ctx, uint32_t events)
{
	struct dataplane *dp = ctx;

	for (int round = 0; round < MAX_ROUNDS || tun_pending(&dp->tun); round++) {
		int n = tun_read_batch(&dp->tun, dp->tun_in);
		if (n <= 0)
			break;
		wg_device_tun_input(dp->dev, dp->tun_in, dp->udp_out);
		flush_outputs(dp);
		if ((unsigned)n < dp->tun_in->cap && !tun_pending(&dp->tun))
			break;
	}
}

static void udp_input(struct dataplane *dp)
{
	dataplane_mesh_rx(&dp->mesh, dp->udp_in, dp->udp_out);
	wg_device_udp_input(dp->dev, dp->udp_in, dp->tun_out, dp->udp_out);
	flush_outputs(dp);
}

static void on_udp(void *ctx, uint32_t events)
{
	struct dataplane *dp = ctx;

	for (int round = 0; round < MAX_ROUNDS; round++) {
		if (udp_recv_batch(&dp->udp, dp->udp_in) <= 0)
			break;
		udp_input(dp);
		if (!dp->udp.rx_more)
			break;
	}
	/* Datagrams split from a GRO buffer that did not fit wait in udp_in;
	 * no readiness event would bring them if the socket is empty. */
	while (udp_rx_has_pending(&dp->udp) && udp_recv_pending(&dp->udp, dp->udp_in) > 0)
		udp_input(dp);
}

static void on_timer(void *ctx)
{
	struct dataplane *dp = ctx;
	wg_device_run_timers(dp->dev, dp->udp_out);
	flush_outputs(dp);
}

/* After every loop round: the timer follows the engine's next deadline. */
static void on_idle(void *ctx)
{
	struct dataplane *dp = ctx;
	loop_timer_set(dp->loop, dp->timer, wg_device_next_deadline(dp->dev));
}

void dataplane_flush(struct dataplane *dp)
{
	flush_outputs(dp);
	on_idle(dp);
}

static int alloc_batches(struct dataplane *dp)
{
	uint32_t tx_slot = PKT_HEADROOM + dp->dev->mtu + MESSAGE_DATA_OVERHEAD + 64;

	dp->tun_in = pkt_batch_new(TUN_IN_BATCH, tx_slot);
	dp->udp_out = pkt_batch_new(BATCH_SIZE, UDP_TX_SLOT_SIZE);
	dp->udp_in = pkt_batch_new(BATCH_SIZE, RX_SLOT_SIZE);
	dp->tun_out = pkt_batch_new(BATCH_SIZE, RX_SLOT_SIZE);
	if (!dp->tun_in || !dp->udp_out || !dp->udp_in || !dp->tun_out)
		return -ENOMEM;
	dp->udp_out->flush = flush_udp;
	dp->udp_out->flush_ctx = dp;
	dp->tun_out->flush = flush_tun;
	dp->tun_out->flush_ctx = dp;
	return 0;
}

static void free_batches(struct dataplane *dp)
{
	pkt_batch_free(dp->tun_in);
	pkt_batch_free(dp->udp_out);
	pkt_batch_free(dp->udp_in);
	pkt_batch_free(dp->tun_out);
	dp->tun_in = dp->udp_out = dp->udp_in = dp->tun_out = NULL;
}

/* Threads for crypto: opt's count, or one per online CPU, at most the cap. */
static unsigned crypto_thread_count(unsigned asked)
{
	long cpus;

	if (asked)
		return asked;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		return 1;
	return cpus > DATAPLANE_CRYPTO_THREADS_MAX ? DATAPLANE_CRYPTO_THREADS_MAX : (unsigned)cpus;
}

static const char *crypto_simd(void)
{
	if (sodium_runtime_has_avx2())
		return "avx2";
	return sodium_runtime_has_ssse3() ? "ssse3" : "none";
}

/* With more than one crypto thread, the engine records its data AEAD in a
 * queue that the pool runs; with one it stays inline, as without a queue. */
static int open_crypto(struct dataplane *dp)
{
	unsigned threads = crypto_thread_count(dp->opt.crypto_threads);
	int ret;

	dp->offloads.crypto_threads = 1;
	dp->offloads.crypto_simd = crypto_simd();
	if (threads <= 1)
		return 0;
	dp->crypt_queue.jobs = calloc(BATCH_SIZE, sizeof(dp->crypt_queue.jobs[0]));
	if (!dp->crypt_queue.jobs)
		return -ENOMEM;
	ret = cryptpool_new(threads, &dp->crypt_pool);
	if (ret < 0) {
		free(dp->crypt_queue.jobs);
		dp->crypt_queue.jobs = NULL;
		return ret;
	}
	dp->crypt_queue.cap = BATCH_SIZE;
	dp->crypt_queue.run = cryptpool_run;
	dp->crypt_queue.ctx = dp->crypt_pool;
	wg_device_set_crypt_queue(dp->dev, &dp->crypt_queue);
	dp->offloads.crypto_threads = threads;
	return 0;
}

static void close_crypto(struct dataplane *dp)
{
	if (!dp->crypt_queue.jobs)
		return;
	wg_device_set_crypt_queue(dp->dev, NULL);
	cryptpool_free(dp->crypt_pool);
	free(dp->crypt_queue.jobs);
	dp->crypt_pool = NULL;
	dp->crypt_queue = (struct wg_crypt_queue){ 0 };
}

static int parse_switch(const char *text, bool *on)
{
	static const char *const off_words[] = { "0", "off", "false", "no" };
	static const char *const on_words[] = { "1", "on", "true", "yes" };

	for (size_t i = 0; i < sizeof(off_words) / sizeof(off_words[0]); i++) {
		if (strcasecmp(text, off_words[i]) == 0) {
			*on = false;
			return 0;
		}
		if (strcasecmp(text, on_words[i]) == 0) {
			*on = true;
			return 0;
		}
	}
	return -EINVAL;
}

int dataplane_options_from_env(struct dataplane_options *opt, const char *offloads,
			       const char *crypto_threads, const char **bad)
{
	struct dataplane_options o = *opt;

	if (offloads && parse_switch(offloads, &o.offloads) < 0) {
		*bad = "MESHGATE_OFFLOADS";
		return -EINVAL;
	}
	if (crypto_threads) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(crypto_threads, &end, 10);
		if (errno || !isdigit((unsigned char)crypto_threads[0]) || *end ||
		    n > DATAPLANE_CRYPTO_THREADS_MAX) {
			*bad = "MESHGATE_CRYPTO_THREADS";
			return -EINVAL;
		}
		o.crypto_threads = (unsigned)n;
	}
	*opt = o;
	return 0;
}

int dataplane_open(struct dataplane *dp, struct loop *loop, struct wg_device *dev,
		   const char *ifname, uint16_t port, uint32_t fwmark,
		   const struct dataplane_options *opt)
{
	int ret;

	*dp = (struct dataplane){ .loop = loop, .dev = dev, .tun.fd = -1, .udp.fd = -1 };
	if (opt)
		dp->opt = *opt;
	dp->offloads.requested = dp->opt.offloads;
	ret = alloc_batches(dp);
	if (ret < 0)
		goto err_batches;
	ret = open_crypto(dp);
	if (ret < 0)
		goto err_batches;
	ret = tun_open(&dp->tun, ifname, dp->opt.offloads);
	if (ret < 0)
		goto err_tun;
	dp->offloads.tun_vnet_hdr = dp->tun.vnet_hdr;
	dp->offloads.tun_tso = dp->tun.tso;
	dp->offloads.tun_uso = dp->tun.uso;
	if (dp->opt.offloads)
		log_info("TUN offloads: %s", !dp->tun.vnet_hdr ? "none (the kernel refused them)"
					     : dp->tun.uso     ? "TSO and USO"
							       : "TSO (no USO before Linux 6.2)");
	ret = udp_open(&dp->udp, port, fwmark, udp_offloads(dp));
	if (ret < 0)
		goto err_udp;
	dp->offloads.udp_gso = dp->udp.gso;
	dp->offloads.udp_gro = dp->udp.gro;
	dp->tun_src = loop_add_fd(loop, dp->tun.fd, EPOLLIN, on_tun, dp);
	dp->udp_src = loop_add_fd(loop, dp->udp.fd, EPOLLIN, on_udp, dp);
	dp->timer = loop_timer_add(loop, UINT64_MAX, on_timer, dp);
	if (!dp->tun_src || !dp->udp_src || !dp->timer) {
		ret = -errno;
		goto err_loop;
	}
	loop_set_idle(loop, on_idle, dp);
	return 0;

err_loop:
	loop_timer_del(loop, dp->timer);
	loop_del_fd(loop, dp->tun_src);
	loop_del_fd(loop, dp->udp_src);
	udp_close(&dp->udp);
err_udp:
	tun_close(&dp->tun);
err_tun:
	close_crypto(dp);
err_batches:
	free_batches(dp);
	return ret;
}

void dataplane_close(struct dataplane *dp)
{
	if (!dp->loop)
		return;
	loop_set_idle(dp->loop, NULL, NULL);
	loop_timer_del(dp->loop, dp->timer);
	dp->timer = NULL;
	loop_del_fd(dp->loop, dp->tun_src);
	loop_del_fd(dp->loop, dp->udp_src);
	udp_close(&dp->udp);
	tun_close(&dp->tun);
	close_crypto(dp);
	free_batches(dp);
	dp->loop = NULL;
}

int dataplane_set_port(struct dataplane *dp, uint16_t port)
{
	struct udp fresh = { .fd = -1 };
	struct loop_source *src;
	int ret;

	if (port && port == dp->udp.port)
		return 0;
	ret = udp_open(&fresh, port, dp->udp.fwmark, udp_offloads(dp));
	if (ret < 0)
		return ret;
	src = loop_add_fd(dp->loop, fresh.fd, EPOLLIN, on_udp, dp);
	if (!src) {
		ret = -errno;
		udp_close(&fresh);
		return ret;
	}
	loop_del_fd(dp->loop, dp->udp_src);
	udp_close(&dp->udp);
	dp->udp = fresh;
	dp->udp_src = src;
	dp->offloads.udp_gso = dp->udp.gso;
	dp->offloads.udp_gro = dp->udp.gro;
	return 0;
}
