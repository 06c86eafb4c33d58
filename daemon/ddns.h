/*
 * Following an endpoint's DNS name (a home behind a dynamic address with a
 * DDNS name): the name is looked up again every DDNS_INTERVAL_S, and at
 * most every DDNS_RETRY_S while the peer behind it looks failed. The
 * lookups themselves go through the resolver (resolve.h); this decides
 * when to ask and what an answer means for the peer's endpoint.
 *
 * The roaming rule: an answer that still holds the address the name gave
 * before is no news, and the peer's current endpoint (which WireGuard
 * roaming may have moved to wherever the peer was last heard from) is left
 * alone. Only a first answer, or one without the previous address, points
 * the peer at the name's new address. A failed lookup keeps the last good
 * address: DNS being down never clears an endpoint.
 */
#ifndef MESHGATE_DDNS_H
#define MESHGATE_DDNS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "netaddr.h"
#include "resolve.h"

enum {
	DDNS_INTERVAL_S = 30,
	DDNS_RETRY_S = 10,
	/* Handshake retransmissions (after the first initiation) unanswered
	 * before a peer counts as failed: REKEY_TIMEOUT apart, so ~10 s. */
	DDNS_FAILED_ATTEMPTS = 2,
};

struct ddns_name {
	struct endpoint ep;       /* the name and port, as configured */
	bool known;               /* addr holds an answer */
	union sockaddr_inet addr; /* what the name resolved to last */
	time_t resolved_at;       /* wall clock of the last good answer; 0: none */
	uint64_t asked_at;        /* monotonic ns of the last lookup; 0: never */
	bool failing;             /* the last lookup failed (said once) */
};

enum ddns_outcome {
	DDNS_SAME,   /* the previous address is among the answers: leave the peer alone */
	DDNS_NEW,    /* a first or a changed address: point the peer at addr */
	DDNS_FAILED, /* no answer: addr (if known) kept */
};

/* A name to follow; not yet resolved. */
void ddns_init(struct ddns_name *n, const struct endpoint *ep);

/* Whether a lookup is due at now (monotonic ns): never asked, the interval
 * passed, or the peer looks failed and the retry interval passed. */
bool ddns_due(const struct ddns_name *n, uint64_t now, bool peer_failed);

/* Call after a lookup was queued. */
void ddns_asked(struct ddns_name *n, uint64_t now);

/*
 * Takes the resolver's answer (wall: wall clock s). Logs, with who ("peer
 * X", "mesh: coordinator") in front: a change of address ("endpoint name
 * resolves to A now (was B)"), the first failure and the recovery, each
 * once. *was (may be NULL) gets the previous address on DDNS_NEW (family
 * AF_UNSPEC for a first answer).
 */
enum ddns_outcome ddns_take(struct ddns_name *n, const struct resolver_result *res, time_t wall,
			    const char *who, union sockaddr_inet *was);

/* The name as "host:port" (ENDPOINT_STR_LEN is enough). */
void ddns_name_format(const struct ddns_name *n, char *out, size_t len);

#endif
