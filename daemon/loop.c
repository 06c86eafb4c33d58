/* The epoll event loop; see loop.h. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

struct loop_source {
	int fd;
	loop_fd_fn fn;
	void *ctx;
	bool dead; /* deleted during the current round; freed after it */
	struct loop_source *next_dead;
};

#define NOT_IN_HEAP SIZE_MAX

struct loop_timer {
	uint64_t deadline; /* UINT64_MAX: disarmed */
	uint64_t seq;      /* orders equal deadlines by when they were set */
	size_t heap_idx;
	loop_timer_fn fn;
	void *ctx;
	bool due;  /* taken from the heap this round, not yet called */
	bool dead; /* deleted during the current round; freed after it */
	struct loop_timer *next_due, *next_dead;
};

struct loop {
	int epfd;
	bool running;
	bool in_round; /* callbacks of a round are running: frees wait */
	struct loop_source *dead;

	int timerfd;
	struct loop_source *timer_src;
	uint64_t programmed; /* the timerfd's deadline; UINT64_MAX: disarmed */
	struct loop_timer **heap;
	size_t n_heap, cap_heap, n_timers;
	uint64_t seq;
	struct loop_timer *dead_timers;

	int sigfd;
	struct loop_source *sig_src;
	loop_signal_fn sig_fn;
	void *sig_ctx;

	loop_timer_fn idle_fn;
	void *idle_ctx;
};

uint64_t loop_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->timerfd = loop->sigfd = -1;
	loop->programmed = UINT64_MAX;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

static void free_dead_timers(struct loop *loop)
{
	while (loop->dead_timers) {
		struct loop_timer *t = loop->dead_timers;
		loop->dead_timers = t->next_dead;
		free(t);
	}
}

static void free_dead(struct loop *loop)
{
	while (loop->dead) {
		struct loop_source *src = loop->dead;
		loop->dead = src->next_dead;
		free(src);
	}
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->timer_src)
		loop_del_fd(loop, loop->timer_src);
	if (loop->sig_src)
		loop_del_fd(loop, loop->sig_src);
	free_dead(loop);
	free_dead_timers(loop);
	free(loop->heap);
	if (loop->timerfd >= 0)
		close(loop->timerfd);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop);
}

struct loop_source *loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn fn,
				void *ctx)
{
	struct loop_source *src = calloc(1, sizeof(*src));
	struct epoll_event ev = { .events = events };

	if (!src)
		return NULL;
	*src = (struct loop_source){ .fd = fd, .fn = fn, .ctx = ctx };
	ev.data.ptr = src;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		free(src);
		errno = err;
		return NULL;
	}
	return src;
}

int loop_mod_fd(struct loop *loop, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *loop, struct loop_source *src)
{
	if (!src || src->dead)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	src->dead = true;
	src->next_dead = loop->dead;
	loop->dead = src;
}

