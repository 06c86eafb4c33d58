/*
 * The node: applies a configuration to the engine, the data plane and the
 * kernel, and re-applies the difference on reload. See node.h.
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "acl/acl.h"
#include "dirs.h"
#include "hostinfo.h"
#include "keys.h"
#include "link.h"
#include "log.h"
#include "mesh/netmap.h"
#include "node_ddns.h"
#include "node_dns.h"
#include "preflight.h"
#include "resolve.h"
#include "uapi.h"
#include "wg/messages.h"

static uint64_t env_now(void *ctx)
{
	return loop_now();
}

static void env_wall(void *ctx, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static void env_random(void *ctx, void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static const struct wg_env node_env = {
	.now = env_now,
	.wall = env_wall,
	.random = env_random,
};

static int ops_set_private_key(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return node_set_private_key(ctx, key);
}

static int ops_set_listen_port(void *ctx, uint16_t port)
{
	return node_set_listen_port(ctx, port);
}

static int ops_set_fwmark(void *ctx, uint32_t fwmark)
{
	return node_set_fwmark(ctx, fwmark);
}

static uint16_t ops_listen_port(void *ctx)
{
	return node_listen_port(ctx);
}

static uint32_t ops_fwmark(void *ctx)
{
	return node_fwmark(ctx);
}

static struct wg_device *ops_device(void *ctx)
{
	return ((struct node *)ctx)->dev;
}

static struct pkt_batch *ops_udp_out(void *ctx)
{
	return ((struct node *)ctx)->dp.udp_out;
}

static void ops_changed(void *ctx)
{
	dataplane_flush(&((struct node *)ctx)->dp);
}

/* What `wg set` and `wg show` reach through the UAPI socket. */
static const struct uapi_ops node_uapi_ops = {
	.set_private_key = ops_set_private_key,
	.set_listen_port = ops_set_listen_port,
	.set_fwmark = ops_set_fwmark,
	.listen_port = ops_listen_port,
	.fwmark = ops_fwmark,
	.device = ops_device,
	.udp_out = ops_udp_out,
	.changed = ops_changed,
};

/* ---- the OS resolver pointed at the mesh's (dns/osresolver.h) ---- */

static bool has_v6(const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == AF_INET6)
			return true;
	return false;
}

/*
 * Managed while dns.manage_resolv_conf and dns.enabled. The domain is the
 * netmap's (the coordinator's dns.domain) once the node has one, else the
 * node's own dns.domain; the split domains are the forwarder's (offered,
 * usable or not: an unusable one gets SERVFAIL from the mesh resolver
 * rather than going to another link's resolver).
 */
static void osresolver_update(struct node *node)
{
	const struct mg_config *cfg = &node->cfg;
	const char *domain = node->dns.have_names ? node->dns.domain : cfg->dns.domain;
	const char *splits[NODE_DNS_SPLITS_MAX];
	struct resolved_want want = {
		.split_domains = splits,
		.n_split_domains = node_dns_split_domains(&node->dns, splits, NODE_DNS_SPLITS_MAX),
		.domain = domain[0] ? domain : NULL,
		.v6 = has_v6(node->mesh_addresses, node->n_mesh_addresses) ||
		      has_v6(cfg->addresses.v, cfg->addresses.n),
		.exit_node = cfg->use_exit_node.peer[0] != '\0',
	};

	if (!node->osresolver_ready) {
		osresolver_init(&node->osresolver, cfg->state_dir, node->dp.tun.ifindex);
		node->osresolver_ready = true;
	}
	osresolver_set(&node->osresolver,
		       cfg->dns.manage_resolv_conf && cfg->dns.enabled ? &want : NULL);
}

static void osresolver_put_back(struct node *node)
{
	if (node->osresolver_ready)
		osresolver_stop(&node->osresolver);
	node->osresolver_ready = false;
}

static void dns_sync(struct node *node);

/* Tells the observer (the views) that what the node shows changed. */
static void node_changed(struct node *node)
{
	dns_sync(node); /* first: the OS resolver takes its split domains */
	osresolver_update(node);
	if (node->observer)
		node->observer(node, node->observer_ctx);
}

void node_set_observer(struct node *node, void (*fn)(struct node *node, void *ctx), void *ctx)
{
	node->observer = fn;
	node->observer_ctx = ctx;
}

static int load_private_key(struct node *node, const struct mg_config *cfg, char *errbuf,
			    size_t errlen)
{
	uint8_t key[KEY_LEN];
	const char *why = NULL;
	int ret;

	ret = dirs_make_parent(cfg->private_key_file, 0700);
	if (ret == 0)
		ret = key_file_load(cfg->private_key_file, key, true, &why);
	if (ret < 0) {
		snprintf(errbuf, errlen, "%s: %s", cfg->private_key_file,
			 why ? why : strerror(-ret));
		goto out;
	}
	ret = wg_device_set_private_key(node->dev, key);
	if (ret < 0) {
		snprintf(errbuf, errlen, "%s: not a usable private key", cfg->private_key_file);
		goto out;
	}
	memcpy(node->public_key, node->dev->identity.static_public, KEY_LEN);
	ret = config_check_own_key(cfg, node->public_key, errbuf, errlen);
out:
	sodium_memzero(key, sizeof(key));
	return ret;
}

/* Follows the static peers' endpoint names of node->cfg. */
static int ddns_update(struct node *node)
{
	struct node_ddns_env env = {
		.loop = node->loop, .resolver = node->resolver, .dev = node->dev, .dp = &node->dp
	};

	return node_ddns_update(&node->ddns, &env, &node->cfg);
}

/* A numeric endpoint as it is; a name's last answer if it has one, else
 * none until its first (node_ddns.h: names are never looked up here). */
