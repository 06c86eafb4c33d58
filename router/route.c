/*
 * Routes in ROUTE_TABLE and rules in the priority band, reconciled to the
 * plan over rtnetlink; see route.h.
 *
 * Both follow one pattern: dump what the kernel holds of ours (the kernel
 * filters by table and protocol), compare it with the plan as sorted keys,
 * then send the deletions and the additions as batches (nlbatch.h). A
 * deletion echoes the dumped message back as RTM_DELROUTE / RTM_DELRULE, as
 * `ip route flush` does, so it names exactly the object that was dumped.
 */
#include "route.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlbatch.h"

enum {
	IP6_METRIC_DEFAULT = 1024, /* what IPv6 stores for metric 0 */
	RULE_PASSES = 4,           /* dump-compare-apply rounds before giving up */
	MSG_TEXT_LEN = 160,
};

/* A route as compared: the plan's and the kernel's alike. */
struct kroute {
	struct prefix dst;
	uint8_t type; /* RTN_UNICAST, RTN_UNREACHABLE, or whatever was dumped */
	uint8_t protocol;
	uint32_t metric;
	uint32_t oif;         /* 0 unless unicast */
	struct nlmsghdr *msg; /* the dumped message; NULL for the plan's */
};

struct kroute_list {
	struct kroute *v;
	size_t n, cap;
	int protocol; /* dump filter: ROUTE_PROTOCOL, or -1 for any */
};

/* The first refusal in a batch, and the object it belongs to. */
struct batch_error {
	bool ignore_exist; /* an addition that exists already is fine (rules) */
	int err;
	size_t tag;
	char text[MSG_TEXT_LEN]; /* the kernel's reason, "" if none */
};

/* ---- common pieces ---- */

/* Tags carry the object's index and whether the request was a deletion. */
static size_t tag_make(size_t index, bool is_delete)
{
	return index << 1 | (size_t)is_delete;
}

static bool tag_is_delete(size_t tag)
{
	return tag & 1;
}

static size_t tag_index(size_t tag)
{
	return tag >> 1;
}

static int batch_on_error(void *arg, size_t tag, int err, const char *text)
{
	struct batch_error *e = arg;

	if (tag_is_delete(tag) && (err == -ENOENT || err == -ESRCH))
		return 0; /* already gone */
	if (!tag_is_delete(tag) && err == -EEXIST && e->ignore_exist)
		return 0;
	e->err = err;
	e->tag = tag;
	snprintf(e->text, sizeof(e->text), "%s", text ? text : "");
	return err;
}

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return v;
	p = realloc(v, want * size);
	if (p)
		*cap = want;
	return p;
}

static struct nlmsghdr *msg_copy(const struct nlmsghdr *nlh)
{
	struct nlmsghdr *copy = malloc(nlh->nlmsg_len);

	if (copy)
		memcpy(copy, nlh, nlh->nlmsg_len);
	return copy;
}

/* Appends "ERROR (kernel's reason)" to a message about an object. */
static void error_format(char *errbuf, size_t errlen, const char *what, const char *object,
			 const struct batch_error *e)
{
	snprintf(errbuf, errlen, "%s %s: %s%s%s%s", what, object, strerror(-e->err),
		 e->text[0] ? " (" : "", e->text, e->text[0] ? ")" : "");
}

/* ---- routes: keys ---- */

static uint32_t metric_stored(int family, uint32_t metric)
{
	return family == AF_INET6 && metric == 0 ? IP6_METRIC_DEFAULT : metric;
}

static int kroute_from_plan(struct kroute *k, const struct plan_route *r, unsigned tun_ifindex)
{
	if (addr_len(r->dst.family) == 0 || r->dst.len > addr_len(r->dst.family) * 8)
		return -EINVAL;
	if (r->type == PLAN_ROUTE_TUN && tun_ifindex == 0)
		return -ENODEV;
	*k = (struct kroute){ .dst = r->dst, .protocol = ROUTE_PROTOCOL };
	prefix_mask(&k->dst);
	k->type = r->type == PLAN_ROUTE_TUN ? RTN_UNICAST : RTN_UNREACHABLE;
	k->metric = metric_stored(r->dst.family, r->metric);
	k->oif = r->type == PLAN_ROUTE_TUN ? tun_ifindex : 0;
	return 0;
}