/* ---- timers: a binary min-heap on (deadline, seq) ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0 && timer_before(t, loop->heap[(i - 1) / 2])) {
		heap_place(loop, i, loop->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->n_heap)
			break;
		if (child + 1 < loop->n_heap &&
		    timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

static void heap_remove(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->heap_idx;
	struct loop_timer *last;

	if (i == NOT_IN_HEAP)
		return;
	t->heap_idx = NOT_IN_HEAP;
	last = loop->heap[--loop->n_heap];
	if (last == t)
		return;
	heap_place(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_idx);
}

/* Programs the timerfd for the earliest deadline, if it changed. */
static void timers_sync(struct loop *loop)
{
	uint64_t want = loop->n_heap ? loop->heap[0]->deadline : UINT64_MAX;
	struct itimerspec its = { 0 };

	if (want == loop->programmed)
		return;
	if (want != UINT64_MAX) {
		uint64_t at = want ? want : 1; /* zero would disarm: fire at once instead */
		its.it_value.tv_sec = (time_t)(at / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(at % NSEC_PER_SEC);
	}
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		loop->programmed = want;
}

/* Takes every due timer off the heap first, then calls them in order, so a
 * callback that sets a timer again never runs it twice in one round. */
static void timer_fired(void *ctx, uint32_t events)
{
	struct loop *loop = ctx;
	struct loop_timer *due = NULL, **tail = &due;
	uint64_t expirations, now;

	if (read(loop->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	loop->programmed = UINT64_MAX; /* one-shot: it has expired */
	now = loop_now();
	while (loop->n_heap && loop->heap[0]->deadline <= now) {
		struct loop_timer *t = loop->heap[0];
		heap_remove(loop, t);
		t->deadline = UINT64_MAX;
		t->due = true;
		t->next_due = NULL;
		*tail = t;
		tail = &t->next_due;
	}
	for (struct loop_timer *t = due; t; t = t->next_due) {
		if (!t->due || t->dead)
			continue;
		t->due = false;
		t->fn(t->ctx);
	}
}

static int timers_init(struct loop *loop)
{
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->timerfd < 0)
		return -errno;
	loop->timer_src = loop_add_fd(loop, loop->timerfd, EPOLLIN, timer_fired, loop);
	return loop->timer_src ? 0 : -errno;
}

struct loop_timer *loop_timer_add(struct loop *loop, uint64_t deadline_ns, loop_timer_fn fn,
				  void *ctx)
{
	struct loop_timer *t;
	int ret;

	if (loop->timerfd < 0 && (ret = timers_init(loop)) < 0) {
		errno = -ret;
		return NULL;
	}
	if (loop->n_timers == loop->cap_heap) {
		/* Room for every timer, so that setting one never fails. */
		size_t cap = loop->cap_heap ? 2 * loop->cap_heap : 8;
		struct loop_timer **heap = realloc(loop->heap, cap * sizeof(*heap));
		if (!heap)
			return NULL;
		loop->heap = heap;
		loop->cap_heap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = (struct loop_timer){
		.deadline = UINT64_MAX, .heap_idx = NOT_IN_HEAP, .fn = fn, .ctx = ctx
	};
	loop->n_timers++;
	loop_timer_set(loop, t, deadline_ns);
	return t;
}

void loop_timer_set(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns)
{
	if (t->dead || (t->deadline == deadline_ns && !t->due))
		return; /* unchanged: it keeps its place among equal deadlines */
	heap_remove(loop, t);
	t->due = false;
	t->deadline = deadline_ns;
	if (deadline_ns == UINT64_MAX)
		return;
	t->seq = loop->seq++;
	heap_place(loop, loop->n_heap++, t);
	heap_up(loop, t->heap_idx);
	if (!loop->in_round)
		timers_sync(loop);
}

uint64_t loop_timer_deadline(const struct loop_timer *t)
{
	return t->deadline;
}

void loop_timer_del(struct loop *loop, struct loop_timer *t)
{
	if (!t || t->dead)
		return;
	heap_remove(loop, t);
	loop->n_timers--;
	if (!loop->in_round) {
		free(t);
		return;
	}
	t->due = false;
	t->dead = true;
	t->next_dead = loop->dead_timers;
	loop->dead_timers = t;
}

static void signal_fired(void *ctx, uint32_t events)
{
	struct loop *loop = ctx;
	struct signalfd_siginfo si;

	while (read(loop->sigfd, &si, sizeof(si)) == sizeof(si))
		loop->sig_fn(loop->sig_ctx, (int)si.ssi_signo);
}

int loop_watch_signals(struct loop *loop, const int *signals, int count, loop_signal_fn fn,
		       void *ctx)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < count; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0)
		return -errno;
	loop->sig_fn = fn;
	loop->sig_ctx = ctx;
	loop->sig_src = loop_add_fd(loop, loop->sigfd, EPOLLIN, signal_fired, loop);
	return loop->sig_src ? 0 : -errno;
}

void loop_set_idle(struct loop *loop, loop_timer_fn fn, void *ctx)
{
	loop->idle_fn = fn;
	loop->idle_ctx = ctx;
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[32];

	loop->running = true;
	while (loop->running) {
		int n;

		if (loop->timerfd >= 0)
			timers_sync(loop);
		n = epoll_wait(loop->epfd, events, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop->in_round = true;
		for (int i = 0; i < n && loop->running; i++) {
			struct loop_source *src = events[i].data.ptr;
			if (!src->dead)
				src->fn(src->ctx, events[i].events);
		}
		loop->in_round = false;
		free_dead(loop);
		free_dead_timers(loop);
		if (loop->idle_fn)
			loop->idle_fn(loop->idle_ctx);
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->running = false;
}
