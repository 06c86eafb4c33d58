/*
 * The exit state (router/plan_types.h: enum plan_exit_state and
 * plan_exit_reason, which exitnode/exit_client.c decides) in words, for
 * status, the plan's warnings and tests.
 */
#ifndef MESHGATE_ROUTER_PLAN_EXIT_H
#define MESHGATE_ROUTER_PLAN_EXIT_H

#include <stddef.h>
#include <stdint.h>

#include "plan_types.h"

/*
 * The exit state as a sentence for status: what happens to internet
 * traffic and why, e.g. "internet traffic is blocked: exit node 'home' is
 * offline (last handshake 12:03:10 UTC, 3 min ago)". wanted: the
 * use_exit_node.peer; last_handshake: unix seconds, 0 for none. Empty for
 * PLAN_EXIT_OK. Returns the length as snprintf().
 */
int route_plan_exit_text(char *buf, size_t len, const char *wanted, enum plan_exit_reason reason,
			 int64_t last_handshake, int64_t now);

/* "off", "in_use" or "blocked"; a reason's short words ("offline", ...). */
const char *route_plan_exit_state_name(enum plan_exit_state state);
const char *route_plan_exit_reason_name(enum plan_exit_reason reason);

#endif
