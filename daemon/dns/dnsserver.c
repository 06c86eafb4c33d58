/*
 * The mesh resolver's sockets (dns/dnsserver.h). Replies that are not the
 * zone's (REFUSED, SERVFAIL) are built through ldns from the query.
 */
#include "dns/dnsserver.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/answer.h"
#include "log.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h */
#endif

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull
/* Tokens are kept in thousandths. */
#define MILLI 1000ull

struct listener {
	struct dns_server *srv;
	union sockaddr_inet addr;
	int udp_fd, tcp_fd;
	struct loop_source *udp_src, *tcp_src;
};

struct pending;

struct conn {
	struct dns_server *srv;
	struct listener *l;
	int fd;
	struct loop_source *src;
	struct loop_timer *idle;
	union sockaddr_inet peer;
	uint8_t in[2 + DNS_SERVER_TCP_QUERY_MAX];
	size_t in_len;
	uint8_t *out; /* length prefix and reply */
	size_t out_len, out_off;
	struct pending *pending;
	struct conn *prev, *next;
};

struct pending {
	struct dns_server *srv;
	struct listener *l; /* UDP: the socket to answer from */
	struct conn *conn;  /* TCP */
	union sockaddr_inet peer;
	uint8_t *query;
	size_t len;
	/* Inside ops->forward: a done() now keeps its reply here (NULL and
	 * early_len 0: none came) for forward_start() to send. */
	bool starting, early;
	uint8_t *early_reply;
	size_t early_len;
	struct pending *prev, *next;
};

struct bucket {
	int family; /* 0: free */
	uint8_t addr[16];
	uint64_t tokens; /* thousandths */
	uint64_t last_ns;
};

struct dns_server {
	struct loop *loop;
	struct dns_server_ops ops;
	bool have_ops;
	struct dns_zone *zone;
	struct listener *ls[DNS_SERVER_LISTEN_MAX];
	struct conn *conns;
	size_t n_conns;
	struct pending *pendings;
	size_t n_pendings;
	uint32_t rate, burst;
	struct bucket *buckets;
	struct dns_server_stats stats;
	uint8_t buf[DNS_ANSWER_TCP_MAX];
};

/* ---- counters and rate limit ---- */

static void count_reply(struct dns_server *srv, const uint8_t *wire, size_t len)
{
	unsigned rcode = len >= LDNS_HEADER_SIZE ? LDNS_RCODE_WIRE(wire) : 6;

	srv->stats.rcode[rcode < 6 ? rcode : 6]++;
}

static const uint8_t *peer_addr(const union sockaddr_inet *p, size_t *len)
{
	if (p->sa.sa_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)&p->in.sin_addr;
	}
	*len = 16;
	return (const uint8_t *)&p->in6.sin6_addr;
}

static struct bucket *bucket_find(struct dns_server *srv, const union sockaddr_inet *peer)
{
	size_t len, h = 2166136261u;
	const uint8_t *a = peer_addr(peer, &len);
	struct bucket *pick = NULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ a[i]) * 16777619u;
	/* Eight slots from the hash: the source's, else a free one, else
	 * the one asked least recently. */
	for (size_t k = 0; k < 8; k++) {
		struct bucket *b = &srv->buckets[(h + k) % DNS_SERVER_RL_SLOTS];
		if (b->family == peer->sa.sa_family && !memcmp(b->addr, a, len))
			return b;
		if (!pick || (pick->family && (!b->family || b->last_ns < pick->last_ns)))
			pick = b;
	}
	*pick = (struct bucket){ .family = peer->sa.sa_family,
				 .tokens = (uint64_t)srv->burst * MILLI,
				 .last_ns = loop_now() };
	memcpy(pick->addr, a, len);
	return pick;
}

/* Whether peer may ask one more query now. */
static bool rate_take(struct dns_server *srv, const union sockaddr_inet *peer)
{
	struct bucket *b = bucket_find(srv, peer);
	uint64_t now = loop_now(), cap = (uint64_t)srv->burst * MILLI;
	uint64_t gained = (now - b->last_ns) / NS_PER_MS * srv->rate;

	/* gained is in thousandths: ms times tokens a second. */
	if (gained) {
		b->tokens = b->tokens + gained > cap ? cap : b->tokens + gained;
		b->last_ns = now;
	}
	if (b->tokens < MILLI)
		return false;
	b->tokens -= MILLI;
	return true;
}

/* ---- replies not from the zone ---- */

/* A response of rcode to query[0..len) with its ID, flags and question,
 * into srv->buf; 0 when the query does not parse. */
