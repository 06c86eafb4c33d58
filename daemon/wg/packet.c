/* Batch allocation; see packet.h. */
#include "wg/packet.h"

#include <stdlib.h>
#include <string.h>

struct pkt_batch *pkt_batch_new(unsigned cap, uint32_t slot_size)
{
	struct pkt_batch *batch = calloc(1, sizeof(*batch));
	uint8_t *mem;

	if (!batch || slot_size <= PKT_HEADROOM)
		goto err;
	batch->pkts = calloc(cap, sizeof(*batch->pkts));
	mem = malloc((size_t)cap * slot_size);
	if (!batch->pkts || !mem) {
		free(mem);
		goto err;
	}
	batch->cap = cap;
	for (unsigned i = 0; i < cap; i++) {
		batch->pkts[i].buf = mem + (size_t)i * slot_size;
		batch->pkts[i].cap = slot_size;
		pkt_reset(&batch->pkts[i]);
	}
	return batch;
err:
	if (batch)
		free(batch->pkts);
	free(batch);
	return NULL;
}

void pkt_batch_free(struct pkt_batch *batch)
{
	uint8_t *mem;

	if (!batch)
		return;
	/* Owners may permute the slots (a staged queue rotates them), so the
	 * allocation starts at the lowest buf, not necessarily at pkts[0]. */
	mem = batch->cap ? batch->pkts[0].buf : NULL;
	for (unsigned i = 1; i < batch->cap; i++)
		if (batch->pkts[i].buf < mem)
			mem = batch->pkts[i].buf;
	free(mem);
	free(batch->pkts);
	free(batch);
}

bool wg_endpoint_same_path(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family || a->relay_via != b->relay_via)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	if (a->addr.sa.sa_family == AF_INET6)
		return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
		       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
		       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
			       sizeof(a->addr.in6.sin6_addr));
	return false;
}
