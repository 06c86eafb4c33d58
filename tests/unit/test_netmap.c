/* The netmap document, its signature and its cache (daemon/mesh/netmap.c). */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh/netmap.h"
#include "testlib.h"

static const char base_doc[] =
    "{\"version\": 17, \"issued_at\": 1795300000,"
    " \"coordinator\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","
    " \"self\": {\"id\": 3, \"name\": \"laptop\","
    "   \"addresses\": [\"100.64.0.3/32\", \"fd7a:6d67:7465::3/128\"],"
    "   \"routes_advertised\": [\"10.1.0.0/16\", \"0.0.0.0/0\"],"
    "   \"routes_approved\": [\"10.1.0.0/16\"], \"exit_node\": false},"
    " \"peers\": ["
    "  {\"id\": 1, \"name\": \"home\","
    "   \"public_key\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","
    "   \"addresses\": [\"100.64.0.1/32\", \"fd7a:6d67:7465::1/128\"],"
    "   \"endpoints\": [\"203.0.113.2:41641\", \"[2001:db8::2]:41641\"],"
    "   \"routes\": [\"192.168.77.0/24\", \"::/0\"], \"exit_node\": true,"
    "   \"online\": true, \"coordinator\": true},"
    "  {\"id\": 7, \"name\": \"phone.x_y\","
    "   \"public_key\": \"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\","
    "   \"addresses\": [\"100.64.0.7/32\"], \"endpoints\": [], \"routes\": [],"
    "   \"exit_node\": false, \"online\": false, \"coordinator\": false,"
    "   \"future_member\": {\"ignored\": [1, 2]}}]}";

static json_t *base(void)
{
	json_t *doc = json_loads(base_doc, 0, NULL);

	if (!doc)
		abort();
	return doc;
}

static void sign_keys(uint8_t pk[32], uint8_t sk[64], uint8_t seed_byte)
{
	uint8_t seed[32];

	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

static void test_decode_fields(void)
{
	json_t *doc = base();
	struct netmap nm;
	char err[256] = "", text[PREFIX_STR_LEN];

	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		json_decref(doc);
		return;
	}
	CHECK(nm.version == 17);
	CHECK(nm.issued_at == 1795300000);
	CHECK(nm.coordinator_key[0] == 1 && nm.coordinator_key[31] == 32);
	CHECK(nm.self.id == 3 && strcmp(nm.self.name, "laptop") == 0);
	CHECK_EQ_INT(nm.self.n_addresses, 2);
	CHECK_EQ_INT(nm.n_routes_advertised, 2);
	CHECK_EQ_INT(nm.self.n_routes, 1);
	CHECK_EQ_INT(nm.n_peers, 2);
	CHECK(nm.peers[0].id == 1 && nm.peers[0].exit_node && nm.peers[0].online &&
	      nm.peers[0].coordinator);
	CHECK_EQ_INT(nm.peers[0].n_endpoints, 2);
	CHECK(nm.peers[0].endpoints[1].numeric && nm.peers[0].endpoints[1].port == 41641);
	prefix_format(&nm.peers[0].routes[1], text, sizeof(text));
	CHECK(strcmp(text, "::/0") == 0);
	CHECK(nm.peers[1].id == 7 && !nm.peers[1].exit_node && !nm.peers[1].online);
	CHECK(nm.peers[1].n_endpoints == 0 && nm.peers[1].endpoints == NULL);
	netmap_free(&nm);
	netmap_free(&nm); /* zeroed: a second free is harmless */
	netmap_free(NULL);
	json_decref(doc);
}

static void test_round_trip(void)
{
	json_t *doc = base(), *again;
	struct netmap nm, nm2;
	char err[256];

	if (netmap_from_json(doc, &nm, err, sizeof(err)) != 0)
		abort();
	again = netmap_to_json(&nm);
	CHECK(again != NULL);
	/* Everything but the unknown member comes back, and home's exit offer
	 * (without "exit_offer", an older coordinator's form) as approved. */
	json_object_del(json_array_get(json_object_get(doc, "peers"), 1), "future_member");
	json_object_set_new(json_array_get(json_object_get(doc, "peers"), 0), "exit_offer",
			    json_string("approved"));
	CHECK(json_equal(doc, again));
	CHECK_EQ_INT(netmap_from_json(again, &nm2, err, sizeof(err)), 0);
	CHECK(nm2.version == nm.version && nm2.n_peers == nm.n_peers);
	CHECK_MEM(nm2.peers[1].public_key, nm.peers[1].public_key, KEY_LEN);
	/* A version json_int_t cannot hold is refused on output. */
	nm2.version = (uint64_t)INT64_MAX + 1;
	CHECK(netmap_to_json(&nm2) == NULL);
	netmap_free(&nm);
	netmap_free(&nm2);
	json_decref(again);
	json_decref(doc);
}

/* Replaces (value NULL: removes) the member at a dotted path such as
 * "peers.0.endpoints"; numbers index arrays. Steals value. */
static void mutate(json_t *doc, const char *path, json_t *value)
{
	char buf[128], *save = NULL, *tok, *next;
	json_t *cur = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	tok = strtok_r(buf, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		cur = json_is_array(cur) ? json_array_get(cur, strtoul(tok, NULL, 10))
					 : json_object_get(cur, tok);
		tok = next;
	}
	if (json_is_array(cur))
		json_array_set_new(cur, strtoul(tok, NULL, 10), value);
	else if (value)
		json_object_set_new(cur, tok, value);
	else
		json_object_del(cur, tok);
}

struct bad_case {
	const char *path;
	const char *value; /* JSON text; NULL removes the member */
	const char *message;
};

