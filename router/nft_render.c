/*
 * plan_nft -> the messages that build table "inet meshgate"; see
 * nft_render.h for the content in nft syntax.
 *
 * Rules are built through one small function per expression (expr_*), and
 * those are combined into the statements of nft's language (match_*,
 * stmt_*), so each rule below reads like the nft text it renders. The
 * encodings are the ones nft 1.0 itself emits (`nft --debug=netlink`):
 * everything goes through register 1, and "ip daddr" in the inet family is
 * "meta nfproto ipv4" followed by a payload load.
 */
#include "nft_render.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_batch.h"

/* nft's datatype numbers (the set key types `nft list` shows). */
enum { NFT_TYPE_IPADDR = 7, NFT_TYPE_IP6ADDR = 8, NFT_TYPE_INET_SERVICE = 13 };

/* Offset of the destination port in TCP and UDP headers (th dport). */
enum { TH_DPORT_OFFSET = 2 };

/* nft's chain priorities by name. */
enum { PRIO_MANGLE = -150, PRIO_FILTER = 0, PRIO_SRCNAT = 100 };

/* Offset of the TCP flags byte; bits tested for "a SYN without RST". */
enum { TCP_FLAGS_OFFSET = 13, TCP_SYN = 0x02, TCP_RST = 0x04 };

/* One address family as the table sees it. */
struct family {
	int af;
	uint8_t nfproto;
	uint32_t addr_len;
	uint32_t saddr_off, daddr_off;
	uint32_t key_type;
	const char *lan_set, *guard_set, *self_set, *dev_set, *devexit_set, *meshnet_set;
	/* set ids within the batch */
	uint32_t lan_id, guard_id, self_id, dev_id, devexit_id, meshnet_id;
};

static const struct family families[] = {
	{ AF_INET, NFPROTO_IPV4, 4, offsetof(struct ip, ip_src), offsetof(struct ip, ip_dst),
	  NFT_TYPE_IPADDR, "lan4", "guarded4", "self4", "dev4", "devexit4", "meshnet4", 1, 3, 5, 7,
	  9, 11 },
	{ AF_INET6, NFPROTO_IPV6, 16, offsetof(struct ip6_hdr, ip6_src),
	  offsetof(struct ip6_hdr, ip6_dst), NFT_TYPE_IP6ADDR, "lan6", "guarded6", "self6", "dev6",
	  "devexit6", "meshnet6", 2, 4, 6, 8, 10, 12 },
};

/* Which sets the table has (a family without prefixes gets no set and no rule). */
struct content {
	const struct plan_nft *plan;
	bool lan[2], guard[2], self[2], dev[2], devexit[2], meshnet[2];
	bool guard_input; /* exit node without allow_private */
	bool input;       /* the input chain: own addresses, the guard or the policy */
	bool acl;         /* the access policy's chains (plan->acl.deny) */
};

/* ---- intervals: prefixes as the range elements of an interval set ---- */

struct range {
	uint8_t lo[16], hi[16];
};

/* a += 1 over len big-endian bytes; false when it wrapped to zero. */
static bool addr_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

static bool addr_is_zero(const uint8_t *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i])
			return false;
	return true;
}

static void prefix_range(const struct prefix *p, size_t len, struct range *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < len; i++) {
		unsigned bits = p->len > i * 8 ? p->len - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

		r->lo[i] = p->addr[i] & mask;
		r->hi[i] = r->lo[i] | (uint8_t)~mask;
	}
}

static int range_cmp(const void *a, const void *b)
{
	return memcmp(((const struct range *)a)->lo, ((const struct range *)b)->lo, 16);
}

/* True if next starts inside cur or right after it. */
static bool range_touches(const struct range *cur, const struct range *next, size_t len)
{
	uint8_t after[16];

	if (memcmp(next->lo, cur->hi, len) <= 0)
		return true;
	memcpy(after, cur->hi, len);
	return addr_inc(after, len) && memcmp(after, next->lo, len) == 0;
}

/* Sorts r and merges overlapping and adjacent ranges (keys of len bytes);
 * returns how many are left. */
static size_t ranges_merge(struct range *r, size_t n, size_t len)
{
	size_t merged = 0;

	qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 0; i < n; i++) {
		struct range *cur = &r[merged - (merged ? 1 : 0)];

		if (merged && range_touches(cur, &r[i], len)) {
			if (memcmp(r[i].hi, cur->hi, len) > 0)
				memcpy(cur->hi, r[i].hi, len);
		} else {
			r[merged++] = r[i];
		}
	}
	return merged;
}

/*
 * The family's prefixes as sorted, disjoint, non-adjacent ranges (the
 * kernel refuses overlapping intervals). out has room for p->n. Returns
 * how many.
 */
static size_t prefixes_to_ranges(const struct plan_prefixes *p, const struct family *f,
				 struct range *out)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].family == f->af)
			prefix_range(&p->v[i], f->addr_len, &out[n++]);
	return ranges_merge(out, n, f->addr_len);
}

static bool family_has(const struct plan_prefixes *p, const struct family *f)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].family == f->af)
			return true;
	return false;
}

/* ---- sets ---- */

