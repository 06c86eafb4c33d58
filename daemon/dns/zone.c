/*
 * The mesh's name table; see zone.h. Built as: valid inputs (in input
 * order, up to the name cap) sorted by (name, member first, input order),
 * runs of one name merged into an entry, then a reverse table of every
 * address sorted by (address, member first, name).
 */
#include "dns/zone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rev {
	struct prefix addr;
	uint32_t entry;
	bool member;
};

struct dns_zone {
	char domain[DNS_DOMAIN_MAX + 1];
	struct prefix mesh[2];
	size_t n_mesh;
	struct prefix rzone[3]; /* the reverse zones' networks: mesh[], then DNS_RESOLVER_NET6 */
	size_t n_rzone;
	uint32_t serial;
	struct dns_zone_entry *entries; /* sorted by name */
	size_t n_entries;
	struct prefix *addrs; /* each entry's addresses together */
	size_t n_addrs;
	struct rev *rev; /* sorted by address, one per address */
	size_t n_rev;
	struct dns_zone_skip *skipped; /* no label (input order), then taken (by label) */
	size_t n_skipped;
};

/* One valid input under its label. */
struct item {
	char name[DNS_LABEL_MAX + 1];
	const struct dns_zone_name *in;
	size_t order;
};

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

bool dns_label_valid(const char *text, size_t len)
{
	if (len < 1 || len > DNS_LABEL_MAX || text[0] == '-' || text[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ldh(text[i]))
			return false;
	return true;
}

bool dns_domain_valid(const char *domain)
{
	size_t len = strlen(domain);

	if (len && domain[len - 1] == '.')
		len--;
	if (len < 1 || len > DNS_DOMAIN_MAX)
		return false;
	for (size_t start = 0; start <= len;) {
		size_t end = start;

		while (end < len && domain[end] != '.')
			end++;
		if (!dns_label_valid(domain + start, end - start))
			return false;
		start = end + 1;
	}
	return true;
}

static char lower_char(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

size_t dns_label_from_name(const char *name, char out[DNS_LABEL_MAX + 1])
{
	size_t len = 0;
	bool gap = false;

	for (const char *c = name; *c && len < DNS_LABEL_MAX; c++) {
		char l = lower_char(*c);

		if (!ldh(l)) {
			gap = len > 0;
			continue;
		}
		if (l == '-' && len == 0)
			continue;
		if (gap)
			out[len++] = '-';
		gap = false;
		if (len < DNS_LABEL_MAX)
			out[len++] = l;
	}
	while (len && out[len - 1] == '-')
		len--;
	out[len] = '\0';
	return len;
}

static void lower(char *out, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[len] = '\0';
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->in->member != y->in->member)
		return x->in->member ? -1 : 1;
	if (x->in->member) {
		uint64_t rx = x->in->id ? x->in->id : UINT64_MAX,
			 ry = y->in->id ? y->in->id : UINT64_MAX;

		if (rx != ry)
			return rx < ry ? -1 : 1;
		c = strcmp(x->in->name, y->in->name);
		if (c)
			return c;
	}
	return (x->order > y->order) - (x->order < y->order);
}

static void skip_add(struct dns_zone *z, const struct dns_zone_name *in, const char *label,
		     const char *holder)
{
	struct dns_zone_skip *s = &z->skipped[z->n_skipped++];

	snprintf(s->name, sizeof(s->name), "%s", in->name);
	snprintf(s->label, sizeof(s->label), "%s", label);
	snprintf(s->holder, sizeof(s->holder), "%s", holder);
}

static bool host_address(const struct prefix *p)
{
	return p->family == AF_INET || p->family == AF_INET6;
}

static bool same_addr(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, addr_len(a->family));
}

/* Appends in's addresses to entry e, once each, within the caps. */
static void take_addresses(struct dns_zone *z, struct dns_zone_entry *e,
			   const struct dns_zone_name *in, struct dns_zone_stats *st)
{
	for (size_t i = 0; i < in->n_addresses; i++) {
		struct prefix a = in->addresses[i];
		bool seen = false;

		if (!host_address(&a))
			continue;
		a.len = (uint8_t)(addr_len(a.family) * 8);
		for (uint32_t j = 0; j < e->n && !seen; j++)
			seen = same_addr(&z->addrs[e->first + j], &a);
		if (seen)
			continue;
		if (e->n >= DNS_NAME_ADDRS_MAX || z->n_addrs >= DNS_ZONE_ADDRS_MAX) {
			st->over_cap++;
			continue;
		}
		z->addrs[z->n_addrs++] = a;
		e->n++;
	}
}