static const struct bad_case bad_cases[] = {
	{ "version", NULL, "version: missing" },
	{ "version", "\"17\"", "version: must be an integer" },
	{ "version", "0", "version: 0 is out of range" },
	{ "version", "1.5", "version: must be an integer" },
	{ "issued_at", "-1", "issued_at: -1 is out of range" },
	{ "coordinator", "\"AQID\"", "coordinator: not a key" },
	{ "coordinator", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"",
	  "coordinator: not a key" },
	{ "coordinator", "\" AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"",
	  "coordinator: not a key" },
	{ "coordinator", "null", "coordinator: must be a base64 key" },
	{ "self", NULL, "self: missing" },
	{ "peers.1.exit_offer", "\"maybe\"",
	  "peers[1].exit_offer: must be \"approved\" or \"pending\"" },
	{ "peers.1.exit_offer", "true",
	  "peers[1].exit_offer: must be \"approved\" or \"pending\"" },
	{ "peers.0.exit_offer", "\"pending\"",
	  "peers[0].exit_offer: an exit_node's offer is approved" },
	{ "self", "[]", "self: must be an object" },
	{ "self.id", "0", "self.id: 0 is out of range" },
	{ "self.id", "4294967296", "self.id: 4294967296 is out of range" },
	{ "self.name", "\"bad name\"", "self.name: 'bad name' is not a valid name" },
	{ "self.name", "\"\"", "self.name: '' is not a valid name" },
	{ "self.name", "\"a123456789012345678901234567890123456789012345678901234567890123\"",
	  "is not a valid name" },
	{ "self.name", "\"caf\\u00e9\"", "self.name: 'caf?\?' is not a valid name" },
	{ "self.addresses", "[]", "self.addresses: a node needs at least one" },
	{ "self.addresses", "[\"100.64.0.0/10\"]",
	  "self.addresses[0]: '100.64.0.0/10' is not a host prefix" },
	{ "self.addresses", "[\"100.64.0.3\"]", "self.addresses[0]: '100.64.0.3' is not a host" },
	{ "self.addresses", "[\"100.64.0.3/32\", 4]", "self.addresses[1]: '?' is not a host" },
	{ "self.routes_advertised", "[\"10.1.2.3/16\"]",
	  "self.routes_advertised[0]: '10.1.2.3/16' is not a network" },
	{ "self.routes_approved", "\"10.1.0.0/16\"", "self.routes_approved: must be an array" },
	{ "self.routes_approved", NULL, "self.routes_approved: missing" },
	{ "self.exit_node", "1", "self.exit_node: must be true or false" },
	{ "peers", "{}", "peers: must be an array" },
	{ "peers.0", "5", "peers[0]: must be an object" },
	{ "peers.0.id", "-1", "peers[0].id: -1 is out of range" },
	{ "peers.0.public_key", NULL, "peers[0].public_key: missing" },
	{ "peers.0.public_key", "\"!QIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"",
	  "peers[0].public_key: not a key" },
	{ "peers.0.addresses", "[\"fd7a::1/64\"]", "peers[0].addresses[0]: 'fd7a::1/64'" },
	{ "peers.0.endpoints", "[\"example.com:41641\"]",
	  "peers[0].endpoints[0]: 'example.com:41641' is not a numeric endpoint" },
	{ "peers.0.endpoints", "[\"203.0.113.2:0\"]", "peers[0].endpoints[0]" },
	{ "peers.0.endpoints", "[\"203.0.113.2\"]", "peers[0].endpoints[0]" },
	{ "peers.0.endpoints", "[\"2001:db8::2:41641\"]", "peers[0].endpoints[0]" },
	{ "peers.1.routes", "[\"192.168.0.0/33\"]", "peers[1].routes[0]: '192.168.0.0/33'" },
	{ "peers.1.exit_node", "\"yes\"", "peers[1].exit_node: must be true or false" },
	{ "peers.1.online", NULL, "peers[1].online: missing" },
	{ "peers.1.coordinator", "1", "peers[1].coordinator: must be true or false" },
	{ "peers.1.id", "1", "peers: id 1 appears twice" },
	{ "peers.1.id", "3", "peers: id 3 appears twice" },
	{ "peers.1.public_key", "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"",
	  "peers: public key of id" },
	{ "peers.1.addresses", "[\"100.64.0.3/32\"]",
	  "address 100.64.0.3/32 belongs to two nodes" },
	{ "peers.0.addresses", "[\"100.64.0.1/32\", \"100.64.0.1/32\"]",
	  "address 100.64.0.1/32 belongs to two nodes" },
};

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		json_t *doc = base();
		struct netmap nm;
		char err[256] = "";
		int ret;

		mutate(doc, c->path, c->value ? json_loads(c->value, JSON_DECODE_ANY, NULL) : NULL);
		ret = netmap_from_json(doc, &nm, err, sizeof(err));
		if (!CHECK_EQ_INT(ret, -EINVAL) || !CHECK(strstr(err, c->message) != NULL))
			fprintf(stderr, "  %s = %s: got \"%s\"\n", c->path, c->value, err);
		CHECK(nm.peers == NULL && nm.n_peers == 0 && nm.self.addresses == NULL);
		json_decref(doc);
	}
}

/* Self's exit approval: the flag, or from an older coordinator (no flag)
 * an approved default among routes_approved. */
static void test_self_exit(void)
{
	static const struct {
		const char *flag;     /* JSON text; NULL: no member */
		const char *approved; /* routes_approved */
		bool want;
	} cases[] = {
		{ "false", "[\"10.1.0.0/16\"]", false },
		{ "true", "[\"10.1.0.0/16\", \"0.0.0.0/0\"]", true },
		{ "false", "[\"0.0.0.0/0\"]", false }, /* the flag wins */
		{ NULL, "[\"10.1.0.0/16\"]", false },
		{ NULL, "[\"10.1.0.0/16\", \"::/0\"]", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = base();
		struct netmap nm;
		char err[256] = "";

		mutate(doc, "self.exit_node",
		       cases[i].flag ? json_loads(cases[i].flag, JSON_DECODE_ANY, NULL) : NULL);
		mutate(doc, "self.routes_approved", json_loads(cases[i].approved, 0, NULL));
		if (CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0) &&
		    !CHECK(nm.self.exit_node == cases[i].want))
			fprintf(stderr, "  case %zu\n", i);
		netmap_free(&nm);
		json_decref(doc);
	}
}

/* A peer's exit offer: "pending" (not approved), "approved" while offline,
 * none; the form goes out as it came in. */
