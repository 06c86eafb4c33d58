/*
 * `meshgate set` as the node serves it: the control command (JSON request
 * as prefs.h describes it) and the preferences in the status document.
 */
#ifndef MESHGATE_NODE_PREFS_H
#define MESHGATE_NODE_PREFS_H

#include <jansson.h>

struct node;

/*
 * {"cmd": "set", "reset": bool, "exit_node", "accept_routes",
 * "advertise_routes", "advertise_exit"}: changes the overrides (none given:
 * changes nothing) and answers {"overrides": {...}, "preferences": {...},
 * "error": why state_dir/prefs.json was ignored at start, or null}.
 * NULL with *error set (valid until the next command) when refused.
 */
json_t *node_prefs_set(struct node *node, const json_t *req, const char **error);

/* The status document's self.preferences: for each preference
 * {"value": ..., "origin": "config"|"meshgate set"}. */
json_t *node_prefs_json(const struct node *node);

#endif
