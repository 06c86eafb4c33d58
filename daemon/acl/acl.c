/*
 * The policy as data: release, deep copy, equality, a digest, and the text
 * forms of its sources and destinations ("group:admins",
 * "192.168.77.0/24:22,443", "exit", "dns:53", "*") that the config file
 * and the CLI read.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/acl.h"

enum { DNS_PORT = 53 };

static void target_free(struct acl_target *t)
{
	free(t->ports);
	t->ports = NULL;
	t->n_ports = 0;
}

static void rule_free(struct acl_rule *r)
{
	for (size_t i = 0; i < r->n_from; i++)
		target_free(&r->from[i]);
	for (size_t i = 0; i < r->n_to; i++)
		target_free(&r->to[i]);
	free(r->from);
	free(r->to);
	memset(r, 0, sizeof(*r));
}

void acl_policy_free(struct acl_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->groups[i].members);
	for (size_t i = 0; i < p->n_rules; i++)
		rule_free(&p->rules[i]);
	free(p->groups);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

/* n elements of size bytes; NULL for none. */
static void *dup_array(const void *v, size_t n, size_t size, bool *oom)
{
	void *copy;

	if (!n)
		return NULL;
	copy = malloc(n * size);
	if (!copy)
		*oom = true;
	else
		memcpy(copy, v, n * size);
	return copy;
}

static struct acl_target *targets_copy(const struct acl_target *v, size_t n, bool *oom)
{
	struct acl_target *copy = dup_array(v, n, sizeof(*v), oom);

	for (size_t i = 0; copy && i < n; i++)
		copy[i].ports = dup_array(v[i].ports, v[i].n_ports, sizeof(*v[i].ports), oom);
	return copy;
}

int acl_policy_copy(struct acl_policy *dst, const struct acl_policy *src)
{
	bool oom = false;

	memset(dst, 0, sizeof(*dst));
	dst->def = src->def;
	dst->groups = dup_array(src->groups, src->n_groups, sizeof(*src->groups), &oom);
	dst->n_groups = dst->groups ? src->n_groups : 0;
	for (size_t i = 0; i < dst->n_groups; i++)
		dst->groups[i].members = dup_array(src->groups[i].members, src->groups[i].n_members,
						   sizeof(*src->groups[i].members), &oom);
	dst->rules = calloc(src->n_rules ? src->n_rules : 1, sizeof(*dst->rules));
	oom |= !dst->rules;
	for (size_t i = 0; dst->rules && i < src->n_rules; i++) {
		const struct acl_rule *r = &src->rules[i];
		dst->rules[i] = (struct acl_rule){ .n_from = r->n_from,
						   .n_to = r->n_to,
						   .protocols = r->protocols,
						   .line = r->line };
		dst->rules[i].from = targets_copy(r->from, r->n_from, &oom);
		dst->rules[i].to = targets_copy(r->to, r->n_to, &oom);
		dst->n_rules = i + 1;
	}
	if (!oom)
		return 0;
	/* A failed member copy left its pointer NULL with its count set. */
	for (size_t i = 0; i < dst->n_groups; i++)
		if (!dst->groups[i].members)
			dst->groups[i].n_members = 0;
	for (size_t i = 0; i < dst->n_rules; i++) {
		if (!dst->rules[i].from)
			dst->rules[i].n_from = 0;
		if (!dst->rules[i].to)
			dst->rules[i].n_to = 0;
		for (size_t k = 0; k < dst->rules[i].n_from; k++)
			if (!dst->rules[i].from[k].ports)
				dst->rules[i].from[k].n_ports = 0;
		for (size_t k = 0; k < dst->rules[i].n_to; k++)
			if (!dst->rules[i].to[k].ports)
				dst->rules[i].to[k].n_ports = 0;
	}
	acl_policy_free(dst);
	return -ENOMEM;
}

static bool target_equal(const struct acl_target *a, const struct acl_target *b)
{
	if (a->kind != b->kind || a->n_ports != b->n_ports ||
	    (a->n_ports && memcmp(a->ports, b->ports, a->n_ports * sizeof(*a->ports))))
		return false;
	if (a->kind == ACL_NAME || a->kind == ACL_GROUP)
		return !strcasecmp(a->name, b->name);
	if (a->kind == ACL_PREFIX)
		return prefix_equal(&a->prefix, &b->prefix);
	return true;
}

static bool targets_equal(const struct acl_target *a, size_t na, const struct acl_target *b,
			  size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!target_equal(&a[i], &b[i]))
			return false;
	return true;
}

static bool group_equal(const struct acl_group *a, const struct acl_group *b)
{
	if (strcasecmp(a->name, b->name) || a->n_members != b->n_members)
		return false;
	for (size_t i = 0; i < a->n_members; i++)
		if (strcasecmp(a->members[i], b->members[i]))
			return false;
	return true;
}

