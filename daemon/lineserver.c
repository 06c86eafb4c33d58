/* The Unix-socket request server; see lineserver.h. */
#include "lineserver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "unixsock.h"

struct client {
	struct client *next;
	struct lineserver *srv;
	int fd;
	uid_t uid; /* the peer's, at connect() */
	struct loop_source *src;
	char *in; /* received bytes not yet handled */
	size_t in_len, in_cap;
	size_t scanned; /* in[0 .. scanned) holds no request end */
	char *out;      /* the reply being sent */
	size_t out_len, out_off;
	bool eof;         /* the client shut down its side */
	bool close_after; /* close once out is written */
};

struct lineserver {
	struct loop *loop;
	const struct lineserver_ops *ops;
	void *ctx;
	int fd;
	struct loop_source *src;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct unixsock_id id; /* our socket file, so stop unlinks only it */
	gid_t group;           /* operator group, or UNIXSOCK_NO_GROUP */
	struct client *clients;
	unsigned n_clients;
};

static void wipe_free(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

static void client_free(struct client *c)
{
	struct lineserver *srv = c->srv;

	for (struct client **pp = &srv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->n_clients--;
	loop_del_fd(srv->loop, c->src);
	close(c->fd);
	wipe_free(c->in, c->in_cap);
	wipe_free(c->out, c->out_len);
	free(c);
}

/* Length of the first complete request in the input, or 0. */
static size_t request_end(struct client *c)
{
	bool blank = c->srv->ops->framing == LINESERVER_BLANK_LINE;

	for (size_t i = c->scanned; i < c->in_len; i++) {
		if (c->in[i] == '\n' && (!blank || i == 0 || c->in[i - 1] == '\n'))
			return i + 1;
	}
	c->scanned = c->in_len;
	if (c->eof && !blank)
		return c->in_len;
	return 0;
}

static void set_reply(struct client *c, char *reply, size_t len)
{
	wipe_free(c->out, c->out_len);
	c->out = reply;
	c->out_len = reply ? len : 0;
	c->out_off = 0;
}

/* Handles complete requests while no reply is pending. */
static void client_process(struct client *c)
{
	const struct lineserver_ops *ops = c->srv->ops;
	size_t end;

	while (!c->out && !c->close_after && (end = request_end(c))) {
		char *reply = NULL;
		size_t reply_len = 0;

		if (!ops->handle(c->srv->ctx, c->uid, c->in, end, &reply, &reply_len))
			c->close_after = true;
		set_reply(c, reply, reply_len);
		explicit_bzero(c->in, end);
		memmove(c->in, c->in + end, c->in_len - end);
		c->in_len -= end;
		c->scanned = 0;
	}
	if (!c->out && !c->close_after && c->in_len >= ops->max_request) {
		char *reply = NULL;
		size_t reply_len = 0;

		if (ops->oversize)
			ops->oversize(c->srv->ctx, &reply, &reply_len);
		set_reply(c, reply, reply_len);
		explicit_bzero(c->in, c->in_len);
		c->in_len = c->scanned = 0;
		c->close_after = true;
	}
}

/* Writes what is pending; returns false if the client is gone. */
static bool client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	set_reply(c, NULL, 0);
	return true;
}

/* Makes room for more input, up to max_request; false when out of memory. */
static bool grow_input(struct client *c)
{
	size_t max = c->srv->ops->max_request;
	size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
	char *in;

	if (cap > max)
		cap = max;
	in = malloc(cap);
	if (!in)
		return false;
	if (c->in)
		memcpy(in, c->in, c->in_len);
	wipe_free(c->in, c->in_cap);
	c->in = in;
	c->in_cap = cap;
	return true;
}

/* Reads what is available; false on error. Sets eof when the client has
 * shut down its side. A full buffer stops reading: client_process refuses
 * it. */
static bool client_read(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap) {
			if (c->in_cap >= c->srv->ops->max_request)
				return true;
			if (!grow_input(c))
				return false;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0)
			return false;
		if (n == 0) {
			c->eof = true;
			return true;
		}
		c->in_len += (size_t)n;
	}
}

/* The events to wait for: output first; input only when nothing is pending. */
static uint32_t client_events(const struct client *c)
{
	if (c->out)
		return EPOLLOUT;
	return c->eof || c->close_after ? 0 : EPOLLIN;
}

static void on_client(void *ctx, uint32_t events)
{
	struct client *c = ctx;

	if ((events & EPOLLIN) && !client_read(c))
		goto close;
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		c->eof = true;
	for (;;) {
		client_process(c);
		if (!client_flush(c))
			goto close;
		if (c->out)
			break; /* the socket is full: wait for EPOLLOUT */
		if (c->close_after || request_end(c) == 0)
			break;
	}
	if (!c->out && (c->close_after || c->eof))
		goto close;
	if (loop_mod_fd(c->srv->loop, c->src, client_events(c)) < 0)
		goto close;
	return;
close:
	client_free(c);
}

static void on_accept(void *ctx, uint32_t events)
{
	struct lineserver *srv = ctx;

	for (;;) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;
		uid_t uid;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("%s: accept: %s", srv->ops->name, strerror(errno));
			return;
		}
		if (srv->n_clients >= srv->ops->max_clients ||
		    !unixsock_peer_allowed(fd, srv->group, &uid) || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		c->uid = uid;
		c->src = loop_add_fd(srv->loop, fd, EPOLLIN, on_client, c);
		if (!c->src) {
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->clients;
		srv->clients = c;
		srv->n_clients++;
	}
}

int lineserver_start(struct lineserver **out, struct loop *loop, const char *path,
		     const struct lineserver_ops *ops, void *ctx)
{
	struct lineserver *srv;
	int ret;

	*out = NULL;
	if (strlen(path) >= sizeof(srv->path))
		return -ENAMETOOLONG;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	*srv =
	    (struct lineserver){ .loop = loop, .ops = ops, .ctx = ctx, .group = UNIXSOCK_NO_GROUP };
	strcpy(srv->path, path);
	srv->fd = unixsock_listen(path, &srv->id);
	if (srv->fd < 0) {
		ret = srv->fd;
		goto err_listen;
	}
	srv->src = loop_add_fd(loop, srv->fd, EPOLLIN, on_accept, srv);
	if (!srv->src) {
		ret = -errno;
		goto err_loop;
	}
	*out = srv;
	return 0;

err_loop:
	close(srv->fd);
	unixsock_unlink(path, &srv->id);
err_listen:
	free(srv);
	return ret;
}

int lineserver_share(struct lineserver *srv, gid_t group)
{
	int ret = unixsock_share(srv->path, &srv->id, group);

	/* On failure the mode is still 0600: the group alone opens nothing. */
	if (ret == 0)
		srv->group = group;
	return ret;
}

void lineserver_stop(struct lineserver *srv)
{
	if (!srv)
		return;
	while (srv->clients)
		client_free(srv->clients);
	loop_del_fd(srv->loop, srv->src);
	close(srv->fd);
	/* Another process may have replaced the file meanwhile: leave that. */
	unixsock_unlink(srv->path, &srv->id);
	free(srv);
}

unsigned lineserver_clients(const struct lineserver *srv)
{
	return srv->n_clients;
}
