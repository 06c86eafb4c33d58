/* The status server's request rules; see policy.h. */
#include "policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HOST_MAX = 300, HTTP_DEFAULT_PORT = 80 };

static unsigned sa_port(const union sockaddr_inet *sa)
{
	return ntohs(sa->sa.sa_family == AF_INET6 ? sa->in6.sin6_port : sa->in.sin_port);
}

/* Splits "name[:port]" or "[v6][:port]" into name (brackets dropped) and
 * port (80 when absent). False for anything malformed. */
static bool split_host(const char *host, char *name, size_t len, unsigned *port)
{
	const char *end, *colon;
	size_t n;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return false;
		host++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return false;
	} else {
		colon = strchr(host, ':');
		end = colon ? colon : host + strlen(host);
		if (colon && strchr(colon + 1, ':'))
			return false; /* an IPv6 address needs brackets */
	}
	n = (size_t)(end - host);
	if (n == 0 || n >= len)
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	*port = HTTP_DEFAULT_PORT;
	if (colon) {
		char *stop;
		unsigned long p;
		if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return false;
		p = strtoul(colon + 1, &stop, 10);
		if (p == 0 || p > 65535)
			return false;
		*port = (unsigned)p;
	}
	return true;
}

/* True if name is the address of sa (text forms compared as addresses). */
static bool name_is_addr(const char *name, const union sockaddr_inet *sa)
{
	uint8_t addr[16];

	if (sa->sa.sa_family == AF_INET)
		return inet_pton(AF_INET, name, addr) == 1 && !memcmp(addr, &sa->in.sin_addr, 4);
	if (sa->sa.sa_family == AF_INET6)
		return inet_pton(AF_INET6, name, addr) == 1 &&
		       !memcmp(addr, &sa->in6.sin6_addr, 16);
	return false;
}

bool web_host_allowed(const char *host, const union sockaddr_inet *local,
		      const union sockaddr_inet *listen, size_t n_listen)
{
	char name[HOST_MAX];
	unsigned port;

	if (!host || !split_host(host, name, sizeof(name), &port) || port != sa_port(local))
		return false;
	if (!strcasecmp(name, "localhost") || name_is_addr(name, local))
		return true;
	for (size_t i = 0; i < n_listen; i++)
		if (sa_port(&listen[i]) == port && name_is_addr(name, &listen[i]))
			return true;
	return false;
}

/* An Origin is ours when it is "http://" followed by an allowed Host. */
static bool origin_allowed(const struct web_request *req)
{
	static const char scheme[] = "http://";

	if (strncasecmp(req->origin, scheme, sizeof(scheme) - 1) != 0)
		return false;
	return web_host_allowed(req->origin + sizeof(scheme) - 1, &req->local, req->listen,
				req->n_listen);
}

int web_request_check(const struct web_request *req)
{
	const char *site = req->sec_fetch_site;

	if (!web_host_allowed(req->host, &req->local, req->listen, req->n_listen))
		return WEB_MISDIRECTED;
	if (site && (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site")))
		return WEB_FORBIDDEN;
	if (req->origin && !origin_allowed(req))
		return WEB_FORBIDDEN;
	if (!req->method || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0))
		return WEB_METHOD_NOT_ALLOWED;
	return WEB_OK;
}
