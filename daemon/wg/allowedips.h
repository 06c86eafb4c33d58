/*
 * Allowed IPs: the cryptokey routing table.
 *
 * Maps IPv4 and IPv6 prefixes to peers with longest-prefix match, as the
 * whitepaper's cryptokey routing: a packet to send goes to the peer owning
 * the longest prefix that contains its destination; a decrypted packet is
 * accepted only if the longest prefix containing its source belongs to the
 * peer it came from.
 *
 * One path-compressed binary trie per family (as Linux allowedips.c): every
 * node holds a masked prefix; a node without a peer exists only to join two
 * subtrees (invariant: a peerless node has exactly two children). Depth is
 * bounded by the address width (33 or 129 levels).
 *
 * Not thread-safe: the owner (the event loop) serialises all calls.
 * Peers are opaque pointers; the table never dereferences them.
 */
#ifndef MESHGATE_WG_ALLOWEDIPS_H
#define MESHGATE_WG_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allowedips_node;

struct allowedips {
	struct allowedips_node *root4; /* IPv4 trie, NULL when empty */
	struct allowedips_node *root6; /* IPv6 trie, NULL when empty */
	size_t count;                  /* prefixes (nodes with a peer) in both tries */
};

/* Makes an empty table. Needs no allowedips_free() until something is inserted,
 * but calling it is always fine. */
void allowedips_init(struct allowedips *table);

/* Frees every node; the table is empty (and reusable) afterwards. */
void allowedips_free(struct allowedips *table);

/*
 * Maps ip/cidr to peer, replacing the owner if the prefix exists. family is
 * AF_INET (ip is 4 bytes, cidr <= 32) or AF_INET6 (16 bytes, cidr <= 128);
 * host bits beyond cidr are ignored. peer must not be NULL.
 * Returns 0, -EINVAL (bad family, cidr or NULL peer) or -ENOMEM (table unchanged).
 */
int allowedips_insert(struct allowedips *table, int family, const uint8_t *ip, uint8_t cidr,
		      void *peer) __attribute__((warn_unused_result));

/* Removes ip/cidr only if it is mapped to peer. Returns 0, -ENOENT (absent or
 * owned by another peer) or -EINVAL (bad family or cidr). */
int allowedips_remove(struct allowedips *table, int family, const uint8_t *ip, uint8_t cidr,
		      void *peer);

/* Removes every prefix of peer. One pass over the whole table (O(nodes)),
 * no allocation: meant for peer removal and reconfiguration, not per packet. */
void allowedips_remove_by_peer(struct allowedips *table, void *peer);

/* Longest-prefix match of ip (4 or 16 bytes by family); NULL if nothing
 * matches or family is unknown. Hot path: no allocation, no recursion. */
void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *ip);

/* Convenience for the receive check: true if ip's longest match is peer. */
bool allowedips_match(const struct allowedips *table, int family, const uint8_t *ip,
		      const void *peer);

/*
 * Calls fn for each prefix of peer, IPv4 first, then by address, then by
 * cidr (shorter first); ip is the masked prefix (4 or 16 bytes) and valid only
 * during the call. Stops at the first non-zero return of fn and returns it;
 * 0 after a full walk. fn must not modify the table. One pass over the whole
 * table (O(nodes)), no allocation.
 */
int allowedips_walk_by_peer(const struct allowedips *table, void *peer,
			    int (*fn)(void *ctx, int family, const uint8_t *ip, uint8_t cidr),
			    void *ctx);

/* Number of prefixes in the table (both families). */
size_t allowedips_count(const struct allowedips *table);

/* Verifies the trie invariants and the count, for tests and fuzzing. O(nodes). */
bool allowedips_check(const struct allowedips *table);

#endif
