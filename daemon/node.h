/*
 * The running node: configuration applied to the engine, the data plane and
 * the kernel, plus the WireGuard UAPI. Its views (control socket, status
 * page: frontend.h) watch it through an observer; the node never calls them.
 * One node per daemon; it lives in the event loop's thread.
 */
#ifndef MESHGATE_NODE_H
#define MESHGATE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "acl/filter.h"
#include "config.h"
#include "dataplane.h"
#include "dns/osresolver.h"
#include "loop.h"
#include "mesh/roles.h"
#include "node_dns.h"
#include "plan.h"
#include "prefs.h"
#include "router.h"
#include "wg/device.h"

struct uapi_server;
struct web_server;
struct node_status;
struct nl_sock;
struct resolver;
struct node_ddns;

struct node {
	struct mg_config cfg;
	char *config_path; /* NULL: running on built-in defaults */
	struct loop *loop;
	struct resolver *resolver; /* names looked up off the loop (resolve.h) */
	struct node_ddns *ddns;    /* the static peers' endpoint names (node_ddns.h) */
	struct wg_device *dev;
	struct dataplane dp;
	struct nl_sock *rtnl;
	struct route_plan plan; /* what the kernel holds for this config */
	struct router router;
	struct uapi_server *uapi;
	struct web_server *web;     /* the status page (node_web.h); NULL: off */
	struct node_status *status; /* the published status (node_status.h) */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint64_t started_at; /* wall clock, unix seconds */

	/* What the mesh gave the node (node_set_mesh), owned copies. */
	struct mesh_peer *mesh_peers;
	size_t n_mesh_peers;
	struct prefix *mesh_addresses; /* with the mesh prefix's length */
	size_t n_mesh_addresses;
	struct prefix *approved_routes; /* struct mesh_approved, owned */
	size_t n_approved_routes;
	bool approved_exit;
	/* Every device in the mesh (mesh_view.devices), owned copy; the
	 * attached ones are engine peers of this node. */
	struct mesh_device *mesh_devices;
	size_t n_mesh_devices;
	/* The access policy's share this node enforces (mesh_view.policy),
	 * owned copy; present false: none. */
	struct acl_filter policy;
	/* The mesh resolver and the mesh's names (node_dns.h). */
	struct node_dns dns;

	/* `meshgate set` (prefs.h): cfg is the file with these overrides on
	 * top. file_prefs: the file's own values of what they override;
	 * exit_auto: the exit `auto` chose ("" none yet); prefs_error: why
	 * state_dir/prefs.json was ignored at start ("" it was not). */
	struct prefs prefs;
	struct prefs file_prefs;
	char exit_auto[CONFIG_NAME_MAX + 1];
	char prefs_error[512];
	char set_error[512]; /* the last refused set's reason */

	/* The control plane's roles: at most one runs. They see the node
	 * only through the host node_mesh.c gives them (mesh/host.h). */
	struct mesh_roles roles;
	struct mesh_counters mesh_counters; /* bumped by the roles */
	/* The running role's relay path check (host set_hooks); NULL: none. */
	bool (*mesh_relay_check)(void *role, const uint8_t key[32], uint32_t relay_via);
	void *mesh_relay_role;
	/* Why the last apply of a plan (router, engine peers, mesh addresses)
	 * failed; empty after a success. The status document's
	 * daemon.last_apply_error. */
	char apply_error[512];
	/* The OS resolver pointed at the mesh's while dns.manage_resolv_conf
	 * (dns/osresolver.h); osresolver_ready: set up for this run. */
	struct osresolver osresolver;
	bool osresolver_ready;
	/* Called after every change the node applies (start, reload, a
	 * netmap); NULL: nobody watches. */
	void (*observer)(struct node *node, void *ctx);
	void *observer_ctx;
};

/* Sets (or with NULL clears) the node's observer. */
void node_set_observer(struct node *node, void (*fn)(struct node *node, void *ctx), void *ctx);

/*
 * Brings the node up from cfg (ownership of cfg moves into the node, even on
 * failure): private key, TUN, UDP socket, addresses, peers and
 * UAPI (the front end starts after it: frontend.h). On failure everything already set up is torn
 * down again and errbuf says what went wrong and, where there is one, how to fix it.
 */
int node_start(struct node *node, struct loop *loop, struct mg_config *cfg, const char *config_path,
	       char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Re-reads the config file and applies the difference; on a bad file the
 * running configuration stays and the error is logged. A failed apply
 * (router, engine peers) is logged, kept in apply_error and returned; the
 * new configuration is in place all the same. */
int node_reload(struct node *node);

/*
 * Makes p the node's overrides (a copy): the effective configuration (the
 * file's, p on top) is applied as a reload applies it, then p is written
 * to state_dir/PREFS_FILE. Refused (-errno, errbuf says why) when the
 * effective configuration is invalid, its plan fails, applying it fails or
 * the file cannot be written: the running state and the file stay as they
 * were.
 */
int node_set_prefs(struct node *node, const struct prefs *p, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Tears everything down; the kernel is left as it was before node_start(). */
void node_stop(struct node *node);

/*
 * Replaces what the mesh control plane gives the node (the view, deep
 * copied): its peers, its mesh addresses (added to the config's), what it
 * may serve (view->approved; NULL: nothing) and the mesh's devices, of
 * which the attached ones become engine peers (their addresses as allowed
 * IPs, no endpoint) that the node forwards for. The TUN addresses, the
 * route plan (routes, rules, nftables, sysctls) and the engine's peers
 * follow, through the same machinery as static peers; sessions of peers
 * and devices that stay are kept, a device that left loses its engine
 * peer at once. On a plan error (say
 * an exit node that is no longer offered) the previous mesh state stays and
 * errbuf says why. When applying the plan fails (the router, the engine's
 * peers, the addresses) the new state is kept all the same, so the next
 * change is applied from it, and the error is returned with errbuf set and
 * kept in apply_error for the status document.
 * The roles reach it as their host's reconfigure (node_mesh.c), one call
 * per view.
 */
int node_set_mesh(struct node *node, const struct mesh_view *view, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Runtime changes (UAPI `wg set`): applied to the engine and the data plane. */
int node_set_private_key(struct node *node, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
int node_set_listen_port(struct node *node, uint16_t port);
int node_set_fwmark(struct node *node, uint32_t fwmark);
uint16_t node_listen_port(const struct node *node);
uint32_t node_fwmark(const struct node *node);

#endif
