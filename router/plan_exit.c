/* The exit state in words; see plan_exit.h. */
#include "plan_exit.h"

#include <stdio.h>
#include <time.h>

const char *route_plan_exit_state_name(enum plan_exit_state state)
{
	return state == PLAN_EXIT_IN_USE    ? "in_use"
	       : state == PLAN_EXIT_BLOCKED ? "blocked"
					    : "off";
}

const char *route_plan_exit_reason_name(enum plan_exit_reason reason)
{
	static const char *const names[] = {
		[PLAN_EXIT_OK] = "ok",
		[PLAN_EXIT_NO_NETMAP] = "no netmap yet",
		[PLAN_EXIT_UNKNOWN] = "not in the mesh",
		[PLAN_EXIT_NOT_OFFERED] = "no exit offered",
		[PLAN_EXIT_PENDING] = "not approved by the coordinator",
		[PLAN_EXIT_OFFLINE] = "offline",
	};

	return (size_t)reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

/* "3 min ago", "42 s ago", "2 h ago". */
static void age_text(char *buf, size_t len, int64_t age)
{
	if (age < 120)
		snprintf(buf, len, "%lld s ago", (long long)(age < 0 ? 0 : age));
	else if (age < 7200)
		snprintf(buf, len, "%lld min ago", (long long)age / 60);
	else
		snprintf(buf, len, "%lld h ago", (long long)age / 3600);
}

static int offline_text(char *buf, size_t len, const char *wanted, int64_t last, int64_t now)
{
	char when[32], ago[32];
	time_t t = (time_t)last;
	struct tm tm;

	if (!last || !gmtime_r(&t, &tm))
		return snprintf(buf, len,
				"internet traffic is blocked: exit node '%s' is offline (no "
				"handshake with it yet)",
				wanted);
	strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	age_text(ago, sizeof(ago), now - last);
	return snprintf(buf, len,
			"internet traffic is blocked: exit node '%s' is offline (last handshake "
			"%s, %s)",
			wanted, when, ago);
}

int route_plan_exit_text(char *buf, size_t len, const char *wanted, enum plan_exit_reason reason,
			 int64_t last_handshake, int64_t now)
{
	switch (reason) {
	case PLAN_EXIT_NO_NETMAP:
		return snprintf(buf, len,
				"internet traffic is blocked: exit node '%s' is not known yet "
				"(this node has no netmap: not joined, or its coordinator not "
				"reached since start)",
				wanted);
	case PLAN_EXIT_UNKNOWN:
		return snprintf(buf, len,
				"internet traffic is blocked: exit node '%s' is not in the mesh "
				"(no node has that name or mesh address)",
				wanted);
	case PLAN_EXIT_NOT_OFFERED:
		return snprintf(buf, len,
				"internet traffic is blocked: '%s' offers no exit node "
				"(exit_node.enabled is not set there)",
				wanted);
	case PLAN_EXIT_PENDING:
		return snprintf(buf, len,
				"internet traffic is blocked: exit node '%s' is not approved (on "
				"the coordinator: meshgate routes approve %s 0.0.0.0/0 ::/0)",
				wanted, wanted);
	case PLAN_EXIT_OFFLINE:
		return offline_text(buf, len, wanted, last_handshake, now);
	case PLAN_EXIT_OK:
		break;
	}
	if (len)
		buf[0] = '\0';
	return 0;
}