static size_t rcode_reply(struct dns_server *srv, const uint8_t *query, size_t len, unsigned rcode)
{
	ldns_pkt *q = NULL, *r = NULL;
	uint8_t *wire = NULL;
	size_t size = 0;

	if (ldns_wire2pkt(&q, query, len) != LDNS_STATUS_OK)
		goto out;
	r = ldns_pkt_new();
	if (!r)
		goto out;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, (uint8_t)rcode);
	ldns_rr_list_deep_free(ldns_pkt_question(r));
	ldns_pkt_set_question(r, ldns_rr_list_clone(ldns_pkt_question(q)));
	ldns_pkt_set_qdcount(r, (uint16_t)ldns_rr_list_rr_count(ldns_pkt_question(r)));
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, DNS_ANSWER_EDNS_SIZE);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	if (ldns_pkt2wire(&wire, r, &size) != LDNS_STATUS_OK || size > sizeof(srv->buf))
		size = 0;
	else
		memcpy(srv->buf, wire, size);
out:
	free(wire);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
	return size;
}

/* ---- TCP connections ---- */

static void conn_close(struct conn *c);
static void conn_process(struct conn *c);

static void conn_events(struct conn *c)
{
	uint32_t ev = c->out ? EPOLLOUT : c->pending ? 0 : EPOLLIN;

	loop_mod_fd(c->srv->loop, c->src, ev);
}

/* Writes what is queued; false when the connection was closed. */
static bool conn_flush(struct conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return true;
}

/* Queues reply and writes what it can; false when c was closed. */
static bool conn_send(struct conn *c, const uint8_t *reply, size_t len)
{
	c->out = malloc(len + 2);
	if (!c->out) {
		conn_close(c);
		return false;
	}
	c->out[0] = (uint8_t)(len >> 8);
	c->out[1] = (uint8_t)len;
	memcpy(c->out + 2, reply, len);
	c->out_len = len + 2;
	c->out_off = 0;
	return conn_flush(c);
}

static void pending_drop(struct pending *p)
{
	struct dns_server *srv = p->srv;

	if (p->prev)
		p->prev->next = p->next;
	else
		srv->pendings = p->next;
	if (p->next)
		p->next->prev = p->prev;
	srv->n_pendings--;
	if (p->conn)
		p->conn->pending = NULL;
	free(p->query);
	free(p);
}

static void pending_cancel(struct pending *p)
{
	struct dns_server *srv = p->srv;

	if (srv->ops.cancel)
		srv->ops.cancel(srv->ops.fwd, p);
	pending_drop(p);
}

static void conn_close(struct conn *c)
{
	struct dns_server *srv = c->srv;

	if (c->pending)
		pending_cancel(c->pending);
	loop_del_fd(srv->loop, c->src);
	loop_timer_del(srv->loop, c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	free(c->out);
	free(c);
}

/* ---- one query ---- */

/* false when c (TCP) was closed. */
static bool send_reply(struct dns_server *srv, struct listener *l, struct conn *c,
		       const union sockaddr_inet *peer, const uint8_t *reply, size_t len)
{
	count_reply(srv, reply, len);
	if (c)
		return conn_send(c, reply, len);
	if (sendto(l->udp_fd, reply, len, 0, &peer->sa, sockaddr_len(peer)) < 0)
		log_debug("dns: reply: %s", strerror(errno));
	return true;
}

/* Sends the forwarder's reply (SERVFAIL for none) and drops p; false when
 * c (TCP) was closed. */
static bool forward_finish(struct pending *p, const uint8_t *reply, size_t len)
{
	struct dns_server *srv = p->srv;
	struct conn *c = p->conn;
	struct listener *l = p->l;
	union sockaddr_inet peer = p->peer;

	if (!len || len > sizeof(srv->buf)) {
		len = rcode_reply(srv, p->query, p->len, LDNS_RCODE_SERVFAIL);
		reply = srv->buf;
	}
	pending_drop(p);
	if (!len) {
		if (c)
			conn_close(c);
		return !c;
	}
	return send_reply(srv, l, c, &peer, reply, len);
}

static void forward_done(void *ctx, const uint8_t *reply, size_t len)
{
	struct pending *p = ctx;
	struct conn *c = p->conn;

	/* From inside ops->forward (a cache hit): the caller is in the middle
	 * of conn_process() and sends it when forward() returns. */
	if (p->starting) {
		p->early = true;
		p->early_reply = len ? malloc(len) : NULL;
		p->early_len = p->early_reply ? len : 0;
		if (p->early_reply)
			memcpy(p->early_reply, reply, len);
		return;
	}
	if (forward_finish(p, reply, len) && c)
		conn_process(c);
}

enum forward_start {
	FORWARD_NOT_TAKEN,
	FORWARD_TAKEN,
	FORWARD_CLOSED, /* taken, answered at once, and c (TCP) closed */
};

/* Hands query to the forwarder. */
static enum forward_start forward_start(struct dns_server *srv, struct listener *l, struct conn *c,
					const union sockaddr_inet *peer, const uint8_t *query,
					size_t len)
{
	struct pending *p;
	uint8_t *early;
	bool alive;

	if (!srv->have_ops || srv->n_pendings >= DNS_SERVER_PENDING_MAX)
		return FORWARD_NOT_TAKEN;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->query = malloc(len))) {
		free(p);
		return FORWARD_NOT_TAKEN;
	}
	*p = (struct pending){ .srv = srv,
			       .l = c ? NULL : l,
			       .conn = c,
			       .peer = *peer,
			       .query = p->query,
			       .len = len,
			       .starting = true,
			       .next = srv->pendings };
	memcpy(p->query, query, len);
	if (srv->pendings)
		srv->pendings->prev = p;
	srv->pendings = p;
	srv->n_pendings++;
	if (c)
		c->pending = p;
	if (srv->ops.forward(srv->ops.fwd, query, len, c != NULL, forward_done, p) < 0) {
		free(p->early_reply);
		pending_drop(p);
		return FORWARD_NOT_TAKEN;
	}
	srv->stats.forwarded++;
	p->starting = false;
	if (!p->early)
		return FORWARD_TAKEN;
	early = p->early_reply;
	alive = forward_finish(p, early, p->early_len);
	free(early);
	return alive ? FORWARD_TAKEN : FORWARD_CLOSED;
}