static int kroute_cmp(const void *pa, const void *pb)
{
	const struct kroute *a = pa, *b = pb;
	int c;

	if (a->dst.family != b->dst.family)
		return a->dst.family < b->dst.family ? -1 : 1;
	if (a->dst.len != b->dst.len)
		return a->dst.len < b->dst.len ? -1 : 1;
	c = memcmp(a->dst.addr, b->dst.addr, sizeof(a->dst.addr));
	if (c)
		return c;
	if (a->metric != b->metric)
		return a->metric < b->metric ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->oif != b->oif)
		return a->oif < b->oif ? -1 : 1;
	return 0;
}

static void kroute_list_free(struct kroute_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].msg);
	free(l->v);
	*l = (struct kroute_list){ 0 };
}

static void kroute_list_restart(void *arg)
{
	struct kroute_list *l = arg;
	int protocol = l->protocol;

	kroute_list_free(l);
	l->protocol = protocol;
}

static void kroute_format(const struct kroute *k, char *out, size_t len)
{
	char dst[PREFIX_STR_LEN], dev[IF_NAMESIZE] = "";

	prefix_format(&k->dst, dst, sizeof(dst));
	if (k->type == RTN_UNREACHABLE) {
		snprintf(out, len, "unreachable %s metric %u", dst, k->metric);
		return;
	}
	if (k->oif && !if_indextoname(k->oif, dev))
		snprintf(dev, sizeof(dev), "#%u", k->oif);
	snprintf(out, len, "%s%s%s metric %u%s", dst, k->oif ? " dev " : "", dev, k->metric,
		 k->type == RTN_UNICAST ? "" : " (not unicast)");
}

/* ---- routes: dump ---- */

static uint32_t attr_u32(struct nlattr *a, uint32_t dflt)
{
	return a && nla_len(a) >= 4 ? nla_get_u32(a) : dflt;
}

/* Keeps one dumped route if it is in ROUTE_TABLE (with the wanted protocol). */
static int route_dumped(void *arg, const struct nlmsghdr *nlh)
{
	struct kroute_list *l = arg;
	const struct rtmsg *rtm = NLMSG_DATA(nlh);
	struct nlattr *tb[RTA_MAX + 1];
	struct kroute k = { 0 };

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return 0;
	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    attr_u32(tb[RTA_TABLE], rtm->rtm_table) != ROUTE_TABLE ||
	    (l->protocol >= 0 && rtm->rtm_protocol != l->protocol) ||
	    (rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_dst_len > addr_len(rtm->rtm_family) * 8)
		return 0;
	k.dst.family = rtm->rtm_family;
	k.dst.len = rtm->rtm_dst_len;
	if (tb[RTA_DST] && (size_t)nla_len(tb[RTA_DST]) == addr_len(rtm->rtm_family))
		memcpy(k.dst.addr, nla_data(tb[RTA_DST]), addr_len(rtm->rtm_family));
	k.type = rtm->rtm_type;
	k.protocol = rtm->rtm_protocol;
	k.metric = attr_u32(tb[RTA_PRIORITY], 0);
	k.oif = k.type == RTN_UNICAST ? attr_u32(tb[RTA_OIF], 0) : 0;
	if (!(l->v = grow(l->v, &l->cap, l->n, sizeof(*l->v))) || !(k.msg = msg_copy(nlh)))
		return -ENOMEM;
	l->v[l->n++] = k;
	return 0;
}

/* Dumps ROUTE_TABLE, IPv4 and IPv6, keeping routes of `protocol` (-1: any). */
static int route_dump(struct nl_sock *sk, int protocol, struct kroute_list *out)
{
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC, .rtm_table = RT_TABLE_UNSPEC };
	struct nl_msg *req = nlmsg_alloc_simple(RTM_GETROUTE, 0);
	int ret = -ENOMEM;

	*out = (struct kroute_list){ .protocol = protocol };
	if (protocol > 0)
		rtm.rtm_protocol = (uint8_t)protocol;
	if (!req || nlmsg_append(req, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(req, RTA_TABLE, ROUTE_TABLE) < 0)
		goto out;
	ret = nldump_run(sk, nlmsg_hdr(req), route_dumped, out, kroute_list_restart);
	if (ret == 0 && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), kroute_cmp);
out:
	nlmsg_free(req);
	if (ret < 0)
		kroute_list_free(out);
	return ret;
}

/* ---- routes: changes ---- */

