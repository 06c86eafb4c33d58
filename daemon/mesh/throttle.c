/* Per-node limits of the control channel; see throttle.h. */
#include "mesh/throttle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* Brings the credit up to now; a first use starts full. now > 0. */
static void refill(struct throttle_bucket *b, uint64_t now, uint64_t interval, unsigned burst)
{
	uint64_t cap = interval * burst;

	if (!b->last)
		b->credit = cap;
	else if (now > b->last)
		b->credit = now - b->last >= cap - b->credit ? cap : b->credit + (now - b->last);
	if (!b->last || now > b->last)
		b->last = now;
}

bool throttle_bucket_take(struct throttle_bucket *b, uint64_t now, uint64_t interval,
			  unsigned burst)
{
	refill(b, now, interval, burst);
	if (b->credit < interval)
		return false;
	b->credit -= interval;
	return true;
}

uint64_t throttle_bucket_ready(const struct throttle_bucket *b, uint64_t now, uint64_t interval,
			       unsigned burst)
{
	struct throttle_bucket copy = *b;

	refill(&copy, now, interval, burst);
	return copy.credit >= interval ? now : now + (interval - copy.credit);
}

struct throttle_node *throttle_node(struct throttle *t, uint32_t node_id)
{
	struct throttle_node *grown;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].node_id == node_id)
			return &t->v[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		grown = realloc(t->v, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		t->v = grown;
		t->cap = cap;
	}
	t->v[t->n] = (struct throttle_node){ .node_id = node_id };
	return &t->v[t->n++];
}

int throttle_defer(struct throttle_node *tn, const struct mesh_hello *hello, uint64_t due)
{
	if (!tn->pending)
		tn->pending = malloc(sizeof(*tn->pending));
	if (!tn->pending)
		return -ENOMEM;
	if (tn->pending != hello)
		memcpy(tn->pending, hello, sizeof(*hello));
	tn->pending_due = due;
	return 0;
}

void throttle_clear(struct throttle_node *tn)
{
	free(tn->pending);
	tn->pending = NULL;
	tn->pending_due = 0;
}

bool throttle_endpoints_allowed(const struct throttle_node *tn, uint64_t now)
{
	return !tn->endpoints_at ||
	       now - tn->endpoints_at >= THROTTLE_ENDPOINT_INTERVAL_S * NSEC_PER_SEC;
}

void throttle_forget(struct throttle *t, uint32_t node_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].node_id == node_id) {
			throttle_clear(&t->v[i]);
			t->v[i] = t->v[--t->n];
			return;
		}
}

void throttle_free(struct throttle *t)
{
	for (size_t i = 0; i < t->n; i++)
		throttle_clear(&t->v[i]);
	free(t->v);
	*t = (struct throttle){ 0 };
}