static bool elem_add(struct nftnl_set *s, const uint8_t *key, uint32_t len, bool end)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return false;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return true;
}

/*
 * The interval encoding nft uses: each range [lo, hi] is an element lo and
 * an element hi+1 flagged INTERVAL_END (none when hi is the top of the
 * address space), and an INTERVAL_END element at 0 opens the set when the
 * first range does not start there.
 */
static bool set_add_ranges(struct nftnl_set *s, const struct range *r, size_t n, uint32_t len)
{
	static const uint8_t zero[16];
	bool ok = true;

	if (n > 0 && !addr_is_zero(r[0].lo, len))
		ok = elem_add(s, zero, len, true);
	for (size_t i = 0; ok && i < n; i++) {
		uint8_t end[16];

		memcpy(end, r[i].hi, len);
		ok = elem_add(s, r[i].lo, len, false);
		if (ok && addr_inc(end, len))
			ok = elem_add(s, end, len, true);
	}
	return ok;
}

static struct nftnl_set *set_new(const char *name, uint32_t id, uint32_t key_type, uint32_t key_len)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	return s;
}

/* set NAME { type TYPE; flags interval; elements = { ranges } } */
static void render_set_ranges(struct nft_batch *b, const char *name, uint32_t id, uint32_t key_type,
			      uint32_t key_len, const struct range *ranges, size_t n)
{
	struct nftnl_set *s = set_new(name, id, key_type, key_len);

	if (s) {
		nft_batch_set(b, s);
		if (set_add_ranges(s, ranges, n, key_len))
			nft_batch_set_elems(b, s);
		else if (!b->err)
			b->err = -ENOMEM;
		nftnl_set_free(s);
	} else if (!b->err) {
		b->err = -ENOMEM;
	}
}

