/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram with "KEY=VALUE" lines to the unix socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
 */
#ifndef MESHGATE_SDNOTIFY_H
#define MESHGATE_SDNOTIFY_H

/*
 * Sends state (e.g. "READY=1") to the socket at path. Returns 1 when sent,
 * 0 when path is NULL or empty (not run by systemd), -errno on failure.
 */
int sdnotify_send_to(const char *path, const char *state);

/* The same to $NOTIFY_SOCKET. */
int sdnotify_send(const char *state);

/* "RELOADING=1" with MONOTONIC_USEC=<now>, as systemd 253+ asks for. */
int sdnotify_reloading(void);

#endif
