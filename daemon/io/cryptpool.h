/*
 * Worker threads for the engine's crypt queues (wg/cryptjob.h): a queue is
 * run fork/join style, its jobs shared between the calling thread and the
 * workers, and cryptpool_run returns when every job is done. Workers only
 * run wg_crypt_job_run on the jobs they claim: they touch no engine or loop
 * state and never allocate.
 */
#ifndef MESHGATE_IO_CRYPTPOOL_H
#define MESHGATE_IO_CRYPTPOOL_H

#include "wg/cryptjob.h"

/* Queues shorter than this run on the caller alone: waking a worker costs
 * more than a few packets' AEAD. On the 2-CPU test machine under load,
 * batches of 16 1280-byte packets ran slower on two threads than on one,
 * 32 about even, 64 faster. Small batches (light traffic) keep their
 * latency this way; full ones (TUN and UDP batches are 64) are shared. */
enum { CRYPTPOOL_MIN_SHARED = 32 };

struct cryptpool;

/* Starts threads - 1 workers (threads >= 1 counts the caller too). Returns 0
 * or -errno; *out is NULL when threads is 1 (no pool: run inline). */
int cryptpool_new(unsigned threads, struct cryptpool **out) __attribute__((warn_unused_result));
/* Stops and joins the workers. NULL-safe. */
void cryptpool_free(struct cryptpool *pool);

/* Sets the queue length from which jobs are shared (default
 * CRYPTPOOL_MIN_SHARED); tests lower it to 1 to put every job on the pool. */
void cryptpool_set_min_shared(struct cryptpool *pool, unsigned n);

/* A wg_crypt_run_fn: ctx is the pool (NULL: inline). One caller at a time. */
void cryptpool_run(void *ctx, struct wg_crypt_queue *q);

#endif
