/*
 * The configuration file (libconfig syntax, see DESIGN.md "Config") parsed
 * and validated into a plain struct. Nothing of libconfig leaks out of
 * config.c: the rest of the daemon sees only struct mg_config.
 *
 * Errors name their place as "FILE:LINE: message", one per line; loading
 * reports every error it finds, not only the first.
 */
#ifndef MESHGATE_CONFIG_H
#define MESHGATE_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/acl.h"
#include "dns/zone.h"
#include "keys.h"
#include "netaddr.h"

#define CONFIG_DEFAULT_PATH           "/etc/meshgate/meshgate.conf"
#define CONFIG_DEFAULT_CONTROL_SOCKET "/run/meshgate/meshgated.sock"
/* The control socket's operator group: its members may use every command. */
#define CONFIG_DEFAULT_CONTROL_GROUP "meshgate"
/* coordinator.stun when the key is absent: public STUN servers. */
#define CONFIG_DEFAULT_STUN_1 "stun.l.google.com:19302"
#define CONFIG_DEFAULT_STUN_2 "stun.cloudflare.com:3478"

enum {
	CONFIG_DEFAULT_LISTEN_PORT = 41641,
	CONFIG_DEFAULT_MTU = 1280,
	CONFIG_MTU_MIN = 576,       /* the IPv4 minimum datagram size */
	CONFIG_MTU_MIN_IPV6 = 1280, /* when any address is IPv6 */
	CONFIG_MTU_MAX = 65535,
	/* Host and peer names: letters, digits, '-', '_' and '.', 1..63. */
	CONFIG_NAME_MAX = 63,
	CONFIG_GROUP_MAX = 32, /* a group name, as useradd(8) allows */
	CONFIG_DNS_RECORDS_MAX = 1024,
	CONFIG_DNS_UPSTREAM_MAX = 8,
};

/* Lists hold no duplicates: a repeated entry is dropped on loading. */
struct prefix_list {
	struct prefix *v;
	size_t n;
};

struct sockaddr_list {
	union sockaddr_inet *v;
	size_t n;
};

struct endpoint_list {
	struct endpoint *v;
	size_t n;
};

struct config_peer {
	char name[CONFIG_NAME_MAX + 1]; /* default: "peer-" + short key */
	uint8_t public_key[KEY_LEN];
	bool has_endpoint;
	struct endpoint endpoint;       /* numeric, or a name to resolve */
	struct prefix_list allowed_ips; /* networks (no host bits), no duplicates */
	uint16_t persistent_keepalive;  /* seconds, 0 = off */
	char *preshared_key_file;       /* NULL: no preshared key */
	unsigned line;                  /* where the peer starts, for messages */
};

enum { CONFIG_CRYPTO_THREADS_MAX = 16 };

struct config_line {
	char setting[96];
	unsigned line;
};

struct mg_config {
	char *source; /* the file name errors are reported against */

	char interface[IFNAMSIZ];
	uint16_t listen_port; /* 0 = a random port */
	char *private_key_file;
	char *state_dir;
	char *control_socket;
	/* Group given the control socket (mode 0660) when it exists; "": none,
	 * mode 0600. An explicit name must exist when the file is read. */
	char control_group[CONFIG_GROUP_MAX + 1];
	struct prefix_list addresses; /* host addresses with their prefix length */
	uint32_t mtu;
	char hostname[CONFIG_NAME_MAX + 1];
	/* The data plane's speed-ups: TUN and UDP segmentation offloads (each
	 * still probed at start), and how many threads share the per-packet
	 * crypto (0: one per online CPU, at most CONFIG_CRYPTO_THREADS_MAX; 1: the
	 * event loop's thread alone). MESHGATE_OFFLOADS / MESHGATE_CRYPTO_THREADS
	 * in the environment override both at start. */
	bool offloads;
	unsigned crypto_threads;

	struct config_peer *peers;
	size_t n_peers;

	bool accept_routes;

	struct {
		struct prefix_list routes; /* empty: not a subnet router */
		bool snat;
		/* Split DNS offered with the routes: queries for domain go to
		 * server (port 53 unless given). domain "": none. */
		struct {
			char domain[DNS_DOMAIN_MAX + 1]; /* lower case, no final dot */
			union sockaddr_inet server;
		} dns;
	} subnet_router;

