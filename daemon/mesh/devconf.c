/* A device's configuration from its hub's view; see devconf.h. */
#include "mesh/devconf.h"

#include <stdlib.h>
#include <string.h>

#include "dns/zone.h"
#include "keys.h"
#include "mesh/hello.h"

static const char *const private_ranges[] = {
	"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "fc00::/7",      "fe80::/10",      "::1/128",
};

bool devconf_private(const struct endpoint *ep)
{
	const union sockaddr_inet *sa = &ep->addr;
	int family = sa->sa.sa_family;
	const uint8_t *ip;
	struct prefix p;

	if (family == AF_INET) {
		ip = (const uint8_t *)&sa->in.sin_addr;
	} else if (family == AF_INET6) {
		ip = sa->in6.sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
			family = AF_INET;
			ip += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < sizeof(private_ranges) / sizeof(private_ranges[0]); i++)
		if (prefix_parse(&p, private_ranges[i]) == 0 &&
		    prefix_contains_addr(&p, family, ip))
			return true;
	return false;
}

/* ---- allowed IPs ---- */

static int cmp_prefix(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	c = memcmp(x->addr, y->addr, addr_len(x->family));
	return c ? c : (int)x->len - (int)y->len;
}

static void add_route(struct prefix *list, size_t *n, const struct prefix *p)
{
	if (p->len == 0) /* a default: only with --exit, and the CLI adds it */
		return;
	list[*n] = *p;
	prefix_mask(&list[*n]);
	(*n)++;
}

static json_t *allowed_ips_json(const struct netmap *nm, const struct prefix *mesh, size_t n_mesh)
{
	size_t cap = n_mesh + nm->self.n_routes, n = 0;
	struct prefix *list;
	json_t *arr;

	for (size_t i = 0; i < nm->n_peers; i++)
		cap += nm->peers[i].n_routes;
	list = calloc(cap + 1, sizeof(*list));
	if (!list)
		return NULL;
	for (size_t i = 0; i < n_mesh; i++)
		add_route(list, &n, &mesh[i]);
	for (size_t i = 0; i < nm->self.n_routes; i++)
		add_route(list, &n, &nm->self.routes[i]);
	for (size_t i = 0; i < nm->n_peers; i++)
		for (size_t j = 0; j < nm->peers[i].n_routes; j++)
			add_route(list, &n, &nm->peers[i].routes[j]);
	qsort(list, n, sizeof(*list), cmp_prefix);
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		char text[PREFIX_STR_LEN];
		if (i && cmp_prefix(&list[i], &list[i - 1]) == 0)
			continue;
		prefix_format(&list[i], text, sizeof(text));
		if (json_array_append_new(arr, json_string(text)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(list);
	return arr;
}

/* ---- the endpoint ---- */

/* The i-th candidate after the configured one: the observed endpoint, then
 * the local addresses with the listen port. false past the last. */
static bool candidate(const struct devconf_endpoints *ep, size_t i, struct endpoint *out)
{
	if (ep->observed && i-- == 0) {
		*out = *ep->observed;
		return true;
	}
	if (i >= ep->n_local)
		return false;
	*out = ep->local[i];
	out->port = ep->listen_port;
	if (out->addr.sa.sa_family == AF_INET)
		out->addr.in.sin_port = htons(ep->listen_port);
	else if (out->addr.sa.sa_family == AF_INET6)
		out->addr.in6.sin6_port = htons(ep->listen_port);
	return true;
}

/* The first usable candidate, outside the private ranges unless private. */
static bool pick(const struct devconf_endpoints *ep, const struct prefix *mesh, size_t n_mesh,
		 bool private, struct endpoint *out)
{
	for (size_t i = 0; candidate(ep, i, out); i++)
		if (mesh_endpoint_usable(out, mesh, n_mesh) && devconf_private(out) == private)
			return true;
	return false;
}

static json_t *endpoint_json(const struct devconf_endpoints *ep, const struct prefix *mesh,
			     size_t n_mesh, bool *private)
{
	char text[ENDPOINT_STR_LEN];
	struct endpoint e;

	*private = false;
	if (ep->configured && *ep->configured)
		return json_string(ep->configured);
	if (!pick(ep, mesh, n_mesh, false, &e)) {
		if (!pick(ep, mesh, n_mesh, true, &e))
			return json_null();
		*private = true;
	}
	endpoint_format(&e, text, sizeof(text));
	return json_string(text);
}

/* The resolver's addresses for a mesh of these prefixes; [] without DNS. */
static json_t *dns_json(const struct prefix *mesh, size_t n_mesh, const char *dns_domain)
{
	json_t *arr = json_array();
	bool v6 = false;

	for (size_t i = 0; i < n_mesh; i++)
		v6 |= mesh[i].family == AF_INET6;
	if (arr && dns_domain) {
		json_array_append_new(arr, json_string(DNS_RESOLVER_V4));
		if (v6)
			json_array_append_new(arr, json_string(DNS_RESOLVER_V6));
	}
	return arr;
}

json_t *devconf_json(const struct netmap *nm, const struct prefix *mesh, size_t n_mesh,
		     const uint8_t hub_key[32], const char *hub_name, bool exit_node,
		     const struct devconf_endpoints *ep, const char *dns_domain)
{
	char key[KEY_B64_LEN + 1];
	bool private = false;
	json_t *endpoint = endpoint_json(ep, mesh, n_mesh, &private);

	key_to_base64(key, hub_key);
	return json_pack("{s:s, s:s, s:o, s:b, s:o, s:b, s:i, s:o, s:o}", "hub", hub_name,
			 "hub_public_key", key, "endpoint", endpoint, "endpoint_private", private,
			 "allowed_ips", allowed_ips_json(nm, mesh, n_mesh), "exit_node", exit_node,
			 "mtu", DEVCONF_MTU, "dns", dns_json(mesh, n_mesh, dns_domain),
			 "dns_search", dns_domain ? json_pack("[s]", dns_domain) : json_array());
}