/* set NAME { type ipv4_addr; flags interval; elements = { prefixes } } */
static void render_set(struct nft_batch *b, const char *name, uint32_t id, const struct family *f,
		       const struct plan_prefixes *p)
{
	struct range *ranges = calloc(p->n ? p->n : 1, sizeof(*ranges));

	if (!ranges) {
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	render_set_ranges(b, name, id, f->key_type, f->addr_len, ranges,
			  prefixes_to_ranges(p, f, ranges));
	free(ranges);
}

/* ---- chains ---- */

static struct nftnl_chain *chain_new(const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	return c;
}

static void chain_commit(struct nft_batch *b, struct nftnl_chain *c)
{
	if (!c) {
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	nft_batch_chain(b, c);
	nftnl_chain_free(c);
}

/* chain NAME { type TYPE hook HOOK priority PRIO; policy accept; } */
static void base_chain(struct nft_batch *b, const char *name, const char *type, uint32_t hook,
		       int32_t prio)
{
	struct nftnl_chain *c = chain_new(name);

	if (c) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	chain_commit(b, c);
}

/* chain NAME { } (reached only by jump) */
static void regular_chain(struct nft_batch *b, const char *name)
{
	chain_commit(b, chain_new(name));
}

/* ---- rules: expressions ---- */

/* A rule being built; the first allocation failure sticks. */
struct rule {
	struct nftnl_rule *r;
	bool oom;
};

static struct nftnl_expr *expr_new(struct rule *rb, const char *name)
{
	struct nftnl_expr *e = rb->oom ? NULL : nftnl_expr_alloc(name);

	if (!e)
		rb->oom = true;
	return e;
}

static void expr_add(struct rule *rb, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(rb->r, e);
}

/* meta load KEY => reg 1 */
static void expr_meta_load(struct rule *rb, uint32_t key)
{
	struct nftnl_expr *e = expr_new(rb, "meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* meta set KEY with reg 1 */
static void expr_meta_set(struct rule *rb, uint32_t key)
{
	struct nftnl_expr *e = expr_new(rb, "meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* ct load KEY => reg 1 */
static void expr_ct_load(struct rule *rb, uint32_t key)
{
	struct nftnl_expr *e = expr_new(rb, "ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* ct set KEY with reg 1 */
static void expr_ct_set(struct rule *rb, uint32_t key)
{
	struct nftnl_expr *e = expr_new(rb, "ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* payload load LEN @ BASE + OFFSET => reg 1 */
static void expr_payload_load(struct rule *rb, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr_new(rb, "payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* cmp OP reg 1 DATA */
static void expr_cmp(struct rule *rb, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(rb, "cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	expr_add(rb, e);
}

/* bitwise reg 1 = (reg 1 & MASK) ^ XOR */
static void expr_bitwise(struct rule *rb, const void *mask, const void * xor, uint32_t len)
{
	struct nftnl_expr *e = expr_new(rb, "bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	}
	expr_add(rb, e);
}

/* lookup reg 1 set NAME */
static void expr_lookup(struct rule *rb, const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = expr_new(rb, "lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	}
	expr_add(rb, e);
}

/* rt load KEY => reg 1 */
static void expr_rt_load(struct rule *rb, uint32_t key)
{
	struct nftnl_expr *e = expr_new(rb, "rt");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_DREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* byteorder reg 1 = hton(reg 1, SIZE, LEN) */
static void expr_hton(struct rule *rb, uint32_t len, uint32_t size)
{
	struct nftnl_expr *e = expr_new(rb, "byteorder");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, size);
	}
	expr_add(rb, e);
}

/* exthdr write tcpopt reg 1 => LEN @ TYPE + OFFSET */
static void expr_tcpopt_write(struct rule *rb, uint8_t type, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = expr_new(rb, "exthdr");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
		nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, type);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_SREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* fib FLAGS RESULT => reg 1 */
static void expr_fib(struct rule *rb, uint32_t flags, uint32_t result)
{
	struct nftnl_expr *e = expr_new(rb, "fib");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	expr_add(rb, e);
}

/* immediate reg 0 VERDICT [CHAIN] */
static void expr_verdict(struct rule *rb, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr_new(rb, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	expr_add(rb, e);
}

/* masq */
static void expr_masq(struct rule *rb)
{
	expr_add(rb, expr_new(rb, "masq"));
}

/* ---- rules: nft statements ---- */

/* iifname/oifname NAME: the whole IFNAMSIZ buffer, zero padded */
static void match_ifname(struct rule *rb, uint32_t key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ] = { 0 };

	memcpy(buf, name, strnlen(name, sizeof(buf) - 1));
	expr_meta_load(rb, key);
	expr_cmp(rb, op, buf, sizeof(buf));
}

/* meta l4proto PROTO */
static void match_l4proto(struct rule *rb, uint8_t proto)
{
	expr_meta_load(rb, NFT_META_L4PROTO);
	expr_cmp(rb, NFT_CMP_EQ, &proto, sizeof(proto));
}

/* ip/ip6 saddr/daddr @SET */
static void match_addr_in(struct rule *rb, const struct family *f, bool dst, const char *set,
			  uint32_t set_id)
{
	expr_meta_load(rb, NFT_META_NFPROTO);
	expr_cmp(rb, NFT_CMP_EQ, &f->nfproto, sizeof(f->nfproto));
	expr_payload_load(rb, NFT_PAYLOAD_NETWORK_HEADER, dst ? f->daddr_off : f->saddr_off,
			  f->addr_len);
	expr_lookup(rb, set, set_id);
}

/* Loads the packet's mark (meta mark) or its connection's (ct mark). */
static void load_mark(struct rule *rb, bool ct)
{
	if (ct)
		expr_ct_load(rb, NFT_CT_MARK);
	else
		expr_meta_load(rb, NFT_META_MARK);
}

/* [ct] mark & FWMARK_MASK == VALUE */
static void match_mark(struct rule *rb, bool ct, uint32_t value)
{
	uint32_t mask = FWMARK_MASK, zero = 0;

	load_mark(rb, ct);
	expr_bitwise(rb, &mask, &zero, sizeof(mask));
	expr_cmp(rb, NFT_CMP_EQ, &value, sizeof(value));
}

/* [ct] mark set [ct] mark & ~FWMARK_MASK | VALUE: only our bits change */
static void stmt_mark_set(struct rule *rb, bool ct, uint32_t value)
{
	uint32_t keep = ~FWMARK_MASK;

	load_mark(rb, ct);
	expr_bitwise(rb, &keep, &value, sizeof(value));
	if (ct)
		expr_ct_set(rb, NFT_CT_MARK);
	else
		expr_meta_set(rb, NFT_META_MARK);
}

/* ct state STATES (any of them) */
static void match_ct_state(struct rule *rb, uint32_t states)
{
	uint32_t zero = 0;

	expr_ct_load(rb, NFT_CT_STATE);
	expr_bitwise(rb, &states, &zero, sizeof(states));
	expr_cmp(rb, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* tcp flags & (syn|rst) == syn */
static void match_tcp_syn(struct rule *rb)
{
	uint8_t mask = TCP_SYN | TCP_RST, zero = 0, syn = TCP_SYN;

	match_l4proto(rb, IPPROTO_TCP);
	expr_payload_load(rb, NFT_PAYLOAD_TRANSPORT_HEADER, TCP_FLAGS_OFFSET, 1);
	expr_bitwise(rb, &mask, &zero, sizeof(mask));
	expr_cmp(rb, NFT_CMP_EQ, &syn, sizeof(syn));
}

/* tcp option maxseg size set rt mtu (the kernel only ever lowers it) */
static void stmt_clamp_mss(struct rule *rb)
{
	expr_rt_load(rb, NFT_RT_TCPMSS);
	expr_hton(rb, 2, 2);
	expr_tcpopt_write(rb, TCPOPT_MAXSEG, 2, 2);
}

/* fib daddr . iif type local: addressed to the interface it came in on */
static void match_local_on_iif(struct rule *rb)
{
	uint32_t local = RTN_LOCAL;

	expr_fib(rb, NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF, NFT_FIB_RESULT_ADDRTYPE);
	expr_cmp(rb, NFT_CMP_EQ, &local, sizeof(local));
}

static void stmt_verdict(struct rule *rb, int verdict)
{
	expr_verdict(rb, verdict, NULL);
}

/* ---- rules: life cycle ---- */

static void rule_begin(struct rule *rb, const char *chain, const char *comment)
{
	struct nftnl_udata_buf *ud;

	rb->oom = false;
	rb->r = nftnl_rule_alloc();
	if (!rb->r) {
		rb->oom = true;
		return;
	}
	nftnl_rule_set_str(rb->r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(rb->r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(rb->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 2);
	if (!ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment))
		rb->oom = true;
	else
		nftnl_rule_set_data(rb->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
				    nftnl_udata_buf_len(ud));
	if (ud)
		nftnl_udata_buf_free(ud);
}

static void rule_end(struct nft_batch *b, struct rule *rb)
{
	if (rb->oom && !b->err)
		b->err = -ENOMEM;
	else if (!rb->oom)
		nft_batch_rule(b, rb->r);
	if (rb->r)
		nftnl_rule_free(rb->r);
	rb->r = NULL;
}

/* ---- the access policy ---- */

/* Set ids of the policy's sets, after the families' (1..12): entry i has
 * ACL_SET_ID_BASE + i * ACL_SETS_PER_ENTRY + enum acl_set. */
enum { ACL_SET_ID_BASE = 64, ACL_SETS_PER_ENTRY = 5 };
enum acl_set { ACL_SET_SRC4, ACL_SET_SRC6, ACL_SET_DST4, ACL_SET_DST6, ACL_SET_PORTS };

/* Room for "p<any size_t>_ports". */
enum { ACL_SET_NAME_LEN = 32 };

static const char *const acl_set_suffix[] = { "src4", "src6", "dst4", "dst6", "ports" };

struct acl_set_ref {
	char name[ACL_SET_NAME_LEN];
	uint32_t id;
};

static struct acl_set_ref acl_set_ref(size_t entry, enum acl_set which)
{
	struct acl_set_ref ref = {
		.id = ACL_SET_ID_BASE + (uint32_t)(entry * ACL_SETS_PER_ENTRY) + (uint32_t)which,
	};

	snprintf(ref.name, sizeof(ref.name), "p%zu_%s", entry, acl_set_suffix[which]);
	return ref;
}

static enum acl_set acl_addr_set(const struct family *f, bool dst)
{
	return (dst ? ACL_SET_DST4 : ACL_SET_SRC4) + (f->af == AF_INET6);
}

static const char *acl_chain(enum acl_hook hook)
{
	return hook == ACL_HOOK_INPUT  ? "policy_input"
	       : hook == ACL_HOOK_EXIT ? "policy_exit"
				       : "policy_forward";
}

/* The whole address space of f (a canonical list then holds nothing else
 * of f): no lookup, only the family. */
static bool prefixes_any(const struct plan_prefixes *p, const struct family *f)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].family == f->af && p->v[i].len == 0)
			return true;
	return false;
}

/* An entry has rules in family f when its sources and destinations (none:
 * any) both hold some of f. */
static bool acl_entry_family(const struct plan_acl_entry *e, const struct family *f)
{
	return family_has(&e->src, f) && (!e->dst.n || family_has(&e->dst, f));
}

static bool acl_entry_rendered(const struct content *c, const struct plan_acl_entry *e)
{
	return e->hook != ACL_HOOK_EXIT || c->plan->exit_node;
}

static void render_acl_ports(struct nft_batch *b, size_t i, const struct plan_acl_entry *e)
{
	struct range *ranges = calloc(e->n_ports, sizeof(*ranges));
	struct acl_set_ref ref = acl_set_ref(i, ACL_SET_PORTS);

	if (!ranges) {
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	for (size_t j = 0; j < e->n_ports; j++) {
		uint16_t lo = htons(e->ports[j].lo), hi = htons(e->ports[j].hi);

		memcpy(ranges[j].lo, &lo, sizeof(lo));
		memcpy(ranges[j].hi, &hi, sizeof(hi));
	}
	render_set_ranges(b, ref.name, ref.id, NFT_TYPE_INET_SERVICE, sizeof(uint16_t), ranges,
			  ranges_merge(ranges, e->n_ports, sizeof(uint16_t)));
	free(ranges);
}

static void render_acl_addrs(struct nft_batch *b, size_t i, const struct plan_acl_entry *e,
			     const struct family *f, bool dst)
{
	const struct plan_prefixes *p = dst ? &e->dst : &e->src;
	struct acl_set_ref ref = acl_set_ref(i, acl_addr_set(f, dst));

	if (p->n && !prefixes_any(p, f))
		render_set(b, ref.name, ref.id, f, p);
}

/* Per entry: its sources and destinations per family, and its ports. */
static void render_acl_sets(struct nft_batch *b, const struct content *c)
{
	const struct plan_acl *acl = &c->plan->acl;

	for (size_t i = 0; c->acl && i < acl->n_entries; i++) {
		const struct plan_acl_entry *e = &acl->entries[i];

		if (!acl_entry_rendered(c, e))
			continue;
		for (int k = 0; k < 2; k++) {
			if (!acl_entry_family(e, &families[k]))
				continue;
			render_acl_addrs(b, i, e, &families[k], false);
			render_acl_addrs(b, i, e, &families[k], true);
		}
		if (e->n_ports)
			render_acl_ports(b, i, e);
	}
}

/* meta nfproto ipv4/ipv6 */
static void match_nfproto(struct rule *rb, const struct family *f)
{
	expr_meta_load(rb, NFT_META_NFPROTO);
	expr_cmp(rb, NFT_CMP_EQ, &f->nfproto, sizeof(f->nfproto));
}

/* th dport @SET (after meta l4proto tcp or udp) */
static void match_dport_in(struct rule *rb, const struct acl_set_ref *ref)
{
	expr_payload_load(rb, NFT_PAYLOAD_TRANSPORT_HEADER, TH_DPORT_OFFSET, sizeof(uint16_t));
	expr_lookup(rb, ref->name, ref->id);
}

/* counter */
static void expr_counter(struct rule *rb)
{
	expr_add(rb, expr_new(rb, "counter"));
}

static void match_acl_addrs(struct rule *rb, size_t i, const struct plan_acl_entry *e,
			    const struct family *f, bool dst)
{
	const struct plan_prefixes *p = dst ? &e->dst : &e->src;
	struct acl_set_ref ref = acl_set_ref(i, acl_addr_set(f, dst));

	if (p->n && !prefixes_any(p, f))
		match_addr_in(rb, f, dst, ref.name, ref.id);
}

/* [ip saddr @pI_src4] [ip daddr @pI_dst4] [meta l4proto P [th dport @pI_ports]]
 * counter return: allowed, the calling chain's checks go on. */
static void rule_acl_entry(struct nft_batch *b, size_t i, const struct plan_acl_entry *e,
			   const struct family *f, uint8_t l4proto)
{
	struct acl_set_ref ports = acl_set_ref(i, ACL_SET_PORTS);
	char comment[48];
	struct rule rb;

	snprintf(comment, sizeof(comment), "policy rule %u%s", e->rule,
		 e->rule ? "" : ": mesh control");
	rule_begin(&rb, acl_chain(e->hook), comment);
	if (prefixes_any(&e->src, f) && (!e->dst.n || prefixes_any(&e->dst, f)))
		match_nfproto(&rb, f); /* else the lookups load the family */
	match_acl_addrs(&rb, i, e, f, false);
	match_acl_addrs(&rb, i, e, f, true);
	if (l4proto)
		match_l4proto(&rb, l4proto);
	if (e->n_ports && (l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP))
		match_dport_in(&rb, &ports);
	expr_counter(&rb);
	stmt_verdict(&rb, NFT_RETURN);
	rule_end(b, &rb);
}

/* One rule per family and protocol (every protocol: one without l4proto). */
static void rules_acl_entry(struct nft_batch *b, size_t i, const struct plan_acl_entry *e)
{
	for (int k = 0; k < 2; k++) {
		const struct family *f = &families[k];

		if (!acl_entry_family(e, f))
			continue;
		if (!e->protocols)
			rule_acl_entry(b, i, e, f, 0);
		if (e->protocols & ACL_PROTO_TCP)
			rule_acl_entry(b, i, e, f, IPPROTO_TCP);
		if (e->protocols & ACL_PROTO_UDP)
			rule_acl_entry(b, i, e, f, IPPROTO_UDP);
		if (e->protocols & ACL_PROTO_ICMP)
			rule_acl_entry(b, i, e, f,
				       f->af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	}
}

/* chain policy_HOOK: replies and related ICMP errors return at once, each
 * entry of the hook returns what it allows, the rest is counted and
 * dropped. */
static void rules_acl_chain(struct nft_batch *b, const struct content *c, enum acl_hook hook)
{
	const struct plan_acl *acl = &c->plan->acl;
	const char *chain = acl_chain(hook);
	struct rule rb;

	rule_begin(&rb, chain, "policy: replies and what an allowed flow brings");
	match_ct_state(&rb, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	stmt_verdict(&rb, NFT_RETURN);
	rule_end(b, &rb);
	for (size_t i = 0; i < acl->n_entries; i++)
		if (acl->entries[i].hook == hook && acl_entry_rendered(c, &acl->entries[i]))
			rules_acl_entry(b, i, &acl->entries[i]);
	rule_begin(&rb, chain, NFT_ACL_DENY_COMMENT);
	expr_counter(&rb);
	stmt_verdict(&rb, NF_DROP);
	rule_end(b, &rb);
}

static void rules_acl(struct nft_batch *b, const struct content *c)
{
	rules_acl_chain(b, c, ACL_HOOK_INPUT);
	rules_acl_chain(b, c, ACL_HOOK_FORWARD);
	if (c->plan->exit_node)
		rules_acl_chain(b, c, ACL_HOOK_EXIT);
}

/* from_mesh: what leaves by the exit's WAN meets the exit entries, all
 * else (served LANs, devices, TUN -> TUN) the forward entries. */
static void rules_from_mesh_acl(struct nft_batch *b, const struct content *c)
{
	const struct plan_nft *p = c->plan;
	struct rule rb;

	if (p->exit_node) {
		rule_begin(&rb, "from_mesh", "access policy: out through this exit node");
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, p->wan);
		expr_verdict(&rb, NFT_JUMP, acl_chain(ACL_HOOK_EXIT));
		rule_end(b, &rb);
	}
	rule_begin(&rb, "from_mesh", "access policy: through this node");
	if (p->exit_node)
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_NEQ, p->wan);
	expr_verdict(&rb, NFT_JUMP, acl_chain(ACL_HOOK_FORWARD));
	rule_end(b, &rb);
}

/* input: whatever the mesh sends to this host's addresses. */
static void rules_input_acl(struct nft_batch *b, const struct content *c)
{
	struct rule rb;

	rule_begin(&rb, "input", "access policy: to this node");
	match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, c->plan->tun);
	expr_verdict(&rb, NFT_JUMP, acl_chain(ACL_HOOK_INPUT));
	rule_end(b, &rb);
}

/* ---- the chains' rules ---- */

static void rules_forward(struct nft_batch *b, const struct content *c)
{
	const struct plan_nft *p = c->plan;
	struct rule rb;

	if (p->clamp_mss) {
		rule_begin(&rb, "forward", "clamp MSS to the path MTU into the mesh");
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, p->tun);
		match_tcp_syn(&rb);
		stmt_clamp_mss(&rb);
		rule_end(b, &rb);

		rule_begin(&rb, "forward", "clamp MSS to the path MTU out of the mesh");
		match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, p->tun);
		match_tcp_syn(&rb);
		stmt_clamp_mss(&rb);
		rule_end(b, &rb);
	}

	rule_begin(&rb, "forward", "traffic from the mesh");
	match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, p->tun);
	expr_verdict(&rb, NFT_JUMP, "from_mesh");
	rule_end(b, &rb);

	rule_begin(&rb, "forward", "replies into the mesh");
	match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, p->tun);
	match_ct_state(&rb, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	stmt_verdict(&rb, NF_ACCEPT);
	rule_end(b, &rb);

	/* With snat the mesh reaches the LAN under the router's address and
	 * the LAN has no route back: only the replies above enter the mesh.
	 * Without it the LAN routes the mesh prefix back through the router
	 * on purpose, and its hosts may open connections into the mesh. */
	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];

		if (!c->lan[i])
			continue;
		rule_begin(&rb, "forward",
			   p->snat ? "served LANs: only replies into the mesh (snat)"
				   : "served LANs into the mesh");
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, p->tun);
		match_addr_in(&rb, f, false, f->lan_set, f->lan_id);
		stmt_verdict(&rb, p->snat ? NF_DROP : NF_ACCEPT);
		rule_end(b, &rb);
	}
}

static void rules_from_mesh_lan(struct nft_batch *b, const struct content *c)
{
	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];
		struct rule rb;

		if (!c->lan[i])
			continue;
		rule_begin(&rb, "from_mesh", "subnet router: to a served LAN prefix");
		match_addr_in(&rb, f, true, f->lan_set, f->lan_id);
		if (c->plan->snat)
			stmt_mark_set(&rb, false, FWMARK_MESH_SNAT);
		stmt_verdict(&rb, NF_ACCEPT);
		rule_end(b, &rb);
	}
}

/* TUN -> TUN only between an attached device and the mesh (its networks,
 * its routed prefixes): the engine lets no mesh node send from a device's
 * address, so mesh nodes never transit here, and a default route into
 * the TUN (an exit node in use) is no way out for a device. */
static void rules_from_mesh_devices(struct nft_batch *b, const struct content *c)
{
	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];
		struct rule rb;

		if (!c->dev[i] || !c->meshnet[i])
			continue;
		rule_begin(&rb, "from_mesh", "devices: to the mesh and its subnet routes");
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, c->plan->tun);
		match_addr_in(&rb, f, false, f->dev_set, f->dev_id);
		match_addr_in(&rb, f, true, f->meshnet_set, f->meshnet_id);
		stmt_verdict(&rb, NF_ACCEPT);
		rule_end(b, &rb);

		rule_begin(&rb, "from_mesh", "devices: from the mesh");
		match_ifname(&rb, NFT_META_OIFNAME, NFT_CMP_EQ, c->plan->tun);
		match_addr_in(&rb, f, false, f->meshnet_set, f->meshnet_id);
		match_addr_in(&rb, f, true, f->dev_set, f->dev_id);
		stmt_verdict(&rb, NF_ACCEPT);
		rule_end(b, &rb);
	}
}

/* oifname WAN (oifname != TUN with allow_private): the internet side. */
static void match_exit_out(struct rule *rb, const struct plan_nft *p)
{
	if (p->allow_private)
		match_ifname(rb, NFT_META_OIFNAME, NFT_CMP_NEQ, p->tun);
	else
		match_ifname(rb, NFT_META_OIFNAME, NFT_CMP_EQ, p->wan);
}

/* Devices with the exit out as mesh exit clients are; the others no
 * further (their mesh and LAN traffic was accepted above). */
static void rules_from_mesh_device_exit(struct nft_batch *b, const struct content *c)
{
	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];
		struct rule rb;

		if (c->devexit[i]) {
			rule_begin(&rb, "from_mesh", "devices with the exit: out to the internet");
			match_addr_in(&rb, f, false, f->devexit_set, f->devexit_id);
			match_exit_out(&rb, c->plan);
			stmt_mark_set(&rb, false, FWMARK_MESH_SNAT);
			stmt_verdict(&rb, NF_ACCEPT);
			rule_end(b, &rb);
		}
		if (c->dev[i]) {
			rule_begin(&rb, "from_mesh", "devices without the exit: no internet");
			match_addr_in(&rb, f, false, f->dev_set, f->dev_id);
			stmt_verdict(&rb, NF_DROP);
			rule_end(b, &rb);
		}
	}
}

static void rules_from_mesh_exit(struct nft_batch *b, const struct content *c)
{
	const struct plan_nft *p = c->plan;
	struct rule rb;

	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];

		if (p->allow_private || !c->guard[i])
			continue;
		rule_begin(&rb, "from_mesh",
			   "exit node: no private ranges, LANs or host addresses");
		match_addr_in(&rb, f, true, f->guard_set, f->guard_id);
		stmt_verdict(&rb, NF_DROP);
		rule_end(b, &rb);
	}
	rules_from_mesh_device_exit(b, c);
	/* With allow_private the host's other links are allowed as well. */
	rule_begin(&rb, "from_mesh", "exit node: out to the internet");
	match_exit_out(&rb, p);
	stmt_mark_set(&rb, false, FWMARK_MESH_SNAT);
	stmt_verdict(&rb, NF_ACCEPT);
	rule_end(b, &rb);
}

