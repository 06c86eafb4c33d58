/*
 * The daemon's one event loop: epoll over file descriptors, one deadline
 * timer (a timerfd), and signals through a signalfd. Everything the daemon
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

/* One deadline on CLOCK_MONOTONIC (ns); UINT64_MAX disarms it. */
int loop_set_deadline(struct loop *loop, uint64_t deadline_ns, loop_timer_fn fn, void *ctx);

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
