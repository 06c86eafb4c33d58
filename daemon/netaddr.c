/* Prefix and endpoint text forms; see netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Parses a decimal number of at most 5 digits, no sign; -1 if not one. */
static long parse_decimal(const char *s)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int addr_parse(int *family, uint8_t addr[16], const char *text)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, text, addr) == 1)
		*family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

int prefix_parse(struct prefix *p, const char *text)
{
	char buf[PREFIX_STR_LEN];
	char *slash;
	long len;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (addr_parse(&p->family, p->addr, buf) < 0)
		return -EINVAL;
	len = slash ? parse_decimal(slash + 1) : (long)addr_len(p->family) * 8;
	if (len < 0 || len > (long)addr_len(p->family) * 8)
		return -EINVAL;
	p->len = (uint8_t)len;
	return 0;
}

void prefix_format_addr(const struct prefix *p, char *out, size_t len)
{
	if (!inet_ntop(p->family, p->addr, out, (socklen_t)len) && len)
		out[0] = '\0';
}

void prefix_format(const struct prefix *p, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	prefix_format_addr(p, addr, sizeof(addr));
	snprintf(out, len, "%s/%u", addr, p->len);
}

void prefix_mask(struct prefix *p)
{
	size_t n = addr_len(p->family);

	for (size_t i = 0; i < n; i++) {
		unsigned keep = p->len > i * 8 ? p->len - i * 8 : 0;
		if (keep < 8)
			p->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

bool prefix_is_network(const struct prefix *p)
{
	struct prefix masked = *p;

	prefix_mask(&masked);
	return memcmp(masked.addr, p->addr, sizeof(p->addr)) == 0;
}

bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, addr_len(a->family)) == 0;
}

int prefix_cmp(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, addr_len(x->family));
	return c ? c : (int)x->len - (int)y->len;
}

/* True if the first bits bits of a and b agree. */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool prefix_contains_addr(const struct prefix *p, int family, const uint8_t *addr)
{
	return p->family == family && bits_equal(p->addr, addr, p->len);
}

bool prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       bits_equal(outer->addr, inner->addr, outer->len);
}

bool prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

/* Splits "HOST:PORT" / "[V6]:PORT" in place; host loses its brackets. */
static int hostport_split(char *buf, char **host, char **port, bool *bracketed)
{
	char *colon;

	*bracketed = buf[0] == '[';
	if (*bracketed) {
		char *close = strchr(buf, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		*host = buf + 1;
		*port = close + 2;
		return 0;
	}
	colon = strrchr(buf, ':');
	/* An IPv6 address needs brackets to tell it from the port. */
	if (!colon || memchr(buf, ':', (size_t)(colon - buf)))
		return -EINVAL;
	*colon = '\0';
	*host = buf;
	*port = colon + 1;
	return 0;
}

/* A label of a host name to look up: LDH, and "_" as resolvers allow it. */
static bool host_label_valid(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* RFC 1123 host name, optionally with a final dot. */
static bool host_name_valid(const char *name)
{
	size_t n = strlen(name);
	const char *label = name, *last = name, *end;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > ENDPOINT_HOST_MAX)
		return false;
	end = name + n;
	for (const char *p = name; p <= end; p++) {
		if (p != end && *p != '.')
			continue;
		if (!host_label_valid(label, (size_t)(p - label)))
			return false;
		last = label;
		label = p + 1;
	}
	/* An all-numeric last label reads as a short IPv4 form ("1.2.3"). */
	return strspn(last, "0123456789") < (size_t)(end - last);
}

static void sockaddr_set(union sockaddr_inet *sa, int family, const uint8_t *addr, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons(port);
		memcpy(&sa->in.sin_addr, addr, 4);
	} else {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(port);
		memcpy(&sa->in6.sin6_addr, addr, 16);
	}
}

int endpoint_parse(struct endpoint *ep, const char *text)
{
	char buf[ENDPOINT_STR_LEN], *host, *port;
	uint8_t addr[16];
	int family;
	bool bracketed;
	long portnum;

	memset(ep, 0, sizeof(*ep));
	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	if (hostport_split(buf, &host, &port, &bracketed) < 0)
		return -EINVAL;
	portnum = parse_decimal(port);
	if (portnum < 1 || portnum > 65535)
		return -EINVAL;
	if (addr_parse(&family, addr, host) == 0) {
		if (bracketed != (family == AF_INET6))
			return -EINVAL;
		ep->numeric = true;
		sockaddr_set(&ep->addr, family, addr, (uint16_t)portnum);
	} else if (bracketed || !host_name_valid(host)) {
		return -EINVAL;
	}
	strcpy(ep->host, host);
	ep->port = (uint16_t)portnum;
	return 0;
}

void endpoint_format(const struct endpoint *ep, char *out, size_t len)
{
	bool v6 = ep->numeric && ep->addr.sa.sa_family == AF_INET6;

	snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", ep->host, ep->port);
}

static const struct addrinfo *pick_result(const struct addrinfo *res, int family)
{
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == (family == AF_UNSPEC ? AF_INET : family))
			return ai;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			return ai;
	return NULL;
}

int endpoint_resolve(const struct endpoint *ep, int family, union sockaddr_inet *out)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	const struct addrinfo *ai;
	int ret = -ENOENT;

	if (ep->numeric) {
		*out = ep->addr;
		return 0;
	}
	if (ep->host[0] == '\0')
		return -EINVAL;
	if (getaddrinfo(ep->host, NULL, &hints, &res) != 0)
		return -ENOENT;
	ai = pick_result(res, family);
	if (ai && ai->ai_addrlen <= sizeof(*out)) {
		memset(out, 0, sizeof(*out));
		memcpy(out, ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_family == AF_INET)
			out->in.sin_port = htons(ep->port);
		else
			out->in6.sin6_port = htons(ep->port);
		ret = 0;
	}
	freeaddrinfo(res);
	return ret;
}

int sockaddr_parse(union sockaddr_inet *sa, const char *text)
{
	char buf[SOCKADDR_STR_LEN], *host, *port;
	uint8_t addr[16];
	int family;
	bool bracketed;
	long portnum;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	if (hostport_split(buf, &host, &port, &bracketed) < 0)
		return -EINVAL;
	portnum = parse_decimal(port);
	if (portnum < 0 || portnum > 65535 || addr_parse(&family, addr, host) < 0 ||
	    bracketed != (family == AF_INET6))
		return -EINVAL;
	sockaddr_set(sa, family, addr, (uint16_t)portnum);
	return 0;
}

void sockaddr_format(const union sockaddr_inet *sa, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (sa->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &sa->in.sin_addr, addr, sizeof(addr));
		snprintf(out, len, "%s:%u", addr, ntohs(sa->in.sin_port));
	} else if (sa->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sa->in6.sin6_addr, addr, sizeof(addr));
		snprintf(out, len, "[%s]:%u", addr, ntohs(sa->in6.sin6_port));
	} else {
		snprintf(out, len, "(none)");
	}
}

socklen_t sockaddr_len(const union sockaddr_inet *sa)
{
	return sa->sa.sa_family == AF_INET    ? sizeof(sa->in)
	       : sa->sa.sa_family == AF_INET6 ? sizeof(sa->in6)
					      : 0;
}

bool sockaddr_equal(const union sockaddr_inet *a, const union sockaddr_inet *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
	return a->sa.sa_family == AF_UNSPEC;
}
