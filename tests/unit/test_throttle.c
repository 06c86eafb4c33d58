/*
 * The coordinator's per-node limits (daemon/mesh/throttle.c) on a fake
 * clock: the token bucket (burst, refill, when the next token comes),
 * against a naive reference that replays every event from the start; the
 * pending message (the latest wins) and the endpoint interval; the node
 * table.
 */
#include <string.h>

#include "mesh/throttle.h"
#include "testlib.h"

#define S 1000000000ULL

static void test_bucket(void)
{
	struct throttle_bucket b = { 0 };
	uint64_t t = 100 * S;

	for (int i = 0; i < 3; i++)
		CHECK(throttle_bucket_take(&b, t, 5 * S, 3));
	CHECK(!throttle_bucket_take(&b, t, 5 * S, 3));
	CHECK_EQ_INT(throttle_bucket_ready(&b, t, 5 * S, 3), t + 5 * S);
	CHECK(!throttle_bucket_take(&b, t + 5 * S - 1, 5 * S, 3));
	CHECK_EQ_INT(throttle_bucket_ready(&b, t + 5 * S - 1, 5 * S, 3), t + 5 * S);
	CHECK(throttle_bucket_take(&b, t + 5 * S, 5 * S, 3));
	CHECK(!throttle_bucket_take(&b, t + 5 * S, 5 * S, 3));
	/* A long pause refills to the burst, no more. */
	t += 1000 * S;
	CHECK_EQ_INT(throttle_bucket_ready(&b, t, 5 * S, 3), t);
	for (int i = 0; i < 3; i++)
		CHECK(throttle_bucket_take(&b, t, 5 * S, 3));
	CHECK(!throttle_bucket_take(&b, t, 5 * S, 3));
	/* A clock that does not move forward takes nothing back. */
	CHECK(!throttle_bucket_take(&b, t - S, 5 * S, 3));
}

/* The reference: a token every interval since the first event, at most
 * burst saved, checked by replaying every accepted event in order. */
static bool naive_allows(const uint64_t *accepted, size_t n, uint64_t now, uint64_t interval,
			 unsigned burst)
{
	uint64_t tokens = burst, last = n ? accepted[0] : now;

	for (size_t i = 0; i <= n; i++) {
		uint64_t at = i < n ? accepted[i] : now;
		uint64_t gained = (at - last) / interval, rest = (at - last) % interval;

		tokens = tokens + gained > burst ? burst : tokens + gained;
		last = tokens == burst ? at : at - rest;
		if (i == n)
			return tokens >= 1;
		tokens--;
	}
	return false;
}

static void test_bucket_random(void)
{
	struct test_rng rng = { test_seed() };
	uint64_t accepted[4096], now = S, interval = 2 * S;
	struct throttle_bucket b = { 0 };
	size_t n = 0, mismatches = 0;

	for (int i = 0; i < 4000 && n < 4096; i++) {
		bool want, got;

		now += test_rng_next(&rng) % (3 * S);
		want = naive_allows(accepted, n, now, interval, 4);
		got = throttle_bucket_take(&b, now, interval, 4);
		mismatches += want != got;
		if (got)
			accepted[n++] = now;
	}
	CHECK_EQ_INT(mismatches, 0);
	/* Never more than the burst plus one per interval over the run. */
	CHECK(n <= 4 + (now - S) / interval + 1);
}

static void test_nodes_and_pending(void)
{
	struct throttle t = { 0 };
	struct mesh_hello a = { .n_endpoints = 1 }, b = { .n_endpoints = 2 };
	struct throttle_node *tn;

	for (uint32_t id = 1; id <= 20; id++)
		CHECK(throttle_node(&t, id) != NULL);
	CHECK_EQ_INT(t.n, 20);
	tn = throttle_node(&t, 7);
	CHECK(tn && tn->node_id == 7);
	CHECK_EQ_INT(t.n, 20);
	CHECK_EQ_INT(throttle_defer(tn, &a, 5 * S), 0);
	CHECK_EQ_INT(throttle_defer(tn, &b, 6 * S), 0); /* the latest wins */
	CHECK(tn->pending && tn->pending->n_endpoints == 2);
	CHECK_EQ_INT(tn->pending_due, 6 * S);
	throttle_clear(tn);
	CHECK(!tn->pending && !tn->pending_due);

	CHECK(throttle_endpoints_allowed(tn, S));
	tn->endpoints_at = 10 * S;
	CHECK(!throttle_endpoints_allowed(tn, 10 * S + THROTTLE_ENDPOINT_INTERVAL_S * S - 1));
	CHECK(throttle_endpoints_allowed(tn, 10 * S + THROTTLE_ENDPOINT_INTERVAL_S * S));

	CHECK_EQ_INT(throttle_defer(throttle_node(&t, 3), &a, S), 0);
	throttle_forget(&t, 3);
	CHECK_EQ_INT(t.n, 19);
	CHECK(throttle_node(&t, 3)->pending == NULL);
	throttle_free(&t);
	CHECK(t.n == 0 && t.v == NULL);
}

int main(void)
{
	RUN(test_bucket);
	RUN(test_bucket_random);
	RUN(test_nodes_and_pending);
	return test_summary();
}
