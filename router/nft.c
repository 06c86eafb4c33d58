/* The owned nftables table "inet meshgate"; see nft.h. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nft_batch.h"
#include "nft_render.h"

/* Every object kind names its table in attribute 1 (see nft_monitor_read()). */
_Static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_RULE_TABLE == 1 &&
		   NFTA_SET_TABLE == 1 && NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_OBJ_TABLE == 1 &&
		   NFTA_FLOWTABLE_TABLE == 1,
	       "table name attribute");

enum { RCVBUF = 1 << 20 };

struct nft_ctx {
	struct mnl_socket *nl; /* the table's owner */
	uint32_t portid;
	uint32_t seq;
	uint32_t genid; /* the ruleset generation our last change made */
	bool owner;     /* ask for NFT_TABLE_F_OWNER */
	struct mnl_socket *monitor;
};

/* Answers carry only the header of the message they answer. */
static void socket_tune(struct mnl_socket *nl)
{
	int one = 1, rcvbuf = RCVBUF;
	int fd = mnl_socket_get_fd(nl);

	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
}

static struct mnl_socket *socket_open(int flags, unsigned groups)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | flags);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;

		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	socket_tune(nl);
	return nl;
}

static int genid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(attr) == NFTA_GEN_ID &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			*(uint32_t *)data = ntohl(mnl_attr_get_u32(attr));
	}
	return MNL_CB_OK;
}

/*
 * Asks for the ruleset generation (bumped by every commit in the network
 * namespace): the cheapest question nf_tables answers, and one that needs
 * CAP_NET_ADMIN like every other.
 */
static int query_genid(struct mnl_socket *nl, uint32_t seq, uint32_t *genid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
	    nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), genid_cb, genid);
	} while (ret > 0);
	if (ret < 0)
		return errno == EOPNOTSUPP ? -EPROTONOSUPPORT : -errno;
	return 0;
}

/* Opens a socket for batches; -EPROTONOSUPPORT/-EPERM mean "no nftables". */
static int batch_socket(struct mnl_socket **out, uint32_t *seq, uint32_t *genid)
{
	struct mnl_socket *nl = socket_open(0, 0);
	int ret;

	*seq = (uint32_t)time(NULL);
	if (!nl)
		return errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ? -EPROTONOSUPPORT
									 : -errno;
	ret = query_genid(nl, (*seq)++, genid);
	if (ret) {
		mnl_socket_close(nl);
		return ret;
	}
	*out = nl;
	return 0;
}

int nft_open(struct nft_ctx **out)
{
	struct nft_ctx *ctx = calloc(1, sizeof(*ctx));
	int ret;

	*out = NULL;
	if (!ctx)
		return -ENOMEM;
	ret = batch_socket(&ctx->nl, &ctx->seq, &ctx->genid);
	if (ret) {
		free(ctx);
		return ret;
	}
	ctx->portid = mnl_socket_get_portid(ctx->nl);
	ctx->owner = true;
	*out = ctx;
	return 0;
}

void nft_close(struct nft_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->monitor)
		mnl_socket_close(ctx->monitor);
	mnl_socket_close(ctx->nl);
	free(ctx);
}

bool nft_owned(const struct nft_ctx *ctx)
{
	return ctx->owner;
}

void nft_set_owner(struct nft_ctx *ctx, bool owner)
{
	ctx->owner = owner;
}

/* What a batch tells about the table messages it holds. */
struct outcome {
	uint32_t ensure_seq; /* "add table" before the delete */
	uint32_t table_seq;  /* "add table" with the owner flag, 0 without */
};

/* EPERM on the first table message: another socket owns the table. */
static int send_batch(struct mnl_socket *nl, struct nft_batch *b, const struct outcome *o)
{
	int ret = nft_batch_send(b, nl);

	if (ret == -EPERM && b->failed_seq == o->ensure_seq)
		return -EBUSY;
	return ret;
}

