/*
 * The Unix-socket line server (daemon/lineserver.c) driven through real
 * sockets on the event loop: line framing with one request per connection
 * (the control socket's, also through control_server_start()), a request
 * ended by shutting down instead of a newline, blank-line framing with
 * several requests on one connection (the UAPI's), a request over the cap
 * (closed, after the oversize reply if there is one), and the client limit
 * (the connection over it is closed, the others still served).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "lineserver.h"
#include "loop.h"
#include "testlib.h"

#define MS 1000000ULL

struct pump {
	struct loop *loop;
	struct loop_timer *tick;
	int fd;
	char got[8192];
	size_t len;
	bool eof;
	const char *until; /* stop once got ends with this (NULL: at EOF) */
	unsigned ticks;
};

/* Polls the client side every few ms; stops at the wanted text, at EOF, or
 * after 5 s. */
static void on_tick(void *ctx)
{
	struct pump *p = ctx;
	ssize_t n;

	while ((n = recv(p->fd, p->got + p->len, sizeof(p->got) - 1 - p->len, MSG_DONTWAIT)) > 0)
		p->len += (size_t)n;
	p->got[p->len] = '\0';
	if (n == 0 || (n < 0 && errno != EAGAIN))
		p->eof = true;
	if (p->eof ||
	    (p->until && p->len >= strlen(p->until) &&
	     !strcmp(p->got + p->len - strlen(p->until), p->until)) ||
	    ++p->ticks > 2500) {
		loop_stop(p->loop);
		return;
	}
	loop_timer_set(p->loop, p->tick, loop_now() + 2 * MS);
}

static void pump_run(struct pump *p, struct loop *loop, int fd, const char *until)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->fd = fd;
	p->until = until;
	p->tick = loop_timer_add(loop, 0, on_tick, p);
	loop_run(loop);
	loop_timer_del(loop, p->tick);
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_text(int fd, const char *text)
{
	return write(fd, text, strlen(text)) == (ssize_t)strlen(text);
}

/* Echoes the request in brackets; "bye" ends the connection. */
static bool echo(void *ctx, uid_t peer_uid, const char *req, size_t len, char **reply,
		 size_t *reply_len)
{
	int *handled = ctx;

	CHECK_EQ_INT((long)peer_uid, (long)geteuid()); /* the caller, for the audit log */
	(*handled)++;
	*reply = malloc(len + 2);
	if (*reply) {
		(*reply)[0] = '[';
		memcpy(*reply + 1, req, len);
		(*reply)[len + 1] = ']';
		*reply_len = len + 2;
	}
	return !(len >= 3 && !memcmp(req, "bye", 3));
}

static void too_long(void *ctx, char **reply, size_t *reply_len)
{
	*reply = strdup("too long\n");
	*reply_len = 9;
}

static void make_path(char *path, size_t cap, char *dir)
{
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, cap, "%s/s.sock", dir);
}

static void test_line_one_shot(void)
{
	char dir[] = "/tmp/mg-lineserver-XXXXXX", path[128];
	struct lineserver_ops ops = { .name = "t",
				      .framing = LINESERVER_LINE,
				      .max_request = 64,
				      .max_clients = 4,
				      .handle = echo };
	struct loop *loop = loop_new();
	struct lineserver *srv = NULL;
	struct pump p;
	int handled = 0, fd;

	make_path(path, sizeof(path), dir);
	CHECK_EQ_INT(lineserver_start(&srv, loop, path, &ops, &handled), 0);
	/* The first line is the request; the reply, then the close. */
	fd = connect_to(path);
	CHECK(send_text(fd, "bye 1\nignored\n"));
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof);
	CHECK(!strcmp(p.got, "[bye 1\n]"));
	close(fd);
	/* Shutting down ends a request without a newline. */
	fd = connect_to(path);
	CHECK(send_text(fd, "bye 2"));
	shutdown(fd, SHUT_WR);
	pump_run(&p, loop, fd, NULL);
	CHECK(!strcmp(p.got, "[bye 2]"));
	close(fd);
	/* Nothing sent: closed without a call. */
	fd = connect_to(path);
	shutdown(fd, SHUT_WR);
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof && p.len == 0);
	close(fd);
	CHECK_EQ_INT(handled, 2);
	/* Over the cap without a newline: closed, no reply, no call. */
	fd = connect_to(path);
	CHECK(send_text(fd, "0123456789012345678901234567890123456789012345678901234567890123456"));
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof && p.len == 0);
	CHECK_EQ_INT(handled, 2);
	close(fd);
	CHECK_EQ_INT(lineserver_clients(srv), 0);
	lineserver_stop(srv);
	CHECK(access(path, F_OK) < 0);
	rmdir(dir);
	loop_free(loop);
}

