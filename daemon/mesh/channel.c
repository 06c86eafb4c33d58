/* JSON lines over a non-blocking TCP stream; see channel.h. */
#include "mesh/channel.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "mesh/protocol.h"

static void channel_close(struct channel *ch)
{
	ch->on_closed(ch->ctx, ch);
}

static void update_events(struct channel *ch)
{
	uint32_t ev = EPOLLIN | (ch->out_len || ch->connecting ? EPOLLOUT : 0);

	loop_mod_fd(ch->loop, ch->src, ev);
}

static bool flush_out(struct channel *ch)
{
	while (ch->out_len) {
		ssize_t n = send(ch->fd, ch->out, ch->out_len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0)
			return false;
		memmove(ch->out, ch->out + n, ch->out_len - (size_t)n);
		ch->out_len -= (size_t)n;
	}
	update_events(ch);
	return true;
}

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* One complete line (without its '\n'); false to close. */
static bool take_line(struct channel *ch, const char *line, size_t len)
{
	json_t *msg = blank(line, len) ? NULL : json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	bool keep = true;

	ch->stats.lines++;
	if (json_is_object(msg))
		keep = ch->on_msg(ch->ctx, ch, msg);
	else
		ch->stats.ignored++;
	json_decref(msg);
	return keep;
}

/* Hands every complete line to on_msg, searching only the bytes not
 * searched before; false to close. The partial line left is moved to the
 * front once: it lies within the bytes just read when a line ended there. */
static bool take_lines(struct channel *ch)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(ch->in + ch->in_scanned, '\n', ch->in_len - ch->in_scanned))) {
		size_t end = (size_t)(nl - ch->in);

		ch->stats.scanned += end + 1 - ch->in_scanned;
		ch->in_scanned = end + 1;
		if (!take_line(ch, ch->in + start, end - start))
			return false;
		start = end + 1;
	}
	ch->stats.scanned += ch->in_len - ch->in_scanned;
	ch->in_len -= start;
	if (start && ch->in_len)
		memmove(ch->in, ch->in + start, ch->in_len);
	ch->in_scanned = ch->in_len;
	if (ch->in_len == 0 && ch->in_cap > CHANNEL_IN_KEEP) {
		free(ch->in);
		ch->in = NULL;
		ch->in_cap = 0;
	}
	return ch->in_len < MESH_CONTROL_LINE_MAX;
}

/* Room to read into: doubles the buffer, up to MESH_CONTROL_LINE_MAX. */
static bool in_reserve(struct channel *ch)
{
	size_t cap = ch->in_cap ? ch->in_cap * 2 : CHANNEL_IN_MIN;
	char *grown;

	if (ch->in_cap - ch->in_len >= CHANNEL_IN_MIN || ch->in_cap >= MESH_CONTROL_LINE_MAX)
		return ch->in_len < ch->in_cap;
	if (cap > MESH_CONTROL_LINE_MAX)
		cap = MESH_CONTROL_LINE_MAX;
	grown = realloc(ch->in, cap);
	if (!grown)
		return false;
	ch->in = grown;
	ch->in_cap = cap;
	return true;
}

static bool read_in(struct channel *ch)
{
	for (size_t budget = CHANNEL_READ_BUDGET; budget;) {
		size_t room;
		ssize_t n;

		if (!in_reserve(ch))
			return false;
		room = ch->in_cap - ch->in_len;
		n = recv(ch->fd, ch->in + ch->in_len, room < budget ? room : budget, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		ch->in_len += (size_t)n;
		budget -= (size_t)n;
		if (!take_lines(ch))
			return false;
	}
	return true; /* more waits: the loop calls again */
}

static bool finish_connect(struct channel *ch)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		return false;
	ch->connecting = false;
	ch->connected = true;
	return true;
}

static void on_events(void *ctx, uint32_t events)
{
	struct channel *ch = ctx;

	if (ch->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !finish_connect(ch))
		goto close;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !read_in(ch))
		goto close;
	if (!flush_out(ch))
		goto close;
	return;
close:
	channel_close(ch);
}

/* A peer that stops answering (daemon stopped, host gone) is noticed within
 * seconds, not after TCP's retransmissions give up minutes later. */
static void keepalive(int fd)
{
	int on = 1, idle = MESH_CONTROL_KEEPALIVE_IDLE, intvl = MESH_CONTROL_KEEPALIVE_INTERVAL,
	    cnt = MESH_CONTROL_KEEPALIVE_COUNT;
	unsigned timeout = (unsigned)(idle + intvl * cnt) * 1000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
}

struct channel *channel_new(struct loop *loop, int fd, bool connecting, channel_msg_fn on_msg,
			    channel_closed_fn on_closed, void *ctx)
{
	struct channel *ch = calloc(1, sizeof(*ch));

	if (!ch) {
		close(fd);
		return NULL;
	}
	keepalive(fd);
	*ch = (struct channel){ .loop = loop,
				.fd = fd,
				.connecting = connecting,
				.connected = !connecting,
				.on_msg = on_msg,
				.on_closed = on_closed,
				.ctx = ctx };
	ch->src = loop_add_fd(loop, fd, EPOLLIN | (connecting ? EPOLLOUT : 0), on_events, ch);
	if (!ch->src) {
		close(fd);
		free(ch);
		return NULL;
	}
	return ch;
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	loop_del_fd(ch->loop, ch->src);
	close(ch->fd);
	free(ch->in);
	free(ch->out);
	free(ch);
}

int channel_send(struct channel *ch, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	int ret = 0;

	if (!text)
		return -ENOMEM;
	if (len >= MESH_CONTROL_LINE_MAX) {
		ret = -EMSGSIZE; /* the peer would close the channel on it */
		goto out;
	}
	if (ch->out_len + len + 1 > (size_t)MESH_CONTROL_LINE_MAX * 4) {
		ret = -ENOBUFS;
		goto out;
	}
	if (ch->out_len + len + 1 > ch->out_cap) {
		size_t cap = (ch->out_len + len + 1) * 2;
		char *grown = realloc(ch->out, cap);
		if (!grown) {
			ret = -ENOMEM;
			goto out;
		}
		ch->out = grown;
		ch->out_cap = cap;
	}
	memcpy(ch->out + ch->out_len, text, len);
	ch->out[ch->out_len + len] = '\n';
	ch->out_len += len + 1;
	if (!ch->connecting)
		update_events(ch);
out:
	free(text);
	return ret;
}
