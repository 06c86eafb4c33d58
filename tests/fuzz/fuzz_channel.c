/*
 * Fuzz harness for the control channel's framing (channel.c), as the
 * coordinator reads a node's connection: the input is the byte stream,
 * delivered over a socketpair in pieces whose sizes come from the input
 * itself (its first byte seeds them), with the event loop run after each.
 *
 * Invariants beyond memory safety, against a reference that splits the
 * whole input at '\n' at once: the channel stays open (fuzz inputs stay
 * below the 1 MiB line limit), hands on exactly the lines that are JSON
 * objects, in order, counts every other complete line as ignored, and
 * searches each byte for '\n' once, however the stream was cut.
 *
 * Seeds (tests/fuzz/seeds/fuzz_channel): a node's hello and update, blank
 * and non-object lines, garbage, CRLF, a line split over many pieces.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "mesh/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rig {
	struct loop *loop;
	struct channel *ch;
	uint8_t *want; /* the reference: object lines, in order */
	size_t want_len, want_pos;
	unsigned msgs;
	bool closed;
};

static void stop(void *ctx)
{
	loop_stop(ctx);
}

static void idle(void *ctx)
{
	struct rig *r = ctx;
	int pending = 0;

	if (!r->ch || ioctl(r->ch->fd, FIONREAD, &pending) < 0 || pending == 0)
		loop_stop(r->loop);
}

/* Each message must be the next object line of the reference. */
static bool on_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct rig *r = ctx;
	const uint8_t *line = r->want + r->want_pos,
		      *nl = memchr(line, '\n', r->want_len - r->want_pos);
	json_t *ref;

	(void)ch;
	if (!json_is_object(msg) || !nl)
		abort();
	ref = json_loadb((const char *)line, (size_t)(nl - line), JSON_REJECT_DUPLICATES, NULL);
	if (!json_equal(ref, (json_t *)msg))
		abort();
	json_decref(ref);
	r->want_pos = (size_t)(nl - r->want) + 1;
	r->msgs++;
	return true;
}

static void on_closed(void *ctx, struct channel *ch)
{
	struct rig *r = ctx;

	channel_free(ch);
	r->ch = NULL;
	r->closed = true;
}

/* The reference: the object lines of the input, each with its '\n'; counts
 * all complete lines. */
static uint8_t *objects_of(const uint8_t *data, size_t size, size_t *len, unsigned *lines,
			   unsigned *objects)
{
	uint8_t *out = malloc(size + 1);
	const uint8_t *p = data, *nl;

	*len = 0;
	*lines = *objects = 0;
	while (out && (nl = memchr(p, '\n', size - (size_t)(p - data)))) {
		json_t *v =
		    json_loadb((const char *)p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, NULL);
		(*lines)++;
		if (json_is_object(v)) {
			memcpy(out + *len, p, (size_t)(nl - p) + 1);
			*len += (size_t)(nl - p) + 1;
			(*objects)++;
		}
		json_decref(v);
		p = nl + 1;
	}
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct loop *loop;
	struct rig r = { 0 };
	struct loop_timer *bound;
	unsigned lines, objects;
	uint32_t cut = size ? data[0] : 0;
	size_t off = 0;
	int sv[2];

	if (!loop)
		loop = loop_new();
	if (!loop || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	r.loop = loop;
	r.want = objects_of(data, size, &r.want_len, &lines, &objects);
	r.ch = channel_new(loop, sv[0], false, on_msg, on_closed, &r);
	if (!r.want || !r.ch)
		abort();
	loop_set_idle(loop, idle, &r);
	bound = loop_timer_add(loop, UINT64_MAX, stop, loop);
	if (!bound)
		abort();
	while (off < size && !r.closed) {
		size_t piece = 1 + cut % 61;
		ssize_t n;

		cut = cut * 1103515245u + 12345u;
		n = write(sv[1], data + off, piece < size - off ? piece : size - off);
		if (n < 0 && errno != EAGAIN)
			abort();
		off += n > 0 ? (size_t)n : 0;
		loop_timer_set(loop, bound, loop_now() + 1000000000ULL);
		loop_run(loop);
	}
	loop_timer_del(loop, bound);
	if (r.closed || r.msgs != objects || r.ch->stats.lines != lines ||
	    r.ch->stats.ignored != lines - objects || r.ch->stats.scanned != size)
		abort();
	channel_free(r.ch);
	close(sv[1]);
	free(r.want);
	return 0;
}