static int route_add(struct nlbatch *b, const struct kroute *k, size_t tag)
{
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)k->dst.family,
		.rtm_dst_len = k->dst.len,
		.rtm_table = RT_TABLE_UNSPEC, /* RTA_TABLE says; ours is above 255 */
		.rtm_protocol = ROUTE_PROTOCOL,
		.rtm_scope = k->type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
		.rtm_type = k->type,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWROUTE, 0);
	int ret = -ENOMEM;

	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, RTA_TABLE, ROUTE_TABLE) < 0 ||
	    (k->dst.len && nla_put(msg, RTA_DST, (int)addr_len(k->dst.family), k->dst.addr) < 0) ||
	    nla_put_u32(msg, RTA_PRIORITY, k->metric) < 0 ||
	    (k->oif && nla_put_u32(msg, RTA_OIF, k->oif) < 0))
		goto out;
	/* Exclusive: a route of someone else's in our table is a conflict. */
	ret = nlbatch_add(b, nlmsg_hdr(msg), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, tag);
out:
	nlmsg_free(msg);
	return ret;
}

/* Sends the deletions of routes the plan lacks; marks in keep[] what stays. */
static int route_delete_unwanted(struct nlbatch *b, const struct kroute *want, size_t n_want,
				 const struct kroute_list *have, bool *keep)
{
	size_t i = 0, j = 0;
	int ret = 0;

	while (i < have->n && ret == 0) {
		int c = j < n_want ? kroute_cmp(&have->v[i], &want[j]) : -1;
		if (c < 0)
			ret = nlbatch_add(b, have->v[i].msg, RTM_DELROUTE, 0, tag_make(i, true));
		else if (c == 0)
			keep[j] = true;
		i += c <= 0;
		j += c >= 0;
	}
	return ret;
}

static int route_add_missing(struct nlbatch *b, const struct kroute *want, size_t n_want,
			     const bool *keep)
{
	int ret = 0;

	for (size_t j = 0; j < n_want && ret == 0; j++)
		if (!keep[j])
			ret = route_add(b, &want[j], tag_make(j, false));
	return ret;
}

/* Explains an addition refused with EEXIST: who holds the place. */
static void route_conflict(struct nl_sock *sk, const struct kroute *k, char *errbuf, size_t errlen)
{
	struct kroute_list all;
	const struct kroute *other = NULL;
	char route[128], held[128];

	kroute_format(k, route, sizeof(route));
	if (route_dump(sk, -1, &all) < 0)
		all = (struct kroute_list){ 0 };
	for (size_t i = 0; i < all.n && !other; i++)
		if (prefix_equal(&all.v[i].dst, &k->dst) && all.v[i].metric == k->metric)
			other = &all.v[i];
	if (!other) {
		snprintf(errbuf, errlen, "route %s: table %d already holds a route there", route,
			 ROUTE_TABLE);
	} else if (other->protocol == ROUTE_PROTOCOL) {
		kroute_format(other, held, sizeof(held));
		snprintf(errbuf, errlen, "route %s conflicts with %s, also planned", route, held);
	} else {
		kroute_format(other, held, sizeof(held));
		snprintf(errbuf, errlen,
			 "route %s conflicts with %s proto %u in table %d, which meshgate did not "
			 "install; remove that route",
			 route, held, other->protocol, ROUTE_TABLE);
	}
	kroute_list_free(&all);
}

static void route_error(struct nl_sock *sk, const struct batch_error *e, const struct kroute *want,
			const struct kroute_list *have, char *errbuf, size_t errlen)
{
	const struct kroute *k =
	    tag_is_delete(e->tag) ? &have->v[tag_index(e->tag)] : &want[tag_index(e->tag)];
	char route[128];

	if (!tag_is_delete(e->tag) && e->err == -EEXIST) {
		route_conflict(sk, k, errbuf, errlen);
		return;
	}
	kroute_format(k, route, sizeof(route));
	error_format(errbuf, errlen, tag_is_delete(e->tag) ? "deleting route" : "adding route",
		     route, e);
}

/* Deletes first (a changed route may keep its place), then adds. */
static int route_apply(struct nl_sock *sk, const struct kroute *want, size_t n_want,
		       const struct kroute_list *have, char *errbuf, size_t errlen)
{
	struct batch_error e = { .tag = SIZE_MAX };
	struct nlbatch *b = nlbatch_new(sk, batch_on_error, &e);
	bool *keep = calloc(n_want ? n_want : 1, sizeof(*keep));
	int ret = -ENOMEM;

	if (!b || !keep)
		goto out;
	ret = route_delete_unwanted(b, want, n_want, have, keep);
	if (ret == 0)
		ret = nlbatch_flush(b);
	if (ret == 0)
		ret = route_add_missing(b, want, n_want, keep);
	if (ret == 0)
		ret = nlbatch_flush(b);
	if (ret < 0 && e.err)
		route_error(sk, &e, want, have, errbuf, errlen);
	else if (ret < 0)
		snprintf(errbuf, errlen, "changing routes: %s", strerror(-ret));
out:
	nlbatch_free(b);
	free(keep);
	return ret;
}

