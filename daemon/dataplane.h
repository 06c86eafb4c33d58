/*
 * The data plane: the TUN device and UDP socket, their batches, and the
 * event-loop handlers that move packets through the engine.
 *
 *   TUN --read batch--> wg_device_tun_input --> UDP batch --sendmmsg--> peers
 *   peers --recvmmsg--> wg_device_udp_input --> TUN batch --write--> TUN
 *                                            \-> UDP batch (handshakes)
 *
 * The mesh code can hook in on both sides of the UDP socket: datagrams of
 * mesh types (join, relay) go to it before the engine, and packets the
 * engine addresses to relay endpoints are wrapped by it before sendmmsg.
 */
#ifndef MESHGATE_DATAPLANE_H
#define MESHGATE_DATAPLANE_H

#include <stdint.h>

#include "io/cryptpool.h"
#include "io/tun.h"
#include "io/udp.h"
#include "loop.h"
#include "wg/device.h"

/* What the mesh code says about a datagram it was handed. */
enum demux {
	DEMUX_ENGINE,   /* unwrapped in place (data/len, ep.relay_via): for the engine */
	DEMUX_CONSUMED, /* handled or dropped by the mesh code */
};

/*
 * Hooks the mesh code installs (both optional):
 *  rx        gets every received datagram whose LE32 type is >=
 *            DATAPLANE_MESH_TYPE_MIN
 *            (types WireGuard never uses); it may append replies to udp_out.
 *  tx_relay  gets every outgoing packet with ep.relay_via != 0 and wraps it
 *            in place for the relay at ep.addr; 0, or < 0 to drop it.
 * Without rx such datagrams reach the engine, which drops them as malformed;
 * without tx_relay relay packets are dropped.
 */
struct dataplane_mesh_ops {
	enum demux (*rx)(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out);
	int (*tx_relay)(void *ctx, struct pkt *pkt);
};

/* The lowest type of the mesh's datagrams (protocol.h); WireGuard's are 1-4. */
enum { DATAPLANE_MESH_TYPE_MIN = 0x80 };

struct dataplane_mesh {
	const struct dataplane_mesh_ops *ops; /* NULL: no mesh code */
	void *ctx;
	uint64_t tx_relay_dropped; /* relay packets without a hook, or refused by it */
};

/* Hands the datagrams of `in` that are meant for the mesh code to ops->rx and
 * removes the consumed ones, keeping the order of the others. */
void dataplane_mesh_rx(struct dataplane_mesh *mesh, struct pkt_batch *in,
		       struct pkt_batch *udp_out);
/* Wraps the relay packets of an outgoing batch, dropping those that cannot
 * be; called on every UDP flush. */
void dataplane_mesh_tx(struct dataplane_mesh *mesh, struct pkt_batch *out);

enum { DATAPLANE_CRYPTO_THREADS_MAX = 16 };

/* What the data plane is asked to use; each offload is still probed. */
struct dataplane_options {
	bool offloads;           /* TUN TSO/USO through IFF_VNET_HDR, UDP GSO/GRO */
	unsigned crypto_threads; /* 0: one per online CPU (capped); 1: no workers */
};

/* Applies the environment's overrides, for debugging without editing the
 * config: MESHGATE_OFFLOADS ("0", "off", "false", "no" turn the offloads
 * off; "1", "on", "true", "yes" on) and MESHGATE_CRYPTO_THREADS (a count,
 * 0 = auto). Either may be NULL (unset). Returns 0, or -EINVAL naming the
 * variable in *bad when a value is not understood (opt is then unchanged). */
int dataplane_options_from_env(struct dataplane_options *opt, const char *offloads,
			       const char *crypto_threads, const char **bad);

/* What is actually in use, for the status document ("daemon.offloads"). */
struct dataplane_offloads {
	bool requested;          /* dataplane_options.offloads */
	bool tun_vnet_hdr;       /* the TUN speaks virtio-net headers */
	bool tun_tso;            /* the kernel may hand us TCP super-packets (TSO4/6) */
	bool tun_uso;            /* and UDP ones (USO, Linux 6.2+) */
	bool udp_gso;            /* UDP_SEGMENT on send */
	bool udp_gro;            /* UDP_GRO on receive */
	unsigned crypto_threads; /* threads doing crypto, the loop's own included */
	/* The widest SIMD libsodium found at sodium_init(), which picks its
	 * ChaCha20 ("avx2" or "ssse3") by it; "none": its portable code runs,
	 * as in a process that never called sodium_init(). */
	const char *crypto_simd;
};

struct dataplane {
	struct loop *loop;
	struct dataplane_options opt;
	struct dataplane_offloads offloads;
	struct wg_device *dev;
	struct tun tun;
	struct udp udp;
	struct loop_source *tun_src, *udp_src;
	struct loop_timer *timer; /* the engine's next deadline */
	struct pkt_batch *tun_in, *udp_in, *tun_out, *udp_out;
	struct dataplane_mesh mesh;
	/* The engine's data AEAD, run on the pool's threads and the loop's
	 * (unused with one crypto thread): every UDP flush runs it first. */
	struct wg_crypt_queue crypt_queue;
	struct cryptpool *crypt_pool;
};

/* Opens the TUN device ifname and the UDP socket on port, and starts moving
 * packets, with the offloads and threads opt asks for where the kernel has
 * them (opt NULL: none). -ENODEV when there is no /dev/net/tun. */
int dataplane_open(struct dataplane *dp, struct loop *loop, struct wg_device *dev,
		   const char *ifname, uint16_t port, uint32_t fwmark,
		   const struct dataplane_options *opt) __attribute__((warn_unused_result));
void dataplane_close(struct dataplane *dp);

/* Installs (or with NULL removes) the mesh code's hooks, after
 * dataplane_open(); ops must outlive the data plane or the next call. */
void dataplane_set_mesh_ops(struct dataplane *dp, const struct dataplane_mesh_ops *ops, void *ctx);

/* Rebinds the UDP socket to another port (0: any). On failure the old
 * socket stays. */
int dataplane_set_port(struct dataplane *dp, uint16_t port) __attribute__((warn_unused_result));

/* Sends whatever engine calls outside the packet handlers queued (a config
 * change that sends a keepalive, a handshake started by hand) and re-arms the
 * timer for the engine's next deadline. */
void dataplane_flush(struct dataplane *dp);

#endif
