/*
 * Batched netlink requests and filtered dumps over a libnl socket.
 *
 * A batch sends many messages in one sendmsg(). Only the last message of a
 * batch asks for an acknowledgement: the kernel answers every failing
 * message with an error anyway, and rtnetlink handles the messages of one
 * sendmsg() in order before the call returns, so reading up to that last
 * acknowledgement collects the outcome of every message in the batch.
 */
#ifndef MESHGATE_ROUTER_NLBATCH_H
#define MESHGATE_ROUTER_NLBATCH_H

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

struct nl_sock;
struct nlbatch;

/*
 * Called for each message the kernel refused: tag as given to nlbatch_add(),
 * err a negative errno, text the kernel's extended-ack message or NULL.
 * Returns 0 to carry on (an expected error, like ENOENT on a delete) or a
 * negative errno to stop: nothing more is sent and the batch keeps failing
 * with that value.
 */
typedef int (*nlbatch_error_fn)(void *arg, size_t tag, int err, const char *text);

/* Returns a new batch on sk (NULL: -ENOMEM); release with nlbatch_free(). */
struct nlbatch *nlbatch_new(struct nl_sock *sk, nlbatch_error_fn on_error, void *arg);
void nlbatch_free(struct nlbatch *b);

/*
 * Queues a copy of nlh's payload as a request of the given type and flags
 * (NLM_F_REQUEST is added; the port is the socket's, the sequence number
 * one of the batch's own, so libnl's synchronous calls on the same socket
 * keep working).
 * Sends the batch when it is full. 0 or the batch's error.
 */
int nlbatch_add(struct nlbatch *b, const struct nlmsghdr *nlh, uint16_t type, uint16_t flags,
		size_t tag) __attribute__((warn_unused_result));

/* Sends what is queued and collects every answer. 0 or the batch's error. */
int nlbatch_flush(struct nlbatch *b) __attribute__((warn_unused_result));

/*
 * Called for each message of a dump; returns 0 or a negative errno to stop
 * (the rest of the dump is still read, so the socket stays usable).
 */
typedef int (*nldump_fn)(void *arg, const struct nlmsghdr *nlh);

/*
 * Dumps with request `req` (a header and payload, e.g. RTM_GETROUTE with a
 * struct rtmsg and attributes) and strict checking on the socket, so the
 * kernel filters by what the request says. An interrupted dump (the objects
 * changed meanwhile) is read again, after restart(arg) when given, up to a
 * few times. 0 or -errno; a dump of a table that does not exist is empty.
 * The batch's socket options (extended acks, capped errors, a larger
 * receive buffer) are set by nlbatch_new() and put back by nlbatch_free(),
 * except the receive buffer, which stays large.
 */
int nldump_run(struct nl_sock *sk, const struct nlmsghdr *req, nldump_fn fn, void *arg,
	       void (*restart)(void *arg)) __attribute__((warn_unused_result));

#endif
