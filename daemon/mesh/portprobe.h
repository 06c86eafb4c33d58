/*
 * The port probe: does an unsolicited datagram from a new source reach this
 * node's UDP port? That holds behind a port forward, an open firewall or a
 * full-cone NAT, and then peers can reach the node directly without both
 * sides punching holes at once.
 *
 * On the control channel (JSON lines, protocol.h):
 *
 *   node -> coordinator
 *     {"type": "port_probe", "nonce": "<base64 of 16 random bytes>",
 *      "port": 41641}
 *   coordinator -> node
 *     {"type": "port_probe_reply", "nonce": "...", "sent": true,
 *      "observed": "203.0.113.2:41641"}
 *     {"type": "port_probe_reply", "nonce": "...", "sent": false,
 *      "error": "rate limited"}
 *     {"type": "observed", "endpoint": "203.0.113.2:41641"}
 *
 * On "port_probe" the coordinator sends one PORT_PROBE datagram
 * (type | nonce) to the IP it observes the node's WireGuard packets come
 * from, never an address the node names, at the requested port, from a
 * socket bound for this one datagram (a source the node's own traffic never
 * talked to), at most once per node per MESH_PORT_PROBE_MIN_INTERVAL_S.
 * "observed" in a reply and in the "observed" message is the node's
 * WireGuard endpoint as the coordinator sees it; the coordinator sends the
 * latter when it changes. "observed" and "error" are optional.
 *
 * The node's side is the state machine struct portprobe: a datagram with
 * the outstanding nonce means reachable; none within
 * MESH_PORT_PROBE_TIMEOUT_S after the coordinator said it sent one means
 * not reachable. Everything here is pure: the caller passes the monotonic
 * clock (ns) and the nonce, and does the I/O.
 */
#ifndef MESHGATE_MESH_PORTPROBE_H
#define MESHGATE_MESH_PORTPROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/protocol.h"
#include "netaddr.h"

/* ---- wire forms ---- */

/* Writes the datagram (MESH_PORT_PROBE_LEN bytes) into buf. -ENOBUFS. */
int portprobe_datagram_create(uint8_t *buf, size_t cap, size_t *len,
			      const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
    __attribute__((warn_unused_result));
/* Reads a datagram (untrusted): -EINVAL unless it is exactly a PORT_PROBE. */
int portprobe_datagram_consume(const uint8_t *data, size_t len,
			       uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
    __attribute__((warn_unused_result));

/* The "port_probe" message (a new reference, or NULL), and back: -EINVAL
 * unless nonce decodes to exactly 16 bytes and port is 1..65535. */
json_t *portprobe_request_create(const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN], uint16_t port);
int portprobe_request_parse(const json_t *msg, uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN],
			    uint16_t *port) __attribute__((warn_unused_result));

struct portprobe_reply {
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];
	bool sent;                       /* the datagram went out */
	char observed[SOCKADDR_STR_LEN]; /* numeric "ip:port", "" when absent */
	char error[128];                 /* why not sent, "" when absent */
};

/* The "port_probe_reply" message; observed (numeric) and error may be
 * NULL. A new reference, or NULL. */
json_t *portprobe_reply_create(const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN], bool sent,
			       const struct endpoint *observed, const char *error);
/* -EINVAL for a bad nonce, a missing or non-boolean "sent", or an observed
 * endpoint that is not numeric; out is zeroed first. A longer error is
 * cut. */
int portprobe_reply_parse(const json_t *msg, struct portprobe_reply *out)
    __attribute__((warn_unused_result));

/* The "observed" message (ep numeric), and back into out ("ip:port"). */
json_t *portprobe_observed_create(const struct endpoint *ep);
int portprobe_observed_parse(const json_t *msg, char out[SOCKADDR_STR_LEN])
    __attribute__((warn_unused_result));

/* ---- the node's side ---- */

struct portprobe {
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN]; /* of the last request */
	bool asked;                               /* nonce is set */
	bool outstanding;                         /* waiting for its datagram */
	bool sent;                                /* the coordinator sent it */
	bool wanted;                              /* a reason to ask again came up */
	uint64_t asked_at;                        /* monotonic ns */
	uint16_t port;                            /* the last request's port */
	int reachable;                            /* 1 yes, 0 no, -1 not known */
	char observed[SOCKADDR_STR_LEN];          /* "" not known */
};

void portprobe_init(struct portprobe *pp);

/* Call when the control channel comes up. */
void portprobe_want(struct portprobe *pp);

/*
 * Call on every tick while the control channel is up, with the bound UDP
 * port: true when a request should go now. It is due when wanted and
 * MESH_PORT_PROBE_SPACING_S has passed since the last one, every
 * MESH_PORT_PROBE_PERIOD_S, and at once when the port differs from the last
 * request's (what was known is about the old port: back to not known).
 */
bool portprobe_due(struct portprobe *pp, uint16_t port, uint64_t now);

/* Call after the request with nonce for port went out. */
void portprobe_asked(struct portprobe *pp, const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN],
		     uint16_t port, uint64_t now);

/* Call with a parsed "port_probe_reply". -ENOENT when it is not for the
 * last request (ignore it). A reply that says not sent ends the request and
 * leaves what is known; the next one goes after the spacing. */
int portprobe_reply(struct portprobe *pp, const struct portprobe_reply *r);

/* Call with an "observed" endpoint: a change from a known one calls for a
 * new request. */
void portprobe_observed(struct portprobe *pp, const char *observed);

/* Call with a received PORT_PROBE datagram (untrusted). 0 when it carries
 * the outstanding nonce (reachable); -EINVAL (malformed) or -ENOENT (no
 * request waiting, another nonce): drop it. */
int portprobe_receive(struct portprobe *pp, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));

/* Call on every tick: a request past MESH_PORT_PROBE_TIMEOUT_S ends; when
 * the coordinator said it sent the datagram, the port is not reachable. A
 * request with no reply at all (a coordinator that does not know the
 * message) leaves what is known. */
void portprobe_tick(struct portprobe *pp, uint64_t now);

/* Call when the control channel closes: no reply can come. */
void portprobe_lost(struct portprobe *pp);

/* ---- the coordinator's limit ---- */

struct portprobe_limit_entry {
	uint32_t node_id;
	uint64_t at; /* monotonic ns of the last probe sent */
};

/* The nodes probed within the last MESH_PORT_PROBE_MIN_INTERVAL_S. */
struct portprobe_limit {
	struct portprobe_limit_entry *v;
	size_t n, cap;
};

/* True (and recorded) when node_id may be probed now; false within the
 * interval of its last probe, or without memory. Entries past the interval
 * are dropped, so the table holds only recent probes. */
bool portprobe_limit_allow(struct portprobe_limit *l, uint32_t node_id, uint64_t now);
void portprobe_limit_free(struct portprobe_limit *l);

#endif
