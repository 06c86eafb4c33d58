/*
 * Allowed IPs: path-compressed binary tries for longest-prefix match.
 *
 * Addresses are handled as 128-bit numbers in host order, two 64-bit words
 * (IPv4 sits in the top 32 bits of the first word, the rest zero), so one
 * node layout and one set of bit helpers serve both families. Bit 0 is the
 * most significant bit of the address; a node of prefix length cidr branches
 * on bit cidr.
 *
 * Trie invariants:
 *   - node->key is masked to node->cidr (bits past cidr are zero);
 *   - every child extends its parent's prefix and has a longer cidr, and sits
 *     in parent->bit[b] where b is its bit at position parent->cidr;
 *   - a node without a peer has exactly two children (it only joins them).
 */
#include "wg/allowedips.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct allowedips_node {
	uint64_t key[2];  /* masked prefix, host order */
	uint64_t mask[2]; /* cidr leading one bits, precomputed for lookup */
	struct allowedips_node *bit[2];
	struct allowedips_node *parent; /* NULL for a root */
	void *peer;                     /* NULL: an internal joining node */
	uint8_t cidr;
};

struct addr128 {
	uint64_t w[2];
};

static struct allowedips_node **family_root(struct allowedips *table, int family)
{
	return family == AF_INET ? &table->root4 : &table->root6;
}

/* Address width in bits, or 0 for an unsupported family. */
static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static struct addr128 addr_load(int family, const uint8_t *ip)
{
	struct addr128 a = { { 0, 0 } };
	if (family == AF_INET) {
		uint32_t v;
		memcpy(&v, ip, 4);
		a.w[0] = (uint64_t)be32toh(v) << 32;
	} else {
		memcpy(a.w, ip, 16);
		a.w[0] = be64toh(a.w[0]);
		a.w[1] = be64toh(a.w[1]);
	}
	return a;
}

static void addr_store(int family, const struct addr128 *a, uint8_t *ip)
{
	if (family == AF_INET) {
		uint32_t v = htobe32((uint32_t)(a->w[0] >> 32));
		memcpy(ip, &v, 4);
	} else {
		uint64_t w[2] = { htobe64(a->w[0]), htobe64(a->w[1]) };
		memcpy(ip, w, 16);
	}
}

/* The mask of cidr leading one bits in a 128-bit address, cidr <= 128. */
static struct addr128 mask_of(unsigned cidr)
{
	struct addr128 m;
	m.w[0] = cidr == 0 ? 0 : cidr >= 64 ? UINT64_MAX : UINT64_MAX << (64 - cidr);
	m.w[1] = cidr <= 64 ? 0 : cidr == 128 ? UINT64_MAX : UINT64_MAX << (128 - cidr);
	return m;
}

/* Bit pos (0 = most significant) of a; pos 128 reads as bit 0, which is
 * harmless because a /128 node has no children. */
static unsigned addr_bit(const uint64_t *w, unsigned pos)
{
	pos &= 127;
	return (unsigned)(w[pos >> 6] >> (63 - (pos & 63))) & 1;
}

/* Number of leading bits a and b share, 0..128. */
static unsigned common_bits(const uint64_t *a, const uint64_t *b)
{
	uint64_t x0 = a[0] ^ b[0], x1 = a[1] ^ b[1];
	if (x0)
		return (unsigned)__builtin_clzll(x0);
	if (x1)
		return 64 + (unsigned)__builtin_clzll(x1);
	return 128;
}

static bool prefix_matches(const struct allowedips_node *node, const uint64_t *key)
{
	return (((key[0] ^ node->key[0]) & node->mask[0]) |
		((key[1] ^ node->key[1]) & node->mask[1])) == 0;
}

static struct allowedips_node *node_new(const struct addr128 *key, unsigned cidr, void *peer)
{
	struct allowedips_node *node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	struct addr128 m = mask_of(cidr);
	node->mask[0] = m.w[0];
	node->mask[1] = m.w[1];
	node->key[0] = key->w[0] & m.w[0];
	node->key[1] = key->w[1] & m.w[1];
	node->cidr = (uint8_t)cidr;
	node->peer = peer;
	return node;
}

/* Hangs child under parent (or at the root when parent is NULL). */
static void node_connect(struct allowedips_node **root, struct allowedips_node *parent,
			 struct allowedips_node *child)
{
	if (parent)
		parent->bit[addr_bit(child->key, parent->cidr)] = child;
	else
		*root = child;
	child->parent = parent;
}

/* The pointer that holds node: its parent's child slot or the root. */
static struct allowedips_node **node_slot(struct allowedips_node **root,
					  struct allowedips_node *node)
{
	struct allowedips_node *parent = node->parent;
	if (!parent)
		return root;
	return &parent->bit[parent->bit[1] == node];
}

/*
 * Frees node if it is peerless with fewer than two children, moving its only
 * child (if any) into its place. Returns true if node was freed.
 */
