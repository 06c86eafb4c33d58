/* Per-node netmaps from the registry and live state; see netmap_build.h. */
#include "mesh/netmap_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/zone.h"
#include "mesh/hello.h"

bool netmap_build_is_online(const struct netmap_build_input *in, uint32_t node_id)
{
	if (node_id == in->coordinator_id)
		return true;
	for (size_t i = 0; i < in->n_online; i++)
		if (in->online[i] == node_id)
			return true;
	return false;
}

bool netmap_build_is_primary(const struct netmap_build_input *in, uint32_t node_id,
			     const struct prefix *p)
{
	uint32_t best = 0;

	for (size_t i = 0; i < in->n_routes; i++) {
		const struct registry_route *r = &in->routes[i];
		if (!r->approved || !prefix_equal(&r->prefix, p) ||
		    !netmap_build_is_online(in, r->node_id))
			continue;
		if (best == 0 || r->node_id < best)
			best = r->node_id;
	}
	return best != 0 && best == node_id;
}

static int copy_addresses(const struct registry_node *rn, struct netmap_node *out)
{
	out->addresses = calloc(2, sizeof(*out->addresses));
	if (!out->addresses)
		return -ENOMEM;
	if (rn->addr4.family)
		out->addresses[out->n_addresses++] = rn->addr4;
	if (rn->addr6.family)
		out->addresses[out->n_addresses++] = rn->addr6;
	return 0;
}

static bool endpoint_listed(const struct endpoint *v, size_t n, const struct endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].port == ep->port && !strcmp(v[i].host, ep->host))
			return true;
	return false;
}

static void endpoint_append(const struct netmap_build_input *in, struct netmap_node *out,
			    const struct endpoint *ep)
{
	if (!mesh_endpoint_usable(ep, in->mesh, in->n_mesh) ||
	    out->n_endpoints >= NETMAP_MAX_ENDPOINTS ||
	    endpoint_listed(out->endpoints, out->n_endpoints, ep))
		return;
	out->endpoints[out->n_endpoints++] = *ep;
}

/* The observed endpoint first, then the reported ones: peers keep only the
 * first few as candidates, and the observed one is the path through NATs. */
static int copy_endpoints(const struct netmap_build_input *in, const struct registry_node *rn,
			  struct netmap_node *out)
{
	out->endpoints = calloc(rn->n_endpoints + in->n_observed + 1, sizeof(*out->endpoints));
	if (!out->endpoints)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_observed; i++)
		if (in->observed[i].node_id == rn->id)
			endpoint_append(in, out, &in->observed[i].endpoint);
	for (size_t i = 0; i < rn->n_endpoints; i++)
		endpoint_append(in, out, &rn->endpoints[i]);
	return 0;
}

/* Routes of a peer: approved, not an exit offer, and primary here; its exit
 * offer, usable (exit_node) while it is online. */
static int copy_peer_routes(const struct netmap_build_input *in, uint32_t id,
			    struct netmap_node *out)
{
	out->routes = calloc(in->n_routes + 1, sizeof(*out->routes));
	if (!out->routes)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct registry_route *r = &in->routes[i];
		if (r->node_id != id)
			continue;
		if (registry_route_is_exit(&r->prefix)) {
			if (r->approved)
				out->exit_offer = NETMAP_EXIT_APPROVED;
			else if (out->exit_offer == NETMAP_EXIT_NONE)
				out->exit_offer = NETMAP_EXIT_PENDING;
			out->exit_node = out->exit_offer == NETMAP_EXIT_APPROVED && out->online;
			continue;
		}
		if (!r->approved)
			continue;
		if (out->n_routes < NETMAP_MAX_ROUTES &&
		    netmap_build_is_primary(in, id, &r->prefix))
			out->routes[out->n_routes++] = r->prefix;
	}
	return 0;
}

/* The devices node hubs (at most NETMAP_MAX_DEVICES), with their keys for
 * the node's own netmap. */
static int copy_devices(const struct netmap_build_input *in, uint32_t hub_id, bool with_keys,
			struct netmap_node *out)
{
	size_t n = 0;

