/*
 * Configuration loading: libconfig text -> validated struct mg_config.
 *
 * Each group of the file has a table of its keys (name, parser, where the
 * value goes); one walker matches the members of a group against its table,
 * so unknown keys, wrong types and bad values are all reported with the
 * FILE:LINE of the setting. Cross-key checks run once every key is parsed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "mesh/invite.h"

enum {
	MAX_ERRORS = 20, /* then "too many errors" */
	PATH_MAX_LEN = 4095,
	SOCKET_PATH_MAX = sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	WHAT_LEN = 96, /* "peers[123].allowed_ips" */
};

/* State of one load: where errors go. */
struct parse {
	const char *source; /* file name when libconfig does not know it */
	char *err;
	size_t errlen, used;
	unsigned nerr;
	struct mg_config *cfg;
};

/* One setting handed to its key's parser. */
struct key;
struct field {
	struct parse *p;
	const config_setting_t *s;
	const struct key *key;
	const char *what; /* the key's full name for messages */
	void *base;       /* the struct the key's offset is relative to */
	void *dst;        /* base + key->offset */
};

enum key_flags {
	F_REQUIRED = 1 << 0,
	F_NETWORK = 1 << 1, /* prefixes: host bits must be clear */
	F_IPV4 = 1 << 2,
	F_IPV6 = 1 << 3,
};

struct key {
	const char *name;
	void (*parse)(const struct field *f);
	size_t offset, size;
	long min, max; /* integers: range; strings: maximum length */
	unsigned flags;
	const struct key *sub; /* groups: their keys, NULL-terminated */
};

/* ---- error reporting ---- */

static void report(struct parse *p, const char *file, unsigned line, const char *fmt, va_list ap)
{
	int n;

	if (++p->nerr > MAX_ERRORS || !p->err || p->used + 1 >= p->errlen)
		return;
	if (p->nerr == MAX_ERRORS) {
		fmt = "too many errors";
		line = 0;
	}
	if (p->used)
		p->err[p->used++] = '\n';
	n = line ? snprintf(p->err + p->used, p->errlen - p->used, "%s:%u: ", file, line)
		 : snprintf(p->err + p->used, p->errlen - p->used, "%s: ", file);
	if (n > 0)
		p->used += (size_t)n;
	if (p->used < p->errlen) {
		n = vsnprintf(p->err + p->used, p->errlen - p->used, fmt, ap);
		if (n > 0)
			p->used += (size_t)n;
	}
	if (p->used >= p->errlen)
		p->used = p->errlen - 1;
}

static void __attribute__((format(printf, 3, 4)))
error_at(struct parse *p, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	va_list ap;

	va_start(ap, fmt);
	report(p, file ? file : p->source, s ? config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
error_line(struct parse *p, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p, p->source, line, fmt, ap);
	va_end(ap);
}

/* Keeps where a setting is, for config_line(). */
static void remember_line(struct parse *p, const char *what, const config_setting_t *s)
{
	struct mg_config *cfg = p->cfg;
	struct config_line *v;

	v = realloc(cfg->lines, (cfg->n_lines + 1) * sizeof(*v));
	if (!v) {
		error_at(p, s, "out of memory");
		return;
	}
	cfg->lines = v;
	snprintf(v[cfg->n_lines].setting, sizeof(v->setting), "%s", what);
	v[cfg->n_lines++].line = config_setting_source_line(s);
}

/* ---- scalar parsers ---- */

static bool is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* The string value, or NULL after reporting the wrong type. */
static const char *string_value(const struct field *f)
{
	if (config_setting_type(f->s) != CONFIG_TYPE_STRING) {
		error_at(f->p, f->s, "%s must be a string", f->what);
		return NULL;
	}
	return config_setting_get_string(f->s);
}

static void parse_bool(const struct field *f)
{
	if (config_setting_type(f->s) != CONFIG_TYPE_BOOL) {
		error_at(f->p, f->s, "%s must be true or false", f->what);
		return;
	}
	*(bool *)f->dst = config_setting_get_bool(f->s);
}

static void parse_uint(const struct field *f)
{
	long long v;

	if (!is_integer(f->s)) {
		error_at(f->p, f->s, "%s must be an integer", f->what);
		return;
	}
	v = config_setting_get_int64(f->s);
	if (v < f->key->min || v > f->key->max) {
		error_at(f->p, f->s, "%s must be between %ld and %ld (got %lld)", f->what,
			 f->key->min, f->key->max, v);
		return;
	}
	if (f->key->size == sizeof(uint16_t))
		*(uint16_t *)f->dst = (uint16_t)v;
	else
		*(uint32_t *)f->dst = (uint32_t)v;
}

static char *dup_or_report(const struct field *f, const char *text)
{
	char *copy = strdup(text);
	if (!copy)
		error_at(f->p, f->s, "out of memory");
	return copy;
}

/* A file system path, owned (char *). */
static void parse_path(const struct field *f)
{
	const char *text = string_value(f);
	char **dst = f->dst;

	if (!text)
		return;
	if (text[0] == '\0' || strlen(text) > (size_t)f->key->max) {
		error_at(f->p, f->s, "%s must be a path of 1 to %ld characters", f->what,
			 f->key->max);
		return;
	}
	free(*dst);
	*dst = dup_or_report(f, text);
}

/* Linux's dev_valid_name(). */
static bool ifname_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strcspn(name, "/: \t\n\r\v\f") == n;
}

static void parse_ifname(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!ifname_valid(text)) {
		error_at(f->p, f->s,
			 "%s: '%s' is not a valid interface name (1 to %d characters, "
			 "no '/', ':' or spaces)",
			 f->what, text, IFNAMSIZ - 1);
		return;
	}
	strcpy(f->dst, text);
}

/* An operator group named here must exist: a misspelt one would leave the
 * socket to root without a word. "" asks for no group. */
static void parse_group_name(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (strlen(text) > CONFIG_GROUP_MAX) {
		error_at(f->p, f->s, "%s: a group name has at most %d characters", f->what,
			 CONFIG_GROUP_MAX);
		return;
	}
	if (*text && !getgrnam(text)) {
		error_at(f->p, f->s,
			 "%s: no group '%s' on this host (create it with groupadd --system %s, "
			 "or write \"\" to keep the socket to root)",
			 f->what, text, text);
		return;
	}
	strcpy(f->dst, text);
}

/* Digits and dots alone would read as a node id or an IPv4 address where
 * names, ids and addresses share an argument (CLI, use_exit_node.peer). */
bool config_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= CONFIG_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789-_.") == n &&
	       strspn(name, "0123456789.") < n;
}

