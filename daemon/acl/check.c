/*
 * `meshgate policy check FROM TO [PROTO:PORT]`, answered from the policy
 * itself rather than from a compiled filter, so that a test can hold the
 * two against each other. The destination is where the traffic leaves the
 * mesh (acl/filter.h): a node's own address (INPUT there), a device's (at
 * its hub), an address in an approved route (at its routers), the resolver
 * (at any node), the internet (at an exit).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl/grant.h"
#include "mesh/protocol.h"

enum dest_kind { DEST_NODE, DEST_DEVICE, DEST_ROUTE, DEST_RESOLVER, DEST_INTERNET };

struct dest {
	enum dest_kind kind;
	const struct acl_member *m; /* DEST_NODE, DEST_DEVICE */
	const struct prefix *addrs; /* the addresses asked about; any one will do */
	size_t n_addrs;
	struct prefix one;
};

static bool grant_ok(const struct acl_grant *g, const struct acl_query *q)
{
	return acl_grant_matches(g->protocols, g->ports, g->n_ports, q->protocol, q->port);
}

static bool dns_ok(const struct acl_rule *r, const struct acl_query *q)
{
	struct acl_grant g;

	return acl_grant_dns(r, &g) && grant_ok(&g, q);
}

/* Whether target t's main grant reaches address a of the destination. */
static bool main_reaches(const struct acl_policy *p, const struct acl_target *t,
			 const struct dest *d, const struct prefix *a)
{
	switch (d->kind) {
	case DEST_NODE:
	case DEST_DEVICE:
		return t->kind == ACL_ANY || acl_target_names(p, t, d->m) ||
		       (t->kind == ACL_PREFIX && prefix_contains(&t->prefix, a));
	case DEST_ROUTE:
		return t->kind == ACL_ANY ||
		       (t->kind == ACL_PREFIX && prefix_contains(&t->prefix, a));
	case DEST_INTERNET:
		return t->kind == ACL_ANY || t->kind == ACL_EXIT;
	case DEST_RESOLVER:
		return false;
	}
	return false;
}

/* Whether target t carries the DNS grant to the destination. */
static bool dns_reaches(const struct acl_target *t, const struct dest *d)
{
	if (d->kind == DEST_RESOLVER)
		return t->kind == ACL_DNS || (t->kind == ACL_ANY && acl_any_has_dns(t));
	if (d->kind != DEST_NODE)
		return false;
	return t->kind == ACL_DNS || (t->kind == ACL_EXIT && d->m->exit) ||
	       (t->kind == ACL_ANY && (d->m->exit || acl_any_has_dns(t)));
}

static bool rule_allows(const struct acl_policy *p, const struct acl_rule *r, const struct dest *d,
			const struct acl_query *q)
{
	for (size_t i = 0; i < r->n_to; i++) {
		const struct acl_target *t = &r->to[i];
		struct acl_grant g = acl_grant_main(r, t);

		if (dns_reaches(t, d) && dns_ok(r, q))
			return true;
		if (!grant_ok(&g, q))
			continue;
		for (size_t k = 0; k < d->n_addrs; k++)
			if (main_reaches(p, t, d, &d->addrs[k]))
				return true;
	}
	return false;
}

static bool control_allows(const struct dest *d, const struct acl_query *q)
{
	static const struct acl_port_range control = { MESH_CONTROL_PORT, MESH_CONTROL_PORT };

	return d->kind == DEST_NODE && d->m->coordinator &&
	       acl_grant_matches(ACL_PROTO_TCP, &control, 1, q->protocol, q->port);
}

/* ---- the destination ---- */

static bool has_exit(const struct acl_mesh *mesh)
{
	for (size_t i = 0; i < mesh->n_members; i++)
		if (mesh->members[i].exit && !mesh->members[i].hub)
			return true;
	return false;
}

static bool routed(const struct acl_mesh *mesh, const struct prefix *a)
{
	for (size_t i = 0; i < mesh->n_members; i++)
		for (size_t k = 0; !mesh->members[i].hub && k < mesh->members[i].n_routes; k++)
			if (prefix_contains(&mesh->members[i].routes[k], a))
				return true;
	return false;
}

static void dest_member(struct dest *d, const struct acl_member *m)
{
	d->kind = m->hub ? DEST_DEVICE : DEST_NODE;
	d->m = m;
	d->addrs = m->addresses;
	d->n_addrs = m->n_addresses;
}