	for (size_t i = 0; i < in->n_devices; i++)
		n += in->devices[i].hub_id == hub_id;
	if (n == 0)
		return 0;
	out->devices = calloc(n, sizeof(*out->devices));
	if (!out->devices)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_devices && out->n_devices < NETMAP_MAX_DEVICES; i++) {
		const struct registry_device *rd = &in->devices[i];
		struct netmap_device *d = &out->devices[out->n_devices];
		if (rd->hub_id != hub_id)
			continue;
		memcpy(d->name, rd->name, sizeof(d->name) - 1);
		d->has_key = with_keys;
		if (with_keys)
			memcpy(d->public_key, rd->public_key, KEY_LEN);
		d->addresses[0] = rd->addr4;
		d->addresses[1] = rd->addr6;
		d->n_addresses = 2;
		d->exit_node = rd->exit_node;
		out->n_devices++;
	}
	return 0;
}

static bool offer_approved(const struct netmap_build_input *in, uint32_t id,
			   const struct split_dns *s)
{
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct registry_route *r = &in->routes[i];
		if (r->node_id == id && r->approved && split_dns_server_routed(s, &r->prefix, 1))
			return true;
	}
	return false;
}

/* The node's offer when one of its approved routes holds the server. */
static int copy_split_dns(const struct netmap_build_input *in, uint32_t id, struct netmap_node *out)
{
	for (size_t i = 0; i < in->n_offers; i++) {
		const struct split_dns *s = &in->offers[i].dns;
		if (in->offers[i].node_id != id || !s->domain[0] || !offer_approved(in, id, s))
			continue;
		out->split_dns = calloc(1, sizeof(*out->split_dns));
		if (!out->split_dns)
			return -ENOMEM;
		out->split_dns[0] = *s;
		out->n_split_dns = 1;
		break;
	}
	return 0;
}

static int build_peer(const struct netmap_build_input *in, const struct registry_node *rn,
		      struct netmap_node *out)
{
	int ret;

	out->id = rn->id;
	memcpy(out->name, rn->name, sizeof(out->name) - 1);
	memcpy(out->public_key, rn->public_key, KEY_LEN);
	out->online = netmap_build_is_online(in, rn->id);
	out->coordinator = rn->id == in->coordinator_id;
	ret = copy_addresses(rn, out);
	if (ret == 0)
		ret = copy_endpoints(in, rn, out);
	if (ret == 0)
		ret = copy_peer_routes(in, rn->id, out);
	if (ret == 0)
		ret = copy_devices(in, rn->id, false, out);
	if (ret == 0)
		ret = copy_split_dns(in, rn->id, out);
	return ret;
}

/* Self: approved routes (exit offers included, and flagged) and all
 * advertised ones. */
static int build_self(const struct netmap_build_input *in, const struct registry_node *rn,
		      struct netmap *nm)
{
	struct netmap_node *self = &nm->self;
	int ret;

	self->id = rn->id;
	memcpy(self->name, rn->name, sizeof(self->name) - 1);
	memcpy(self->public_key, rn->public_key, KEY_LEN);
	self->online = true;
	self->coordinator = rn->id == in->coordinator_id;
	ret = copy_addresses(rn, self);
	if (ret == 0)
		ret = copy_devices(in, rn->id, true, self);
	if (ret < 0)
		return ret;
	self->routes = calloc(in->n_routes + 1, sizeof(*self->routes));
	nm->routes_advertised = calloc(in->n_routes + 1, sizeof(*nm->routes_advertised));
	if (!self->routes || !nm->routes_advertised)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct registry_route *r = &in->routes[i];
		if (r->node_id != rn->id || nm->n_routes_advertised >= NETMAP_MAX_ROUTES)
			continue;
		nm->routes_advertised[nm->n_routes_advertised++] = r->prefix;
		if (r->approved)
			self->routes[self->n_routes++] = r->prefix;
		if (r->approved && registry_route_is_exit(&r->prefix))
			self->exit_node = true;
	}
	return 0;
}

static int copy_dns(const struct netmap_dns *dns, struct netmap *out)
{
	size_t n =
	    dns->n_records < NETMAP_MAX_DNS_RECORDS ? dns->n_records : NETMAP_MAX_DNS_RECORDS;

	out->dns = (struct netmap_dns){ .present = true };
	memcpy(out->dns.domain, dns->domain, sizeof(out->dns.domain));
	out->dns.records = calloc(n + 1, sizeof(*out->dns.records));
	if (!out->dns.records)
		return -ENOMEM;
	if (n)
		memcpy(out->dns.records, dns->records, n * sizeof(*out->dns.records));
	out->dns.n_records = n;
	return 0;
}