/* Conntrack attaches no connection to an invalid packet (SYN|FIN, say) nor
 * to an untracked one, and NAT only ever acts on connections: masqueraded
 * traffic of that kind would leave with its mesh source address. */
static void rule_from_mesh_unmasqueradable(struct nft_batch *b)
{
	struct rule rb;

	rule_begin(&rb, "from_mesh", "no connection to masquerade: it would leak a mesh source");
	match_ct_state(&rb, NF_CT_STATE_INVALID_BIT | NF_CT_STATE_UNTRACKED_BIT);
	stmt_verdict(&rb, NF_DROP);
	rule_end(b, &rb);
}

static void rules_from_mesh(struct nft_batch *b, const struct content *c)
{
	struct rule rb;

	if (c->plan->snat || c->plan->exit_node)
		rule_from_mesh_unmasqueradable(b);
	if (c->acl)
		rules_from_mesh_acl(b, c);
	rules_from_mesh_devices(b, c);
	rules_from_mesh_lan(b, c);
	if (c->plan->exit_node)
		rules_from_mesh_exit(b, c);
	rule_begin(&rb, "from_mesh", "not a served prefix nor exit traffic");
	stmt_verdict(&rb, NF_DROP);
	rule_end(b, &rb);
}

/* Linux delivers a packet for a local address whatever link it came in
 * on: without this a LAN host routing the mesh prefix via this node would
 * reach the status page and the metrics on the mesh address. */
