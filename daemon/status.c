/* The published status document; see status.h. */
#include "status.h"

void status_board_publish(struct status_board *b, json_t *doc)
{
	if (!doc)
		return;
	json_decref(b->doc);
	b->doc = doc;
	b->published++;
}

json_t *status_board_get(const struct status_board *b)
{
	return json_incref(b->doc);
}

void status_board_clear(struct status_board *b)
{
	json_decref(b->doc);
	b->doc = NULL;
}
