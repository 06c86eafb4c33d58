/*
 * The client side of the control socket (see control.h for the protocol):
 * one JSON request line out, one JSON answer back, then the daemon closes.
 * Used by the `meshgate` CLI.
 */
#ifndef MESHGATE_CONTROL_CLIENT_H
#define MESHGATE_CONTROL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

enum {
	CONTROL_TIMEOUT_SEC = 30,              /* for the whole answer */
	CONTROL_MAX_ANSWER = 16 * 1024 * 1024, /* bytes */
};

/*
 * Sends request to the daemon listening on socket_path and waits for the
 * answer. On success returns 0 and *result is a new reference to the
 * answer's "result" (json null when it has none). Otherwise returns -errno
 * and puts a one-line reason in err:
 *   connect failed:   "cannot reach meshgated at PATH: <strerror> (is it running?)"
 *   refused by the socket's mode: "permission denied on PATH: add yourself to
 *                     group G ..." (0660 with group G), or "... only root ..."
 *   {"ok": false}:    the daemon's "error" text, -EREMOTEIO
 *   a bad answer:     "invalid answer from meshgated: ...", -EPROTO
 *   no answer in time: -ETIMEDOUT
 */
int control_request(const char *socket_path, json_t *request, json_t **result, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#endif
