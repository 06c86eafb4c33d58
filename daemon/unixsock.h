/*
 * Listening Unix stream sockets for the daemon's local interfaces (the
 * control socket and the WireGuard UAPI socket): created 0600 with no window
 * for another user (the control socket then opened to its operator group),
 * replacing a stale socket left by a dead process but
 * never a live one, and removed on stop only if the file is still ours.
 */
#ifndef MESHGATE_UNIXSOCK_H
#define MESHGATE_UNIXSOCK_H

#include <stdbool.h>
#include <sys/types.h>

/* Identity of the socket file we created. */
struct unixsock_id {
	dev_t dev;
	ino_t ino;
};

/* True if a live process accepts connections at path. */
bool unixsock_in_use(const char *path);

/*
 * Listens at path: non-blocking, close-on-exec, mode 0600. Returns the fd,
 * -EADDRINUSE if a live process answers there, -EEXIST if the path is not a
 * socket, -ENAMETOOLONG, or another -errno. *id identifies the file.
 */
int unixsock_listen(const char *path, struct unixsock_id *id) __attribute__((warn_unused_result));

/* Unlinks path if it is still the file unixsock_listen() created. */
void unixsock_unlink(const char *path, const struct unixsock_id *id);

/* No operator group: the socket is root's and the daemon user's only. */
#define UNIXSOCK_NO_GROUP ((gid_t)-1)

/*
 * Opens the socket at path to an operator group: group ownership, then mode
 * 0660 (never a moment readable by another group). Only if the file is
 * still the one unixsock_listen() created (-ESTALE otherwise). Changing
 * the group needs CAP_CHOWN or membership of it (-EPERM). 0 or -errno.
 */
int unixsock_share(const char *path, const struct unixsock_id *id, gid_t group)
    __attribute__((warn_unused_result));

/* Only root, the daemon's own user and members of group (primary or
 * supplementary; UNIXSOCK_NO_GROUP: none) may talk to it, whatever the file
 * mode says (SO_PEERCRED and SO_PEERGROUPS on an accepted connection).
 * *uid (may be NULL) receives the peer's user id at connect(). */
bool unixsock_peer_allowed(int fd, gid_t group, uid_t *uid);

#endif