static void test_exit_offer(void)
{
	static const struct {
		const char *offer; /* NULL: no member */
		enum netmap_exit_offer want;
	} cases[] = {
		{ NULL, NETMAP_EXIT_NONE },
		{ "pending", NETMAP_EXIT_PENDING },
		{ "approved", NETMAP_EXIT_APPROVED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = base(), *again;
		struct netmap nm;
		char err[256] = "";

		mutate(doc, "peers.1.exit_offer",
		       cases[i].offer ? json_string(cases[i].offer) : NULL);
		if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
			json_decref(doc);
			continue;
		}
		CHECK(nm.peers[1].exit_offer == cases[i].want && !nm.peers[1].exit_node);
		CHECK(nm.peers[0].exit_offer == NETMAP_EXIT_APPROVED);
		again = netmap_to_json(&nm);
		CHECK(json_equal(json_object_get(json_array_get(json_object_get(doc, "peers"), 1),
						 "exit_offer"),
				 json_object_get(json_array_get(json_object_get(again, "peers"), 1),
						 "exit_offer")) ||
		      !cases[i].offer);
		json_decref(again);
		netmap_free(&nm);
		json_decref(doc);
	}
}

static void test_not_an_object(void)
{
	json_t *arr = json_array(), *doc = base();
	struct netmap nm;
	char err[256] = "";

	CHECK_EQ_INT(netmap_from_json(arr, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "must be a JSON object") != NULL);
	CHECK_EQ_INT(netmap_from_json(NULL, &nm, NULL, 0), -EINVAL);
	/* An embedded NUL in a string never passes for a shorter text. */
	mutate(doc, "peers.0.endpoints", json_pack("[o]", json_stringn("1.2.3.4:5\0x", 11)));
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	json_decref(arr);
	json_decref(doc);
}

static json_t *prefix_array(const char *fmt, size_t n)
{
	json_t *arr = json_array();
	char text[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof(text), fmt, (unsigned)(i >> 8), (unsigned)(i & 0xff));
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

/* Each limit: at the bound decodes, one over is refused. */
static void check_limit(const char *path, const char *fmt, size_t max, const char *message)
{
	struct netmap nm;
	char err[256] = "";

	for (size_t n = max; n <= max + 1; n++) {
		json_t *doc = base();
		mutate(doc, path, prefix_array(fmt, n));
		int ret = netmap_from_json(doc, &nm, err, sizeof(err));
		if (n == max) {
			CHECK_EQ_INT(ret, 0);
			netmap_free(&nm);
		} else if (CHECK_EQ_INT(ret, -EINVAL) && !CHECK(strstr(err, message))) {
			fprintf(stderr, "  got \"%s\"\n", err);
		}
		json_decref(doc);
	}
}

static json_t *many_peers(size_t n)
{
	json_t *arr = json_array();
	uint8_t key[KEY_LEN] = { 1 };
	char b64[KEY_B64_LEN + 1], addr[32];

	for (size_t i = 0; i < n; i++) {
		key[1] = (uint8_t)i;
		key[2] = (uint8_t)(i >> 8);
		key_to_base64(b64, key);
		snprintf(addr, sizeof(addr), "100.65.%u.%u/32", (unsigned)(i >> 8),
			 (unsigned)(i & 0xff));
		json_array_append_new(
		    arr, json_pack("{s:I, s:s, s:s, s:[s], s:[], s:[], s:b, s:b, s:b}", "id",
				   (json_int_t)(100 + i), "name", "n", "public_key", b64,
				   "addresses", addr, "endpoints", "routes", "exit_node", 0,
				   "online", 1, "coordinator", 0));
	}
	return arr;
}

static void test_limits(void)
{
	struct netmap nm;
	char err[256] = "";
	json_t *doc;

	check_limit("self.addresses", "100.66.%u.%u/32", NETMAP_MAX_ADDRESSES,
		    "self.addresses: 17 entries, at most 16");
	check_limit("peers.0.endpoints", "10.0.%u.%u:1", NETMAP_MAX_ENDPOINTS,
		    "peers[0].endpoints: 65 entries, at most 64");
	check_limit("peers.1.routes", "10.%u.%u.0/24", NETMAP_MAX_ROUTES,
		    "peers[1].routes: 1025 entries, at most 1024");
	check_limit("self.routes_advertised", "10.%u.%u.0/24", NETMAP_MAX_ROUTES,
		    "self.routes_advertised: 1025 entries");

	doc = base();
	mutate(doc, "peers", many_peers(NETMAP_MAX_PEERS));
	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(nm.n_peers, NETMAP_MAX_PEERS);
	netmap_free(&nm);
	json_decref(doc);

	doc = base();
	mutate(doc, "peers", many_peers(NETMAP_MAX_PEERS + 1));
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "peers: 4097 entries, at most 4096") != NULL);
	json_decref(doc);
}

/* base_doc with devices: self hubs "tablet" (with its key), home hubs
 * "phone" and "Watch" (without). */
static json_t *with_devices(void)
{
	json_t *doc = base(), *self_dev, *home_dev;

	self_dev = json_loads("[{\"name\": \"tablet\", \"exit_node\": false,"
			      " \"public_key\": \"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\","
			      " \"addresses\": [\"100.64.0.9/32\", \"fd7a:6d67:7465::9/128\"]}]",
			      0, NULL);
	home_dev = json_loads("[{\"name\": \"phone\", \"exit_node\": true,"
			      " \"addresses\": [\"100.64.0.5/32\", \"fd7a:6d67:7465::5/128\"]},"
			      " {\"name\": \"Watch\", \"exit_node\": false,"
			      " \"addresses\": [\"fd7a:6d67:7465::6/128\"]}]",
			      0, NULL);
	if (!self_dev || !home_dev)
		abort();
	mutate(doc, "self.devices", self_dev);
	mutate(doc, "peers.0.devices", home_dev);
	return doc;
}