/* Merges sorted items into entries: the first of a run of one name wins;
 * records after a record add their addresses, anything after a member is a
 * duplicate. */
static void merge(struct dns_zone *z, const struct item *items, size_t n, struct dns_zone_stats *st)
{
	for (size_t i = 0; i < n; i++) {
		struct dns_zone_entry *last = z->n_entries ? &z->entries[z->n_entries - 1] : NULL;

		if (last && !strcmp(last->name, items[i].name)) {
			if (last->member && items[i].in->member)
				skip_add(z, items[i].in, last->name, last->source);
			if (last->member || items[i].in->member)
				st->duplicate++;
			else
				take_addresses(z, last, items[i].in, st);
			continue;
		}
		last = &z->entries[z->n_entries++];
		memcpy(last->name, items[i].name, sizeof(last->name));
		snprintf(last->source, sizeof(last->source), "%s",
			 items[i].in->member ? items[i].in->name : "");
		last->member = items[i].in->member;
		last->first = (uint32_t)z->n_addrs;
		last->n = 0;
		take_addresses(z, last, items[i].in, st);
	}
}

static int cmp_rev(const void *a, const void *b)
{
	const struct rev *x = a, *y = b;
	int c;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	c = memcmp(x->addr.addr, y->addr.addr, addr_len(x->addr.family));
	if (c)
		return c;
	if (x->member != y->member)
		return x->member ? -1 : 1;
	return (x->entry > y->entry) - (x->entry < y->entry);
}

/* The reverse table: one row per distinct address, the first by cmp_rev. */
static void build_reverse(struct dns_zone *z)
{
	size_t k = 0;

	for (size_t i = 0; i < z->n_entries; i++) {
		const struct dns_zone_entry *e = &z->entries[i];
		for (uint32_t j = 0; j < e->n; j++)
			z->rev[k++] = (struct rev){ .addr = z->addrs[e->first + j],
						    .entry = (uint32_t)i,
						    .member = e->member };
	}
	qsort(z->rev, k, sizeof(*z->rev), cmp_rev);
	z->n_rev = 0;
	for (size_t i = 0; i < k; i++)
		if (!z->n_rev || !same_addr(&z->rev[z->n_rev - 1].addr, &z->rev[i].addr))
			z->rev[z->n_rev++] = z->rev[i];
}

static int zone_alloc(struct dns_zone *z, size_t n_names)
{
	size_t n_addrs = n_names * DNS_NAME_ADDRS_MAX;

	if (n_addrs > DNS_ZONE_ADDRS_MAX)
		n_addrs = DNS_ZONE_ADDRS_MAX;
	z->entries = calloc(n_names ? n_names : 1, sizeof(*z->entries));
	z->addrs = calloc(n_addrs ? n_addrs : 1, sizeof(*z->addrs));
	z->rev = calloc(n_addrs ? n_addrs : 1, sizeof(*z->rev));
	return z->entries && z->addrs && z->rev ? 0 : -ENOMEM;
}

/* The input's label in out; false when it has none. */
static bool item_label(const struct dns_zone_name *in, char out[DNS_LABEL_MAX + 1])
{
	size_t len = in->name ? strlen(in->name) : 0;

	if (in->member)
		return in->name && dns_label_from_name(in->name, out) > 0;
	if (!dns_label_valid(in->name, len))
		return false;
	lower(out, in->name, len);
	return true;
}

/* The valid inputs, up to the name cap, in input order. */
static size_t collect(struct dns_zone *z, const struct dns_zone_name *names, size_t n,
		      struct item *items, struct dns_zone_stats *st)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!item_label(&names[i], items[k].name)) {
			if (names[i].member && names[i].name)
				skip_add(z, &names[i], "", "");
			st->invalid++;
			continue;
		}
		if (k >= DNS_ZONE_NAMES_MAX) {
			st->over_cap++;
			continue;
		}
		items[k].in = &names[i];
		items[k].order = i;
		k++;
	}
	return k;
}

