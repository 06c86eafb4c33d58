/*
 * A Unix stream socket server for line-based request/response protocols on
 * the event loop, with the same limits for every user (the control socket
 * and the WireGuard UAPI socket): at most max_clients connections (more are
 * accepted and closed), a request at most max_request bytes, callers other
 * than root, the daemon's own user or its operator group (if shared)
 * refused, EINTR retried. Nothing blocks:
 * a reply that does not fit the socket waits for EPOLLOUT, and no further
 * request is read until the previous reply is out. Buffers are wiped when
 * freed (a UAPI get reply holds the private key).
 */
#ifndef MESHGATE_LINESERVER_H
#define MESHGATE_LINESERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct loop;
struct lineserver;

enum lineserver_framing {
	/* A request is one line; at end of input, whatever was sent. */
	LINESERVER_LINE,
	/* A request is lines up to a blank line (UAPI); a partial one at end
	 * of input is dropped. */
	LINESERVER_BLANK_LINE,
};

struct lineserver_ops {
	const char *name; /* for logs */
	enum lineserver_framing framing;
	size_t max_request;
	unsigned max_clients;
	/*
	 * Answers one request (its text, the ending included) from the user
	 * peer_uid (SO_PEERCRED at connect()): sets *reply to a malloc'ed
	 * buffer the server sends and frees, or leaves it NULL for no reply.
	 * Returns false to close the connection once the reply is out.
	 */
	bool (*handle)(void *ctx, uid_t peer_uid, const char *req, size_t len, char **reply,
		       size_t *reply_len);
	/* The last reply for a request over max_request bytes, or NULL for
	 * none; the connection closes after it. May be NULL. */
	void (*oversize)(void *ctx, char **reply, size_t *reply_len);
};

/*
 * Listens at path (see unixsock_listen(): 0600, a stale socket replaced, a
 * live one refused with -EADDRINUSE, a non-socket with -EEXIST). ops and ctx
 * must outlive the server. 0 or -errno.
 */
int lineserver_start(struct lineserver **out, struct loop *loop, const char *path,
		     const struct lineserver_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/*
 * Gives the socket to an operator group (see unixsock_share(): mode 0660)
 * and lets its members in. On failure the socket stays root's, 0600.
 * 0 or -errno.
 */
int lineserver_share(struct lineserver *srv, gid_t group) __attribute__((warn_unused_result));

/* Closes every client and the socket, and unlinks the socket file if it is
 * still ours. NULL-safe. */
void lineserver_stop(struct lineserver *srv);

/* Connected clients, for tests. */
unsigned lineserver_clients(const struct lineserver *srv);

#endif