/* The plan's routes as sorted keys without duplicates. */
static int route_keys(const struct plan_route *routes, size_t n, unsigned tun_ifindex,
		      struct kroute **out, size_t *n_out, char *errbuf, size_t errlen)
{
	struct kroute *k = calloc(n ? n : 1, sizeof(*k));
	size_t m = 0;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int ret = kroute_from_plan(&k[i], &routes[i], tun_ifindex);
		if (ret < 0) {
			snprintf(errbuf, errlen, "planned route %zu: %s", i,
				 ret == -ENODEV ? "no TUN device to route through"
						: "invalid destination");
			free(k);
			return ret;
		}
	}
	if (n > 1)
		qsort(k, n, sizeof(*k), kroute_cmp);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || kroute_cmp(&k[m - 1], &k[i]) != 0)
			k[m++] = k[i];
	*out = k;
	*n_out = m;
	return 0;
}

int route_reconcile(struct nl_sock *sk, unsigned tun_ifindex, const struct plan_route *routes,
		    size_t n, char *errbuf, size_t errlen)
{
	struct kroute_list have = { 0 };
	struct kroute *want = NULL;
	size_t n_want = 0;
	int ret = route_keys(routes, n, tun_ifindex, &want, &n_want, errbuf, errlen);

	if (ret < 0)
		return ret;
	ret = route_dump(sk, ROUTE_PROTOCOL, &have);
	if (ret < 0)
		snprintf(errbuf, errlen, "reading routes of table %d: %s", ROUTE_TABLE,
			 strerror(-ret));
	else
		ret = route_apply(sk, want, n_want, &have, errbuf, errlen);
	kroute_list_free(&have);
	free(want);
	return ret;
}

int route_remove_all(struct nl_sock *sk)
{
	char errbuf[256];

	return route_reconcile(sk, 0, NULL, 0, errbuf, sizeof(errbuf));
}

/* ---- rules ---- */

/* A rule as compared; `foreign` if it has a selector plan_rule cannot say. */
struct krule {
	struct plan_rule r;
	bool foreign;
	struct nlmsghdr *msg; /* the dumped message; NULL for the plan's */
};

struct krule_list {
	struct krule *v;
	size_t n, cap;
};

static bool in_band(uint32_t priority)
{
	return priority >= RULE_PRIORITY_FIRST && priority <= RULE_PRIORITY_LAST;
}

/* The plan's form with "no mark" spelled one way. */
static struct plan_rule rule_normal(const struct plan_rule *r)
{
	struct plan_rule n = *r;

	if (n.fwmask == 0)
		n.fwmark = 0;
	if (n.suppress_prefixlen < 0)
		n.suppress_prefixlen = -1;
	return n;
}

static bool rule_equal(const struct krule *a, const struct krule *b)
{
	return !a->foreign && !b->foreign && a->r.family == b->r.family &&
	       a->r.priority == b->r.priority && a->r.table == b->r.table &&
	       a->r.fwmark == b->r.fwmark && a->r.fwmask == b->r.fwmask &&
	       a->r.invert == b->r.invert && a->r.suppress_prefixlen == b->r.suppress_prefixlen;
}

void rule_format(const struct plan_rule *r, char *out, size_t len)
{
	struct plan_rule n = rule_normal(r);
	char mark[48] = "", suppress[40] = "";

	if (n.fwmask)
		snprintf(mark, sizeof(mark), "%sfwmark 0x%x/0x%x ", n.invert ? "not " : "",
			 n.fwmark, n.fwmask);
	else if (n.invert)
		snprintf(mark, sizeof(mark), "not ");
	if (n.suppress_prefixlen >= 0)
		snprintf(suppress, sizeof(suppress), " suppress_prefixlength %d",
			 n.suppress_prefixlen);
	snprintf(out, len, "%s%u: %sfrom all lookup %u%s", n.family == AF_INET6 ? "inet6 " : "",
		 n.priority, mark, n.table, suppress);
}

static void krule_list_free(struct krule_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].msg);
	free(l->v);
	*l = (struct krule_list){ 0 };
}

