/*
 * How long one nft_apply() takes for a large change: the table with 5,000
 * LAN prefixes (IPv4, not adjacent, so 5,000 intervals plus as many IPv6
 * ones), alternating between two such plans so every apply really changes
 * the sets. Prints figures; asserts nothing (benchmarks are not tests).
 *
 * Needs root; runs in a private network namespace (unshare) like the
 * unit test, so the host's ruleset is never touched.
 *
 *   cmake --build build --target bench_nft && build/tests/bench_nft [PREFIXES [ROUNDS]]
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "netaddr.h"
#include "nft.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n v4 /24s and n v6 /48s, shifted by variant so two plans differ entirely. */
static int fill(struct plan_nft *p, struct prefix *v, int n, int variant)
{
	memset(p, 0, sizeof(*p));
	p->present = true;
	snprintf(p->tun, sizeof(p->tun), "meshgate0");
	p->snat = true;
	p->clamp_mss = true;
	p->lan_routes.v = v;
	for (int i = 0; i < n; i++) {
		char text[PREFIX_STR_LEN];

		snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 100, (i % 100) * 2 + variant);
		if (prefix_parse(&v[p->lan_routes.n++], text))
			return -1;
		snprintf(text, sizeof(text), "fd00:%x::/48", i * 2 + variant);
		if (prefix_parse(&v[p->lan_routes.n++], text))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5000, rounds = argc > 2 ? atoi(argv[2]) : 20;
	struct prefix *va = calloc((size_t)n * 2, sizeof(*va));
	struct prefix *vb = calloc((size_t)n * 2, sizeof(*vb));
	uint64_t *ns = calloc((size_t)rounds, sizeof(*ns));
	struct plan_nft a, b;
	struct nft_ctx *ctx;
	int ret;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("skipped: needs root and a private network namespace\n");
		return 77;
	}
	if (n < 1 || n > 25000 || rounds < 1 || !va || !vb || !ns || fill(&a, va, n, 0) ||
	    fill(&b, vb, n, 1)) {
		fprintf(stderr, "usage: bench_nft [PREFIXES (1..25000) [ROUNDS]]\n");
		return 2;
	}
	ret = nft_open(&ctx);
	if (ret) {
		fprintf(stderr, "nft_open: %s\n", strerror(-ret));
		return 1;
	}
	for (int i = 0; i < rounds; i++) {
		uint64_t t0 = loop_now();

		ret = nft_apply(ctx, i % 2 ? &b : &a);
		ns[i] = loop_now() - t0;
		if (ret) {
			fprintf(stderr, "nft_apply: %s\n", strerror(-ret));
			return 1;
		}
	}
	qsort(ns, (size_t)rounds, sizeof(*ns), cmp_u64);
	printf("nft_apply, %d IPv4 + %d IPv6 prefixes, %d rounds: median %.2f ms, min %.2f ms, "
	       "max %.2f ms\n",
	       n, n, rounds, ns[rounds / 2] / 1e6, ns[0] / 1e6, ns[rounds - 1] / 1e6);
	nft_close(ctx);
	free(va);
	free(vb);
	free(ns);
	return 0;
}
