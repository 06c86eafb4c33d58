/*
 * The status document (DESIGN.md, "Status JSON"): this node and its peers,
 * as `meshgate status --json` and GET /api/status return it. It never
 * contains key material beyond public keys.
 *
 * The snapshot rule: the node builds the document when something changes
 * (a netmap applied, a reload, an apply's result) and on a short timer for
 * its counters, and publishes it here (node_status.h). Views (the page,
 * /api/status, /metrics, the control socket's status) read the published
 * document and nothing else: no engine walk, netlink, /proc or SQLite per
 * request. A published document is never changed again; a reader holds its
 * own reference while it uses it.
 */
#ifndef MESHGATE_STATUS_H
#define MESHGATE_STATUS_H

#include <jansson.h>
#include <stdint.h>

struct status_board {
	json_t *doc;        /* the last published document; NULL before the first */
	uint64_t published; /* how many documents were published */
};

/* Replaces the published document with doc, taking its reference. A NULL
 * doc (the build ran out of memory) keeps the previous one. */
void status_board_publish(struct status_board *b, json_t *doc);

/* The published document: a new reference, or NULL before the first. */
json_t *status_board_get(const struct status_board *b);

/* Drops the published document. */
void status_board_clear(struct status_board *b);

#endif