/* Lines are left out: moving a rule in the file changes nothing it does. */
bool acl_policy_equal(const struct acl_policy *a, const struct acl_policy *b)
{
	if (a->def != b->def || a->n_groups != b->n_groups || a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_groups; i++)
		if (!group_equal(&a->groups[i], &b->groups[i]))
			return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct acl_rule *x = &a->rules[i], *y = &b->rules[i];
		if (x->protocols != y->protocols ||
		    !targets_equal(x->from, x->n_from, y->from, y->n_from) ||
		    !targets_equal(x->to, x->n_to, y->to, y->n_to))
			return false;
	}
	return true;
}

/* ---- digest ---- */

static void hash_u32(crypto_generichash_state *h, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	crypto_generichash_update(h, b, sizeof(b));
}

/* Names compare without case (acl_policy_equal): they are hashed lowered,
 * after their length. */
static void hash_name(crypto_generichash_state *h, const char *name)
{
	size_t n = strlen(name);

	hash_u32(h, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)name[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		crypto_generichash_update(h, &c, 1);
	}
}

static void hash_targets(crypto_generichash_state *h, const struct acl_target *v, size_t n)
{
	hash_u32(h, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		hash_u32(h, v[i].kind);
		if (v[i].kind == ACL_NAME || v[i].kind == ACL_GROUP)
			hash_name(h, v[i].name);
		if (v[i].kind == ACL_PREFIX) {
			hash_u32(h, (uint32_t)v[i].prefix.family);
			hash_u32(h, v[i].prefix.len);
			crypto_generichash_update(h, v[i].prefix.addr, sizeof(v[i].prefix.addr));
		}
		hash_u32(h, (uint32_t)v[i].n_ports);
		for (size_t k = 0; k < v[i].n_ports; k++) {
			hash_u32(h, v[i].ports[k].lo);
			hash_u32(h, v[i].ports[k].hi);
		}
	}
}

void acl_policy_digest(const struct acl_policy *p, uint8_t out[ACL_DIGEST_LEN])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, ACL_DIGEST_LEN);
	hash_u32(&h, p->def);
	hash_u32(&h, (uint32_t)p->n_groups);
	for (size_t i = 0; i < p->n_groups; i++) {
		hash_name(&h, p->groups[i].name);
		hash_u32(&h, (uint32_t)p->groups[i].n_members);
		for (size_t k = 0; k < p->groups[i].n_members; k++)
			hash_name(&h, p->groups[i].members[k]);
	}
	hash_u32(&h, (uint32_t)p->n_rules);
	for (size_t i = 0; i < p->n_rules; i++) {
		hash_u32(&h, p->rules[i].protocols);
		hash_targets(&h, p->rules[i].from, p->rules[i].n_from);
		hash_targets(&h, p->rules[i].to, p->rules[i].n_to);
	}
	crypto_generichash_final(&h, out, ACL_DIGEST_LEN);
}

/* ---- text forms ---- */

static int cmp_range(const void *a, const void *b)
{
	const struct acl_port_range *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi > y->hi) - (x->hi < y->hi);
}

size_t acl_ports_canonical(struct acl_port_range *v, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if ((unsigned)v[i].lo <= (unsigned)v[out].hi + 1) {
			if (v[i].hi > v[out].hi)
				v[out].hi = v[i].hi;
		} else {
			v[++out] = v[i];
		}
	}
	return out + 1;
}

