/*
 * Replay window: the sequence of Linux's counter self-test (expectations
 * restated here), then a randomized differential test against a naive record
 * of every counter accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wg/replay.h"

#define T_LIM ((uint64_t)COUNTER_WINDOW_SIZE + 1)

struct seq_step {
	uint64_t counter;
	bool accept;
};

static void run_steps(struct replay_counter *rc, const struct seq_step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!CHECK(replay_counter_validate(rc, steps[i].counter) == steps[i].accept))
			fprintf(stderr, "  step %zu: counter %llu\n", i + 1,
				(unsigned long long)steps[i].counter);
}

static void test_selftest_sequence(void)
{
	static const struct seq_step steps[] = {
		{ 0, true },
		{ 1, true },
		{ 1, false },
		{ 9, true },
		{ 8, true },
		{ 7, true },
		{ 7, false },
		{ T_LIM, true },
		{ T_LIM - 1, true },
		{ T_LIM - 1, false },
		{ T_LIM - 2, true },
		{ 2, true },
		{ 2, false },
		{ T_LIM + 16, true },
		{ 3, false },
		{ T_LIM + 16, false },
		{ T_LIM * 4, true },
		{ T_LIM * 4 - (T_LIM - 1), true },
		{ 10, false },
		{ T_LIM * 4 - T_LIM, false },
		{ T_LIM * 4 - (T_LIM + 1), false },
		{ T_LIM * 4 - (T_LIM - 2), true },
		{ T_LIM * 4 + 1 - T_LIM, false },
		{ 0, false },
		{ REJECT_AFTER_MESSAGES, false },
		{ REJECT_AFTER_MESSAGES - 1, true },
		{ REJECT_AFTER_MESSAGES, false },
		{ REJECT_AFTER_MESSAGES - 1, false },
		{ REJECT_AFTER_MESSAGES - 2, true },
		{ REJECT_AFTER_MESSAGES + 1, false },
		{ REJECT_AFTER_MESSAGES + 2, false },
		{ REJECT_AFTER_MESSAGES - 2, false },
		{ REJECT_AFTER_MESSAGES - 3, true },
		{ 0, false },
	};
	struct replay_counter rc;
	replay_init(&rc);
	run_steps(&rc, steps, sizeof(steps) / sizeof(steps[0]));
}

/* Counts of accepted counters in one loop, so a failure prints once. */
static unsigned accept_range(struct replay_counter *rc, uint64_t from, uint64_t to, int dir)
{
	unsigned ok = 0;
	for (uint64_t i = from;; i += (uint64_t)dir) {
		ok += replay_counter_validate(rc, i);
		if (i == to)
			break;
	}
	return ok;
}

static void test_selftest_window_edges(void)
{
	const uint64_t W = COUNTER_WINDOW_SIZE;
	struct replay_counter rc;

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, 1, W, +1), W);
	CHECK(replay_counter_validate(&rc, 0));
	CHECK(!replay_counter_validate(&rc, 0));

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, 2, W + 1, +1), W);
	CHECK(replay_counter_validate(&rc, 1));
	CHECK(!replay_counter_validate(&rc, 0));

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, W, 0, -1), W + 1);

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, W + 1, 1, -1), W + 1);
	CHECK(!replay_counter_validate(&rc, 0));

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, W, 1, -1), W);
	CHECK(replay_counter_validate(&rc, W + 1));
	CHECK(!replay_counter_validate(&rc, 0));

	replay_init(&rc);
	CHECK_EQ_INT(accept_range(&rc, W, 1, -1), W);
	CHECK(replay_counter_validate(&rc, 0));
	CHECK(replay_counter_validate(&rc, W + 1));
}

/* The last counters a session may use, and a window sliding up to them. */
static void test_reject_after_messages(void)
{
	struct replay_counter rc;
	replay_init(&rc);
	CHECK(!replay_counter_validate(&rc, UINT64_MAX));
	CHECK(!replay_counter_validate(&rc, REJECT_AFTER_MESSAGES));
	CHECK(replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - 1 - COUNTER_WINDOW_SIZE));
	CHECK(replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - 1));
	CHECK(!replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - 1));
	CHECK(!replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - 1 - COUNTER_WINDOW_SIZE));
	CHECK(replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - COUNTER_WINDOW_SIZE));
	CHECK(!replay_counter_validate(&rc, REJECT_AFTER_MESSAGES - 2 - COUNTER_WINDOW_SIZE));
	CHECK(!replay_counter_validate(&rc, 0));
}

