/*
 * The coordinator role's state, shared by its files (coordinator.c, views.c,
 * joinsvc.c, ctlserver.c, admin.c, devices.c). Not for use outside them; the
 * role's interface is coordinator.h (and devices.h for devices). The files
 * call one way: coordinator.c (start, stop, timer, packet demux) ->
 * joinsvc.c, ctlserver.c, admin.c -> devices.c -> views.c.
 */
#ifndef MESHGATE_MESH_COORDINATOR_ROLE_H
#define MESHGATE_MESH_COORDINATOR_ROLE_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "acl/acl.h"
#include "mesh/channel.h"
#include "mesh/coordinator_stats.h"
#include "mesh/host.h"
#include "mesh/joingate.h"
#include "mesh/netmap_build.h"
#include "mesh/portprobe.h"
#include "mesh/registry.h"
#include "mesh/relay.h"
#include "mesh/stunclient.h"
#include "mesh/throttle.h"

#define MS 1000000ULL
#define NS 1000000000ULL

enum { TICK_MS = 1000, REBUILD_EVERY_MS = 3000, SCHEDULE_DELAY_MS = 5, PRUNE_EVERY_S = 60 };
/* A used single-use invite stays listed (`invite list`: who used it, when)
 * for a day; the join gate closes for it long before (JOINGATE_USED_GRACE_S). */
enum { INVITE_KEEP_USED_S = 24 * 3600 };

struct conn {
	struct coordinator *c;
	struct conn *next;
	struct channel *ch;
	uint32_t node_id;
	char *last_view;                      /* the netmap last pushed, without version */
	bool oversize_told;                   /* an oversize netmap was logged since */
	char last_observed[SOCKADDR_STR_LEN]; /* the "observed" endpoint last sent */
};

struct relay_key {
	uint32_t id;
	uint8_t public_key[KEY_LEN];
	uint8_t key[RELAY_KEY_LEN];
};

struct coordinator {
	struct mesh_host host;
	struct registry *reg;
	uint8_t sign_secret[crypto_sign_SECRETKEYBYTES];
	uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
	uint32_t self_id;
	struct prefix addrs[2]; /* with the prefixes' lengths */
	size_t n_addrs;
	int listen_fd;
	struct loop_source *listen_src;
	struct loop_timer *timer; /* rebuilds, pending hellos, invites; see coord_arm() */
	struct conn *conns;
	struct relay_key *relay;
	size_t n_relay;
	char *self_view;
	char *own_routes;            /* this node's advertisement last recorded (JSON text) */
	struct netmap_offer *offers; /* members' split DNS offers (not this node's) */
	size_t n_offers;
	struct portprobe_limit probes; /* nodes probed within the last interval */
	struct throttle throttle;      /* per-node limits of the control channel */
	struct coordinator_stats stats;
	struct joingate gate;    /* what a join request passes first */
	struct stunclient *stun; /* the public address (coordinator.stun) */
	int64_t next_prune;      /* wall-clock s: prune the invites then */
	/* The access policy the netmaps carry: the config's, taken when it
	 * changes (coord_policy_sync()); revision: the netmap version then. */
	struct acl_policy policy;
	bool have_policy;
	bool policy_started; /* coord_policy_sync() ran: later changes are audited */
	uint32_t policy_revision;
	bool dirty;
	uint64_t last_rebuild; /* monotonic ns */
	uint64_t timer_due;    /* when the timer fires next; 0: not armed */
	char err[256];
};

static inline int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

#endif
