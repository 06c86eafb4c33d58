/* A member's table of device requests; see devreq.h. */
#include "mesh/devreq.h"

#include <stdio.h>
#include <string.h>

#define DEVREQ_NS 1000000000ULL

static void slot_clear(struct devreq *d)
{
	json_decref(d->device);
	json_decref(d->warnings);
	memset(d, 0, sizeof(*d));
}

void devreq_init(struct devreq_table *t, uint32_t first)
{
	memset(t, 0, sizeof(*t));
	t->next = first ? first : 1;
}

void devreq_free(struct devreq_table *t)
{
	for (size_t i = 0; i < DEVREQ_SLOTS; i++)
		slot_clear(&t->v[i]);
}

static void outcome(struct devreq *d, enum devreq_state state, uint64_t now)
{
	d->state = state;
	d->since = now;
	d->deadline = now + DEVREQ_KEEP_S * DEVREQ_NS;
}

static void fail(struct devreq *d, const char *error, uint64_t now)
{
	snprintf(d->error, sizeof(d->error), "%s", error);
	outcome(d, DEVREQ_FAILED, now);
}

void devreq_expire(struct devreq_table *t, uint64_t now)
{
	for (size_t i = 0; i < DEVREQ_SLOTS; i++) {
		struct devreq *d = &t->v[i];

		if (d->state == DEVREQ_PENDING && now >= d->deadline)
			fail(d, "the coordinator did not answer", now);
		else if (d->state != DEVREQ_FREE && d->state != DEVREQ_PENDING &&
			 now >= d->deadline)
			slot_clear(d);
	}
}

/* A free slot, else the oldest outcome; NULL when all wait. */
static struct devreq *slot_take(struct devreq_table *t)
{
	struct devreq *oldest = NULL;

	for (size_t i = 0; i < DEVREQ_SLOTS; i++) {
		struct devreq *d = &t->v[i];

		if (d->state == DEVREQ_FREE)
			return d;
		if (d->state != DEVREQ_PENDING && (!oldest || d->since < oldest->since))
			oldest = d;
	}
	if (oldest)
		slot_clear(oldest);
	return oldest;
}

struct devreq *devreq_open(struct devreq_table *t, const struct devmsg_request *msg, uint64_t now)
{
	struct devreq *d;

	devreq_expire(t, now);
	d = slot_take(t);
	if (!d)
		return NULL;
	d->msg = *msg;
	d->msg.req = t->next;
	t->next = t->next == UINT32_MAX ? 1 : t->next + 1;
	d->state = DEVREQ_PENDING;
	d->deadline = now + DEVREQ_TIMEOUT_S * DEVREQ_NS;
	return d;
}

void devreq_drop(struct devreq *d)
{
	slot_clear(d);
}

struct devreq *devreq_find(struct devreq_table *t, uint32_t req, uint64_t now)
{
	devreq_expire(t, now);
	for (size_t i = 0; req && i < DEVREQ_SLOTS; i++)
		if (t->v[i].state != DEVREQ_FREE && t->v[i].msg.req == req)
			return &t->v[i];
	return NULL;
}

bool devreq_answer(struct devreq_table *t, const struct devmsg_reply *r, uint64_t now)
{
	struct devreq *d = devreq_find(t, r->req, now);

	if (!d || d->state != DEVREQ_PENDING)
		return false;
	if (r->error[0]) {
		fail(d, r->error, now);
		return true;
	}
	if (d->msg.kind == DEVMSG_ADD && !r->device) {
		fail(d, "the coordinator's answer has no device", now);
		return true;
	}
	d->device = r->device ? json_deep_copy(r->device) : NULL;
	d->warnings = r->warnings ? json_deep_copy(r->warnings) : NULL;
	if (d->msg.kind == DEVMSG_ADD && !d->device)
		fail(d, "out of memory", now);
	else
		outcome(d, DEVREQ_DONE, now);
	return true;
}

void devreq_fail_pending(struct devreq_table *t, const char *error, uint64_t now)
{
	for (size_t i = 0; i < DEVREQ_SLOTS; i++)
		if (t->v[i].state == DEVREQ_PENDING)
			fail(&t->v[i], error, now);
}
