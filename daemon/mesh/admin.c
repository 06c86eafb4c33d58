/* The coordinator's admin commands; see admin.h. */
#include "mesh/admin.h"

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
#include "mesh/coordinator_role.h"
#include "mesh/ctlserver.h"
#include "mesh/devices.h"
#include "mesh/invite.h"
#include "mesh/views.h"

/* ---- admin commands ---- */

static json_t *fail(struct coordinator *c, const char **error, const char *fmt, const char *arg)
{
	snprintf(c->err, sizeof(c->err), fmt, arg);
	*error = c->err;
	return NULL;
}

/* The invite's endpoints: coordinator.endpoints, the STUN one, the host's. */
static size_t invite_endpoints(struct coordinator *c, struct endpoint *out, enum invite_source *src)
{
	const struct mg_config *cfg = c->host.cfg;
	struct endpoint local[INVITE_MAX_ENDPOINTS], pub;
	size_t n_local = mesh_local_endpoints(
	    c->host.tun_name, c->host.ops->listen_port(c->host.ctx), local, INVITE_MAX_ENDPOINTS);
	bool stun = stunclient_public(c->stun, &pub);

	return invite_endpoints_order(cfg->coordinator.endpoints.v, cfg->coordinator.endpoints.n,
				      stun ? &pub : NULL, local, n_local, out, src,
				      INVITE_MAX_ENDPOINTS);
}

/* The facts `meshgate invite` words its warnings from: each endpoint with
 * where it came from and whether it is global, the listen port, what STUN
 * knows and how many nodes reached this node's port from outside. */
static json_t *invite_facts(struct coordinator *c, const struct endpoint *eps,
			    const enum invite_source *src, size_t n)
{
	struct stunclient_status st;
	char text[ENDPOINT_STR_LEN];
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		endpoint_format(&eps[i], text, sizeof(text));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "endpoint", text, "source",
						     invite_source_name(src[i]), "global",
						     invite_endpoint_global(&eps[i])));
	}
	stunclient_status(c->stun, &st);
	if (st.have_public)
		sockaddr_format(&st.public_ep, text, sizeof(text));
	return json_pack("{s:o, s:i, s:{s:i, s:s?, s:s, s:s?}, s:I}", "endpoints", arr,
			 "listen_port", (int)c->host.ops->listen_port(c->host.ctx), "stun",
			 "servers", (int)st.servers, "public_endpoint",
			 st.have_public ? text : NULL, "nat", stunclient_nat_name(st.nat), "error",
			 st.error[0] ? st.error : NULL, "port_reached_by",
			 (json_int_t)coordinator_port_reached(c));
}

/* Stores the invite and its audit entry in one transaction. */
static int invite_store(struct coordinator *c, const uint8_t *hash, int64_t now, int64_t expires,
			bool reusable, const struct audit_actor *who, uint64_t *id)
{
	char subject[32];
	int ret = registry_begin(c->reg);

	if (ret < 0)
		return ret;
	ret = registry_invite_add(c->reg, hash, now, expires, reusable, id);
	snprintf(subject, sizeof(subject), "invite %" PRIu64, *id);
	if (ret == 0)
		ret = audit_add(c->reg, who, "create-invite", subject, "%s, %s%" PRId64 "%s",
				reusable ? "reusable" : "single-use",
				expires ? "expires in " : "no expiry", expires ? expires - now : 0,
				expires ? " s" : "");
	if (ret == 0)
		ret = registry_commit(c->reg);
	else
		registry_rollback(c->reg);
	return ret;
}

json_t *coordinator_invite(struct coordinator *c, int64_t ttl, bool reusable,
			   const struct audit_actor *who, const char **error)
{
	struct endpoint eps[INVITE_MAX_ENDPOINTS];
	enum invite_source src[INVITE_MAX_ENDPOINTS];
	size_t n = invite_endpoints(c, eps, src);
	uint8_t hash[INVITE_HASH_LEN];
	char code[INVITE_CODE_MAX];
	struct invite inv;
	int64_t now = now_s(), expires = ttl > 0 ? now + ttl : 0;
	json_t *result = NULL;

	if (n == 0)
		return fail(c, error,
			    "no endpoint to put in the invite%s (set coordinator.endpoints)", "");
	if (invite_generate(&inv, c->host.public_key, eps, n) < 0)
		return fail(c, error, "cannot create an invite%s", "");
	invite_secret_hash(inv.secret, hash);
	if (invite_store(c, hash, now, expires, reusable, who, &inv.id) < 0 ||
	    invite_encode(&inv, code, sizeof(code)) < 0)
		fail(c, error, "cannot store the invite%s", "");
	else
		result = json_pack("{s:s, s:I, s:I, s:b, s:o}", "code", code, "id",
				   (json_int_t)inv.id, "expires_at", (json_int_t)expires,
				   "reusable", reusable, "facts", invite_facts(c, eps, src, n));
	coord_gate_refresh(c);
	invite_clear(&inv);
	sodium_memzero(code, sizeof(code));
	return result;
}

