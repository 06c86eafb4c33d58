/*
 * The node's status publisher: builds the status document (status.h) from
 * the node, its engine, its route plan and its mesh role, and publishes it
 * on the node's status board. Building is the only place that walks the
 * engine's peers, asks the coordinator's registry or runs preflight's system
 * checks; readers take the published document.
 *
 *   node_status_changed()   after the node applied a change (start, reload,
 *                           a netmap): the system checks rerun and the
 *                           access policy's counters are read, then publish
 *   every NODE_STATUS_PERIOD_S
 *                           publish: counters, handshakes, paths, the mesh
 *                           role's facts (the port probe, nodes reached)
 *   every NODE_STATUS_CHECK_PERIOD_S
 *                           the system checks rerun and the policy's
 *                           counters are read (one dump of the table, never
 *                           per packet nor per request), then publish
 *   node_status_refresh()   publish now (the control socket's status, so the
 *                           CLI sees counters as they are; no system checks)
 */
#ifndef MESHGATE_NODE_STATUS_H
#define MESHGATE_NODE_STATUS_H

#include <jansson.h>

struct node;
struct preflight_node;

enum { NODE_STATUS_PERIOD_S = 1, NODE_STATUS_CHECK_PERIOD_S = 10 };

/* Reruns the system checks and publishes; starts the publisher (its timer
 * on the node's loop) the first time. Out of resources: logged, and the
 * views answer from the last document or not at all. */
void node_status_changed(struct node *node);

/* Publishes without rerunning the system checks; a no-op before the first
 * node_status_changed(). */
void node_status_refresh(struct node *node);

/* The published document: a new reference, NULL before the first. Does no
 * work beyond that: views call it per request. */
json_t *node_status_current(const struct node *node);

/* The facts preflight takes from the node and its mesh role (what the
 * published checks see of it). */
void node_status_preflight_facts(const struct node *node, struct preflight_node *out);

/* Stops the timer and drops the document; NULL-safe on a node without one. */
void node_status_stop(struct node *node);

#endif