/* ---- the mesh as the policy sees it ---- */

static const char *node_name(const struct netmap_build_input *in, uint32_t id)
{
	for (size_t i = 0; i < in->n_nodes; i++)
		if (in->nodes[i].id == id)
			return in->nodes[i].name;
	return NULL;
}

/* Appends a member's address (when it has that family) to store at *k. */
static size_t store_address(struct prefix *store, size_t *k, const struct prefix *p)
{
	if (!p->family)
		return 0;
	store[(*k)++] = *p;
	return 1;
}

/* A node's addresses and the approved routes it is primary for, at *k. */
static void acl_node(const struct netmap_build_input *in, const struct registry_node *rn,
		     struct prefix *store, size_t *k, struct acl_member *m)
{
	*m = (struct acl_member){ .name = rn->name,
				  .addresses = &store[*k],
				  .coordinator = rn->id == in->coordinator_id };
	m->n_addresses = store_address(store, k, &rn->addr4);
	m->n_addresses += store_address(store, k, &rn->addr6);
	m->routes = &store[*k];
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct registry_route *r = &in->routes[i];
		if (r->node_id != rn->id || !r->approved)
			continue;
		if (registry_route_is_exit(&r->prefix))
			m->exit = true;
		else if (netmap_build_is_primary(in, rn->id, &r->prefix))
			m->n_routes += store_address(store, k, &r->prefix);
	}
}

int netmap_build_acl_mesh(const struct netmap_build_input *in, struct netmap_acl_mesh *out)
{
	size_t n = in->n_nodes + in->n_devices, k = 0;

	memset(out, 0, sizeof(*out));
	out->members = calloc(n + 1, sizeof(*out->members));
	out->prefixes = calloc(2 * n + in->n_routes + 1, sizeof(*out->prefixes));
	if (!out->members || !out->prefixes ||
	    prefix_parse(&out->resolver[0], DNS_RESOLVER_V4 "/32") < 0 ||
	    prefix_parse(&out->resolver[1], DNS_RESOLVER_V6 "/128") < 0) {
		netmap_build_acl_mesh_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < in->n_nodes; i++)
		acl_node(in, &in->nodes[i], out->prefixes, &k, &out->members[i]);
	for (size_t i = 0; i < in->n_devices; i++) {
		const struct registry_device *rd = &in->devices[i];
		struct acl_member *m = &out->members[in->n_nodes + i];
		*m = (struct acl_member){ .name = rd->name,
					  .hub = node_name(in, rd->hub_id),
					  .addresses = &out->prefixes[k] };
		m->n_addresses = store_address(out->prefixes, &k, &rd->addr4);
		m->n_addresses += store_address(out->prefixes, &k, &rd->addr6);
	}
	out->mesh = (struct acl_mesh){
		.members = out->members, .n_members = n, .resolver = out->resolver, .n_resolver = 2
	};
	out->n_nodes = in->n_nodes;
	return 0;
}

void netmap_build_acl_mesh_free(struct netmap_acl_mesh *m)
{
	free(m->members);
	free(m->prefixes);
	free(m->reach);
	memset(m, 0, sizeof(*m));
}

static bool reach_get(const struct netmap_acl_mesh *m, size_t i, size_t j)
{
	size_t bit = i * m->n_nodes + j;

	return m->reach[bit / 8] & (1u << (bit % 8));
}

