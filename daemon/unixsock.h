/*
 * Listening Unix stream sockets for the daemon's local interfaces (the
 * control socket and the WireGuard UAPI socket): created 0600 with no window
 * for another user, replacing a stale socket left by a dead process but
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

/* Only root and the daemon's own user may talk to it, whatever the file
 * mode says (checked with SO_PEERCRED on an accepted connection). */
bool unixsock_peer_allowed(int fd);

#endif
