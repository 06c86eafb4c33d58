/* The wg-quick configuration of a stock device; see wgquick.h. */
#include "wgquick.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/zone.h"
#include "keys.h"
#include "netaddr.h"

enum { NAME_MAX_LEN = 63, MTU_MIN = 576, MTU_MAX = 65535 };

struct prefixes {
	struct prefix *p;
	size_t n;
};

/* Search domains in canonical form. */
struct domains {
	char (*v)[DNS_DOMAIN_MAX + 1];
	size_t n;
};

/* The fields checked and in canonical form; wiped after use. */
struct parsed {
	char private_key[KEY_B64_LEN + 1]; /* empty: made on the device */
	char hub_key[KEY_B64_LEN + 1];
	char endpoint[ENDPOINT_STR_LEN]; /* empty: none */
	struct prefixes address, dns, allowed;
	struct domains search;
};

/*
 * The text is written twice: the first pass (buf NULL) counts, the second
 * fills a buffer of the exact size, so the private key is never left behind
 * in memory a realloc gave up.
 */
struct out {
	char *buf;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

/* Copies a base64 key in its canonical form; false if it is not a key. */
static bool key_canonical(char out[KEY_B64_LEN + 1], const char *text)
{
	uint8_t key[KEY_LEN];
	bool ok = text && key_from_base64(key, text);

	if (ok)
		key_to_base64(out, key);
	sodium_memzero(key, sizeof(key));
	return ok;
}

static bool contains(const struct prefixes *l, const struct prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (prefix_equal(&l->p[i], p))
			return true;
	return false;
}

/* Parses texts into out, duplicates left out; hosts: only full-length
 * prefixes (addresses), else networks (host bits cleared). */
static int parse_list(struct prefixes *out, const char *const *texts, size_t n, bool hosts)
{
	struct prefix p;

	if (n > WGQUICK_MAX_LIST || (n && !texts))
		return -EINVAL;
	out->p = calloc(n ? n : 1, sizeof(*out->p));
	if (!out->p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!texts[i] || prefix_parse(&p, texts[i]) < 0)
			return -EINVAL;
		if (hosts && p.len != 8 * addr_len(p.family))
			return -EINVAL;
		prefix_mask(&p);
		if (!contains(out, &p))
			out->p[out->n++] = p;
	}
	return 0;
}

/* Lower case, no final dot; duplicates left out. */
static int parse_domains(struct domains *out, const char *const *texts, size_t n)
{
	if (n > WGQUICK_MAX_LIST || (n && !texts))
		return -EINVAL;
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *d = out->v[out->n];
		size_t len;
		bool dup = false;

		if (!texts[i] || !dns_domain_valid(texts[i]))
			return -EINVAL;
		len = strlen(texts[i]) - (texts[i][strlen(texts[i]) - 1] == '.');
		for (size_t k = 0; k < len; k++)
			d[k] = (char)tolower((unsigned char)texts[i][k]);
		d[len] = '\0';
		for (size_t k = 0; k < out->n && !dup; k++)
			dup = strcmp(out->v[k], d) == 0;
		out->n += !dup;
	}
	return 0;
}

static int parse_endpoint(char out[ENDPOINT_STR_LEN], const char *text)
{
	struct endpoint ep;

	out[0] = '\0';
	if (!text)
		return 0;
	if (endpoint_parse(&ep, text) < 0)
		return -EINVAL;
	if (ep.numeric)
		sockaddr_format(&ep.addr, out, ENDPOINT_STR_LEN);
	else
		endpoint_format(&ep, out, ENDPOINT_STR_LEN);
	return 0;
}

