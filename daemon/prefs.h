/*
 * The preferences `meshgate set` changes at run time, kept in
 * state_dir/PREFS_FILE over the config file one by one: a preference the
 * file does not hold is the config's.
 *
 *   exit_node         use_exit_node.peer: a peer name or mesh address,
 *                     "none" (no exit whatever the file says) or "auto"
 *                     (prefs_exit_auto() chooses); allow_lan_access stays
 *   accept_routes     accept_routes
 *   advertise_routes  subnet_router.routes (snat stays the config's)
 *   advertise_exit    exit_node.enabled
 *
 * The file: {"exit_node": "home", "accept_routes": false,
 * "advertise_routes": ["192.168.77.0/24"], "advertise_exit": true}, each
 * key optional. Unknown keys are ignored (a newer version may write some);
 * a wrong type or value refuses the whole file. A `set` request carries
 * the same keys, plus "reset": true to drop every override first.
 */
#ifndef MESHGATE_PREFS_H
#define MESHGATE_PREFS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define PREFS_FILE "prefs.json"

enum prefs_key {
	PREFS_EXIT_NODE,
	PREFS_ACCEPT_ROUTES,
	PREFS_ADVERTISE_ROUTES,
	PREFS_ADVERTISE_EXIT,
	PREFS_N,
};

enum prefs_exit {
	PREFS_EXIT_PEER, /* exit_peer; "" is none, as in the config */
	PREFS_EXIT_NONE, /* "none": no exit, whatever the file says */
	PREFS_EXIT_AUTO, /* "auto" */
};

struct prefs {
	bool set[PREFS_N]; /* which preferences this holds */
	enum prefs_exit exit_mode;
	char exit_peer[CONFIG_NAME_MAX + 1];
	bool accept_routes;
	struct prefix_list advertise_routes; /* owned */
	bool advertise_exit;
};

/* The JSON key of a preference ("exit_node", ...). */
const char *prefs_key_name(enum prefs_key key);

/* Releases what p owns and zeroes it; NULL-safe. */
void prefs_free(struct prefs *p);

/* dst = a deep copy of src (dst is overwritten, not freed). 0 or -ENOMEM. */
int prefs_copy(struct prefs *dst, const struct prefs *src) __attribute__((warn_unused_result));

/* The four preferences as cfg has them, every one set. 0 or -ENOMEM. */
int prefs_of_config(const struct mg_config *cfg, struct prefs *out)
    __attribute__((warn_unused_result));

/* Whether p holds any preference. */
bool prefs_any(const struct prefs *p);

/* Parses the file form (or a `set` request: "cmd" and "reset" are not
 * preferences) into *out. -EINVAL with "KEY: why" in errbuf, out empty. */
int prefs_from_json(const json_t *doc, struct prefs *out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The file form of p (new reference; NULL out of memory). */
json_t *prefs_to_json(const struct prefs *p);

/* The value of one preference as JSON ("auto", "none", a name; a bool; a
 * list of prefixes). */
json_t *prefs_value_json(const struct prefs *p, enum prefs_key key);

/* Reads state_dir/PREFS_FILE: no file is no preference (0, out empty);
 * a file that cannot be read or parsed is -errno with errbuf saying why. */
int prefs_load(const char *state_dir, struct prefs *out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes p to state_dir/PREFS_FILE (atomicfile.h, mode 0644); with no
 * preference the file is removed. 0 or -errno with errbuf set. */
int prefs_save(const char *state_dir, const struct prefs *p, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* p changed by a `set` request: every override dropped first when
 * "reset" is true, then each preference the request holds. -EINVAL with
 * errbuf set, p unchanged. */
int prefs_update(struct prefs *p, const json_t *req, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Writes into cfg the file's preferences (file, every one set) with over's
 * on top; an exit of "auto" becomes auto_pick ("auto" itself when nothing
 * is picked: no peer has that name, so the exit client's kill switch holds
 * the traffic). cfg->subnet_router.routes gets a new list in *routes
 * (the caller frees it, and the one cfg held before: cfg may be a shallow
 * copy). Refuses (-EINVAL, errbuf) what the config loader refuses: an exit
 * in use on a node that offers one. -ENOMEM.
 */
int prefs_effective(const struct prefs *file, const struct prefs *over, const char *auto_pick,
		    struct mg_config *cfg, struct prefix_list *routes, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* A peer `auto` may choose: from the netmap and the engine. */
struct prefs_exit_candidate {
	const char *name;
	bool offered;           /* its exit offer is approved and it is online */
	int64_t last_handshake; /* wall clock s; 0: never */
};

/*
 * The exit `auto` uses, as an index into c (-1: none). Only offered peers
 * count. The one in use (current, "" none) stays while it is offered;
 * otherwise the one with the freshest handshake no older than fresh_s
 * before now, else (none that fresh) the first by name. Ties go by name.
 */
long prefs_exit_auto(const struct prefs_exit_candidate *c, size_t n, const char *current,
		     int64_t now, int64_t fresh_s);

#endif