/* Whether an invite admits joins at now (the gate's rule). */
static bool invite_live(const struct registry_invite *inv, int64_t now)
{
	return joingate_invite_end(&(struct joingate_invite){
		   .expires_at = inv->expires_at,
		   .reusable = inv->reusable,
		   .used_at = inv->used ? inv->used_at : 0,
	       }) > now;
}

static json_t *invite_json(struct coordinator *c, const struct registry_invite *inv, int64_t now)
{
	struct registry_node n;
	json_t *doc = json_pack(
	    "{s:I, s:I, s:I, s:b, s:b, s:o, s:o}", "id", (json_int_t)inv->id, "created_at",
	    (json_int_t)inv->created_at, "expires_at", (json_int_t)inv->expires_at, "reusable",
	    inv->reusable, "live", invite_live(inv, now), "used_at",
	    inv->used ? json_integer(inv->used_at) : json_null(), "used_by", json_null());

	if (doc && inv->used_by && registry_node_by_id(c->reg, inv->used_by, &n) == 0) {
		json_object_set_new(doc, "used_by", json_string(n.name));
		registry_node_clear(&n);
	}
	return doc;
}

json_t *coordinator_invites(struct coordinator *c, const char **error)
{
	struct registry_invite *inv = NULL;
	size_t n = 0;
	json_t *arr;

	if (registry_invites(c->reg, &inv, &n) < 0)
		return fail(c, error, "cannot read the registry%s", "");
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, invite_json(c, &inv[i], now_s()));
	free(inv);
	return arr;
}

/* Removes the invite and records it, in one transaction. */
static int invite_remove(struct coordinator *c, uint64_t id, const struct audit_actor *who)
{
	char subject[32];
	int ret = registry_begin(c->reg);

	if (ret < 0)
		return ret;
	snprintf(subject, sizeof(subject), "invite %" PRIu64, id);
	ret = registry_invite_remove(c->reg, id);
	if (ret == 0)
		ret = audit_add(c->reg, who, "revoke-invite", subject, NULL);
	if (ret == 0)
		ret = registry_commit(c->reg);
	else
		registry_rollback(c->reg);
	return ret;
}

json_t *coordinator_invite_revoke(struct coordinator *c, uint64_t id, const struct audit_actor *who,
				  const char **error)
{
	char text[24];
	int ret = invite_remove(c, id, who);

	snprintf(text, sizeof(text), "%llu", (unsigned long long)id);
	if (ret == -ENOENT)
		return fail(c, error, "no invite %s (see meshgate invite list)", text);
	if (ret < 0)
		return fail(c, error, "cannot remove invite %s", text);
	log_info("mesh: invite %s revoked", text);
	coord_gate_refresh(c);
	return json_pack("{s:I}", "revoked", (json_int_t)id);
}

/* The ids of the live reusable invites: any of them brings a removed node
 * back if it still holds the code. */
static json_t *live_reusable_invites(struct coordinator *c)
{
	struct registry_invite *inv = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (registry_invites(c->reg, &inv, &n) < 0) {
		json_decref(arr);
		return json_null();
	}
	for (size_t i = 0; arr && i < n; i++)
		if (inv[i].reusable && invite_live(&inv[i], now_s()))
			json_array_append_new(arr, json_integer((json_int_t)inv[i].id));
	free(inv);
	return arr;
}

void coordinator_drops_json(const struct coordinator *c, json_t *drops)
{
	for (int r = 0; r < JOINGATE_DROP_COUNT; r++)
		json_object_set_new(drops, joingate_drop_name(r),
				    json_integer(c ? (json_int_t)c->gate.drops[r] : 0));
}

