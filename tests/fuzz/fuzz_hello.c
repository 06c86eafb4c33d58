/*
 * Fuzz harness for the control channel's hello parser: the input is JSON
 * text, as a node sends it in a join request or as a "hello"/"update" line
 * (mesh_hello_parse, run by the coordinator on untrusted input).
 *
 * Invariants beyond memory safety: a refused hello leaves the result all
 * zero; an accepted one stays within the limits (routes, endpoints, host
 * name length), holds only network prefixes and numeric endpoints, ends
 * with the two defaults when it offers an exit, and written back as a hello
 * parses to the same result.
 *
 * Seeds (tests/fuzz/seeds/fuzz_hello) are hand-written hellos: as a node
 * sends them, with an exit offer and IPv6, and near misses of each check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_zero(const struct mesh_hello *h)
{
	static const struct mesh_hello zero;

	if (memcmp(h, &zero, sizeof(zero)))
		abort();
}

static bool is_default(const struct prefix *p)
{
	static const uint8_t none[16];

	return p->len == 0 && !memcmp(p->addr, none, sizeof(none));
}

static void check_valid(const struct mesh_hello *h)
{
	if (strnlen(h->hostname, sizeof(h->hostname)) >= sizeof(h->hostname))
		abort();
	if (h->n_routes > HELLO_MAX_ROUTES + (h->exit_node ? 2 : 0) ||
	    h->n_endpoints > HELLO_MAX_ENDPOINTS)
		abort();
	for (size_t i = 0; i < h->n_routes; i++)
		if (!prefix_is_network(&h->routes[i]))
			abort();
	for (size_t i = 0; i < h->n_endpoints; i++)
		if (!h->endpoints[i].numeric)
			abort();
	if (h->exit_node && (h->n_routes < 2 || h->routes[h->n_routes - 2].family != AF_INET ||
			     !is_default(&h->routes[h->n_routes - 2]) ||
			     h->routes[h->n_routes - 1].family != AF_INET6 ||
			     !is_default(&h->routes[h->n_routes - 1])))
		abort();
}

/* The hello written back as a node would send it: the exit offer as the
 * flag, not as routes. */
static json_t *write_back(const struct mesh_hello *h)
{
	size_t n = h->n_routes - (h->exit_node ? 2 : 0);

	return json_pack("{s:s, s:o, s:b, s:o}", "hostname", h->hostname, "routes",
			 mesh_prefixes_json(h->routes, n), "exit_node", h->exit_node, "endpoints",
			 mesh_endpoints_json(h->endpoints, h->n_endpoints));
}

static void check_round_trip(const struct mesh_hello *h)
{
	struct mesh_hello *again = malloc(sizeof(*again));
	json_t *doc = write_back(h);

	if (!again || !doc || mesh_hello_parse(doc, again) < 0)
		abort();
	if (strcmp(h->hostname, again->hostname) || h->exit_node != again->exit_node ||
	    h->n_routes != again->n_routes || h->n_endpoints != again->n_endpoints)
		abort();
	for (size_t i = 0; i < h->n_routes; i++)
		if (!prefix_equal(&h->routes[i], &again->routes[i]))
			abort();
	for (size_t i = 0; i < h->n_endpoints; i++)
		if (strcmp(h->endpoints[i].host, again->endpoints[i].host) ||
		    h->endpoints[i].port != again->endpoints[i].port)
			abort();
	json_decref(doc);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mesh_hello *h = malloc(sizeof(*h));
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!h)
		abort();
	memset(h, 0xa5, sizeof(*h)); /* the parser must not rely on a zeroed result */
	if (mesh_hello_parse(doc, h) < 0) {
		check_zero(h);
	} else {
		check_valid(h);
		check_round_trip(h);
	}
	json_decref(doc);
	free(h);
	return 0;
}