static void test_devices(void)
{
	json_t *doc = with_devices(), *again;
	struct netmap nm, nm2;
	const struct netmap_device *d;
	char err[256] = "", text[PREFIX_STR_LEN];

	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		json_decref(doc);
		return;
	}
	CHECK_EQ_INT(nm.self.n_devices, 1);
	CHECK_EQ_INT(nm.peers[0].n_devices, 2);
	CHECK_EQ_INT(nm.peers[1].n_devices, 0);
	CHECK(nm.peers[1].devices == NULL);
	d = &nm.self.devices[0];
	CHECK(strcmp(d->name, "tablet") == 0 && d->has_key && !d->exit_node);
	CHECK(d->public_key[0] == '0' && d->public_key[31] == '1');
	CHECK_EQ_INT(d->n_addresses, 2);
	prefix_format(&d->addresses[1], text, sizeof(text));
	CHECK(strcmp(text, "fd7a:6d67:7465::9/128") == 0);
	d = &nm.peers[0].devices[0];
	CHECK(strcmp(d->name, "phone") == 0 && !d->has_key && d->exit_node && d->n_addresses == 2);
	d = &nm.peers[0].devices[1];
	CHECK(strcmp(d->name, "Watch") == 0 && d->n_addresses == 1 &&
	      d->addresses[0].family == AF_INET6);
	/* Round trip: the same document, self's keys included. */
	again = netmap_to_json(&nm);
	CHECK(json_equal(json_object_get(again, "self"), json_object_get(doc, "self")));
	CHECK(json_equal(
	    json_object_get(json_array_get(json_object_get(again, "peers"), 0), "devices"),
	    json_object_get(json_array_get(json_object_get(doc, "peers"), 0), "devices")));
	/* No "devices" member for a node without devices. */
	CHECK(json_object_get(json_array_get(json_object_get(again, "peers"), 1), "devices") ==
	      NULL);
	CHECK_EQ_INT(netmap_from_json(again, &nm2, err, sizeof(err)), 0);
	CHECK_EQ_INT(nm2.self.n_devices, 1);
	netmap_free(&nm2);
	json_decref(again);
	netmap_free(&nm);
	CHECK(nm.self.devices == NULL && nm.self.n_devices == 0);
	/* A peer's device key is not the netmap's business: ignored. */
	mutate(doc, "peers.0.devices.0.public_key",
	       json_string("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="));
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0);
	CHECK(nm.n_peers && nm.peers[0].n_devices && !nm.peers[0].devices[0].has_key);
	netmap_free(&nm);
	json_decref(doc);
}

static const struct bad_case bad_device_cases[] = {
	{ "self.devices", "{}", "self.devices: must be an array" },
	{ "peers.0.devices", "7", "peers[0].devices: must be an array" },
	{ "peers.0.devices.1", "\"x\"", "peers[0].devices[1]: must be an object" },
	{ "peers.0.devices.0.name", NULL, "peers[0].devices[0].name: missing" },
	{ "peers.0.devices.0.name", "\"a phone\"", "peers[0].devices[0].name: 'a phone' is not" },
	{ "peers.0.devices.0.exit_node", NULL, "peers[0].devices[0].exit_node: missing" },
	{ "peers.0.devices.0.exit_node", "0", "peers[0].devices[0].exit_node: must be true" },
	{ "peers.0.devices.0.addresses", NULL, "peers[0].devices[0].addresses: missing" },
	{ "peers.0.devices.0.addresses", "[]", "peers[0].devices[0].addresses: a device needs" },
	{ "peers.0.devices.0.addresses", "[\"100.64.0.0/24\"]",
	  "peers[0].devices[0].addresses[0]: '100.64.0.0/24' is not a host prefix" },
	{ "peers.0.devices.0.addresses", "[\"100.64.0.5/32\", \"100.64.0.8/32\"]",
	  "peers[0].devices[0].addresses: one IPv4 and one IPv6 address at most" },
	{ "peers.0.devices.0.addresses",
	  "[\"100.64.0.5/32\", \"fd7a:6d67:7465::5/128\", \"100.64.0.8/32\"]",
	  "peers[0].devices[0].addresses: 3 entries, at most 2" },
	{ "self.devices.0.public_key", NULL, "self.devices[0].public_key: missing" },
	{ "self.devices.0.public_key", "\"AQID\"", "self.devices[0].public_key: not a key" },
	/* Names: no device's twice, none a node's, whatever the case. */
	{ "peers.0.devices.1.name", "\"Phone\"", "devices: the name" },
	{ "self.devices.0.name", "\"watch\"", "devices: the name" },
	{ "self.devices.0.name", "\"HOME\"", "devices: the name" },
	{ "peers.0.devices.0.name", "\"laptop\"", "devices: the name" },
	/* Addresses: no node's, no other device's. */
	{ "peers.0.devices.0.addresses", "[\"100.64.0.7/32\"]",
	  "address 100.64.0.7/32 belongs to two nodes or devices" },
	{ "self.devices.0.addresses", "[\"fd7a:6d67:7465::5/128\"]",
	  "address fd7a:6d67:7465::5/128 belongs to two nodes or devices" },
	{ "self.devices.0.addresses", "[\"100.64.0.3/32\"]", "belongs to two nodes or devices" },
	/* Self's device keys: no peer's. */
	{ "self.devices.0.public_key", "\"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\"",
	  "self.devices: a public key appears twice" },
};

static void test_devices_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_device_cases) / sizeof(bad_device_cases[0]); i++) {
		const struct bad_case *c = &bad_device_cases[i];
		json_t *doc = with_devices();
		struct netmap nm;
		char err[256] = "";
		int ret;

		mutate(doc, c->path, c->value ? json_loads(c->value, JSON_DECODE_ANY, NULL) : NULL);
		ret = netmap_from_json(doc, &nm, err, sizeof(err));
		if (!CHECK_EQ_INT(ret, -EINVAL) || !CHECK(strstr(err, c->message) != NULL))
			fprintf(stderr, "  %s = %s: got \"%s\"\n", c->path, c->value, err);
		CHECK(nm.peers == NULL && nm.self.devices == NULL && nm.self.addresses == NULL);
		json_decref(doc);
	}
}

/* Two devices of self with one key: the hub could not hold both. */
static void test_devices_key_twice(void)
{
	json_t *doc = with_devices(),
	       *arr = json_object_get(json_object_get(doc, "self"), "devices");
	json_t *twin = json_deep_copy(json_array_get(arr, 0));
	struct netmap nm;
	char err[256] = "";

	json_object_set_new(twin, "name", json_string("tablet2"));
	json_object_set_new(twin, "addresses", json_pack("[s]", "100.64.0.10/32"));
	json_array_append_new(arr, twin);
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "self.devices: a public key appears twice") != NULL);
	json_decref(doc);
}