static int parse(struct parsed *p, const struct wgquick_config *c)
{
	int ret;

	if (!name_ok(c->device) || !name_ok(c->hub) || (c->mtu && c->mtu < MTU_MIN) ||
	    c->mtu > MTU_MAX || !c->n_address || (!c->n_allowed_ips && !c->exit_node) ||
	    !key_canonical(p->hub_key, c->hub_public_key) ||
	    (c->private_key && !key_canonical(p->private_key, c->private_key)))
		return -EINVAL;
	ret = parse_endpoint(p->endpoint, c->endpoint);
	if (ret == 0)
		ret = parse_list(&p->address, c->address, c->n_address, true);
	if (ret == 0)
		ret = parse_list(&p->dns, c->dns, c->n_dns, true);
	if (ret == 0)
		ret = parse_domains(&p->search, c->dns_search, c->n_dns_search);
	if (ret == 0)
		ret = parse_list(&p->allowed, c->allowed_ips, c->n_allowed_ips, false);
	return ret;
}

/* Writes "KEY = a, b, c" for a list; addresses alone (no length) with bare. */
static void put_list(struct out *o, const char *key, const struct prefixes *l, bool bare)
{
	char text[PREFIX_STR_LEN];

	put(o, "%s = ", key);
	for (size_t i = 0; i < l->n; i++) {
		if (bare)
			prefix_format_addr(&l->p[i], text, sizeof(text));
		else
			prefix_format(&l->p[i], text, sizeof(text));
		put(o, "%s%s", i ? ", " : "", text);
	}
}

static void put_allowed(struct out *o, const struct prefixes *allowed, bool exit_node)
{
	struct prefix any4 = { .family = AF_INET }, any6 = { .family = AF_INET6 };

	put_list(o, "AllowedIPs", allowed, false);
	if (!exit_node)
		return;
	if (!contains(allowed, &any4))
		put(o, "%s0.0.0.0/0", allowed->n ? ", " : "");
	/* Something stands before it: the list, or 0.0.0.0/0 when it was empty. */
	if (!contains(allowed, &any6))
		put(o, ", ::/0");
}

static void emit(struct out *o, const struct wgquick_config *c, const struct parsed *p)
{
	put(o, "# meshgate device %s", c->device);
	if (c->dns_name)
		put(o, " (%s)", c->dns_name);
	put(o, ", hub %s\n[Interface]\n", c->hub);
	if (p->private_key[0])
		put(o, "PrivateKey = %s\n", p->private_key);
	else
		put(o, "# PrivateKey = (the key made on the device)\n");
	put_list(o, "Address", &p->address, false);
	put(o, "\n");
	if (c->mtu)
		put(o, "MTU = %u\n", c->mtu);
	/* Search domains only go with a resolver to ask. */
	if (p->dns.n) {
		put_list(o, "DNS", &p->dns, true);
		for (size_t i = 0; i < p->search.n; i++)
			put(o, ", %s", p->search.v[i]);
		put(o, "\n");
	}
	put(o, "\n[Peer]\nPublicKey = %s\n", p->hub_key);
	if (p->endpoint[0])
		put(o, "Endpoint = %s\n", p->endpoint);
	put_allowed(o, &p->allowed, c->exit_node);
	put(o, "\nPersistentKeepalive = %d\n", WGQUICK_KEEPALIVE);
}

int wgquick_format(const struct wgquick_config *c, char **text)
{
	struct parsed p = { 0 };
	struct out o = { 0 };
	int ret;

	*text = NULL;
	ret = parse(&p, c);
	if (ret < 0)
		goto out;
	emit(&o, c, &p);
	o.cap = o.len + 1;
	o.len = 0;
	o.buf = malloc(o.cap);
	if (!o.buf) {
		ret = -ENOMEM;
		goto out;
	}
	emit(&o, c, &p);
	*text = o.buf;
out:
	free(p.address.p);
	free(p.dns.p);
	free(p.search.v);
	free(p.allowed.p);
	sodium_memzero(&p, sizeof(p));
	return ret;
}

void wgquick_free(char *text)
{
	if (!text)
		return;
	sodium_memzero(text, strlen(text));
	free(text);
}