static void parse_name(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!config_name_valid(text)) {
		error_at(f->p, f->s,
			 "%s: '%s' is not a valid name (1 to %d letters, digits, '-', '_' or '.', "
			 "not digits and dots alone)",
			 f->what, text, CONFIG_NAME_MAX);
		return;
	}
	strcpy(f->dst, text);
}

/* A node: its name or one of its mesh addresses. */
static void parse_node(const struct field *f)
{
	const char *text = string_value(f);
	struct prefix addr;

	if (!text)
		return;
	if (!config_name_valid(text) && (strchr(text, '/') || prefix_parse(&addr, text) < 0)) {
		error_at(f->p, f->s, "%s: '%s' is neither a peer name nor an IP address", f->what,
			 text);
		return;
	}
	strcpy(f->dst, text);
}

static void parse_key(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!key_from_base64(f->dst, text))
		error_at(f->p, f->s,
			 "%s: not a base64 WireGuard key (44 characters, as `wg pubkey` prints)",
			 f->what);
}

static bool endpoint_value(const struct field *f, const char *text, struct endpoint *out)
{
	if (endpoint_parse(out, text) == 0)
		return true;
	error_at(f->p, f->s,
		 "%s: '%s' is not HOST:PORT (IPv4:PORT, [IPv6]:PORT or NAME:PORT, port 1-65535)",
		 f->what, text);
	return false;
}

static void parse_endpoint(const struct field *f)
{
	const char *text = string_value(f);

	if (text)
		endpoint_value(f, text, f->dst);
}

static void parse_prefix_value(const struct field *f, const char *text, struct prefix *out)
{
	char network[PREFIX_STR_LEN];
	struct prefix masked;

	if (prefix_parse(out, text) < 0) {
		error_at(f->p, f->s, "%s: '%s' is not an IP prefix (ADDRESS/LENGTH)", f->what,
			 text);
	} else if ((f->key->flags & F_IPV4) && out->family != AF_INET) {
		error_at(f->p, f->s, "%s: '%s' is not an IPv4 prefix", f->what, text);
	} else if ((f->key->flags & F_IPV6) && out->family != AF_INET6) {
		error_at(f->p, f->s, "%s: '%s' is not an IPv6 prefix", f->what, text);
	} else if ((f->key->flags & F_NETWORK) && !prefix_is_network(out)) {
		masked = *out;
		prefix_mask(&masked);
		prefix_format(&masked, network, sizeof(network));
		error_at(f->p, f->s, "%s: '%s' has host bits set; did you mean '%s'?", f->what,
			 text, network);
	}
}

static void parse_prefix(const struct field *f)
{
	const char *text = string_value(f);

	if (text)
		parse_prefix_value(f, text, f->dst);
}

static void parse_join(const struct field *f)
{
	const char *text = string_value(f);
	char **dst = f->dst, why[256];
	struct invite inv;

	if (!text)
		return;
	/* What start-up decodes (the client role), decoded here. */
	if (invite_decode(text, &inv, why, sizeof(why)) < 0) {
		error_at(f->p, f->s, "%s: not an invite code: %s (`meshgate invite` prints one)",
			 f->what, why);
		return;
	}
	invite_clear(&inv);
	free(*dst);
	*dst = dup_or_report(f, text);
}

/* ---- DNS ---- */

static void copy_domain(char *dst, const char *text)
{
	size_t len = strlen(text);

	if (len && text[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)text[i]);
	dst[len] = '\0';
}

static void parse_dns_domain(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!dns_domain_valid(text)) {
		error_at(f->p, f->s,
			 "%s: '%s' is not a DNS domain (labels of letters, digits and '-' "
			 "joined by dots, at most %d characters)",
			 f->what, text, DNS_DOMAIN_MAX);
		return;
	}
	copy_domain(f->dst, text);
}

static void parse_dns_label(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!dns_label_valid(text, strlen(text))) {
		error_at(f->p, f->s,
			 "%s: '%s' is not a DNS name (1 to %d letters, digits or '-', not "
			 "starting or ending with '-', no dots)",
			 f->what, text, DNS_LABEL_MAX);
		return;
	}
	strcpy(f->dst, text);
}

/* One IPv4 or IPv6 address, no prefix length. */
static void parse_host_address(const struct field *f)
{
	const char *text = string_value(f);
	struct prefix *dst = f->dst;

	if (!text)
		return;
	if (strchr(text, '/') || prefix_parse(dst, text) < 0) {
		error_at(f->p, f->s, "%s: '%s' is not an IP address", f->what, text);
		return;
	}
	dst->len = (uint8_t)(addr_len(dst->family) * 8);
}

/* "IP" (port 53) or "IP:PORT" / "[IPv6]:PORT" into a union sockaddr_inet. */
static bool resolver_address(const char *text, union sockaddr_inet *sa)
{
	struct prefix a;

	memset(sa, 0, sizeof(*sa));
	if (!strchr(text, '/') && prefix_parse(&a, text) == 0) {
		if (a.family == AF_INET) {
			sa->in.sin_family = AF_INET;
			memcpy(&sa->in.sin_addr, a.addr, 4);
			sa->in.sin_port = htons(53);
		} else {
			sa->in6.sin6_family = AF_INET6;
			memcpy(&sa->in6.sin6_addr, a.addr, 16);
			sa->in6.sin6_port = htons(53);
		}
		return true;
	}
	return sockaddr_parse(sa, text) == 0 && sockaddr_len(sa) != 0 &&
	       (sa->sa.sa_family == AF_INET ? sa->in.sin_port : sa->in6.sin6_port) != 0;
}

static void parse_resolver(const struct field *f)
{
	const char *text = string_value(f);

	if (text && !resolver_address(text, f->dst))
		error_at(f->p, f->s, "%s: '%s' is not IP or IP:PORT (a numeric DNS server)",
			 f->what, text);
}

/* ---- lists of strings ---- */

/* Parses one element's text into out; reports and returns false if bad. */
typedef bool (*elem_parse_fn)(const struct field *elem, const char *text, void *out);

static bool elem_prefix(const struct field *f, const char *text, void *out)
{
	unsigned before = f->p->nerr;

	parse_prefix_value(f, text, out);
	return f->p->nerr == before;
}

static bool elem_endpoint(const struct field *f, const char *text, void *out)
{
	return endpoint_value(f, text, out);
}

static bool elem_sockaddr(const struct field *f, const char *text, void *out)
{
	union sockaddr_inet *sa = out;

	if (sockaddr_parse(sa, text) < 0 || sockaddr_len(sa) == 0 ||
	    (sa->sa.sa_family == AF_INET ? sa->in.sin_port : sa->in6.sin6_port) == 0) {
		error_at(f->p, f->s, "%s: '%s' is not IP:PORT (IPv4:PORT or [IPv6]:PORT)", f->what,
			 text);
		return false;
	}
	return true;
}

