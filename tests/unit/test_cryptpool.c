/*
 * The crypt pool against the inline runner: queues of every length up to the
 * cap, on 1 to 16 threads (odd counts sharing even single jobs), encrypt and decrypt jobs mixed,
 * some tampered with; every output and verdict byte-equal to running the jobs one by one. Pools are
 * started and stopped repeatedly, some without ever running.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "io/cryptpool.h"
#include "testlib.h"

enum { CAP = 64, MAX_LEN = 1500, SLOT = MAX_LEN + 16 };

struct bench {
	struct test_rng rng;
	uint8_t in[CAP][SLOT];
	uint8_t out[2][CAP][SLOT]; /* [0]: inline, [1]: pool */
	struct wg_crypt_job jobs[2][CAP];
};

/* Job i of a batch, the same for both runs but its output slot. Decrypt jobs
 * get a ciphertext made here first; every seventh is corrupted. */
static void make_job(struct bench *b, unsigned i, struct wg_crypt_job job[2])
{
	uint8_t key[32];
	uint32_t len = (uint32_t)(test_rng_next(&b->rng) % MAX_LEN);
	bool encrypt = test_rng_next(&b->rng) & 1;
	uint64_t counter = test_rng_next(&b->rng);

	test_rng_bytes(&b->rng, key, sizeof(key));
	test_rng_bytes(&b->rng, b->in[i], len + 16);
	for (int r = 0; r < 2; r++) {
		job[r] = (struct wg_crypt_job){ .dst = b->out[r][i],
						.src = b->in[i],
						.len = len,
						.encrypt = encrypt,
						.counter = counter };
		memcpy(job[r].key, key, sizeof(key));
		memset(b->out[r][i], 0xee, SLOT);
	}
	if (!encrypt) {
		struct wg_crypt_job seal = job[0];

		seal.encrypt = true;
		seal.dst = b->in[i];
		wg_crypt_job_run(&seal);
		if (i % 7 == 3)
			b->in[i][len / 2] ^= 0x40;
	}
}

static bool run_and_compare(struct bench *b, struct cryptpool *pool, unsigned count)
{
	struct wg_crypt_queue q[2] = {
		{ .jobs = b->jobs[0], .count = count, .cap = CAP },
		{ .jobs = b->jobs[1],
		  .count = count,
		  .cap = CAP,
		  .run = cryptpool_run,
		  .ctx = pool },
	};
	bool same = true;

	for (unsigned i = 0; i < count; i++) {
		struct wg_crypt_job pair[2];

		make_job(b, i, pair);
		b->jobs[0][i] = pair[0];
		b->jobs[1][i] = pair[1];
	}
	wg_crypt_queue_run(&q[0]);
	wg_crypt_queue_run(&q[1]);
	for (unsigned i = 0; i < count; i++) {
		same &= b->jobs[0][i].ok == b->jobs[1][i].ok;
		same &= b->jobs[0][i].ok == (b->jobs[0][i].encrypt || i % 7 != 3);
		same &= memcmp(b->out[0][i], b->out[1][i], SLOT) == 0;
		same &= sodium_is_zero(b->jobs[1][i].key, 32) == 1;
	}
	return same && q[0].count == 0 && q[1].count == 0;
}

static void test_matches_inline(void)
{
	struct bench *b = calloc(1, sizeof(*b));
	unsigned jobs = 0;

	b->rng.state = 42;
	for (unsigned threads = 1; threads <= 16; threads++) {
		struct cryptpool *pool;
		bool same = true;

		CHECK_EQ_INT(cryptpool_new(threads, &pool), 0);
		CHECK_EQ_INT(pool == NULL, threads == 1);
		if (pool && threads % 2)
			cryptpool_set_min_shared(pool, 1);
		for (unsigned count = 0; count <= CAP; count++) {
			same &= run_and_compare(b, pool, count);
			jobs += count;
		}
		CHECK(same);
		cryptpool_free(pool);
	}
	CHECK(jobs > 30000);
	free(b);
}

/* Many short-lived pools, half of which never run a batch. */
static void test_start_stop(void)
{
	struct bench *b = calloc(1, sizeof(*b));

	b->rng.state = 7;
	for (unsigned round = 0; round < 200; round++) {
		struct cryptpool *pool;

		if (cryptpool_new(2 + round % 4, &pool) < 0) {
			CHECK(false);
			break;
		}
		if (round & 1)
			CHECK(run_and_compare(b, pool, CAP));
		cryptpool_free(pool);
	}
	cryptpool_free(NULL);
	free(b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_matches_inline);
	RUN(test_start_stop);
	return test_summary();
}