static void set_spec(struct dns_zone *z, const struct dns_zone_spec *spec)
{
	const char *domain = spec->domain ? spec->domain : DNS_DEFAULT_DOMAIN;
	size_t len = strlen(domain);

	if (domain[len - 1] == '.')
		len--;
	lower(z->domain, domain, len);
	z->serial = spec->serial;
	for (size_t i = 0; i < spec->n_mesh && z->n_mesh < 2; i++) {
		if (!host_address(&spec->mesh[i]))
			continue;
		z->mesh[z->n_mesh] = spec->mesh[i];
		prefix_mask(&z->mesh[z->n_mesh]);
		z->rzone[z->n_rzone++] = z->mesh[z->n_mesh++];
	}
	if (prefix_parse(&z->rzone[z->n_rzone], DNS_RESOLVER_NET6) == 0)
		z->n_rzone++;
}

int dns_zone_build(const struct dns_zone_spec *spec, const struct dns_zone_name *names, size_t n,
		   struct dns_zone **out, struct dns_zone_stats *stats)
{
	struct dns_zone_stats st = { 0 };
	struct dns_zone *z = NULL;
	struct item *items = NULL;
	size_t n_items;
	int ret = -EINVAL;

	*out = NULL;
	if (spec->domain && !dns_domain_valid(spec->domain))
		goto out;
	ret = -ENOMEM;
	z = calloc(1, sizeof(*z));
	items = calloc(n + 1, sizeof(*items));
	if (!z || !items || !(z->skipped = calloc(n + 1, sizeof(*z->skipped))))
		goto out;
	set_spec(z, spec);
	n_items = collect(z, names, n, items, &st);
	if (zone_alloc(z, n_items) < 0)
		goto out;
	qsort(items, n_items, sizeof(*items), cmp_item);
	merge(z, items, n_items, &st);
	build_reverse(z);
	st.names = z->n_entries;
	st.addresses = z->n_addrs;
	*out = z;
	z = NULL;
	ret = 0;
out:
	if (stats)
		*stats = st;
	free(items);
	dns_zone_free(z);
	return ret;
}

void dns_zone_free(struct dns_zone *zone)
{
	if (!zone)
		return;
	free(zone->entries);
	free(zone->addrs);
	free(zone->rev);
	free(zone->skipped);
	free(zone);
}

const char *dns_zone_domain(const struct dns_zone *zone)
{
	return zone->domain;
}

uint32_t dns_zone_serial(const struct dns_zone *zone)
{
	return zone->serial;
}

size_t dns_zone_count(const struct dns_zone *zone)
{
	return zone->n_entries;
}

const struct dns_zone_skip *dns_zone_skipped(const struct dns_zone *zone, size_t *n)
{
	*n = zone->n_skipped;
	return zone->skipped;
}

void dns_zone_skip_reason(const struct dns_zone_skip *skip, char *out, size_t len)
{
	if (!skip->holder[0])
		snprintf(out, len, "no DNS label in the name");
	else
		snprintf(out, len, "its label \"%s\" is %s's", skip->label, skip->holder);
}

const char *dns_zone_member_label(const struct dns_zone *zone, const char *name)
{
	char label[DNS_LABEL_MAX + 1];
	size_t len = dns_label_from_name(name, label);
	const struct dns_zone_entry *e = len ? dns_zone_lookup(zone, label, len) : NULL;

	return e && e->member && !strcmp(e->source, name) ? e->name : NULL;
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct dns_zone_entry *)elem)->name);
}

const struct dns_zone_entry *dns_zone_lookup(const struct dns_zone *zone, const char *label,
					     size_t len)
{
	char key[DNS_LABEL_MAX + 1];

	if (!dns_label_valid(label, len))
		return NULL;
	lower(key, label, len);
	return bsearch(key, zone->entries, zone->n_entries, sizeof(*zone->entries), cmp_name);
}

const struct prefix *dns_zone_addresses(const struct dns_zone *zone,
					const struct dns_zone_entry *entry, size_t *n)
{
	*n = entry->n;
	return &zone->addrs[entry->first];
}