static bool elem_resolver(const struct field *f, const char *text, void *out)
{
	if (resolver_address(text, out))
		return true;
	error_at(f->p, f->s, "%s: '%s' is not IP or IP:PORT (a numeric DNS server)", f->what, text);
	return false;
}

static bool already_listed(const void *v, size_t n, size_t size, const void *item)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp((const char *)v + i * size, item, size) == 0)
			return true;
	return false;
}

/* count zeroed elements of size bytes for the list at f, or NULL: when
 * count is 0, or (reported at f) when memory ran out. */
static void *alloc_elems(const struct field *f, int count, size_t size)
{
	void *v = count > 0 ? calloc((size_t)count, size) : NULL;

	if (count > 0 && !v)
		error_at(f->p, f->s, "out of memory");
	return v;
}

/*
 * Parses a list or array of strings into a new array of n elements of size
 * bytes each (NULL when empty), dropping repeats.
 */
static void *collect(const struct field *f, size_t size, elem_parse_fn fn, size_t *n)
{
	int type = config_setting_type(f->s), count;
	char *v;

	*n = 0;
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		error_at(f->p, f->s, "%s must be a list of strings, e.g. [\"...\"]", f->what);
		return NULL;
	}
	count = config_setting_length(f->s);
	v = alloc_elems(f, count, size);
	if (count && !v)
		return NULL;
	for (int i = 0; i < count; i++) {
		char what[WHAT_LEN];
		struct field elem = *f;
		void *slot = v + *n * size;

		elem.s = config_setting_get_elem(f->s, (unsigned)i);
		elem.dst = slot;
		snprintf(what, sizeof(what), "%s[%d]", f->what, i);
		elem.what = what;
		if (config_setting_type(elem.s) != CONFIG_TYPE_STRING) {
			error_at(f->p, elem.s, "%s must be a string", what);
			continue;
		}
		memset(slot, 0, size);
		if (!fn(&elem, config_setting_get_string(elem.s), slot))
			continue;
		if (!already_listed(v, *n, size, slot))
			(*n)++;
	}
	if (*n == 0) {
		free(v);
		v = NULL;
	}
	return v;
}

static void parse_prefixes(const struct field *f)
{
	struct prefix_list *l = f->dst;

	free(l->v);
	l->v = collect(f, sizeof(*l->v), elem_prefix, &l->n);
}

static void parse_endpoints(const struct field *f)
{
	struct endpoint_list *l = f->dst;

	free(l->v);
	l->v = collect(f, sizeof(*l->v), elem_endpoint, &l->n);
}

static void parse_sockaddrs(const struct field *f)
{
	struct sockaddr_list *l = f->dst;

	free(l->v);
	l->v = collect(f, sizeof(*l->v), elem_sockaddr, &l->n);
}

static void parse_resolvers(const struct field *f)
{
	struct sockaddr_list *l = f->dst;

	free(l->v);
	l->v = collect(f, sizeof(*l->v), elem_resolver, &l->n);
	if (l->n > CONFIG_DNS_UPSTREAM_MAX)
		error_at(f->p, f->s, "%s: at most %d servers", f->what, CONFIG_DNS_UPSTREAM_MAX);
}

/* An explicit web.listen is the whole list: the node's addresses are no
 * longer added to it. */
static void parse_web_listen(const struct field *f)
{
	((struct mg_config *)f->base)->web.listen_default = false;
	parse_sockaddrs(f);
}

/* ---- groups ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[WHAT_LEN];

	if (lb >= WHAT_LEN || la >= WHAT_LEN)
		return WHAT_LEN;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const struct key *key_find(const struct key *keys, const char *name)
{
	for (const struct key *k = keys; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

static void report_unknown(struct parse *p, const config_setting_t *s, const char *group,
			   const struct key *keys)
{
	const char *name = config_setting_name(s), *best = NULL;
	size_t best_d = 3;
	char in[WHAT_LEN + 4] = "";

	for (const struct key *k = keys; k->name; k++) {
		size_t d = edit_distance(name, k->name);
		if (d < best_d) {
			best_d = d;
			best = k->name;
		}
	}
	if (group[0])
		snprintf(in, sizeof(in), " in %s", group);
	if (best)
		error_at(p, s, "unknown key '%s'%s; did you mean '%s'?", name, in, best);
	else
		error_at(p, s, "unknown key '%s'%s", name, in);
}

/* Parses the members of group s against keys; path names the group ("" at the top). */
static void walk_group(struct parse *p, const config_setting_t *s, const char *path,
		       const struct key *keys, void *base)
{
	int count = config_setting_length(s);

	for (int i = 0; i < count; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const struct key *k = key_find(keys, config_setting_name(m));
		char what[WHAT_LEN];

		if (!k) {
			report_unknown(p, m, path, keys);
			continue;
		}
		snprintf(what, sizeof(what), "%s%s%s", path, path[0] ? "." : "", k->name);
		remember_line(p, what, m);
		k->parse(&(struct field){ .p = p,
					  .s = m,
					  .key = k,
					  .what = what,
					  .base = base,
					  .dst = (char *)base + k->offset });
	}
	for (const struct key *k = keys; k->name; k++)
		if ((k->flags & F_REQUIRED) && !config_setting_get_member(s, k->name))
			error_at(p, s, "%s%smissing required key '%s'", path, path[0] ? ": " : "",
				 k->name);
}

static void parse_group(const struct field *f)
{
	if (!config_setting_is_group(f->s)) {
		error_at(f->p, f->s, "%s must be a group { ... }", f->what);
		return;
	}
	walk_group(f->p, f->s, f->what, f->key->sub, f->base);
}

static void config_peer_free(struct config_peer *peer)
{
	free(peer->allowed_ips.v);
	free(peer->preshared_key_file);
	memset(peer, 0, sizeof(*peer));
}

static void parse_one_peer(const struct field *f, struct config_peer *peer)
{
	memset(peer, 0, sizeof(*peer));
	peer->line = config_setting_source_line(f->s);
	walk_group(f->p, f->s, f->what, f->key->sub, peer);
	peer->has_endpoint = peer->endpoint.port != 0;
}

