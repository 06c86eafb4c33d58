/*
 * The mesh resolver's forwarder; see forward.h. A fixed table of queries
 * in flight, each with its own socket (UDP per try, or TCP after TC) and
 * one timer: the end of the current try, never past the query's total.
 */
#include "dns/forward.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/answer.h"
#include "loop.h"

enum { NS_PER_MS = 1000000, TCP_PREFIX = 2 };

enum conn_state { CONN_NONE, CONN_UDP, CONN_TCP_WRITE, CONN_TCP_READ };

struct inflight {
	struct dns_forwarder *fwd;
	bool used;
	dns_forward_done_fn done;
	void *ctx;
	bool client_tcp;
	uint8_t *query, *sent; /* the client's query; as sent (our ID) */
	size_t qlen;
	struct dns_cache_key key;
	union sockaddr_inet servers[DNS_UPSTREAM_MAX];
	size_t n_servers;
	char ifname[IFNAMSIZ]; /* the split's: the only way out; "": any */
	size_t next;           /* round robin: the next try's server */
	size_t asked;          /* tries so far */
	size_t errors;         /* tries that failed: at n_servers, a SERVFAIL */
	size_t cur;            /* the server of this try */
	uint64_t deadline_ns;
	enum conn_state state;
	int fd;
	struct loop_source *src;
	struct loop_timer *timer;
	uint8_t *tcp_buf; /* prefix and query, then prefix and response */
	size_t tcp_len;   /* bytes in tcp_buf (to write, or read so far) */
	size_t tcp_done;  /* bytes written */
	size_t tcp_want;  /* bytes to read: the prefix, then prefix and response */
};

struct split {
	ldns_rdf *domain; /* canonical */
	union sockaddr_inet servers[DNS_UPSTREAM_MAX];
	size_t n_servers;
	char ifname[IFNAMSIZ];
};

struct dns_forwarder {
	struct loop *loop;
	struct dns_forwarder_config cfg;
	struct dns_cache *cache;
	union sockaddr_inet servers[DNS_UPSTREAM_MAX];
	size_t n_servers;
	struct split *splits;
	size_t n_splits;
	struct inflight *slots;
	size_t n_inflight;
	struct dns_forward_stats stats;
	uint8_t buf[DNS_ANSWER_TCP_MAX]; /* one UDP datagram */
};

static void try_next(struct inflight *q);

/* A split domain's sockets leave only by its interface. */
static int bind_device(const struct inflight *q)
{
	if (!q->ifname[0])
		return 0;
	return setsockopt(q->fd, SOL_SOCKET, SO_BINDTODEVICE, q->ifname,
			  (socklen_t)strlen(q->ifname));
}

/* ---- connections and slots ---- */

static void conn_close(struct inflight *q)
{
	struct loop *loop = q->fwd->loop;

	if (q->src)
		loop_del_fd(loop, q->src);
	if (q->fd >= 0)
		close(q->fd);
	free(q->tcp_buf);
	q->src = NULL;
	q->fd = -1;
	q->tcp_buf = NULL;
	q->state = CONN_NONE;
}

static void slot_release(struct inflight *q)
{
	struct dns_forwarder *fwd = q->fwd;

	conn_close(q);
	if (q->timer)
		loop_timer_del(fwd->loop, q->timer);
	free(q->query);
	free(q->sent);
	memset(q, 0, sizeof(*q));
	q->fwd = fwd;
	q->fd = -1;
	fwd->n_inflight--;
}

static void count_rcode(struct dns_forwarder *fwd, const uint8_t *reply, size_t len)
{
	if (reply)
		fwd->stats.rcodes[dns_upstream_rcode(reply, len)]++;
}

/*
 * Gives the client its response: from reply (the upstream's, matched, put
 * in the cache), or a SERVFAIL when reply is NULL or cannot be relayed.
 * The slot is free before done runs, so done may query again.
 */
