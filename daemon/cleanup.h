/*
 * `meshgated --cleanup`: removes everything a meshgated with this
 * configuration may have left behind after a crash or SIGKILL: its TUN
 * device, its control and UAPI sockets, and /etc/resolv.conf put back from
 * state_dir when it still is meshgated's (dns/osresolver.h). Idempotent;
 * refuses to touch a daemon that is still running.
 */
#ifndef MESHGATE_CLEANUP_H
#define MESHGATE_CLEANUP_H

#include "config.h"

/* 0 when the host is clean afterwards, -errno otherwise (reason on stderr). */
int cleanup_run(const struct mg_config *cfg);

#endif