static void set_config_endpoint(struct node *node, struct wg_peer *peer,
				const struct config_peer *cp)
{
	const struct ddns_name *dn = node_ddns_find(node->ddns, cp->public_key, &cp->endpoint);
	struct wg_endpoint ep = { 0 };

	if (cp->endpoint.numeric)
		memcpy(&ep.addr, &cp->endpoint.addr, sockaddr_len(&cp->endpoint.addr));
	else if (dn && dn->known)
		memcpy(&ep.addr, &dn->addr, sockaddr_len(&dn->addr));
	else
		return;
	wg_peer_set_endpoint(peer, &ep);
}

/* Endpoint, preshared key and keepalive: what a new or changed peer gets. */
static int configure_peer(struct node *node, struct wg_peer *peer, const struct config_peer *cp)
{
	uint8_t psk[KEY_LEN] = { 0 };
	const char *why = NULL;
	int ret = 0;

	if (cp->has_endpoint)
		set_config_endpoint(node, peer, cp);
	if (cp->preshared_key_file) {
		ret = key_file_load(cp->preshared_key_file, psk, false, &why);
		if (ret < 0) {
			log_err("peer %s: preshared_key_file %s: %s", cp->name,
				cp->preshared_key_file, why ? why : strerror(-ret));
			goto out;
		}
	}
	wg_peer_set_preshared_key(peer, psk);
	wg_peer_set_persistent_keepalive(peer, cp->persistent_keepalive, node->dp.udp_out);
out:
	sodium_memzero(psk, sizeof(psk));
	return ret;
}

/* The allowed IPs the plan gives the engine. Set on every apply: cheap, and
 * sessions do not depend on them. */
static int set_allowed_ips(struct wg_peer *peer, const struct plan_prefixes *ips)
{
	int ret = 0;

	wg_peer_clear_allowed_ips(peer);
	for (size_t i = 0; i < ips->n && ret == 0; i++)
		ret = wg_peer_add_allowed_ip(peer, ips->v[i].family, ips->v[i].addr, ips->v[i].len);
	return ret;
}

/* True if the engine peer with this key belongs to a mesh peer. */
static const struct mesh_peer *mesh_peer_find(const struct mesh_peer *peers, size_t n,
					      const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(peers[i].public_key, key, NOISE_PUBLIC_KEY_LEN))
			return &peers[i];
	return NULL;
}

/* The engine's peer with this key, added if new; NULL with *err set when
 * the engine refuses it (say a low-order key). */
static struct wg_peer *peer_get(struct node *node, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
				const char *name, bool *added, int *err)
{
	struct wg_peer *peer = wg_device_find_peer(node->dev, key);
	int ret;

	*added = false;
	if (peer)
		return peer;
	ret = wg_device_add_peer(node->dev, key, &peer);
	if (ret < 0) {
		log_err("peer %s: cannot add: %s", name, strerror(-ret));
		*err = ret;
		return NULL;
	}
	log_info("peer %s added", name);
	*added = true;
	return peer;
}

/* A mesh peer: candidates always, the endpoint when the mesh says so. */
static int configure_mesh_peer(struct wg_peer *peer, const struct mesh_peer *mp)
{
	int ret = wg_peer_set_candidates(peer, mp->candidates, mp->n_candidates);

	if (mp->set_endpoint)
		wg_peer_set_endpoint(peer, &mp->endpoint);
	return ret;
}

/* The attached device with this key, or NULL. */
static const struct mesh_device *attached_find(const struct mesh_view *view,
					       const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	for (size_t i = 0; i < view->n_devices; i++)
		if (view->devices[i].attached &&
		    !memcmp(view->devices[i].public_key, key, NOISE_PUBLIC_KEY_LEN))
			return &view->devices[i];
	return NULL;
}

/* True if the engine peer with this key belongs to cfg or the view. */
static bool peer_wanted(const struct mg_config *cfg, const struct mesh_view *view,
			const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return config_peer_find(cfg, key) || mesh_peer_find(view->peers, view->n_peers, key) ||
	       attached_find(view, key);
}

/* The attached devices as engine peers: no endpoint (the device dials in)
 * and no keepalive; allowed IPs from the plan, whose peers after the
 * config's and the mesh's are the attached devices in view order. */
static int apply_devices(struct node *node, const struct mg_config *cfg,
			 const struct mesh_view *view, const struct route_plan *plan)
{
	size_t k = cfg->n_peers + view->n_peers;
	struct wg_peer *peer;
	bool added;
	int failed = 0;

	for (size_t i = 0; i < view->n_devices; i++) {
		const struct mesh_device *d = &view->devices[i];
		size_t idx = k;

		if (!d->attached)
			continue;
		k++;
		if (config_peer_find(cfg, d->public_key) ||
		    mesh_peer_find(view->peers, view->n_peers, d->public_key))
			continue;
		peer = peer_get(node, d->public_key, d->name, &added, &failed);
		if (!peer)
			continue;
		wg_peer_set_name(peer, d->name);
		failed = set_allowed_ips(peer, &plan->engine_allowed_ips[idx]) ?: failed;
	}
	return failed;
}

/*
 * Makes the engine's peers those of `cfg` plus the view's (mesh peers and
 * attached devices): removes peers none has any more (a device that left
 * the view loses its access at once), adds new ones, reconfigures changed
 * ones. Unchanged config peers (compared with `old`) keep their sessions
 * untouched; changed ones keep them too, as wg does, since a new endpoint
 * or allowed IP does not invalidate keys. A static peer wins over a mesh
 * peer or device with its key. plan->engine_allowed_ips holds the config
 * peers first, then the mesh's, then the attached devices.
 */
