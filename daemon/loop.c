/* The epoll event loop; see loop.h. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct loop_source {
	int fd;
	loop_fd_fn fn;
	void *ctx;
	bool dead; /* deleted during the current round; freed after it */
	struct loop_source *next_dead;
};

struct loop {
	int epfd;
	bool running;
	struct loop_source *dead;

	int timerfd;
	struct loop_source *timer_src;
	loop_timer_fn timer_fn;
	void *timer_ctx;

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
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->timerfd = loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
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

static void timer_fired(void *ctx, uint32_t events)
{
	struct loop *loop = ctx;
	uint64_t expirations;

	if (read(loop->timerfd, &expirations, sizeof(expirations)) < 0)
		return;
	if (loop->timer_fn)
		loop->timer_fn(loop->timer_ctx);
}

int loop_set_deadline(struct loop *loop, uint64_t deadline_ns, loop_timer_fn fn, void *ctx)
{
	struct itimerspec its = { 0 };

	if (loop->timerfd < 0) {
		loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (loop->timerfd < 0)
			return -errno;
		loop->timer_src = loop_add_fd(loop, loop->timerfd, EPOLLIN, timer_fired, loop);
		if (!loop->timer_src)
			return -errno;
	}
	loop->timer_fn = fn;
	loop->timer_ctx = ctx;
	if (deadline_ns != UINT64_MAX) {
		if (deadline_ns == 0)
			deadline_ns = 1; /* zero would disarm: fire at once instead */
		its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
		its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ULL);
	}
	return timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
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
		int n = epoll_wait(loop->epfd, events, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && loop->running; i++) {
			struct loop_source *src = events[i].data.ptr;
			if (!src->dead)
				src->fn(src->ctx, events[i].events);
		}
		free_dead(loop);
		if (loop->idle_fn)
			loop->idle_fn(loop->idle_ctx);
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->running = false;
}
