/* Batched netlink requests and filtered dumps; see nlbatch.h. */
#include "nlbatch.h"

#include <errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum {
	BATCH_BYTES = 16384, /* at most this much per sendmsg() */
	BATCH_MSGS = 128,    /* at most this many answers in the receive queue */
	RCVBUF_BYTES = 1 << 20,
	DUMP_ATTEMPTS = 4,
};

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct nlbatch {
	struct nl_sock *sk;
	int saved_cap_ack, saved_ext_ack; /* the socket's options, put back at free */
	nlbatch_error_fn on_error;
	void *arg;
	int err; /* sticky: the first error on_error chose to stop on */
	uint32_t next_seq, first_seq;
	size_t count;
	size_t len;
	size_t last; /* offset of the last message in buf */
	size_t tags[BATCH_MSGS];
	uint8_t buf[BATCH_BYTES];
};

static void sockopt_set(struct nl_sock *sk, int level, int name, int value)
{
	/* Best effort: older kernels lack some options and work without. */
	(void)setsockopt(nl_socket_get_fd(sk), level, name, &value, sizeof(value));
}

/*
 * Sequence numbers for our requests, away from libnl's: libnl checks that
 * each answer it reads carries the number it expects next, so the socket's
 * own counter must only move with libnl's requests. libnl starts from the
 * time in seconds; ours start half the number space further on. Every
 * answer to our requests is read before we return, so reuse is harmless.
 */
static uint32_t private_seq(void)
{
	return (uint32_t)time(NULL) ^ 0x80000000u;
}

static int sockopt_get(struct nl_sock *sk, int name)
{
	int value = 0;
	socklen_t len = sizeof(value);

	if (getsockopt(nl_socket_get_fd(sk), SOL_NETLINK, name, &value, &len) < 0)
		return 0;
	return value;
}

struct nlbatch *nlbatch_new(struct nl_sock *sk, nlbatch_error_fn on_error, void *arg)
{
	struct nlbatch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->sk = sk;
	b->on_error = on_error;
	b->arg = arg;
	b->next_seq = private_seq();
	b->saved_cap_ack = sockopt_get(sk, NETLINK_CAP_ACK);
	b->saved_ext_ack = sockopt_get(sk, NETLINK_EXT_ACK);
	/* Errors without the request echoed, with the kernel's reason. */
	sockopt_set(sk, SOL_NETLINK, NETLINK_CAP_ACK, 1);
	sockopt_set(sk, SOL_NETLINK, NETLINK_EXT_ACK, 1);
	sockopt_set(sk, SOL_SOCKET, SO_RCVBUF, RCVBUF_BYTES);
	return b;
}

void nlbatch_free(struct nlbatch *b)
{
	if (!b)
		return;
	sockopt_set(b->sk, SOL_NETLINK, NETLINK_CAP_ACK, b->saved_cap_ack);
	sockopt_set(b->sk, SOL_NETLINK, NETLINK_EXT_ACK, b->saved_ext_ack);
	free(b);
}

/* libnl's own error codes, for its socket calls, back to errno. */
static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return -ENOBUFS; /* also what a receive-queue overrun reports */
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

/* The extended-ack message attached to an error, or NULL. */
static const char *extack_text(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	for (; off + NLA_HDRLEN <= nlh->nlmsg_len; off += NLA_ALIGN(a->nla_len)) {
		a = (const struct nlattr *)((const uint8_t *)nlh + off);
		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > nlh->nlmsg_len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN &&
		    ((const char *)a)[a->nla_len - 1] == '\0')
			return (const char *)a + NLA_HDRLEN;
	}
	return NULL;
}

/* Handles one answer; sets *done at the acknowledgement of the last message. */
static void batch_answer(struct nlbatch *b, const struct nlmsghdr *nlh, bool *done)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	uint32_t i = nlh->nlmsg_seq - b->first_seq;

	if (nlh->nlmsg_type != NLMSG_ERROR || i >= b->count ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return; /* not ours: a stale answer */
	if (e->error < 0 && !b->err) {
		int r = b->on_error ? b->on_error(b->arg, b->tags[i], e->error, extack_text(nlh))
				    : e->error;
		if (r < 0)
			b->err = r;
	}
	if (i == b->count - 1)
		*done = true;
}

/* Reads answers up to the acknowledgement of the batch's last message. */
static int batch_collect(struct nlbatch *b)
{
	struct sockaddr_nl peer;
	bool done = false;

	while (!done) {
		unsigned char *buf = NULL;
		int n = nl_recv(b->sk, &peer, &buf, NULL);
		if (n <= 0) {
			free(buf);
			return n == 0 ? -EIO : nl_errno(n);
		}
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (unsigned)n);
		     nlh = NLMSG_NEXT(nlh, n))
			batch_answer(b, nlh, &done);
		free(buf);
	}
	return 0;
}

