/*
 * The policy compiled for one node: the entries it enforces (acl/filter.h).
 *
 * Each rule's sources become one source set (names -> their addresses,
 * "*" -> 0.0.0.0/0 and ::/0). Each destination yields pieces at the node
 * where its traffic leaves the mesh (grant.h says with which protocols and
 * ports):
 *   NAME of a node      INPUT at that node, dst its addresses
 *   NAME of a device    FORWARD at its hub, dst the device's addresses
 *   group:NAME          each member as NAME
 *   PREFIX              FORWARD at each node whose routes overlap it (dst:
 *                       the overlap), and members' addresses inside it as NAME
 *   exit                EXIT at each exit node, and INPUT there to its own
 *                       addresses for DNS
 *   dns                 INPUT at every node to its addresses and the resolver
 *   *                   all of the above
 * Pieces of one rule with the same hook, protocols and ports become one
 * entry (their source set is the same), with canonical prefix lists. With
 * default "deny" the coordinator also gets rule 0: every member to its
 * control port, which the policy cannot close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/grant.h"
#include "mesh/protocol.h"

struct plist {
	struct prefix *v;
	size_t n, cap;
};

struct piece {
	enum acl_hook hook;
	uint8_t protocols;
	struct acl_port_range *ports;
	size_t n_ports;
	struct plist dst;
};

/* One rule's pieces at one node. */
struct pieces {
	struct piece *v;
	size_t n;
	int err;
};

static int plist_add(struct plist *l, const struct prefix *v, size_t n)
{
	if (l->n + n > l->cap) {
		size_t cap = (l->n + n) * 2 + 4;
		struct prefix *grown = realloc(l->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	if (n)
		memcpy(l->v + l->n, v, n * sizeof(*v));
	l->n += n;
	return 0;
}

/* Sorted, each prefix inside another dropped. After sorting, a prefix
 * holding others comes right before them, and prefixes nest or are
 * disjoint, so comparing with the last one kept is enough. A prefix with
 * host bits is an interface address (100.64.0.3/10): its host is meant, and
 * the filter carries networks only. */
static void plist_canonical(struct plist *l)
{
	size_t kept = 0;

	if (l->n == 0)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (!prefix_is_network(&l->v[i]))
			l->v[i].len = (uint8_t)(addr_len(l->v[i].family) * 8);
	qsort(l->v, l->n, sizeof(*l->v), prefix_cmp);
	for (size_t i = 1; i < l->n; i++)
		if (!prefix_contains(&l->v[kept], &l->v[i]))
			l->v[++kept] = l->v[i];
	l->n = kept + 1;
}

static bool same_ports(const struct piece *x, const struct acl_port_range *ports, size_t n)
{
	return x->n_ports == n && (!n || !memcmp(x->ports, ports, n * sizeof(*ports)));
}

/* Adds dst under (hook, grant), merging with a piece of the same key. */
static void piece_add(struct pieces *ps, enum acl_hook hook, const struct acl_grant *g,
		      const struct prefix *dst, size_t n_dst)
{
	struct acl_port_range *ports = NULL;
	size_t n_ports = g->n_ports;
	struct piece *p;

	if (ps->err || (hook != ACL_HOOK_EXIT && n_dst == 0))
		return;
	if (n_ports && !(ports = malloc(n_ports * sizeof(*ports)))) {
		ps->err = -ENOMEM;
		return;
	}
	if (n_ports)
		memcpy(ports, g->ports, n_ports * sizeof(*ports));
	n_ports = acl_ports_canonical(ports, n_ports);
	for (size_t i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		if (p->hook == hook && p->protocols == g->protocols &&
		    same_ports(p, ports, n_ports)) {
			free(ports);
			ps->err = plist_add(&p->dst, dst, n_dst);
			return;
		}
	}
	p = realloc(ps->v, (ps->n + 1) * sizeof(*p));
	if (!p) {
		free(ports);
		ps->err = -ENOMEM;
		return;
	}
	ps->v = p;
	p = &ps->v[ps->n++];
	*p = (struct piece){
		.hook = hook, .protocols = g->protocols, .ports = ports, .n_ports = n_ports
	};
	ps->err = plist_add(&p->dst, dst, n_dst);
}

static void pieces_free(struct pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].ports);
		free(ps->v[i].dst.v);
	}
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* ---- destinations at one node ---- */

