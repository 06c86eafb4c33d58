/*
 * The control channel's framing: a non-blocking TCP stream on the event
 * loop carrying JSON objects, one per line (protocol.h). Both roles use it:
 * the coordinator for each connected node, a node for its connection to the
 * coordinator.
 */
#ifndef MESHGATE_MESH_CHANNEL_H
#define MESHGATE_MESH_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct loop;
struct loop_source;
struct channel;

/* A complete message arrived (msg is borrowed). Return false to close. */
typedef bool (*channel_msg_fn)(void *ctx, struct channel *ch, const json_t *msg);
/* The channel closed (peer gone, error, or a line over the limit); the
 * callback owns ch now and frees it with channel_free(). connected tells
 * whether it ever was established. */
typedef void (*channel_closed_fn)(void *ctx, struct channel *ch);

struct channel {
	struct loop *loop;
	struct loop_source *src;
	int fd;
	bool connecting; /* a non-blocking connect() in progress */
	bool connected;
	char *in, *out;
	size_t in_len, out_len, out_cap;
	channel_msg_fn on_msg;
	channel_closed_fn on_closed;
	void *ctx;
};

/* Wraps an accepted or connecting socket (non-blocking). NULL on failure;
 * fd is closed then. */
struct channel *channel_new(struct loop *loop, int fd, bool connecting, channel_msg_fn on_msg,
			    channel_closed_fn on_closed, void *ctx);

/* Closes the socket and frees the channel; NULL-safe. */
void channel_free(struct channel *ch);

/* Queues msg as one line (compact JSON). -ENOMEM, -ENOBUFS when more than
 * MESH_CONTROL_LINE_MAX * 4 bytes wait already. */
int channel_send(struct channel *ch, const json_t *msg);

#endif
