/*
 * A node's filter in its JSON form (acl/filter.h) and back. The decoder
 * takes what arrived in a netmap: every member, bound and prefix is checked,
 * unknown members are refused (a constraint this node did not understand
 * would otherwise widen what passes), and a failure leaves the filter empty.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/filter.h"

static const char *const hook_names[] = {
	[ACL_HOOK_INPUT] = "input",
	[ACL_HOOK_FORWARD] = "forward",
	[ACL_HOOK_EXIT] = "exit",
};

static const struct {
	const char *name;
	uint8_t bit;
} proto_names[] = {
	{ "tcp", ACL_PROTO_TCP },
	{ "udp", ACL_PROTO_UDP },
	{ "icmp", ACL_PROTO_ICMP },
};

void acl_filter_free(struct acl_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_entries; i++) {
		free(f->entries[i].src);
		free(f->entries[i].dst);
		free(f->entries[i].ports);
	}
	free(f->entries);
	memset(f, 0, sizeof(*f));
}

/* ---- encoding ---- */

static json_t *prefixes_to_json(const struct prefix *v, size_t n)
{
	json_t *a = json_array();
	char text[PREFIX_STR_LEN];

	for (size_t i = 0; a && i < n; i++) {
		prefix_format(&v[i], text, sizeof(text));
		if (json_array_append_new(a, json_string(text)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *protocols_to_json(uint8_t protocols)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
		if (!(protocols & proto_names[i].bit))
			continue;
		if (json_array_append_new(a, json_string(proto_names[i].name)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *ports_to_json(const struct acl_port_range *v, size_t n)
{
	json_t *a = json_array();
	char text[16];

	for (size_t i = 0; a && i < n; i++) {
		if (v[i].lo == v[i].hi)
			snprintf(text, sizeof(text), "%u", v[i].lo);
		else
			snprintf(text, sizeof(text), "%u-%u", v[i].lo, v[i].hi);
		if (json_array_append_new(a, json_string(text)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *entry_to_json(const struct acl_entry *e)
{
	json_t *o = json_object();

	if (!o || json_object_set_new(o, "rule", json_integer(e->rule)) < 0 ||
	    json_object_set_new(o, "hook", json_string(hook_names[e->hook])) < 0 ||
	    json_object_set_new(o, "src", prefixes_to_json(e->src, e->n_src)) < 0 ||
	    json_object_set_new(o, "dst", prefixes_to_json(e->dst, e->n_dst)) < 0 ||
	    (e->protocols &&
	     json_object_set_new(o, "protocols", protocols_to_json(e->protocols)) < 0) ||
	    (e->n_ports &&
	     json_object_set_new(o, "ports", ports_to_json(e->ports, e->n_ports)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *acl_filter_to_json(const struct acl_filter *f)
{
	json_t *doc = json_object(), *entries = json_array();

	if (!doc || !entries ||
	    json_object_set_new(doc, "default", json_string(f->deny ? "deny" : "allow")) < 0 ||
	    json_object_set_new(doc, "revision", json_integer(f->revision)) < 0)
		goto fail;
	for (size_t i = 0; i < f->n_entries; i++)
		if (json_array_append_new(entries, entry_to_json(&f->entries[i])) < 0)
			goto fail;
	if (json_object_set_new(doc, "entries", entries) < 0) {
		entries = NULL;
		goto fail;
	}
	return doc;
fail:
	json_decref(entries);
	json_decref(doc);
	return NULL;
}

/* ---- decoding ---- */

struct decode {
	char *err;
	size_t errlen;
	const char *where; /* "entries[3]" or "" */
};

static int __attribute__((format(printf, 2, 3))) fail(struct decode *d, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->err && d->errlen)
		snprintf(d->err, d->errlen, "policy%s%s: %s", d->where[0] ? "." : "", d->where,
			 msg);
	return -EINVAL;
}

static bool only_keys(const json_t *o, const char *const *keys, const char **unknown)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v)
	{
		size_t i = 0;
		while (keys[i] && strcmp(keys[i], k))
			i++;
		if (!keys[i]) {
			*unknown = k;
			return false;
		}
	}
	return true;
}

/* An optional array member: NULL when absent, -EINVAL when not an array. */
static int array_member(struct decode *d, const json_t *o, const char *key, size_t max,
			const json_t **out)
{
	const json_t *a = json_object_get(o, key);

	*out = NULL;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return fail(d, "%s must be an array", key);
	if (json_array_size(a) > max)
		return fail(d, "%s: more than %zu elements", key, max);
	*out = a;
	return 0;
}

static int prefixes_from_json(struct decode *d, const json_t *o, const char *key, struct prefix **v,
			      size_t *n)
{
	const json_t *a, *item;
	size_t i;
	int ret = array_member(d, o, key, ACL_MAX_PREFIXES, &a);

	if (ret < 0 || !a || json_array_size(a) == 0)
		return ret;
	*v = calloc(json_array_size(a), sizeof(**v));
	if (!*v)
		return -ENOMEM;
	json_array_foreach(a, i, item)
	{
		const char *text = json_string_value(item);
		if (!text || prefix_parse(&(*v)[i], text) < 0)
			return fail(d, "%s[%zu] is not an IP prefix", key, i);
		if (!prefix_is_network(&(*v)[i]))
			return fail(d, "%s[%zu]: '%s' has host bits set", key, i, text);
		*n = i + 1;
	}
	return 0;
}

static int protocols_from_json(struct decode *d, const json_t *o, uint8_t *protocols)
{
	const json_t *a, *item;
	size_t i, k;
	int ret = array_member(d, o, "protocols", 8, &a);

	if (ret < 0 || !a)
		return ret;
	json_array_foreach(a, i, item)
	{
		const char *text = json_string_value(item);
		for (k = 0; text && k < sizeof(proto_names) / sizeof(proto_names[0]); k++)
			if (!strcmp(text, proto_names[k].name))
				break;
		if (!text || k == sizeof(proto_names) / sizeof(proto_names[0]))
			return fail(d, "protocols[%zu] is not tcp, udp or icmp", i);
		*protocols |= proto_names[k].bit;
	}
	return 0;
}

/* "N" or "LO-HI", 1..65535, LO <= HI. */
static bool port_range_parse(const char *text, struct acl_port_range *r)
{
	unsigned lo, hi;
	int used = 0;

	if (!text || !*text || strspn(text, "0123456789-") != strlen(text))
		return false;
	if (sscanf(text, "%5u-%5u%n", &lo, &hi, &used) == 2 && (size_t)used == strlen(text)) {
	} else if (sscanf(text, "%5u%n", &lo, &used) == 1 && (size_t)used == strlen(text)) {
		hi = lo;
	} else {
		return false;
	}
	if (lo < 1 || hi > 65535 || lo > hi)
		return false;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
}

static int ports_from_json(struct decode *d, const json_t *o, struct acl_entry *e)
{
	const json_t *a, *item;
	size_t i;
	int ret = array_member(d, o, "ports", ACL_MAX_PORT_RANGES, &a);

	if (ret < 0 || !a || json_array_size(a) == 0)
		return ret;
	e->ports = calloc(json_array_size(a), sizeof(*e->ports));
	if (!e->ports)
		return -ENOMEM;
	json_array_foreach(a, i, item)
	{
		if (!port_range_parse(json_string_value(item), &e->ports[i]))
			return fail(d, "ports[%zu] is not a port or LOW-HIGH (1-65535)", i);
		e->n_ports = i + 1;
	}
	return 0;
}

static int hook_from_json(struct decode *d, const json_t *o, enum acl_hook *hook)
{
	const char *text = json_string_value(json_object_get(o, "hook"));

	for (size_t i = 0; text && i < sizeof(hook_names) / sizeof(hook_names[0]); i++) {
		if (!strcmp(text, hook_names[i])) {
			*hook = (enum acl_hook)i;
			return 0;
		}
	}
	return fail(d, "hook must be \"input\", \"forward\" or \"exit\"");
}

/* The cross-member rules of filter.h. */
static int entry_check(struct decode *d, const struct acl_entry *e)
{
	if (e->n_src == 0)
		return fail(d, "src is empty");
	if (e->hook == ACL_HOOK_EXIT && e->n_dst)
		return fail(d, "an exit entry has no dst");
	if (e->hook != ACL_HOOK_EXIT && e->n_dst == 0)
		return fail(d, "dst is empty");
	if (e->n_ports && !(e->protocols & (ACL_PROTO_TCP | ACL_PROTO_UDP)))
		return fail(d, "ports need protocols tcp or udp");
	if (e->n_ports && (e->protocols & ACL_PROTO_ICMP))
		return fail(d, "ports do not apply to icmp");
	return 0;
}

static int entry_from_json(struct decode *d, const json_t *o, struct acl_entry *e)
{
	static const char *const keys[] = {
		"rule", "hook", "src", "dst", "protocols", "ports", NULL
	};
	const json_t *rule = json_object_get(o, "rule");
	const char *unknown;
	int ret;

	if (!json_is_object(o))
		return fail(d, "must be an object");
	if (!only_keys(o, keys, &unknown))
		return fail(d, "unknown member '%s'", unknown);
	if (!json_is_integer(rule) || json_integer_value(rule) < 0 ||
	    json_integer_value(rule) > UINT32_MAX)
		return fail(d, "rule must be an integer 0..%u", UINT32_MAX);
	e->rule = (uint32_t)json_integer_value(rule);
	if ((ret = hook_from_json(d, o, &e->hook)) < 0 ||
	    (ret = prefixes_from_json(d, o, "src", &e->src, &e->n_src)) < 0 ||
	    (ret = prefixes_from_json(d, o, "dst", &e->dst, &e->n_dst)) < 0 ||
	    (ret = protocols_from_json(d, o, &e->protocols)) < 0 ||
	    (ret = ports_from_json(d, o, e)) < 0)
		return ret;
	return entry_check(d, e);
}

static int filter_head(struct decode *d, const json_t *doc, struct acl_filter *out)
{
	static const char *const keys[] = { "default", "revision", "entries", NULL };
	const char *def = json_string_value(json_object_get(doc, "default")), *unknown;
	const json_t *rev = json_object_get(doc, "revision");

	if (!json_is_object(doc))
		return fail(d, "must be an object");
	if (!only_keys(doc, keys, &unknown))
		return fail(d, "unknown member '%s'", unknown);
	if (!def || (strcmp(def, "allow") && strcmp(def, "deny")))
		return fail(d, "default must be \"allow\" or \"deny\"");
	if (rev && (!json_is_integer(rev) || json_integer_value(rev) < 0 ||
		    json_integer_value(rev) > UINT32_MAX))
		return fail(d, "revision must be an integer 0..%u", UINT32_MAX);
	out->present = true;
	out->deny = !strcmp(def, "deny");
	out->revision = rev ? (uint32_t)json_integer_value(rev) : 0;
	return 0;
}

static int filter_decode(struct decode *d, const json_t *doc, struct acl_filter *out)
{
	const json_t *entries, *item;
	char where[32];
	size_t i;
	int ret;

	if ((ret = filter_head(d, doc, out)) < 0 ||
	    (ret = array_member(d, doc, "entries", ACL_MAX_ENTRIES, &entries)) < 0)
		return ret;
	if (!entries || json_array_size(entries) == 0)
		return 0;
	if (!out->deny)
		return fail(d, "default \"allow\" has no entries");
	out->entries = calloc(json_array_size(entries), sizeof(*out->entries));
	if (!out->entries)
		return -ENOMEM;
	json_array_foreach(entries, i, item)
	{
		snprintf(where, sizeof(where), "entries[%zu]", i);
		d->where = where;
		out->n_entries = i + 1;
		if ((ret = entry_from_json(d, item, &out->entries[i])) < 0)
			return ret;
	}
	d->where = "";
	return 0;
}

int acl_filter_from_json(const json_t *doc, struct acl_filter *out, char *errbuf, size_t errlen)
{
	struct decode d = { .err = errbuf, .errlen = errlen, .where = "" };
	int ret;

	memset(out, 0, sizeof(*out));
	if (errbuf && errlen)
		errbuf[0] = '\0';
	ret = filter_decode(&d, doc, out);
	if (ret == -ENOMEM && errbuf && errlen)
		snprintf(errbuf, errlen, "policy: out of memory");
	if (ret < 0)
		acl_filter_free(out);
	return ret;
}
