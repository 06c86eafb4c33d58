/*
 * The crypt pool; see cryptpool.h. One batch at a time: the caller publishes
 * the batch under the lock and wakes the workers, then claims jobs itself;
 * workers that wake claim from the same atomic index. A worker takes the
 * batch and counts itself in `active` in one step under the lock, so the
 * caller knows every job is done when its own claims are and `active` is
 * back to zero. The caller then withdraws the batch (count 0) under the lock:
 * a worker that wakes late takes nothing and never touches the claim index,
 * which the next batch resets.
 *
 * The join spins first: when the caller's claims run out, a worker holds at
 * most the job it is running (microseconds), so sleeping on a condition
 * variable would cost two futex calls and a context switch per batch for
 * nothing. Only a join that outlasts the spin sleeps, flagged in `joiner`:
 * a worker that brings `active` to zero wakes it only then.
 */
#include "io/cryptpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

enum {
	WORKER_STACK_SIZE = 64 * 1024,
	/* Pauses before the join sleeps: tens of microseconds. */
	JOIN_SPINS = 2000,
};

struct cryptpool {
	pthread_mutex_t lock;
	/* Protected by lock: */
	pthread_cond_t wake;       /* gen moved or stop */
	pthread_cond_t idle;       /* active fell to zero */
	struct wg_crypt_job *jobs; /* the batch: jobs[0 .. count-1] */
	unsigned count;
	unsigned gen; /* batches published */
	bool stop;
	/* Raised under lock, read without: */
	atomic_uint active; /* workers between taking a batch and leaving it */
	atomic_bool joiner; /* the caller sleeps on idle until active is 0 */

	atomic_uint next; /* claim index into q->jobs, reset per batch */
	unsigned min_shared;
	unsigned nworkers;
	pthread_t workers[];
};

static void claim_jobs(struct cryptpool *pool, struct wg_crypt_job *jobs, unsigned count)
{
	unsigned i;

	while ((i = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed)) < count)
		wg_crypt_job_run(&jobs[i]);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* A worker leaves a batch; the last one out wakes a sleeping join. The
 * seq_cst pair (active here, joiner in join()) lets one side see the other. */
static void leave_batch(struct cryptpool *pool)
{
	if (atomic_fetch_sub(&pool->active, 1) != 1 || !atomic_load(&pool->joiner))
		return;
	pthread_mutex_lock(&pool->lock);
	pthread_cond_signal(&pool->idle);
	pthread_mutex_unlock(&pool->lock);
}

/* Called and returns with the lock held. */
static void take_batch(struct cryptpool *pool)
{
	struct wg_crypt_job *jobs = pool->jobs;
	unsigned count = pool->count;

	atomic_fetch_add(&pool->active, 1);
	pthread_mutex_unlock(&pool->lock);
	claim_jobs(pool, jobs, count);
	leave_batch(pool);
	pthread_mutex_lock(&pool->lock);
}

static void *worker_main(void *arg)
{
	struct cryptpool *pool = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->gen == seen && !pool->stop)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stop)
			break;
		seen = pool->gen;
		if (pool->count)
			take_batch(pool);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Waits until no worker is in the batch, then withdraws it. */
static void join(struct cryptpool *pool)
{
	for (unsigned i = 0; i < JOIN_SPINS && atomic_load(&pool->active); i++)
		cpu_relax();
	pthread_mutex_lock(&pool->lock);
	if (atomic_load(&pool->active)) {
		atomic_store(&pool->joiner, true);
		while (atomic_load(&pool->active))
			pthread_cond_wait(&pool->idle, &pool->lock);
		atomic_store(&pool->joiner, false);
	}
	pool->count = 0;
	pthread_mutex_unlock(&pool->lock);
}

void cryptpool_run(void *ctx, struct wg_crypt_queue *q)
{
	struct cryptpool *pool = ctx;

	if (!pool || q->count < pool->min_shared) {
		for (unsigned i = 0; i < q->count; i++)
			wg_crypt_job_run(&q->jobs[i]);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	pool->jobs = q->jobs;
	pool->count = q->count;
	atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
	pool->gen++;
	pthread_mutex_unlock(&pool->lock);
	/* After the unlock: a woken worker does not block on the lock. */
	pthread_cond_broadcast(&pool->wake);

	claim_jobs(pool, q->jobs, q->count);
	join(pool);
}

static void stop_workers(struct cryptpool *pool, unsigned started)
{
	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(pool->workers[i], NULL);
}

static int start_workers(struct cryptpool *pool)
{
	pthread_attr_t attr;
	int ret;

	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
	for (unsigned i = 0; !ret && i < pool->nworkers; i++) {
		ret = pthread_create(&pool->workers[i], &attr, worker_main, pool);
		if (ret)
			stop_workers(pool, i);
	}
	pthread_attr_destroy(&attr);
	return -ret;
}

int cryptpool_new(unsigned threads, struct cryptpool **out)
{
	struct cryptpool *pool;
	int ret;

	*out = NULL;
	if (threads <= 1)
		return 0;
	pool = calloc(1, sizeof(*pool) + (threads - 1) * sizeof(pool->workers[0]));
	if (!pool)
		return -ENOMEM;
	pool->nworkers = threads - 1;
	pool->min_shared = CRYPTPOOL_MIN_SHARED;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->idle, NULL);
	ret = start_workers(pool);
	if (ret < 0) {
		free(pool);
		return ret;
	}
	*out = pool;
	return 0;
}

void cryptpool_set_min_shared(struct cryptpool *pool, unsigned n)
{
	pool->min_shared = n;
}

void cryptpool_free(struct cryptpool *pool)
{
	if (!pool)
		return;
	stop_workers(pool, pool->nworkers);
	pthread_cond_destroy(&pool->idle);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
