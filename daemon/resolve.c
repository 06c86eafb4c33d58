/*
 * The resolver's worker thread and its hand-off to the loop; see resolve.h.
 *
 * The queue lives in a block shared by the loop side and the worker, freed
 * by whichever lets go of it last: resolver_free() must not wait for a
 * getaddrinfo() that may take tens of seconds, so the worker is detached
 * and finishes its current lookup on its own after the resolver is gone.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"
#include "resolve.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct slot {
	enum slot_state state;
	bool cancelled; /* running when cancelled: drop the result */
	uint64_t seq;   /* queue order */
	char host[ENDPOINT_HOST_MAX + 1];
	uint16_t port;
	int family;
	resolver_fn fn;
	void *ctx;
	struct resolver_result res;
};

struct shared {
	pthread_mutex_t lock;
	pthread_cond_t work;
	int refs; /* the loop side and the worker */
	bool stopping;
	int efd; /* closed by the last one out */
	uint64_t next_seq;
	struct slot slots[RESOLVER_QUEUE];
};

struct resolver {
	struct loop *loop;
	struct loop_source *src;
	struct shared *sh;
	struct slot *batch; /* results being handed out (on_results) */
	size_t batch_len;
};

static void shared_unref(struct shared *sh)
{
	bool last;

	pthread_mutex_lock(&sh->lock);
	last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->lock);
	if (!last)
		return;
	close(sh->efd);
	pthread_cond_destroy(&sh->work);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

static bool result_has(const struct resolver_result *res, const union sockaddr_inet *sa)
{
	for (size_t i = 0; i < res->n; i++)
		if (sockaddr_equal(&res->addrs[i], sa))
			return true;
	return false;
}

/* Appends the addresses of one family from ai, skipping duplicates. */
static void result_add_family(struct resolver_result *res, const struct addrinfo *ai, int family,
			      uint16_t port)
{
	for (; ai && res->n < RESOLVER_MAX_ADDRS; ai = ai->ai_next) {
		union sockaddr_inet sa = { 0 };
		if (ai->ai_family != family || ai->ai_addrlen > sizeof(sa))
			continue;
		memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
		if (family == AF_INET)
			sa.in.sin_port = htons(port);
		else
			sa.in6.sin6_port = htons(port);
		if (!result_has(res, &sa))
			res->addrs[res->n++] = sa;
	}
}

static void lookup_run(const char *host, uint16_t port, int family, struct resolver_result *res)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);

	memset(res, 0, sizeof(*res));
	if (rc == 0) {
		result_add_family(res, ai, AF_INET, port);
		result_add_family(res, ai, AF_INET6, port);
		freeaddrinfo(ai);
		res->err = res->n ? 0 : -ENOENT;
	} else if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY) {
		res->err = -ENOENT;
	} else if (rc == EAI_AGAIN) {
		res->err = -EAGAIN;
	} else {
		res->err = -EIO;
	}
}

/* The oldest queued slot, or NULL. Called locked. */
static struct slot *next_queued(struct shared *sh)
{
	struct slot *best = NULL;

	for (size_t i = 0; i < RESOLVER_QUEUE; i++) {
		struct slot *s = &sh->slots[i];
		if (s->state == SLOT_QUEUED && (!best || s->seq < best->seq))
			best = s;
	}
	return best;
}

static void *worker_main(void *arg)
{
	struct shared *sh = arg;
	static const uint64_t one = 1;

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		struct slot *s;
		struct resolver_result res;
		char host[ENDPOINT_HOST_MAX + 1];
		uint16_t port;
		int family;

		while (!sh->stopping && !(s = next_queued(sh)))
			pthread_cond_wait(&sh->work, &sh->lock);
		if (sh->stopping)
			break;
		s->state = SLOT_RUNNING;
		memcpy(host, s->host, sizeof(host));
		port = s->port;
		family = s->family;
		pthread_mutex_unlock(&sh->lock);

		lookup_run(host, port, family, &res);

		pthread_mutex_lock(&sh->lock);
		if (sh->stopping)
			break;
		if (s->cancelled) {
			s->state = SLOT_FREE;
			continue;
		}
		s->res = res;
		s->state = SLOT_DONE;
		/* Cannot fail short of overflowing the counter. */
		(void)!write(sh->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&sh->lock);
	shared_unref(sh);
	return NULL;
}

