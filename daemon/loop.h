/*
 * The daemon's one event loop: epoll over file descriptors, any number of
 * timers on one timerfd (a min-heap of absolute CLOCK_MONOTONIC deadlines,
 * as sd-event's sd_event_add_time), and signals through a signalfd. Everything the daemon
 * does runs from callbacks of this loop, on one thread, so daemon state needs
 * no locks.
 */
#ifndef MESHGATE_LOOP_H
#define MESHGATE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* Called with the epoll events that fired (EPOLLIN, EPOLLOUT, ...). */
typedef void (*loop_fd_fn)(void *ctx, uint32_t events);
typedef void (*loop_timer_fn)(void *ctx);
typedef void (*loop_signal_fn)(void *ctx, int signo);

struct loop_source; /* one registered fd */
struct loop_timer;  /* one timer */

/* Returns a new loop; free with loop_free(). NULL on failure (errno set). */
struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* Registers fd for events; returns a handle or NULL (errno set). The fd is
 * not closed by the loop. */
struct loop_source *loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn fn,
				void *ctx);
int loop_mod_fd(struct loop *loop, struct loop_source *src, uint32_t events);
/* Unregisters and frees the handle (safe from inside its own callback). */
void loop_del_fd(struct loop *loop, struct loop_source *src);

/*
 * A timer fires once, at or after its absolute CLOCK_MONOTONIC deadline (ns),
 * and is then disarmed until set again; UINT64_MAX leaves it disarmed. Due
 * timers fire in deadline order (equal deadlines in the order they were set).
 * A timer set again from a callback to a deadline already passed fires in
 * the next round, never in the same one.
 */
struct loop_timer *loop_timer_add(struct loop *loop, uint64_t deadline_ns, loop_timer_fn fn,
				  void *ctx);
/* Re-arms (or with UINT64_MAX disarms) the timer; a due one not yet called
 * in this round is not called. */
void loop_timer_set(struct loop *loop, struct loop_timer *t, uint64_t deadline_ns);
/* UINT64_MAX when disarmed. */
uint64_t loop_timer_deadline(const struct loop_timer *t);
/* Cancels and frees the timer (safe from any callback, its own included). */
void loop_timer_del(struct loop *loop, struct loop_timer *t);

/* Blocks these signals and delivers them to fn from the loop. */
int loop_watch_signals(struct loop *loop, const int *signals, int count, loop_signal_fn fn,
		       void *ctx);

/* Called after every round of callbacks, before waiting again. */
void loop_set_idle(struct loop *loop, loop_timer_fn fn, void *ctx);

/* Runs until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

/* CLOCK_MONOTONIC in ns. */
uint64_t loop_now(void);

#endif