/* One attempt; *owner_refused when the kernel does not know the flag. */
static int apply_once(struct nft_ctx *ctx, const struct plan_nft *plan, bool *owner_refused)
{
	struct outcome o = { 0 };
	struct nft_batch b;
	int ret = nft_batch_init(&b, ctx->seq);

	*owner_refused = false;
	if (ret)
		return ret;
	o.ensure_seq = nft_render_delete(&b);
	if (plan)
		o.table_seq = nft_render_table(&b, plan, ctx->owner);
	ret = send_batch(ctx->nl, &b, &o);
	/* Before 5.12 the flag is unknown: EINVAL (older) or EOPNOTSUPP. */
	if ((ret == -EOPNOTSUPP || ret == -EINVAL) && ctx->owner && o.table_seq &&
	    b.failed_seq == o.table_seq)
		*owner_refused = true;
	ctx->seq = b.seq;
	nft_batch_deinit(&b);
	/* A commit from elsewhere in between is taken for ours: a tiny window. */
	if (!ret)
		(void)query_genid(ctx->nl, ctx->seq++, &ctx->genid);
	return ret;
}

int nft_apply(struct nft_ctx *ctx, const struct plan_nft *plan)
{
	bool refused;
	int ret;

	ret = apply_once(ctx, plan->present ? plan : NULL, &refused);
	if (refused) {
		ctx->owner = false;
		ret = apply_once(ctx, plan, &refused);
	}
	return ret;
}

int nft_remove(struct nft_ctx *ctx)
{
	bool refused;

	return apply_once(ctx, NULL, &refused);
}

int nft_cleanup_table(void)
{
	struct outcome o = { 0 };
	struct mnl_socket *nl = NULL;
	struct nft_batch b;
	uint32_t seq, genid;
	int ret = batch_socket(&nl, &seq, &genid);

	if (ret)
		return ret;
	ret = nft_batch_init(&b, seq);
	if (!ret) {
		o.ensure_seq = nft_render_delete(&b);
		ret = send_batch(nl, &b, &o);
		nft_batch_deinit(&b);
	}
	mnl_socket_close(nl);
	return ret;
}

/* ---- monitor ---- */

int nft_monitor_open(struct nft_ctx *ctx, int *fd)
{
	if (!ctx->monitor) {
		ctx->monitor = socket_open(SOCK_NONBLOCK, 1u << (NFNLGRP_NFTABLES - 1));
		if (!ctx->monitor)
			return -errno;
	}
	*fd = mnl_socket_get_fd(ctx->monitor);
	return 0;
}

/* The table an nf_tables event is about is ours: inet, named meshgate. */
static bool event_is_ours(const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)) || nfg->nfgen_family != NFPROTO_INET)
		return false;
	mnl_attr_for_each(attr, nlh, sizeof(*nfg))
	{
		if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME)
			return mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0 &&
			       strcmp(mnl_attr_get_str(attr), NFT_TABLE_NAME) == 0;
	}
	return false;
}

/* An event someone else caused on our table. */
static bool foreign_change(const struct nft_ctx *ctx, const struct nlmsghdr *nlh)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN)
		return false;
	return nlh->nlmsg_pid != ctx->portid && event_is_ours(nlh);
}

bool nft_monitor_read(struct nft_ctx *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool changed = false, lost = false;
	uint32_t genid;
	ssize_t n;

	if (!ctx->monitor)
		return false;
	for (;;) {
		n = recv(mnl_socket_get_fd(ctx->monitor), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			lost = true;
			continue;
		}
		if (n <= 0)
			break;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			changed |= foreign_change(ctx, nlh);
	}
	/*
	 * Events were lost (our own apply of large sets alone can overflow
	 * the socket: one event per element). Whether anyone committed
	 * since our last change, the generation number says.
	 */
	if (lost && !changed)
		changed = query_genid(ctx->nl, ctx->seq++, &genid) != 0 || genid != ctx->genid;
	return changed;
}
