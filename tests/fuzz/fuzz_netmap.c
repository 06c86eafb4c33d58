/*
 * Fuzz harness for the netmap decoder: the input is JSON text, taken both
 * as a netmap document (netmap_from_json) and as a wire message
 * (netmap_verify with a fixed Ed25519 key). A wire message's "netmap"
 * string is also re-signed with the fixed key and verified, so the
 * document parser is reached through netmap_verify too.
 *
 * Invariants beyond memory safety: a decoded netmap encodes again and that
 * encoding decodes to the same document; a correctly signed message never
 * fails its signature check; a failure leaves the netmap empty.
 *
 * Built with -DFUZZ_NETMAP_WRITE_SEEDS and a main of its own, it writes the
 * seed corpus (valid documents and messages for the fixed key, with and
 * without devices, with a policy, and some near misses) into a directory:
 *   cc -Wno-unused-parameter -D_GNU_SOURCE -DFUZZ_NETMAP_WRITE_SEEDS -Idaemon -Itests \
 *     tests/fuzz/fuzz_netmap.c daemon/mesh/netmap.c daemon/netaddr.c daemon/acl/[a-z]*.c \
 *     daemon/dns/zone.c daemon/keys.c daemon/wg/crypto.c daemon/atomicfile.c \
 *     -lsodium -ljansson -lb2 -lldns
 *   ./a.out tests/fuzz/seeds/fuzz_netmap
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/netmap.h"
#include "mesh/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t sign_public[32], sign_secret[64];

static void setup(void)
{
	static int done;
	uint8_t seed[32];

	if (done++)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(sign_public, sign_secret, seed);
}

static void check_empty(const struct netmap *nm)
{
	if (nm->peers || nm->n_peers || nm->self.addresses || nm->routes_advertised ||
	    nm->version || nm->policy.present || nm->policy.entries || nm->policy.n_entries)
		abort();
}

/* to_json(nm) must decode, and encode to the same document. */
static void check_round_trip(const struct netmap *nm)
{
	json_t *doc = netmap_to_json(nm), *again;
	struct netmap nm2;

	if (!doc || netmap_from_json(doc, &nm2, NULL, 0) != 0)
		abort();
	again = netmap_to_json(&nm2);
	if (!json_equal(doc, again))
		abort();
	json_decref(again);
	json_decref(doc);
	netmap_free(&nm2);
}

static void decode(const json_t *doc)
{
	struct netmap nm;
	char err[256];

	if (netmap_from_json(doc, &nm, err, sizeof(err)) == 0)
		check_round_trip(&nm);
	else
		check_empty(&nm);
	netmap_free(&nm);
}

static void verify(const json_t *msg, bool must_verify)
{
	struct netmap nm;
	char err[256];
	int ret = netmap_verify(msg, sign_public, &nm, err, sizeof(err));

	if (ret == 0)
		check_round_trip(&nm);
	else
		check_empty(&nm);
	if (must_verify && ret == -EBADMSG)
		abort();
	netmap_free(&nm);
}

