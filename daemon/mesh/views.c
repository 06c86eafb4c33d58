/* The coordinator's views of its nodes; see views.h. */
#include "mesh/views.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mesh/apply.h"
#include "mesh/audit.h"
#include "mesh/netmap_build.h"
#include "mesh/coordinator_role.h"

/* ---- relay keys ---- */

const uint8_t *coord_relay_key_for(void *ctx, uint32_t node_id)
{
	struct coordinator *c = ctx;

	for (size_t i = 0; i < c->n_relay; i++)
		if (c->relay[i].id == node_id)
			return c->relay[i].key;
	return NULL;
}

/* One relay key per registered node but this one; reuses computed keys. */
static void relay_keys_update(struct coordinator *c, const struct registry_node *nodes, size_t n)
{
	struct relay_key *next = calloc(n + 1, sizeof(*next));
	struct mesh_dh dh = mesh_host_dh(&c->host);
	size_t k = 0;

	if (!next)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *old = coord_relay_key_for(c, nodes[i].id);
		if (nodes[i].id == c->self_id)
			continue;
		next[k].id = nodes[i].id;
		memcpy(next[k].public_key, nodes[i].public_key, KEY_LEN);
		if (old)
			memcpy(next[k].key, old, RELAY_KEY_LEN);
		else if (relay_key_derive(next[k].key, &dh, nodes[i].public_key) < 0)
			continue;
		k++;
	}
	sodium_memzero(c->relay, c->n_relay * sizeof(*c->relay));
	free(c->relay);
	c->relay = next;
	c->n_relay = k;
}

/* ---- views ---- */

struct conn *coord_conn_by_node(struct coordinator *c, uint32_t id)
{
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->node_id == id)
			return k;
	return NULL;
}

/* The engine's facts of the peer with key, when it has a direct endpoint. */
bool coord_direct_endpoint(const struct coordinator *c, const uint8_t *key,
			   struct mesh_peer_facts *f)
{
	return c->host.ops->peer_facts(c->host.ctx, key, f) && f->has_endpoint &&
	       !wg_endpoint_is_relay(&f->endpoint);
}

/* The same for node id (one with a relay key: any but this node). */
bool coord_node_direct(const struct coordinator *c, uint32_t id, struct mesh_peer_facts *f)
{
	for (size_t i = 0; i < c->n_relay; i++)
		if (c->relay[i].id == id)
			return coord_direct_endpoint(c, c->relay[i].public_key, f);
	return false;
}

bool coord_node_online(const struct coordinator *c, uint32_t node_id)
{
	return node_id == c->self_id ||
	       coord_conn_by_node((struct coordinator *)c, node_id) != NULL;
}

