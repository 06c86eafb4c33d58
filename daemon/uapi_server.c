/*
 * The UAPI socket: the line server (lineserver.h) with UAPI framing. A
 * request ends at its blank line (at most UAPI_MAX_REQUEST bytes, a longer
 * one is answered errno=-EMSGSIZE and the connection closed), and a
 * connection may carry several (wg sends one, wireguard-go accepts many).
 */
#include "uapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lineserver.h"
#include "log.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"

struct uapi_server {
	const struct uapi_ops *ops;
	void *ctx;
	struct lineserver *lines;
};

/* Hands the buffer's memory over as the reply. */
static void take_reply(struct uapi_buf *buf, char **reply, size_t *reply_len)
{
	*reply = buf->data;
	*reply_len = buf->len;
	*buf = (struct uapi_buf){ 0 };
}

static bool on_request(void *ctx, uid_t peer_uid, const char *req, size_t len, char **reply,
		       size_t *reply_len)
{
	struct uapi_server *srv = ctx;
	struct uapi_buf out = { 0 };

	uapi_handle(srv->ops, srv->ctx, req, len, &out);
	take_reply(&out, reply, reply_len);
	return true;
}

static void on_oversize(void *ctx, char **reply, size_t *reply_len)
{
	struct uapi_buf out = { 0 };

	log_warn("uapi: request over %d bytes refused", UAPI_MAX_REQUEST);
	uapi_respond_error(&out, -EMSGSIZE);
	take_reply(&out, reply, reply_len);
}

static const struct lineserver_ops uapi_lines = {
	.name = "uapi",
	.framing = LINESERVER_BLANK_LINE,
	.max_request = UAPI_MAX_REQUEST,
	.max_clients = UAPI_MAX_CLIENTS,
	.handle = on_request,
	.oversize = on_oversize,
};

int uapi_server_start_at(struct uapi_server **out, struct loop *loop, const struct uapi_ops *ops,
			 void *ctx, const char *path)
{
	struct uapi_server *srv;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	*srv = (struct uapi_server){ .ops = ops, .ctx = ctx };
	ret = lineserver_start(&srv->lines, loop, path, &uapi_lines, srv);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	*out = srv;
	return 0;
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
	lineserver_stop(srv->lines);
	free(srv);
}
