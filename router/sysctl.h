/*
 * Kernel parameters under /proc/sys, set for the plan and put back at stop.
 *
 * Before a value changes, its previous value is written to a state file
 * (one "path=old" line per sysctl, e.g. "net/ipv4/ip_forward=0"), so that
 * after a crash `meshgated --cleanup` can restore the host. Only the first
 * value recorded for a path counts: applying again never overwrites the
 * original. net.* sysctls belong to the network namespace of the process.
 */
#ifndef MESHGATE_ROUTER_SYSCTL_H
#define MESHGATE_ROUTER_SYSCTL_H

#include <stddef.h>

#include "plan_types.h"

enum { SYSCTL_VALUE_MAX = 256 };

/*
 * Sets each sysctl (path relative to /proc/sys) that does not hold its
 * unless value, recording the previous values in state_file first. 0 or -errno with errbuf saying
 * which sysctl and, for a read-only /proc/sys (a container), how to set it from outside.
 */
int sysctl_apply(const struct plan_sysctl *s, size_t n, const char *state_file, char *errbuf,
		 size_t errlen) __attribute__((warn_unused_result));

/*
 * Restores every value recorded in state_file, then deletes the file.
 * Idempotent: a missing file means nothing to do. A sysctl that no longer
 * exists (its interface is gone) is skipped. On another failure the file
 * stays, so a later run can try again. 0 or -errno with errbuf.
 */
int sysctl_restore(const char *state_file, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads one value without its trailing newline. 0 or -errno (-EOVERFLOW:
 * value does not fit in len). */
int sysctl_read(const char *path, char *value, size_t len) __attribute__((warn_unused_result));

#endif
