/*
 * The mesh control plane's wire constants.
 *
 * Two channels:
 *
 *  1. Datagrams on the coordinator's WireGuard UDP port, before a node is a
 *     peer (join) and for relaying. They start like WireGuard messages, a
 *     little-endian 32-bit type, with types WireGuard never uses, so the
 *     engine hands them to the mesh code instead of counting them as
 *     malformed:
 *
 *       JOIN_REQUEST   type | joiner public key (32) | nonce (24) |
 *                      crypto_box(joiner -> coordinator) of the join payload |
 *                      mac1 (16) | mac2 (16)
 *       JOIN_RESPONSE  type | nonce (24) |
 *                      crypto_box(coordinator -> joiner) of the result
 *       JOIN_COOKIE    type | nonce (24) | encrypted cookie (32), the
 *                      coordinator's answer under load (join.h)
 *       RELAY          type | source node id (4) | destination node id (4) |
 *                      MAC (16) | a WireGuard datagram, end-to-end encrypted
 *                      between the two nodes
 *       PORT_PROBE     type | nonce (16), coordinator -> node, from a fresh
 *                      ephemeral socket to the node's listen port at the IP
 *                      the coordinator observes for it (portprobe.h)
 *
 *     crypto_box is X25519 + XSalsa20-Poly1305 (libsodium) with the nodes'
 *     WireGuard static keys: only the holder of the invite's coordinator key
 *     can read a request, and only the joiner can read the answer. Anything
 *     that does not decrypt, or does not carry a valid invite secret, gets
 *     no reply at all. A request costs the coordinator a public-key
 *     operation only behind its join gate (joingate.h): a live invite, a
 *     valid mac1, a per-source rate limit, a cookie under load and a nonce
 *     not seen before.
 *
 *  2. After joining, a TCP connection from the node to the coordinator's mesh
 *     address, port MESH_CONTROL_PORT, inside the WireGuard tunnel (so the
 *     coordinator knows the node by its tunnel source address). Messages are
 *     JSON objects, one per line, with a "type": the node sends "hello" and
 *     "update" (its advertised routes, exit offer and local endpoints), the
 *     coordinator pushes "netmap" (the signed, versioned netmap). A node
 *     asks for a PORT_PROBE datagram with "port_probe"; the coordinator
 *     answers "port_probe_reply" and tells a node the public endpoint it
 *     observes for it with "observed" (portprobe.h). A node that hubs
 *     stock WireGuard devices registers and removes them with
 *     "device_add"/"device_remove", answered "device_reply" (devmsg.h).
 *     Either side ignores message types it does not know, so older nodes
 *     and coordinators mix, and lines that are not a JSON object
 *     (channel.h). The coordinator holds each node to the limits of
 *     throttle.h.
 */
/*
 * The coordinator's UDP port also receives STUN Binding responses (stun.h):
 * first two bits 0 and the magic cookie at bytes 4..7, so neither a
 * WireGuard message nor one of the datagrams above; their little-endian
 * first word is at least 0x101, so the data plane hands them to the mesh
 * code like the types below.
 */
#ifndef MESHGATE_MESH_PROTOCOL_H
#define MESHGATE_MESH_PROTOCOL_H

#include <stdint.h>

enum mesh_message_type {
	MESH_JOIN_REQUEST = 0x81,
	MESH_JOIN_RESPONSE = 0x82,
	MESH_RELAY = 0x83,
	MESH_PORT_PROBE = 0x84,
	MESH_JOIN_COOKIE = 0x85,
};

enum mesh_limits {
	MESH_CONTROL_PORT = 41642, /* TCP, on the coordinator's mesh address */
	MESH_NONCE_LEN = 24,       /* crypto_box_NONCEBYTES */
	MESH_BOX_OVERHEAD = 16,    /* crypto_box_MACBYTES */
	MESH_SECRET_LEN = 32,      /* an invite's secret */
	MESH_JOIN_MAX = 1200,      /* a join datagram stays below any path MTU */
	MESH_RELAY_HEADER = 4 + 4 + 4 + 16,
	MESH_CONTROL_LINE_MAX = 1 << 20, /* one JSON message on the control channel */
	MESH_JOIN_CLOCK_SKEW = 300,      /* seconds a join request's timestamp may be off */
	/* TCP keepalive on the control channel: a silent peer is probed after
	 * IDLE seconds, every INTERVAL seconds, and dropped after COUNT
	 * unanswered probes, so the coordinator sees a node go offline within
	 * ~16 s (router failover) and a node sees a dead coordinator. The
	 * probes also keep NAT mappings towards the coordinator open. */
	MESH_CONTROL_KEEPALIVE_IDLE = 10,
	MESH_CONTROL_KEEPALIVE_INTERVAL = 2,
	MESH_CONTROL_KEEPALIVE_COUNT = 3,
	/* The reachability probe of a node's UDP port. The coordinator sends
	 * at most one per node per MIN_INTERVAL; a node asks when its control
	 * channel comes up, its observed endpoint or listen port changes, and
	 * every PERIOD, and takes TIMEOUT without the datagram as "not
	 * reachable". */
	MESH_PORT_PROBE_NONCE_LEN = 16,
	MESH_PORT_PROBE_LEN = 4 + MESH_PORT_PROBE_NONCE_LEN,
	MESH_PORT_PROBE_TIMEOUT_S = 5,
	MESH_PORT_PROBE_MIN_INTERVAL_S = 10,
	/* A node spaces its requests a little wider than the coordinator's
	 * limit, so delays on the channel never make a request look early. */
	MESH_PORT_PROBE_SPACING_S = MESH_PORT_PROBE_MIN_INTERVAL_S + 2,
	MESH_PORT_PROBE_PERIOD_S = 300,
};

#define MESH_INVITE_PREFIX "mg1-"

#endif