static void rules_input_self(struct nft_batch *b, const struct content *c)
{
	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];
		struct rule rb;

		if (!c->self[i])
			continue;
		rule_begin(&rb, "input", "mesh addresses: only through the mesh or loopback");
		match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_NEQ, c->plan->tun);
		match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo");
		match_addr_in(&rb, f, true, f->self_set, f->self_id);
		stmt_verdict(&rb, NF_DROP);
		rule_end(b, &rb);
	}
}

/* The exit-node guard for the host's own addresses (delivered, not forwarded). */
static void rules_input_guard(struct nft_batch *b, const struct content *c)
{
	const char *tun = c->plan->tun;
	struct rule rb;

	rule_begin(&rb, "input", "the node's own mesh addresses");
	match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, tun);
	match_local_on_iif(&rb);
	stmt_verdict(&rb, NF_ACCEPT);
	rule_end(b, &rb);

	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];

		if (c->lan[i]) {
			rule_begin(&rb, "input", "host addresses in a served LAN prefix");
			match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, tun);
			match_addr_in(&rb, f, true, f->lan_set, f->lan_id);
			stmt_verdict(&rb, NF_ACCEPT);
			rule_end(b, &rb);
		}
		if (c->guard[i]) {
			rule_begin(&rb, "input", "exit node: no private host addresses");
			match_ifname(&rb, NFT_META_IIFNAME, NFT_CMP_EQ, tun);
			match_addr_in(&rb, f, true, f->guard_set, f->guard_id);
			stmt_verdict(&rb, NF_DROP);
			rule_end(b, &rb);
		}
	}
}