static void reach_set(struct netmap_acl_mesh *m, size_t i, size_t j)
{
	size_t bit = i * m->n_nodes + j;

	m->reach[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* Whether an entry of f has a source covering one of member's addresses. */
static bool filter_covers(const struct acl_filter *f, const struct acl_member *member)
{
	for (size_t e = 0; e < f->n_entries; e++)
		for (size_t s = 0; s < f->entries[e].n_src; s++)
			for (size_t k = 0; k < member->n_addresses; k++)
				if (prefix_contains(&f->entries[e].src[s], &member->addresses[k]))
					return true;
	return false;
}

/* Row i of reach: the nodes f (node i's filter) lets in, themselves or
 * through a device they hub. covered: scratch, one flag per member. */
static void reach_row(struct netmap_acl_mesh *m, size_t i, const struct acl_filter *f,
		      bool *covered)
{
	const struct acl_mesh *mesh = &m->mesh;

	for (size_t k = 0; k < mesh->n_members; k++)
		covered[k] = filter_covers(f, &mesh->members[k]);
	for (size_t k = m->n_nodes; k < mesh->n_members; k++) {
		if (!covered[k] || !mesh->members[k].hub)
			continue;
		for (size_t j = 0; j < m->n_nodes; j++)
			if (!strcasecmp(mesh->members[j].name, mesh->members[k].hub))
				covered[j] = true;
	}
	for (size_t j = 0; j < m->n_nodes; j++)
		if (covered[j])
			reach_set(m, i, j);
}

int netmap_build_acl_reach(struct netmap_acl_mesh *m, const struct acl_policy *p)
{
	size_t n = m->n_nodes;
	bool *covered = calloc(m->mesh.n_members + 1, sizeof(*covered));
	struct acl_filter f;

	free(m->reach);
	m->reach = calloc(n * n / 8 + 1, 1);
	if (!m->reach || !covered) {
		free(covered);
		free(m->reach);
		m->reach = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (p->def == ACL_DEFAULT_ALLOW ||
		    acl_compile(p, &m->mesh, m->members[i].name, 0, &f) < 0) {
			for (size_t j = 0; j < n; j++)
				reach_set(m, i, j);
			continue;
		}
		reach_row(m, i, &f, covered);
		acl_filter_free(&f);
	}
	free(covered);
	return 0;
}

/* Whether the netmap of node si lists node pi: the policy lets them talk
 * (acl_may_peer()), or either is the coordinator (the control channel). */
static bool peer_listed(const struct netmap_build_input *in, size_t si, size_t pi)
{
	const struct registry_node *self = &in->nodes[si], *peer = &in->nodes[pi];

	if (!in->policy || self->id == in->coordinator_id || peer->id == in->coordinator_id)
		return true;
	if (in->acl->reach)
		return reach_get(in->acl, si, pi) || reach_get(in->acl, pi, si);
	return acl_may_peer(in->policy, &in->acl->mesh, self->name, peer->name);
}

/* Self's filter: the entries it enforces, under the policy's revision. */
static int build_policy(const struct netmap_build_input *in, const struct registry_node *self,
			struct netmap *out)
{
	int ret;

	if (!in->policy)
		return 0;
	ret =
	    acl_compile(in->policy, &in->acl->mesh, self->name, in->policy_revision, &out->policy);
	out->policy.present = ret == 0;
	/* -ENOENT of netmap_build() means "no such node": self is one. */
	return ret == -ENOENT ? -EINVAL : ret;
}

int netmap_build(const struct netmap_build_input *in, uint32_t self_id, struct netmap *out)
{
	const struct registry_node *self = NULL;
	size_t si = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n_nodes; i++)
		if (in->nodes[i].id == self_id)
			self = &in->nodes[si = i];
	if (!self)
		return -ENOENT;
	if (in->policy && (!in->acl || in->acl->n_nodes != in->n_nodes))
		return -EINVAL;
	out->version = in->version;
	out->issued_at = in->issued_at;
	memcpy(out->coordinator_key, in->coordinator_key, KEY_LEN);
	out->peers = calloc(in->n_nodes, sizeof(*out->peers));
	if (!out->peers)
		ret = -ENOMEM;
	if (ret == 0)
		ret = build_self(in, self, out);
	if (ret == 0 && in->dns)
		ret = copy_dns(in->dns, out);
	if (ret == 0)
		ret = build_policy(in, self, out);
	for (size_t i = 0; ret == 0 && i < in->n_nodes && out->n_peers < NETMAP_MAX_PEERS; i++) {
		if (i == si || !peer_listed(in, si, i))
			continue;
		ret = build_peer(in, &in->nodes[i], &out->peers[out->n_peers++]);
	}
	if (ret < 0)
		netmap_free(out);
	return ret;
}
