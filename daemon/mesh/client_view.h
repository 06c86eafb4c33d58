/*
 * The client role's view: the netmap in use (verified, newest version,
 * cached in state_dir/MESH_NETMAP_FILE) turned into one reconfigure of the
 * host, the coordinator always among the peers; the paths follow.
 */
#ifndef MESHGATE_MESH_CLIENT_VIEW_H
#define MESHGATE_MESH_CLIENT_VIEW_H

#include <jansson.h>
#include <stdbool.h>

struct mesh_client;

/* Hands the host the current view (before the first netmap: the
 * coordinator only, nothing approved). */
void client_apply_view(struct mesh_client *mc);
/* Takes a signed netmap (false: refused, close the channel); a newer one
 * is cached unless it comes from the cache, and applied. */
bool client_netmap_take(struct mesh_client *mc, const json_t *msg, bool from_cache);
/* Takes the cached netmap, if one verifies. */
void client_load_cache(struct mesh_client *mc);

#endif
