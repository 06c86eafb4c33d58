/*
 * Replay protection for data messages: the RFC 6479 sliding window, sized
 * as in the Linux implementation (COUNTER_BITS_TOTAL bits of bitmap, of which
 * COUNTER_WINDOW_SIZE are usable; the rest let the window advance a word at a
 * time without clearing bits still inside it).
 */
#ifndef MESHGATE_WG_REPLAY_H
#define MESHGATE_WG_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/messages.h"

#define REPLAY_BITS_PER_WORD (8 * sizeof(unsigned long))

struct replay_counter {
	/* One past the highest counter accepted so far; 0 before the first. */
	uint64_t counter;
	/* Ring of words; bit (n + 1) mod COUNTER_BITS_TOTAL records counter n. */
	unsigned long backtrack[COUNTER_BITS_TOTAL / REPLAY_BITS_PER_WORD];
};

_Static_assert((COUNTER_BITS_TOTAL / REPLAY_BITS_PER_WORD &
		(COUNTER_BITS_TOTAL / REPLAY_BITS_PER_WORD - 1)) == 0,
	       "the ring holds a power-of-two number of words");
_Static_assert((size_t)COUNTER_REDUNDANT_BITS >= REPLAY_BITS_PER_WORD,
	       "a word of slack keeps the window clear of the word being recycled");

/* Resets to "nothing received" (for a new keypair). */
void replay_init(struct replay_counter *rc);

/*
 * Accepts counter and records it, unless it was seen before, is more than
 * COUNTER_WINDOW_SIZE below the highest counter accepted, or is at least
 * REJECT_AFTER_MESSAGES. Call only after the packet authenticated: an
 * unauthenticated counter must never move the window.
 */
bool replay_counter_validate(struct replay_counter *rc, uint64_t counter)
    __attribute__((warn_unused_result));

#endif
