/*
 * The UAPI socket: a Unix stream socket on the event loop. Each client gets
 * an input buffer (bounded by UAPI_MAX_REQUEST) and an output buffer; a
 * request ends at its blank line, and a connection may carry several (wg
 * sends one, wireguard-go accepts many). Nothing here blocks: replies that
 * do not fit the socket wait for EPOLLOUT, and no further request is read
 * until the previous reply is out.
 */
#include "uapi.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"

struct uapi_client {
	struct uapi_client *next;
	struct uapi_server *srv;
	int fd;
	struct loop_source *src;
	char *in; /* received bytes not yet handled */
	size_t in_len, in_cap;
	size_t scanned; /* in[0 .. scanned) holds no request end */
	struct uapi_buf out;
	size_t out_off;   /* bytes of out already written */
	bool eof;         /* the client shut down its side */
	bool close_after; /* close once out is written (oversize) */
};

struct uapi_server {
	struct loop *loop;
	const struct uapi_ops *ops;
	void *ctx;
	int fd;
	struct loop_source *src;
	struct sockaddr_un addr;
	struct unixsock_id id; /* our socket file, so stop unlinks only it */
	struct uapi_client *clients;
	unsigned n_clients;
};

static void client_free(struct uapi_client *c)
{
	struct uapi_server *srv = c->srv;

	for (struct uapi_client **pp = &srv->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->n_clients--;
	loop_del_fd(srv->loop, c->src);
	close(c->fd);
	/* Both buffers may hold a private key. */
	if (c->in)
		sodium_memzero(c->in, c->in_cap);
	free(c->in);
	uapi_buf_free(&c->out);
	free(c);
}

/* Offset just past the blank line that ends the first request, or 0. */
static size_t request_end(struct uapi_client *c)
{
	for (size_t i = c->scanned; i < c->in_len; i++) {
		if (c->in[i] == '\n' && (i == 0 || c->in[i - 1] == '\n'))
			return i + 1;
	}
	c->scanned = c->in_len;
	return 0;
}

/* Handles complete requests while no reply is pending. */
static void client_process(struct uapi_client *c)
{
	struct uapi_server *srv = c->srv;
	size_t end;

	while (c->out.len == 0 && !c->close_after && (end = request_end(c))) {
		uapi_handle(srv->ops, srv->ctx, c->in, end, &c->out);
		sodium_memzero(c->in, end);
		memmove(c->in, c->in + end, c->in_len - end);
		c->in_len -= end;
		c->scanned = 0;
	}
	if (c->out.len == 0 && !c->close_after && c->in_len >= UAPI_MAX_REQUEST) {
		log_warn("uapi: request over %d bytes refused", UAPI_MAX_REQUEST);
		uapi_respond_error(&c->out, -EMSGSIZE);
		sodium_memzero(c->in, c->in_len);
		c->in_len = c->scanned = 0;
		c->close_after = true;
	}
}

/* Writes what is pending; returns false if the client is gone. */
static bool client_flush(struct uapi_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	uapi_buf_reset(&c->out);
	c->out_off = 0;
	return true;
}

/* Reads what is available into the input buffer; false on error or when
 * the buffer is full. Sets eof when the client has shut down its side. */
static bool client_read(struct uapi_client *c)
{
	for (;;) {
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
			char *in;
			if (c->in_cap >= UAPI_MAX_REQUEST)
				return true; /* full: client_process refuses it */
			if (cap > UAPI_MAX_REQUEST)
				cap = UAPI_MAX_REQUEST;
			in = malloc(cap);
			if (!in)
				return false;
			if (c->in) {
				memcpy(in, c->in, c->in_len);
				sodium_memzero(c->in, c->in_cap);
				free(c->in);
			}
			c->in = in;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
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
static uint32_t client_events(const struct uapi_client *c)
{
	if (c->out.len > c->out_off)
		return EPOLLOUT;
	return c->eof || c->close_after ? 0 : EPOLLIN;
}

static void on_client(void *ctx, uint32_t events)
{
	struct uapi_client *c = ctx;

	if ((events & EPOLLIN) && !client_read(c))
		goto close;
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		c->eof = true;
	for (;;) {
		client_process(c);
		if (!client_flush(c))
			goto close;
		if (c->out.len)
			break; /* the socket is full: wait for EPOLLOUT */
		if (c->close_after || request_end(c) == 0)
			break;
	}
	if (c->out.len == 0 && (c->close_after || c->eof))
		goto close;
	if (loop_mod_fd(c->srv->loop, c->src, client_events(c)) < 0)
		goto close;
	return;
close:
	client_free(c);
}

static void on_accept(void *ctx, uint32_t events)
{
	struct uapi_server *srv = ctx;

	for (;;) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct uapi_client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("uapi: accept: %s", strerror(errno));
			return;
		}
		if (srv->n_clients >= UAPI_MAX_CLIENTS || !unixsock_peer_allowed(fd) ||
		    !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
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

static int listen_at(struct uapi_server *srv)
{
	int fd = unixsock_listen(srv->addr.sun_path, &srv->id);

	if (fd < 0)
		return fd;
	srv->fd = fd;
	return 0;
}

int uapi_server_start_at(struct uapi_server **out, struct loop *loop, const struct uapi_ops *ops,
			 void *ctx, const char *path)
{
	struct uapi_server *srv;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->ops = ops;
	srv->ctx = ctx;
	srv->fd = -1;
	srv->addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(srv->addr.sun_path)) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	strcpy(srv->addr.sun_path, path);
	ret = listen_at(srv);
	if (ret < 0)
		goto err;
	srv->src = loop_add_fd(loop, srv->fd, EPOLLIN, on_accept, srv);
	if (!srv->src) {
		ret = -errno;
		unlink(srv->addr.sun_path);
		goto err;
	}
	*out = srv;
	return 0;

err:
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv);
	return ret;
}

int uapi_server_start(struct uapi_server **out, struct loop *loop, const struct uapi_ops *ops,
		      void *ctx, const char *ifname)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n;

	*out = NULL;
	if (!*ifname || strchr(ifname, '/'))
		return -EINVAL;
	n = snprintf(path, sizeof(path), UAPI_SOCKET_DIR "/%s.sock", ifname);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(UAPI_SOCKET_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	return uapi_server_start_at(out, loop, ops, ctx, path);
}

void uapi_server_stop(struct uapi_server *srv)
{
	if (!srv)
		return;
	while (srv->clients)
		client_free(srv->clients);
	loop_del_fd(srv->loop, srv->src);
	close(srv->fd);
	/* Another process may have replaced the file meanwhile: leave that. */
	unixsock_unlink(srv->addr.sun_path, &srv->id);
	free(srv);
}