int nlbatch_flush(struct nlbatch *b)
{
	int ret;

	if (b->count == 0 || b->err) {
		b->count = b->len = 0;
		return b->err;
	}
	((struct nlmsghdr *)(b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
	ret = nl_sendto(b->sk, b->buf, b->len);
	ret = ret < 0 ? nl_errno(ret) : batch_collect(b);
	b->count = b->len = 0;
	if (ret < 0 && !b->err)
		b->err = ret;
	return b->err;
}

int nlbatch_add(struct nlbatch *b, const struct nlmsghdr *nlh, uint16_t type, uint16_t flags,
		size_t tag)
{
	struct nlmsghdr *out;
	size_t size = NLMSG_ALIGN(nlh->nlmsg_len);
	int ret;

	if (b->err)
		return b->err;
	if (size > sizeof(b->buf))
		return -EMSGSIZE;
	if (b->count == BATCH_MSGS || b->len + size > sizeof(b->buf)) {
		ret = nlbatch_flush(b);
		if (ret < 0)
			return ret;
	}
	out = (struct nlmsghdr *)(b->buf + b->len);
	memcpy(out, nlh, nlh->nlmsg_len);
	memset((uint8_t *)out + nlh->nlmsg_len, 0, size - nlh->nlmsg_len);
	out->nlmsg_type = type;
	out->nlmsg_flags = (uint16_t)((flags | NLM_F_REQUEST) & ~NLM_F_ACK);
	out->nlmsg_seq = b->next_seq++;
	out->nlmsg_pid = nl_socket_get_local_port(b->sk);
	if (b->count == 0)
		b->first_seq = out->nlmsg_seq;
	b->tags[b->count++] = tag;
	b->last = b->len;
	b->len += size;
	return 0;
}

/* ---- dumps ---- */

/* Handles one dump message; sets *done at the end of the dump. */
static int dump_message(const struct nlmsghdr *nlh, nldump_fn fn, void *arg, int *fn_err,
			bool *done)
{
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		return -EINTR;
	if (nlh->nlmsg_type == NLMSG_DONE) {
		*done = true;
		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
			return *(const int *)NLMSG_DATA(nlh);
		return 0;
	}
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);
		*done = true;
		return nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? e->error : -EIO;
	}
	if (*fn_err == 0)
		*fn_err = fn(arg, nlh);
	return 0;
}

/* Reads one dump to its end; -EINTR when the kernel says it was interrupted. */
static int dump_read(struct nl_sock *sk, uint32_t seq, nldump_fn fn, void *arg)
{
	struct sockaddr_nl peer;
	bool done = false;
	int ret = 0, fn_err = 0;

	while (!done) {
		unsigned char *buf = NULL;
		int n = nl_recv(sk, &peer, &buf, NULL);
		if (n <= 0) {
			free(buf);
			return n == 0 ? -EIO : nl_errno(n);
		}
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (unsigned)n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			int r = dump_message(nlh, fn, arg, &fn_err, &done);
			if (r < 0 && ret == 0)
				ret = r;
		}
		free(buf);
	}
	return ret < 0 ? ret : fn_err;
}

static int dump_once(struct nl_sock *sk, const struct nlmsghdr *req, nldump_fn fn, void *arg)
{
	size_t size = NLMSG_ALIGN(req->nlmsg_len);
	struct nlmsghdr *msg = calloc(1, size);
	int ret;

	if (!msg)
		return -ENOMEM;
	memcpy(msg, req, req->nlmsg_len);
	msg->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg->nlmsg_seq = private_seq();
	msg->nlmsg_pid = nl_socket_get_local_port(sk);
	ret = nl_sendto(sk, msg, size);
	ret = ret < 0 ? nl_errno(ret) : dump_read(sk, msg->nlmsg_seq, fn, arg);
	free(msg);
	return ret;
}

int nldump_run(struct nl_sock *sk, const struct nlmsghdr *req, nldump_fn fn, void *arg,
	       void (*restart)(void *arg))
{
	int strict = sockopt_get(sk, NETLINK_GET_STRICT_CHK);
	int ret = -EINTR;

	/* Strict checking makes the kernel honour the request's filters. It is
	 * put back afterwards: libnl's own dumps send short headers that a
	 * strict socket refuses. */
	sockopt_set(sk, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
	for (int i = 0; i < DUMP_ATTEMPTS && ret == -EINTR; i++) {
		if (i > 0 && restart)
			restart(arg);
		ret = dump_once(sk, req, fn, arg);
	}
	sockopt_set(sk, SOL_NETLINK, NETLINK_GET_STRICT_CHK, strict);
	return ret == -ENOENT ? 0 : ret;
}