static void parse_peers(const struct field *f)
{
	struct mg_config *cfg = f->base;
	int count;

	if (config_setting_type(f->s) != CONFIG_TYPE_LIST) {
		error_at(f->p, f->s, "%s must be a list of groups: ( { ... }, { ... } )", f->what);
		return;
	}
	count = config_setting_length(f->s);
	cfg->peers = alloc_elems(f, count, sizeof(*cfg->peers));
	if (count && !cfg->peers)
		return;
	for (int i = 0; i < count; i++) {
		char what[WHAT_LEN];
		struct field elem = *f;

		elem.s = config_setting_get_elem(f->s, (unsigned)i);
		snprintf(what, sizeof(what), "%s[%d]", f->what, i);
		elem.what = what;
		if (!config_setting_is_group(elem.s)) {
			error_at(f->p, elem.s, "%s must be a group { ... }", what);
			continue;
		}
		parse_one_peer(&elem, &cfg->peers[cfg->n_peers++]);
	}
}

/* dns.records: a list of { name; address; } groups (f->key->sub). */
static void parse_dns_records(const struct field *f)
{
	struct mg_config *cfg = f->base;
	int count;

	if (config_setting_type(f->s) != CONFIG_TYPE_LIST) {
		error_at(f->p, f->s,
			 "%s must be a list of groups: ( { name = ...; address = ...; } )",
			 f->what);
		return;
	}
	count = config_setting_length(f->s);
	if (count > CONFIG_DNS_RECORDS_MAX) {
		error_at(f->p, f->s, "%s: at most %d records", f->what, CONFIG_DNS_RECORDS_MAX);
		return;
	}
	free(cfg->dns.records);
	cfg->dns.n_records = 0;
	cfg->dns.records = alloc_elems(f, count, sizeof(*cfg->dns.records));
	if (count && !cfg->dns.records)
		return;
	for (int i = 0; i < count; i++) {
		char what[WHAT_LEN];
		const config_setting_t *s = config_setting_get_elem(f->s, (unsigned)i);

		snprintf(what, sizeof(what), "%s[%d]", f->what, i);
		if (!config_setting_is_group(s)) {
			error_at(f->p, s, "%s must be a group { name = ...; address = ...; }",
				 what);
			continue;
		}
		walk_group(f->p, s, what, f->key->sub, &cfg->dns.records[cfg->dns.n_records++]);
	}
}

/* ---- key tables ---- */

#define CFG(f) .offset = offsetof(struct mg_config, f), .size = sizeof(((struct mg_config *)0)->f)
#define PEER(f)                                                                                    \
	.offset = offsetof(struct config_peer, f), .size = sizeof(((struct config_peer *)0)->f)

static const struct key peer_keys[] = {
	{ .name = "name", .parse = parse_name, PEER(name) },
	{ .name = "public_key", .parse = parse_key, PEER(public_key), .flags = F_REQUIRED },
	{ .name = "endpoint", .parse = parse_endpoint, PEER(endpoint) },
	{ .name = "allowed_ips", .parse = parse_prefixes, PEER(allowed_ips), .flags = F_NETWORK },
	{ .name = "persistent_keepalive",
	  .parse = parse_uint,
	  PEER(persistent_keepalive),
	  .min = 0,
	  .max = 65535 },
	{ .name = "preshared_key_file",
	  .parse = parse_path,
	  PEER(preshared_key_file),
	  .min = 0,
	  .max = PATH_MAX_LEN },
	{ .name = NULL },
};

#define REC(f) .offset = offsetof(struct dns_record, f), .size = sizeof(((struct dns_record *)0)->f)

static const struct key subnet_router_dns_keys[] = {
	{ .name = "domain",
	  .parse = parse_dns_domain,
	  CFG(subnet_router.dns.domain),
	  .flags = F_REQUIRED },
	{ .name = "server",
	  .parse = parse_resolver,
	  CFG(subnet_router.dns.server),
	  .flags = F_REQUIRED },
	{ .name = NULL },
};

static const struct key dns_record_keys[] = {
	{ .name = "name", .parse = parse_dns_label, REC(name), .flags = F_REQUIRED },
	{ .name = "address", .parse = parse_host_address, REC(address), .flags = F_REQUIRED },
	{ .name = NULL },
};

static const struct key dns_keys[] = {
	{ .name = "enabled", .parse = parse_bool, CFG(dns.enabled) },
	{ .name = "domain", .parse = parse_dns_domain, CFG(dns.domain) },
	{ .name = "upstream", .parse = parse_resolvers, CFG(dns.upstream) },
	{ .name = "records", .parse = parse_dns_records, .sub = dns_record_keys },
	{ .name = "manage_resolv_conf", .parse = parse_bool, CFG(dns.manage_resolv_conf) },
	{ .name = NULL },
};

static const struct key subnet_router_keys[] = {
	{ .name = "routes",
	  .parse = parse_prefixes,
	  CFG(subnet_router.routes),
	  .flags = F_NETWORK },
	{ .name = "snat", .parse = parse_bool, CFG(subnet_router.snat) },
	{ .name = "dns", .parse = parse_group, .sub = subnet_router_dns_keys },
	{ .name = NULL },
};

static const struct key exit_node_keys[] = {
	{ .name = "enabled", .parse = parse_bool, CFG(exit_node.enabled) },
	{ .name = "wan_interface", .parse = parse_ifname, CFG(exit_node.wan_interface) },
	{ .name = "allow_private", .parse = parse_bool, CFG(exit_node.allow_private) },
	{ .name = NULL },
};

static const struct key use_exit_node_keys[] = {
	{ .name = "peer", .parse = parse_node, CFG(use_exit_node.peer), .flags = F_REQUIRED },
	{ .name = "allow_lan_access", .parse = parse_bool, CFG(use_exit_node.allow_lan_access) },
	{ .name = NULL },
};

static const struct key web_keys[] = {
	{ .name = "enabled", .parse = parse_bool, CFG(web.enabled) },
	{ .name = "listen", .parse = parse_web_listen, CFG(web.listen) },
	{ .name = NULL },
};

static const struct key auto_approve_keys[] = {
	{ .name = "routes",
	  .parse = parse_prefixes,
	  CFG(coordinator.auto_approve.routes),
	  .flags = F_NETWORK },
	{ .name = "exit_node", .parse = parse_bool, CFG(coordinator.auto_approve.exit_node) },
	{ .name = NULL },
};

static const struct key coordinator_keys[] = {
	{ .name = "enabled", .parse = parse_bool, CFG(coordinator.enabled) },
	{ .name = "prefix4",
	  .parse = parse_prefix,
	  CFG(coordinator.prefix4),
	  .flags = F_NETWORK | F_IPV4 },
	{ .name = "prefix6",
	  .parse = parse_prefix,
	  CFG(coordinator.prefix6),
	  .flags = F_NETWORK | F_IPV6 },
	{ .name = "endpoints", .parse = parse_endpoints, CFG(coordinator.endpoints) },
	{ .name = "stun", .parse = parse_endpoints, CFG(coordinator.stun) },
	{ .name = "auto_approve", .parse = parse_group, .sub = auto_approve_keys },
	{ .name = NULL },
};

