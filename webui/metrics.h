/*
 * Prometheus text exposition (format 0.0.4) of the status document: daemon
 * info, per-peer traffic, handshake age, path and liveness, drops by reason,
 * handshake and session counters, route counts and preflight results, the
 * resolver's and the access policy's counters. Pure:
 * the published document (a snapshot, see server.h) and the time go in,
 * text comes out. Fields the document lacks are left out, never invented.
 */
#ifndef MESHGATE_WEBUI_METRICS_H
#define MESHGATE_WEBUI_METRICS_H

#include <jansson.h>
#include <time.h>

/* Returns a malloc'd NUL-terminated text (free it), or NULL when out of
 * memory. */
char *metrics_render(const json_t *status, time_t now);

#endif