static void test_blank_line_many(void)
{
	char dir[] = "/tmp/mg-lineserver-XXXXXX", path[128];
	const struct lineserver_ops ops = { .name = "t",
					    .framing = LINESERVER_BLANK_LINE,
					    .max_request = 64,
					    .max_clients = 4,
					    .handle = echo,
					    .oversize = too_long };
	struct loop *loop = loop_new();
	struct lineserver *srv = NULL;
	struct pump p;
	int handled = 0, fd;

	make_path(path, sizeof(path), dir);
	CHECK_EQ_INT(lineserver_start(&srv, loop, path, &ops, &handled), 0);
	fd = connect_to(path);
	CHECK(send_text(fd, "a=1\nb=2\n\nc=3\n\n"));
	pump_run(&p, loop, fd, "[c=3\n\n]");
	CHECK(!p.eof);
	CHECK(!strcmp(p.got, "[a=1\nb=2\n\n][c=3\n\n]"));
	/* The connection stays for more. */
	CHECK(send_text(fd, "d=4\n\n"));
	pump_run(&p, loop, fd, "]");
	CHECK(!strcmp(p.got, "[d=4\n\n]"));
	/* Over the cap: the oversize reply, then the close. */
	CHECK(
	    send_text(fd, "x=0123456789012345678901234567890123456789012345678901234567890123\n"));
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof);
	CHECK(!strcmp(p.got, "too long\n"));
	CHECK_EQ_INT(handled, 3);
	close(fd);
	/* A partial request at EOF is dropped. */
	fd = connect_to(path);
	CHECK(send_text(fd, "e=5\n"));
	shutdown(fd, SHUT_WR);
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof && p.len == 0);
	CHECK_EQ_INT(handled, 3);
	close(fd);
	lineserver_stop(srv);
	rmdir(dir);
	loop_free(loop);
}

static void test_client_limit(void)
{
	char dir[] = "/tmp/mg-lineserver-XXXXXX", path[128];
	const struct lineserver_ops ops = { .name = "t",
					    .framing = LINESERVER_BLANK_LINE,
					    .max_request = 64,
					    .max_clients = 3,
					    .handle = echo };
	struct loop *loop = loop_new();
	struct lineserver *srv = NULL;
	struct pump p;
	int handled = 0, fds[4];

	make_path(path, sizeof(path), dir);
	CHECK_EQ_INT(lineserver_start(&srv, loop, path, &ops, &handled), 0);
	for (int i = 0; i < 4; i++) {
		fds[i] = connect_to(path);
		CHECK(fds[i] >= 0);
		/* Each connection accepted before the next one connects. */
		CHECK(send_text(fds[i], "hi\n\n"));
		pump_run(&p, loop, fds[i], i < 3 ? "]" : NULL);
		if (i < 3)
			CHECK(!strcmp(p.got, "[hi\n\n]"));
		else
			CHECK(p.eof && p.len == 0);
	}
	CHECK_EQ_INT(lineserver_clients(srv), 3);
	/* A place freed is a place for the next. */
	close(fds[0]);
	close(fds[3]);
	fds[3] = connect_to(path);
	CHECK(send_text(fds[3], "again\n\n"));
	pump_run(&p, loop, fds[3], "]");
	CHECK(!strcmp(p.got, "[again\n\n]"));
	CHECK_EQ_INT(lineserver_clients(srv), 3);
	for (int i = 1; i < 4; i++)
		close(fds[i]);
	lineserver_stop(srv);
	rmdir(dir);
	loop_free(loop);
}

/* The control protocol through the server: one JSON line, one document. */
static void test_control_socket(void)
{
	char dir[] = "/tmp/mg-lineserver-XXXXXX", path[128];
	struct loop *loop = loop_new();
	struct control_server *srv = NULL;
	struct pump p;
	int fd;

	make_path(path, sizeof(path), dir);
	CHECK_EQ_INT(control_server_start(&srv, loop, NULL, path), 0);
	fd = connect_to(path);
	CHECK(send_text(fd, "{\"cmd\": \"no such\"}\n"));
	pump_run(&p, loop, fd, NULL);
	CHECK(p.eof);
	CHECK(strstr(p.got, "\"ok\":false") && strstr(p.got, "unknown command"));
	close(fd);
	fd = connect_to(path);
	CHECK(send_text(fd, "not json\n"));
	pump_run(&p, loop, fd, NULL);
	CHECK(strstr(p.got, "request is not JSON") != NULL);
	close(fd);
	control_server_stop(srv);
	rmdir(dir);
	loop_free(loop);
}

int main(void)
{
	RUN(test_line_one_shot);
	RUN(test_blank_line_many);
	RUN(test_client_limit);
	RUN(test_control_socket);
	return test_summary();
}