void coord_conn_close(struct conn *k)
{
	struct coordinator *c = k->c;

	for (struct conn **pp = &c->conns; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	c->stats.lines_ignored += k->ch->stats.ignored;
	channel_free(k->ch);
	free(k->last_view);
	free(k);
	c->dirty = true;
}

/* The live state that goes into netmap_build next to the registry. */
struct live {
	uint32_t *online;
	size_t n_online;
	struct netmap_observed *observed;
	size_t n_observed;
};

static void live_collect(struct coordinator *c, const struct registry_node *nodes, size_t n,
			 struct live *lv)
{
	lv->online = calloc(n + 1, sizeof(*lv->online));
	lv->observed = calloc(n + 1, sizeof(*lv->observed));
	if (!lv->online || !lv->observed)
		return;
	for (size_t i = 0; i < n; i++) {
		struct mesh_peer_facts f;
		if (coord_conn_by_node(c, nodes[i].id))
			lv->online[lv->n_online++] = nodes[i].id;
		if (!coord_direct_endpoint(c, nodes[i].public_key, &f))
			continue;
		lv->observed[lv->n_observed].node_id = nodes[i].id;
		mesh_endpoint_from_wg(&f.endpoint, &lv->observed[lv->n_observed].endpoint);
		if (lv->observed[lv->n_observed].endpoint.numeric)
			lv->n_observed++;
	}
}

/* The netmap of id as unversioned JSON text (for comparing views). */
static char *view_text(const struct netmap *nm)
{
	json_t *doc = netmap_to_json(nm);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

/* The coordinator's own node takes its view, approvals included, from its
 * registry like any member. */
static void apply_self(struct coordinator *c, const struct netmap *nm)
{
	struct mesh_approved approved;
	struct mesh_view view;
	struct mesh_peer *peers;
	struct mesh_device *devices;
	struct mesh_split_dns *splits;
	size_t n, n_devices, n_splits;
	char *text = view_text(nm);
	char err[512];

	if (!text || (c->self_view && !strcmp(text, c->self_view))) {
		free(text);
		return;
	}
	if (mesh_apply_peers(nm, c->addrs, c->n_addrs, &peers, &n) < 0) {
		free(text);
		return;
	}
	if (mesh_apply_devices(nm, &devices, &n_devices) < 0) {
		mesh_apply_free(peers, n);
		free(text);
		return;
	}
	if (mesh_apply_split_dns(nm, &splits, &n_splits) < 0) {
		mesh_apply_free(peers, n);
		free(devices);
		free(text);
		return;
	}
	mesh_apply_approved(nm, &approved);
	view = (struct mesh_view){ .peers = peers,
				   .n_peers = n,
				   .addresses = c->addrs,
				   .n_addresses = c->n_addrs,
				   .approved = &approved,
				   .devices = devices,
				   .n_devices = n_devices,
				   .dns = nm->dns.present ? &nm->dns : NULL,
				   .self_name = nm->self.name,
				   .self_id = nm->self.id,
				   .split_dns = splits,
				   .n_split_dns = n_splits,
				   .policy = nm->policy.present ? &nm->policy : NULL };
	if (c->host.ops->reconfigure(c->host.ctx, &view, err, sizeof(err)) < 0) {
		log_err("mesh: %s", err);
		free(text);
	} else {
		free(c->self_view);
		c->self_view = text;
	}
	mesh_apply_free(peers, n);
	free(devices);
	free(splits);
}

/* Tells k the public endpoint its WireGuard packets come from, when that
 * changed (the node probes its port again then). */
static void push_observed(struct conn *k, const struct live *lv)
{
	char text[SOCKADDR_STR_LEN];
	json_t *msg;

	for (size_t i = 0; i < lv->n_observed; i++) {
		if (lv->observed[i].node_id != k->node_id)
			continue;
		sockaddr_format(&lv->observed[i].endpoint.addr, text, sizeof(text));
		if (!strcmp(text, k->last_observed))
			return;
		msg = portprobe_observed_create(&lv->observed[i].endpoint);
		if (msg && channel_send(k->ch, msg) == 0)
			snprintf(k->last_observed, sizeof(k->last_observed), "%s", text);
		json_decref(msg);
		return;
	}
}

/* Pushes nm to k when it differs from what k has. */
static void push_view(struct coordinator *c, struct conn *k, struct netmap *nm)
{
	char *text = view_text(nm);
	json_t *msg;
	int ret;

	if (!text || (k->last_view && !strcmp(text, k->last_view))) {
		free(text);
		return;
	}
	if (registry_next_version(c->reg, &nm->version) < 0) {
		free(text);
		return;
	}
	nm->issued_at = now_s();
	msg = netmap_sign(nm, c->sign_secret);
	ret = msg ? channel_send(k->ch, msg) : -ENOMEM;
	if (ret == 0) {
		free(k->last_view);
		k->last_view = text;
		text = NULL;
		k->oversize_told = false;
		c->stats.netmaps_pushed++;
		log_info("mesh: netmap %llu for %s", (unsigned long long)nm->version,
			 nm->self.name);
	} else if (ret == -EMSGSIZE) {
		/* Tried again at each rebuild (a smaller mesh fits), told once. */
		c->stats.netmaps_oversize++;
		if (!k->oversize_told)
			log_err("mesh: the netmap for %s is over the control channel's %d bytes; "
				"it keeps its last one (fewer nodes, routes or policy rules "
				"would fit)",
				nm->self.name, MESH_CONTROL_LINE_MAX);
		k->oversize_told = true;
	}
	json_decref(msg);
	free(text);
}

/* What netmap_build() takes: the registry's rows and the live state. */
struct build_state {
	struct registry_node *nodes;
	size_t n_nodes;
	struct registry_route *routes;
	size_t n_routes;
	struct registry_device *devices;
	size_t n_devices;
	struct live lv;
	struct netmap_dns dns;       /* the config's; records borrowed from it */
	struct netmap_offer *offers; /* the members' and this node's own */
	struct netmap_acl_mesh acl;
	struct netmap_build_input in;
};

static void build_state_free(struct build_state *bs)
{
	free(bs->lv.online);
	free(bs->lv.observed);
	registry_nodes_free(bs->nodes, bs->n_nodes);
	free(bs->routes);
	free(bs->devices);
	free(bs->offers);
	netmap_build_acl_mesh_free(&bs->acl);
	memset(bs, 0, sizeof(*bs));
}

/* Forgets the offers of nodes no longer registered. */
static void offers_prune(struct coordinator *c, const struct registry_node *nodes, size_t n)
{
	for (size_t i = 0; i < c->n_offers;) {
		bool known = false;
		for (size_t k = 0; k < n && !known; k++)
			known = nodes[k].id == c->offers[i].node_id;
		if (known)
			i++;
		else
			c->offers[i] = c->offers[--c->n_offers];
	}
}

/* The members' offers and this node's own from its config. */
static int offers_collect(struct coordinator *c, struct build_state *bs)
{
	const struct mg_config *cfg = c->host.cfg;
	size_t n = c->n_offers;

	bs->offers = calloc(n + 1, sizeof(*bs->offers));
	if (!bs->offers)
		return -ENOMEM;
	if (n)
		memcpy(bs->offers, c->offers, n * sizeof(*bs->offers));
	if (cfg->subnet_router.dns.domain[0]) {
		struct netmap_offer *own = &bs->offers[n++];
		own->node_id = c->self_id;
		memcpy(own->dns.domain, cfg->subnet_router.dns.domain, sizeof(own->dns.domain));
		own->dns.server = cfg->subnet_router.dns.server;
	}
	bs->in.offers = bs->offers;
	bs->in.n_offers = n;
	return 0;
}

static int build_state_load(struct coordinator *c, struct build_state *bs)
{
	int ret;

	memset(bs, 0, sizeof(*bs));
	ret = registry_nodes(c->reg, &bs->nodes, &bs->n_nodes);
	if (ret == 0)
		ret = registry_routes(c->reg, &bs->routes, &bs->n_routes);
	if (ret == 0)
		ret = registry_devices(c->reg, &bs->devices, &bs->n_devices);
	if (ret < 0) {
		build_state_free(bs);
		return ret;
	}
	live_collect(c, bs->nodes, bs->n_nodes, &bs->lv);
	bs->in = (struct netmap_build_input){ .nodes = bs->nodes,
					      .n_nodes = bs->n_nodes,
					      .routes = bs->routes,
					      .n_routes = bs->n_routes,
					      .devices = bs->devices,
					      .n_devices = bs->n_devices,
					      .online = bs->lv.online,
					      .n_online = bs->lv.n_online,
					      .observed = bs->lv.observed,
					      .n_observed = bs->lv.n_observed,
					      .mesh = c->addrs,
					      .n_mesh = c->n_addrs,
					      .coordinator_id = c->self_id };
	memcpy(bs->in.coordinator_key, c->host.public_key, KEY_LEN);
	/* The mesh's names from this node's dns section: a reload that
	 * changes them changes every view, pushed by the next rebuild. */
	bs->dns = (struct netmap_dns){ .present = true,
				       .records = c->host.cfg->dns.records,
				       .n_records = c->host.cfg->dns.n_records };
	memcpy(bs->dns.domain, c->host.cfg->dns.domain, sizeof(bs->dns.domain));
	bs->in.dns = &bs->dns;
	ret = offers_collect(c, bs);
	if (ret == 0)
		ret = netmap_build_acl_mesh(&bs->in, &bs->acl);
	if (ret < 0) {
		build_state_free(bs);
		return ret;
	}
	if (c->have_policy) {
		bs->in.policy = &c->policy;
		bs->in.policy_revision = c->policy_revision;
		bs->in.acl = &bs->acl;
	}
	return 0;
}

/* The next netmap version as the revision, recorded with the policy's
 * digest, and (audit) the change's entry in the audit log, in one
 * transaction. */
static int policy_revision_take(struct coordinator *c, bool present, const struct acl_policy *p,
				const uint8_t digest[ACL_DIGEST_LEN], bool audit, uint64_t *version)
{
	bool own = registry_begin(c->reg) == 0; /* -EBUSY: the caller's is open */
	int ret = registry_next_version(c->reg, version);

	if (ret == 0)
		ret = registry_policy_set(c->reg, digest, present ? *version : 0);
	if (ret == 0 && audit && present)
		ret = audit_add(c->reg, NULL, "change-policy", "policy",
				"revision %u: default %s, %zu rule(s)", (uint32_t)*version,
				p->def == ACL_DEFAULT_DENY ? "deny" : "allow", p->n_rules);
	else if (ret == 0 && audit)
		ret = audit_add(c->reg, NULL, "change-policy", "policy",
				"none: every node reaches every other");
	if (own && ret == 0)
		ret = registry_commit(c->reg);
	else if (own)
		registry_rollback(c->reg);
	return ret;
}

/* At start: the revision the registry holds for this very policy (a
 * restart changes nothing), else whether to audit the new one: a policy
 * that differs from the recorded one changed while the coordinator was
 * stopped. -ENOENT without a record, where the first policy is no change. */
static int policy_recorded(struct coordinator *c, const uint8_t digest[ACL_DIGEST_LEN],
			   uint64_t *revision, bool *audit)
{
	uint8_t stored[REGISTRY_POLICY_DIGEST_LEN];
	int ret = registry_policy_get(c->reg, stored, revision);

	*audit = ret == 0;
	if (ret == 0 && sodium_memcmp(stored, digest, ACL_DIGEST_LEN) != 0)
		ret = -ESTALE;
	return ret;
}

/* Adopts the config's policy (copy) under revision version. */
static void policy_adopt(struct coordinator *c, bool present, struct acl_policy *copy,
			 uint64_t version)
{
	acl_policy_free(&c->policy);
	c->policy = *copy;
	c->have_policy = present;
	c->policy_revision = c->have_policy ? (uint32_t)version : 0;
	if (c->have_policy)
		log_info("mesh: access policy revision %u: default %s, %zu rule(s)",
			 c->policy_revision, c->policy.def == ACL_DEFAULT_DENY ? "deny" : "allow",
			 c->policy.n_rules);
	else
		log_info("mesh: no access policy: every node reaches every other");
	c->dirty = true;
}

void coord_policy_sync(struct coordinator *c)
{
	const struct mg_config *cfg = c->host.cfg;
	struct acl_policy copy = { 0 };
	uint8_t digest[ACL_DIGEST_LEN] = { 0 }; /* all zero: no policy */
	bool starting = !c->policy_started, audit = true;
	uint64_t version = 0;
	int ret = -ENOENT;

	c->policy_started = true;
	if (!starting && cfg->policy_present == c->have_policy &&
	    (!c->have_policy || acl_policy_equal(&cfg->policy, &c->policy)))
		return;
	if (cfg->policy_present)
		acl_policy_digest(&cfg->policy, digest);
	if (starting) {
		ret = policy_recorded(c, digest, &version, &audit);
		if (ret == -ENOENT && !cfg->policy_present)
			return; /* never had one, has none */
		if (ret < 0 && ret != -ENOENT && ret != -ESTALE)
			log_warn("mesh: cannot read the policy's revision from the registry");
	}
	if (cfg->policy_present && acl_policy_copy(&copy, &cfg->policy) < 0) {
		log_warn("mesh: the access policy: out of memory");
		return;
	}
	if (!(starting && ret == 0) &&
	    policy_revision_take(c, cfg->policy_present, &copy, digest, audit, &version) < 0) {
		log_warn("mesh: cannot record a policy revision in the registry");
		acl_policy_free(&copy);
		return;
	}
	policy_adopt(c, cfg->policy_present, &copy, version);
}

int coord_policy_check(struct coordinator *c, const struct acl_query *q, struct acl_verdict *v)
{
	struct build_state bs;
	int ret;

	coord_policy_sync(c);
	ret = build_state_load(c, &bs);
	if (ret < 0)
		return ret;
	ret = acl_check(&c->policy, &bs.acl.mesh, q, v);
	build_state_free(&bs);
	return ret;
}

int coord_node_netmap(struct coordinator *c, uint32_t id, struct netmap *out)
{
	struct build_state bs;
	int ret = build_state_load(c, &bs);

	if (ret < 0) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	ret = netmap_build(&bs.in, id, out);
	build_state_free(&bs);
	return ret;
}

int coord_self_netmap(struct coordinator *c, struct netmap *out)
{
	return coord_node_netmap(c, c->self_id, out);
}

void coord_rebuild(struct coordinator *c)
{
	struct build_state bs;
	struct netmap nm;
	int ret;

	coord_policy_sync(c);
	c->dirty = false;
	c->last_rebuild = loop_now();
	c->stats.rebuilds++;
	if (build_state_load(c, &bs) < 0)
		return;
	/* Who may peer with whom, once for every netmap of this rebuild
	 * (without it, acl_may_peer() per pair: two compiles each). */
	if (bs.in.policy && netmap_build_acl_reach(&bs.acl, bs.in.policy) < 0)
		log_warn("mesh: the policy's peers: out of memory");
	relay_keys_update(c, bs.nodes, bs.n_nodes);
	offers_prune(c, bs.nodes, bs.n_nodes);
	for (struct conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		ret = netmap_build(&bs.in, k->node_id, &nm);
		if (ret == -ENOENT) {
			coord_conn_close(k); /* removed */
			continue;
		}
		/* A netmap that could not be built is not pushed (the node
		 * keeps its last one); the next rebuild tries again. */
		if (ret == 0)
			push_view(c, k, &nm);
		else
			log_warn("mesh: the netmap of node %u: %s", k->node_id, strerror(-ret));
		push_observed(k, &bs.lv);
		netmap_free(&nm);
	}
	if (netmap_build(&bs.in, c->self_id, &nm) == 0)
		apply_self(c, &nm);
	netmap_free(&nm);
	build_state_free(&bs);
}

/* Arms the timer for due (monotonic ns) unless it fires sooner already. */
void coord_arm(struct coordinator *c, uint64_t due)
{
	if (c->timer_due && c->timer_due <= due)
		return;
	loop_timer_set(c->host.loop, c->timer, due);
	c->timer_due = due;
}

/* The earliest time the next rebuild may run. */
uint64_t coord_rebuild_due(const struct coordinator *c, uint64_t now)
{
	uint64_t soon = now + SCHEDULE_DELAY_MS * MS,
		 spaced = c->last_rebuild + THROTTLE_REBUILD_INTERVAL_MS * MS;

	return c->last_rebuild && spaced > soon ? spaced : soon;
}

/* Rebuilds soon, from the timer (never inside a packet handler), and never
 * sooner than THROTTLE_REBUILD_INTERVAL_MS after the last rebuild. */
void coord_schedule(struct coordinator *c)
{
	c->dirty = true;
	if (c->timer)
		coord_arm(c, coord_rebuild_due(c, loop_now()));
}

/* Whether a rebuild is due at now: a change waits out the spacing; without
 * one, the periodic rebuild picks up endpoints learnt by roaming. */
bool coord_rebuild_now(const struct coordinator *c, uint64_t now)
{
	if (c->dirty)
		return now >= c->last_rebuild + THROTTLE_REBUILD_INTERVAL_MS * MS;
	return now >= c->last_rebuild + REBUILD_EVERY_MS * MS;
}

/* Opens the join gate until the last live invite ends (closes it when none
 * is live). On a registry error the gate keeps its state. */
void coord_gate_refresh(struct coordinator *c)
{
	struct registry_invite *inv = NULL;
	int64_t now = now_s(), until = 0, end;
	size_t n = 0;

	if (registry_invites(c->reg, &inv, &n) < 0) {
		log_warn("mesh: cannot read the invites");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		end = joingate_invite_end(&(struct joingate_invite){
		    .expires_at = inv[i].expires_at,
		    .reusable = inv[i].reusable,
		    .used_at = inv[i].used ? inv[i].used_at : 0,
		});
		if (end > now && end > until)
			until = end;
	}
	free(inv);
	joingate_set_live(&c->gate, until);
}

/* ---- split DNS offers ---- */

int coord_offer_take(struct coordinator *c, uint32_t id, const struct split_dns *offer,
		     bool *changed)
{
	size_t i = 0;
	struct netmap_offer *grown;

	*changed = false;
	while (i < c->n_offers && c->offers[i].node_id != id)
		i++;
	if (i < c->n_offers && !memcmp(&c->offers[i].dns, offer, sizeof(*offer)))
		return 0;
	if (i == c->n_offers && !offer->domain[0])
		return 0;
	*changed = true;
	if (!offer->domain[0]) {
		c->offers[i] = c->offers[--c->n_offers];
		return 0;
	}
	if (i == c->n_offers) {
		grown = realloc(c->offers, (c->n_offers + 1) * sizeof(*c->offers));
		if (!grown) {
			*changed = false;
			return -ENOMEM;
		}
		c->offers = grown;
		c->n_offers++;
	}
	c->offers[i] = (struct netmap_offer){ .node_id = id, .dns = *offer };
	return 0;
}

/* ---- routes ---- */

static bool was_approved(const struct registry_route *v, size_t n, const struct registry_route *r)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].node_id == r->node_id && v[i].approved &&
		    prefix_equal(&v[i].prefix, &r->prefix))
			return true;
	return false;
}

