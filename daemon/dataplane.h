/*
 * The data plane: the TUN device and UDP socket, their batches, and the
 * event-loop handlers that move packets through the engine.
 *
 *   TUN --read batch--> wg_device_tun_input --> UDP batch --sendmmsg--> peers
 *   peers --recvmmsg--> wg_device_udp_input --> TUN batch --write--> TUN
 *                                            \-> UDP batch (handshakes)
 */
#ifndef MESHGATE_DATAPLANE_H
#define MESHGATE_DATAPLANE_H

#include <stdint.h>

#include "io/tun.h"
#include "io/udp.h"
#include "loop.h"
#include "wg/device.h"

struct dataplane {
	struct loop *loop;
	struct wg_device *dev;
	struct tun tun;
	struct udp udp;
	struct loop_source *tun_src, *udp_src;
	struct pkt_batch *tun_in, *udp_in, *tun_out, *udp_out;
};

/* Opens the TUN device ifname and the UDP socket on port, and starts moving
 * packets. -ENODEV when there is no /dev/net/tun. */
int dataplane_open(struct dataplane *dp, struct loop *loop, struct wg_device *dev,
		   const char *ifname, uint16_t port, uint32_t fwmark)
    __attribute__((warn_unused_result));
void dataplane_close(struct dataplane *dp);

/* Rebinds the UDP socket to another port (0: any). On failure the old
 * socket stays. */
int dataplane_set_port(struct dataplane *dp, uint16_t port) __attribute__((warn_unused_result));

/* Sends whatever engine calls outside the packet handlers queued (a config
 * change that sends a keepalive, a handshake started by hand) and re-arms the
 * timer for the engine's next deadline. */
void dataplane_flush(struct dataplane *dp);

#endif