/* An address: a member's, the resolver's, in a route, or the internet. */
static void dest_address(struct dest *d, const struct acl_mesh *mesh)
{
	const struct prefix *a = &d->one;

	d->addrs = a;
	d->n_addrs = 1;
	for (size_t i = 0; i < mesh->n_members; i++) {
		for (size_t k = 0; k < mesh->members[i].n_addresses; k++) {
			const struct prefix *x = &mesh->members[i].addresses[k];
			/* The address itself, whatever length it was given with. */
			if (x->family == a->family &&
			    !memcmp(x->addr, a->addr, addr_len(a->family))) {
				d->kind = mesh->members[i].hub ? DEST_DEVICE : DEST_NODE;
				d->m = &mesh->members[i];
				return;
			}
		}
	}
	for (size_t i = 0; i < mesh->n_resolver; i++)
		if (prefix_contains(&mesh->resolver[i], a)) {
			d->kind = DEST_RESOLVER;
			return;
		}
	d->kind = routed(mesh, a) ? DEST_ROUTE : DEST_INTERNET;
}

static int dest_resolve(struct dest *d, const struct acl_mesh *mesh, const char *to)
{
	const struct acl_member *m;

	memset(d, 0, sizeof(*d));
	if (!strcasecmp(to, "exit")) {
		d->kind = DEST_INTERNET;
		d->addrs = &d->one;
		d->n_addrs = 1;
	} else if (!strcasecmp(to, "dns")) {
		d->kind = DEST_RESOLVER;
		d->addrs = mesh->resolver;
		d->n_addrs = mesh->n_resolver;
	} else if ((m = acl_member_find(mesh, to))) {
		dest_member(d, m);
	} else if (!strchr(to, '/') && prefix_parse(&d->one, to) == 0) {
		dest_address(d, mesh);
	} else {
		return -ENOENT;
	}
	return 0;
}

/* ---- the verdict ---- */

static void describe(const struct acl_query *q, char *out, size_t len)
{
	const char *proto = q->protocol == ACL_PROTO_TCP    ? "tcp"
			    : q->protocol == ACL_PROTO_UDP  ? "udp"
			    : q->protocol == ACL_PROTO_ICMP ? "icmp"
							    : "any protocol";

	if (q->port && q->protocol != ACL_PROTO_ICMP)
		snprintf(out, len, "%s:%u", q->protocol ? proto : "port", q->port);
	else
		snprintf(out, len, "%s", proto);
}

static void verdict(struct acl_verdict *v, bool allowed, unsigned rule, unsigned line)
{
	v->allowed = allowed;
	v->rule = rule;
	v->line = line;
}

int acl_check(const struct acl_policy *p, const struct acl_mesh *mesh, const struct acl_query *q,
	      struct acl_verdict *v)
{
	const struct acl_member *from = acl_member_find(mesh, q->from);
	char what[32];
	struct dest d;

	memset(v, 0, sizeof(*v));
	describe(q, what, sizeof(what));
	if (!from) {
		snprintf(v->reason, sizeof(v->reason), "no node or device named '%s'", q->from);
		return -ENOENT;
	}
	if (dest_resolve(&d, mesh, q->to) < 0) {
		snprintf(v->reason, sizeof(v->reason),
			 "'%s' is no node or device name, address, exit or dns", q->to);
		return -ENOENT;
	}
	if (d.kind == DEST_DEVICE && !acl_member_find(mesh, d.m->hub)) {
		snprintf(v->reason, sizeof(v->reason), "denied: %s's hub %s is not in the mesh",
			 d.m->name, d.m->hub);
		return 0;
	}
	if (d.kind == DEST_INTERNET && !has_exit(mesh)) {
		snprintf(v->reason, sizeof(v->reason),
			 "denied: no node of the mesh serves an approved exit");
		return 0;
	}
	if (p->def == ACL_DEFAULT_ALLOW) {
		verdict(v, true, 0, 0);
		snprintf(v->reason, sizeof(v->reason),
			 "allowed by the default (default = \"allow\")");
		return 0;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		if (!acl_rule_from(p, &p->rules[i], from) || !rule_allows(p, &p->rules[i], &d, q))
			continue;
		verdict(v, true, (unsigned)(i + 1), p->rules[i].line);
		snprintf(v->reason, sizeof(v->reason), "allowed by rule %zu (line %u): %s to %s %s",
			 i + 1, p->rules[i].line, from->name, q->to, what);
		return 0;
	}
	if (control_allows(&d, q)) {
		snprintf(v->reason, sizeof(v->reason),
			 "allowed: the mesh's control channel (tcp:%u) is always open",
			 MESH_CONTROL_PORT);
		verdict(v, true, 0, 0);
		return 0;
	}
	snprintf(v->reason, sizeof(v->reason), "denied: no rule allows %s to %s %s (default deny)",
		 from->name, q->to, what);
	return 0;
}