static bool node_prune(struct allowedips_node **root, struct allowedips_node *node)
{
	if (node->peer || (node->bit[0] && node->bit[1]))
		return false;
	struct allowedips_node *child = node->bit[0] ? node->bit[0] : node->bit[1];
	*node_slot(root, node) = child;
	if (child)
		child->parent = node->parent;
	free(node);
	return true;
}

/* Clears node's peer and restores the invariant. A leaf's removal can leave
 * its peerless parent with one child, so the parent is pruned too; that never
 * changes the grandparent's child count, so it stops there. */
static void node_remove(struct allowedips *table, struct allowedips_node **root,
			struct allowedips_node *node)
{
	struct allowedips_node *parent = node->parent;
	node->peer = NULL;
	table->count--;
	if (node_prune(root, node) && parent)
		node_prune(root, parent);
}

/*
 * Walks down while nodes are prefixes of key/cidr. Returns the deepest such
 * node (NULL if none); *exact says whether it is key/cidr itself.
 */
static struct allowedips_node *node_placement(struct allowedips_node *node, const uint64_t *key,
					      unsigned cidr, bool *exact)
{
	struct allowedips_node *parent = NULL;
	*exact = false;
	while (node && node->cidr <= cidr && prefix_matches(node, key)) {
		parent = node;
		if (node->cidr == cidr) {
			*exact = true;
			break;
		}
		node = node->bit[addr_bit(key, node->cidr)];
	}
	return parent;
}

/* Links a new node for key/cidr below parent, whose child slot on the way to
 * key is down (non-NULL). Adds a joining node where the two diverge. */
static int node_link_split(struct allowedips_node **root, struct allowedips_node *parent,
			   struct allowedips_node *down, struct allowedips_node *newnode)
{
	unsigned common = common_bits(down->key, newnode->key);
	if (common >= newnode->cidr) {
		/* newnode is a prefix of down: it goes between parent and down. */
		node_connect(root, newnode, down);
		node_connect(root, parent, newnode);
		return 0;
	}
	/* They diverge at bit common (< both cidrs): join them there. */
	struct addr128 key = { { newnode->key[0], newnode->key[1] } };
	struct allowedips_node *join = node_new(&key, common, NULL);
	if (!join)
		return -ENOMEM;
	node_connect(root, join, down);
	node_connect(root, join, newnode);
	node_connect(root, parent, join);
	return 0;
}

int allowedips_insert(struct allowedips *table, int family, const uint8_t *ip, uint8_t cidr,
		      void *peer)
{
	unsigned bits = family_bits(family);
	if (!bits || cidr > bits || !peer)
		return -EINVAL;

	struct allowedips_node **root = family_root(table, family);
	struct addr128 key = addr_load(family, ip), m = mask_of(cidr);
	key.w[0] &= m.w[0];
	key.w[1] &= m.w[1];

	bool exact;
	struct allowedips_node *parent = node_placement(*root, key.w, cidr, &exact);
	if (exact) {
		if (!parent->peer)
			table->count++;
		parent->peer = peer;
		return 0;
	}

	struct allowedips_node *newnode = node_new(&key, cidr, peer);
	if (!newnode)
		return -ENOMEM;
	struct allowedips_node *down = parent ? parent->bit[addr_bit(key.w, parent->cidr)] : *root;
	if (!down) {
		node_connect(root, parent, newnode);
	} else if (node_link_split(root, parent, down, newnode) < 0) {
		free(newnode);
		return -ENOMEM;
	}
	table->count++;
	return 0;
}

int allowedips_remove(struct allowedips *table, int family, const uint8_t *ip, uint8_t cidr,
		      void *peer)
{
	unsigned bits = family_bits(family);
	if (!bits || cidr > bits)
		return -EINVAL;

	struct allowedips_node **root = family_root(table, family);
	struct addr128 key = addr_load(family, ip), m = mask_of(cidr);
	key.w[0] &= m.w[0];
	key.w[1] &= m.w[1];

	bool exact;
	struct allowedips_node *node = node_placement(*root, key.w, cidr, &exact);
	if (!exact || !peer || node->peer != peer)
		return -ENOENT;
	node_remove(table, root, node);
	return 0;
}

/* Post-order traversal through parent links: a node comes after its whole
 * subtree, so a subtree can be rewritten before its root is visited. */
static struct allowedips_node *postorder_first(struct allowedips_node *node)
{
	while (node && (node->bit[0] || node->bit[1]))
		node = node->bit[0] ? node->bit[0] : node->bit[1];
	return node;
}

static struct allowedips_node *postorder_next(const struct allowedips_node *node)
{
	struct allowedips_node *parent = node->parent;
	if (parent && parent->bit[0] == node && parent->bit[1])
		return postorder_first(parent->bit[1]);
	return parent;
}

/* Clears peer's nodes and prunes bottom-up in one pass. The successor is
 * taken before a node is pruned; pruning only rewrites the slot holding the
 * node, which the successor computation no longer needs. */
