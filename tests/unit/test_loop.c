/*
 * The event loop's timers (daemon/loop.c) on the real monotonic clock, with
 * deadlines already passed or a few milliseconds ahead, so nothing depends on
 * how fast the machine is: due timers fire in deadline order (equal
 * deadlines in the order set), a timer set again or cancelled does not fire
 * at its old deadline, a callback may cancel itself, a later due timer or
 * set itself again (it then fires in the next round, not the same one), and
 * many timers in random order come out sorted.
 */
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "testlib.h"

#define MS 1000000ULL

struct rig {
	struct loop *loop;
	struct loop_timer *timers[600];
	int order[600];
	int fired;
	int stop_after; /* loop_stop() once this many fired */
	int rounds;     /* idle callbacks seen */
	int rearm_left; /* timer 0 sets itself again this many times */
	int cancel;     /* timer 0 cancels this timer (-1: none) */
	bool self_del;  /* timer 0 deletes itself */
};

struct tctx {
	struct rig *r;
	int id;
};

static struct tctx ctxs[600];

static void on_timer(void *ctx)
{
	struct tctx *c = ctx;
	struct rig *r = c->r;

	r->order[r->fired++] = c->id;
	if (c->id == 0 && r->cancel >= 0)
		loop_timer_del(r->loop, r->timers[r->cancel]), r->timers[r->cancel] = NULL;
	if (c->id == 0 && r->self_del)
		loop_timer_del(r->loop, r->timers[0]), r->timers[0] = NULL;
	if (c->id == 0 && r->rearm_left > 0) {
		r->rearm_left--;
		loop_timer_set(r->loop, r->timers[0], 0);
	}
	if (r->fired >= r->stop_after)
		loop_stop(r->loop);
}

static void on_idle(void *ctx)
{
	((struct rig *)ctx)->rounds++;
}

static void on_bound(void *ctx)
{
	loop_stop(ctx);
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop_new();
	r->cancel = -1;
	loop_set_idle(r->loop, on_idle, r);
}

static struct loop_timer *rig_add(struct rig *r, int id, uint64_t deadline)
{
	ctxs[id] = (struct tctx){ r, id };
	r->timers[id] = loop_timer_add(r->loop, deadline, on_timer, &ctxs[id]);
	return r->timers[id];
}

/* Runs until stop_after timers fired; a 10 s bound ends a broken run. */
static void rig_run(struct rig *r, int stop_after)
{
	struct loop_timer *bound =
	    loop_timer_add(r->loop, loop_now() + 10000 * MS, on_bound, r->loop);

	r->stop_after = stop_after;
	loop_run(r->loop);
	loop_timer_del(r->loop, bound);
}

static void rig_free(struct rig *r)
{
	for (size_t i = 0; i < sizeof(r->timers) / sizeof(r->timers[0]); i++)
		loop_timer_del(r->loop, r->timers[i]);
	loop_free(r->loop);
}

static void test_order(void)
{
	struct rig r;
	uint64_t now = loop_now();

	rig_init(&r);
	rig_add(&r, 3, now - 1 * MS);
	rig_add(&r, 1, now - 3 * MS);
	rig_add(&r, 4, now - 1 * MS); /* equal to 3's: after it */
	rig_add(&r, 2, now - 2 * MS);
	rig_add(&r, 5, 0);
	rig_run(&r, 5);
	CHECK_EQ_INT(r.fired, 5);
	CHECK_EQ_INT(r.order[0], 5);
	CHECK_EQ_INT(r.order[1], 1);
	CHECK_EQ_INT(r.order[2], 2);
	CHECK_EQ_INT(r.order[3], 3);
	CHECK_EQ_INT(r.order[4], 4);
	/* A timer that fired is disarmed. */
	CHECK_EQ_INT(loop_timer_deadline(r.timers[1]), UINT64_MAX);
	rig_free(&r);
}

static void test_rearm(void)
{
	struct rig r;
	uint64_t now = loop_now();

	rig_init(&r);
	rig_add(&r, 1, now + 60000 * MS);
	rig_add(&r, 2, now + 5 * MS);
	rig_add(&r, 3, UINT64_MAX);
	CHECK_EQ_INT(loop_timer_deadline(r.timers[3]), UINT64_MAX);
	loop_timer_set(r.loop, r.timers[1], now + 1 * MS); /* earlier: comes first */
	loop_timer_set(r.loop, r.timers[2], UINT64_MAX);   /* disarmed: never */
	loop_timer_set(r.loop, r.timers[3], now + 2 * MS);
	CHECK_EQ_INT(loop_timer_deadline(r.timers[3]), now + 2 * MS);
	rig_run(&r, 2);
	CHECK_EQ_INT(r.fired, 2);
	CHECK_EQ_INT(r.order[0], 1);
	CHECK_EQ_INT(r.order[1], 3);
	/* Nothing else is armed: the bound ends the next run, nothing fires. */
	r.timers[4] = loop_timer_add(r.loop, loop_now() + 20 * MS, on_bound, r.loop);
	rig_run(&r, 100);
	CHECK_EQ_INT(r.fired, 2);
	rig_free(&r);
}

static void test_cancel_in_callback(void)
{
	struct rig r;
	uint64_t now = loop_now();

	rig_init(&r);
	rig_add(&r, 0, now - 3 * MS);
	rig_add(&r, 1, now - 2 * MS); /* due in the same round: cancelled by 0 */
	rig_add(&r, 2, now - 1 * MS);
	r.cancel = 1;
	r.self_del = true;
	rig_run(&r, 2);
	CHECK_EQ_INT(r.fired, 2);
	CHECK_EQ_INT(r.order[0], 0);
	CHECK_EQ_INT(r.order[1], 2);
	CHECK(r.timers[0] == NULL && r.timers[1] == NULL);
	rig_free(&r);
}

static void test_rearm_in_callback(void)
{
	struct rig r;

	rig_init(&r);
	rig_add(&r, 0, 0);
	r.rearm_left = 3;
	rig_run(&r, 4);
	CHECK_EQ_INT(r.fired, 4);
	/* Once per round: each new deadline waits for the next. */
	CHECK(r.rounds >= 3);
	rig_free(&r);
}

static void test_many(void)
{
	struct rig r;
	struct test_rng rng = { test_seed() };
	uint64_t now = loop_now();
	int n = 500, deleted = 0;
	uint64_t want[601];
	bool ok = true;

	rig_init(&r);
	for (int i = 1; i <= n; i++)
		rig_add(&r, i, now - 1 - test_rng_next(&rng) % (1000 * MS));
	/* Some deleted, some moved, before the run. */
	for (int i = 1; i <= n; i += 7) {
		loop_timer_del(r.loop, r.timers[i]);
		r.timers[i] = NULL;
		deleted++;
	}
	for (int i = 3; i <= n; i += 11)
		if (r.timers[i])
			loop_timer_set(r.loop, r.timers[i],
				       now - 1 - test_rng_next(&rng) % (1000 * MS));
	for (int i = 1; i <= n; i++)
		want[i] = r.timers[i] ? loop_timer_deadline(r.timers[i]) : 0;
	rig_run(&r, n - deleted);
	CHECK_EQ_INT(r.fired, n - deleted);
	for (int i = 1; i < r.fired; i++)
		if (want[r.order[i - 1]] > want[r.order[i]])
			ok = false;
	CHECK(ok);
	rig_free(&r);
}

int main(void)
{
	RUN(test_order);
	RUN(test_rearm);
	RUN(test_cancel_in_callback);
	RUN(test_rearm_in_callback);
	RUN(test_many);
	return test_summary();
}