	struct {
		bool enabled;
		char wan_interface[IFNAMSIZ]; /* "": the default route's interface */
		bool allow_private;
	} exit_node;

	struct {
		/* Name or mesh address of the exit node; "" = none. */
		char peer[CONFIG_NAME_MAX + 1];
		bool allow_lan_access;
	} use_exit_node;

	struct {
		bool enabled;
		struct sockaddr_list listen; /* numeric ip:port */
		/* web.listen left out: the node's addresses on port 8080 too. */
		bool listen_default;
	} web;

	struct {
		bool enabled;
		struct prefix prefix4;          /* an IPv4 network */
		struct prefix prefix6;          /* an IPv6 network */
		struct endpoint_list endpoints; /* advertised in invites; may be names */
		/* STUN servers asked for the public address (HOST:PORT); the
		 * defaults when the key is absent, none after `stun = []`. */
		struct endpoint_list stun;
		struct {
			struct prefix_list routes;
			bool exit_node;
		} auto_approve;
	} coordinator;

	char *join; /* invite code "mg1-..."; NULL: none */

	/* The mesh resolver (node_dns.h): enabled is each node's; domain
	 * and records count on the coordinator (members take its netmap's);
	 * upstream and manage_resolv_conf are each node's (node_dns.h,
	 * osresolver.h). */
	struct {
		bool enabled;
		char domain[DNS_DOMAIN_MAX + 1]; /* lower case, no final dot */
		/* Numeric ip:port (53 unless given); empty: the resolvers of
		 * resolv.conf when the node starts. */
		struct sockaddr_list upstream;
		struct dns_record *records;
		size_t n_records;
		bool manage_resolv_conf;
	} dns;

	/* The access policy (acl/acl.h); only the coordinator's counts.
	 * policy_present: the file has a policy section. */
	struct acl_policy policy;
	bool policy_present;

	/* Where each setting of the file was ("subnet_router.routes",
	 * "peers[1].allowed_ips"), for checks made after loading. */
	struct config_line *lines;
	size_t n_lines;
};

/*
 * Fills cfg with the built-in defaults (DESIGN.md). The host name defaults to
 * the system's, cut at the first dot. Returns 0 or -ENOMEM; release with
 * config_free() either way.
 */
int config_defaults(struct mg_config *cfg) __attribute__((warn_unused_result));

/*
 * Reads and validates path into cfg (defaults for what the file leaves out).
 * Returns 0, -ENOENT (and the like) when the file cannot be opened, or
 * -EINVAL; on error errbuf holds "FILE:LINE: message" lines (without a
 * final newline) and cfg is left empty. Release cfg with config_free().
 */
int config_load(const char *path, struct mg_config *cfg, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * As config_load() from a string; name stands for the file in messages.
 * "@include" directives are refused (the text has no directory).
 */
int config_load_string(const char *text, const char *name, struct mg_config *cfg, char *errbuf,
		       size_t errlen) __attribute__((warn_unused_result));

/* Releases what cfg owns and zeroes it; NULL-safe. */
void config_free(struct mg_config *cfg);

/* Whether name is a valid host, peer or device name: 1 to CONFIG_NAME_MAX
 * letters, digits, '-', '_' or '.', and not digits and dots alone. */
bool config_name_valid(const char *name);

/*
 * Checks the peers against this node's own public key (known only after the
 * private key file is read). Returns 0 or -EINVAL with "FILE:LINE: ..."
 * in errbuf.
 */
int config_check_own_key(const struct mg_config *cfg, const uint8_t public_key[KEY_LEN],
			 char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The line of setting in the file (as named in messages), or 0. */
unsigned config_line(const struct mg_config *cfg, const char *setting);

/* The peer with this public key, or NULL. */
const struct config_peer *config_peer_find(const struct mg_config *cfg,
					   const uint8_t public_key[KEY_LEN]);

/*
 * For the reload diff, where peers are matched by public key: true if a and
 * b agree on everything the engine uses (endpoint, allowed_ips as a set,
 * keepalive, preshared key file). The name is not compared: a rename needs
 * no engine change, only a copy.
 */
bool config_peer_equal(const struct config_peer *a, const struct config_peer *b);

#endif
