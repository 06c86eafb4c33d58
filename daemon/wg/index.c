/* The index table; see index.h. */
#include "wg/index.h"

#include <errno.h>
#include <stdlib.h>

/* Index 0 never names anything, so a zero slot means "free". */

int index_table_init(struct index_table *table, uint32_t capacity)
{
	uint32_t cap = 16;

	while (cap < capacity)
		cap <<= 1;
	table->slots = calloc(cap, sizeof(*table->slots));
	if (!table->slots)
		return -ENOMEM;
	table->mask = cap - 1;
	table->count = 0;
	return 0;
}

void index_table_free(struct index_table *table)
{
	free(table->slots);
	table->slots = NULL;
	table->mask = 0;
	table->count = 0;
}

static struct index_entry *find_slot(const struct index_table *table, uint32_t index)
{
	for (uint32_t i = index & table->mask;; i = (i + 1) & table->mask) {
		struct index_entry *e = &table->slots[i];
		if (e->kind == INDEX_FREE || e->index == index)
			return e;
	}
}

int index_table_reserve(struct index_table *table, uint32_t entries)
{
	struct index_table bigger;
	int ret;

	if ((uint64_t)entries * 2 <= (uint64_t)table->mask + 1)
		return 0;
	ret = index_table_init(&bigger, entries * 2);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; i <= table->mask; i++) {
		const struct index_entry *e = &table->slots[i];
		if (e->kind != INDEX_FREE) {
			*find_slot(&bigger, e->index) = *e;
			bigger.count++;
		}
	}
	index_table_free(table);
	*table = bigger;
	return 0;
}

int index_table_insert(struct index_table *table, uint32_t index, enum index_kind kind,
		       struct wg_peer *peer, struct keypair *keypair)
{
	struct index_entry *e;

	if (index == 0)
		return -EEXIST;
	/* Keep one slot free at the very least so probes terminate. */
	if (table->count + 1 > table->mask)
		return -ENOSPC;
	e = find_slot(table, index);
	if (e->kind != INDEX_FREE)
		return -EEXIST;
	*e = (struct index_entry){ .index = index, .kind = kind, .peer = peer, .keypair = keypair };
	table->count++;
	return 0;
}

void index_table_remove(struct index_table *table, uint32_t index)
{
	struct index_entry *hole = find_slot(table, index);
	uint32_t i, j;

	if (hole->kind == INDEX_FREE)
		return;
	table->count--;
	/* Backward-shift deletion: move later entries of the probe run into the
	 * hole when their home slot does not lie between the hole and them. */
	i = (uint32_t)(hole - table->slots);
	for (j = (i + 1) & table->mask; table->slots[j].kind != INDEX_FREE;
	     j = (j + 1) & table->mask) {
		uint32_t home = table->slots[j].index & table->mask;
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			table->slots[i] = table->slots[j];
			i = j;
		}
	}
	table->slots[i] = (struct index_entry){ 0 };
}

const struct index_entry *index_table_lookup(const struct index_table *table, uint32_t index,
					     unsigned kinds_mask)
{
	const struct index_entry *e;

	if (index == 0)
		return NULL;
	e = find_slot(table, index);
	if (e->kind == INDEX_FREE || !(kinds_mask & (1u << e->kind)))
		return NULL;
	return e;
}