static json_t *many_devices(size_t n)
{
	json_t *arr = json_array();
	char name[32], addr[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		snprintf(addr, sizeof(addr), "100.66.%u.%u/32", (unsigned)(i >> 8),
			 (unsigned)(i & 0xff));
		json_array_append_new(arr, json_pack("{s:s, s:[s], s:b}", "name", name, "addresses",
						     addr, "exit_node", 0));
	}
	return arr;
}

static void test_devices_limit(void)
{
	struct netmap nm;
	char err[256] = "";
	json_t *doc = base();

	mutate(doc, "peers.1.devices", many_devices(NETMAP_MAX_DEVICES));
	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(nm.peers[1].n_devices, NETMAP_MAX_DEVICES);
	netmap_free(&nm);
	mutate(doc, "peers.1.devices", many_devices(NETMAP_MAX_DEVICES + 1));
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "peers[1].devices: 1025 entries, at most 1024") != NULL);
	json_decref(doc);
}

static json_t *signed_base(const uint8_t sk[64])
{
	json_t *doc = base(), *msg;
	struct netmap nm;

	if (netmap_from_json(doc, &nm, NULL, 0) != 0)
		abort();
	msg = netmap_sign(&nm, sk);
	netmap_free(&nm);
	json_decref(doc);
	return msg;
}

static void test_sign_verify(void)
{
	uint8_t pk[32], sk[64];
	json_t *msg, *doc;
	struct netmap nm;
	char err[256] = "";
	const char *text;

	sign_keys(pk, sk, 7);
	msg = signed_base(sk);
	if (!CHECK(msg != NULL))
		return;
	CHECK(strcmp(json_string_value(json_object_get(msg, "type")), "netmap") == 0);
	text = json_string_value(json_object_get(msg, "netmap"));
	/* Compact with sorted keys: the exact bytes that were signed. */
	CHECK(strncmp(text, "{\"coordinator\":\"AQID", 20) == 0);
	CHECK_EQ_INT(strlen(json_string_value(json_object_get(msg, "signature"))), 88);
	if (!CHECK_EQ_INT(netmap_verify(msg, pk, &nm, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	doc = netmap_to_json(&nm);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(text && strcmp(text, json_string_value(json_object_get(msg, "netmap"))) == 0);
	free((char *)text);
	CHECK(nm.version == 17 && nm.n_peers == 2);
	netmap_free(&nm);
	json_decref(doc);
	json_decref(msg);
}

/* Verifies msg, expecting ret; nm must come back empty on error. */
static void check_verify(json_t *msg, const uint8_t pk[32], int want, const char *message)
{
	struct netmap nm;
	char err[256] = "";
	int ret = netmap_verify(msg, pk, &nm, err, sizeof(err));

	if (!CHECK_EQ_INT(ret, want) || (message && !CHECK(strstr(err, message) != NULL)))
		fprintf(stderr, "  got \"%s\"\n", err);
	if (ret == 0)
		netmap_free(&nm);
	else
		CHECK(nm.peers == NULL && nm.version == 0);
}

static void set_string(json_t *msg, const char *key, const char *value)
{
	json_object_set_new(msg, key, json_string(value));
}

static void test_tampered(void)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64];
	json_t *msg;
	char *text, *sig;

	sign_keys(pk, sk, 7);
	sign_keys(pk2, sk2, 8);
	msg = signed_base(sk);
	text = strdup(json_string_value(json_object_get(msg, "netmap")));
	sig = strdup(json_string_value(json_object_get(msg, "signature")));

	check_verify(msg, pk2, -EBADMSG, "does not verify");
	/* Every byte of the document changed once: never accepted. */
	for (size_t i = 0; i < strlen(text); i += 7) {
		char *t = strdup(text);
		t[i] ^= 0x01;
		set_string(msg, "netmap", t);
		check_verify(msg, pk, -EBADMSG, NULL);
		free(t);
	}
	set_string(msg, "netmap", text);
	for (size_t i = 0; i < 86; i++) {
		char *s = strdup(sig);
		s[i] = s[i] == 'A' ? 'B' : 'A';
		set_string(msg, "signature", s);
		check_verify(msg, pk, -EBADMSG, NULL);
		free(s);
	}
	set_string(msg, "signature", "AAAA");
	check_verify(msg, pk, -EBADMSG, "does not verify");
	json_object_del(msg, "signature");
	check_verify(msg, pk, -EBADMSG, "not a netmap message");
	set_string(msg, "signature", sig);
	check_verify(msg, pk, 0, NULL);
	set_string(msg, "type", "hello");
	check_verify(msg, pk, -EBADMSG, "not a netmap message");
	json_object_del(msg, "type");
	check_verify(msg, pk, -EBADMSG, "not a netmap message");
	check_verify(NULL, pk, -EBADMSG, NULL);
	free(text);
	free(sig);
	json_decref(msg);
}

/* A signed document that is not a netmap: the signature holds, -EINVAL. */
static json_t *sign_text(const char *text, const uint8_t sk[64])
{
	uint8_t sig[64];
	char b64[89];

	crypto_sign_detached(sig, NULL, (const uint8_t *)text, strlen(text), sk);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:s, s:s}", "type", "netmap", "netmap", text, "signature", b64);
}

static void test_signed_bad_document(void)
{
	uint8_t pk[32], sk[64];
	json_t *msg;

	sign_keys(pk, sk, 7);
	msg = sign_text("{\"version\": 1}", sk);
	check_verify(msg, pk, -EINVAL, "issued_at: missing");
	json_decref(msg);
	msg = sign_text("{\"version\": 1,", sk);
	check_verify(msg, pk, -EINVAL, "not valid JSON");
	json_decref(msg);
	msg = sign_text("{\"version\": 1, \"version\": 2}", sk);
	check_verify(msg, pk, -EINVAL, "not valid JSON");
	json_decref(msg);
	msg = sign_text("[]", sk);
	check_verify(msg, pk, -EINVAL, "must be a JSON object");
	json_decref(msg);
}