static bool is_listed(const struct registry_route *v, size_t n, const struct registry_route *r)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].node_id == r->node_id && prefix_equal(&v[i].prefix, &r->prefix))
			return true;
	return false;
}

/* Approved routes id no longer advertises: their approval went with them.
 * The node withdrew them (its own config for the coordinator: "daemon"). */
static int audit_unadvertised(struct coordinator *c, const struct registry_node *node,
			      const struct registry_route *before, size_t n,
			      const struct registry_route *after, size_t n_after, const char *why)
{
	struct audit_actor who;
	char text[PREFIX_STR_LEN];
	int ret = 0;

	audit_actor_node(node->name, &who);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (before[i].node_id != node->id || !before[i].approved ||
		    is_listed(after, n_after, &before[i]))
			continue;
		prefix_format(&before[i].prefix, text, sizeof(text));
		ret = audit_add(c->reg, node->id == c->self_id ? NULL : &who,
				registry_route_is_exit(&before[i].prefix) ? "unadvertise-exit"
									  : "unadvertise-route",
				node->name, "%s (%s)", text,
				node->id == c->self_id ? why : "no longer advertised");
	}
	return ret;
}

int coord_audit_approved(struct coordinator *c, uint32_t id, const struct registry_route *before,
			 size_t n, const char *why)
{
	struct registry_route *after = NULL;
	struct registry_node node;
	char text[PREFIX_STR_LEN];
	size_t n_after = 0;
	int ret = registry_node_by_id(c->reg, id, &node);

	if (ret == 0)
		ret = registry_routes(c->reg, &after, &n_after);
	for (size_t i = 0; ret == 0 && i < n_after; i++) {
		if (after[i].node_id != id || !after[i].approved ||
		    was_approved(before, n, &after[i]))
			continue;
		prefix_format(&after[i].prefix, text, sizeof(text));
		ret = audit_add(c->reg, NULL,
				registry_route_is_exit(&after[i].prefix) ? "approve-exit"
									 : "approve-route",
				node.name, "%s (%s)", text, why);
	}
	if (ret == 0)
		ret = audit_unadvertised(c, &node, before, n, after, n_after, why);
	free(after);
	registry_node_clear(&node);
	return ret;
}

/* Records what a member advertises; auto_approve decides what is approved
 * at once (the coordinator's own routes are approved by its config:
 * registry_routes_own()), and its approvals go to the audit log with the
 * change. Inside the caller's transaction when there is one (a join). */
int coord_advertise(struct coordinator *c, uint32_t id, const struct prefix *routes, size_t n,
		    bool *changed)
{
	const struct mg_config *cfg = c->host.cfg;
	struct registry_route *before = NULL;
	size_t n_before = 0;
	bool differs = false, own;
	int ret = registry_routes(c->reg, &before, &n_before);

	if (ret < 0)
		return ret;
	own = registry_begin(c->reg) == 0; /* -EBUSY: the caller's is open */
	ret =
	    registry_routes_advertise(c->reg, id, routes, n, cfg->coordinator.auto_approve.routes.v,
				      cfg->coordinator.auto_approve.routes.n,
				      cfg->coordinator.auto_approve.exit_node, &differs);
	if (ret == 0 && differs)
		ret = coord_audit_approved(c, id, before, n_before, "auto_approve");
	if (own && ret == 0)
		ret = registry_commit(c->reg);
	else if (own)
		registry_rollback(c->reg);
	free(before);
	if (changed)
		*changed = differs;
	return ret;
}