/* ---- the access policy (acl/acl.h) ---- */

static void parse_policy_default(const struct field *f)
{
	const char *text = string_value(f);

	if (!text)
		return;
	if (!strcmp(text, "allow"))
		*(enum acl_default *)f->dst = ACL_DEFAULT_ALLOW;
	else if (!strcmp(text, "deny"))
		*(enum acl_default *)f->dst = ACL_DEFAULT_DENY;
	else
		error_at(f->p, f->s, "%s must be \"allow\" or \"deny\" (got '%s')", f->what, text);
}

static bool elem_member_name(const struct field *f, const char *text, void *out)
{
	if (!strncmp(text, "group:", 6)) {
		error_at(f->p, f->s, "%s: '%s': a group holds names, not groups (no nesting)",
			 f->what, text);
		return false;
	}
	if (!config_name_valid(text)) {
		error_at(f->p, f->s, "%s: '%s' is not a node or device name", f->what, text);
		return false;
	}
	snprintf(out, ACL_NAME_MAX + 1, "%s", text);
	return true;
}

static void parse_group_members(const struct field *f)
{
	struct acl_group *g = f->base;

	free(g->members);
	g->members = collect(f, sizeof(*g->members), elem_member_name, &g->n_members);
}

static void parse_rule_targets(const struct field *f, bool source, struct acl_target **v, size_t *n)
{
	int type = config_setting_type(f->s), count;
	char why[256];

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		error_at(f->p, f->s, "%s must be a list of strings, e.g. [\"...\"]", f->what);
		return;
	}
	count = config_setting_length(f->s);
	if (!count) {
		error_at(f->p, f->s, "%s is empty", f->what);
		return;
	}
	*v = alloc_elems(f, count, sizeof(**v));
	if (!*v)
		return;
	for (int i = 0; i < count; i++) {
		const config_setting_t *s = config_setting_get_elem(f->s, (unsigned)i);
		const char *text = config_setting_get_string(s);

		if (!text)
			error_at(f->p, s, "%s[%d] must be a string", f->what, i);
		else if (acl_target_parse(text, source, &(*v)[*n], why, sizeof(why)) < 0)
			error_at(f->p, s, "%s[%d]: %s", f->what, i, why);
		else
			(*n)++;
	}
}

static void parse_rule_from(const struct field *f)
{
	struct acl_rule *r = f->base;

	parse_rule_targets(f, true, &r->from, &r->n_from);
}

static void parse_rule_to(const struct field *f)
{
	struct acl_rule *r = f->base;

	parse_rule_targets(f, false, &r->to, &r->n_to);
}

static void parse_rule_proto(const struct field *f)
{
	static const struct {
		const char *name;
		uint8_t bits;
	} protos[] = { { "tcp", ACL_PROTO_TCP },
		       { "udp", ACL_PROTO_UDP },
		       { "icmp", ACL_PROTO_ICMP },
		       { "*", 0 } };
	const char *text = string_value(f);

	for (size_t i = 0; text && i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcasecmp(text, protos[i].name)) {
			*(uint8_t *)f->dst = protos[i].bits;
			return;
		}
	}
	if (text)
		error_at(f->p, f->s, "%s must be \"tcp\", \"udp\", \"icmp\" or \"*\" (got '%s')",
			 f->what, text);
}

#define GRP(f)  .offset = offsetof(struct acl_group, f), .size = sizeof(((struct acl_group *)0)->f)
#define RULE(f) .offset = offsetof(struct acl_rule, f), .size = sizeof(((struct acl_rule *)0)->f)

static const struct key policy_group_keys[] = {
	{ .name = "name", .parse = parse_name, GRP(name), .flags = F_REQUIRED },
	{ .name = "members", .parse = parse_group_members, GRP(members), .flags = F_REQUIRED },
	{ .name = NULL },
};

static const struct key policy_rule_keys[] = {
	{ .name = "from", .parse = parse_rule_from, RULE(from), .flags = F_REQUIRED },
	{ .name = "to", .parse = parse_rule_to, RULE(to), .flags = F_REQUIRED },
	{ .name = "proto", .parse = parse_rule_proto, RULE(protocols) },
	{ .name = NULL },
};

/* A list of groups { ... } into an array of *n elements of size bytes,
 * each walked against keys; line (unsigned) at line_offset in each. */
static void *parse_group_list(const struct field *f, size_t size, size_t line_offset, size_t *n)
{
	int count;
	char *v;

	*n = 0;
	if (config_setting_type(f->s) != CONFIG_TYPE_LIST) {
		error_at(f->p, f->s, "%s must be a list of groups: ( { ... }, { ... } )", f->what);
		return NULL;
	}
	count = config_setting_length(f->s);
	v = alloc_elems(f, count, size);
	if (count && !v)
		return NULL;
	for (int i = 0; i < count; i++) {
		const config_setting_t *s = config_setting_get_elem(f->s, (unsigned)i);
		char what[WHAT_LEN];

		snprintf(what, sizeof(what), "%s[%d]", f->what, i);
		if (!config_setting_is_group(s)) {
			error_at(f->p, s, "%s must be a group { ... }", what);
			continue;
		}
		*(unsigned *)(v + *n * size + line_offset) =
		    (unsigned)config_setting_source_line(s);
		walk_group(f->p, s, what, f->key->sub, v + (*n)++ * size);
	}
	return v;
}

static void parse_policy_groups(const struct field *f)
{
	struct acl_policy *pol = &((struct mg_config *)f->base)->policy;

	pol->groups = parse_group_list(f, sizeof(*pol->groups), offsetof(struct acl_group, line),
				       &pol->n_groups);
}

static void parse_policy_rules(const struct field *f)
{
	struct acl_policy *pol = &((struct mg_config *)f->base)->policy;

	pol->rules = parse_group_list(f, sizeof(*pol->rules), offsetof(struct acl_rule, line),
				      &pol->n_rules);
}

static void parse_policy(const struct field *f)
{
	((struct mg_config *)f->base)->policy_present = true;
	parse_group(f);
}

static const struct key policy_keys[] = {
	{ .name = "default", .parse = parse_policy_default, CFG(policy.def) },
	{ .name = "groups", .parse = parse_policy_groups, .sub = policy_group_keys },
	{ .name = "rules", .parse = parse_policy_rules, .sub = policy_rule_keys },
	{ .name = NULL },
};

