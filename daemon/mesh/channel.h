/*
 * The control channel's framing: a non-blocking TCP stream on the event
 * loop carrying JSON objects, one per line (protocol.h). Both roles use it:
 * the coordinator for each connected node, a node for its connection to the
 * coordinator.
 *
 * Receiving:
 *  - a line that is blank, not JSON, or JSON but not an object is ignored
 *    and counted (stats.ignored), as the protocol ignores what it does not
 *    know. Not JSON is ignored too, not closed on: lines are framed by '\n',
 *    so a bad line cannot desynchronise the next one, and closing would only
 *    make the peer reconnect, which costs the coordinator more (a registry
 *    look-up, a full netmap) than parsing a line;
 *  - a partial line of MESH_CONTROL_LINE_MAX bytes or more closes the
 *    channel;
 *  - each byte is scanned for '\n' once (the scan resumes where it
 *    stopped), the buffer grows by doubling up to MESH_CONTROL_LINE_MAX and
 *    is released when it is empty and large, and one wake-up reads at most
 *    CHANNEL_READ_BUDGET bytes, so a peer that streams cannot hold the
 *    event loop.
 */
#ifndef MESHGATE_MESH_CHANNEL_H
#define MESHGATE_MESH_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_source;
struct channel;

/* A complete message arrived (msg is borrowed). Return false to close. */
typedef bool (*channel_msg_fn)(void *ctx, struct channel *ch, const json_t *msg);
/* The channel closed (peer gone, error, or a line over the limit); the
 * callback owns ch now and frees it with channel_free(). connected tells
 * whether it ever was established. */
typedef void (*channel_closed_fn)(void *ctx, struct channel *ch);

enum {
	CHANNEL_IN_MIN = 4096,            /* the receive buffer's first size */
	CHANNEL_IN_KEEP = 64 * 1024,      /* an empty buffer above this is released */
	CHANNEL_READ_BUDGET = 256 * 1024, /* bytes read per wake-up */
};

struct channel_stats {
	uint64_t lines;   /* complete lines taken, ignored ones included */
	uint64_t ignored; /* blank, not JSON, or JSON but not an object */
	uint64_t scanned; /* bytes searched for '\n' */
};

struct channel {
	struct loop *loop;
	struct loop_source *src;
	int fd;
	bool connecting; /* a non-blocking connect() in progress */
	bool connected;
	char *in, *out;
	size_t in_len, in_cap, out_len, out_cap;
	size_t in_scanned; /* in[0..in_scanned) holds no '\n' */
	struct channel_stats stats;
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

/* Queues msg as one line (compact JSON). -ENOMEM; -EMSGSIZE when the line
 * would be MESH_CONTROL_LINE_MAX bytes or more (the peer closes on those);
 * -ENOBUFS when more than MESH_CONTROL_LINE_MAX * 4 bytes wait already. */
int channel_send(struct channel *ch, const json_t *msg);

#endif
