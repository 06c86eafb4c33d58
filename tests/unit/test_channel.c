/*
 * The control channel's framing (daemon/mesh/channel.c) over a socketpair
 * on a real event loop: blank lines, JSON that is not an object and lines
 * that are not JSON are ignored and the channel stays open; a line split
 * across many reads arrives once; a partial line of MESH_CONTROL_LINE_MAX
 * bytes closes, and sending refuses a line the peer would close on. The receive path's cost is
 * counted, not timed: memchr and realloc are wrapped at link time (tests/CMakeLists.txt), so a long
 * line read in many small pieces must be searched about once and the buffer grown a handful of
 * times.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "mesh/channel.h"
#include "mesh/protocol.h"
#include "testlib.h"

void *__real_memchr(const void *s, int c, size_t n);
void *__wrap_memchr(const void *s, int c, size_t n);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static bool counting;
static uint64_t memchr_bytes, reallocs;

void *__wrap_memchr(const void *s, int c, size_t n)
{
	void *hit = __real_memchr(s, c, n);

	if (counting)
		memchr_bytes += hit ? (size_t)((const char *)hit - (const char *)s) + 1 : n;
	return hit;
}

void *__wrap_realloc(void *ptr, size_t size)
{
	if (counting)
		reallocs++;
	return __real_realloc(ptr, size);
}

struct rig {
	struct loop *loop;
	struct channel *ch;
	int peer; /* the other end: the test writes here */
	unsigned msgs;
	bool closed, refuse;
	char last_type[64];
};

static bool on_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct rig *r = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));

	(void)ch;
	r->msgs++;
	snprintf(r->last_type, sizeof(r->last_type), "%s", type ? type : "");
	return !r->refuse;
}

static void on_closed(void *ctx, struct channel *ch)
{
	struct rig *r = ctx;

	channel_free(ch);
	r->ch = NULL;
	r->closed = true;
}

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

/* Runs the loop until the channel has read everything written (or closed);
 * a deadline bounds it. */
static void drain(struct rig *r)
{
	struct loop_timer *t = loop_timer_add(r->loop, loop_now() + 2000000000ULL, stop, r->loop);

	loop_run(r->loop);
	loop_timer_del(r->loop, t);
}

static void rig_open(struct rig *r)
{
	int sv[2];

	memset(r, 0, sizeof(*r));
	r->loop = loop_new();
	CHECK(r->loop != NULL);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	r->peer = sv[1];
	r->ch = channel_new(r->loop, sv[0], false, on_msg, on_closed, r);
	CHECK(r->ch != NULL);
	loop_set_idle(r->loop, idle, r);
}

static void rig_close(struct rig *r)
{
	channel_free(r->ch);
	close(r->peer);
	loop_free(r->loop);
}

/* Writes all of buf, reading on the channel's side whenever the socket is
 * full. */
static void put(struct rig *r, const char *buf, size_t len)
{
	while (len && !r->closed) {
		ssize_t n = write(r->peer, buf, len);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
		drain(r);
	}
}

static void puts_(struct rig *r, const char *s)
{
	put(r, s, strlen(s));
}

static void test_ignored_lines(void)
{
	struct rig r;

	rig_open(&r);
	puts_(&r, "\n   \r\n\t\n");
	puts_(&r, "[]\n\"x\"\n42\nnull\n[{\"type\":\"hello\"}]\n");
	puts_(&r, "{\"type\":\"first\"}\n");
	CHECK(!r.closed);
	CHECK_EQ_INT(r.msgs, 1);
	CHECK(!strcmp(r.last_type, "first"));
	/* Not JSON at all: ignored as well (channel.h says why). */
	puts_(&r, "{oops\n\x01\x02\n{\"a\":1,\"a\":2}\n{\"type\":\"second\"}\n");
	CHECK(!r.closed);
	CHECK_EQ_INT(r.msgs, 2);
	CHECK(!strcmp(r.last_type, "second"));
	if (r.ch) {
		CHECK_EQ_INT(r.ch->stats.ignored, 11);
		CHECK_EQ_INT(r.ch->stats.lines, 13);
	}
	rig_close(&r);
}

static void test_split_and_batched(void)
{
	const char *line =
	    "{\"type\":\"split\",\"pad\":\"0123456789abcdefghijklmnopqrstuvwxyz\"}\n";
	struct rig r;

	rig_open(&r);
	for (size_t i = 0; line[i]; i++) {
		CHECK_EQ_INT(r.msgs, 0);
		put(&r, line + i, 1);
	}
	CHECK_EQ_INT(r.msgs, 1);
	CHECK(!strcmp(r.last_type, "split"));
	/* Two lines and a part of a third in one read. */
	puts_(&r, "{\"type\":\"a\"}\n{\"type\":\"b\"}\n{\"type\":");
	CHECK_EQ_INT(r.msgs, 3);
	CHECK(!strcmp(r.last_type, "b"));
	puts_(&r, "\"c\"}\n");
	CHECK_EQ_INT(r.msgs, 4);
	CHECK(!strcmp(r.last_type, "c"));
	CHECK(!r.closed);
	/* A message the owner refuses closes. */
	r.refuse = true;
	puts_(&r, "{\"type\":\"d\"}\n");
	CHECK(r.closed);
	rig_close(&r);
}