/* ---- randomized differential test ---- */

/* The naive model: a sorted-free hash set of every counter ever accepted. */
struct seen_set {
	uint64_t *slots; /* open addressing; UINT64_MAX is empty (never accepted) */
	size_t cap, n;
	bool any;
	uint64_t max;
};

static void seen_init(struct seen_set *s, size_t cap)
{
	s->slots = malloc(cap * sizeof(*s->slots));
	memset(s->slots, 0xff, cap * sizeof(*s->slots));
	s->cap = cap;
	s->n = 0;
	s->any = false;
	s->max = 0;
}

static uint64_t *seen_slot(struct seen_set *s, uint64_t v)
{
	size_t i = (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 20) % s->cap;
	while (s->slots[i] != UINT64_MAX && s->slots[i] != v)
		i = (i + 1) % s->cap;
	return &s->slots[i];
}

/* The rule: fresh, below the limit, and at most COUNTER_WINDOW_SIZE below the
 * highest counter accepted so far. */
static bool model_validate(struct seen_set *s, uint64_t c)
{
	if (c >= REJECT_AFTER_MESSAGES)
		return false;
	if (s->any && c + COUNTER_WINDOW_SIZE < s->max)
		return false;
	uint64_t *slot = seen_slot(s, c);
	if (*slot == c)
		return false;
	*slot = c;
	s->n++;
	if (!s->any || c > s->max)
		s->max = c;
	s->any = true;
	return true;
}

/* A counter near the top of the window, sometimes far ahead or far behind;
 * offsets below zero saturate at 0, above the counter space at UINT64_MAX. */
static uint64_t next_counter(struct test_rng *rng, const struct seen_set *s, uint64_t base)
{
	uint64_t top = s->any ? s->max : base;
	uint64_t r = test_rng_next(rng), v = (r >> 8);
	int64_t off;
	switch (r % 16) {
	case 0:
		off = (int64_t)(v % (4 * COUNTER_BITS_TOTAL)); /* jump ahead */
		break;
	case 1:
		off = -(int64_t)(v % (2 * COUNTER_BITS_TOTAL)); /* far behind */
		break;
	case 2:
		off = -(int64_t)COUNTER_WINDOW_SIZE + (int64_t)(v % 3) - 1; /* window edge */
		break;
	case 3:
		off = 1;
		break;
	default:
		off = 40 - (int64_t)(v % 200); /* reordering near the top */
		break;
	}
	if (off < 0)
		return (uint64_t)-off > top ? 0 : top - (uint64_t)-off;
	return (uint64_t)off > UINT64_MAX - top ? UINT64_MAX : top + (uint64_t)off;
}

static void diff_run(uint64_t seed, uint64_t base, unsigned steps)
{
	struct test_rng rng = { seed };
	struct replay_counter rc;
	struct seen_set s;
	replay_init(&rc);
	seen_init(&s, 4 * steps + 1);
	unsigned accepted = 0, i;
	for (i = 0; i < steps; i++) {
		uint64_t c = next_counter(&rng, &s, base);
		bool want = model_validate(&s, c);
		if (replay_counter_validate(&rc, c) != want) {
			fprintf(stderr, "step %u: counter %llu: want %d\n", i,
				(unsigned long long)c, want);
			break;
		}
		accepted += want;
	}
	CHECK_EQ_INT(i, steps);
	printf("  base %llu: %u steps, %u accepted\n", (unsigned long long)base, steps, accepted);
	free(s.slots);
}

static void test_differential(void)
{
	uint64_t seed = test_seed();
	diff_run(seed, 0, 200000);
	diff_run(seed + 1, 1ULL << 40, 200000);
	/* Near the end of a session's counters. */
	diff_run(seed + 2, REJECT_AFTER_MESSAGES - 50000, 200000);
}

int main(void)
{
	RUN(test_selftest_sequence);
	RUN(test_selftest_window_edges);
	RUN(test_reject_after_messages);
	RUN(test_differential);
	return test_summary();
}
