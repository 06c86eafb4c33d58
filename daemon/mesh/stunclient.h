/*
 * The coordinator's public address by STUN (coordinator.stun): a round asks
 * every configured server for the address it sees, with Binding requests
 * sent from the mesh UDP socket through the host's udp_out (the mapping
 * learned is the one WireGuard peers use). Rounds run at start, every
 * STUNCLIENT_ROUND_EVERY_S, soon after the host's addresses change and
 * after a reload that changes the list. Server names go through the
 * host's resolver each round (never getaddrinfo() on the loop).
 *
 * Two servers that see different addresses or ports for the one socket
 * mean the NAT maps per destination ("symmetric"): the address is then no
 * use to a peer by itself, and invites leave it out.
 */
#ifndef MESHGATE_MESH_STUNCLIENT_H
#define MESHGATE_MESH_STUNCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/host.h"
#include "netaddr.h"

enum {
	STUNCLIENT_ROUND_EVERY_S = 180,
	STUNCLIENT_MAX_SERVERS = 8,
	STUNCLIENT_SENDS = 3,            /* per server and round */
	STUNCLIENT_RETRANSMIT_MS = 1000, /* between them */
	STUNCLIENT_ROUND_MS = 6000,      /* a round ends then, answered or not */
	STUNCLIENT_LOCAL_CHECK_S = 10,   /* how often the host's addresses are compared */
};

enum stun_nat {
	STUN_NAT_UNKNOWN,     /* fewer than two servers answered */
	STUN_NAT_INDEPENDENT, /* every server saw the same address and port */
	STUN_NAT_SYMMETRIC,   /* they differ: the mapping depends on the destination */
};

struct stunclient_status {
	size_t servers;     /* configured */
	int64_t last_round; /* wall-clock s the last round ended; 0: none */
	bool have_public;   /* public: from the last round that got an answer */
	union sockaddr_inet public_ep;
	int64_t learned_at; /* wall-clock s of that round */
	enum stun_nat nat;
	char error[160]; /* the last round's failure; "" when it got an answer */
	uint64_t requests, responses, dropped;
};

struct stunclient;

/* NULL when out of memory. host must outlive the client. */
struct stunclient *stunclient_new(const struct mesh_host *host);
void stunclient_free(struct stunclient *sc);

/* Runs due work (a round, a retransmit, the end of a round); called about
 * once a second from the coordinator's timer. now: loop_now(). */
void stunclient_tick(struct stunclient *sc, uint64_t now);

/* A datagram stun_is_message() accepts: a response to an outstanding
 * request is taken, anything else counted as dropped. */
void stunclient_rx(struct stunclient *sc, const uint8_t *buf, size_t len);

void stunclient_status(const struct stunclient *sc, struct stunclient_status *out);

/* The public endpoint for invites: false when there is none, or the NAT is
 * symmetric. */
bool stunclient_public(const struct stunclient *sc, struct endpoint *out);

/* "endpoint-independent", "symmetric" or "unknown". */
const char *stunclient_nat_name(enum stun_nat nat);

#endif