/* Signs msg's "netmap" string (if any) with the fixed key and verifies. */
static void resign_and_verify(json_t *msg)
{
	const json_t *text = json_object_get(msg, "netmap");
	uint8_t sig[64];
	char b64[89];

	if (!json_is_string(text) || !json_is_string(json_object_get(msg, "type")) ||
	    strcmp(json_string_value(json_object_get(msg, "type")), "netmap") != 0)
		return;
	crypto_sign_detached(sig, NULL, (const uint8_t *)json_string_value(text),
			     json_string_length(text), sign_secret);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(msg, "signature", json_string(b64));
	verify(msg, json_string_length(text) <= MESH_CONTROL_LINE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v;

	setup();
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (!v)
		return 0;
	decode(v);
	verify(v, false);
	resign_and_verify(v);
	json_decref(v);
	return 0;
}

#ifdef FUZZ_NETMAP_WRITE_SEEDS
static void write_seed(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void write_json(const char *dir, const char *name, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	write_seed(dir, name, text);
	free(text);
}

static const char document[] =
    "{\"version\": 17, \"issued_at\": 1795300000,"
    " \"coordinator\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","
    " \"self\": {\"id\": 3, \"name\": \"laptop\","
    "   \"addresses\": [\"100.64.0.3/32\", \"fd7a:6d67:7465::3/128\"],"
    "   \"routes_advertised\": [\"10.1.0.0/16\", \"0.0.0.0/0\"],"
    "   \"routes_approved\": [\"10.1.0.0/16\"]},"
    " \"peers\": ["
    "  {\"id\": 1, \"name\": \"home\","
    "   \"public_key\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","
    "   \"addresses\": [\"100.64.0.1/32\", \"fd7a:6d67:7465::1/128\"],"
    "   \"endpoints\": [\"203.0.113.2:41641\", \"[2001:db8::2]:41641\"],"
    "   \"routes\": [\"192.168.77.0/24\", \"::/0\"], \"exit_node\": true,"
    "   \"online\": true, \"coordinator\": true},"
    "  {\"id\": 7, \"name\": \"phone\","
    "   \"public_key\": \"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\","
    "   \"addresses\": [\"100.64.0.7/32\"], \"endpoints\": [], \"routes\": [],"
    "   \"exit_node\": false, \"online\": false, \"coordinator\": false}]}";

/* Self hubs a device (with its key), home two (without). */
static const char devices_self[] =
    "[{\"name\": \"tablet\", \"exit_node\": false,"
    "  \"public_key\": \"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\","
    "  \"addresses\": [\"100.64.0.9/32\", \"fd7a:6d67:7465::9/128\"]}]";
static const char devices_home[] =
    "[{\"name\": \"pixel\", \"exit_node\": true,"
    "  \"addresses\": [\"100.64.0.5/32\", \"fd7a:6d67:7465::5/128\"]},"
    " {\"name\": \"watch\", \"exit_node\": false, \"addresses\": [\"fd7a:6d67:7465::6/128\"]}]";

static void write_devices(const char *dir, json_t *doc)
{
	json_t *home = json_array_get(json_object_get(doc, "peers"), 0), *msg;
	struct netmap nm;

	json_object_set_new(json_object_get(doc, "self"), "devices",
			    json_loads(devices_self, 0, NULL));
	json_object_set_new(home, "devices", json_loads(devices_home, 0, NULL));
	if (netmap_from_json(doc, &nm, NULL, 0) != 0)
		abort();
	write_json(dir, "document-devices", doc);
	msg = netmap_sign(&nm, sign_secret);
	write_json(dir, "signed-devices", msg);
	json_decref(msg);
	netmap_free(&nm);
	/* A device on a node's address. */
	json_object_set_new(json_array_get(json_object_get(home, "devices"), 1), "addresses",
			    json_pack("[s]", "100.64.0.7/32"));
	write_json(dir, "document-devices-clash", doc);
	json_object_del(json_object_get(doc, "self"), "devices");
	json_object_del(home, "devices");
}

/* What laptop enforces: SSH from home to it, and its exit for the phone. */
static const char policy[] =
    "{\"default\": \"deny\", \"revision\": 4, \"entries\": ["
    " {\"rule\": 1, \"hook\": \"input\", \"src\": [\"100.64.0.1/32\", \"fd7a:6d67:7465::1/128\"],"
    "  \"dst\": [\"100.64.0.3/32\", \"fd7a:6d67:7465::3/128\"], \"protocols\": [\"tcp\"],"
    "  \"ports\": [\"22\", \"8000-8080\"]},"
    " {\"rule\": 2, \"hook\": \"forward\", \"src\": [\"0.0.0.0/0\", \"::/0\"],"
    "  \"dst\": [\"10.1.0.0/16\"], \"protocols\": [\"icmp\", \"udp\"]},"
    " {\"rule\": 3, \"hook\": \"exit\", \"src\": [\"100.64.0.7/32\"], \"dst\": []}]}";

static void write_policy(const char *dir, json_t *doc)
{
	json_t *msg;
	struct netmap nm;

	json_object_set_new(doc, "policy", json_loads(policy, 0, NULL));
	if (netmap_from_json(doc, &nm, NULL, 0) != 0)
		abort();
	write_json(dir, "document-policy", doc);
	msg = netmap_sign(&nm, sign_secret);
	write_json(dir, "signed-policy", msg);
	json_decref(msg);
	netmap_free(&nm);
	/* A source with host bits. */
	json_array_set_new(
	    json_object_get(
		json_array_get(json_object_get(json_object_get(doc, "policy"), "entries"), 0),
		"src"),
	    0, json_string("100.64.0.1/24"));
	write_json(dir, "document-policy-bad-prefix", doc);
	json_object_del(doc, "policy");
}

int main(int argc, char **argv)
{
	json_t *doc, *msg;
	struct netmap nm;

	if (argc != 2)
		return 2;
	setup();
	doc = json_loads(document, 0, NULL);
	if (!doc || netmap_from_json(doc, &nm, NULL, 0) != 0)
		return 1;
	write_json(argv[1], "document", doc);
	write_devices(argv[1], doc);
	write_policy(argv[1], doc);
	msg = netmap_sign(&nm, sign_secret);
	write_json(argv[1], "signed", msg);
	json_object_set_new(msg, "signature", json_string("AAAA"));
	write_json(argv[1], "signed-bad-signature", msg);
	json_decref(msg);
	nm.n_peers = 0;
	msg = netmap_sign(&nm, sign_secret);
	write_json(argv[1], "signed-no-peers", msg);
	json_decref(msg);
	/* The document above has no self.exit_node (an older coordinator's). */
	json_object_set_new(json_object_get(doc, "self"), "exit_node", json_true());
	json_array_append_new(json_object_get(json_object_get(doc, "self"), "routes_approved"),
			      json_string("0.0.0.0/0"));
	write_json(argv[1], "document-self-exit", doc);
	json_object_set_new(json_object_get(doc, "self"), "id", json_integer(0));
	write_json(argv[1], "document-bad-id", doc);
	write_seed(argv[1], "signed-not-json",
		   "{\"type\":\"netmap\",\"netmap\":\"{\\\"version\\\":\",\"signature\":\"\"}");
	nm.n_peers = 2;
	netmap_free(&nm);
	json_decref(doc);
	return 0;
}
#endif