static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test_netmap.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void test_cache(void)
{
	uint8_t pk[32], sk[64], pk2[32], sk2[64];
	char dir[64], path[128], err[256] = "";
	json_t *msg = NULL, *loaded = NULL;
	struct netmap nm;
	struct stat st;

	sign_keys(pk, sk, 7);
	sign_keys(pk2, sk2, 8);
	make_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/netmap.json", dir);
	CHECK_EQ_INT(netmap_cache_load(path, pk, &nm, &loaded, err, sizeof(err)), -ENOENT);
	CHECK(loaded == NULL);

	msg = signed_base(sk);
	CHECK_EQ_INT(netmap_cache_save(path, msg), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(count_entries(dir), 1); /* no temporary file left */
	if (CHECK_EQ_INT(netmap_cache_load(path, pk, &nm, &loaded, err, sizeof(err)), 0)) {
		CHECK(json_equal(msg, loaded));
		CHECK(nm.version == 17);
		netmap_free(&nm);
	}
	json_decref(loaded);
	/* A second save replaces the first; loading without msg is fine. */
	CHECK_EQ_INT(netmap_cache_save(path, msg), 0);
	CHECK_EQ_INT(netmap_cache_load(path, pk, &nm, NULL, err, sizeof(err)), 0);
	netmap_free(&nm);
	CHECK_EQ_INT(netmap_cache_load(path, pk2, &nm, &loaded, err, sizeof(err)), -EBADMSG);
	CHECK(loaded == NULL);

	write_text(path, "{\"type\": \"netmap\", trunc");
	CHECK_EQ_INT(netmap_cache_load(path, pk, &nm, &loaded, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "not JSON") != NULL);
	write_text(path, "");
	CHECK_EQ_INT(netmap_cache_load(path, pk, &nm, &loaded, err, sizeof(err)), -EBADMSG);
	CHECK_EQ_INT(netmap_cache_load(dir, pk, &nm, &loaded, err, sizeof(err)), -EFBIG);

	snprintf(path, sizeof(path), "%s/missing/netmap.json", dir);
	CHECK(netmap_cache_save(path, msg) == -ENOENT);
	snprintf(path, sizeof(path), "%s/netmap.json", dir);
	unlink(path);
	rmdir(dir);
	json_decref(msg);
}

/* Two netmaps verify whatever their versions: keeping the newest is the
 * caller's job. */
static void test_versions_are_the_callers(void)
{
	uint8_t pk[32], sk[64];
	json_t *doc = base(), *msg;
	struct netmap nm, got;

	sign_keys(pk, sk, 7);
	if (netmap_from_json(doc, &nm, NULL, 0) != 0)
		abort();
	nm.version = 1;
	msg = netmap_sign(&nm, sk);
	CHECK_EQ_INT(netmap_verify(msg, pk, &got, NULL, 0), 0);
	CHECK(got.version == 1);
	netmap_free(&got);
	netmap_free(&nm);
	json_decref(msg);
	json_decref(doc);
}

/* base() with the mesh's names. */
static json_t *with_dns(void)
{
	json_t *doc = base();

	json_object_set_new(doc, "dns",
			    json_loads("{\"domain\": \"Corp.Example.\", \"records\": ["
				       "{\"name\": \"switch\", \"address\": \"192.168.77.2\"},"
				       "{\"name\": \"switch\", \"address\": \"fd00:77::2\"}]}",
				       0, NULL));
	return doc;
}

/* "dns": decoded (the domain in lower case without the final dot), written
 * back, and absent from a netmap that has none. */
static void test_dns(void)
{
	json_t *doc = with_dns(), *again;
	struct netmap nm, nm2;
	char err[256] = "", addr[PREFIX_STR_LEN];

	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		json_decref(doc);
		return;
	}
	CHECK(nm.dns.present);
	CHECK(strcmp(nm.dns.domain, "corp.example") == 0);
	if (CHECK_EQ_INT(nm.dns.n_records, 2)) {
		CHECK(strcmp(nm.dns.records[1].name, "switch") == 0);
		prefix_format_addr(&nm.dns.records[1].address, addr, sizeof(addr));
		CHECK(strcmp(addr, "fd00:77::2") == 0);
	}
	again = netmap_to_json(&nm);
	CHECK(json_equal(json_object_get(json_object_get(again, "dns"), "records"),
			 json_object_get(json_object_get(doc, "dns"), "records")));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(again, "dns"), "domain")),
		     "corp.example") == 0);
	CHECK_EQ_INT(netmap_from_json(again, &nm2, err, sizeof(err)), 0);
	CHECK(nm2.dns.present && nm2.dns.n_records == 2);
	netmap_free(&nm2);
	netmap_free(&nm);
	json_decref(again);
	json_decref(doc);
	/* Without "dns": none, and none written. */
	doc = base();
	if (CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		CHECK(!nm.dns.present && nm.dns.records == NULL);
		again = netmap_to_json(&nm);
		CHECK(json_object_get(again, "dns") == NULL);
		json_decref(again);
	}
	netmap_free(&nm);
	json_decref(doc);
}

static const struct bad_case bad_dns_cases[] = {
	{ "dns", "[]", "dns: must be an object" },
	{ "dns.domain", NULL, "dns.domain: missing" },
	{ "dns.domain", "7", "dns.domain: must be a string" },
	{ "dns.domain", "\"mesh_internal\"", "dns.domain: 'mesh_internal' is not a DNS domain" },
	{ "dns.domain", "\"a..b\"", "dns.domain: 'a..b' is not a DNS domain" },
	{ "dns.records", NULL, "dns.records: missing" },
	{ "dns.records", "{}", "dns.records: must be an array" },
	{ "dns.records.0", "\"switch\"", "dns.records[0]: must be an object" },
	{ "dns.records.1.name", NULL, "dns.records[1].name: missing" },
	{ "dns.records.1.name", "\"a.b\"", "dns.records[1].name: 'a.b' is not a DNS label" },
	{ "dns.records.1.name", "\"web_1\"", "dns.records[1].name: 'web_1' is not a DNS label" },
	{ "dns.records.0.address", NULL, "dns.records[0].address: missing" },
	{ "dns.records.0.address", "\"10.0.0.0/8\"", "'10.0.0.0/8' is not an IP address" },
	{ "dns.records.0.address", "\"switch.lan\"", "'switch.lan' is not an IP address" },
};