enum route_filter { ROUTES_ALL, ROUTES_APPROVED, ROUTES_PENDING };

static json_t *node_routes_json(const struct registry_route *routes, size_t n, uint32_t id,
				enum route_filter which)
{
	json_t *arr = json_array();
	char text[PREFIX_STR_LEN];

	for (size_t i = 0; arr && i < n; i++) {
		if (routes[i].node_id != id || (which == ROUTES_APPROVED && !routes[i].approved) ||
		    (which == ROUTES_PENDING && routes[i].approved))
			continue;
		prefix_format(&routes[i].prefix, text, sizeof(text));
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

/* The devices node n hubs: DEVICE and created_at. */
static json_t *node_devices_json(const struct registry_node *n,
				 const struct registry_device *devices, size_t n_devices)
{
	json_t *arr = json_array(), *d;

	for (size_t i = 0; arr && i < n_devices; i++) {
		if (devices[i].hub_id != n->id)
			continue;
		d = coord_device_json(&devices[i], n->name);
		if (d)
			json_object_set_new(d, "created_at", json_integer(devices[i].created_at));
		json_array_append_new(arr, d);
	}
	return arr;
}

static json_t *node_json(struct coordinator *c, const struct registry_node *n,
			 const struct registry_route *routes, size_t n_routes)
{
	struct prefix a[2] = { n->addr4, n->addr6 };
	char key[KEY_B64_LEN + 1];
	struct mesh_peer_facts f;
	struct endpoint seen = { 0 };
	json_t *doc;

	key_to_base64(key, n->public_key);
	doc = json_pack("{s:s, s:I, s:s, s:o, s:b, s:b, s:I, s:o, s:o, s:o}", "name", n->name, "id",
			(json_int_t)n->id, "public_key", key, "addresses", mesh_prefixes_json(a, 2),
			"online", coord_node_online(c, n->id), "coordinator", n->id == c->self_id,
			"last_seen", (json_int_t)(n->id == c->self_id ? now_s() : n->last_seen),
			"endpoints", mesh_endpoints_json(n->endpoints, n->n_endpoints),
			"routes_advertised", node_routes_json(routes, n_routes, n->id, ROUTES_ALL),
			"routes_approved",
			node_routes_json(routes, n_routes, n->id, ROUTES_APPROVED));
	if (!doc)
		return NULL;
	json_object_set_new(doc, "routes_pending",
			    node_routes_json(routes, n_routes, n->id, ROUTES_PENDING));
	/* The public address this node's traffic comes from, as seen here. */
	if (coord_direct_endpoint(c, n->public_key, &f))
		mesh_endpoint_from_wg(&f.endpoint, &seen);
	json_object_set_new(doc, "endpoint_observed",
			    mesh_endpoints_json(&seen, seen.numeric ? 1 : 0));
	return doc;
}

json_t *coordinator_nodes(struct coordinator *c, const char **error)
{
	struct registry_node *nodes = NULL;
	struct registry_route *routes = NULL;
	struct registry_device *devices = NULL;
	size_t n = 0, n_routes = 0, n_devices = 0;
	json_t *arr = NULL, *doc;

	if (registry_nodes(c->reg, &nodes, &n) < 0 ||
	    registry_routes(c->reg, &routes, &n_routes) < 0 ||
	    registry_devices(c->reg, &devices, &n_devices) < 0)
		fail(c, error, "cannot read the registry%s", "");
	else
		arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		doc = node_json(c, &nodes[i], routes, n_routes);
		if (doc)
			json_object_set_new(doc, "devices",
					    node_devices_json(&nodes[i], devices, n_devices));
		json_array_append_new(arr, doc);
	}
	registry_nodes_free(nodes, n);
	free(routes);
	free(devices);
	return arr;
}

int coordinator_audit_role(struct coordinator *c, const struct audit_actor *who, bool created)
{
	size_t nodes = 0, devices = 0;

	if (created)
		return audit_add(c->reg, who, "create-mesh", c->host.cfg->hostname,
				 "this node is its coordinator");
	if (coordinator_members(c, &nodes, &devices) < 0)
		return -EIO;
	return audit_add(c->reg, who, "leave-mesh", c->host.cfg->hostname,
			 "for another mesh; %zu other node(s) and %zu device(s) stranded", nodes,
			 devices);
}

int coordinator_members(struct coordinator *c, size_t *nodes, size_t *devices)
{
	struct registry_node *all = NULL;
	struct registry_device *devs = NULL;
	size_t n = 0;
	int ret = registry_nodes(c->reg, &all, &n);

	*nodes = *devices = 0;
	if (ret == 0)
		ret = registry_devices(c->reg, &devs, devices);
	for (size_t i = 0; ret == 0 && i < n; i++)
		*nodes += all[i].id != c->self_id;
	registry_nodes_free(all, n);
	free(devs);
	return ret;
}

/* The names of the devices hub_id hubs (they go with it). */
static json_t *hub_device_names(struct coordinator *c, uint32_t hub_id)
{
	struct registry_device *devices = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (registry_devices(c->reg, &devices, &n) < 0) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; arr && i < n; i++)
		if (devices[i].hub_id == hub_id)
			json_array_append_new(arr, json_string(devices[i].name));
	free(devices);
	return arr;
}

