/*
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform): a
 * text protocol on /var/run/wireguard/<interface>.sock, so that stock
 * `wg show`, `wg showconf` and `wg set` work against meshgated.
 *
 *   request:  "get=1\n\n"   or   "set=1\nkey=value\n...\n\n"
 *   response: "key=value\n...errno=0\n\n"   or   "errno=N\n\n"
 *
 * Keys travel as lowercase hex, not base64. Errors are written as the
 * negated errno ("errno=-22"), as wireguard-go does: wg(8) turns the value
 * it reads after `set` into errno by negating it.
 *
 * The protocol core (uapi_handle) is pure: it reaches the node only through
 * struct uapi_ops, so tests and the fuzzer drive it with a real wg_device
 * and fake socket-level parts. The server owns the listening socket and its
 * clients, all on the event loop.
 */
#ifndef MESHGATE_UAPI_H
#define MESHGATE_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "wg/device.h"

enum {
	/* Largest request a client may send (a setconf of thousands of peers
	 * fits); a longer one is answered with errno=-EMSGSIZE. */
	UAPI_MAX_REQUEST = 1 << 20,
	/* Longest key=value line we accept; the longest valid one, an
	 * endpoint with an IPv6 scope, is under 80 characters. */
	UAPI_MAX_LINE = 256,
	/* Concurrent client connections; more are accepted and closed. */
	UAPI_MAX_CLIENTS = 32,
};

/* What the protocol needs from the node. node.c fills this in with
 * node_set_private_key() and friends; tests supply fakes. */
struct uapi_ops {
	/* key NULL removes the private key. 0 or -errno. */
	int (*set_private_key)(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
	/* Rebinds the UDP socket (0: any port). 0 or -errno (-EADDRINUSE). */
	int (*set_listen_port)(void *ctx, uint16_t port);
	int (*set_fwmark)(void *ctx, uint32_t fwmark);
	uint16_t (*listen_port)(void *ctx); /* the bound port */
	uint32_t (*fwmark)(void *ctx);
	struct wg_device *(*device)(void *ctx);
	/* Where a keepalive sent by a configuration change is queued. */
	struct pkt_batch *(*udp_out)(void *ctx);
	/* Called after every set, also a failed one (it may have changed
	 * something): send what was queued, re-arm the timers. May be NULL. */
	void (*changed)(void *ctx);
};

/* A growable response buffer. Start from all zeros; free with
 * uapi_buf_free(), which wipes it (a get response holds the private key). */
struct uapi_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; data holds a truncated text */
};

void uapi_buf_free(struct uapi_buf *buf);
/* Wipes and empties the buffer, keeping its memory. */
void uapi_buf_reset(struct uapi_buf *buf);

/*
 * Handles one complete request (its text up to and including the blank
 * line; the blank line may be left out) and appends the response, always
 * ending in "errno=N\n\n", to response. Returns 0 or the -errno that the
 * response carries; -ENOMEM when the response could not be built (the
 * buffer then holds "errno=-12\n\n" if even that fits, see buf->failed).
 *
 * A set is validated as a whole before anything is applied, so a request
 * with a bad line changes nothing; only failures of the change itself (a
 * port in use, out of memory) can leave it half done, as in wireguard-go.
 */
int uapi_handle(const struct uapi_ops *ops, void *ctx, const char *request, size_t len,
		struct uapi_buf *response);

/* Appends the response to a request refused unread: "errno=<err>\n\n". */
void uapi_respond_error(struct uapi_buf *response, int err);

struct uapi_server;

/*
 * Creates /var/run/wireguard (0755) if needed and listens on
 * /var/run/wireguard/<ifname>.sock (mode 0600), replacing a stale socket
 * left by a dead process. Returns 0, -EADDRINUSE if a live process answers
 * on that socket, -EEXIST if the path is something other than a socket,
 * -ENAMETOOLONG, or another -errno. ops and ctx must outlive the server.
 */
int uapi_server_start(struct uapi_server **out, struct loop *loop, const struct uapi_ops *ops,
		      void *ctx, const char *ifname) __attribute__((warn_unused_result));

/* The same on an explicit socket path (its directory must exist). */
int uapi_server_start_at(struct uapi_server **out, struct loop *loop, const struct uapi_ops *ops,
			 void *ctx, const char *path) __attribute__((warn_unused_result));

/* Closes every client and the socket, and unlinks the socket file if it is
 * still ours. NULL-safe. */
void uapi_server_stop(struct uapi_server *srv);

#endif
