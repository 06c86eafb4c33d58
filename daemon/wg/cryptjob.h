/*
 * Deferred data-message AEAD: ChaCha20-Poly1305 (IETF) jobs that the engine
 * records instead of running inline, so the caller can spread a batch of them
 * over threads.
 *
 * A job is self-contained: it carries a copy of the key (a keypair may be
 * freed before the job runs) and points only into packet slots, never at
 * engine state. Jobs of one queue are independent and may run in any order
 * on any thread; everything order-dependent (counters, the replay window,
 * timers, endpoints) stays in the engine, before or after the run.
 */
#ifndef MESHGATE_WG_CRYPTJOB_H
#define MESHGATE_WG_CRYPTJOB_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/messages.h"

struct wg_crypt_job {
	uint8_t *dst;       /* len bytes of output; encrypt: the tag follows */
	const uint8_t *src; /* len bytes of input; decrypt: the tag follows */
	uint32_t len;       /* plaintext length, padding included */
	bool encrypt;
	bool ok;          /* after the run: encrypted, or decrypted and authentic */
	uint64_t counter; /* the nonce: 32 zero bits, then this, little-endian */
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
};

struct wg_crypt_queue;
/* Runs jobs[0 .. count-1], each exactly once, and returns when all are done. */
typedef void (*wg_crypt_run_fn)(void *ctx, struct wg_crypt_queue *q);

struct wg_crypt_queue {
	struct wg_crypt_job *jobs;
	unsigned count; /* recorded, not yet run */
	unsigned cap;
	wg_crypt_run_fn run; /* NULL: inline, on the calling thread */
	void *ctx;
};

/* One job's AEAD; sets job->ok. Safe on any thread. */
void wg_crypt_job_run(struct wg_crypt_job *job);

/* Runs the recorded jobs (through q->run), wipes their key copies and empties
 * the queue; each job's ok stays readable in jobs[] until the next job is
 * recorded. */
void wg_crypt_queue_run(struct wg_crypt_queue *q);

#endif
