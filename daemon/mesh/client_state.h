/*
 * The client role's saved state: state_dir/MESH_STATE_FILE holds the coordinator's keys,
 * addresses and endpoints, this node's id, name and addresses, and the relay
 * address; written with fsync and rename.
 */
#ifndef MESHGATE_MESH_CLIENT_STATE_H
#define MESHGATE_MESH_CLIENT_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_STATE_FILE  "mesh.json"
#define MESH_NETMAP_FILE "netmap.json"

struct mesh_client;
struct prefix;
struct mesh_peer_facts;
struct path;

/* Between 1 and max prefixes from a JSON array of strings; -EINVAL. */
int client_prefixes_load(const json_t *arr, struct prefix *out, size_t max, size_t *n);
/* Writes mc's saved state (atomically); -errno. */
int client_state_save(struct mesh_client *mc);
/* Reads the saved state into mc; -ENOENT without one, -EINVAL if bad. */
int client_state_load(struct mesh_client *mc);

#endif