/* Answers, forwards or drops one query; false when c (TCP) was closed. */
static bool handle_query(struct dns_server *srv, struct listener *l, struct conn *c,
			 const union sockaddr_inet *peer, const uint8_t *query, size_t len)
{
	enum dns_transport t = c ? DNS_TCP : DNS_UDP;
	struct dns_reply rep = { 0 };
	enum dns_answer_verdict v = DNS_ANSWER_FORWARD;

	if (c)
		srv->stats.queries_tcp++;
	else
		srv->stats.queries_udp++;
	if (!rate_take(srv, peer)) {
		srv->stats.dropped_ratelimit++;
		if (c)
			conn_close(c);
		return !c;
	}
	if (srv->zone)
		v = dns_answer_local(srv->zone, query, len, t, srv->buf,
				     c ? sizeof(srv->buf) : DNS_ANSWER_EDNS_SIZE, &rep);
	if (v == DNS_ANSWER_REPLY) {
		srv->stats.local++;
		srv->stats.truncated += rep.truncated;
		return send_reply(srv, l, c, peer, srv->buf, rep.len);
	}
	if (v == DNS_ANSWER_FORWARD) {
		enum forward_start fs =
		    srv->zone ? forward_start(srv, l, c, peer, query, len) : FORWARD_NOT_TAKEN;

		if (fs != FORWARD_NOT_TAKEN)
			return fs == FORWARD_TAKEN;
		/* REFUSED by policy (no forwarder, no zone yet); SERVFAIL when
		 * the forwarder is busy or out of memory. */
		rep.len = rcode_reply(srv, query, len,
				      srv->zone && srv->have_ops ? LDNS_RCODE_SERVFAIL
								 : LDNS_RCODE_REFUSED);
		if (rep.len)
			return send_reply(srv, l, c, peer, srv->buf, rep.len);
	}
	srv->stats.dropped_malformed++;
	if (c)
		conn_close(c);
	return !c;
}

/* Answers the queries already read, one at a time. */
static void conn_process(struct conn *c)
{
	uint8_t query[DNS_SERVER_TCP_QUERY_MAX];

	while (!c->out && !c->pending && c->in_len >= 2) {
		size_t len = (size_t)c->in[0] << 8 | c->in[1];
		if (!len || len > DNS_SERVER_TCP_QUERY_MAX) {
			c->srv->stats.dropped_malformed++;
			conn_close(c);
			return;
		}
		if (c->in_len < len + 2)
			break;
		memcpy(query, c->in + 2, len);
		memmove(c->in, c->in + 2 + len, c->in_len - len - 2);
		c->in_len -= len + 2;
		if (!handle_query(c->srv, c->l, c, &c->peer, query, len))
			return;
	}
	conn_events(c);
}