static void on_results(void *ctx, uint32_t events)
{
	struct resolver *r = ctx;
	struct shared *sh = r->sh;
	struct slot done[RESOLVER_QUEUE];
	size_t n = 0;
	uint64_t count;

	(void)events;
	if (read(sh->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < RESOLVER_QUEUE; i++) {
		struct slot *s = &sh->slots[i];
		if (s->state != SLOT_DONE)
			continue;
		done[n++] = *s;
		s->state = SLOT_FREE;
	}
	pthread_mutex_unlock(&sh->lock);
	/* resolver_cancel() from a callback marks the rest of this batch. */
	r->batch = done;
	r->batch_len = n;
	for (size_t i = 0; i < n; i++)
		if (!done[i].cancelled)
			done[i].fn(done[i].ctx, done[i].host, done[i].port, &done[i].res);
	r->batch = NULL;
	r->batch_len = 0;
}

struct resolver *resolver_new(struct loop *loop)
{
	struct resolver *r = calloc(1, sizeof(*r));
	struct shared *sh = calloc(1, sizeof(*sh));
	pthread_t thread;
	int err = ENOMEM;

	if (sh)
		sh->efd = -1;
	if (!r || !sh)
		goto fail;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->efd < 0) {
		err = errno;
		goto fail;
	}
	r->src = loop_add_fd(loop, sh->efd, EPOLLIN, on_results, r);
	if (!r->src) {
		err = errno;
		goto fail;
	}
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->work, NULL);
	sh->refs = 2;
	err = pthread_create(&thread, NULL, worker_main, sh);
	if (err) {
		pthread_cond_destroy(&sh->work);
		pthread_mutex_destroy(&sh->lock);
		goto fail;
	}
	pthread_detach(thread);
	r->loop = loop;
	r->sh = sh;
	return r;
fail:
	if (r && r->src)
		loop_del_fd(loop, r->src);
	if (sh && sh->efd >= 0)
		close(sh->efd);
	free(sh);
	free(r);
	errno = err;
	return NULL;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	loop_del_fd(r->loop, r->src);
	pthread_mutex_lock(&r->sh->lock);
	r->sh->stopping = true;
	pthread_cond_signal(&r->sh->work);
	pthread_mutex_unlock(&r->sh->lock);
	shared_unref(r->sh);
	free(r);
}

static bool slot_same(const struct slot *s, const char *host, uint16_t port, int family,
		      resolver_fn fn, void *ctx)
{
	return (s->state == SLOT_QUEUED || (s->state == SLOT_RUNNING && !s->cancelled)) &&
	       s->fn == fn && s->ctx == ctx && s->port == port && s->family == family &&
	       strcmp(s->host, host) == 0;
}

int resolver_lookup(struct resolver *r, const char *host, uint16_t port, int family, resolver_fn fn,
		    void *ctx)
{
	struct shared *sh = r->sh;
	struct slot *free_slot = NULL;
	size_t len = strlen(host);
	int ret = 0;

	if (len == 0 || len > ENDPOINT_HOST_MAX || !fn ||
	    (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
		return -EINVAL;
	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < RESOLVER_QUEUE; i++) {
		struct slot *s = &sh->slots[i];
		if (slot_same(s, host, port, family, fn, ctx))
			goto out;
		if (s->state == SLOT_FREE && !free_slot)
			free_slot = s;
	}
	if (!free_slot) {
		ret = -EBUSY;
		goto out;
	}
	*free_slot = (struct slot){ .state = SLOT_QUEUED,
				    .seq = sh->next_seq++,
				    .port = port,
				    .family = family,
				    .fn = fn,
				    .ctx = ctx };
	memcpy(free_slot->host, host, len + 1);
	pthread_cond_signal(&sh->work);
out:
	pthread_mutex_unlock(&sh->lock);
	return ret;
}

void resolver_cancel(struct resolver *r, void *ctx)
{
	struct shared *sh = r->sh;

	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < RESOLVER_QUEUE; i++) {
		struct slot *s = &sh->slots[i];
		if (s->ctx != ctx || s->state == SLOT_FREE)
			continue;
		if (s->state == SLOT_RUNNING)
			s->cancelled = true;
		else
			s->state = SLOT_FREE;
	}
	pthread_mutex_unlock(&sh->lock);
	for (size_t i = 0; i < r->batch_len; i++)
		if (r->batch[i].ctx == ctx)
			r->batch[i].cancelled = true;
}

size_t resolver_pending(const struct resolver *r)
{
	struct shared *sh = r->sh;
	size_t n = 0;

	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < RESOLVER_QUEUE; i++)
		n += sh->slots[i].state == SLOT_QUEUED || sh->slots[i].state == SLOT_RUNNING;
	pthread_mutex_unlock(&sh->lock);
	return n;
}
