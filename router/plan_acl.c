/* The access policy's part of the route plan; see plan_acl.h. */
#include "plan_acl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/protocol.h"
#include "planner.h"

static void entry_free(struct plan_acl_entry *e)
{
	free(e->src.v);
	free(e->dst.v);
	free(e->ports);
}

void plan_acl_free(struct plan_acl *acl)
{
	if (!acl)
		return;
	for (size_t i = 0; i < acl->n_entries; i++)
		entry_free(&acl->entries[i]);
	free(acl->entries);
	*acl = (struct plan_acl){ 0 };
}

/* ---- one entry, canonical ---- */

static int prefixes_from(struct plan_prefixes *out, const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prefix p = v[i];

		prefix_mask(&p);
		if (planner_prefixes_add(out, &p) < 0)
			return -ENOMEM;
	}
	planner_prefixes_canonicalize(out);
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct acl_port_range *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sorted, with overlapping and adjacent ranges merged: an nftables
 * interval set refuses overlaps. */
static size_t ports_merge(struct acl_port_range *v, size_t n)
{
	size_t kept = 0;

	qsort(v, n, sizeof(*v), range_cmp);
	for (size_t i = 0; i < n; i++) {
		struct acl_port_range *last = kept ? &v[kept - 1] : NULL;

		if (last && (uint32_t)v[i].lo <= (uint32_t)last->hi + 1) {
			if (v[i].hi > last->hi)
				last->hi = v[i].hi;
			continue;
		}
		v[kept++] = v[i];
	}
	return kept;
}

static bool ports_apply(uint8_t protocols)
{
	return protocols & (ACL_PROTO_TCP | ACL_PROTO_UDP);
}

static int ports_from(struct plan_acl_entry *e, const struct acl_port_range *v, size_t n)
{
	if (!n || !ports_apply(e->protocols))
		return 0;
	e->ports = malloc(n * sizeof(*v));
	if (!e->ports)
		return -ENOMEM;
	memcpy(e->ports, v, n * sizeof(*v));
	e->n_ports = ports_merge(e->ports, n);
	return 0;
}

static int entry_from(struct plan_acl_entry *e, const struct acl_entry *src)
{
	e->rule = src->rule;
	e->hook = src->hook;
	e->protocols = src->protocols;
	if (prefixes_from(&e->src, src->src, src->n_src) < 0 ||
	    (src->hook != ACL_HOOK_EXIT && prefixes_from(&e->dst, src->dst, src->n_dst) < 0) ||
	    ports_from(e, src->ports, src->n_ports) < 0)
		return -ENOMEM;
	return 0;
}

/* Rule 0: every member reaches a coordinator's control channel. */
static int entry_mesh_control(struct plan_acl_entry *e, const struct plan_nft *nft)
{
	static const struct acl_port_range control = { MESH_CONTROL_PORT, MESH_CONTROL_PORT };
	struct prefix any4 = { .family = AF_INET }, any6 = { .family = AF_INET6 };

	e->rule = 0;
	e->hook = ACL_HOOK_INPUT;
	e->protocols = ACL_PROTO_TCP;
	if (planner_prefixes_add(&e->src, &any4) < 0 || planner_prefixes_add(&e->src, &any6) < 0 ||
	    prefixes_from(&e->dst, nft->self.v, nft->self.n) < 0)
		return -ENOMEM;
	return ports_from(e, &control, 1);
}

/* ---- the whole share ---- */

static struct plan_acl_entry *entry_append(struct plan_acl *acl)
{
	return planner_append(&acl->entries, &acl->n_entries, sizeof(*acl->entries));
}

static bool has_rule_0(const struct acl_filter *f)
{
	for (size_t i = 0; i < f->n_entries; i++)
		if (f->entries[i].rule == 0)
			return true;
	return false;
}

static int compute(const struct acl_filter *f, struct plan_nft *nft)
{
	struct plan_acl *acl = &nft->acl;
	struct plan_acl_entry *e;

	acl->deny = true;
	if (!has_rule_0(f) && (!(e = entry_append(acl)) || entry_mesh_control(e, nft) < 0))
		return -ENOMEM;
	for (size_t i = 0; i < f->n_entries; i++) {
		if (f->entries[i].hook == ACL_HOOK_EXIT && !nft->exit_node)
			continue;
		e = entry_append(acl);
		if (!e || entry_from(e, &f->entries[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

int plan_acl_compute(struct planner *pl, struct plan_nft *nft)
{
	const struct acl_filter *f = pl->host->policy;

	if (!f || !f->present || !f->deny)
		return 0;
	return compute(f, nft);
}

/* ---- copy and compare ---- */

static int entry_dup(struct plan_acl_entry *dst, const struct plan_acl_entry *src)
{
	*dst = (struct plan_acl_entry){ .rule = src->rule,
					.hook = src->hook,
					.protocols = src->protocols };
	if (planner_prefixes_copy(&dst->src, &src->src) < 0 ||
	    planner_prefixes_copy(&dst->dst, &src->dst) < 0)
		return -ENOMEM;
	if (src->n_ports) {
		dst->ports = malloc(src->n_ports * sizeof(*src->ports));
		if (!dst->ports)
			return -ENOMEM;
		memcpy(dst->ports, src->ports, src->n_ports * sizeof(*src->ports));
		dst->n_ports = src->n_ports;
	}
	return 0;
}

int plan_acl_copy(struct plan_acl *dst, const struct plan_acl *src)
{
	*dst = (struct plan_acl){ .deny = src->deny };
	if (!src->n_entries)
		return 0;
	dst->entries = calloc(src->n_entries, sizeof(*dst->entries));
	if (!dst->entries)
		return -ENOMEM;
	for (; dst->n_entries < src->n_entries; dst->n_entries++) {
		if (entry_dup(&dst->entries[dst->n_entries], &src->entries[dst->n_entries]) < 0) {
			dst->n_entries++; /* frees the partial entry too */
			plan_acl_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

static bool entry_equal(const struct plan_acl_entry *a, const struct plan_acl_entry *b)
{
	if (a->rule != b->rule || a->hook != b->hook || a->protocols != b->protocols ||
	    a->n_ports != b->n_ports || !planner_prefixes_equal(&a->src, &b->src) ||
	    !planner_prefixes_equal(&a->dst, &b->dst))
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].lo != b->ports[i].lo || a->ports[i].hi != b->ports[i].hi)
			return false;
	return true;
}

bool plan_acl_equal(const struct plan_acl *a, const struct plan_acl *b)
{
	if (a->deny != b->deny || a->n_entries != b->n_entries)
		return false;
	for (size_t i = 0; i < a->n_entries; i++)
		if (!entry_equal(&a->entries[i], &b->entries[i]))
			return false;
	return true;
}

/* ---- names ---- */

const char *plan_acl_hook_name(enum acl_hook hook)
{
	switch (hook) {
	case ACL_HOOK_INPUT:
		return "input";
	case ACL_HOOK_FORWARD:
		return "forward";
	case ACL_HOOK_EXIT:
		return "exit";
	}
	return "?";
}

const char *plan_acl_protocols_format(uint8_t protocols, char *buf, size_t len)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = { { ACL_PROTO_TCP, "tcp" },
		      { ACL_PROTO_UDP, "udp" },
		      { ACL_PROTO_ICMP, "icmp" } };
	size_t used = 0;

	snprintf(buf, len, "%s", protocols ? "" : "*");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(protocols & names[i].bit))
			continue;
		used +=
		    (size_t)snprintf(buf + (used < len ? used : len), used < len ? len - used : 0,
				     "%s%s", used ? "," : "", names[i].name);
	}
	return buf;
}