static void trie_remove_peer(struct allowedips *table, struct allowedips_node **root, void *peer)
{
	struct allowedips_node *node = postorder_first(*root);
	while (node) {
		struct allowedips_node *next = postorder_next(node);
		if (node->peer == peer) {
			node->peer = NULL;
			table->count--;
		}
		node_prune(root, node);
		node = next;
	}
}

void allowedips_remove_by_peer(struct allowedips *table, void *peer)
{
	if (!peer)
		return;
	trie_remove_peer(table, &table->root4, peer);
	trie_remove_peer(table, &table->root6, peer);
}

/* Frees a trie leaf by leaf, climbing back through parent links. */
static void trie_free(struct allowedips_node *node)
{
	while (node) {
		if (node->bit[0] || node->bit[1]) {
			node = node->bit[0] ? node->bit[0] : node->bit[1];
			continue;
		}
		struct allowedips_node *parent = node->parent;
		if (parent)
			parent->bit[parent->bit[1] == node] = NULL;
		free(node);
		node = parent;
	}
}

void allowedips_init(struct allowedips *table)
{
	table->root4 = NULL;
	table->root6 = NULL;
	table->count = 0;
}

void allowedips_free(struct allowedips *table)
{
	trie_free(table->root4);
	trie_free(table->root6);
	allowedips_init(table);
}

void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *ip)
{
	const struct allowedips_node *node;
	if (family == AF_INET)
		node = table->root4;
	else if (family == AF_INET6)
		node = table->root6;
	else
		return NULL;

	struct addr128 key = addr_load(family, ip);
	void *found = NULL;
	/* Each step goes one level deeper with a strictly longer cidr. */
	while (node && prefix_matches(node, key.w)) {
		if (node->peer)
			found = node->peer;
		node = node->bit[addr_bit(key.w, node->cidr)];
	}
	return found;
}

bool allowedips_match(const struct allowedips *table, int family, const uint8_t *ip,
		      const void *peer)
{
	return peer && allowedips_lookup(table, family, ip) == peer;
}

/* Pre-order (node, then bit 0 subtree, then bit 1 subtree) visits prefixes
 * sorted by masked address, then by cidr. */
static const struct allowedips_node *preorder_next(const struct allowedips_node *node)
{
	if (node->bit[0])
		return node->bit[0];
	if (node->bit[1])
		return node->bit[1];
	for (const struct allowedips_node *parent; (parent = node->parent); node = parent) {
		if (parent->bit[0] == node && parent->bit[1])
			return parent->bit[1];
	}
	return NULL;
}

static int trie_walk_peer(const struct allowedips_node *node, int family, void *peer,
			  int (*fn)(void *, int, const uint8_t *, uint8_t), void *ctx)
{
	for (; node; node = preorder_next(node)) {
		if (node->peer != peer)
			continue;
		uint8_t ip[16];
		struct addr128 key = { { node->key[0], node->key[1] } };
		addr_store(family, &key, ip);
		int ret = fn(ctx, family, ip, node->cidr);
		if (ret)
			return ret;
	}
	return 0;
}

int allowedips_walk_by_peer(const struct allowedips *table, void *peer,
			    int (*fn)(void *ctx, int family, const uint8_t *ip, uint8_t cidr),
			    void *ctx)
{
	if (!peer)
		return 0;
	int ret = trie_walk_peer(table->root4, AF_INET, peer, fn, ctx);
	if (!ret)
		ret = trie_walk_peer(table->root6, AF_INET6, peer, fn, ctx);
	return ret;
}

size_t allowedips_count(const struct allowedips *table)
{
	return table->count;
}

/* A node is consistent with its parent link, mask and children. */
static bool node_check(const struct allowedips_node *node, unsigned bits)
{
	struct addr128 m = mask_of(node->cidr);
	if (node->cidr > bits || node->mask[0] != m.w[0] || node->mask[1] != m.w[1] ||
	    (node->key[0] & ~m.w[0]) || (node->key[1] & ~m.w[1]))
		return false;
	if (!node->peer && !(node->bit[0] && node->bit[1]))
		return false;
	for (unsigned b = 0; b < 2; b++) {
		const struct allowedips_node *child = node->bit[b];
		if (child &&
		    (child->parent != node || child->cidr <= node->cidr ||
		     !prefix_matches(node, child->key) || addr_bit(child->key, node->cidr) != b))
			return false;
	}
	return true;
}

static bool trie_check(const struct allowedips_node *root, unsigned bits, size_t *count)
{
	if (root && root->parent)
		return false;
	for (const struct allowedips_node *node = root; node; node = preorder_next(node)) {
		if (!node_check(node, bits))
			return false;
		*count += node->peer != NULL;
	}
	return true;
}

bool allowedips_check(const struct allowedips *table)
{
	size_t count = 0;
	return trie_check(table->root4, 32, &count) && trie_check(table->root6, 128, &count) &&
	       count == table->count;
}