static void on_conn(void *ctx, uint32_t events)
{
	struct conn *c = ctx;

	if (events & EPOLLOUT) {
		if (!conn_flush(c))
			return;
		conn_process(c);
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	loop_timer_set(c->srv->loop, c->idle, loop_now() + DNS_SERVER_TCP_IDLE_MS * NS_PER_MS);
	conn_process(c);
}

static void on_idle(void *ctx)
{
	struct conn *c = ctx;

	if (c->pending || c->out) {
		loop_timer_set(c->srv->loop, c->idle,
			       loop_now() + DNS_SERVER_TCP_IDLE_MS * NS_PER_MS);
		return;
	}
	conn_close(c);
}

/* l: the listener it came to, NULL for one adopted. */
static int conn_open(struct dns_server *srv, struct listener *l, int fd,
		     const union sockaddr_inet *peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	*c = (struct conn){ .srv = srv, .l = l, .fd = fd, .peer = *peer, .next = srv->conns };
	c->src = loop_add_fd(srv->loop, fd, EPOLLIN, on_conn, c);
	c->idle =
	    loop_timer_add(srv->loop, loop_now() + DNS_SERVER_TCP_IDLE_MS * NS_PER_MS, on_idle, c);
	if (!c->src || !c->idle) {
		if (c->src)
			loop_del_fd(srv->loop, c->src);
		if (c->idle)
			loop_timer_del(srv->loop, c->idle);
		close(fd);
		free(c);
		return -ENOMEM;
	}
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	return 0;
}

int dns_server_tcp_adopt(struct dns_server *srv, int fd, const union sockaddr_inet *peer)
{
	if (srv->n_conns >= DNS_SERVER_TCP_MAX) {
		srv->stats.tcp_refused++;
		close(fd);
		return -EBUSY;
	}
	return conn_open(srv, NULL, fd, peer);
}

static void on_accept(void *ctx, uint32_t events)
{
	struct listener *l = ctx;
	struct dns_server *srv = l->srv;

	(void)events;
	for (int i = 0; i < 16; i++) {
		union sockaddr_inet peer = { 0 };
		socklen_t plen = sizeof(peer);
		int fd = accept4(l->tcp_fd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (srv->n_conns >= DNS_SERVER_TCP_MAX) {
			srv->stats.tcp_refused++;
			close(fd);
			continue;
		}
		(void)conn_open(srv, l, fd, &peer);
	}
}

/* ---- UDP ---- */

static void on_udp(void *ctx, uint32_t events)
{
	struct listener *l = ctx;
	struct dns_server *srv = l->srv;
	uint8_t query[DNS_ANSWER_TCP_MAX];

	(void)events;
	for (int i = 0; i < 64; i++) {
		union sockaddr_inet peer = { 0 };
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(l->udp_fd, query, sizeof(query), 0, &peer.sa, &plen);
		if (n < 0)
			return;
		if (peer.sa.sa_family != AF_INET && peer.sa.sa_family != AF_INET6)
			continue;
		handle_query(srv, l, NULL, &peer, query, (size_t)n);
	}
}

/* ---- listeners ---- */

static int sock_open(const union sockaddr_inet *a, int type)
{
	int one = 1, fd = socket(a->sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (a->sa.sa_family == AF_INET6)
		ret = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))
			  ?: setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	else
		ret = setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	/* Both: a resolver of the host's bound to the wildcard address with
	 * SO_REUSEADDR (dnsmasq) leaves these more specific ones to us. */
	if (ret == 0)
		ret = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ret == 0)
		ret = bind(fd, &a->sa, sockaddr_len(a));
	if (ret == 0 && type == SOCK_STREAM)
		ret = listen(fd, DNS_SERVER_TCP_MAX);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static void listener_close(struct dns_server *srv, struct listener *l)
{
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (c->l == l)
			conn_close(c);
	}
	for (struct pending *p = srv->pendings, *next; p; p = next) {
		next = p->next;
		if (p->l == l)
			pending_cancel(p);
	}
	if (l->udp_src)
		loop_del_fd(srv->loop, l->udp_src);
	if (l->tcp_src)
		loop_del_fd(srv->loop, l->tcp_src);
	if (l->udp_fd >= 0)
		close(l->udp_fd);
	if (l->tcp_fd >= 0)
		close(l->tcp_fd);
	free(l);
}

