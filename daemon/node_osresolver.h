/*
 * The node's OS resolver (dns/osresolver.h) from its configuration and mesh
 * state: managed while dns.manage_resolv_conf and dns.enabled, on the TUN.
 */
#ifndef MESHGATE_NODE_OSRESOLVER_H
#define MESHGATE_NODE_OSRESOLVER_H

#include <jansson.h>

struct node;

/* Follows the node's current state; call after every change it applies. */
void node_osresolver_update(struct node *node);

/* Puts the OS resolver back (node stop). */
void node_osresolver_stop(struct node *node);

/* The status document's dns.os_resolver: {"managed", "method", "error"}. */
json_t *node_osresolver_json(const struct node *node);

#endif
