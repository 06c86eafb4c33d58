/*
 * Time units and expiry on the monotonic nanosecond clock, shared by the
 * engine and the rest of the daemon. Header-only and libc-only, so that the
 * engine (daemon/wg/) may include it without depending on the daemon.
 */
#ifndef MESHGATE_TIMEUTIL_H
#define MESHGATE_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* True when `seconds` have passed since `start` (both ns). */
static inline bool time_elapsed(uint64_t start, uint64_t seconds, uint64_t now)
{
	return now >= start + seconds * NSEC_PER_SEC;
}

/* The same, where a birthdate of 0 means "never", which has always expired. */
static inline bool has_expired(uint64_t birthdate, uint64_t seconds, uint64_t now)
{
	return birthdate == 0 || time_elapsed(birthdate, seconds, now);
}

#endif