static void finish(struct inflight *q, const uint8_t *reply, size_t len)
{
	struct dns_forwarder *fwd = q->fwd;
	dns_forward_done_fn done = q->done;
	void *ctx = q->ctx;
	uint8_t *out = malloc(DNS_ANSWER_TCP_MAX);
	size_t out_len = 0;
	bool ok = false;

	if (reply)
		(void)dns_cache_put(fwd->cache, &q->key, reply, len, loop_now());
	if (out && reply)
		ok = dns_upstream_client_reply(q->query, q->qlen, q->client_tcp, reply, len, 0, out,
					       DNS_ANSWER_TCP_MAX, &out_len) == 0;
	if (out && !ok) {
		ok = dns_upstream_servfail(q->query, q->qlen, out, DNS_ANSWER_TCP_MAX, &out_len) ==
		     0;
		fwd->stats.servfail_built += !reply;
	}
	slot_release(q);
	count_rcode(fwd, ok ? out : NULL, out_len);
	done(ctx, ok ? out : NULL, ok ? out_len : 0);
	free(out);
}

/* A matching answer; SERVFAIL and REFUSED move on while a server of the
 * list has not been asked. */
static void on_answer(struct inflight *q, const uint8_t *reply, size_t len)
{
	unsigned rcode = dns_upstream_rcode(reply, len);

	if ((rcode == LDNS_RCODE_SERVFAIL || rcode == LDNS_RCODE_REFUSED) &&
	    q->asked < q->n_servers) {
		q->fwd->stats.upstream_errors++;
		try_next(q);
		return;
	}
	finish(q, reply, len);
}

static void arm_try(struct inflight *q)
{
	uint64_t end = loop_now() + (uint64_t)q->fwd->cfg.try_ms * NS_PER_MS;

	loop_timer_set(q->fwd->loop, q->timer, end < q->deadline_ns ? end : q->deadline_ns);
}

/* ---- TCP after TC ---- */

/* A try that failed (socket error, broken TCP answer): the next server,
 * unless as many tries failed as the list has servers. */
static void try_failed(struct inflight *q)
{
	q->fwd->stats.upstream_errors++;
	if (++q->errors >= q->n_servers)
		finish(q, NULL, 0);
	else
		try_next(q);
}

static void tcp_write(struct inflight *q)
{
	ssize_t n = send(q->fd, q->tcp_buf + q->tcp_done, q->tcp_len - q->tcp_done, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINPROGRESS))
		return;
	if (n <= 0) {
		try_failed(q);
		return;
	}
	q->tcp_done += (size_t)n;
	if (q->tcp_done < q->tcp_len)
		return;
	q->state = CONN_TCP_READ;
	q->tcp_len = 0;
	q->tcp_want = TCP_PREFIX;
	if (loop_mod_fd(q->fwd->loop, q->src, EPOLLIN) < 0)
		try_failed(q);
}

/* Reads the length prefix, then at most that many bytes. */
static void tcp_read(struct inflight *q)
{
	ssize_t n = recv(q->fd, q->tcp_buf + q->tcp_len, q->tcp_want - q->tcp_len, 0);
	const uint8_t *reply = q->tcp_buf + TCP_PREFIX;
	size_t len;

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		try_failed(q);
		return;
	}
	q->tcp_len += (size_t)n;
	if (q->tcp_len == TCP_PREFIX && q->tcp_want == TCP_PREFIX) {
		len = ldns_read_uint16(q->tcp_buf);
		if (len < LDNS_HEADER_SIZE) {
			try_failed(q);
			return;
		}
		q->tcp_want = TCP_PREFIX + len;
	}
	if (q->tcp_len < q->tcp_want || q->tcp_want == TCP_PREFIX)
		return;
	len = q->tcp_len - TCP_PREFIX;
	if (dns_upstream_match(q->sent, q->qlen, reply, len) == DNS_UPSTREAM_MISMATCH) {
		q->fwd->stats.mismatched++;
		try_failed(q);
		return;
	}
	on_answer(q, reply, len);
}

static void on_tcp(void *ctx, uint32_t events)
{
	struct inflight *q = ctx;

	if (q->state == CONN_TCP_WRITE)
		tcp_write(q);
	else
		tcp_read(q);
}

