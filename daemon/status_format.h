/*
 * The human form of the status document (DESIGN.md "Status JSON") that
 * `meshgate status` prints: a line about this node, then one aligned row per
 * peer, in the spirit of `tailscale status`, then the mesh's devices.
 */
#ifndef MESHGATE_STATUS_FORMAT_H
#define MESHGATE_STATUS_FORMAT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/*
 * Writes doc for people, ages relative to now: this node, a line per failed
 * preflight check with its fix, the peers ("exit node": the exit in use,
 * "offers exit node": one to pick), and when there are any a "devices:"
 * table (address, name, hub; for a device this node hubs also endpoint,
 * handshake, rx, tx; "exit allowed"). Missing or mistyped fields print as
 * "-", never fail.
 */
void status_format_human(FILE *out, const json_t *doc, time_t now);

/*
 * `meshgate exit-node list`, a view of the status document: the peers
 * whose "exit_offer" (or, from an older daemon, "exit_node_offered") says
 * they offer an exit. status_exit_nodes() returns a new array of {name,
 * addresses, state: "approved"|"pending", usable (approved and online, as
 * the coordinator says), online (a recent handshake and, for an approved
 * offer, usable), path, last_handshake, in_use (the exit
 * traffic goes through), wanted (use_exit_node names it)}.
 * status_format_exit_nodes() prints them as a table, "*" marking the one in
 * use; none: a sentence on how to offer one. Either way, when internet
 * traffic is blocked, the status's sentence why.
 */
json_t *status_exit_nodes(const json_t *doc);
void status_format_exit_nodes(FILE *out, const json_t *doc, time_t now);

/* "12s ago", "5m ago", "3h ago", "2d ago"; "never" when then is 0. */
void status_format_age(char *out, size_t len, time_t then, time_t now);

/* "0 B", "1023 B", "1.5 KiB", "12.0 MiB", ... */
void status_format_bytes(char *out, size_t len, uint64_t bytes);

#endif