/* {"type":"big","pad":"aaa..."} of exactly len bytes, newline excluded. */
static char *big_line(size_t len)
{
	static const char head[] = "{\"type\":\"big\",\"pad\":\"", tail[] = "\"}";
	char *s = malloc(len + 2);

	memset(s, 'a', len);
	memcpy(s, head, sizeof(head) - 1);
	memcpy(s + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	s[len] = '\n';
	s[len + 1] = 0;
	return s;
}

static void test_limit(void)
{
	char *line = big_line(MESH_CONTROL_LINE_MAX - 1);
	struct rig r;

	/* The longest line allowed arrives... */
	rig_open(&r);
	put(&r, line, MESH_CONTROL_LINE_MAX);
	CHECK(!r.closed);
	CHECK_EQ_INT(r.msgs, 1);
	CHECK(!strcmp(r.last_type, "big"));
	puts_(&r, "{\"type\":\"after\"}\n");
	CHECK_EQ_INT(r.msgs, 2);
	rig_close(&r);

	/* ...one byte more without its newline closes. */
	rig_open(&r);
	put(&r, line, MESH_CONTROL_LINE_MAX - 1);
	CHECK(!r.closed);
	put(&r, "a", 1);
	CHECK(r.closed);
	CHECK_EQ_INT(r.msgs, 0);
	rig_close(&r);
	free(line);
}

/* {"type":"big","pad":"aaa..."} whose compact line is len bytes. */
static json_t *big_msg(size_t len)
{
	json_t *msg = json_pack("{s:s, s:s}", "type", "big", "pad", "");
	char *empty = json_dumps(msg, JSON_COMPACT);
	size_t pad = len - strlen(empty);
	char *s = malloc(pad + 1);

	memset(s, 'a', pad);
	s[pad] = 0;
	json_object_set_new(msg, "pad", json_string(s));
	free(s);
	free(empty);
	return msg;
}

/* Sending holds the receiver's limit: the longest line it takes is queued,
 * one byte more is refused with -EMSGSIZE (the peer would close the
 * channel), and the channel goes on. */
static void test_send_limit(void)
{
	json_t *longest = big_msg(MESH_CONTROL_LINE_MAX - 1),
	       *over = big_msg(MESH_CONTROL_LINE_MAX);
	json_t *small = json_pack("{s:s}", "type", "small");
	struct rig r;

	rig_open(&r);
	CHECK_EQ_INT(channel_send(r.ch, over), -EMSGSIZE);
	CHECK_EQ_INT(r.ch->out_len, 0);
	CHECK_EQ_INT(channel_send(r.ch, small), 0);
	CHECK_EQ_INT(r.ch->out_len, strlen("{\"type\":\"small\"}\n"));
	rig_close(&r);

	rig_open(&r);
	CHECK_EQ_INT(channel_send(r.ch, longest), 0);
	CHECK_EQ_INT(r.ch->out_len, MESH_CONTROL_LINE_MAX);
	CHECK(!r.closed);
	rig_close(&r);
	json_decref(longest);
	json_decref(over);
	json_decref(small);
}

/* A 512 KiB line in 4 KiB reads: each byte searched about once, the
 * buffer grown by doubling (today: every read searched the whole partial
 * line again, ~32 MiB, and reallocated once per read). */
static void test_linear(void)
{
	enum { LEN = 512 * 1024, PIECE = 4096 };
	char *line = big_line(LEN);
	struct rig r;

	rig_open(&r);
	memchr_bytes = reallocs = 0;
	counting = true;
	for (size_t off = 0; off < LEN + 1; off += PIECE)
		put(&r, line + off, off + PIECE > LEN + 1 ? LEN + 1 - off : PIECE);
	counting = false;
	CHECK_EQ_INT(r.msgs, 1);
	CHECK(!r.closed);
	printf("# %d bytes in %d-byte reads: memchr searched %llu bytes, %llu reallocs\n", LEN + 1,
	       PIECE, (unsigned long long)memchr_bytes, (unsigned long long)reallocs);
	CHECK(memchr_bytes >= LEN);
	CHECK(memchr_bytes <= 2 * (LEN + 1));
	CHECK(reallocs <= 16);
	rig_close(&r);
	free(line);
}

int main(void)
{
	RUN(test_ignored_lines);
	RUN(test_split_and_batched);
	RUN(test_limit);
	RUN(test_send_limit);
	RUN(test_linear);
	return test_summary();
}