static void rules_postrouting(struct nft_batch *b)
{
	struct rule rb;

	rule_begin(&rb, "postrouting", "masquerade what the mesh forwards");
	match_mark(&rb, false, FWMARK_MESH_SNAT);
	expr_masq(&rb);
	rule_end(b, &rb);
}

/* wg-quick's connmark pair, kept within FWMARK_MASK. */
static void rules_connmark(struct nft_batch *b)
{
	struct rule rb;

	rule_begin(&rb, "premangle", "restore the bypass mark on replies (rp_filter)");
	match_l4proto(&rb, IPPROTO_UDP);
	match_mark(&rb, true, FWMARK_BYPASS);
	stmt_mark_set(&rb, false, FWMARK_BYPASS);
	rule_end(b, &rb);

	rule_begin(&rb, "postmangle", "remember the bypass mark on the connection");
	match_l4proto(&rb, IPPROTO_UDP);
	match_mark(&rb, false, FWMARK_BYPASS);
	stmt_mark_set(&rb, true, FWMARK_BYPASS);
	rule_end(b, &rb);
}

/* ---- the table ---- */

static struct nftnl_table *table_new(void)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	return t;
}

static uint32_t table_msg(struct nft_batch *b, uint16_t type, struct nftnl_table *t)
{
	uint32_t seq = 0;

	if (!t) {
		if (!b->err)
			b->err = -ENOMEM;
		return 0;
	}
	seq = nft_batch_table(b, type, t);
	nftnl_table_free(t);
	return seq;
}