static void test_dns_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_dns_cases) / sizeof(bad_dns_cases[0]); i++) {
		const struct bad_case *c = &bad_dns_cases[i];
		json_t *doc = with_dns();
		struct netmap nm;
		char err[256] = "";
		int ret;

		mutate(doc, c->path, c->value ? json_loads(c->value, JSON_DECODE_ANY, NULL) : NULL);
		ret = netmap_from_json(doc, &nm, err, sizeof(err));
		if (!CHECK_EQ_INT(ret, -EINVAL) || !CHECK(strstr(err, c->message) != NULL))
			fprintf(stderr, "  %s = %s: got \"%s\"\n", c->path, c->value, err);
		CHECK(nm.peers == NULL && nm.dns.records == NULL && !nm.dns.present);
		json_decref(doc);
	}
	/* A NUL inside the domain or an address. */
	for (int i = 0; i < 2; i++) {
		json_t *doc = with_dns(), *dns = json_object_get(doc, "dns");
		struct netmap nm;
		char err[256] = "";

		if (i == 0)
			json_object_set_new(dns, "domain", json_stringn("mesh\0.internal", 14));
		else
			json_object_set_new(json_array_get(json_object_get(dns, "records"), 0),
					    "address", json_stringn("10.0.0.1\0x", 10));
		CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, i ? "is not an IP address" : "is not a DNS domain") != NULL);
		json_decref(doc);
	}
}

/* More than NETMAP_MAX_DNS_RECORDS records. */
static void test_dns_limit(void)
{
	json_t *doc = with_dns(), *arr = json_array();
	struct netmap nm;
	char err[256] = "";

	for (int i = 0; i <= NETMAP_MAX_DNS_RECORDS; i++)
		json_array_append_new(arr,
				      json_pack("{s:s, s:s}", "name", "r", "address", "10.0.0.1"));
	json_object_set_new(json_object_get(doc, "dns"), "records", arr);
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "dns.records: 1025 entries, at most 1024 allowed") != NULL);
	json_array_remove(arr, 0);
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0);
	CHECK_EQ_INT(nm.dns.n_records, NETMAP_MAX_DNS_RECORDS);
	netmap_free(&nm);
	json_decref(doc);
}

/* Signed with "dns", verified with it. */
static void test_dns_signed(void)
{
	uint8_t pk[32], sk[64];
	json_t *doc = with_dns(), *msg;
	struct netmap nm, got;
	char err[256] = "";

	sign_keys(pk, sk, 9);
	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0))
		goto out;
	msg = netmap_sign(&nm, sk);
	if (CHECK(msg != NULL) && CHECK_EQ_INT(netmap_verify(msg, pk, &got, err, sizeof(err)), 0)) {
		CHECK(got.dns.present && got.dns.n_records == 2);
		netmap_free(&got);
	}
	json_decref(msg);
	netmap_free(&nm);
out:
	json_decref(doc);
}

/* home (peers[0]) with a split DNS offer. */
static json_t *with_split(void)
{
	json_t *doc = base();

	mutate(doc, "peers.0.split_dns",
	       json_loads("[{\"domain\": \"Home.LAN.\", \"server\": \"192.168.77.53\"},"
			  " {\"domain\": \"v6.lan\", \"server\": \"[fd00::53]:5353\"}]",
			  0, NULL));
	return doc;
}

static void test_split_dns(void)
{
	json_t *doc = with_split(), *again = NULL, *arr, *want;
	struct netmap nm;
	char err[256] = "", text[SOCKADDR_STR_LEN];

	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		goto out;
	}
	CHECK_EQ_INT(nm.peers[0].n_split_dns, 2);
	CHECK_EQ_INT(nm.peers[1].n_split_dns, 0);
	CHECK(strcmp(nm.peers[0].split_dns[0].domain, "home.lan") == 0);
	sockaddr_format(&nm.peers[0].split_dns[0].server, text, sizeof(text));
	CHECK(strcmp(text, "192.168.77.53:53") == 0);
	sockaddr_format(&nm.peers[0].split_dns[1].server, text, sizeof(text));
	CHECK(strcmp(text, "[fd00::53]:5353") == 0);
	/* Written in its canonical form; a peer without offers has no member. */
	again = netmap_to_json(&nm);
	arr = json_object_get(json_array_get(json_object_get(again, "peers"), 0), "split_dns");
	want = json_pack("{s:s, s:s}", "domain", "home.lan", "server", "192.168.77.53:53");
	CHECK(json_equal(json_array_get(arr, 0), want));
	json_decref(want);
	CHECK(json_object_get(json_array_get(json_object_get(again, "peers"), 1), "split_dns") ==
	      NULL);
	netmap_free(&nm);
out:
	json_decref(again);
	json_decref(doc);
}

static const struct bad_case bad_split_cases[] = {
	{ "peers.0.split_dns", "{}", "peers[0].split_dns: must be an array" },
	{ "peers.0.split_dns.0", "\"home.lan\"", "peers[0].split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": \"home.lan\"}", "split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": \"ho me\", \"server\": \"10.0.0.1\"}",
	  "split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": \"a.lan\", \"server\": \"10.0.0.1:0\"}",
	  "split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": \"a.lan\", \"server\": \"host.lan\"}",
	  "split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": \"a.lan\", \"server\": \"10.0.0.0/8\"}",
	  "split_dns[0]: must be" },
	{ "peers.0.split_dns.0", "{\"domain\": 5, \"server\": \"10.0.0.1\"}",
	  "split_dns[0]: must be" },
	{ "peers.0.split_dns.1", "{\"domain\": \"HOME.lan\", \"server\": \"10.0.0.1\"}",
	  "peers[0].split_dns[1]: the domain home.lan is listed twice" },
};

static void test_split_dns_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_split_cases) / sizeof(bad_split_cases[0]); i++) {
		const struct bad_case *c = &bad_split_cases[i];
		json_t *doc = with_split();
		struct netmap nm;
		char err[256] = "";
		int ret;

		mutate(doc, c->path, json_loads(c->value, JSON_DECODE_ANY, NULL));
		ret = netmap_from_json(doc, &nm, err, sizeof(err));
		if (!CHECK_EQ_INT(ret, -EINVAL) || !CHECK(strstr(err, c->message) != NULL))
			fprintf(stderr, "  %s = %s: got \"%s\"\n", c->path, c->value, err);
		CHECK(nm.peers == NULL);
		json_decref(doc);
	}
}