/* Asks the server of this try again over TCP, the same ID and query. */
static void tcp_start(struct inflight *q)
{
	const union sockaddr_inet *server = &q->servers[q->cur];

	q->fwd->stats.tcp_fallbacks++;
	conn_close(q);
	q->tcp_buf = malloc(TCP_PREFIX + DNS_ANSWER_TCP_MAX);
	q->fd = socket(server->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!q->tcp_buf || q->fd < 0 || bind_device(q) < 0 ||
	    (connect(q->fd, &server->sa, sockaddr_len(server)) < 0 && errno != EINPROGRESS))
		goto fail;
	ldns_write_uint16(q->tcp_buf, (uint16_t)q->qlen);
	memcpy(q->tcp_buf + TCP_PREFIX, q->sent, q->qlen);
	q->tcp_len = TCP_PREFIX + q->qlen;
	q->tcp_done = 0;
	q->state = CONN_TCP_WRITE;
	q->src = loop_add_fd(q->fwd->loop, q->fd, EPOLLOUT, on_tcp, q);
	if (!q->src)
		goto fail;
	arm_try(q);
	return;
fail:
	try_failed(q);
}

/* ---- UDP tries ---- */

static void on_udp(void *ctx, uint32_t events)
{
	struct inflight *q = ctx;
	struct dns_forwarder *fwd = q->fwd;

	for (;;) {
		ssize_t n = recv(q->fd, fwd->buf, sizeof(fwd->buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) { /* ICMP unreachable and the like */
			try_failed(q);
			return;
		}
		switch (dns_upstream_match(q->sent, q->qlen, fwd->buf, (size_t)n)) {
		case DNS_UPSTREAM_MISMATCH:
			fwd->stats.mismatched++;
			continue;
		case DNS_UPSTREAM_TRUNCATED:
			tcp_start(q);
			return;
		case DNS_UPSTREAM_MATCH:
			on_answer(q, fwd->buf, (size_t)n);
			return;
		}
	}
}

static uint16_t random_id(void)
{
	uint16_t id = 0;

	while (getrandom(&id, sizeof(id), 0) != sizeof(id) && errno == EINTR)
		;
	return id;
}

/* A fresh socket connected to the next server, a new ID, the query. */
static int try_udp(struct inflight *q)
{
	const union sockaddr_inet *server;

	conn_close(q);
	q->cur = q->next++ % q->n_servers;
	q->asked++;
	server = &q->servers[q->cur];
	ldns_write_uint16(q->sent, random_id());
	q->fd = socket(server->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || bind_device(q) < 0 ||
	    connect(q->fd, &server->sa, sockaddr_len(server)) < 0 ||
	    send(q->fd, q->sent, q->qlen, 0) != (ssize_t)q->qlen)
		return -errno;
	q->state = CONN_UDP;
	q->src = loop_add_fd(q->fwd->loop, q->fd, EPOLLIN, on_udp, q);
	if (!q->src)
		return -ENOMEM;
	q->fwd->stats.forwarded++;
	arm_try(q);
	return 0;
}

/* The next try, or the SERVFAIL when the time is up or as many tries
 * failed as the list has servers. */
static void try_next(struct inflight *q)
{
	while (q->errors < q->n_servers && loop_now() < q->deadline_ns) {
		if (try_udp(q) == 0)
			return;
		q->fwd->stats.upstream_errors++;
		q->errors++;
	}
	finish(q, NULL, 0);
}

static void on_timer(void *ctx)
{
	struct inflight *q = ctx;

	q->fwd->stats.timeouts++;
	try_next(q);
}

/* ---- the forwarder ---- */

struct dns_forwarder *dns_forwarder_new(struct loop *loop, const struct dns_forwarder_config *cfg)
{
	struct dns_forwarder *fwd = calloc(1, sizeof(*fwd));

	if (!fwd)
		return NULL;
	fwd->loop = loop;
	fwd->cfg = *cfg;
	fwd->cfg.try_ms = cfg->try_ms ? cfg->try_ms : DNS_FORWARD_TRY_MS;
	fwd->cfg.total_ms = cfg->total_ms ? cfg->total_ms : DNS_FORWARD_TOTAL_MS;
	fwd->cfg.inflight_max =
	    cfg->inflight_max ? cfg->inflight_max : DNS_FORWARD_INFLIGHT_DEFAULT;
	fwd->cache = dns_cache_new(cfg->cache_entries, cfg->cache_bytes);
	fwd->slots = calloc(fwd->cfg.inflight_max, sizeof(*fwd->slots));
	if (!fwd->cache || !fwd->slots) {
		dns_cache_free(fwd->cache);
		free(fwd->slots);
		free(fwd);
		return NULL;
	}
	for (size_t i = 0; i < fwd->cfg.inflight_max; i++) {
		fwd->slots[i].fwd = fwd;
		fwd->slots[i].fd = -1;
	}
	return fwd;
}

static void splits_free(struct split *splits, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ldns_rdf_deep_free(splits[i].domain);
	free(splits);
}

void dns_forwarder_free(struct dns_forwarder *fwd)
{
	if (!fwd)
		return;
	for (size_t i = 0; i < fwd->cfg.inflight_max; i++)
		if (fwd->slots[i].used)
			slot_release(&fwd->slots[i]);
	splits_free(fwd->splits, fwd->n_splits);
	dns_cache_free(fwd->cache);
	free(fwd->slots);
	free(fwd);
}

static int split_copy(struct split *to, const struct dns_split *from)
{
	if (!dns_domain_valid(from->domain) || from->n_servers > DNS_UPSTREAM_MAX)
		return -EINVAL;
	to->domain = ldns_dname_new_frm_str(from->domain);
	if (!to->domain)
		return -EINVAL;
	ldns_dname2canonical(to->domain);
	memcpy(to->servers, from->servers, sizeof(to->servers));
	to->n_servers = from->n_servers;
	memcpy(to->ifname, from->ifname, sizeof(to->ifname));
	to->ifname[IFNAMSIZ - 1] = '\0';
	return 0;
}

int dns_forwarder_set_upstreams(struct dns_forwarder *fwd, const struct dns_upstreams *up)
{
	struct split *splits = NULL;
	int ret = -EINVAL;

	if (up->n_servers > DNS_UPSTREAM_MAX || up->n_splits > DNS_FORWARD_SPLITS_MAX)
		return -EINVAL;
	if (up->n_splits && !(splits = calloc(up->n_splits, sizeof(*splits))))
		return -ENOMEM;
	for (size_t i = 0; i < up->n_splits; i++)
		if ((ret = split_copy(&splits[i], &up->splits[i])) < 0)
			goto fail;
	splits_free(fwd->splits, fwd->n_splits);
	fwd->splits = splits;
	fwd->n_splits = up->n_splits;
	memcpy(fwd->servers, up->servers, sizeof(fwd->servers));
	fwd->n_servers = up->n_servers;
	dns_cache_flush(fwd->cache);
	return 0;
fail:
	splits_free(splits, up->n_splits);
	return ret;
}

/* The servers for qname: the longest split domain holding it, else the
 * default list. */
static void servers_for(struct dns_forwarder *fwd, const ldns_rdf *qname, struct inflight *q)
{
	const struct split *best = NULL;

	for (size_t i = 0; i < fwd->n_splits; i++) {
		const struct split *s = &fwd->splits[i];

		if ((ldns_dname_compare(qname, s->domain) == 0 ||
		     ldns_dname_is_subdomain(qname, s->domain)) &&
		    (!best ||
		     ldns_dname_label_count(s->domain) > ldns_dname_label_count(best->domain)))
			best = s;
	}
	memcpy(q->servers, best ? best->servers : fwd->servers, sizeof(q->servers));
	q->n_servers = best ? best->n_servers : fwd->n_servers;
	memcpy(q->ifname, best ? best->ifname : "", best ? sizeof(q->ifname) : 1);
	if (best && best->n_servers)
		fwd->stats.split_forwarded++;
	else if (best)
		fwd->stats.split_refused++;
}

/* Whether query is one QUERY with one question; its name in lower case
 * (free it). */
static ldns_rdf *query_name(const uint8_t *query, size_t len)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *name = NULL;

	if (len >= LDNS_HEADER_SIZE && len <= DNS_ANSWER_TCP_MAX &&
	    ldns_wire2pkt(&pkt, query, len) == LDNS_STATUS_OK && !ldns_pkt_qr(pkt) &&
	    ldns_pkt_get_opcode(pkt) == LDNS_PACKET_QUERY && ldns_pkt_qdcount(pkt) == 1)
		name = ldns_rdf_clone(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
	if (name)
		ldns_dname2canonical(name);
	ldns_pkt_free(pkt);
	return name;
}

/* Answers from the cache; false on a miss. */
static bool answer_cached(struct dns_forwarder *fwd, const struct dns_cache_key *key,
			  const uint8_t *query, size_t len, bool tcp, dns_forward_done_fn done,
			  void *ctx)
{
	uint32_t age;
	size_t hit_len, out_len;
	const uint8_t *hit = dns_cache_get(fwd->cache, key, loop_now(), &hit_len, &age);
	uint8_t *out = hit ? malloc(DNS_ANSWER_TCP_MAX) : NULL;
	bool ok = out && dns_upstream_client_reply(query, len, tcp, hit, hit_len, age, out,
						   DNS_ANSWER_TCP_MAX, &out_len) == 0;

	if (ok) {
		count_rcode(fwd, out, out_len);
		done(ctx, out, out_len);
	}
	free(out);
	return ok;
}

static struct inflight *slot_take(struct dns_forwarder *fwd)
{
	for (size_t i = 0; i < fwd->cfg.inflight_max; i++) {
		if (!fwd->slots[i].used) {
			fwd->slots[i].used = true;
			fwd->n_inflight++;
			return &fwd->slots[i];
		}
	}
	return NULL;
}

static int slot_fill(struct inflight *q, const struct dns_cache_key *key, const uint8_t *query,
		     size_t len, bool tcp)
{
	q->key = *key;
	q->client_tcp = tcp;
	q->qlen = len;
	q->query = malloc(len);
	q->sent = malloc(len);
	q->timer = loop_timer_add(q->fwd->loop, UINT64_MAX, on_timer, q);
	if (!q->query || !q->sent || !q->timer)
		return -ENOMEM;
	memcpy(q->query, query, len);
	memcpy(q->sent, query, len);
	q->deadline_ns = loop_now() + (uint64_t)q->fwd->cfg.total_ms * NS_PER_MS;
	return 0;
}

int dns_forwarder_query(struct dns_forwarder *fwd, const uint8_t *query, size_t len, bool tcp,
			dns_forward_done_fn done, void *ctx)
{
	ldns_rdf *qname = query_name(query, len);
	struct dns_cache_key key;
	struct inflight *q;
	int ret = -EINVAL;

	if (!qname || dns_cache_key_of(query, len, &key) < 0)
		goto out;
	fwd->stats.queries++;
	ret = 0;
	if (answer_cached(fwd, &key, query, len, tcp, done, ctx))
		goto out;
	ret = -EBUSY;
	q = slot_take(fwd);
	if (!q) {
		fwd->stats.busy++;
		goto out;
	}
	ret = slot_fill(q, &key, query, len, tcp);
	if (ret < 0) {
		slot_release(q);
		goto out;
	}
	q->done = done;
	q->ctx = ctx;
	servers_for(fwd, qname, q);
	try_next(q);
out:
	ldns_rdf_deep_free(qname);
	return ret;
}

void dns_forwarder_cancel(struct dns_forwarder *fwd, void *ctx)
{
	for (size_t i = 0; i < fwd->cfg.inflight_max; i++)
		if (fwd->slots[i].used && fwd->slots[i].ctx == ctx)
			slot_release(&fwd->slots[i]);
}

size_t dns_forwarder_inflight(const struct dns_forwarder *fwd)
{
	return fwd->n_inflight;
}

void dns_forwarder_get_stats(const struct dns_forwarder *fwd, struct dns_forward_stats *stats)
{
	*stats = fwd->stats;
	dns_cache_get_stats(fwd->cache, &stats->cache);
}
