/* Logging to stderr or syslog; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* Set once in main() before the event loop starts. */
static enum log_target log_target = LOG_TO_STDERR;
static int log_max_priority = LOG_INFO;

void log_init(enum log_target target, int max_priority)
{
	log_target = target;
	log_max_priority = max_priority;
	if (target == LOG_TO_SYSLOG)
		openlog("meshgated", LOG_PID, LOG_DAEMON);
}

void log_msg(int priority, const char *fmt, ...)
{
	static const char *const names[] = { "emerg",   "alert",  "crit", "error",
					     "warning", "notice", "info", "debug" };
	va_list ap;

	if (priority > log_max_priority)
		return;
	va_start(ap, fmt);
	if (log_target == LOG_TO_SYSLOG) {
		vsyslog(priority, fmt, ap);
	} else {
		fprintf(stderr, "meshgated: %s: ", names[priority & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
