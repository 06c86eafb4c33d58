/* The owned nftables table "inet meshgate"; see nft.h. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
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

/* ---- the access policy's counters ---- */

struct counters {
	struct nft_policy_counter *v;
	size_t n, cap;
	int err;
};

static bool hook_of_chain(const char *chain, enum acl_hook *hook)
{
	static const struct {
		const char *chain;
		enum acl_hook hook;
	} chains[] = {
		{ "policy_input", ACL_HOOK_INPUT },
		{ "policy_forward", ACL_HOOK_FORWARD },
		{ "policy_exit", ACL_HOOK_EXIT },
	};

	for (size_t i = 0; chain && i < sizeof(chains) / sizeof(chains[0]); i++) {
		if (!strcmp(chain, chains[i].chain)) {
			*hook = chains[i].hook;
			return true;
		}
	}
	return false;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && nftnl_udata_len(attr) > 0 &&
	    ((const char *)nftnl_udata_get(attr))[nftnl_udata_len(attr) - 1] == '\0')
		*(const char **)data = nftnl_udata_get(attr);
	return 0;
}

/* The rule's comment (inside r), or NULL. */
static const char *rule_comment(const struct nftnl_rule *r)
{
	const char *comment = NULL;
	uint32_t len = 0;
	const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);

	if (ud)
		nftnl_udata_parse(ud, len, comment_cb, &comment);
	return comment;
}

static int counter_cb(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name && !strcmp(name, "counter"))
		*(uint64_t *)data += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

/* What a counted rule stands for, from its chain and comment. */
static bool counter_key(const struct nftnl_rule *r, struct nft_policy_counter *key)
{
	const char *comment = rule_comment(r);
	size_t prefix = strlen(NFT_ACL_RULE_COMMENT);
	char *end;

	*key = (struct nft_policy_counter){ 0 };
	if (!comment || !hook_of_chain(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), &key->hook))
		return false;
	if (!strcmp(comment, NFT_ACL_DENY_COMMENT)) {
		key->deny = true;
		return true;
	}
	if (strncmp(comment, NFT_ACL_RULE_COMMENT, prefix) || comment[prefix] < '0' ||
	    comment[prefix] > '9')
		return false;
	key->rule = (uint32_t)strtoul(comment + prefix, &end, 10);
	return true;
}

static void counters_add(struct counters *c, const struct nft_policy_counter *key)
{
	struct nft_policy_counter *v;

	for (size_t i = 0; i < c->n; i++) {
		v = &c->v[i];
		if (v->hook == key->hook && v->deny == key->deny && v->rule == key->rule) {
			v->packets += key->packets;
			return;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;

		v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *key;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counters *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nft_policy_counter key;

	if (!r) {
		c->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && counter_key(r, &key)) {
		nftnl_expr_foreach(r, counter_cb, &key.packets);
		counters_add(c, &key);
	}
	nftnl_rule_free(r);
	return c->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static int counter_cmp(const void *a, const void *b)
{
	const struct nft_policy_counter *x = a, *y = b;

	if (x->hook != y->hook)
		return x->hook < y->hook ? -1 : 1;
	if (x->deny != y->deny)
		return x->deny ? 1 : -1;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

/* Drops what an earlier exchange left queued (acks after an ENOBUFS), which
 * would end a dump's callbacks with EPROTO on their sequence numbers. */
static void drain(struct mnl_socket *nl, char *buf, size_t len)
{
	for (int i = 0; i < 1024; i++) {
		ssize_t n = recv(mnl_socket_get_fd(nl), buf, len, MSG_DONTWAIT);

		if (n <= 0 && !(n < 0 && errno == ENOBUFS))
			return;
	}
}

/* NFT_MSG_GETRULE, a dump of table inet meshgate. */
static int dump_rules(struct nft_ctx *ctx, struct counters *c)
{
	enum { DUMP_BUFFER = 64 * 1024 }; /* a dump's datagrams are larger than a page */
	char *buf = malloc(DUMP_BUFFER);
	struct nftnl_rule *filter = nftnl_rule_alloc();
	uint32_t seq = ctx->seq++;
	struct nlmsghdr *nlh;
	ssize_t n;
	int ret = -ENOMEM;

	if (!buf || !filter)
		goto out;
	drain(ctx->nl, buf, DUMP_BUFFER);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
	nftnl_rule_set_str(filter, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_nlmsg_build_payload(nlh, filter);
	if (mnl_socket_sendto(ctx->nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		n = mnl_socket_recvfrom(ctx->nl, buf, DUMP_BUFFER);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, ctx->portid, rule_cb, c);
	} while (ret > 0);
	/* No table (yet): the kernel says ENOENT; there is nothing to count. */
	ret = ret < 0 ? (c->err ? c->err : errno == ENOENT ? 0 : -errno) : 0;
out:
	if (filter)
		nftnl_rule_free(filter);
	free(buf);
	return ret;
}

int nft_policy_counters(struct nft_ctx *ctx, struct nft_policy_counter **out, size_t *n)
{
	struct counters c = { 0 };
	int ret = dump_rules(ctx, &c);

	*out = NULL;
	*n = 0;
	if (ret < 0) {
		free(c.v);
		return ret;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), counter_cmp);
	*out = c.v;
	*n = c.n;
	return 0;
}
