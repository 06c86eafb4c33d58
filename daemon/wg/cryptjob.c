/* Deferred data-message AEAD; see cryptjob.h. */
#include "wg/cryptjob.h"

#include <endian.h>
#include <sodium.h>
#include <string.h>

void wg_crypt_job_run(struct wg_crypt_job *job)
{
	uint8_t nonce[12] = { 0 };
	uint64_t counter_le = htole64(job->counter);

	memcpy(nonce + 4, &counter_le, sizeof(counter_le));
	if (job->encrypt) {
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(job->dst, job->dst + job->len,
								   NULL, job->src, job->len, NULL,
								   0, NULL, nonce, job->key);
		job->ok = true;
		return;
	}
	job->ok = crypto_aead_chacha20poly1305_ietf_decrypt_detached(job->dst, NULL, job->src,
								     job->len, job->src + job->len,
								     NULL, 0, nonce, job->key) == 0;
}

void wg_crypt_queue_run(struct wg_crypt_queue *q)
{
	if (!q->count)
		return;
	if (q->run) {
		q->run(q->ctx, q);
	} else {
		for (unsigned i = 0; i < q->count; i++)
			wg_crypt_job_run(&q->jobs[i]);
	}
	for (unsigned i = 0; i < q->count; i++)
		sodium_memzero(q->jobs[i].key, sizeof(q->jobs[i].key));
	q->count = 0;
}