uint32_t nft_render_delete(struct nft_batch *b)
{
	uint32_t seq = table_msg(b, NFT_MSG_NEWTABLE, table_new());

	table_msg(b, NFT_MSG_DELTABLE, table_new());
	return b->err ? 0 : seq;
}

static void table_comment(struct nftnl_table *t)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 2);

	if (ud && nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, "managed by meshgated"))
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud),
				     nftnl_udata_buf_len(ud));
	if (ud)
		nftnl_udata_buf_free(ud);
}

static void render_sets(struct nft_batch *b, struct content *c)
{
	const struct plan_nft *p = c->plan;

	for (int i = 0; i < 2; i++) {
		const struct family *f = &families[i];

		c->lan[i] = family_has(&p->lan_routes, f);
		c->guard[i] = p->exit_node && !p->allow_private && family_has(&p->guarded, f);
		c->self[i] = family_has(&p->self, f);
		c->dev[i] = family_has(&p->devices, f);
		c->devexit[i] = p->exit_node && family_has(&p->devices_exit, f);
		c->meshnet[i] = c->dev[i] && family_has(&p->mesh_routes, f);
		if (c->self[i])
			render_set(b, f->self_set, f->self_id, f, &p->self);
		if (c->lan[i])
			render_set(b, f->lan_set, f->lan_id, f, &p->lan_routes);
		if (c->guard[i])
			render_set(b, f->guard_set, f->guard_id, f, &p->guarded);
		if (c->dev[i])
			render_set(b, f->dev_set, f->dev_id, f, &p->devices);
		if (c->devexit[i])
			render_set(b, f->devexit_set, f->devexit_id, f, &p->devices_exit);
		if (c->meshnet[i])
			render_set(b, f->meshnet_set, f->meshnet_id, f, &p->mesh_routes);
	}
	c->guard_input = c->guard[0] || c->guard[1];
	c->acl = p->acl.deny;
	c->input = c->guard_input || c->self[0] || c->self[1] || c->acl;
	render_acl_sets(b, c);
}