/* The node and the devices it hubs: the only members whose addresses can
 * be a dst in its filter. */
struct local {
	const struct acl_member **v;
	size_t n;
};

struct at {
	const struct acl_policy *p;
	const struct acl_mesh *mesh;
	const struct acl_member *node;
	struct local local;
	const struct acl_rule *rule;
	struct pieces *out;
};

static int local_init(struct local *l, const struct acl_mesh *mesh, const struct acl_member *node)
{
	l->n = 0;
	l->v = malloc((mesh->n_members + 1) * sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	l->v[l->n++] = node;
	for (size_t i = 0; i < mesh->n_members; i++)
		if (mesh->members[i].hub && !strcasecmp(mesh->members[i].hub, node->name))
			l->v[l->n++] = &mesh->members[i];
	return 0;
}

/* A local member as a destination: INPUT if it is this node, FORWARD to a
 * device; only its addresses inside within (NULL: all). */
static void member_at(const struct at *a, const struct acl_member *m, const struct acl_grant *g,
		      const struct prefix *within)
{
	enum acl_hook hook = m == a->node ? ACL_HOOK_INPUT : ACL_HOOK_FORWARD;

	for (size_t i = 0; i < m->n_addresses; i++)
		if (!within || prefix_contains(within, &m->addresses[i]))
			piece_add(a->out, hook, g, &m->addresses[i], 1);
}

static void named_at(const struct at *a, const struct acl_target *t, const struct acl_grant *g)
{
	for (size_t i = 0; i < a->local.n; i++)
		if (acl_target_names(a->p, t, a->local.v[i]))
			member_at(a, a->local.v[i], g, NULL);
}

static void prefix_at(const struct at *a, const struct prefix *pfx, const struct acl_grant *g)
{
	const struct acl_member *n = a->node;

	for (size_t i = 0; i < n->n_routes; i++) {
		if (!prefix_overlaps(&n->routes[i], pfx))
			continue;
		piece_add(a->out, ACL_HOOK_FORWARD, g,
			  n->routes[i].len > pfx->len ? &n->routes[i] : pfx, 1);
	}
	for (size_t i = 0; i < a->local.n; i++)
		member_at(a, a->local.v[i], g, pfx);
}

static void exit_at(const struct at *a, const struct acl_grant *g)
{
	struct acl_grant dns;

	if (!a->node->exit)
		return;
	piece_add(a->out, ACL_HOOK_EXIT, g, NULL, 0);
	if (acl_grant_dns(a->rule, &dns))
		piece_add(a->out, ACL_HOOK_INPUT, &dns, a->node->addresses, a->node->n_addresses);
}

static void dns_at(const struct at *a)
{
	struct acl_grant dns;

	if (!acl_grant_dns(a->rule, &dns))
		return;
	piece_add(a->out, ACL_HOOK_INPUT, &dns, a->node->addresses, a->node->n_addresses);
	piece_add(a->out, ACL_HOOK_INPUT, &dns, a->mesh->resolver, a->mesh->n_resolver);
}

static void any_at(const struct at *a, const struct acl_target *t, const struct acl_grant *g)
{
	const struct acl_member *n = a->node;

	for (size_t i = 0; i < a->local.n; i++)
		member_at(a, a->local.v[i], g, NULL);
	for (size_t i = 0; i < n->n_routes; i++)
		piece_add(a->out, ACL_HOOK_FORWARD, g, &n->routes[i], 1);
	exit_at(a, g);
	if (acl_any_has_dns(t))
		dns_at(a);
}

static void target_at(const struct at *a, const struct acl_target *t)
{
	struct acl_grant g = acl_grant_main(a->rule, t);

	switch (t->kind) {
	case ACL_NAME:
	case ACL_GROUP:
		named_at(a, t, &g);
		break;
	case ACL_PREFIX:
		prefix_at(a, &t->prefix, &g);
		break;
	case ACL_EXIT:
		exit_at(a, &g);
		break;
	case ACL_DNS:
		dns_at(a);
		break;
	case ACL_ANY:
		any_at(a, t, &g);
		break;
	}
}

/* ---- sources ---- */

/* The members sorted by name (without regard to case), so that a group's
 * names are found in log time: a big policy compiles for every node. */
struct names {
	const struct acl_member **v;
	size_t n;
};

static int cmp_member_name(const void *a, const void *b)
{
	return strcasecmp((*(const struct acl_member *const *)a)->name,
			  (*(const struct acl_member *const *)b)->name);
}

static int names_init(struct names *ix, const struct acl_mesh *mesh)
{
	ix->n = mesh->n_members;
	ix->v = malloc((ix->n + 1) * sizeof(*ix->v));
	if (!ix->v)
		return -ENOMEM;
	for (size_t i = 0; i < ix->n; i++)
		ix->v[i] = &mesh->members[i];
	qsort(ix->v, ix->n, sizeof(*ix->v), cmp_member_name);
	return 0;
}

/* Adds the addresses of every member called name. */
static int name_sources(const struct names *ix, const char *name, struct plist *src)
{
	size_t lo = 0, hi = ix->n;
	int ret = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcasecmp(ix->v[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; !ret && lo < ix->n && !strcasecmp(ix->v[lo]->name, name); lo++)
		ret = plist_add(src, ix->v[lo]->addresses, ix->v[lo]->n_addresses);
	return ret;
}

static int target_sources(const struct acl_policy *p, const struct names *ix,
			  const struct acl_target *t, struct plist *src)
{
	static const struct prefix any[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	const struct acl_group *g;
	int ret = 0;

	if (t->kind == ACL_ANY)
		return plist_add(src, any, 2);
	if (t->kind == ACL_NAME)
		return name_sources(ix, t->name, src);
	if (t->kind != ACL_GROUP || !(g = acl_group_find(p, t->name)))
		return 0;
	for (size_t i = 0; !ret && i < g->n_members; i++)
		ret = name_sources(ix, g->members[i], src);
	return ret;
}

static int sources(const struct acl_policy *p, const struct names *ix, const struct acl_rule *r,
		   struct plist *src)
{
	int ret = 0;

	for (size_t i = 0; i < r->n_from && !ret; i++)
		ret = target_sources(p, ix, &r->from[i], src);
	plist_canonical(src);
	return ret;
}

/* ---- the filter ---- */

static int entry_add(struct acl_filter *f, uint32_t rule, const struct plist *src, struct piece *pc)
{
	struct acl_entry *v, *e;

	if (f->n_entries >= ACL_MAX_ENTRIES || src->n > ACL_MAX_PREFIXES ||
	    pc->dst.n > ACL_MAX_PREFIXES)
		return -E2BIG;
	v = realloc(f->entries, (f->n_entries + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->entries = v;
	e = &v[f->n_entries];
	*e = (struct acl_entry){ .rule = rule, .hook = pc->hook, .protocols = pc->protocols };
	e->src = malloc(src->n * sizeof(*e->src));
	if (!e->src)
		return -ENOMEM;
	memcpy(e->src, src->v, src->n * sizeof(*e->src));
	e->n_src = src->n;
	f->n_entries++;
	/* The entry takes the piece's arrays. */
	e->dst = pc->dst.v;
	e->n_dst = pc->dst.n;
	e->ports = pc->ports;
	e->n_ports = pc->n_ports;
	pc->dst = (struct plist){ 0 };
	pc->ports = NULL;
	pc->n_ports = 0;
	return 0;
}

static int rule_compile(const struct at *at, const struct names *ix, uint32_t number,
			struct acl_filter *f)
{
	struct plist src = { 0 };
	struct pieces ps = { 0 };
	struct at a = *at;
	int ret = sources(a.p, ix, a.rule, &src);

	a.out = &ps;
	for (size_t i = 0; !ret && src.n && i < a.rule->n_to; i++)
		target_at(&a, &a.rule->to[i]);
	if (!ret)
		ret = ps.err;
	for (size_t i = 0; !ret && i < ps.n; i++) {
		plist_canonical(&ps.v[i].dst);
		ret = entry_add(f, number, &src, &ps.v[i]);
	}
	pieces_free(&ps);
	free(src.v);
	return ret;
}

/* Rule 0 on the coordinator: every member to its control port. */
static int control_compile(const struct at *at, struct acl_filter *f)
{
	static const struct acl_port_range control = { MESH_CONTROL_PORT, MESH_CONTROL_PORT };
	const struct acl_grant g = { .protocols = ACL_PROTO_TCP, .ports = &control, .n_ports = 1 };
	struct plist src = { 0 };
	struct pieces ps = { 0 };
	int ret = 0;

	for (size_t i = 0; i < at->mesh->n_members && !ret; i++)
		ret = plist_add(&src, at->mesh->members[i].addresses,
				at->mesh->members[i].n_addresses);
	plist_canonical(&src);
	piece_add(&ps, ACL_HOOK_INPUT, &g, at->node->addresses, at->node->n_addresses);
	if (!ret)
		ret = ps.err;
	if (!ret && ps.n && src.n) {
		plist_canonical(&ps.v[0].dst);
		ret = entry_add(f, 0, &src, &ps.v[0]);
	}
	pieces_free(&ps);
	free(src.v);
	return ret;
}

int acl_compile(const struct acl_policy *p, const struct acl_mesh *mesh, const char *node,
		uint32_t revision, struct acl_filter *out)
{
	struct at at = { .p = p, .mesh = mesh, .node = acl_member_find(mesh, node) };
	struct names ix = { 0 };
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!at.node || at.node->hub)
		return -ENOENT;
	out->present = true;
	out->deny = p->def == ACL_DEFAULT_DENY;
	out->revision = revision;
	if (!out->deny)
		return 0;
	ret = local_init(&at.local, mesh, at.node);
	if (!ret)
		ret = names_init(&ix, mesh);
	if (!ret && at.node->coordinator)
		ret = control_compile(&at, out);
	for (size_t i = 0; !ret && i < p->n_rules; i++) {
		at.rule = &p->rules[i];
		ret = rule_compile(&at, &ix, (uint32_t)(i + 1), out);
	}
	free(at.local.v);
	free(ix.v);
	if (ret < 0)
		acl_filter_free(out);
	return ret;
}

/* ---- peers ---- */

/* Whether rule r gives node b any entry (its sources aside). */
static bool rule_lands_at(const struct at *b, const struct acl_rule *r)
{
	struct pieces ps = { 0 };
	struct at a = *b;
	bool yes;

	a.rule = r;
	a.out = &ps;
	for (size_t i = 0; i < r->n_to && !ps.n && !ps.err; i++)
		target_at(&a, &r->to[i]);
	/* Out of memory: keep the peer rather than cut it. */
	yes = ps.n || ps.err;
	pieces_free(&ps);
	return yes;
}

/* Whether one of senders (a node and its devices) is a source of r: what
 * an entry's src covering one of its addresses comes to. */
static bool rule_from_any(const struct acl_policy *p, const struct acl_rule *r,
			  const struct local *senders)
{
	for (size_t i = 0; i < senders->n; i++)
		if (senders->v[i]->n_addresses && acl_rule_from(p, r, senders->v[i]))
			return true;
	return false;
}

/* Whether b's filter lets a, or a device a hubs, in. */
static bool reaches(const struct acl_policy *p, const struct at *b, const struct local *senders)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (rule_from_any(p, &p->rules[i], senders) && rule_lands_at(b, &p->rules[i]))
			return true;
	return false;
}

bool acl_may_peer(const struct acl_policy *p, const struct acl_mesh *mesh, const char *a,
		  const char *b)
{
	const struct acl_member *ma = acl_member_find(mesh, a), *mb = acl_member_find(mesh, b);
	struct at at_a = { .p = p, .mesh = mesh, .node = ma };
	struct at at_b = { .p = p, .mesh = mesh, .node = mb };
	bool yes = true;

	if (!ma || !mb || ma->hub || mb->hub)
		return false;
	if (p->def == ACL_DEFAULT_ALLOW || ma->coordinator || mb->coordinator)
		return true;
	if (local_init(&at_a.local, mesh, ma) == 0 && local_init(&at_b.local, mesh, mb) == 0)
		yes = reaches(p, &at_b, &at_a.local) || reaches(p, &at_a, &at_b.local);
	free(at_a.local.v);
	free(at_b.local.v);
	return yes;
}
