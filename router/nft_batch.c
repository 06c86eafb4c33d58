/* One nftables transaction over nfnetlink; see nft_batch.h. */
#include "nft_batch.h"

#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * A message is built in place at the end of the current page; a page holds
 * page_size() bytes plus room for one message of the largest size (a set
 * element list is one attribute nest, so below 64 KiB), as nft does.
 */
static uint32_t page_size(void)
{
	return (uint32_t)getpagesize() * 32;
}

static uint32_t page_overrun(void)
{
	return UINT16_MAX + (uint32_t)getpagesize();
}

/* Closes the message just built: moves on to a new page when this one is full. */
static void commit_msg(struct nft_batch *b)
{
	if (nftnl_batch_update(b->pages) < 0 && !b->err)
		b->err = -ENOMEM;
}

int nft_batch_init(struct nft_batch *b, uint32_t seq)
{
	memset(b, 0, sizeof(*b));
	b->pages = nftnl_batch_alloc(page_size(), page_overrun());
	if (!b->pages)
		return -ENOMEM;
	b->seq_begin = seq;
	b->seq = seq + 1;
	nftnl_batch_begin(nftnl_batch_buffer(b->pages), b->seq_begin);
	commit_msg(b);
	return b->err;
}

void nft_batch_deinit(struct nft_batch *b)
{
	if (b->pages)
		nftnl_batch_free(b->pages);
	b->pages = NULL;
}

/* Starts a message of the nf_tables subsystem in the inet family. */
static struct nlmsghdr *msg_start(struct nft_batch *b, uint16_t type, uint16_t flags)
{
	if (b->err)
		return NULL;
	b->n_msgs++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->pages), type, NFPROTO_INET,
				     flags | NLM_F_ACK, b->seq++);
}

static uint32_t msg_end(struct nft_batch *b, struct nlmsghdr *nlh)
{
	commit_msg(b);
	return b->err ? 0 : nlh->nlmsg_seq;
}

uint32_t nft_batch_table(struct nft_batch *b, uint16_t type, const struct nftnl_table *t)
{
	struct nlmsghdr *nlh = msg_start(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);

	if (!nlh)
		return 0;
	nftnl_table_nlmsg_build_payload(nlh, t);
	return msg_end(b, nlh);
}

uint32_t nft_batch_chain(struct nft_batch *b, const struct nftnl_chain *c)
{
	struct nlmsghdr *nlh = msg_start(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE);

	if (!nlh)
		return 0;
	nftnl_chain_nlmsg_build_payload(nlh, c);
	return msg_end(b, nlh);
}

uint32_t nft_batch_set(struct nft_batch *b, const struct nftnl_set *s)
{
	struct nlmsghdr *nlh = msg_start(b, NFT_MSG_NEWSET, NLM_F_CREATE);

	if (!nlh)
		return 0;
	nftnl_set_nlmsg_build_payload(nlh, (struct nftnl_set *)s);
	return msg_end(b, nlh);
}

uint32_t nft_batch_rule(struct nft_batch *b, const struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = msg_start(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);

	if (!nlh)
		return 0;
	nftnl_rule_nlmsg_build_payload(nlh, (struct nftnl_rule *)r);
	return msg_end(b, nlh);
}

void nft_batch_set_elems(struct nft_batch *b, const struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *iter;
	struct nlmsghdr *nlh;
	int more;

	if (b->err)
		return;
	iter = nftnl_set_elems_iter_create(s);
	if (!iter) {
		b->err = -ENOMEM;
		return;
	}
	/* The iterator stops where a message's element nest would overflow. */
	do {
		nlh = msg_start(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
		if (!nlh)
			break;
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, iter);
		msg_end(b, nlh);
	} while (more > 0);
	nftnl_set_elems_iter_destroy(iter);
}

/* Grows the socket's buffer (SO_SNDBUF or SO_RCVBUF) to at least len. */
static void grow_buf(int fd, int opt, int force, size_t len)
{
	int cur = 0, want = len < INT_MAX / 2 ? (int)len : INT_MAX / 2;
	socklen_t optlen = sizeof(cur);

	/* getsockopt() reports twice what was set (the kernel's overhead). */
	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &optlen) == 0 && cur / 2 >= want)
		return;
	if (setsockopt(fd, SOL_SOCKET, force, &want, sizeof(want)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want));
}

/*
 * The whole batch must fit the send buffer to travel as one skb, and every
 * acknowledgement the receive buffer, where each costs a small skb's truesize
 * (below ACK_TRUESIZE): a policy of thousands of entries is tens of thousands
 * of messages, and one ack lost to a full buffer (ENOBUFS) would leave the
 * outcome unknown.
 */
enum { ACK_TRUESIZE = 1024 };

static void grow_bufs(int fd, size_t len, uint32_t n_msgs)
{
	grow_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, len + 4096);
	grow_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, (size_t)n_msgs * ACK_TRUESIZE);
}

static int send_pages(struct nft_batch *b, struct mnl_socket *nl)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int n_iov = nftnl_batch_iovec_len(b->pages);
	struct iovec *iov = calloc((size_t)n_iov, sizeof(*iov));
	struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel) };
	size_t total = 0;
	ssize_t sent;

	if (!iov)
		return -ENOMEM;
	nftnl_batch_iovec(b->pages, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		total += iov[i].iov_len;
	grow_bufs(mnl_socket_get_fd(nl), total, b->n_msgs);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n_iov;
	sent = sendmsg(mnl_socket_get_fd(nl), &msg, 0);
	free(iov);
	if (sent < 0)
		return -errno;
	return (size_t)sent == total ? 0 : -EMSGSIZE;
}

/* Reads every queued answer: counts acknowledgements, keeps the first error. */
static int collect_acks(struct nft_batch *b, struct mnl_socket *nl)
{
	uint32_t portid = mnl_socket_get_portid(nl), acked = 0;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int first_err = 0;
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid ||
			    nlh->nlmsg_seq < b->seq_begin || nlh->nlmsg_seq >= b->seq)
				continue;
			if (e->error == 0) {
				acked++;
			} else if (!first_err) {
				first_err = e->error;
				b->failed_seq = nlh->nlmsg_seq;
			}
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return first_err ? first_err : -errno;
	if (first_err)
		return first_err;
	return acked == b->n_msgs ? 0 : -EPROTO;
}

int nft_batch_send(struct nft_batch *b, struct mnl_socket *nl)
{
	int ret;

	if (b->err)
		return b->err;
	nftnl_batch_end(nftnl_batch_buffer(b->pages), b->seq++);
	commit_msg(b);
	if (b->err)
		return b->err;
	ret = send_pages(b, nl);
	return ret ? ret : collect_acks(b, nl);
}