static int apply_peers(struct node *node, const struct mg_config *old, const struct mg_config *cfg,
		       const struct mesh_view *view, const struct route_plan *plan)
{
	const struct mesh_peer *mesh = view->peers;
	size_t n_mesh = view->n_peers;
	struct wg_peer *peer;
	bool added;
	int failed = 0;

	for (struct wg_peer *p = node->dev->peers, *next; p; p = next) {
		next = p->next_peer;
		if (!peer_wanted(cfg, view, p->public_key)) {
			log_info("peer %s removed", p->name);
			wg_device_remove_peer(node->dev, p);
		}
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *cp = &cfg->peers[i];
		const struct config_peer *was = old ? config_peer_find(old, cp->public_key) : NULL;

		peer = peer_get(node, cp->public_key, cp->name, &added, &failed);
		if (!peer)
			continue;
		wg_peer_set_name(peer, cp->name);
		if (added || !was || !config_peer_equal(was, cp))
			failed = configure_peer(node, peer, cp) ?: failed;
		failed = set_allowed_ips(peer, &plan->engine_allowed_ips[i]) ?: failed;
	}
	for (size_t i = 0; i < n_mesh; i++) {
		if (config_peer_find(cfg, mesh[i].public_key))
			continue;
		peer = peer_get(node, mesh[i].public_key, mesh[i].name, &added, &failed);
		if (!peer)
			continue;
		wg_peer_set_name(peer, mesh[i].name);
		failed = configure_mesh_peer(peer, &mesh[i]) ?: failed;
		failed =
		    set_allowed_ips(peer, &plan->engine_allowed_ips[cfg->n_peers + i]) ?: failed;
	}
	failed = apply_devices(node, cfg, view, plan) ?: failed;
	dataplane_flush(&node->dp);
	return failed;
}

/*
 * Applies a plan: the router (routes, rules, nftables, sysctls), then the
 * engine's peers, the peers also when the router failed. Returns the first
 * error with errbuf saying why; the outcome is kept in node->apply_error
 * ("what: why") for the status document, empty after a success.
 */
static int apply_plan(struct node *node, const char *what, const struct mg_config *old,
		      const struct mg_config *cfg, const struct mesh_view *view,
		      const struct route_plan *plan, char *errbuf, size_t errlen)
{
	char why[sizeof(node->apply_error) - 64];
	int ret = router_apply(&node->router, plan, why, sizeof(why)), peers;

	peers = apply_peers(node, old, cfg, view, plan);
	if (ret == 0 && peers < 0) {
		ret = peers;
		snprintf(why, sizeof(why), "engine peers: %s", strerror(-peers));
	}
	if (ret == 0) {
		node->apply_error[0] = '\0';
		return 0;
	}
	snprintf(node->apply_error, sizeof(node->apply_error), "%s: %s", what, why);
	snprintf(errbuf, errlen, "%s", why);
	return ret;
}