/* A node by id (digits) or name. */
static int find_node(struct coordinator *c, const char *name, struct registry_node *out)
{
	return registry_node_find(c->reg, name, out) == 0 ? 0 : -ENOENT;
}

/* The devices' names, "a, b", for the audit entry. */
static void names_join(const json_t *names, char *out, size_t len)
{
	size_t i, used = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(names, i, v)
	{
		int n =
		    snprintf(out + used, len - used, "%s%s", i ? ", " : "", json_string_value(v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* Removes node n and records it, in one transaction. */
static int node_remove(struct coordinator *c, const struct registry_node *n, const json_t *devices,
		       const struct audit_actor *who)
{
	char names[REGISTRY_AUDIT_TEXT_MAX + 1];
	int ret = registry_begin(c->reg);

	if (ret < 0)
		return ret;
	names_join(devices, names, sizeof(names));
	ret = registry_node_remove(c->reg, n->id);
	if (ret == 0)
		ret = audit_add(c->reg, who, "remove-node", n->name, "id %" PRIu32 "%s%s", n->id,
				names[0] ? ", devices " : "", names);
	if (ret == 0)
		ret = registry_commit(c->reg);
	else
		registry_rollback(c->reg);
	return ret;
}

json_t *coordinator_node_remove(struct coordinator *c, const char *name,
				const struct audit_actor *who, const char **error)
{
	struct registry_node n;
	struct conn *k;
	json_t *devices;

	if (name && find_node(c, name, &n) < 0 && registry_device_by_name(c->reg, name, NULL) == 0)
		return fail(c, error, "%s is a device: meshgate device remove", name);
	if (!name || find_node(c, name, &n) < 0)
		return fail(c, error, "no node '%s'", name ? name : "");
	if (n.id == c->self_id) {
		registry_node_clear(&n);
		return fail(c, error, "'%s' is the coordinator itself", name);
	}
	devices = hub_device_names(c, n.id);
	if (!devices || node_remove(c, &n, devices, who) < 0) {
		json_decref(devices);
		registry_node_clear(&n);
		return fail(c, error, "cannot remove '%s'", name);
	}
	log_info("mesh: node %s (id %u) removed, and its %zu device(s)", n.name, n.id,
		 json_array_size(devices));
	throttle_forget(&c->throttle, n.id);
	k = coord_conn_by_node(c, n.id);
	if (k)
		coord_conn_close(k);
	registry_node_clear(&n);
	coord_rebuild(c);
	return json_pack("{s:s, s:o, s:o}", "removed", name, "live_reusable_invites",
			 live_reusable_invites(c), "devices_removed", devices);
}

json_t *coordinator_overlap_warnings(struct coordinator *c, uint32_t id, const json_t *prefixes)
{
	json_t *warnings = json_array(), *v;
	size_t i;

	json_array_foreach(prefixes, i, v)
	{
		struct registry_route other;
		struct registry_node on = { 0 };
		char text[PREFIX_STR_LEN];
		struct prefix p;

		if (!warnings || prefix_parse(&p, json_string_value(v)) < 0 ||
		    registry_route_is_exit(&p) ||
		    registry_route_overlap(c->reg, id, &p, &other) <= 0)
			continue;
		prefix_format(&other.prefix, text, sizeof(text));
		if (registry_node_by_id(c->reg, other.node_id, &on) < 0)
			snprintf(on.name, sizeof(on.name), "%" PRIu32, other.node_id);
		json_array_append_new(
		    warnings,
		    prefix_equal(&other.prefix, &p)
			? json_sprintf("%s is also approved for %s: the online router with the "
				       "lowest id carries it, the other stands by",
				       json_string_value(v), on.name)
			: json_sprintf("%s overlaps %s, approved for %s: the more specific "
				       "prefix takes the traffic they share",
				       json_string_value(v), text, on.name));
		log_warn("routes: approved %s overlaps %s, approved for %s", json_string_value(v),
			 text, on.name);
		registry_node_clear(&on);
	}
	return warnings;
}

/* The audit entry of one route's approval or its withdrawal. */
static int route_audit(struct coordinator *c, const struct audit_actor *who, const char *node,
		       const struct prefix *p, bool approved)
{
	char text[PREFIX_STR_LEN];
	bool exit_offer = registry_route_is_exit(p);

	prefix_format(p, text, sizeof(text));
	return audit_add(c->reg, who,
			 exit_offer ? (approved ? "approve-exit" : "unapprove-exit")
				    : (approved ? "approve-route" : "unapprove-route"),
			 node, "%s", text);
}

json_t *coordinator_routes_set(struct coordinator *c, const char *name, const json_t *prefixes,
			       bool approved, const struct audit_actor *who, const char **error)
{
	struct registry_node n;
	char node_name[ALLOC_NAME_MAX + 1];
	size_t i;
	json_t *v;

	uint32_t id;

	if (!name || find_node(c, name, &n) < 0)
		return fail(c, error, "no node '%s'", name ? name : "");
	id = n.id;
	snprintf(node_name, sizeof(node_name), "%s", n.name);
	registry_node_clear(&n);
	if (id == c->self_id && !approved)
		return fail(c, error,
			    "%s's routes follow its own config (it is the coordinator): "
			    "remove them there",
			    name);
	if (!json_is_array(prefixes) || json_array_size(prefixes) == 0)
		return fail(c, error, "which prefixes?%s", "");
	json_array_foreach(prefixes, i, v)
	{
		struct prefix p;
		if (!json_is_string(v) || prefix_parse(&p, json_string_value(v)) < 0 ||
		    !prefix_is_network(&p))
			return fail(c, error, "'%s' is not a network prefix",
				    json_is_string(v) ? json_string_value(v) : "?");
	}
	if (registry_begin(c->reg) < 0)
		return fail(c, error, "cannot write the registry%s", "");
	json_array_foreach(prefixes, i, v)
	{
		struct prefix p;
		if (prefix_parse(&p, json_string_value(v)) == 0 &&
		    (registry_route_set_approved(c->reg, id, &p, approved) < 0 ||
		     route_audit(c, who, node_name, &p, approved) < 0)) {
			registry_rollback(c->reg);
			snprintf(c->err, sizeof(c->err), "%s does not advertise %s", name,
				 json_string_value(v));
			*error = c->err;
			return NULL;
		}
	}
	if (registry_commit(c->reg) < 0)
		return fail(c, error, "cannot write the registry%s", "");
	coord_rebuild(c);
	return json_pack("{s:s, s:O, s:b, s:o}", "node", name, "prefixes", prefixes, "approved",
			 approved, "warnings",
			 approved ? coordinator_overlap_warnings(c, id, prefixes) : json_array());
}

json_t *coordinator_audit_recent(struct coordinator *c, size_t n)
{
	struct registry_audit *v = NULL;
	size_t count = 0;
	json_t *arr;

	if (registry_audit_list(c->reg, INT64_MIN, n, &v, &count) < 0)
		return NULL;
	arr = audit_json(v, count);
	free(v);
	return arr;
}

json_t *coordinator_audit_log(struct coordinator *c, int64_t since, size_t limit, int64_t after,
			      const char **error)
{
	struct registry_audit *v = NULL;
	size_t n = 0;
	bool more;
	json_t *arr;

	/* One more than a page tells whether another follows. */
	if (registry_audit_page(c->reg, since, limit, after, AUDIT_LOG_PAGE + 1, &v, &n) < 0)
		return fail(c, error, "cannot read the audit log%s", "");
	more = n > AUDIT_LOG_PAGE;
	arr = audit_json(v, more ? AUDIT_LOG_PAGE : n);
	free(v);
	return arr ? json_pack("{s:o, s:b}", "entries", arr, "more", more)
		   : fail(c, error, "out of memory%s", "");
}