static const struct key top_keys[] = {
	{ .name = "interface", .parse = parse_ifname, CFG(interface) },
	{ .name = "listen_port", .parse = parse_uint, CFG(listen_port), .min = 0, .max = 65535 },
	{ .name = "private_key_file",
	  .parse = parse_path,
	  CFG(private_key_file),
	  .min = 0,
	  .max = PATH_MAX_LEN },
	{ .name = "state_dir", .parse = parse_path, CFG(state_dir), .min = 0, .max = PATH_MAX_LEN },
	{ .name = "control_socket",
	  .parse = parse_path,
	  CFG(control_socket),
	  .min = 0,
	  .max = SOCKET_PATH_MAX },
	{ .name = "control_group", .parse = parse_group_name, CFG(control_group) },
	{ .name = "addresses", .parse = parse_prefixes, CFG(addresses) },
	{ .name = "mtu",
	  .parse = parse_uint,
	  CFG(mtu),
	  .min = CONFIG_MTU_MIN,
	  .max = CONFIG_MTU_MAX },
	{ .name = "hostname", .parse = parse_name, CFG(hostname) },
	{ .name = "offloads", .parse = parse_bool, CFG(offloads) },
	{ .name = "crypto_threads",
	  .parse = parse_uint,
	  CFG(crypto_threads),
	  .min = 0,
	  .max = CONFIG_CRYPTO_THREADS_MAX },
	{ .name = "peers", .parse = parse_peers, CFG(peers), .sub = peer_keys },
	{ .name = "accept_routes", .parse = parse_bool, CFG(accept_routes) },
	{ .name = "subnet_router", .parse = parse_group, .sub = subnet_router_keys },
	{ .name = "exit_node", .parse = parse_group, .sub = exit_node_keys },
	{ .name = "use_exit_node", .parse = parse_group, .sub = use_exit_node_keys },
	{ .name = "web", .parse = parse_group, .sub = web_keys },
	{ .name = "coordinator", .parse = parse_group, .sub = coordinator_keys },
	{ .name = "join", .parse = parse_join, CFG(join) },
	{ .name = "dns", .parse = parse_group, .sub = dns_keys },
	{ .name = "policy", .parse = parse_policy, .sub = policy_keys },
	{ .name = NULL },
};

/* ---- checks across keys ---- */

/* "peer-" and the key's first 8 base64 characters, made name-safe. */
static void peer_default_name(struct config_peer *peer)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, peer->public_key);
	b64[8] = '\0';
	for (char *c = b64; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	snprintf(peer->name, sizeof(peer->name), "peer-%s", b64);
}

static void check_peers(struct parse *p, struct mg_config *cfg)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct config_peer *peer = &cfg->peers[i];

		if (!peer->name[0])
			peer_default_name(peer);
		for (size_t j = 0; j < i; j++) {
			const struct config_peer *first = &cfg->peers[j];
			if (!strcmp(first->name, peer->name))
				error_line(p, peer->line,
					   "duplicate peer name '%s' (first used at line %u)",
					   peer->name, first->line);
			if (!memcmp(first->public_key, peer->public_key, KEY_LEN))
				error_line(p, peer->line,
					   "peer '%s' has the same public_key as peer '%s' "
					   "(line %u)",
					   peer->name, first->name, first->line);
		}
	}
}

static unsigned line_of(const config_t *lc, const char *path)
{
	const config_setting_t *s = config_lookup(lc, path);
	return s ? config_setting_source_line(s) : 0;
}

static void check_mtu(struct parse *p, const config_t *lc, const struct mg_config *cfg)
{
	for (size_t i = 0; i < cfg->addresses.n; i++) {
		if (cfg->addresses.v[i].family == AF_INET6 && cfg->mtu < CONFIG_MTU_MIN_IPV6) {
			error_line(
			    p, line_of(lc, "mtu") ? line_of(lc, "mtu") : line_of(lc, "addresses"),
			    "mtu %u is below %d, the IPv6 minimum (addresses include IPv6)",
			    cfg->mtu, CONFIG_MTU_MIN_IPV6);
			return;
		}
	}
}

static void check_exit_node(struct parse *p, const config_t *lc, const struct mg_config *cfg)
{
	if (cfg->exit_node.enabled && cfg->use_exit_node.peer[0])
		error_line(p, line_of(lc, "use_exit_node"),
			   "use_exit_node and exit_node.enabled exclude each other "
			   "(an exit node cannot send its own traffic through another)");
}

/* The coordinator role starts instead of the client: its join would go
 * unread. */
static void check_join(struct parse *p, const config_t *lc, const struct mg_config *cfg)
{
	if (cfg->coordinator.enabled && cfg->join)
		error_line(p, line_of(lc, "join"),
			   "join: this node is the coordinator (coordinator.enabled), which joins "
			   "no other mesh; remove join, or set coordinator.enabled = false to join "
			   "the invite's mesh");
}

/* The coordinator gives members addresses from its pool; a static peer's
 * allowed IP in there would take some of their traffic. */
static void check_pool(struct parse *p, const struct mg_config *cfg)
{
	const struct prefix *pools[] = { &cfg->coordinator.prefix4, &cfg->coordinator.prefix6 };
	static const char *const names[] = { "coordinator.prefix4", "coordinator.prefix6" };
	char a[PREFIX_STR_LEN], b[PREFIX_STR_LEN], what[WHAT_LEN];

	for (size_t i = 0; cfg->coordinator.enabled && i < cfg->n_peers; i++) {
		const struct prefix_list *ips = &cfg->peers[i].allowed_ips;
		for (size_t j = 0; j < ips->n; j++) {
			for (size_t k = 0; k < 2; k++) {
				if (!prefix_contains(pools[k], &ips->v[j]))
					continue;
				snprintf(what, sizeof(what), "peers[%zu].allowed_ips", i);
				prefix_format(&ips->v[j], a, sizeof(a));
				prefix_format(pools[k], b, sizeof(b));
				error_line(p, config_line(cfg, what),
					   "%s: %s is inside the mesh's address pool %s (%s), "
					   "where the coordinator gives members their addresses; "
					   "give peer '%s' addresses outside it",
					   what, a, b, names[k], cfg->peers[i].name);
			}
		}
	}
}

/* The pool is a mesh network of the coordinator (its own address is
 * there): a LAN route into it would fail the plan once the role is up. */
