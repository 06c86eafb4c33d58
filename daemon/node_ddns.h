/*
 * The static peers' endpoint names (config `peers = ( { endpoint =
 * "name:port"; ... } )`): looked up through the node's resolver, never on
 * the loop, then followed as ddns.h says (every DDNS_INTERVAL_S; at most
 * every DDNS_RETRY_S while the peer looks failed: DDNS_FAILED_ATTEMPTS
 * handshake retransmissions unanswered). A peer has no endpoint until its
 * name's first answer; a new address points the engine's peer at it and
 * starts a handshake there. Numeric endpoints are not followed.
 */
#ifndef MESHGATE_NODE_DDNS_H
#define MESHGATE_NODE_DDNS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dataplane.h"
#include "ddns.h"
#include "loop.h"
#include "wg/device.h"

struct node_ddns;
struct resolver;

/* What the names act on; all outlive the struct node_ddns. */
struct node_ddns_env {
	struct loop *loop;
	struct resolver *resolver;
	struct wg_device *dev;
	struct dataplane *dp; /* udp_out and flush, for the handshake */
};

/* Follows the names of cfg's static peers (*d created on the first call):
 * keeps what it knows of a name a peer still has, forgets the others, asks
 * for the new ones at once. Call after start and after every reload. */
int node_ddns_update(struct node_ddns **d, const struct node_ddns_env *env,
		     const struct mg_config *cfg) __attribute__((warn_unused_result));

/* The followed name of the static peer with this key whose endpoint is ep
 * (ep NULL: any), or NULL; d may be NULL. */
const struct ddns_name *node_ddns_find(const struct node_ddns *d, const uint8_t key[32],
				       const struct endpoint *ep);

/* Forgets every name and cancels their lookups; NULL-safe. */
void node_ddns_free(struct node_ddns *d);

#endif