static void krule_list_restart(void *arg)
{
	krule_list_free(arg);
}

/* Reads the attributes plan_rule has; any other selector makes it foreign. */
static void rule_attr(struct krule *k, const struct nlattr *a)
{
	uint32_t v = nla_len(a) >= 4 ? nla_get_u32((struct nlattr *)a) : 0;

	switch (nla_type(a)) {
	case FRA_PRIORITY:
		k->r.priority = v;
		break;
	case FRA_TABLE:
		k->r.table = v;
		break;
	case FRA_FWMARK:
		k->r.fwmark = v;
		break;
	case FRA_FWMASK:
		k->r.fwmask = v;
		break;
	case FRA_SUPPRESS_PREFIXLEN:
		k->r.suppress_prefixlen = (int)v;
		break;
	case FRA_PROTOCOL: /* who added it: not a selector */
		break;
	case FRA_SUPPRESS_IFGROUP:
		k->foreign |= v != UINT32_MAX;
		break;
	default:
		k->foreign = true;
	}
}

static int rule_dumped(void *arg, const struct nlmsghdr *nlh)
{
	struct krule_list *l = arg;
	const struct fib_rule_hdr *frh = NLMSG_DATA(nlh);
	struct krule k = { .r = { .suppress_prefixlen = -1 } };
	const struct nlattr *a;
	int rem;

	if (nlh->nlmsg_type != RTM_NEWRULE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*frh)) ||
	    (frh->family != AF_INET && frh->family != AF_INET6))
		return 0;
	k.r.family = frh->family;
	k.r.table = frh->table;
	k.r.invert = frh->flags & FIB_RULE_INVERT;
	k.foreign = frh->dst_len || frh->src_len || frh->tos || frh->action != FR_ACT_TO_TBL ||
		    (frh->flags & ~FIB_RULE_INVERT);
	nlmsg_for_each_attr(a, nlh, sizeof(*frh), rem) rule_attr(&k, a);
	if (!in_band(k.r.priority))
		return 0;
	if (!(l->v = grow(l->v, &l->cap, l->n, sizeof(*l->v))) || !(k.msg = msg_copy(nlh)))
		return -ENOMEM;
	l->v[l->n++] = k;
	return 0;
}

static int rule_dump(struct nl_sock *sk, struct krule_list *out)
{
	struct fib_rule_hdr frh = { .family = AF_UNSPEC };
	struct nl_msg *req = nlmsg_alloc_simple(RTM_GETRULE, 0);
	int ret = -ENOMEM;

	*out = (struct krule_list){ 0 };
	if (req && nlmsg_append(req, &frh, sizeof(frh), NLMSG_ALIGNTO) == 0)
		ret = nldump_run(sk, nlmsg_hdr(req), rule_dumped, out, krule_list_restart);
	nlmsg_free(req);
	if (ret < 0)
		krule_list_free(out);
	return ret;
}

static int rule_add(struct nlbatch *b, const struct plan_rule *r, size_t tag)
{
	struct fib_rule_hdr frh = {
		.family = (uint8_t)r->family,
		.table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC,
		.action = FR_ACT_TO_TBL,
		.flags = r->invert ? FIB_RULE_INVERT : 0,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWRULE, 0);
	int ret = -ENOMEM;

	if (!msg || nlmsg_append(msg, &frh, sizeof(frh), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, FRA_PRIORITY, r->priority) < 0 ||
	    nla_put_u32(msg, FRA_TABLE, r->table) < 0 ||
	    nla_put_u8(msg, FRA_PROTOCOL, ROUTE_PROTOCOL) < 0 ||
	    (r->fwmask && (nla_put_u32(msg, FRA_FWMARK, r->fwmark) < 0 ||
			   nla_put_u32(msg, FRA_FWMASK, r->fwmask) < 0)) ||
	    (r->suppress_prefixlen >= 0 &&
	     nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, (uint32_t)r->suppress_prefixlen) < 0))
		goto out;
	ret = nlbatch_add(b, nlmsg_hdr(msg), RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, tag);
out:
	nlmsg_free(msg);
	return ret;
}