/* base() with a policy: a forward entry and an exit entry. */
static json_t *with_policy(void)
{
	json_t *doc = base();

	json_object_set_new(
	    doc, "policy",
	    json_loads("{\"default\": \"deny\", \"revision\": 4, \"entries\": ["
		       "{\"rule\": 2, \"hook\": \"forward\", \"src\": [\"100.64.0.3/32\", "
		       "\"fd7a:6d67:7465::3/128\"], \"dst\": [\"192.168.77.0/24\"], "
		       "\"protocols\": [\"tcp\"], \"ports\": [\"22\", \"8000-8080\"]},"
		       "{\"rule\": 3, \"hook\": \"exit\", \"src\": [\"0.0.0.0/0\", \"::/0\"], "
		       "\"dst\": []}]}",
		       0, NULL));
	return doc;
}

/* "policy": decoded, written back the same, signed and verified; absent
 * (an older coordinator, or no policy): not present, none written. */
static void test_policy(void)
{
	uint8_t pk[32], sk[64];
	json_t *doc = with_policy(), *again, *msg;
	struct netmap nm, got;
	char err[256] = "";

	if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		fprintf(stderr, "  %s\n", err);
		json_decref(doc);
		return;
	}
	CHECK(nm.policy.present && nm.policy.deny);
	CHECK_EQ_INT(nm.policy.revision, 4);
	if (CHECK_EQ_INT(nm.policy.n_entries, 2)) {
		CHECK(nm.policy.entries[0].hook == ACL_HOOK_FORWARD);
		CHECK_EQ_INT(nm.policy.entries[0].rule, 2);
		CHECK_EQ_INT(nm.policy.entries[0].n_src, 2);
		CHECK(nm.policy.entries[0].protocols == ACL_PROTO_TCP);
		CHECK_EQ_INT(nm.policy.entries[0].n_ports, 2);
		CHECK(nm.policy.entries[1].hook == ACL_HOOK_EXIT);
	}
	again = netmap_to_json(&nm);
	CHECK(json_equal(json_object_get(again, "policy"), json_object_get(doc, "policy")));
	json_decref(again);
	sign_keys(pk, sk, 11);
	msg = netmap_sign(&nm, sk);
	if (CHECK(msg != NULL) && CHECK_EQ_INT(netmap_verify(msg, pk, &got, err, sizeof(err)), 0)) {
		CHECK(got.policy.present && got.policy.n_entries == 2);
		netmap_free(&got);
	}
	json_decref(msg);
	netmap_free(&nm);
	json_decref(doc);
	doc = base();
	if (CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0)) {
		CHECK(!nm.policy.present && nm.policy.n_entries == 0);
		again = netmap_to_json(&nm);
		CHECK(json_object_get(again, "policy") == NULL);
		json_decref(again);
	}
	netmap_free(&nm);
	json_decref(doc);
}

/* A bad policy refuses the whole netmap, saying where. */
static const struct bad_case bad_policy_cases[] = {
	{ "policy", "[]", "policy: " },
	{ "policy", "{}", "policy: " },
	{ "policy.default", "\"maybe\"", "policy: " },
	{ "policy.revision", "-1", "policy: " },
	{ "policy.entries", "{}", "policy: " },
	{ "policy.entries.0.hook", "\"output\"", "policy: " },
	{ "policy.entries.0.src", "[\"100.64.0.3/24\"]", "policy: " },
	{ "policy.entries.0.dst", "[\"not a prefix\"]", "policy: " },
	{ "policy.entries.0.protocols", "[\"sctp\"]", "policy: " },
	{ "policy.entries.0.ports", "[\"0\"]", "policy: " },
	{ "policy.entries.0.ports", "[\"80-22\"]", "policy: " },
	{ "policy.entries.0.rule", "\"2\"", "policy: " },
};

static void test_policy_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_policy_cases) / sizeof(bad_policy_cases[0]); i++) {
		const struct bad_case *c = &bad_policy_cases[i];
		json_t *doc = with_policy();
		struct netmap nm;
		char err[256] = "";

		mutate(doc, c->path, json_loads(c->value, JSON_DECODE_ANY, NULL));
		if (!CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL) ||
		    !CHECK(strncmp(err, c->message, strlen(c->message)) == 0))
			fprintf(stderr, "  %s = %s: got \"%s\"\n", c->path, c->value, err);
		CHECK(!nm.policy.present && nm.policy.entries == NULL && nm.peers == NULL);
		json_decref(doc);
	}
}

/* More than NETMAP_MAX_SPLIT_DNS offers on one peer. */
static void test_split_dns_limit(void)
{
	json_t *doc = base(), *arr = json_array();
	struct netmap nm;
	char err[256] = "", domain[16];

	for (int i = 0; i <= NETMAP_MAX_SPLIT_DNS; i++) {
		snprintf(domain, sizeof(domain), "d%d.lan", i);
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "domain", domain, "server", "10.0.0.1"));
	}
	mutate(doc, "peers.1.split_dns", arr);
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "peers[1].split_dns: 9 entries, at most 8 allowed") != NULL);
	json_array_remove(arr, 0);
	CHECK_EQ_INT(netmap_from_json(doc, &nm, err, sizeof(err)), 0);
	CHECK_EQ_INT(nm.peers[1].n_split_dns, NETMAP_MAX_SPLIT_DNS);
	netmap_free(&nm);
	json_decref(doc);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_decode_fields);
	RUN(test_round_trip);
	RUN(test_malformed);
	RUN(test_self_exit);
	RUN(test_exit_offer);
	RUN(test_not_an_object);
	RUN(test_limits);
	RUN(test_devices);
	RUN(test_devices_malformed);
	RUN(test_devices_key_twice);
	RUN(test_devices_limit);
	RUN(test_sign_verify);
	RUN(test_tampered);
	RUN(test_signed_bad_document);
	RUN(test_cache);
	RUN(test_versions_are_the_callers);
	RUN(test_dns);
	RUN(test_dns_malformed);
	RUN(test_dns_limit);
	RUN(test_policy);
	RUN(test_policy_malformed);
	RUN(test_dns_signed);
	RUN(test_split_dns);
	RUN(test_split_dns_malformed);
	RUN(test_split_dns_limit);
	return test_summary();
}
