/*
 * The netmap's JSON document, its Ed25519 signature and its cache file
 * (formats in netmap.h).
 *
 * The signature covers the exact bytes of the document as the coordinator
 * serialised it (compact, sorted keys); the wire message carries those bytes
 * as a string, so a node verifies what it received and never re-serialises.
 *
 * netmap_from_json() trusts nothing: every member it uses must be present
 * with its type and range, keys are 44-character base64, addresses host
 * prefixes, routes networks, endpoints numeric, names as in the config;
 * counts are bounded (NETMAP_MAX_*). Devices (optional) are checked as
 * nodes are, and their names and addresses against every node's and
 * device's; self's carry keys that no peer has. Members it does not know are ignored,
 * so a newer coordinator may add some. Which of two netmaps is newer
 * (version) is the caller's decision, as is checking "coordinator" against
 * the key learnt at join.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/acl.h"
#include "atomicfile.h"
#include "mesh/netmap.h"
#include "mesh/protocol.h"

enum {
	SIGNATURE_B64_LEN = 88, /* 64 bytes, standard base64 with padding */
	NETMAP_CACHE_MAX = 2 * MESH_CONTROL_LINE_MAX,
};

/* Where errors go while decoding. */
struct parse {
	char *errbuf;
	size_t errlen;
};

static int fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->errbuf && ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->errbuf, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A printable excerpt of untrusted text for messages. */
static const char *excerpt(const char *s, char out[48])
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static void node_free(struct netmap_node *node)
{
	free(node->addresses);
	free(node->endpoints);
	free(node->routes);
	free(node->devices);
	free(node->split_dns);
	memset(node, 0, sizeof(*node));
}

void netmap_free(struct netmap *nm)
{
	if (!nm)
		return;
	node_free(&nm->self);
	for (size_t i = 0; i < nm->n_peers; i++)
		node_free(&nm->peers[i]);
	free(nm->peers);
	free(nm->routes_advertised);
	free(nm->dns.records);
	acl_filter_free(&nm->policy);
	memset(nm, 0, sizeof(*nm));
}

/* ---- Encoding ---------------------------------------------------------- */

