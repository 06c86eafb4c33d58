/*
 * The index table: maps the 32-bit indices we hand to peers (sender_index in
 * our handshake messages, later the receiver index of their data messages)
 * back to the handshake or keypair they name.
 *
 * Open addressing with linear probing and backward-shift deletion; the table
 * grows on the control path (peer added), never while packets are handled.
 * Indices are random, so the low bits are a good hash.
 */
#ifndef MESHGATE_WG_INDEX_H
#define MESHGATE_WG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_peer;
struct keypair;

enum index_kind { INDEX_FREE = 0, INDEX_HANDSHAKE = 1, INDEX_KEYPAIR = 2 };

struct index_entry {
	uint32_t index;
	enum index_kind kind;
	struct wg_peer *peer;
	struct keypair *keypair; /* INDEX_KEYPAIR only */
};

struct index_table {
	struct index_entry *slots;
	uint32_t mask; /* capacity - 1; capacity is a power of two */
	uint32_t count;
};

int index_table_init(struct index_table *table, uint32_t capacity);
void index_table_free(struct index_table *table);

/* Makes room for at least `entries` live entries at load factor <= 1/2. */
int index_table_reserve(struct index_table *table, uint32_t entries);

/* Inserts index (which must not be present). -ENOSPC when full, -EEXIST when
 * the index is taken (the caller draws another random index). */
int index_table_insert(struct index_table *table, uint32_t index, enum index_kind kind,
		       struct wg_peer *peer, struct keypair *keypair);

/* Removes index if present. */
void index_table_remove(struct index_table *table, uint32_t index);

/* Returns the entry for index if its kind is one of kinds_mask (a bit set of
 * 1 << enum index_kind), else NULL. Hot path: used for every data message. */
const struct index_entry *index_table_lookup(const struct index_table *table, uint32_t index,
					     unsigned kinds_mask);

#endif
