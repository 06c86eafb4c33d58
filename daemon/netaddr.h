/*
 * IP prefixes and UDP endpoints in their text forms.
 *
 * A prefix is "ADDRESS/LENGTH" (IPv4 or IPv6; a bare address means a host
 * prefix, /32 or /128). An endpoint is "HOST:PORT" where HOST is an IPv4
 * address, a bracketed IPv6 address ("[2001:db8::1]:41641") or a DNS name;
 * numeric endpoints also carry their socket address, names are resolved
 * later by endpoint_resolve(). Shared by the config, routes and plans.
 */
#ifndef MESHGATE_NETADDR_H
#define MESHGATE_NETADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	/* "ffff:...:ffff/128" plus the NUL. */
	PREFIX_STR_LEN = 46 + 4,
	/* "[ffff:...:ffff]:65535" plus the NUL. */
	SOCKADDR_STR_LEN = 46 + 2 + 6 + 1,
	/* A DNS name (RFC 1035: 253 characters in text form). */
	ENDPOINT_HOST_MAX = 253,
	ENDPOINT_STR_LEN = ENDPOINT_HOST_MAX + 2 + 6 + 1,
};

struct prefix {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
	uint8_t len;      /* 0..32 or 0..128 */
};

union sockaddr_inet {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct endpoint {
	char host[ENDPOINT_HOST_MAX + 1]; /* as written, without brackets */
	uint16_t port;
	bool numeric;             /* host is an IP address: addr is valid */
	union sockaddr_inet addr; /* family AF_UNSPEC unless numeric */
};

/* Address length in bytes for AF_INET / AF_INET6, 0 for anything else. */
size_t addr_len(int family);

/*
 * Parses "ADDRESS/LENGTH" or a bare address. Host bits are kept as written
 * (interface addresses have them); see prefix_is_network(). Returns 0 or
 * -EINVAL.
 */
int prefix_parse(struct prefix *p, const char *text) __attribute__((warn_unused_result));

/* Writes "ADDRESS/LENGTH" into out (PREFIX_STR_LEN is enough). */
void prefix_format(const struct prefix *p, char *out, size_t len);

/* Writes only the address part. */
void prefix_format_addr(const struct prefix *p, char *out, size_t len);

/* Clears the host bits, so p becomes the network it lies in. */
void prefix_mask(struct prefix *p);

/* True if no bit after the first p->len is set. */
bool prefix_is_network(const struct prefix *p);

bool prefix_equal(const struct prefix *a, const struct prefix *b);

/* Orders struct prefix by family, address, then length: a qsort() and
 * bsearch() comparator. */
int prefix_cmp(const void *a, const void *b);

/* True if inner lies entirely within outer (same family, at least as long). */
bool prefix_contains(const struct prefix *outer, const struct prefix *inner);

/* True if addr (addr_len(family) bytes) lies within p. */
bool prefix_contains_addr(const struct prefix *p, int family, const uint8_t *addr);

/* True if the two prefixes share at least one address. */
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);

/*
 * Parses "HOST:PORT", "[IPV6]:PORT" or "IPV4:PORT". The port must be
 * 1..65535; HOST must be an address or a syntactically valid DNS name.
 * Returns 0 or -EINVAL.
 */
int endpoint_parse(struct endpoint *ep, const char *text) __attribute__((warn_unused_result));

/* Writes the endpoint in the form endpoint_parse() reads. */
void endpoint_format(const struct endpoint *ep, char *out, size_t len);

/*
 * Resolves ep into out: copies the numeric form, or looks the name up with
 * getaddrinfo() (blocking; the first result, IPv4 preferred when family is
 * AF_UNSPEC). Returns 0, -ENOENT when the name does not resolve, or -EINVAL.
 */
int endpoint_resolve(const struct endpoint *ep, int family, union sockaddr_inet *out)
    __attribute__((warn_unused_result));

/* Parses a numeric "IPV4:PORT" or "[IPV6]:PORT" (port 0..65535). */
int sockaddr_parse(union sockaddr_inet *sa, const char *text) __attribute__((warn_unused_result));

/* Writes "1.2.3.4:5" or "[2001:db8::1]:5" (SOCKADDR_STR_LEN is enough). */
void sockaddr_format(const union sockaddr_inet *sa, char *out, size_t len);

socklen_t sockaddr_len(const union sockaddr_inet *sa);

bool sockaddr_equal(const union sockaddr_inet *a, const union sockaddr_inet *b);

#endif