/* One "N" or "LO-HI". */
static bool range_parse(const char *text, size_t len, struct acl_port_range *r)
{
	unsigned long v[2] = { 0, 0 };
	size_t k = 0, digits = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '-' && k == 0 && digits) {
			k = 1;
			digits = 0;
		} else if (text[i] >= '0' && text[i] <= '9' && digits < 5) {
			v[k] = v[k] * 10 + (unsigned long)(text[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	if (!digits)
		return false;
	if (k == 0)
		v[1] = v[0];
	if (v[0] < 1 || v[1] > 65535 || v[0] > v[1])
		return false;
	r->lo = (uint16_t)v[0];
	r->hi = (uint16_t)v[1];
	return true;
}

int acl_ports_parse(const char *text, struct acl_port_range **out, size_t *n)
{
	size_t count = 1;
	struct acl_port_range *v;

	*out = NULL;
	*n = 0;
	if (!strcmp(text, "*"))
		return 0;
	for (const char *c = text; *c; c++)
		count += *c == ',';
	if (count > ACL_MAX_PORT_RANGES)
		return -E2BIG;
	v = calloc(count, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		size_t len = strcspn(text, ",");
		if (!range_parse(text, len, &v[i])) {
			free(v);
			return -EINVAL;
		}
		text += len + (text[len] == ',');
	}
	*n = acl_ports_canonical(v, count);
	*out = v;
	return 0;
}

static bool name_ok(const char *s, size_t len)
{
	size_t digits = strspn(s, "0123456789.");

	if (len == 0 || len > ACL_NAME_MAX || digits >= len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
			    s[i]))
			return false;
	return true;
}

/* The prefix part of a destination and where its ports start (or NULL). */
static int dest_prefix(const char *text, struct acl_target *t, const char **ports, char *why,
		       size_t len)
{
	const char *slash = strchr(text, '/'), *colon;
	char buf[PREFIX_STR_LEN + 8];
	size_t n;

	if (slash) {
		colon = strchr(slash, ':');
	} else {
		/* A bare IPv4 address may take ports; a bare IPv6 address may not. */
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
	}
	n = colon ? (size_t)(colon - text) : strlen(text);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (prefix_parse(&t->prefix, buf) < 0)
		return -EINVAL;
	if (!prefix_is_network(&t->prefix)) {
		struct prefix masked = t->prefix;
		char net[PREFIX_STR_LEN];
		prefix_mask(&masked);
		prefix_format(&masked, net, sizeof(net));
		snprintf(why, len, "'%s' has host bits set; did you mean '%s'?", buf, net);
		return -EDOM;
	}
	t->kind = ACL_PREFIX;
	*ports = colon ? colon + 1 : NULL;
	return 0;
}

/* NAME, group:NAME, exit, dns, * with an optional ":PORTS". */
static int dest_named(const char *text, struct acl_target *t, const char **ports)
{
	const char *colon;
	size_t n;

	if (!strncmp(text, "group:", 6)) {
		t->kind = ACL_GROUP;
		text += 6;
	}
	colon = strchr(text, ':');
	n = colon ? (size_t)(colon - text) : strlen(text);
	*ports = colon ? colon + 1 : NULL;
	if (t->kind == ACL_GROUP) {
	} else if (n == 1 && text[0] == '*') {
		t->kind = ACL_ANY;
		return 0;
	} else if (n == 4 && !strncasecmp(text, "exit", 4)) {
		t->kind = ACL_EXIT;
		return 0;
	} else if (n == 3 && !strncasecmp(text, "dns", 3)) {
		t->kind = ACL_DNS;
		return 0;
	} else {
		t->kind = ACL_NAME;
	}
	if (!name_ok(text, n))
		return -EINVAL;
	memcpy(t->name, text, n);
	t->name[n] = '\0';
	return 0;
}

static bool dns_ports_ok(const struct acl_target *t)
{
	return t->n_ports == 0 ||
	       (t->n_ports == 1 && t->ports[0].lo == DNS_PORT && t->ports[0].hi == DNS_PORT);
}

int acl_target_parse(const char *text, bool source, struct acl_target *t, char *why, size_t len)
{
	const char *ports = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(why, len, "'%s' is not %s", text,
		 source ? "a node or device name, group:NAME or *"
			: "a node or device name, group:NAME, a prefix, exit, dns or *, with "
			  "an optional :PORTS");
	ret = -EINVAL;
	if (!source && strncmp(text, "group:", 6)) {
		ret = dest_prefix(text, t, &ports, why, len);
		if (ret == -EDOM)
			return -EINVAL;
	}
	if (ret < 0) {
		memset(t, 0, sizeof(*t));
		ret = dest_named(text, t, &ports);
	}
	if (ret < 0)
		return ret;
	if (source && (ports || t->kind == ACL_EXIT || t->kind == ACL_DNS)) {
		memset(t, 0, sizeof(*t));
		return -EINVAL;
	}
	if (!ports)
		return 0;
	ret = acl_ports_parse(ports, &t->ports, &t->n_ports);
	if (ret == -EINVAL || ret == -E2BIG)
		snprintf(why, len,
			 "'%s': ports must be *, N, N,M or LOW-HIGH, 1-65535, at most %d ranges",
			 text, ACL_MAX_PORT_RANGES);
	else if (ret == 0 && t->kind == ACL_DNS && !dns_ports_ok(t)) {
		snprintf(why, len, "'%s': dns is port 53 only", text);
		ret = -EINVAL;
	}
	if (ret < 0)
		target_free(t);
	return ret < 0 ? -EINVAL : 0;
}

void acl_target_format(const struct acl_target *t, char *out, size_t len)
{
	size_t used;

	switch (t->kind) {
	case ACL_ANY:
		snprintf(out, len, "*");
		break;
	case ACL_NAME:
		snprintf(out, len, "%s", t->name);
		break;
	case ACL_GROUP:
		snprintf(out, len, "group:%s", t->name);
		break;
	case ACL_PREFIX:
		prefix_format(&t->prefix, out, len);
		break;
	case ACL_EXIT:
		snprintf(out, len, "exit");
		break;
	case ACL_DNS:
		snprintf(out, len, "dns");
		break;
	}
	for (size_t i = 0; i < t->n_ports && (used = strlen(out)) < len; i++) {
		if (t->ports[i].lo == t->ports[i].hi)
			snprintf(out + used, len - used, "%c%u", i ? ',' : ':', t->ports[i].lo);
		else
			snprintf(out + used, len - used, "%c%u-%u", i ? ',' : ':', t->ports[i].lo,
				 t->ports[i].hi);
	}
}
