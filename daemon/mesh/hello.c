/* A node's hello; see hello.h. */
#include "mesh/hello.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int parse_routes(const json_t *arr, struct mesh_hello *out)
{
	size_t i;
	json_t *v;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > HELLO_MAX_ROUTES)
		return -EINVAL;
	json_array_foreach(arr, i, v)
	{
		struct prefix p;
		if (!json_is_string(v) || prefix_parse(&p, json_string_value(v)) < 0 ||
		    !prefix_is_network(&p))
			return -EINVAL;
		out->routes[out->n_routes++] = p;
	}
	return 0;
}

static int parse_endpoints(const json_t *arr, struct mesh_hello *out)
{
	size_t i;
	json_t *v;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > HELLO_MAX_ENDPOINTS)
		return -EINVAL;
	json_array_foreach(arr, i, v)
	{
		struct endpoint ep;
		if (!json_is_string(v) || endpoint_parse(&ep, json_string_value(v)) < 0 ||
		    !ep.numeric)
			return -EINVAL;
		if (mesh_endpoint_usable(&ep, NULL, 0))
			out->endpoints[out->n_endpoints++] = ep;
	}
	return 0;
}

static bool ipv4_usable(const uint8_t *a)
{
	return a[0] != 0 && a[0] != 127 && (a[0] & 0xf0) != 224 && !(a[0] == 169 && a[1] == 254) &&
	       !(a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

static bool ipv6_usable(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		return ipv4_usable(&a->s6_addr[12]);
	return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_LINKLOCAL(a);
}

bool mesh_endpoint_usable(const struct endpoint *ep, const struct prefix *mesh, size_t n_mesh)
{
	const union sockaddr_inet *sa = &ep->addr;
	int family = sa->sa.sa_family;
	const uint8_t *ip;

	if (!ep->numeric || ep->port == 0)
		return false;
	if (family == AF_INET) {
		ip = (const uint8_t *)&sa->in.sin_addr;
		if (!ipv4_usable(ip))
			return false;
	} else if (family == AF_INET6) {
		ip = sa->in6.sin6_addr.s6_addr;
		if (!ipv6_usable(&sa->in6.sin6_addr))
			return false;
		if (IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
			family = AF_INET;
			ip += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n_mesh; i++)
		if (prefix_contains_addr(&mesh[i], family, ip))
			return false;
	return true;
}

static void add_exit_offer(struct mesh_hello *out)
{
	struct prefix v4 = { .family = AF_INET }, v6 = { .family = AF_INET6 };

	out->routes[out->n_routes++] = v4;
	out->routes[out->n_routes++] = v6;
}

int mesh_hello_parse(const json_t *obj, struct mesh_hello *out)
{
	const json_t *host = json_object_get(obj, "hostname");
	const json_t *exit_node = json_object_get(obj, "exit_node");
	const json_t *dns = json_object_get(obj, "dns");
	int ret;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return -EINVAL;
	if (host && (!json_is_string(host) || json_string_length(host) > CONFIG_NAME_MAX))
		return -EINVAL;
	if (exit_node && !json_is_boolean(exit_node))
		return -EINVAL;
	if (host)
		strcpy(out->hostname, json_string_value(host));
	out->exit_node = json_is_true(exit_node);
	ret = parse_routes(json_object_get(obj, "routes"), out);
	if (ret == 0)
		ret = parse_endpoints(json_object_get(obj, "endpoints"), out);
	if (ret == 0 && dns)
		ret = split_dns_from_json(dns, &out->dns);
	if (ret == 0 && out->exit_node)
		add_exit_offer(out);
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

static bool usable_address(const struct ifaddrs *ifa, const char *skip_ifname)
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return false;
	if ((ifa->ifa_flags & IFF_LOOPBACK) || !(ifa->ifa_flags & IFF_UP))
		return false;
	return !skip_ifname || strcmp(ifa->ifa_name, skip_ifname);
}

size_t mesh_local_endpoints(const char *skip_ifname, uint16_t port, struct endpoint *out,
			    size_t max)
{
	struct ifaddrs *list, *ifa;
	size_t n = 0;

	if (getifaddrs(&list) < 0)
		return 0;
	for (ifa = list; ifa && n < max; ifa = ifa->ifa_next) {
		union sockaddr_inet sa = { 0 };
		char text[SOCKADDR_STR_LEN];
		if (!usable_address(ifa, skip_ifname))
			continue;
		memcpy(&sa, ifa->ifa_addr,
		       ifa->ifa_addr->sa_family == AF_INET ? sizeof(sa.in) : sizeof(sa.in6));
		if (sa.sa.sa_family == AF_INET)
			sa.in.sin_port = htons(port);
		else
			sa.in6.sin6_port = htons(port);
		sockaddr_format(&sa, text, sizeof(text));
		if (endpoint_parse(&out[n], text) == 0 && mesh_endpoint_usable(&out[n], NULL, 0))
			n++;
	}
	freeifaddrs(list);
	return n;
}

json_t *mesh_prefixes_json(const struct prefix *v, size_t n)
{
	json_t *arr = json_array();
	char text[PREFIX_STR_LEN];

	for (size_t i = 0; arr && i < n; i++) {
		prefix_format(&v[i], text, sizeof(text));
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

json_t *mesh_endpoints_json(const struct endpoint *v, size_t n)
{
	json_t *arr = json_array();
	char text[ENDPOINT_HOST_MAX + 16];

	for (size_t i = 0; arr && i < n; i++) {
		endpoint_format(&v[i], text, sizeof(text));
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

json_t *mesh_hello_create(const struct mg_config *cfg, const char *type, const char *skip_ifname,
			  uint16_t port)
{
	struct endpoint eps[HELLO_MAX_ENDPOINTS];
	size_t n = mesh_local_endpoints(skip_ifname, port, eps, HELLO_MAX_ENDPOINTS);
	json_t *hello = json_pack(
	    "{s:s, s:o, s:b, s:o}", "hostname", cfg->hostname, "routes",
	    mesh_prefixes_json(cfg->subnet_router.routes.v, cfg->subnet_router.routes.n),
	    "exit_node", cfg->exit_node.enabled, "endpoints", mesh_endpoints_json(eps, n));

	if (hello && cfg->subnet_router.dns.domain[0]) {
		struct split_dns offer = { .server = cfg->subnet_router.dns.server };
		memcpy(offer.domain, cfg->subnet_router.dns.domain, sizeof(offer.domain));
		json_object_set_new(hello, "dns", split_dns_json(&offer));
	}
	if (hello && type)
		json_object_set_new(hello, "type", json_string(type));
	return hello;
}