static int cmp_addr(const void *key, const void *elem)
{
	const struct prefix *k = key;
	const struct rev *r = elem;

	if (k->family != r->addr.family)
		return k->family < r->addr.family ? -1 : 1;
	return memcmp(k->addr, r->addr.addr, addr_len(k->family));
}

const struct dns_zone_entry *dns_zone_lookup_addr(const struct dns_zone *zone, int family,
						  const uint8_t *addr)
{
	struct prefix key = { .family = family };
	const struct rev *r;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	memcpy(key.addr, addr, addr_len(family));
	r = bsearch(&key, zone->rev, zone->n_rev, sizeof(*zone->rev), cmp_addr);
	return r ? &zone->entries[r->entry] : NULL;
}

bool dns_zone_is_mesh(const struct dns_zone *zone, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < zone->n_mesh; i++)
		if (prefix_contains_addr(&zone->mesh[i], family, addr))
			return true;
	return false;
}

/* ---- reverse names ---- */

/* Splits a name into at most max labels (pointers into copy). */
static size_t split(char *copy, char **labels, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *l = strtok_r(copy, ".", &save); l; l = strtok_r(NULL, ".", &save)) {
		if (n == max)
			return max + 1;
		labels[n++] = l;
	}
	return n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool octet(const char *label, uint8_t *out)
{
	size_t len = strlen(label);
	unsigned v = 0;

	if (len < 1 || len > 3 || (len > 1 && label[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (label[i] < '0' || label[i] > '9')
			return false;
		v = v * 10 + (unsigned)(label[i] - '0');
	}
	*out = (uint8_t)v;
	return v <= 255;
}

static bool reverse4(char **l, uint8_t addr[16])
{
	for (int i = 0; i < 4; i++)
		if (!octet(l[3 - i], &addr[i]))
			return false;
	return true;
}

static bool reverse6(char **l, uint8_t addr[16])
{
	memset(addr, 0, 16);
	for (int i = 0; i < 32; i++) {
		int v = strlen(l[i]) == 1 ? hex_value(l[i][0]) : -1;

		if (v < 0)
			return false;
		/* l[0] is the lowest nibble of the last byte. */
		addr[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
	}
	return true;
}

bool dns_reverse_parse(const char *name, int *family, uint8_t addr[16])
{
	char copy[256], *l[35];
	size_t len = strlen(name), n;

	if (len == 0 || len >= sizeof(copy) || strstr(name, ".."))
		return false;
	memcpy(copy, name, len + 1);
	if (copy[len - 1] == '.')
		copy[len - 1] = '\0';
	n = split(copy, l, 34);
	if (n == 6 && !strcasecmp(l[4], "in-addr") && !strcasecmp(l[5], "arpa")) {
		*family = AF_INET;
		memset(addr, 0, 16);
		return reverse4(l, addr);
	}
	if (n == 34 && !strcasecmp(l[32], "ip6") && !strcasecmp(l[33], "arpa")) {
		*family = AF_INET6;
		return reverse6(l, addr);
	}
	return false;
}

/* ---- the reverse space ---- */

/* An address read as parts: octets (IPv4) or nibbles (IPv6), 0 the highest. */
static unsigned parts_max(int family)
{
	return family == AF_INET ? 4 : 32;
}

static unsigned part_bits(int family)
{
	return family == AF_INET ? 8 : 4;
}

static unsigned part_get(int family, const uint8_t *addr, unsigned i)
{
	if (family == AF_INET)
		return addr[i];
	return i % 2 ? addr[i / 2] & 0xf : addr[i / 2] >> 4;
}

static void part_set(int family, uint8_t *addr, unsigned i, unsigned v)
{
	if (family == AF_INET)
		addr[i] = (uint8_t)v;
	else
		addr[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
}

static bool part_parse(int family, const struct dns_label *l, unsigned *v)
{
	char text[4];
	uint8_t o;
	int h;

	if (family == AF_INET6) {
		h = l->len == 1 ? hex_value(l->text[0]) : -1;
		*v = (unsigned)h;
		return h >= 0;
	}
	if (l->len < 1 || l->len > 3)
		return false;
	memcpy(text, l->text, l->len);
	text[l->len] = '\0';
	if (!octet(text, &o))
		return false;
	*v = o;
	return true;
}

/* The parts of a zone's apex: its network's length rounded up. */
static unsigned apex_parts(const struct prefix *net)
{
	unsigned bits = part_bits(net->family), k = (net->len + bits - 1) / bits;

	return k ? k : 1;
}

static bool label_is(const struct dns_label *l, const char *text)
{
	return l->len == strlen(text) && !strncasecmp(l->text, text, l->len);
}

/* AF_INET under in-addr.arpa, AF_INET6 under ip6.arpa, else 0. */
static int reverse_family(const struct dns_label *labels, size_t n)
{
	if (n < 2 || !label_is(&labels[n - 1], "arpa"))
		return 0;
	if (label_is(&labels[n - 2], "in-addr"))
		return AF_INET;
	return label_is(&labels[n - 2], "ip6") ? AF_INET6 : 0;
}

/* Reads the address labels[0..m) from the right into addr until a label
 * is not a part; how many were. */
static unsigned read_parts(int family, const struct dns_label *labels, size_t m, uint8_t *addr)
{
	unsigned p = 0, v;

	memset(addr, 0, 16);
	while (p < m && p < parts_max(family) && part_parse(family, &labels[m - 1 - p], &v))
		part_set(family, addr, p++, v);
	return p;
}

/* The widest reverse zone whose apex the first p parts of addr name or
 * lie under, or NULL. */
static const struct prefix *reverse_zone(const struct dns_zone *z, int family, const uint8_t *addr,
					 unsigned p)
{
	const struct prefix *best = NULL;

	for (size_t i = 0; i < z->n_rzone; i++) {
		const struct prefix *net = &z->rzone[i];

		if (net->family == family && apex_parts(net) <= p &&
		    prefix_contains_addr(net, family, addr) && (!best || net->len < best->len))
			best = net;
	}
	return best;
}

static void apex_name(int family, const uint8_t *addr, unsigned k, char *out)
{
	size_t used = 0;

	for (unsigned i = k; i-- > 0;)
		used +=
		    (size_t)snprintf(out + used, DNS_REVERSE_APEX_MAX - used,
				     family == AF_INET ? "%u." : "%x.", part_get(family, addr, i));
	snprintf(out + used, DNS_REVERSE_APEX_MAX - used, "%s",
		 family == AF_INET ? "in-addr.arpa" : "ip6.arpa");
}

/* Whether an address of the zone starts with the first p parts of addr:
 * the first address at or above them in the sorted reverse table does. */
static bool names_below(const struct dns_zone *z, int family, const uint8_t *addr, unsigned p)
{
	struct prefix q = { .family = family, .len = (uint8_t)(p * part_bits(family)) };
	size_t lo = 0, hi = z->n_rev;

	memcpy(q.addr, addr, addr_len(family));
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_addr(&q, &z->rev[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < z->n_rev && z->rev[lo].addr.family == family &&
	       prefix_contains_addr(&q, family, z->rev[lo].addr.addr);
}

enum dns_reverse_kind dns_zone_reverse_find(const struct dns_zone *zone,
					    const struct dns_label *labels, size_t n,
					    struct dns_reverse *out)
{
	int family = reverse_family(labels, n);
	const struct prefix *net;
	size_t m = n - 2; /* the address labels */
	unsigned p;

	memset(out, 0, sizeof(*out));
	if (!family)
		return out->kind = DNS_REVERSE_OUTSIDE;
	p = read_parts(family, labels, m, out->addr);
	net = reverse_zone(zone, family, out->addr, p);
	if (!net)
		return out->kind = DNS_REVERSE_OUTSIDE;
	out->family = family;
	apex_name(family, out->addr, apex_parts(net), out->apex);
	if (p < m)
		out->kind = DNS_REVERSE_EMPTY;
	else if (p == parts_max(family))
		out->kind = DNS_REVERSE_ADDRESS;
	else if (m == apex_parts(net))
		out->kind = DNS_REVERSE_APEX;
	else
		out->kind =
		    names_below(zone, family, out->addr, p) ? DNS_REVERSE_INNER : DNS_REVERSE_EMPTY;
	return out->kind;
}
