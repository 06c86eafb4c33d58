/*
 * RFC 6479 anti-replay window (as Linux receive.c counter_validate).
 *
 * rc->counter is one past the highest accepted counter, so 0 means "nothing
 * yet" and counter n lives at bit position n + 1. Accepted counters are those
 * n with n + COUNTER_WINDOW_SIZE >= highest: positions from highest + 1 -
 * COUNTER_WINDOW_SIZE to highest + 1, which span at most the ring's word count
 * (COUNTER_WINDOW_SIZE is a whole number of words short of the ring), so no
 * two live positions share a ring word. Moving forward clears the words
 * between the old and the new top before they are reused.
 */
#include "wg/replay.h"

#include <string.h>

enum {
	RING_WORDS = COUNTER_BITS_TOTAL / REPLAY_BITS_PER_WORD,
	RING_MASK = RING_WORDS - 1,
	WORD_SHIFT = __builtin_ctz(REPLAY_BITS_PER_WORD)
};

void replay_init(struct replay_counter *rc)
{
	memset(rc, 0, sizeof(*rc));
}

/* Advances the top of the window to position pos (> rc->counter), clearing
 * the ring words that now hold positions past the old top. */
static void window_advance(struct replay_counter *rc, uint64_t pos)
{
	uint64_t index = pos >> WORD_SHIFT, current = rc->counter >> WORD_SHIFT;
	uint64_t top = index - current < RING_WORDS ? index - current : RING_WORDS;
	for (uint64_t i = 1; i <= top; i++)
		rc->backtrack[(current + i) & RING_MASK] = 0;
	rc->counter = pos;
}

bool replay_counter_validate(struct replay_counter *rc, uint64_t counter)
{
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	/* counter < REJECT_AFTER_MESSAGES, so neither sum below overflows. */
	uint64_t pos = counter + 1;
	if (pos + COUNTER_WINDOW_SIZE < rc->counter)
		return false;
	if (pos > rc->counter)
		window_advance(rc, pos);

	unsigned long *word = &rc->backtrack[(pos >> WORD_SHIFT) & RING_MASK];
	unsigned long bit = 1UL << (pos & (REPLAY_BITS_PER_WORD - 1));
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}
