/*
 * The status document (DESIGN.md, "Status JSON"): this node and its peers,
 * as `meshgate status --json` and GET /api/status return it. Built from a
 * read of the node's state; it never contains key material beyond public keys.
 */
#ifndef MESHGATE_STATUS_H
#define MESHGATE_STATUS_H

#include <jansson.h>

struct node;

/* Returns a new reference, or NULL when out of memory. */
json_t *status_snapshot(const struct node *node);

#endif