/* Queues the changes from have to want; *changes counts them. */
static int rule_changes(struct nlbatch *b, const struct krule *want, size_t n_want,
			const struct krule_list *have, size_t *changes)
{
	bool *kept = calloc(n_want ? n_want : 1, sizeof(*kept));
	int ret = kept ? 0 : -ENOMEM;

	for (size_t i = 0; i < have->n && ret == 0; i++) {
		size_t j = 0;
		while (j < n_want && (kept[j] || !rule_equal(&have->v[i], &want[j])))
			j++;
		if (j < n_want) {
			kept[j] = true;
			continue;
		}
		ret = nlbatch_add(b, have->v[i].msg, RTM_DELRULE, 0, tag_make(i, true));
		(*changes)++;
	}
	if (ret == 0)
		ret = nlbatch_flush(b);
	for (size_t j = 0; j < n_want && ret == 0; j++) {
		if (kept[j])
			continue;
		ret = rule_add(b, &want[j].r, tag_make(j, false));
		(*changes)++;
	}
	if (ret == 0)
		ret = nlbatch_flush(b);
	free(kept);
	return ret;
}

static void rule_error(const struct batch_error *e, const struct krule *want,
		       const struct krule_list *have, char *errbuf, size_t errlen)
{
	const struct krule *k =
	    tag_is_delete(e->tag) ? &have->v[tag_index(e->tag)] : &want[tag_index(e->tag)];
	char rule[128];

	rule_format(&k->r, rule, sizeof(rule));
	error_format(errbuf, errlen, tag_is_delete(e->tag) ? "deleting rule" : "adding rule", rule,
		     e);
}

/* One round: dump, compare, apply. *changes says whether anything was sent. */
static int rule_round(struct nl_sock *sk, const struct krule *want, size_t n_want, size_t *changes,
		      char *errbuf, size_t errlen)
{
	struct batch_error e = { .ignore_exist = true, .tag = SIZE_MAX };
	struct krule_list have;
	struct nlbatch *b;
	int ret = rule_dump(sk, &have);

	if (ret < 0) {
		snprintf(errbuf, errlen, "reading rules: %s", strerror(-ret));
		return ret;
	}
	b = nlbatch_new(sk, batch_on_error, &e);
	ret = b ? rule_changes(b, want, n_want, &have, changes) : -ENOMEM;
	if (ret < 0 && e.err)
		rule_error(&e, want, &have, errbuf, errlen);
	else if (ret < 0)
		snprintf(errbuf, errlen, "changing rules: %s", strerror(-ret));
	nlbatch_free(b);
	krule_list_free(&have);
	return ret;
}

/* The plan's rules as keys without duplicates; -EINVAL outside the band. */
static int rule_keys(const struct plan_rule *rules, size_t n, struct krule **out, size_t *n_out,
		     char *errbuf, size_t errlen)
{
	struct krule *k = calloc(n ? n : 1, sizeof(*k));
	size_t m = 0;
	char text[128];

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct krule r = { .r = rule_normal(&rules[i]) };
		size_t j = 0;
		if (!in_band(r.r.priority) || !r.r.table ||
		    (r.r.family != AF_INET && r.r.family != AF_INET6)) {
			rule_format(&rules[i], text, sizeof(text));
			snprintf(errbuf, errlen,
				 "planned rule %s: outside priorities %d..%d or no table", text,
				 RULE_PRIORITY_FIRST, RULE_PRIORITY_LAST);
			free(k);
			return -EINVAL;
		}
		while (j < m && !rule_equal(&k[j], &r))
			j++;
		if (j == m)
			k[m++] = r;
	}
	*out = k;
	*n_out = m;
	return 0;
}

/*
 * The kernel deletes the first rule that matches every selector a request
 * gives, so a deletion can hit a look-alike of the same priority; rounds
 * repeat until a dump shows nothing left to change.
 */
int rule_reconcile(struct nl_sock *sk, const struct plan_rule *rules, size_t n, char *errbuf,
		   size_t errlen)
{
	struct krule *want = NULL;
	size_t n_want = 0, changes = 1;
	int ret = rule_keys(rules, n, &want, &n_want, errbuf, errlen);

	for (int round = 0; ret == 0 && changes && round < RULE_PASSES; round++) {
		changes = 0;
		ret = rule_round(sk, want, n_want, &changes, errbuf, errlen);
	}
	if (ret == 0 && changes) {
		snprintf(errbuf, errlen, "rules in priorities %d..%d keep changing under us",
			 RULE_PRIORITY_FIRST, RULE_PRIORITY_LAST);
		ret = -EAGAIN;
	}
	free(want);
	return ret;
}

int rule_remove_all(struct nl_sock *sk)
{
	char errbuf[256];

	return rule_reconcile(sk, NULL, 0, errbuf, sizeof(errbuf));
}
