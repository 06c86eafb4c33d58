/*
 * The node's OS resolver pointed at the mesh resolver while the daemon runs
 * (`dns.manage_resolv_conf`), and put back: through systemd-resolved's
 * per-link settings on the TUN when org.freedesktop.resolve1 is on the
 * system bus (dns/resolved.h), else by rewriting /etc/resolv.conf in place
 * (dns/resolvconf.h). The method is chosen when management starts and kept
 * until it stops.
 *
 *   osresolver_set(want)   start, or follow a change (v6 address, exit
 *                          node, domains); NULL: stop managing, put back
 *   osresolver_stop()      put back: RevertLink, or the saved resolv.conf
 *   osresolver_cleanup()   after a SIGKILL: the saved resolv.conf back if
 *                          the file is still ours (resolved needs nothing:
 *                          it forgets the TUN's settings when the TUN goes)
 *
 * A failure never stops the node: it is kept in error for the status
 * document and logged once. Once another program changed resolv.conf
 * behind meshgated, meshgated leaves it alone until management is switched
 * off and on again (a reload).
 */
#ifndef MESHGATE_DNS_OSRESOLVER_H
#define MESHGATE_DNS_OSRESOLVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "dns/resolved.h"

enum osresolver_method {
	OSRESOLVER_NONE,
	OSRESOLVER_RESOLVED,
	OSRESOLVER_RESOLV_CONF,
};

struct osresolver {
	bool managed;                  /* the OS resolver points at the mesh's */
	enum osresolver_method method; /* the one in use or last tried */
	char error[512];               /* the last failure; "" none */
	bool given_up;                 /* resolv.conf changed behind us */
	int ifindex;
	char resolv_conf[PATH_MAX]; /* RESOLVCONF_PATH */
	char saved[PATH_MAX];       /* state_dir/RESOLVCONF_SAVED */
	struct resolved_bus *bus;
	struct resolved_link link; /* what resolved was given */
};

/* Sets up r (not managing yet) for the TUN ifindex and state_dir. */
void osresolver_init(struct osresolver *r, const char *state_dir, int ifindex);

/* Starts or updates management for want; NULL stops it (see above). */
void osresolver_set(struct osresolver *r, const struct resolved_want *want);

/* Puts the OS resolver back and releases r; safe on one never set. */
void osresolver_stop(struct osresolver *r);

/* `meshgated --cleanup`: 0 when nothing of meshgated's stays in
 * resolv.conf (put back, or changed by another program since: said on
 * stderr), -errno when it cannot be put back. */
int osresolver_cleanup(const char *state_dir);

/* The file whose nameservers are the host's own, for the forwarder's
 * default upstream: state_dir's saved original while meshgated's file is
 * in /etc/resolv.conf (a restart after a crash), else /etc/resolv.conf
 * (resolvconf_original_path()). */
void osresolver_original_path(const char *state_dir, char *out, size_t len);

/* "resolved", "resolv.conf", or NULL for none. */
const char *osresolver_method_name(enum osresolver_method m);

#endif