/* The config's addresses followed by the mesh's; free v afterwards. */
static int merged_addresses(const struct mg_config *cfg, const struct prefix *mesh, size_t n_mesh,
			    struct prefix_list *out)
{
	out->n = cfg->addresses.n + n_mesh;
	out->v = calloc(out->n + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	/* memcpy() from NULL is undefined even for zero bytes. */
	if (cfg->addresses.n)
		memcpy(out->v, cfg->addresses.v, cfg->addresses.n * sizeof(*out->v));
	if (n_mesh)
		memcpy(out->v + cfg->addresses.n, mesh, n_mesh * sizeof(*out->v));
	return 0;
}

/* The plan's peers: the config's, the mesh's, then the attached devices
 * (pointing into cfg and view); *n of them. */
static struct plan_peer *plan_peers(const struct mg_config *cfg, const struct mesh_view *view,
				    size_t *n)
{
	struct plan_peer *peers =
	    calloc(cfg->n_peers + view->n_peers + view->n_devices + 1, sizeof(*peers));

	*n = 0;
	if (!peers)
		return NULL;
	for (size_t i = 0; i < cfg->n_peers; i++)
		peers[(*n)++] = (struct plan_peer){ .name = cfg->peers[i].name,
						    .allowed_ips = cfg->peers[i].allowed_ips.v,
						    .n_allowed_ips = cfg->peers[i].allowed_ips.n };
	for (size_t i = 0; i < view->n_peers; i++)
		peers[(*n)++] = (struct plan_peer){ .name = view->peers[i].name,
						    .allowed_ips = view->peers[i].allowed_ips,
						    .n_allowed_ips = view->peers[i].n_allowed_ips,
						    .mesh = true,
						    .exit_approved = view->peers[i].exit_approved,
						    .exit_pending = view->peers[i].exit_pending,
						    .offline = !view->peers[i].online };
	for (size_t i = 0; i < view->n_devices; i++) {
		const struct mesh_device *d = &view->devices[i];
		if (d->attached)
			peers[(*n)++] = (struct plan_peer){ .name = d->name,
							    .allowed_ips = d->addresses,
							    .n_allowed_ips = d->n_addresses,
							    .mesh = true,
							    .device = true,
							    .device_exit = d->exit_node };
	}
	return peers;
}

/*
 * The route plan for cfg plus the mesh's view on this host: the peers'
 * allowed IPs and the host's links go in, routes, rules, the nftables table
 * and sysctls come out. Peers: the config's, the mesh's, the attached
 * devices.
 */
static int compute_plan(struct node *node, const struct mg_config *cfg,
			const struct mesh_view *view, struct route_plan *plan, char *errbuf,
			size_t errlen)
{
	const struct mesh_approved *approved = view->approved;
	size_t n_peers;
	struct plan_peer *peers = plan_peers(cfg, view, &n_peers);
	struct mg_config effective = *cfg;
	struct hostinfo info = { 0 };
	struct plan_host host;
	struct prefix resolver[2];
	int ret;

	*plan = (struct route_plan){ 0 };
	effective.addresses = (struct prefix_list){ 0 };
	if (!peers ||
	    merged_addresses(cfg, view->addresses, view->n_addresses, &effective.addresses) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	ret = hostinfo_read(node->rtnl, node->dp.tun.ifindex, &info);
	if (ret < 0) {
		snprintf(errbuf, errlen, "cannot read the host's links and routes: %s",
			 strerror(-ret));
		goto out;
	}
	host = (struct plan_host){ .tun_name = node->dp.tun.name,
				   .mtu = cfg->mtu,
				   .connected = info.connected,
				   .n_connected = info.n_connected,
				   .local_addrs = info.local_addrs,
				   .n_local_addrs = info.n_local_addrs,
				   .mesh_member = mesh_roles_member(&node->roles, cfg),
				   .mesh_joined = approved != NULL,
				   .approved_routes = approved ? approved->routes : NULL,
				   .n_approved_routes = approved ? approved->n_routes : 0,
				   .exit_approved = approved && approved->exit_node,
				   .resolver_addrs = resolver,
				   .n_resolver_addrs = node_dns_addresses(
				       cfg, mesh_roles_member(&node->roles, cfg), resolver),
				   .policy = view->policy };
	memcpy(host.wan_ifname, info.wan_ifname, sizeof(host.wan_ifname));
	ret = route_plan_compute(&effective, peers, n_peers, &host, plan, errbuf, errlen);
	for (size_t i = 0; ret == 0 && i < plan->n_warnings; i++)
		log_warn("%s", plan->warnings[i]);
out:
	hostinfo_free(&info);
	free(effective.addresses.v);
	free(peers);
	return ret;
}

static int set_addresses(struct node *node, const struct mg_config *cfg,
			 const struct prefix *mesh_addrs, size_t n_mesh_addrs)
{
	struct prefix_list all;
	struct prefix resolver[2];
	size_t n_resolver = node_dns_addresses(cfg, mesh_roles_member(&node->roles, cfg), resolver);
	int ret = merged_addresses(cfg, mesh_addrs, n_mesh_addrs, &all);
	struct prefix *grown = ret ? NULL : realloc(all.v, (all.n + 2) * sizeof(*all.v));

	/* The resolver's addresses on the TUN: a peer's or a device's query
	 * arriving there is local, and the exit node's input guard accepts
	 * what is local on the TUN. Every node holds them, so they are
	 * service addresses: never the source of the node's own traffic,
	 * whose replies would stay on the peer. */
	if (ret == 0 && !grown)
		ret = -ENOMEM;
	if (ret == 0) {
		all.v = grown;
		for (size_t i = 0; i < n_resolver; i++)
			all.v[all.n++] = resolver[i];
		ret =
		    link_set_addresses(node->rtnl, node->dp.tun.ifindex, all.v, all.n, n_resolver);
	}
	free(all.v);
	return ret;
}

static int apply_link(struct node *node, const struct mg_config *cfg)
{
	int ret = link_up(node->rtnl, node->dp.tun.ifindex, cfg->mtu);

	if (ret == 0)
		ret = set_addresses(node, cfg, node->mesh_addresses, node->n_mesh_addresses);
	return ret;
}

static void describe_open_error(int err, const struct mg_config *cfg, char *errbuf, size_t errlen)
{
	if (err == -ENODEV || err == -ENOENT || err == -EACCES)
		snprintf(errbuf, errlen, "cannot open /dev/net/tun: %s.\n%s", strerror(-err),
			 preflight_tun_fix(err));
	else if (err == -EADDRINUSE)
		snprintf(errbuf, errlen, "UDP port %u is in use (listen_port)", cfg->listen_port);
	else if (err == -EPERM)
		snprintf(errbuf, errlen,
			 "cannot create %s: %s (meshgated needs CAP_NET_ADMIN; run as root)",
			 cfg->interface, strerror(-err));
	else
		snprintf(errbuf, errlen, "cannot create %s: %s", cfg->interface, strerror(-err));
}

static int start_uapi(struct node *node, char *errbuf, size_t errlen)
{
	int ret =
	    uapi_server_start(&node->uapi, node->loop, &node_uapi_ops, node, node->cfg.interface);
	if (ret < 0) {
		snprintf(errbuf, errlen, "UAPI socket for %s: %s", node->cfg.interface,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* ---- meshgate set: the file's preferences with the overrides on top ---- */

/* The exit `auto` uses with view (prefs_exit_auto()); with none offered,
 * the one it chose last, whose traffic the kill switch then holds. */
static void exit_auto_choose(const struct node *node, const struct mesh_view *view, char *out,
			     size_t len)
{
	struct prefs_exit_candidate *c = calloc(view->n_peers + 1, sizeof(*c));
	long i = -1;

	for (size_t k = 0; c && k < view->n_peers; k++) {
		const struct mesh_peer *mp = &view->peers[k];
		const struct wg_peer *peer = wg_device_find_peer(node->dev, mp->public_key);
		c[k] = (struct prefs_exit_candidate){ .name = mp->name,
						      .offered = mp->exit_offered,
						      .last_handshake =
							  peer ? peer->last_handshake.tv_sec : 0 };
	}
	if (c)
		i = prefs_exit_auto(c, view->n_peers, node->exit_auto, time(NULL),
				    REJECT_AFTER_TIME);
	snprintf(out, len, "%s", i >= 0 ? view->peers[i].name : node->exit_auto);
	free(c);
}

static bool exit_auto(const struct prefs *p)
{
	return p->set[PREFS_EXIT_NODE] && p->exit_mode == PREFS_EXIT_AUTO;
}

/* cfg with the file's preferences and over on top, `auto` choosing from
 * view into pick ("" when over is not auto); see prefs_effective(). */
static int effective_config(const struct node *node, const struct prefs *file,
			    const struct prefs *over, const struct mesh_view *view,
			    struct mg_config *cfg, struct prefix_list *routes, char *pick,
			    char *errbuf, size_t errlen)
{
	pick[0] = '\0';
	if (exit_auto(over))
		exit_auto_choose(node, view, pick, CONFIG_NAME_MAX + 1);
	return prefs_effective(file, over, pick, cfg, routes, errbuf, errlen);
}

/* Takes node->cfg back to the file's preferences and keeps why the
 * overrides were dropped; the node starts all the same. */
static void prefs_ignore(struct node *node, const char *why)
{
	static const struct prefs none = { 0 };
	struct mg_config cfg = node->cfg;
	struct prefix_list routes = { 0 };
	char pick[CONFIG_NAME_MAX + 1] = "", err[256];

	snprintf(node->prefs_error, sizeof(node->prefs_error), "%s/%s ignored: %s",
		 node->cfg.state_dir, PREFS_FILE, why);
	log_err("%s; the config file decides", node->prefs_error);
	prefs_free(&node->prefs);
	if (prefs_effective(&node->file_prefs, &none, pick, &cfg, &routes, err, sizeof(err)) < 0) {
		free(routes.v);
		return;
	}
	free(node->cfg.subnet_router.routes.v);
	node->cfg = cfg;
}

/* At start: state_dir/PREFS_FILE over the file's preferences. A file that
 * cannot be read, or whose preferences the config cannot take, is
 * ignored: it never stops the node. */
static void prefs_start(struct node *node)
{
	static const struct mesh_view no_view = { 0 };
	struct mg_config cfg = node->cfg;
	struct prefix_list routes = { 0 };
	char err[512], pick[CONFIG_NAME_MAX + 1];
	int ret = prefs_of_config(&node->cfg, &node->file_prefs);

	if (ret < 0) {
		prefs_ignore(node, strerror(-ret));
		return;
	}
	if (prefs_load(node->cfg.state_dir, &node->prefs, err, sizeof(err)) < 0) {
		prefs_ignore(node, err);
		return;
	}
	if (!prefs_any(&node->prefs))
		return;
	ret = effective_config(node, &node->file_prefs, &node->prefs, &no_view, &cfg, &routes, pick,
			       err, sizeof(err));
	if (ret < 0) {
		free(routes.v);
		prefs_ignore(node, err);
		return;
	}
	free(node->cfg.subnet_router.routes.v);
	node->cfg = cfg;
	log_info("preferences from %s/%s over the config file", node->cfg.state_dir, PREFS_FILE);
}

_Static_assert((int)CONFIG_CRYPTO_THREADS_MAX == (int)DATAPLANE_CRYPTO_THREADS_MAX,
	       "crypto_threads has one bound");

/* The config's data-plane switches with the environment's overrides on top. */
static int dataplane_options(const struct mg_config *cfg, struct dataplane_options *opt,
			     char *errbuf, size_t errlen)
{
	const char *bad = NULL;

	*opt = (struct dataplane_options){ .offloads = cfg->offloads,
					   .crypto_threads = cfg->crypto_threads };
	if (dataplane_options_from_env(opt, getenv("MESHGATE_OFFLOADS"),
				       getenv("MESHGATE_CRYPTO_THREADS"), &bad) < 0) {
		snprintf(errbuf, errlen, "%s: not understood (\"%s\")", bad, getenv(bad));
		return -EINVAL;
	}
	if (!opt->offloads)
		log_info("offloads off (%s)", cfg->offloads ? "MESHGATE_OFFLOADS" : "config");
	return 0;
}

int node_start(struct node *node, struct loop *loop, struct mg_config *cfg, const char *config_path,
	       char *errbuf, size_t errlen)
{
	static const struct mesh_view no_view = { 0 };
	struct dataplane_options dp_opt;
	int ret;

	*node = (struct node){ .cfg = *cfg, .loop = loop, .started_at = (uint64_t)time(NULL) };
	*cfg = (struct mg_config){ 0 };
	node->config_path = config_path ? strdup(config_path) : NULL;

	ret = dirs_make(node->cfg.state_dir, 0700);
	if (ret < 0) {
		snprintf(errbuf, errlen, "state_dir %s: %s", node->cfg.state_dir, strerror(-ret));
		goto err;
	}
	node->resolver = resolver_new(loop);
	node->dev = node->resolver ? wg_device_new(&node_env, node->cfg.mtu) : NULL;
	if (!node->dev) {
		ret = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		goto err;
	}
	ret = load_private_key(node, &node->cfg, errbuf, errlen);
	if (ret < 0)
		goto err;
	ret = dataplane_options(&node->cfg, &dp_opt, errbuf, errlen);
	if (ret < 0)
		goto err;
	ret = dataplane_open(&node->dp, loop, node->dev, node->cfg.interface, node->cfg.listen_port,
			     FWMARK_BYPASS, &dp_opt);
	if (ret < 0) {
		describe_open_error(ret, &node->cfg, errbuf, errlen);
		goto err;
	}
	node->rtnl = rtnl_open();
	ret = node->rtnl ? apply_link(node, &node->cfg) : -errno;
	if (ret < 0) {
		snprintf(errbuf, errlen, "configuring %s: %s", node->dp.tun.name, strerror(-ret));
		goto err;
	}
	router_init(&node->router, node->rtnl, loop, node->dp.tun.ifindex, node->cfg.state_dir);
	prefs_start(node);
	ret = compute_plan(node, &node->cfg, &no_view, &node->plan, errbuf, errlen);
	if (ret < 0 && prefs_any(&node->prefs)) {
		prefs_ignore(node, errbuf);
		route_plan_free(&node->plan);
		ret = compute_plan(node, &node->cfg, &no_view, &node->plan, errbuf, errlen);
	}
	if (ret == 0)
		ret = router_apply(&node->router, &node->plan, errbuf, errlen);
	if (ret < 0)
		goto err;
	ret = start_uapi(node, errbuf, errlen);
	if (ret < 0)
		goto err;
	/* A peer the engine refuses does not stop the node: the status says so. */
	ret = apply_peers(node, NULL, &node->cfg, &no_view, &node->plan);
	if (ret < 0) {
		snprintf(node->apply_error, sizeof(node->apply_error), "start: engine peers: %s",
			 strerror(-ret));
		log_err("%s", node->apply_error);
	}
	if (ddns_update(node) < 0)
		log_err("peer endpoint names: out of memory; they are not looked up");
	dns_sync(node);
	log_info("%s up: listening on UDP port %u, %zu peer(s)", node->dp.tun.name,
		 node->dp.udp.port, node->cfg.n_peers);
	osresolver_update(node);
	return 0;
err:
	node_stop(node);
	return ret;
}

static void mesh_peers_free(struct mesh_peer *peers, size_t n);

void node_stop(struct node *node)
{
	node_dns_stop(&node->dns);
	mesh_roles_stop(&node->roles);
	osresolver_put_back(node);
	uapi_server_stop(node->uapi);
	node->uapi = NULL;
	if (node->dev)
		wg_device_remove_all_peers(node->dev);
	if (node->router.rtnl)
		router_stop(&node->router);
	route_plan_free(&node->plan);
	dataplane_close(&node->dp);
	rtnl_close(node->rtnl);
	node->rtnl = NULL;
	wg_device_free(node->dev);
	node->dev = NULL;
	node_ddns_free(node->ddns);
	node->ddns = NULL;
	resolver_free(node->resolver);
	node->resolver = NULL;
	config_free(&node->cfg);
	prefs_free(&node->prefs);
	prefs_free(&node->file_prefs);
	free(node->config_path);
	node->config_path = NULL;
	mesh_peers_free(node->mesh_peers, node->n_mesh_peers);
	free(node->mesh_addresses);
	free(node->approved_routes);
	free(node->mesh_devices);
	node->mesh_peers = NULL;
	node->mesh_addresses = NULL;
	node->approved_routes = NULL;
	node->mesh_devices = NULL;
	node->n_mesh_peers = node->n_mesh_addresses = node->n_approved_routes = 0;
	node->n_mesh_devices = 0;
	acl_filter_free(&node->policy);
}

static void mesh_peers_free(struct mesh_peer *peers, size_t n)
{
	for (size_t i = 0; peers && i < n; i++)
		free(peers[i].allowed_ips);
	free(peers);
}

/* A copy of n elements of size bytes, never NULL when it succeeds. */
static void *array_dup(const void *v, size_t n, size_t size)
{
	void *out = calloc(n + 1, size);

	/* memcpy() from NULL is undefined even for zero bytes. */
	if (out && n)
		memcpy(out, v, n * size);
	return out;
}

static struct mesh_peer *mesh_peers_copy(const struct mesh_peer *peers, size_t n)
{
	struct mesh_peer *p = calloc(n + 1, sizeof(*p));

	for (size_t i = 0; p && i < n; i++) {
		p[i] = peers[i];
		p[i].allowed_ips =
		    array_dup(peers[i].allowed_ips, peers[i].n_allowed_ips, sizeof(struct prefix));
		if (!p[i].allowed_ips) {
			mesh_peers_free(p, i);
			return NULL;
		}
	}
	return p;
}

/* Owned copies of a view's arrays; the counts are the view's. */
struct view_copy {
	struct mesh_peer *peers;
	struct prefix *addresses;
	struct prefix *approved;
	struct mesh_device *devices;
	struct acl_filter policy;
};

static void view_copy_free(struct view_copy *c, const struct mesh_view *v)
{
	mesh_peers_free(c->peers, v->n_peers);
	free(c->addresses);
	free(c->approved);
	free(c->devices);
	acl_filter_free(&c->policy);
	*c = (struct view_copy){ 0 };
}

/* A deep copy of f through its JSON form; out->present false for none. */
static int policy_copy(const struct acl_filter *f, struct acl_filter *out)
{
	json_t *doc;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!f || !f->present)
		return 0;
	doc = acl_filter_to_json(f);
	ret = doc ? acl_filter_from_json(doc, out, NULL, 0) : -ENOMEM;
	json_decref(doc);
	out->present = ret == 0;
	return ret;
}

/* Deep copies of the view handed to node_set_mesh(): *out is the same view
 * over the copies (its approved points to *approved). */
static int view_copy(const struct mesh_view *v, struct view_copy *c, struct mesh_approved *approved,
		     struct mesh_view *out)
{
	const struct mesh_approved *a = v->approved;
	size_t n_approved = a ? a->n_routes : 0;

	*c = (struct view_copy){
		.peers = mesh_peers_copy(v->peers, v->n_peers),
		.addresses = array_dup(v->addresses, v->n_addresses, sizeof(struct prefix)),
		.approved = array_dup(a ? a->routes : NULL, n_approved, sizeof(struct prefix)),
		.devices = array_dup(v->devices, v->n_devices, sizeof(struct mesh_device)),
	};
	if (!c->peers || !c->addresses || !c->approved || !c->devices ||
	    policy_copy(v->policy, &c->policy) < 0) {
		view_copy_free(c, v);
		return -ENOMEM;
	}
	*approved = (struct mesh_approved){ .routes = c->approved,
					    .n_routes = n_approved,
					    .exit_node = a && a->exit_node };
	*out = (struct mesh_view){ .peers = c->peers,
				   .n_peers = v->n_peers,
				   .addresses = c->addresses,
				   .n_addresses = v->n_addresses,
				   .approved = a ? approved : NULL,
				   .devices = c->devices,
				   .n_devices = v->n_devices,
				   .dns = v->dns,
				   .policy = c->policy.present ? &c->policy : NULL };
	return 0;
}

/* The node's stored mesh state as a view; its approved points to *approved. */
static struct mesh_view node_view(const struct node *node, struct mesh_approved *approved)
{
	*approved = (struct mesh_approved){ .routes = node->approved_routes,
					    .n_routes = node->n_approved_routes,
					    .exit_node = node->approved_exit };
	return (struct mesh_view){ .peers = node->mesh_peers,
				   .n_peers = node->n_mesh_peers,
				   .addresses = node->mesh_addresses,
				   .n_addresses = node->n_mesh_addresses,
				   .approved = approved,
				   .devices = node->mesh_devices,
				   .n_devices = node->n_mesh_devices,
				   .policy = node->policy.present ? &node->policy : NULL };
}

/* The resolver after a change: its zone from the node's mesh state. */
static void dns_sync(struct node *node)
{
	struct mesh_approved approved;
	struct mesh_view view = node_view(node, &approved);

	const struct route_plan *plan = &node->plan;
	const char *exit_name = !plan->exit_wanted ? NULL
				: plan->exit_state == PLAN_EXIT_IN_USE
				    ? node->cfg.use_exit_node.peer
				    : "";

	node_dns_sync(&node->dns, node->loop, &node->cfg,
		      mesh_roles_member(&node->roles, &node->cfg), &view, exit_name,
		      node->dp.tun.name[0] ? node->dp.tun.name : NULL);
}

/* Makes v (over the copies in c, now the node's) the node's mesh state. */
static void node_keep_view(struct node *node, struct view_copy *c, const struct mesh_view *v)
{
	mesh_peers_free(node->mesh_peers, node->n_mesh_peers);
	free(node->mesh_addresses);
	free(node->approved_routes);
	free(node->mesh_devices);
	node->mesh_peers = c->peers;
	node->n_mesh_peers = v->n_peers;
	node->mesh_addresses = c->addresses;
	node->n_mesh_addresses = v->n_addresses;
	node->approved_routes = c->approved;
	node->n_approved_routes = v->approved ? v->approved->n_routes : 0;
	node->approved_exit = v->approved && v->approved->exit_node;
	node->mesh_devices = c->devices;
	node->n_mesh_devices = v->n_devices;
	acl_filter_free(&node->policy);
	node->policy = c->policy;
	*c = (struct view_copy){ 0 };
}

int node_set_mesh(struct node *node, const struct mesh_view *view, char *errbuf, size_t errlen)
{
	struct mesh_approved approved;
	struct route_plan plan = { 0 };
	struct mg_config cfg = node->cfg;
	char pick[CONFIG_NAME_MAX + 1] = "";
	struct view_copy c;
	struct mesh_view v;
	int addr_ret, ret = view_copy(view, &c, &approved, &v);

	if (ret == 0 && exit_auto(&node->prefs)) {
		exit_auto_choose(node, &v, pick, sizeof(pick));
		snprintf(cfg.use_exit_node.peer, sizeof(cfg.use_exit_node.peer), "%s",
			 pick[0] ? pick : "auto");
	}
	if (ret < 0)
		snprintf(errbuf, errlen, "out of memory");
	else
		ret = compute_plan(node, &cfg, &v, &plan, errbuf, errlen);
	if (ret < 0) {
		route_plan_free(&plan);
		view_copy_free(&c, view);
		return ret;
	}
	addr_ret = set_addresses(node, &node->cfg, v.addresses, v.n_addresses);
	ret = apply_plan(node, "mesh", &node->cfg, &cfg, &v, &plan, errbuf, errlen);
	if (addr_ret < 0) {
		log_err("mesh addresses: %s", strerror(-addr_ret));
		if (ret == 0) {
			snprintf(errbuf, errlen, "addresses: %s", strerror(-addr_ret));
			snprintf(node->apply_error, sizeof(node->apply_error), "mesh: %s", errbuf);
			ret = addr_ret;
		}
	}
	/* Kept also after a failure: the next change is applied from it. */
	route_plan_free(&node->plan);
	node->plan = plan;
	if (exit_auto(&node->prefs) && strcmp(pick, node->exit_auto) != 0)
		log_info("exit node auto: %s -> %s", node->exit_auto[0] ? node->exit_auto : "none",
			 pick[0] ? pick : "none");
	memcpy(node->exit_auto, pick, sizeof(node->exit_auto));
	memcpy(node->cfg.use_exit_node.peer, cfg.use_exit_node.peer,
	       sizeof(node->cfg.use_exit_node.peer));
	node_keep_view(node, &c, &v);
	if (node_dns_take_names(&node->dns, view) < 0)
		log_err("dns: the mesh's names: out of memory");
	node_changed(node);
	return ret;
}

/* cfg of a reload with the overrides on top; *file gets its own values,
 * pick the exit `auto` chose. */
static int prefs_reload(struct node *node, struct mg_config *cfg, struct prefs *file, char *pick,
			char *errbuf, size_t errlen)
{
	struct mesh_approved approved;
	struct mesh_view view = node_view(node, &approved);
	struct prefix_list routes = { 0 }, old = cfg->subnet_router.routes;
	int ret = prefs_of_config(cfg, file);

	if (ret < 0) {
		snprintf(errbuf, errlen, "out of memory");
		return ret;
	}
	ret = effective_config(node, file, &node->prefs, &view, cfg, &routes, pick, errbuf, errlen);
	if (ret < 0) {
		cfg->subnet_router.routes = old;
		free(routes.v);
		prefs_free(file);
		return ret;
	}
	free(old.v);
	return 0;
}

/* Undoes a set whose apply or file write failed: node->cfg and node->plan
 * are still the running ones. */
static void set_undo(struct node *node, const struct mg_config *tried, const struct mesh_view *view)
{
	char err[512];

	if (apply_plan(node, "set", tried, &node->cfg, view, &node->plan, err, sizeof(err)) < 0)
		log_err("set: cannot restore the previous state: %s", err);
}

int node_set_prefs(struct node *node, const struct prefs *p, char *errbuf, size_t errlen)
{
	struct mesh_approved approved;
	struct mesh_view view = node_view(node, &approved);
	struct mg_config cfg = node->cfg;
	struct prefix_list routes = { 0 };
	struct route_plan plan = { 0 };
	struct prefs copy = { 0 };
	char pick[CONFIG_NAME_MAX + 1] = "";
	int ret = prefs_copy(&copy, p);

	if (ret < 0)
		snprintf(errbuf, errlen, "out of memory");
	if (ret == 0)
		ret = effective_config(node, &node->file_prefs, p, &view, &cfg, &routes, pick,
				       errbuf, errlen);
	if (ret == 0)
		ret = compute_plan(node, &cfg, &view, &plan, errbuf, errlen);
	if (ret < 0)
		goto out;
	ret = apply_plan(node, "set", &node->cfg, &cfg, &view, &plan, errbuf, errlen);
	if (ret == 0)
		ret = prefs_save(node->cfg.state_dir, p, errbuf, errlen);
	if (ret < 0) {
		set_undo(node, &cfg, &view);
		goto out;
	}
	free(node->cfg.subnet_router.routes.v);
	node->cfg = cfg;
	routes = (struct prefix_list){ 0 };
	route_plan_free(&node->plan);
	node->plan = plan;
	plan = (struct route_plan){ 0 };
	prefs_free(&node->prefs);
	node->prefs = copy;
	copy = (struct prefs){ 0 };
	memcpy(node->exit_auto, pick, sizeof(node->exit_auto));
	node->prefs_error[0] = '\0';
	log_info("meshgate set: preferences changed (%s/%s)", node->cfg.state_dir, PREFS_FILE);
	node_changed(node);
out:
	free(routes.v);
	route_plan_free(&plan);
	prefs_free(&copy);
	return ret;
}

static int reload_interface(struct node *node, const struct mg_config *cfg)
{
	int ret = 0;

	if (strcmp(cfg->interface, node->cfg.interface) != 0)
		log_warn("interface %s -> %s: a new interface name takes effect on restart",
			 node->cfg.interface, cfg->interface);
	if (cfg->listen_port != node->cfg.listen_port) {
		ret = node_set_listen_port(node, cfg->listen_port);
		if (ret < 0)
			log_err("listen_port %u: %s", cfg->listen_port, strerror(-ret));
	}
	if (strcmp(cfg->control_group, node->cfg.control_group) != 0)
		log_warn("control_group '%s' -> '%s': takes effect on restart",
			 node->cfg.control_group, cfg->control_group);
	if (cfg->mtu != node->cfg.mtu)
		log_warn("mtu %u -> %u: a new MTU takes effect on restart", node->cfg.mtu,
			 cfg->mtu);
	if (cfg->offloads != node->cfg.offloads || cfg->crypto_threads != node->cfg.crypto_threads)
		log_warn("offloads and crypto_threads take effect on restart");
	ret = set_addresses(node, cfg, node->mesh_addresses, node->n_mesh_addresses);
	if (ret < 0)
		log_err("addresses: %s", strerror(-ret));
	return ret;
}

int node_reload(struct node *node)
{
	struct mesh_approved approved;
	struct mesh_view view = node_view(node, &approved);
	struct route_plan plan;
	struct mg_config cfg;
	struct prefs file;
	char err[4096], pick[CONFIG_NAME_MAX + 1];
	int ret;

	if (!node->config_path) {
		log_info("reload: running on built-in defaults, nothing to read");
		return 0;
	}
	ret = config_load(node->config_path, &cfg, err, sizeof(err));
	if (ret < 0) {
		log_err("reload failed, keeping the running configuration:\n%s", err);
		config_free(&cfg);
		return ret;
	}
	if (strcmp(cfg.private_key_file, node->cfg.private_key_file) != 0) {
		char kerr[512];
		if (load_private_key(node, &cfg, kerr, sizeof(kerr)) < 0)
			log_err("reload: %s", kerr);
	} else if (config_check_own_key(&cfg, node->public_key, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration:\n%s", err);
		config_free(&cfg);
		return -EINVAL;
	}
	ret = prefs_reload(node, &cfg, &file, pick, err, sizeof(err));
	if (ret < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		config_free(&cfg);
		return ret;
	}
	ret = compute_plan(node, &cfg, &view, &plan, err, sizeof(err));
	if (ret < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		route_plan_free(&plan);
		prefs_free(&file);
		config_free(&cfg);
		return ret;
	}
	reload_interface(node, &cfg);
	ret = apply_plan(node, "reload", &node->cfg, &cfg, &view, &plan, err, sizeof(err));
	if (ret < 0)
		log_err("reload: %s", err);
	route_plan_free(&node->plan);
	node->plan = plan;
	config_free(&node->cfg);
	node->cfg = cfg;
	prefs_free(&node->file_prefs);
	node->file_prefs = file;
	memcpy(node->exit_auto, pick, sizeof(node->exit_auto));
	if (ddns_update(node) < 0)
		log_err("reload: peer endpoint names: out of memory");
	node_changed(node);
	log_info("configuration reloaded: %zu peer(s)", node->cfg.n_peers);
	return ret;
}

int node_set_private_key(struct node *node, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	/* Even when it fails over a peer with an unusable key, the new
	 * identity is in place: keep our copy of the public key in step. */
	int ret = wg_device_set_private_key(node->dev, key);

	memcpy(node->public_key, node->dev->identity.static_public, KEY_LEN);
	return ret;
}

int node_set_listen_port(struct node *node, uint16_t port)
{
	return dataplane_set_port(&node->dp, port);
}

int node_set_fwmark(struct node *node, uint32_t fwmark)
{
	int ret = udp_set_fwmark(&node->dp.udp, fwmark);
	return ret;
}

uint16_t node_listen_port(const struct node *node)
{
	return node->dp.udp.port;
}

uint32_t node_fwmark(const struct node *node)
{
	return node->dp.udp.fwmark;
}