static json_t *prefixes_to_json(const struct prefix *p, size_t n)
{
	json_t *arr = json_array();
	char text[PREFIX_STR_LEN];

	for (size_t i = 0; arr && i < n; i++) {
		prefix_format(&p[i], text, sizeof(text));
		if (json_array_append_new(arr, json_string(text)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *endpoints_to_json(const struct endpoint *ep, size_t n)
{
	json_t *arr = json_array();
	char text[ENDPOINT_STR_LEN];

	for (size_t i = 0; arr && i < n; i++) {
		endpoint_format(&ep[i], text, sizeof(text));
		if (json_array_append_new(arr, json_string(text)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *device_to_json(const struct netmap_device *d, bool with_key)
{
	char key[KEY_B64_LEN + 1];
	json_t *doc =
	    json_pack("{s:s, s:o, s:b}", "name", d->name, "addresses",
		      prefixes_to_json(d->addresses, d->n_addresses), "exit_node", d->exit_node);

	if (doc && with_key) {
		key_to_base64(key, d->public_key);
		if (json_object_set_new(doc, "public_key", json_string(key)) < 0) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

/* Adds "devices" to a node's object (steals it) when it hubs any: a mesh
 * without devices keeps the netmaps of before. NULL on failure. */
static json_t *with_devices(json_t *obj, const struct netmap_node *node, bool with_keys)
{
	json_t *arr = obj && node->n_devices ? json_array() : NULL;

	if (!obj || !node->n_devices)
		return obj;
	for (size_t i = 0; arr && i < node->n_devices; i++)
		if (json_array_append_new(arr, device_to_json(&node->devices[i], with_keys)) < 0)
			break;
	if (!arr || json_array_size(arr) != node->n_devices ||
	    json_object_set_new(obj, "devices", arr) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *self_to_json(const struct netmap *nm)
{
	return with_devices(
	    json_pack("{s:I, s:s, s:o, s:o, s:o, s:b}", "id", (json_int_t)nm->self.id, "name",
		      nm->self.name, "addresses",
		      prefixes_to_json(nm->self.addresses, nm->self.n_addresses),
		      "routes_advertised",
		      prefixes_to_json(nm->routes_advertised, nm->n_routes_advertised),
		      "routes_approved", prefixes_to_json(nm->self.routes, nm->self.n_routes),
		      "exit_node", nm->self.exit_node),
	    &nm->self, true);
}

/* Adds a peer's "exit_offer" when it offers one. NULL on failure. */
static json_t *with_exit_offer(json_t *obj, const struct netmap_node *node)
{
	const char *offer = node->exit_offer == NETMAP_EXIT_APPROVED  ? "approved"
			    : node->exit_offer == NETMAP_EXIT_PENDING ? "pending"
								      : NULL;

	if (obj && offer && json_object_set_new(obj, "exit_offer", json_string(offer)) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Adds a peer's "split_dns" when it has any. NULL on failure. */
static json_t *with_split_dns(json_t *obj, const struct netmap_node *node)
{
	json_t *arr = obj && node->n_split_dns ? json_array() : NULL;

	if (!obj || !node->n_split_dns)
		return obj;
	for (size_t i = 0; arr && i < node->n_split_dns; i++)
		if (json_array_append_new(arr, split_dns_json(&node->split_dns[i])) < 0)
			break;
	if (!arr || json_array_size(arr) != node->n_split_dns ||
	    json_object_set_new(obj, "split_dns", arr) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *peer_to_json(const struct netmap_node *node)
{
	char key[KEY_B64_LEN + 1];

	key_to_base64(key, node->public_key);
	return with_split_dns(
	    with_devices(
		with_exit_offer(
		    json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:b}", "id",
			      (json_int_t)node->id, "name", node->name, "public_key", key,
			      "addresses", prefixes_to_json(node->addresses, node->n_addresses),
			      "endpoints", endpoints_to_json(node->endpoints, node->n_endpoints),
			      "routes", prefixes_to_json(node->routes, node->n_routes), "exit_node",
			      node->exit_node, "online", node->online, "coordinator",
			      node->coordinator),
		    node),
		node, false),
	    node);
}

static json_t *peers_to_json(const struct netmap *nm)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < nm->n_peers; i++) {
		if (json_array_append_new(arr, peer_to_json(&nm->peers[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *records_to_json(const struct netmap_dns *dns)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < dns->n_records; i++) {
		char addr[PREFIX_STR_LEN];

		prefix_format_addr(&dns->records[i].address, addr, sizeof(addr));
		if (json_array_append_new(arr, json_pack("{s:s, s:s}", "name", dns->records[i].name,
							 "address", addr)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* Adds "dns" (steals doc) when nm has it: a mesh without names keeps the
 * netmaps of before. NULL on failure. */
static json_t *with_dns(json_t *doc, const struct netmap *nm)
{
	if (!doc || !nm->dns.present)
		return doc;
	if (json_object_set_new(doc, "dns",
				json_pack("{s:s, s:o}", "domain", nm->dns.domain, "records",
					  records_to_json(&nm->dns))) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Adds "policy" (steals doc) when nm has one. NULL on failure. */
static json_t *with_policy(json_t *doc, const struct netmap *nm)
{
	if (!doc || !nm->policy.present)
		return doc;
	if (json_object_set_new(doc, "policy", acl_filter_to_json(&nm->policy)) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

json_t *netmap_to_json(const struct netmap *nm)
{
	char key[KEY_B64_LEN + 1];

	if (nm->version > INT64_MAX)
		return NULL;
	key_to_base64(key, nm->coordinator_key);
	return with_policy(
	    with_dns(json_pack("{s:I, s:I, s:s, s:o, s:o}", "version", (json_int_t)nm->version,
			       "issued_at", (json_int_t)nm->issued_at, "coordinator", key, "self",
			       self_to_json(nm), "peers", peers_to_json(nm)),
		     nm),
	    nm);
}

/* ---- Decoding ---------------------------------------------------------- */

static const json_t *member(struct parse *ps, const json_t *obj, const char *where, const char *key,
			    json_type type, const char *what)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		fail(ps, "%s%s: missing", where, key);
	else if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		fail(ps, "%s%s: must be %s", where, key, what);
	else
		return v;
	return NULL;
}

static int parse_int(struct parse *ps, const json_t *obj, const char *where, const char *key,
		     json_int_t min, json_int_t max, json_int_t *out)
{
	const json_t *v = member(ps, obj, where, key, JSON_INTEGER, "an integer");

	if (!v)
		return -EINVAL;
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return fail(ps, "%s%s: %lld is out of range (%lld to %lld)", where, key,
			    (long long)*out, (long long)min, (long long)max);
	return 0;
}

static int parse_bool(struct parse *ps, const json_t *obj, const char *where, const char *key,
		      bool *out)
{
	const json_t *v = member(ps, obj, where, key, JSON_TRUE, "true or false");

	if (!v)
		return -EINVAL;
	*out = json_is_true(v);
	return 0;
}

static int parse_key(struct parse *ps, const json_t *obj, const char *where, const char *key,
		     uint8_t out[KEY_LEN])
{
	static const uint8_t zero[KEY_LEN];
	const json_t *v = member(ps, obj, where, key, JSON_STRING, "a base64 key");
	const char *text = v ? json_string_value(v) : NULL;

	if (!v)
		return -EINVAL;
	if (json_string_length(v) != KEY_B64_LEN || !key_from_base64(out, text) ||
	    sodium_memcmp(out, zero, KEY_LEN) == 0)
		return fail(ps, "%s%s: not a key (44 characters of base64)", where, key);
	return 0;
}

/* The config's rule for host and peer names. */
static bool name_valid(const char *name, size_t n)
{
	return n >= 1 && n <= NETMAP_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789-_.") == n;
}

static int parse_name(struct parse *ps, const json_t *obj, const char *where,
		      char out[NETMAP_NAME_MAX + 1])
{
	const json_t *v = member(ps, obj, where, "name", JSON_STRING, "a string");
	char buf[48];

	if (!v)
		return -EINVAL;
	if (!name_valid(json_string_value(v), json_string_length(v)))
		return fail(ps,
			    "%sname: '%s' is not a valid name (1 to %d letters, digits, '-', "
			    "'_' or '.')",
			    where, excerpt(json_string_value(v), buf), NETMAP_NAME_MAX);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* One kind of element of a string array: its parser and its description. */
struct text_kind {
	size_t size;
	int (*parse)(void *dst, const char *text);
	const char *what;
};

static int host_prefix_parse(void *dst, const char *text)
{
	struct prefix *p = dst;

	if (!strchr(text, '/') || prefix_parse(p, text) < 0)
		return -EINVAL;
	return p->len == (p->family == AF_INET ? 32 : 128) ? 0 : -EINVAL;
}

static int network_parse(void *dst, const char *text)
{
	struct prefix *p = dst;

	if (!strchr(text, '/') || prefix_parse(p, text) < 0)
		return -EINVAL;
	return prefix_is_network(p) ? 0 : -EINVAL;
}

static int numeric_endpoint_parse(void *dst, const char *text)
{
	struct endpoint *ep = dst;

	if (endpoint_parse(ep, text) < 0)
		return -EINVAL;
	return ep->numeric ? 0 : -EINVAL;
}

static const struct text_kind host_kind = { sizeof(struct prefix), host_prefix_parse,
					    "a host prefix (ADDRESS/32 or ADDRESS/128)" };
static const struct text_kind network_kind = { sizeof(struct prefix), network_parse,
					       "a network (ADDRESS/LENGTH, no host bits)" };
static const struct text_kind endpoint_kind = {
	sizeof(struct endpoint), numeric_endpoint_parse,
	"a numeric endpoint (ADDRESS:PORT or [ADDRESS]:PORT)"
};

/* An array of at most max strings of one kind into a new array (NULL if
 * empty). */
static int parse_texts(struct parse *ps, const json_t *obj, const char *where, const char *key,
		       const struct text_kind *kind, size_t max, void **out, size_t *n)
{
	const json_t *arr = member(ps, obj, where, key, JSON_ARRAY, "an array");
	size_t count = arr ? json_array_size(arr) : 0;
	char buf[48];
	uint8_t *items;

	*out = NULL;
	*n = 0;
	if (!arr)
		return -EINVAL;
	if (count > max)
		return fail(ps, "%s%s: %zu entries, at most %zu allowed", where, key, count, max);
	if (count == 0)
		return 0;
	items = calloc(count, kind->size);
	if (!items)
		return fail(ps, "%s%s: out of memory", where, key);
	for (size_t i = 0; i < count; i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    kind->parse(items + i * kind->size, json_string_value(v)) < 0) {
			free(items);
			return fail(ps, "%s%s[%zu]: '%s' is not %s", where, key, i,
				    json_is_string(v) ? excerpt(json_string_value(v), buf) : "?",
				    kind->what);
		}
	}
	*out = items;
	*n = count;
	return 0;
}

static int parse_id(struct parse *ps, const json_t *obj, const char *where, uint32_t *id)
{
	json_int_t v;

	if (parse_int(ps, obj, where, "id", 1, UINT32_MAX, &v) < 0)
		return -EINVAL;
	*id = (uint32_t)v;
	return 0;
}

static int parse_addresses(struct parse *ps, const json_t *obj, const char *where,
			   struct netmap_node *node)
{
	int ret = parse_texts(ps, obj, where, "addresses", &host_kind, NETMAP_MAX_ADDRESSES,
			      (void **)&node->addresses, &node->n_addresses);

	if (ret == 0 && node->n_addresses == 0)
		return fail(ps, "%saddresses: a node needs at least one", where);
	return ret;
}

/* A device's addresses: one or two host prefixes, at most one per family. */
static int parse_device_addresses(struct parse *ps, const json_t *obj, const char *where,
				  struct netmap_device *d)
{
	struct prefix *list = NULL;
	size_t n = 0;
	int ret = parse_texts(ps, obj, where, "addresses", &host_kind, 2, (void **)&list, &n);

	if (ret == 0 && n == 0)
		ret = fail(ps, "%saddresses: a device needs at least one", where);
	if (ret == 0 && n == 2 && list[0].family == list[1].family)
		ret = fail(ps, "%saddresses: one IPv4 and one IPv6 address at most", where);
	if (ret == 0) {
		memcpy(d->addresses, list, n * sizeof(*list));
		d->n_addresses = n;
	}
	free(list);
	return ret;
}

static int parse_device(struct parse *ps, const json_t *v, const char *where, bool with_key,
			struct netmap_device *d)
{
	if (parse_name(ps, v, where, d->name) < 0 || parse_device_addresses(ps, v, where, d) < 0 ||
	    parse_bool(ps, v, where, "exit_node", &d->exit_node) < 0)
		return -EINVAL;
	if (!with_key)
		return 0;
	d->has_key = true;
	return parse_key(ps, v, where, "public_key", d->public_key);
}

/* A node's optional "devices"; self's carry their public keys. */
static int parse_devices(struct parse *ps, const json_t *obj, const char *where, bool with_keys,
			 struct netmap_node *node)
{
	const json_t *arr = json_object_get(obj, "devices");
	size_t count = json_array_size(arr);
	char w[64];

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(ps, "%sdevices: must be an array", where);
	if (count > NETMAP_MAX_DEVICES)
		return fail(ps, "%sdevices: %zu entries, at most %d allowed", where, count,
			    NETMAP_MAX_DEVICES);
	if (count == 0)
		return 0;
	node->devices = calloc(count, sizeof(*node->devices));
	if (!node->devices)
		return fail(ps, "%sdevices: out of memory", where);
	for (size_t i = 0; i < count; i++) {
		if (!json_is_object(json_array_get(arr, i)))
			return fail(ps, "%sdevices[%zu]: must be an object", where, i);
		snprintf(w, sizeof(w), "%sdevices[%zu].", where, i);
		if (parse_device(ps, json_array_get(arr, i), w, with_keys, &node->devices[i]) < 0)
			return -EINVAL;
		node->n_devices = i + 1;
	}
	return 0;
}

/* Self's "exit_node"; a coordinator that predates it says the same with
 * an approved default in routes_approved. */
static int parse_self_exit(struct parse *ps, const json_t *self, struct netmap *nm)
{
	if (json_object_get(self, "exit_node"))
		return parse_bool(ps, self, "self.", "exit_node", &nm->self.exit_node);
	for (size_t i = 0; i < nm->self.n_routes; i++)
		if (nm->self.routes[i].len == 0)
			nm->self.exit_node = true;
	return 0;
}

static int parse_self(struct parse *ps, const json_t *doc, struct netmap *nm)
{
	const json_t *self = member(ps, doc, "", "self", JSON_OBJECT, "an object");
	const char *w = "self.";

	if (!self)
		return -EINVAL;
	if (parse_id(ps, self, w, &nm->self.id) < 0 || parse_name(ps, self, w, nm->self.name) < 0 ||
	    parse_addresses(ps, self, w, &nm->self) < 0 ||
	    parse_texts(ps, self, w, "routes_advertised", &network_kind, NETMAP_MAX_ROUTES,
			(void **)&nm->routes_advertised, &nm->n_routes_advertised) < 0 ||
	    parse_texts(ps, self, w, "routes_approved", &network_kind, NETMAP_MAX_ROUTES,
			(void **)&nm->self.routes, &nm->self.n_routes) < 0 ||
	    parse_self_exit(ps, self, nm) < 0 || parse_devices(ps, self, w, true, &nm->self) < 0)
		return -EINVAL;
	return 0;
}

/* A peer's optional "exit_offer"; an older coordinator's exit_node says it. */
static int parse_exit_offer(struct parse *ps, const json_t *v, const char *where,
			    struct netmap_node *node)
{
	const json_t *o = json_object_get(v, "exit_offer");
	const char *text = json_string_value(o);

	node->exit_offer = node->exit_node ? NETMAP_EXIT_APPROVED : NETMAP_EXIT_NONE;
	if (!o)
		return 0;
	if (text && !strcmp(text, "approved"))
		node->exit_offer = NETMAP_EXIT_APPROVED;
	else if (text && !strcmp(text, "pending"))
		node->exit_offer = NETMAP_EXIT_PENDING;
	else
		return fail(ps, "%sexit_offer: must be \"approved\" or \"pending\"", where);
	if (node->exit_node && node->exit_offer != NETMAP_EXIT_APPROVED)
		return fail(ps, "%sexit_offer: an exit_node's offer is approved", where);
	return 0;
}

/* A peer's optional "split_dns": bounded, each valid, domains unique. */
static int parse_split_dns(struct parse *ps, const json_t *obj, const char *where,
			   struct netmap_node *node)
{
	const json_t *arr = json_object_get(obj, "split_dns");
	size_t count = json_array_size(arr);

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(ps, "%ssplit_dns: must be an array", where);
	if (count > NETMAP_MAX_SPLIT_DNS)
		return fail(ps, "%ssplit_dns: %zu entries, at most %d allowed", where, count,
			    NETMAP_MAX_SPLIT_DNS);
	if (count == 0)
		return 0;
	node->split_dns = calloc(count, sizeof(*node->split_dns));
	if (!node->split_dns)
		return fail(ps, "%ssplit_dns: out of memory", where);
	for (size_t i = 0; i < count; i++) {
		struct split_dns *s = &node->split_dns[i];
		if (split_dns_from_json(json_array_get(arr, i), s) < 0)
			return fail(ps,
				    "%ssplit_dns[%zu]: must be {\"domain\": a DNS domain, "
				    "\"server\": IP or IP:PORT}",
				    where, i);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(node->split_dns[k].domain, s->domain))
				return fail(ps, "%ssplit_dns[%zu]: the domain %s is listed twice",
					    where, i, s->domain);
		node->n_split_dns = i + 1;
	}
	return 0;
}

static int parse_peer(struct parse *ps, const json_t *v, size_t i, struct netmap_node *node)
{
	char w[32];

	snprintf(w, sizeof(w), "peers[%zu].", i);
	if (!json_is_object(v))
		return fail(ps, "peers[%zu]: must be an object", i);
	if (parse_id(ps, v, w, &node->id) < 0 || parse_name(ps, v, w, node->name) < 0 ||
	    parse_key(ps, v, w, "public_key", node->public_key) < 0 ||
	    parse_addresses(ps, v, w, node) < 0 ||
	    parse_texts(ps, v, w, "endpoints", &endpoint_kind, NETMAP_MAX_ENDPOINTS,
			(void **)&node->endpoints, &node->n_endpoints) < 0 ||
	    parse_texts(ps, v, w, "routes", &network_kind, NETMAP_MAX_ROUTES,
			(void **)&node->routes, &node->n_routes) < 0 ||
	    parse_bool(ps, v, w, "exit_node", &node->exit_node) < 0 ||
	    parse_exit_offer(ps, v, w, node) < 0 ||
	    parse_bool(ps, v, w, "online", &node->online) < 0 ||
	    parse_bool(ps, v, w, "coordinator", &node->coordinator) < 0 ||
	    parse_devices(ps, v, w, false, node) < 0 || parse_split_dns(ps, v, w, node) < 0)
		return -EINVAL;
	return 0;
}

static int cmp_peer_id(const void *a, const void *b)
{
	const struct netmap_node *x = *(struct netmap_node *const *)a;
	const struct netmap_node *y = *(struct netmap_node *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static int cmp_peer_key(const void *a, const void *b)
{
	const struct netmap_node *x = *(struct netmap_node *const *)a;
	const struct netmap_node *y = *(struct netmap_node *const *)b;

	return memcmp(x->public_key, y->public_key, KEY_LEN);
}

/* Two peers with one id or one key, or a peer with self's id, make the
 * document inconsistent. Sorts pointers, O(n log n). */
static int check_unique(struct parse *ps, struct netmap *nm)
{
	struct netmap_node **by;
	int ret = 0;

	if (nm->n_peers == 0)
		return 0;
	by = calloc(nm->n_peers, sizeof(*by));
	if (!by)
		return fail(ps, "peers: out of memory");
	for (size_t i = 0; i < nm->n_peers; i++)
		by[i] = &nm->peers[i];
	qsort(by, nm->n_peers, sizeof(*by), cmp_peer_id);
	for (size_t i = 0; i < nm->n_peers && ret == 0; i++) {
		if (by[i]->id == nm->self.id || (i && by[i]->id == by[i - 1]->id))
			ret = fail(ps, "peers: id %u appears twice", (unsigned)by[i]->id);
	}
	qsort(by, nm->n_peers, sizeof(*by), cmp_peer_key);
	for (size_t i = 1; i < nm->n_peers && ret == 0; i++) {
		if (cmp_peer_key(&by[i], &by[i - 1]) == 0)
			ret = fail(ps, "peers: public key of id %u appears twice",
				   (unsigned)by[i]->id);
	}
	free(by);
	return ret;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static size_t node_address_count(const struct netmap_node *node)
{
	size_t n = node->n_addresses;

	for (size_t i = 0; i < node->n_devices; i++)
		n += node->devices[i].n_addresses;
	return n;
}

static void node_addresses_copy(const struct netmap_node *node, struct prefix *all, size_t *k)
{
	for (size_t i = 0; i < node->n_addresses; i++)
		all[(*k)++] = node->addresses[i];
	for (size_t i = 0; i < node->n_devices; i++)
		for (size_t j = 0; j < node->devices[i].n_addresses; j++)
			all[(*k)++] = node->devices[i].addresses[j];
}

/* A mesh address belongs to one node or device: self's, the peers' and
 * their devices' differ. */
static int check_addresses(struct parse *ps, const struct netmap *nm)
{
	size_t n = node_address_count(&nm->self), k = 0;
	char text[PREFIX_STR_LEN];
	struct prefix *all;
	int ret = 0;

	for (size_t i = 0; i < nm->n_peers; i++)
		n += node_address_count(&nm->peers[i]);
	all = calloc(n, sizeof(*all));
	if (!all)
		return fail(ps, "addresses: out of memory");
	node_addresses_copy(&nm->self, all, &k);
	for (size_t i = 0; i < nm->n_peers; i++)
		node_addresses_copy(&nm->peers[i], all, &k);
	qsort(all, n, sizeof(*all), cmp_prefix);
	for (size_t i = 1; i < n && ret == 0; i++) {
		if (cmp_prefix(&all[i], &all[i - 1]) == 0) {
			prefix_format(&all[i], text, sizeof(text));
			ret = fail(ps, "address %s belongs to two nodes or devices", text);
		}
	}
	free(all);
	return ret;
}

/* A name of the netmap: a node's, or a device's (device set). */
struct name_ref {
	const char *name;
	bool device;
};

static int cmp_name_ref(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

static void names_copy(const struct netmap_node *node, struct name_ref *all, size_t *k)
{
	all[(*k)++] = (struct name_ref){ node->name, false };
	for (size_t i = 0; i < node->n_devices; i++)
		all[(*k)++] = (struct name_ref){ node->devices[i].name, true };
}

/* A device's name is no other device's nor any node's, without regard to
 * case (node names alone are not checked: older netmaps may repeat one). */
static int check_device_names(struct parse *ps, const struct netmap *nm)
{
	size_t n = 1 + nm->self.n_devices, k = 0, n_devices = nm->self.n_devices;
	struct name_ref *all;
	int ret = 0;

	for (size_t i = 0; i < nm->n_peers; i++) {
		n += 1 + nm->peers[i].n_devices;
		n_devices += nm->peers[i].n_devices;
	}
	if (n_devices == 0)
		return 0;
	all = calloc(n, sizeof(*all));
	if (!all)
		return fail(ps, "devices: out of memory");
	names_copy(&nm->self, all, &k);
	for (size_t i = 0; i < nm->n_peers; i++)
		names_copy(&nm->peers[i], all, &k);
	qsort(all, n, sizeof(*all), cmp_name_ref);
	for (size_t i = 1; i < n && ret == 0; i++)
		if ((all[i].device || all[i - 1].device) && cmp_name_ref(&all[i], &all[i - 1]) == 0)
			ret = fail(ps, "devices: the name %s is taken twice", all[i].name);
	free(all);
	return ret;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, KEY_LEN);
}

/* The keys of self's devices (the engine peers it adds) are unique and no
 * peer's. Peers' keys are unique already (check_unique). */
static int check_device_keys(struct parse *ps, const struct netmap *nm)
{
	size_t n = nm->n_peers + nm->self.n_devices, k = 0;
	const uint8_t **all;
	int ret = 0;

	if (nm->self.n_devices == 0)
		return 0;
	all = calloc(n, sizeof(*all));
	if (!all)
		return fail(ps, "devices: out of memory");
	for (size_t i = 0; i < nm->n_peers; i++)
		all[k++] = nm->peers[i].public_key;
	for (size_t i = 0; i < nm->self.n_devices; i++)
		all[k++] = nm->self.devices[i].public_key;
	qsort(all, n, sizeof(*all), cmp_key);
	for (size_t i = 1; i < n && ret == 0; i++)
		if (cmp_key(&all[i], &all[i - 1]) == 0)
			ret = fail(ps, "self.devices: a public key appears twice");
	free(all);
	return ret;
}

static int parse_peers(struct parse *ps, const json_t *doc, struct netmap *nm)
{
	const json_t *arr = member(ps, doc, "", "peers", JSON_ARRAY, "an array");
	size_t count = arr ? json_array_size(arr) : 0;

	if (!arr)
		return -EINVAL;
	if (count > NETMAP_MAX_PEERS)
		return fail(ps, "peers: %zu entries, at most %d allowed", count, NETMAP_MAX_PEERS);
	if (count == 0)
		return 0;
	nm->peers = calloc(count, sizeof(*nm->peers));
	if (!nm->peers)
		return fail(ps, "peers: out of memory");
	for (size_t i = 0; i < count; i++) {
		nm->n_peers = i + 1; /* so netmap_free() releases a partial peer */
		if (parse_peer(ps, json_array_get(arr, i), i, &nm->peers[i]) < 0)
			return -EINVAL;
	}
	return check_unique(ps, nm);
}

static int parse_record(struct parse *ps, const json_t *v, size_t i, struct dns_record *r)
{
	char where[48], buf[48];
	const json_t *name, *addr;

	snprintf(where, sizeof(where), "dns.records[%zu].", i);
	if (!json_is_object(v))
		return fail(ps, "dns.records[%zu]: must be an object", i);
	name = member(ps, v, where, "name", JSON_STRING, "a string");
	addr = member(ps, v, where, "address", JSON_STRING, "a string");
	if (!name || !addr)
		return -EINVAL;
	if (!dns_label_valid(json_string_value(name), json_string_length(name)))
		return fail(ps, "%sname: '%s' is not a DNS label", where,
			    excerpt(json_string_value(name), buf));
	memcpy(r->name, json_string_value(name), json_string_length(name) + 1);
	if (strlen(json_string_value(addr)) != json_string_length(addr) ||
	    strchr(json_string_value(addr), '/') ||
	    prefix_parse(&r->address, json_string_value(addr)) < 0)
		return fail(ps, "%saddress: '%s' is not an IP address", where,
			    excerpt(json_string_value(addr), buf));
	return 0;
}

static int parse_dns(struct parse *ps, const json_t *doc, struct netmap *nm)
{
	const json_t *dns = json_object_get(doc, "dns"), *domain, *arr;
	char buf[48];
	size_t count;

	if (!dns)
		return 0;
	if (!json_is_object(dns))
		return fail(ps, "dns: must be an object");
	domain = member(ps, dns, "dns.", "domain", JSON_STRING, "a string");
	arr = member(ps, dns, "dns.", "records", JSON_ARRAY, "an array");
	if (!domain || !arr)
		return -EINVAL;
	if (strlen(json_string_value(domain)) != json_string_length(domain) ||
	    !dns_domain_valid(json_string_value(domain)))
		return fail(ps, "dns.domain: '%s' is not a DNS domain",
			    excerpt(json_string_value(domain), buf));
	nm->dns.present = true;
	for (size_t i = 0; json_string_value(domain)[i]; i++) {
		char c = json_string_value(domain)[i];
		nm->dns.domain[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	if (json_string_length(domain) && nm->dns.domain[json_string_length(domain) - 1] == '.')
		nm->dns.domain[json_string_length(domain) - 1] = '\0';
	count = json_array_size(arr);
	if (count > NETMAP_MAX_DNS_RECORDS)
		return fail(ps, "dns.records: %zu entries, at most %d allowed", count,
			    NETMAP_MAX_DNS_RECORDS);
	nm->dns.records = calloc(count + 1, sizeof(*nm->dns.records));
	if (!nm->dns.records)
		return fail(ps, "dns.records: out of memory");
	for (size_t i = 0; i < count; i++, nm->dns.n_records++)
		if (parse_record(ps, json_array_get(arr, i), i, &nm->dns.records[i]) < 0)
			return -EINVAL;
	return 0;
}

static int parse_policy(struct parse *ps, const json_t *doc, struct netmap *nm)
{
	const json_t *policy = json_object_get(doc, "policy");
	char err[256];

	if (!policy)
		return 0;
	if (acl_filter_from_json(policy, &nm->policy, err, sizeof(err)) < 0)
		return fail(ps, "policy: %s", err);
	nm->policy.present = true;
	return 0;
}

static int parse_document(struct parse *ps, const json_t *doc, struct netmap *nm)
{
	json_int_t v;

	if (!json_is_object(doc))
		return fail(ps, "the netmap must be a JSON object");
	if (parse_int(ps, doc, "", "version", 1, INT64_MAX, &v) < 0)
		return -EINVAL;
	nm->version = (uint64_t)v;
	if (parse_int(ps, doc, "", "issued_at", 0, INT64_MAX, &v) < 0)
		return -EINVAL;
	nm->issued_at = v;
	if (parse_key(ps, doc, "", "coordinator", nm->coordinator_key) < 0 ||
	    parse_self(ps, doc, nm) < 0 || parse_peers(ps, doc, nm) < 0 ||
	    check_addresses(ps, nm) < 0 || check_device_names(ps, nm) < 0 ||
	    parse_dns(ps, doc, nm) < 0 || parse_policy(ps, doc, nm) < 0)
		return -EINVAL;
	return check_device_keys(ps, nm);
}

int netmap_from_json(const json_t *doc, struct netmap *nm, char *errbuf, size_t errlen)
{
	struct parse ps = { errbuf, errlen };
	struct netmap tmp = { 0 };
	int ret = parse_document(&ps, doc, &tmp);

	if (ret < 0) {
		netmap_free(&tmp);
		memset(nm, 0, sizeof(*nm));
		return ret;
	}
	*nm = tmp;
	return 0;
}

/* ---- Signature --------------------------------------------------------- */

json_t *netmap_sign(const struct netmap *nm, const uint8_t sign_secret[64])
{
	uint8_t sig[NETMAP_SIGNATURE_LEN];
	char sig_b64[SIGNATURE_B64_LEN + 1];
	json_t *doc = netmap_to_json(nm), *msg = NULL;
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (text) {
		crypto_sign_detached(sig, NULL, (const uint8_t *)text, strlen(text), sign_secret);
		sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig),
				  sodium_base64_VARIANT_ORIGINAL);
		msg = json_pack("{s:s, s:s, s:s}", "type", "netmap", "netmap", text, "signature",
				sig_b64);
	}
	free(text);
	json_decref(doc);
	return msg;
}

/* The signed bytes of a wire message, once the signature holds. */
static int check_signature(struct parse *ps, const json_t *msg,
			   const uint8_t sign_public[NETMAP_SIGN_PUBLIC_LEN], const json_t **text)
{
	const json_t *type = json_object_get(msg, "type");
	const json_t *sig_b64 = json_object_get(msg, "signature");
	uint8_t sig[NETMAP_SIGNATURE_LEN];
	size_t sig_len = 0;

	*text = json_object_get(msg, "netmap");
	if (!json_is_object(msg) || !json_is_string(type) ||
	    strcmp(json_string_value(type), "netmap") != 0 || !json_is_string(*text) ||
	    !json_is_string(sig_b64)) {
		fail(ps, "not a netmap message (type, netmap and signature strings)");
		return -EBADMSG;
	}
	if (json_string_length(*text) > MESH_CONTROL_LINE_MAX) {
		fail(ps, "netmap larger than %d bytes", MESH_CONTROL_LINE_MAX);
		return -EBADMSG;
	}
	if (json_string_length(sig_b64) != SIGNATURE_B64_LEN ||
	    sodium_base642bin(sig, sizeof(sig), json_string_value(sig_b64), SIGNATURE_B64_LEN, NULL,
			      &sig_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sig_len != sizeof(sig) ||
	    crypto_sign_verify_detached(sig, (const uint8_t *)json_string_value(*text),
					json_string_length(*text), sign_public) != 0) {
		fail(ps, "netmap signature does not verify with the coordinator's key");
		return -EBADMSG;
	}
	return 0;
}

int netmap_verify(const json_t *msg, const uint8_t sign_public[NETMAP_SIGN_PUBLIC_LEN],
		  struct netmap *nm, char *errbuf, size_t errlen)
{
	struct parse ps = { errbuf, errlen };
	const json_t *text;
	json_error_t jerr;
	json_t *doc;
	int ret;

	memset(nm, 0, sizeof(*nm));
	ret = check_signature(&ps, msg, sign_public, &text);
	if (ret < 0)
		return ret;
	doc = json_loadb(json_string_value(text), json_string_length(text), JSON_REJECT_DUPLICATES,
			 &jerr);
	if (!doc)
		return fail(&ps, "netmap is not valid JSON: %s", jerr.text);
	ret = netmap_from_json(doc, nm, errbuf, errlen);
	json_decref(doc);
	return ret;
}

/* ---- Cache ------------------------------------------------------------- */

int netmap_cache_save(const char *path, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT), *line;
	size_t len;
	int ret;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return -ENOMEM;
	}
	memcpy(line + len, "\n", 2);
	ret = atomicfile_write(path, line, len + 1, 0600, 0);
	free(line);
	return ret;
}

/* Reads at most NETMAP_CACHE_MAX bytes of path into a new buffer. */
static int read_file(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;
	char *buf;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > NETMAP_CACHE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	*len = 0;
	while ((n = read(fd, buf + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	if (n < 0) {
		free(buf);
		return -EIO;
	}
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

int netmap_cache_load(const char *path, const uint8_t sign_public[NETMAP_SIGN_PUBLIC_LEN],
		      struct netmap *nm, json_t **msg, char *errbuf, size_t errlen)
{
	struct parse ps = { errbuf, errlen };
	json_error_t jerr;
	json_t *wire;
	size_t len = 0;
	char *text = NULL;
	int ret;

	memset(nm, 0, sizeof(*nm));
	if (msg)
		*msg = NULL;
	ret = read_file(path, &text, &len);
	if (ret < 0) {
		fail(&ps, "%s: %s", path, strerror(-ret));
		return ret;
	}
	wire = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!wire) {
		fail(&ps, "%s: not JSON: %s", path, jerr.text);
		return -EBADMSG;
	}
	ret = netmap_verify(wire, sign_public, nm, errbuf, errlen);
	if (ret == 0 && msg)
		*msg = json_incref(wire);
	json_decref(wire);
	return ret;
}
