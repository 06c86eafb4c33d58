/*
 * The planner_* helpers (router/planner.c) on their own, as the exit-node
 * parts use them: canonical prefix lists against a naive reference,
 * growing arrays, errors, warnings and routes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plan.h"
#include "planner.h"
#include "testlib.h"

/* A random network prefix of both families, drawn from a small space so
 * that nesting and duplicates are common. */
static struct prefix random_prefix(struct test_rng *rng)
{
	uint64_t r = test_rng_next(rng);
	struct prefix p = { .family = r & 1 ? AF_INET6 : AF_INET };

	p.addr[0] = (uint8_t)(10 + ((r >> 1) & 1));
	p.addr[1] = (uint8_t)((r >> 2) & 3);
	p.addr[2] = (uint8_t)((r >> 4) & 7);
	p.len = (uint8_t)(4 + (r >> 8) % 21);
	prefix_mask(&p);
	return p;
}

static bool listed(const struct prefix *v, size_t n, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_equal(&v[i], p))
			return true;
	return false;
}

/* True if some entry of v other than index skip contains p. */
static bool inside_other(const struct prefix *v, size_t n, size_t skip, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (i != skip && !prefix_equal(&v[i], p) && prefix_contains(&v[i], p))
			return true;
	return false;
}

/* Kept: exactly the inputs that lie inside no other input, once each, in
 * (family, address, length) order. */
static void check_canonical(const struct prefix *in, size_t n_in, const struct plan_prefixes *out)
{
	for (size_t i = 0; i < n_in; i++)
		CHECK(listed(out->v, out->n, &in[i]) == !inside_other(in, n_in, i, &in[i]));
	for (size_t i = 0; i < out->n; i++) {
		CHECK(listed(in, n_in, &out->v[i]));
		if (i == 0)
			continue;
		const struct prefix *a = &out->v[i - 1], *b = &out->v[i];
		int c = a->family != b->family ? a->family - b->family
					       : memcmp(a->addr, b->addr, sizeof(a->addr));
		CHECK(c < 0 || (c == 0 && a->len < b->len));
		CHECK(!prefix_overlaps(a, b));
	}
}

static void test_canonicalize(void)
{
	struct test_rng rng = { .state = test_seed() };

	/* Stops at the first failing round: one input is enough to read. */
	for (int round = 0; round < 2000 && !test_counts.failed; round++) {
		struct prefix in[24];
		struct plan_prefixes list = { 0 };
		size_t n = test_rng_next(&rng) % 24;

		for (size_t i = 0; i < n; i++) {
			in[i] = random_prefix(&rng);
			if (!CHECK(planner_prefixes_add(&list, &in[i]) == 0))
				break;
		}
		planner_prefixes_canonicalize(&list);
		check_canonical(in, n, &list);
		free(list.v);
	}
}

static void test_append(void)
{
	struct plan_route *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < 100; i++) {
		struct plan_route *r = planner_append(&v, &n, sizeof(*r));
		if (!CHECK(r != NULL))
			break;
		CHECK(r == &v[i] && n == i + 1);
		CHECK(r->metric == 0 && r->dst.len == 0 && r->type == PLAN_ROUTE_TUN);
		r->metric = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(v[i].metric, i);
	free(v);
}

static void test_fail_and_warn(void)
{
	char err[16];
	struct planner pl = { .errbuf = err, .errlen = sizeof(err) };

	CHECK_EQ_INT(planner_fail(&pl, "peer '%s' is unknown", "laptop"), -EINVAL);
	CHECK(!strcmp(err, "peer 'laptop' i")); /* truncated, terminated */
	CHECK_EQ_INT(planner_warn(&pl, "first %d", 1), 0);
	CHECK_EQ_INT(planner_warn(&pl, "second %s", "note"), 0);
	CHECK(pl.p.n_warnings == 2 && !strcmp(pl.p.warnings[0], "first 1") &&
	      !strcmp(pl.p.warnings[1], "second note"));
	route_plan_free(&pl.p);
}

static void test_mesh_and_routes(void)
{
	struct planner pl = { 0 };
	struct prefix net, in, out, dflt = { .family = AF_INET6 };
	char text[256];

	CHECK(prefix_parse(&net, "100.64.0.0/24") == 0 &&
	      planner_prefixes_add(&pl.mesh, &net) == 0);
	CHECK(prefix_parse(&in, "100.64.0.9/32") == 0 && prefix_parse(&out, "100.64.1.9/32") == 0);
	CHECK(planner_is_mesh_address(&pl, &in) && planner_is_mesh_address(&pl, &net));
	CHECK(!planner_is_mesh_address(&pl, &out) && !planner_is_mesh_address(&pl, &dflt));
	CHECK(planner_is_default(&dflt) && !planner_is_default(&net));
	CHECK_EQ_INT(planner_route_add(&pl, &out, PLAN_ROUTE_TUN, ROUTE_METRIC_TUN), 0);
	CHECK_EQ_INT(
	    planner_route_add(&pl, &dflt, PLAN_ROUTE_UNREACHABLE, ROUTE_METRIC_KILL_SWITCH), 0);
	pl.p.exit_peer = -1;
	route_plan_format(&pl.p, text, sizeof(text));
	CHECK(!strcmp(text, "route tun 100.64.1.9/32 metric 0\n"
			    "route unreachable ::/0 metric 2147483647\n"));
	free(pl.mesh.v);
	route_plan_free(&pl.p);
}

int main(void)
{
	RUN(test_canonicalize);
	RUN(test_append);
	RUN(test_fail_and_warn);
	RUN(test_mesh_and_routes);
	return test_summary();
}
