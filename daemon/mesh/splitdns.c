/* A subnet router's split DNS offer on the wire; see splitdns.h. */
#include "mesh/splitdns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

bool split_dns_server_parse(const char *text, union sockaddr_inet *out)
{
	struct prefix a;

	memset(out, 0, sizeof(*out));
	if (!strchr(text, '/') && prefix_parse(&a, text) == 0) {
		if (a.family == AF_INET) {
			out->in.sin_family = AF_INET;
			out->in.sin_port = htons(53);
			memcpy(&out->in.sin_addr, a.addr, 4);
		} else {
			out->in6.sin6_family = AF_INET6;
			out->in6.sin6_port = htons(53);
			memcpy(&out->in6.sin6_addr, a.addr, 16);
		}
		return true;
	}
	if (sockaddr_parse(out, text) < 0 || sockaddr_len(out) == 0)
		return false;
	return (out->sa.sa_family == AF_INET ? out->in.sin_port : out->in6.sin6_port) != 0;
}

json_t *split_dns_json(const struct split_dns *s)
{
	char text[SOCKADDR_STR_LEN];

	sockaddr_format(&s->server, text, sizeof(text));
	return json_pack("{s:s, s:s}", "domain", s->domain, "server", text);
}

/* Lower case, no final dot; false when not a domain. */
static bool domain_take(const char *text, char *out)
{
	size_t n = strlen(text);

	if (!dns_domain_valid(text))
		return false;
	if (n && text[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)text[i]);
	out[n] = '\0';
	return true;
}

int split_dns_from_json(const json_t *obj, struct split_dns *out)
{
	const json_t *domain = json_object_get(obj, "domain");
	const json_t *server = json_object_get(obj, "server");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj) || !json_is_string(domain) || !json_is_string(server) ||
	    json_string_length(domain) > DNS_DOMAIN_MAX + 1 || json_string_length(server) > 64)
		goto fail;
	if (!domain_take(json_string_value(domain), out->domain) ||
	    !split_dns_server_parse(json_string_value(server), &out->server))
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

bool split_dns_server_in(const struct split_dns *s, const struct prefix *p)
{
	const union sockaddr_inet *sa = &s->server;

	if (sa->sa.sa_family == AF_INET)
		return prefix_contains_addr(p, AF_INET, (const uint8_t *)&sa->in.sin_addr);
	if (sa->sa.sa_family == AF_INET6)
		return prefix_contains_addr(p, AF_INET6, sa->in6.sin6_addr.s6_addr);
	return false;
}

bool split_dns_server_routed(const struct split_dns *s, const struct prefix *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (routes[i].len > 0 && split_dns_server_in(s, &routes[i])) /* not an exit's */
			return true;
	return false;
}