static int listener_open(struct dns_server *srv, const union sockaddr_inet *a,
			 struct listener **out)
{
	struct listener *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	*l = (struct listener){ .srv = srv, .addr = *a, .udp_fd = -1, .tcp_fd = -1 };
	ret = l->udp_fd = sock_open(a, SOCK_DGRAM);
	if (ret >= 0)
		ret = l->tcp_fd = sock_open(a, SOCK_STREAM);
	if (ret >= 0) {
		l->udp_src = loop_add_fd(srv->loop, l->udp_fd, EPOLLIN, on_udp, l);
		l->tcp_src = loop_add_fd(srv->loop, l->tcp_fd, EPOLLIN, on_accept, l);
		ret = l->udp_src && l->tcp_src ? 0 : -ENOMEM;
	}
	if (ret < 0) {
		if (l->udp_fd < 0)
			l->udp_fd = -1;
		if (l->tcp_fd < 0)
			l->tcp_fd = -1;
		listener_close(srv, l);
		return ret;
	}
	*out = l;
	return 0;
}

static bool addr_in(const union sockaddr_inet *a, const union sockaddr_inet *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sockaddr_equal(a, &v[i]))
			return true;
	return false;
}

int dns_server_listen(struct dns_server *srv, const union sockaddr_inet *addrs, size_t n,
		      char *errbuf, size_t errlen)
{
	int ret = 0;

	if (n > DNS_SERVER_LISTEN_MAX)
		n = DNS_SERVER_LISTEN_MAX;
	for (size_t i = 0; i < DNS_SERVER_LISTEN_MAX; i++)
		if (srv->ls[i] && !addr_in(&srv->ls[i]->addr, addrs, n)) {
			listener_close(srv, srv->ls[i]);
			srv->ls[i] = NULL;
		}
	for (size_t i = 0; i < n; i++) {
		union sockaddr_inet have[DNS_SERVER_LISTEN_MAX];
		size_t slot = 0, k = dns_server_listening(srv, have, DNS_SERVER_LISTEN_MAX);
		char text[SOCKADDR_STR_LEN];
		int err;

		if (addr_in(&addrs[i], have, k))
			continue;
		while (srv->ls[slot])
			slot++;
		err = listener_open(srv, &addrs[i], &srv->ls[slot]);
		if (err < 0) {
			sockaddr_format(&addrs[i], text, sizeof(text));
			snprintf(errbuf, errlen, "DNS on %s: %s", text, strerror(-err));
			ret = err;
		}
	}
	return ret;
}

size_t dns_server_listening(const struct dns_server *srv, union sockaddr_inet *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < DNS_SERVER_LISTEN_MAX && n < max; i++)
		if (srv->ls[i])
			out[n++] = srv->ls[i]->addr;
	return n;
}

/* ---- the server ---- */

int dns_server_new(struct loop *loop, const struct dns_server_ops *ops, struct dns_server **out)
{
	struct dns_server *srv = calloc(1, sizeof(*srv));

	*out = NULL;
	if (!srv)
		return -ENOMEM;
	srv->buckets = calloc(DNS_SERVER_RL_SLOTS, sizeof(*srv->buckets));
	if (!srv->buckets) {
		free(srv);
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->rate = DNS_SERVER_RATE;
	srv->burst = DNS_SERVER_BURST;
	if (ops && ops->forward) {
		srv->ops = *ops;
		srv->have_ops = true;
	}
	*out = srv;
	return 0;
}

void dns_server_free(struct dns_server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < DNS_SERVER_LISTEN_MAX; i++)
		if (srv->ls[i])
			listener_close(srv, srv->ls[i]);
	while (srv->pendings)
		pending_cancel(srv->pendings);
	dns_zone_free(srv->zone);
	free(srv->buckets);
	free(srv);
}

void dns_server_set_zone(struct dns_server *srv, struct dns_zone *zone)
{
	dns_zone_free(srv->zone);
	srv->zone = zone;
}

const struct dns_zone *dns_server_zone(const struct dns_server *srv)
{
	return srv->zone;
}

void dns_server_set_rate(struct dns_server *srv, uint32_t rate, uint32_t burst)
{
	srv->rate = rate;
	srv->burst = burst ? burst : 1;
	memset(srv->buckets, 0, DNS_SERVER_RL_SLOTS * sizeof(*srv->buckets));
}

const struct dns_server_stats *dns_server_stats(const struct dns_server *srv)
{
	return &srv->stats;
}

size_t dns_server_tcp_count(const struct dns_server *srv)
{
	return srv->n_conns;
}
