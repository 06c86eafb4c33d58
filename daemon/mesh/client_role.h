/*
 * The client role's state (struct mesh_client) and the few inline helpers
 * its files share: client.c and client_*.c. The role's interface is
 * client.h; each file's own calls are in its own header. The files call
 * one way: client.c (start, stop, tick, packet demux) -> client_join.c,
 * client_ctl.c -> the others; none calls back into client.c.
 */
#ifndef MESHGATE_MESH_CLIENT_ROLE_H
#define MESHGATE_MESH_CLIENT_ROLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ddns.h"
#include "loop.h"
#include "mesh/channel.h"
#include "mesh/devreq.h"
#include "mesh/host.h"
#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/netmap.h"
#include "mesh/portprobe.h"
#include "mesh/relay.h"

enum { NS = 1000000000, MAX_BACKOFF_S = 8, CONNECT_TIMEOUT_S = 10 };
enum { TICK_NS = 1000000000, SOON_NS = 1000000 };

enum join_state { JOIN_IDLE, JOIN_RUNNING, JOIN_DONE, JOIN_FAILED };

/* How a peer is reached, for the path choice. */
struct path {
	uint8_t key[KEY_LEN];
	uint32_t id;
	uint64_t since; /* monotonic ns: last time it was fine, or added */
	uint64_t last_probe;
};

/* A name among the coordinator's endpoints (or the invite's, while
 * joining), followed through the host's resolver; the resolver's ctx. */
struct client_name {
	struct mesh_client *mc;
	bool join; /* one of inv.endpoints, else of coord_eps */
	bool used; /* the endpoint is a name */
	struct ddns_name dn;
};

struct mesh_client {
	struct mesh_host host;
	/* Saved state (mesh.json). */
	bool joined;
	uint8_t coord_key[KEY_LEN];
	uint8_t sign_key[NETMAP_SIGN_PUBLIC_LEN];
	uint32_t self_id;
	char name[64];
	struct prefix addrs[2];
	size_t n_addrs;
	struct prefix coord_addrs[2];
	size_t n_coord_addrs;
	struct endpoint coord_eps[INVITE_MAX_ENDPOINTS];
	size_t n_coord_eps;
	union sockaddr_inet relay_addr;                       /* the coordinator's UDP address */
	struct client_name coord_names[INVITE_MAX_ENDPOINTS]; /* [i]: coord_eps[i] */
	uint8_t relay_key[RELAY_KEY_LEN];
	/* The netmap in use. */
	struct netmap nm;
	bool have_nm;
	/* Joining. */
	enum join_state join;
	struct invite inv;
	uint64_t join_deadline;
	json_t *join_result;       /* received, not yet handled */
	struct cookie join_cookie; /* the coordinator's cookie under load (join.h) */
	union sockaddr_inet join_from;
	struct client_name join_names[INVITE_MAX_ENDPOINTS]; /* [i]: inv.endpoints[i] */
	char join_error[256];
	/* Control channel. */
	struct channel *ch;
	char *hello_sent; /* what the coordinator last heard from us (JSON text) */
	uint64_t next_connect, connect_started;
	unsigned backoff;
	struct portprobe probe;      /* whether the coordinator reaches our UDP port */
	struct devreq_table devreqs; /* device requests sent to the coordinator */
	/* Paths. */
	struct path *paths;
	size_t n_paths;
	struct loop_timer *timer; /* every TICK_NS, SOON_NS after a packet hook asks */
};

static inline uint64_t now_ns(void)
{
	return loop_now();
}

static inline uint16_t listen_port(const struct mesh_client *mc)
{
	return mc->host.ops->listen_port(mc->host.ctx);
}

static inline void state_path(const struct mesh_client *mc, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", mc->host.cfg->state_dir, file);
}

#endif