static void check_pool_routes(struct parse *p, const config_t *lc, const struct mg_config *cfg)
{
	const struct prefix *pools[] = { &cfg->coordinator.prefix4, &cfg->coordinator.prefix6 };
	static const char *const names[] = { "coordinator.prefix4", "coordinator.prefix6" };
	const struct prefix_list *routes = &cfg->subnet_router.routes;
	char a[PREFIX_STR_LEN], b[PREFIX_STR_LEN];

	for (size_t i = 0; cfg->coordinator.enabled && i < routes->n; i++) {
		for (size_t k = 0; k < 2; k++) {
			if (!prefix_overlaps(pools[k], &routes->v[i]))
				continue;
			prefix_format(&routes->v[i], a, sizeof(a));
			prefix_format(pools[k], b, sizeof(b));
			error_line(p, line_of(lc, "subnet_router.routes"),
				   "subnet_router.routes: %s overlaps the mesh's address pool %s "
				   "(%s); advertise only LAN prefixes",
				   a, b, names[k]);
		}
	}
}

/* A LAN's domain served by the mesh's own resolver would never be
 * forwarded: it may not be the mesh domain or under it, nor hold it. */
static void check_split_dns(struct parse *p, const config_t *lc, const struct mg_config *cfg)
{
	const char *lan = cfg->subnet_router.dns.domain, *mesh = cfg->dns.domain;
	size_t ll = strlen(lan), lm = strlen(mesh);
	const char *shorter = ll < lm ? lan : mesh, *longer = ll < lm ? mesh : lan;
	size_t ls = ll < lm ? ll : lm, lg = ll < lm ? lm : ll;

	if (!lan[0])
		return;
	if (!strcmp(longer + lg - ls, shorter) && (lg == ls || longer[lg - ls - 1] == '.'))
		error_line(p, line_of(lc, "subnet_router.dns.domain"),
			   "subnet_router.dns.domain: '%s' overlaps the mesh's domain '%s' "
			   "(dns.domain); offer the LAN's own domain, e.g. \"home.lan\"",
			   lan, mesh);
}

static bool group_known(const struct acl_policy *pol, const char *name)
{
	for (size_t i = 0; i < pol->n_groups; i++)
		if (!strcasecmp(pol->groups[i].name, name))
			return true;
	return false;
}

static void check_rule_targets(struct parse *p, const struct acl_policy *pol,
			       const struct acl_rule *r, const struct acl_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].kind == ACL_GROUP && !group_known(pol, v[i].name))
			error_line(p, r->line,
				   "policy.rules: group:%s is not defined in policy.groups",
				   v[i].name);
		if (v[i].n_ports && r->protocols == ACL_PROTO_ICMP)
			error_line(p, r->line,
				   "policy.rules: ports with proto \"icmp\" (ICMP has no ports)");
	}
}

static void check_policy_rule(struct parse *p, const struct acl_policy *pol,
			      const struct acl_rule *r)
{
	check_rule_targets(p, pol, r, r->from, r->n_from);
	check_rule_targets(p, pol, r, r->to, r->n_to);
}

/* Groups named once; rules name only groups that exist; ports only with
 * TCP or UDP. */
static void check_policy(struct parse *p, const struct mg_config *cfg)
{
	const struct acl_policy *pol = &cfg->policy;

	for (size_t i = 0; i < pol->n_groups; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(pol->groups[i].name, pol->groups[j].name))
				error_line(p, pol->groups[i].line,
					   "policy.groups: group '%s' is defined twice (first at "
					   "line %u)",
					   pol->groups[i].name, pol->groups[j].line);
	for (size_t i = 0; i < pol->n_rules; i++)
		check_policy_rule(p, pol, &pol->rules[i]);
}

static void check_all(struct parse *p, const config_t *lc, struct mg_config *cfg)
{
	check_policy(p, cfg);
	check_split_dns(p, lc, cfg);
	check_peers(p, cfg);
	check_mtu(p, lc, cfg);
	check_exit_node(p, lc, cfg);
	check_join(p, lc, cfg);
	check_pool(p, cfg);
	check_pool_routes(p, lc, cfg);
}

/* ---- loading ---- */

static const char *default_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0)
		return "meshgate";
	buf[len - 1] = '\0';
	buf[strcspn(buf, ".")] = '\0';
	return config_name_valid(buf) ? buf : "meshgate";
}

int config_defaults(struct mg_config *cfg)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->interface, "meshgate0");
	cfg->listen_port = CONFIG_DEFAULT_LISTEN_PORT;
	cfg->mtu = CONFIG_DEFAULT_MTU;
	/* config_name_valid() bounds the name to CONFIG_NAME_MAX; the precision says
	 * so to the compiler. */
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%.*s", CONFIG_NAME_MAX,
		 default_hostname(host, sizeof(host)));
	cfg->accept_routes = true;
	cfg->offloads = true;
	cfg->subnet_router.snat = true;
	cfg->use_exit_node.allow_lan_access = true;
	cfg->web.enabled = true;
	cfg->web.listen_default = true;
	cfg->dns.enabled = true;
	strcpy(cfg->dns.domain, DNS_DEFAULT_DOMAIN);
	if (prefix_parse(&cfg->coordinator.prefix4, "100.64.0.0/10") < 0 ||
	    prefix_parse(&cfg->coordinator.prefix6, "fd7a:6d67:7465::/48") < 0)
		return -EINVAL;
	cfg->web.listen.v = calloc(1, sizeof(*cfg->web.listen.v));
	cfg->private_key_file = strdup("/var/lib/meshgate/private.key");
	cfg->state_dir = strdup("/var/lib/meshgate");
	cfg->control_socket = strdup(CONFIG_DEFAULT_CONTROL_SOCKET);
	strcpy(cfg->control_group, CONFIG_DEFAULT_CONTROL_GROUP);
	cfg->source = strdup("(defaults)");
	cfg->coordinator.stun.v = calloc(2, sizeof(*cfg->coordinator.stun.v));
	if (!cfg->web.listen.v || !cfg->private_key_file || !cfg->state_dir ||
	    !cfg->control_socket || !cfg->source || !cfg->coordinator.stun.v)
		return -ENOMEM;
	cfg->coordinator.stun.n = 2;
	if (endpoint_parse(&cfg->coordinator.stun.v[0], CONFIG_DEFAULT_STUN_1) < 0 ||
	    endpoint_parse(&cfg->coordinator.stun.v[1], CONFIG_DEFAULT_STUN_2) < 0)
		return -EINVAL;
	cfg->web.listen.n = 1;
	return sockaddr_parse(&cfg->web.listen.v[0], "127.0.0.1:8080");
}

