/*
 * The node's mesh resolver (dns/dnsserver.h): on a mesh member with
 * dns.enabled, the node holds 100.100.100.100/32 and
 * fd7a:6d67:7465::53/128 on its TUN (guarded by the plan as its own
 * addresses: only the TUN and loopback reach them) and answers DNS on port
 * 53 there and on its mesh addresses, from the zone of its last mesh view
 * (the netmap's domain and static records). A node with static peers only
 * (no mesh) runs no resolver: it has no names to serve.
 *
 * Forwarding: every other name goes to the node's forwarder
 * (dns/forward.h), created and freed with the server. Its upstreams: the
 * exit node's mesh addresses, port 53, while the node's exit is in use
 * (plan exit_state PLAN_EXIT_IN_USE: no query leaves on the local
 * network); none while the exit is wanted but blocked (SERVFAIL, as the
 * internet traffic is dropped); else dns.upstream; else the nameservers
 * of the host's
 * resolv.conf (osresolver_original_path(), read once, so a node managing
 * the file never forwards to itself).
 *
 * Split domains (subnet routers' subnet_router.dns, mesh/splitdns.h): a
 * name at or under an offered domain goes to that offer's server only (the
 * most specific domain wins; dns/forward.h), never to the default list:
 * through the mesh to a peer's server while its offer is usable (the router
 * online and primary for a route holding the server) and the node installs
 * peers' routes (accept_routes), out of the TUN only (SO_BINDTODEVICE: a
 * LAN of this host's with the same prefix never gets the query); directly to this node's own server
 * while its own route holding it is approved. While a domain is offered but no offer is usable, its
 * names get SERVFAIL (no leak of LAN names to the local network); a domain nobody offers is
 * forwarded as any other name. Two routers offering one domain: this node's own, else the first
 * usable in the netmap (lowest id), else the first listed; status warns.
 */
#ifndef MESHGATE_NODE_DNS_H
#define MESHGATE_NODE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dns/upstream.h"
#include "dns/zone.h"
#include "loop.h"
#include "netaddr.h"

struct dns_server;
struct dns_forwarder;
struct mesh_split_dns;
struct mesh_view;
struct mg_config;

/* One split domain as the forwarder has it. */
enum node_dns_split_state {
	NODE_DNS_SPLIT_OK,           /* forwarded to server */
	NODE_DNS_SPLIT_OFFLINE,      /* the router is offline or not primary: SERVFAIL */
	NODE_DNS_SPLIT_NOT_ACCEPTED, /* accept_routes = false: SERVFAIL */
};

struct node_dns_split {
	char domain[DNS_DOMAIN_MAX + 1];
	union sockaddr_inet server;
	char via[64]; /* the router's name */
	enum node_dns_split_state state;
	unsigned offers; /* routers offering the domain (> 1: a warning) */
	bool own;        /* this node's offer: its server is on its LAN */
};

enum { NODE_DNS_SPLITS_MAX = 64 };

struct node_dns {
	struct dns_server *server; /* NULL: not running */
	struct dns_forwarder *fwd; /* with the server */
	/* The forwarder's default upstreams as last set. */
	union sockaddr_inet upstreams[DNS_UPSTREAM_MAX];
	size_t n_upstreams;
	/* The host's resolvers (its resolv.conf), read once. */
	bool host_read;
	union sockaddr_inet host[DNS_UPSTREAM_MAX];
	size_t n_host;
	uint32_t serial; /* zones built: the SOA serial */
	/* The mesh's names of the last view (mesh_view.dns), owned copy;
	 * have_names false: none yet, the default domain and no records. */
	bool have_names;
	char domain[DNS_DOMAIN_MAX + 1];
	struct dns_record *records;
	size_t n_records;
	char self_name[64]; /* the netmap's name of this node; "": hostname */
	uint32_t self_id;   /* its registry id; 0: none yet */
	/* The peers' split DNS offers of the last view (owned copy), and the
	 * domains the forwarder was last given. */
	struct mesh_split_dns *offers;
	size_t n_offers;
	struct node_dns_split splits[NODE_DNS_SPLITS_MAX];
	size_t n_splits;
	char error[256]; /* why the last sync failed; "" */
};

/* Whether the node runs the resolver: dns.enabled on a mesh member. */
bool node_dns_wanted(const struct mg_config *cfg, bool mesh_member);

/* The resolver's addresses the node holds (host prefixes, /32 and /128),
 * into out[2]; how many (0 when not wanted). */
size_t node_dns_addresses(const struct mg_config *cfg, bool mesh_member, struct prefix out[2]);

/* Takes the view's names, self_name, self_id and split DNS offers
 * (copies; view->dns NULL: none). -ENOMEM leaves the old ones. */
int node_dns_take_names(struct node_dns *d, const struct mesh_view *view)
    __attribute__((warn_unused_result));

/*
 * After every change the node applied (start, reload, a netmap): starts,
 * updates or stops the server to match cfg and the node's mesh state
 * (view: its peers, addresses and devices; the names are d's): a new zone,
 * sockets on the resolver's and the mesh addresses, the forwarder's
 * upstreams (exit_name: the name of the mesh peer whose exit is in use, ""
 * when an exit is wanted but blocked, NULL when none is wanted; set only
 * when they changed, which flushes its cache; tun_name: the TUN, the
 * only way out for queries to a peer's split DNS server, NULL: none). A failure is
 * logged and kept in d->error; the node runs on without the resolver.
 */
void node_dns_sync(struct node_dns *d, struct loop *loop, const struct mg_config *cfg,
		   bool mesh_member, const struct mesh_view *view, const char *exit_name,
		   const char *tun_name);

/*
 * The status document's "dns": {"enabled": the resolver runs, "domain",
 * "names": names in the zone, "skipped": [{"name", "reason"}, ...] the
 * members left without a name, "listen": ["ip:port", ...], "error" when the
 * last sync failed, and the counters: "queries" {"udp", "tcp"}, "answers"
 * by rcode name, "dropped" {"rate_limit", "malformed"}, "local",
 * "forwarded", "truncated", "tcp_refused"}, and "forward": the forwarder's
 * {"upstreams": ["ip:port", ...], "queries", "sent",
 * "tcp_fallbacks", "timeouts", "upstream_errors", "mismatched",
 * "servfail_built", "busy", "inflight", "split_forwarded", "split_refused",
 * "cache": {"hits", "misses", "evictions", "expired", "entries", "bytes"}},
 * and "split": [{"domain", "server": "ip:port", "via": the router's name,
 * "state": "ok", "offline" or "routes_not_accepted", "warning" when
 * several routers offer the domain}].
 */
json_t *node_dns_json(const struct node_dns *d);

/* The DNS name ("<label>.<domain>") the member of that name holds in the
 * running resolver's zone into out; false when none (no resolver, no
 * label, taken by another member). */
bool node_dns_name(const struct node_dns *d, const char *member, char *out, size_t len);

/* The split domains the forwarder has (usable or not), for the OS
 * resolver's routing domains: up to max pointers into d; how many. */
size_t node_dns_split_domains(const struct node_dns *d, const char **out, size_t max);

/* Closes the sockets and frees the server and the names. */
void node_dns_stop(struct node_dns *d);

#endif
