/*
 * The netmap: one node's view of the mesh, as the coordinator sends it.
 *
 * The coordinator builds a netmap per node from its registry, serialises it
 * as JSON and signs the exact bytes with its Ed25519 key; the node verifies
 * the signature with the key it learnt when it joined, keeps the newest
 * version, and caches the signed form under state_dir so it keeps working
 * (and restarts) while the coordinator is away.
 *
 * Wire form on the control channel and in the cache file:
 *   {"type": "netmap", "netmap": "<the JSON document, as a string>",
 *    "signature": "<base64 Ed25519 signature of those bytes>"}
 *
 * The document:
 *   {"version": 17, "issued_at": 1795300000,
 *    "coordinator": "<WireGuard public key, base64>",
 *    "self": {"id": 3, "name": "laptop", "addresses": ["100.64.0.3/32", ...],
 *             "routes_advertised": [...], "routes_approved": [...],
 *             "exit_node": false,
 *             "devices": [{"name": "tablet", "public_key": "...", "exit_node": false,
 *                          "addresses": ["100.64.0.9/32", "fd7a:6d67:7465::9/128"]}]},
 *    "peers": [{"id": 1, "name": "home", "public_key": "...",
 *               "addresses": ["100.64.0.1/32", "fd7a:6d67:7465::1/128"],
 *               "endpoints": ["203.0.113.2:41641", "192.168.77.1:41641"],
 *               "routes": ["192.168.77.0/24"], "exit_node": true,
 *               "exit_offer": "approved", "online": true, "coordinator": true,
 *               "devices": [{"name": "phone", "exit_node": true,
 *                            "addresses": ["100.64.0.7/32", "fd7a:6d67:7465::7/128"]}]},
 *              ...]}
 *
 * Devices are stock WireGuard clients (a phone) attached to one node, their
 * hub: the hub holds each as a WireGuard peer and forwards for it. A peer's
 * "devices" are the devices it hubs (their addresses are reached through
 * it); self's "devices" (same form plus "public_key") are the ones this
 * node hubs. "exit_node" of a device: it may use its hub's exit. "devices"
 * is optional (an older coordinator sends none); device names are unique
 * among nodes and devices, device addresses are host prefixes on no node.
 *
 * "routes" of a peer are its approved routes for which it is the primary
 * router (when several nodes serve one prefix, the coordinator names one);
 * "exit_node" is true when its exit offer is approved and the node online
 * (peers use it); "exit_offer" says what the node offers, "approved" or
 * "pending" (advertised, not approved), absent when nothing: status tells
 * from it why an exit is not usable. Self's
 * "routes_approved" and "exit_node" are what the node may serve: it forwards
 * only those (config and approval, router/plan.c).
 *
 * The mesh's names (optional: an older coordinator sends none):
 *    "dns": {"domain": "mesh.internal",
 *            "records": [{"name": "switch", "address": "192.168.77.2"}, ...]}
 * from the coordinator's dns section: the domain every node answers for
 * (dns_domain_valid(); lower case, no final dot) and the static records
 * (a DNS label and one IPv4 or IPv6 address each, at most
 * NETMAP_MAX_DNS_RECORDS; a name may repeat).
 *
 * A subnet router's split DNS offer (optional, peers only; mesh/splitdns.h):
 *    "split_dns": [{"domain": "home.lan", "server": "192.168.77.1:53"}]
 * listed while one of the peer's approved routes holds the server's address,
 * online or not (at most NETMAP_MAX_SPLIT_DNS, domains unique within a
 * peer). A node forwards the domain to the server while the peer is online
 * and its "routes" (primary) hold the server; otherwise it answers SERVFAIL
 * for the domain rather than asking any other resolver (mesh/apply.h).
 *
 * The access policy this node enforces (optional: absent when the
 * coordinator has no policy, or is older; both mean "allow"):
 *    "policy": {"default": "deny", "revision": 4, "entries": [...]}
 * in the form of acl/filter.h, validated by acl_filter_from_json().
 *
 * Every member above is required, except "devices", "dns", "split_dns", "policy", a peer's
 * "exit_offer" (without it, an older coordinator: "approved" when "exit_node") and self's
 * "exit_node": without it (an older coordinator) an approved default in routes_approved says it.
 * Ids are 1..2^32-1 and unique (self included), public keys unique among peers, each address on
 * one node only; version >= 1, issued_at >= 0; names follow the config's rules; addresses are host
 * prefixes (at least one), routes networks (no host bits), endpoints numeric. A device has one or
 * two host addresses (at most one per family) on no other node or device, a name no other device
 * or node has (without regard to case), at most NETMAP_MAX_DEVICES per node; self's devices have
 * keys, unique and no peer's (a peer's device "public_key" is ignored). Members not listed here are
 * ignored, so a newer coordinator may add some. Self's public_key, endpoints, online and
 * coordinator are not part of the document.
 *
 * Not checked here, the caller's job: that a netmap's version is newer than
 * the one in use (keep the highest; an older or equal one is a replay or a
 * reordering), and that "coordinator" is the key learnt at join.
 */