void config_free(struct mg_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_peers; i++)
		config_peer_free(&cfg->peers[i]);
	free(cfg->peers);
	free(cfg->source);
	free(cfg->private_key_file);
	free(cfg->state_dir);
	free(cfg->control_socket);
	free(cfg->addresses.v);
	free(cfg->subnet_router.routes.v);
	free(cfg->web.listen.v);
	free(cfg->coordinator.endpoints.v);
	free(cfg->coordinator.stun.v);
	free(cfg->coordinator.auto_approve.routes.v);
	free(cfg->join);
	free(cfg->dns.upstream.v);
	free(cfg->dns.records);
	free(cfg->lines);
	acl_policy_free(&cfg->policy);
	memset(cfg, 0, sizeof(*cfg));
}

static int error_first(char *errbuf, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int error_first(char *errbuf, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errbuf && errlen)
		vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Turns a parsed libconfig tree into cfg; name is the source's name. */
static int config_build(const config_t *lc, const char *name, struct mg_config *cfg, char *errbuf,
			size_t errlen)
{
	struct parse p = { .source = name, .err = errbuf, .errlen = errlen, .cfg = cfg };
	int ret = config_defaults(cfg);

	if (ret < 0) {
		config_free(cfg);
		return error_first(errbuf, errlen, ret, "%s: %s", name, strerror(-ret));
	}
	free(cfg->source);
	cfg->source = strdup(name);
	if (!cfg->source)
		error_line(&p, 0, "out of memory");
	if (errbuf && errlen)
		errbuf[0] = '\0';
	walk_group(&p, config_root_setting(lc), "", top_keys, cfg);
	if (p.nerr == 0)
		check_all(&p, lc, cfg);
	if (p.nerr == 0)
		return 0;
	config_free(cfg);
	return -EINVAL;
}

/* The line of the first "[Interface]" or "[Peer]" of a wg-quick file, or 0. */
static unsigned wgquick_line(FILE *in)
{
	char line[256];
	unsigned n = 0;

	while (in && n < 10000 && fgets(line, sizeof(line), in)) {
		char *start = line, *end;
		n++;
		while (isspace((unsigned char)*start))
			start++;
		end = start + strlen(start);
		while (end > start && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!strcasecmp(start, "[Interface]") || !strcasecmp(start, "[Peer]"))
			return n;
	}
	return 0;
}

/* in: the text again, to tell a wg-quick file from a broken one; may be NULL. */
static int syntax_error(const config_t *lc, const char *name, FILE *in, char *errbuf, size_t errlen)
{
	const char *file = config_error_file(lc) ? config_error_file(lc) : name;
	const char *text = config_error_text(lc) ? config_error_text(lc) : "cannot parse";
	unsigned wg_line;

	if (config_error_type(lc) == CONFIG_ERR_FILE_IO && config_error_line(lc) == 0)
		return error_first(errbuf, errlen, -EIO, "%s: %s", file, text);
	wg_line = wgquick_line(in);
	if (wg_line)
		return error_first(errbuf, errlen, -EINVAL,
				   "%s:%u: this is a wg-quick config, not a meshgate config: see "
				   "meshgate.conf(5) (peers = ( { public_key = ...; allowed_ips = "
				   "[...]; endpoint = ...; } ))",
				   name, wg_line);
	return error_first(errbuf, errlen, -EINVAL, "%s:%d: %s", file, config_error_line(lc), text);
}

int config_load(const char *path, struct mg_config *cfg, char *errbuf, size_t errlen)
{
	config_t lc;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	/* libconfig cannot say why a file did not open; ask first. */
	if (access(path, R_OK) < 0)
		return error_first(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		FILE *in = fopen(path, "re");
		ret = syntax_error(&lc, path, in, errbuf, errlen);
		if (in)
			fclose(in);
	} else
		ret = config_build(&lc, path, cfg, errbuf, errlen);
	config_destroy(&lc);
	return ret;
}

/* The 1-based line of the first "@include" in text, or 0. */
static unsigned include_line(const char *text)
{
	const char *at = strstr(text, "@include");
	unsigned line = 1;

	if (!at)
		return 0;
	for (const char *c = text; c < at; c++)
		line += *c == '\n';
	return line;
}

int config_load_string(const char *text, const char *name, struct mg_config *cfg, char *errbuf,
		       size_t errlen)
{
	unsigned line = include_line(text);
	config_t lc;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (line)
		return error_first(errbuf, errlen, -EINVAL, "%s:%u: @include is not allowed here",
				   name, line);
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		FILE *in = fmemopen((void *)text, strlen(text), "r");
		ret = syntax_error(&lc, name, in, errbuf, errlen);
		if (in)
			fclose(in);
	} else
		ret = config_build(&lc, name, cfg, errbuf, errlen);
	config_destroy(&lc);
	return ret;
}

/* ---- helpers for the daemon ---- */

int config_check_own_key(const struct mg_config *cfg, const uint8_t public_key[KEY_LEN],
			 char *errbuf, size_t errlen)
{
	const struct config_peer *peer = config_peer_find(cfg, public_key);

	if (!peer)
		return 0;
	return error_first(errbuf, errlen, -EINVAL,
			   "%s:%u: peer '%s' has this node's own public key",
			   cfg->source ? cfg->source : "(config)", peer->line, peer->name);
}

unsigned config_line(const struct mg_config *cfg, const char *setting)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (!strcmp(cfg->lines[i].setting, setting))
			return cfg->lines[i].line;
	return 0;
}

const struct config_peer *config_peer_find(const struct mg_config *cfg,
					   const uint8_t public_key[KEY_LEN])
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (!memcmp(cfg->peers[i].public_key, public_key, KEY_LEN))
			return &cfg->peers[i];
	return NULL;
}

static bool prefix_list_contains(const struct prefix_list *l, const struct prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (prefix_equal(&l->v[i], p))
			return true;
	return false;
}

/* Set equality; lists hold no duplicates. */
static bool prefix_list_same(const struct prefix_list *a, const struct prefix_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!prefix_list_contains(b, &a->v[i]))
			return false;
	return true;
}

static bool endpoint_same(const struct config_peer *a, const struct config_peer *b)
{
	if (a->has_endpoint != b->has_endpoint)
		return false;
	return !a->has_endpoint || (a->endpoint.port == b->endpoint.port &&
				    !strcmp(a->endpoint.host, b->endpoint.host));
}

static bool string_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool config_peer_equal(const struct config_peer *a, const struct config_peer *b)
{
	return !memcmp(a->public_key, b->public_key, KEY_LEN) && endpoint_same(a, b) &&
	       prefix_list_same(&a->allowed_ips, &b->allowed_ips) &&
	       a->persistent_keepalive == b->persistent_keepalive &&
	       string_same(a->preshared_key_file, b->preshared_key_file);
}