static void render_chains(struct nft_batch *b, const struct content *c)
{
	const struct plan_nft *p = c->plan;

	base_chain(b, "forward", "filter", NF_INET_FORWARD, PRIO_FILTER);
	regular_chain(b, "from_mesh");
	if (c->input)
		base_chain(b, "input", "filter", NF_INET_LOCAL_IN, PRIO_FILTER);
	if (c->acl) {
		regular_chain(b, acl_chain(ACL_HOOK_INPUT));
		regular_chain(b, acl_chain(ACL_HOOK_FORWARD));
		if (p->exit_node)
			regular_chain(b, acl_chain(ACL_HOOK_EXIT));
	}
	if (p->snat || p->exit_node)
		base_chain(b, "postrouting", "nat", NF_INET_POST_ROUTING, PRIO_SRCNAT);
	if (p->connmark) {
		base_chain(b, "premangle", "filter", NF_INET_PRE_ROUTING, PRIO_MANGLE);
		base_chain(b, "postmangle", "filter", NF_INET_POST_ROUTING, PRIO_MANGLE);
	}
}

static void render_rules(struct nft_batch *b, const struct content *c)
{
	const struct plan_nft *p = c->plan;

	if (c->acl)
		rules_acl(b, c);
	rules_forward(b, c);
	rules_from_mesh(b, c);
	rules_input_self(b, c);
	if (c->acl)
		rules_input_acl(b, c);
	if (c->guard_input)
		rules_input_guard(b, c);
	if (p->snat || p->exit_node)
		rules_postrouting(b);
	if (p->connmark)
		rules_connmark(b);
}

uint32_t nft_render_table(struct nft_batch *b, const struct plan_nft *plan, bool owner)
{
	struct nftnl_table *t = table_new();
	struct content c = { .plan = plan };
	uint32_t seq;

	if (t) {
		if (owner)
			nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
		table_comment(t);
	}
	seq = table_msg(b, NFT_MSG_NEWTABLE, t);
	render_sets(b, &c);
	/* Chains first: a jump needs its target to exist in the transaction. */
	render_chains(b, &c);
	render_rules(b, &c);
	return b->err ? 0 : seq;
}