#ifndef MESHGATE_MESH_NETMAP_H
#define MESHGATE_MESH_NETMAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/filter.h"
#include "dns/zone.h"
#include "keys.h"
#include "mesh/splitdns.h"
#include "netaddr.h"

enum { NETMAP_NAME_MAX = 63, NETMAP_SIGN_PUBLIC_LEN = 32, NETMAP_SIGNATURE_LEN = 64 };

/* Bounds netmap_from_json() enforces: peers in a netmap, and per node. */
enum {
	NETMAP_MAX_PEERS = 4096,
	NETMAP_MAX_ADDRESSES = 16,
	NETMAP_MAX_ENDPOINTS = 64,
	NETMAP_MAX_ROUTES = 1024,
	NETMAP_MAX_DEVICES = 1024, /* per hub */
	NETMAP_MAX_DNS_RECORDS = 1024,
	NETMAP_MAX_SPLIT_DNS = 8, /* per peer */
};

/* A stock WireGuard device attached to a node (its hub). */
struct netmap_device {
	char name[NETMAP_NAME_MAX + 1];
	bool has_key; /* self's devices: the hub holds the key */
	uint8_t public_key[KEY_LEN];
	struct prefix addresses[2]; /* v4 /32, v6 /128 */
	size_t n_addresses;
	bool exit_node; /* may use the hub's exit */
};

/* What a node offers of an exit (a peer's "exit_offer"). */
enum netmap_exit_offer {
	NETMAP_EXIT_NONE,
	NETMAP_EXIT_PENDING,  /* advertised, not approved */
	NETMAP_EXIT_APPROVED, /* usable while the node is online */
};

struct netmap_node {
	uint32_t id; /* the coordinator's registry id, stable for a key */
	char name[NETMAP_NAME_MAX + 1];
	uint8_t public_key[KEY_LEN];
	struct prefix *addresses; /* host prefixes: the node's mesh addresses */
	size_t n_addresses;
	struct endpoint *endpoints; /* candidates, numeric */
	size_t n_endpoints;
	struct prefix *routes; /* approved and primary here */
	size_t n_routes;
	bool exit_node;                    /* peers: exit_offer approved and online */
	enum netmap_exit_offer exit_offer; /* peers only */
	bool online;
	bool coordinator;
	struct netmap_device *devices; /* the devices this node hubs */
	size_t n_devices;
	struct split_dns *split_dns; /* peers: its approved split DNS offers */
	size_t n_split_dns;
};

/* The mesh's names; present false: the netmap has no "dns". */
struct netmap_dns {
	bool present;
	char domain[DNS_DOMAIN_MAX + 1];
	struct dns_record *records;
	size_t n_records;
};

struct netmap {
	uint64_t version;
	int64_t issued_at;
	uint8_t coordinator_key[KEY_LEN];
	struct netmap_node self;          /* endpoints unused; routes = approved,
					   * exit_node = its exit offer approved */
	struct prefix *routes_advertised; /* of self, approved or not */
	size_t n_routes_advertised;
	struct netmap_node *peers;
	size_t n_peers;
	struct netmap_dns dns;
	struct acl_filter policy; /* present false: no "policy" (allow) */
};

/* Releases what nm owns and zeroes it; NULL-safe. */
void netmap_free(struct netmap *nm);

/* The JSON document of nm (new reference), and back. netmap_from_json
 * validates everything (types, keys, prefixes, endpoints, sizes) and
 * returns -EINVAL with a message for anything off; nm is left empty then. */
json_t *netmap_to_json(const struct netmap *nm);
int netmap_from_json(const json_t *doc, struct netmap *nm, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Signs the serialised document: returns the wire message (new reference). */
json_t *netmap_sign(const struct netmap *nm, const uint8_t sign_secret[64]);

/* Verifies a wire message with the coordinator's Ed25519 public key and
 * decodes it. -EBADMSG for a message that is not a signed netmap or whose
 * signature does not verify, -EINVAL for a signed but bad document (errbuf
 * says which). nm is left empty on error. */
int netmap_verify(const json_t *msg, const uint8_t sign_public[NETMAP_SIGN_PUBLIC_LEN],
		  struct netmap *nm, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The cache: the wire message, written atomically (temp file, fsync,
 * rename, fsync of the directory), mode 0600. Loading verifies it again:
 * -ENOENT (or another -errno) when the file cannot be read, -EBADMSG when
 * it is not JSON or not signed, -EINVAL for a bad document. On success *msg
 * (when msg is not NULL) receives the wire message, a new reference. */
int netmap_cache_save(const char *path, const json_t *msg) __attribute__((warn_unused_result));
int netmap_cache_load(const char *path, const uint8_t sign_public[NETMAP_SIGN_PUBLIC_LEN],
		      struct netmap *nm, json_t **msg, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

#endif
