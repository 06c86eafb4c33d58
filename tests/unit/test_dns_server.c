/* The resolver's sockets (daemon/dns/dnsserver.c) on loopback in a private
 * network namespace: the server runs on the loop in the main thread, each
 * scenario's client in a thread of its own with blocking sockets and
 * receive timeouts (bounded, never timed assertions). */
#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/dnsserver.h"
#include "testlib.h"

#define PORT 5353

static struct loop *loop;
static struct dns_server *srv;
static atomic_bool client_done;

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

static struct dns_zone *zone_new(const char *sw_addr)
{
	static struct prefix home[2], sw[1], mesh[2];
	struct dns_zone_name names[2];
	struct dns_zone_spec spec = { .mesh = mesh, .n_mesh = 2, .serial = 1 };
	struct dns_zone *z;

	home[0] = pfx("100.64.0.1");
	home[1] = pfx("fd7a:6d67:7465::1");
	sw[0] = pfx(sw_addr);
	mesh[0] = pfx("100.64.0.0/10");
	mesh[1] = pfx("fd7a:6d67:7465::/48");
	names[0] = (struct dns_zone_name){ "home", home, 2, true, 0 };
	names[1] = (struct dns_zone_name){ "switch", sw, 1, false, 0 };
	if (dns_zone_build(&spec, names, 2, &z, NULL) < 0)
		abort();
	return z;
}

static union sockaddr_inet sa(const char *text)
{
	union sockaddr_inet a;

	if (sockaddr_parse(&a, text) < 0)
		abort();
	return a;
}

/* ---- the client side ---- */

static size_t query_wire(const char *name, ldns_rr_type type, uint16_t id, uint8_t *out)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	if (ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_set_id(q, id);
	if (ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK)
		abort();
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(q);
	return len;
}

static int client_socket(int type, const char *from)
{
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, type, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (from) {
		union sockaddr_inet a = sa(from);
		if (bind(fd, &a.sa, sockaddr_len(&a)) < 0)
			abort();
	}
	return fd;
}

/* The reply's rcode and answer count; rcode -1: no reply. */
struct answer {
	int rcode;
	size_t ancount;
	uint16_t id;
	bool tc;
};

static struct answer parse(const uint8_t *buf, ssize_t n)
{
	struct answer a = { .rcode = -1 };
	ldns_pkt *p = NULL;

	if (n > 0 && ldns_wire2pkt(&p, buf, (size_t)n) == LDNS_STATUS_OK) {
		a = (struct answer){ .rcode = ldns_pkt_get_rcode(p),
				     .ancount = ldns_pkt_ancount(p),
				     .id = ldns_pkt_id(p),
				     .tc = ldns_pkt_tc(p) };
	}
	ldns_pkt_free(p);
	return a;
}

static struct answer udp_ask(const char *to, const char *name, ldns_rr_type type)
{
	uint8_t buf[4096];
	union sockaddr_inet dst = sa(to);
	int fd = client_socket(SOCK_DGRAM, NULL);
	size_t len = query_wire(name, type, 77, buf);
	ssize_t n = -1;

	if (sendto(fd, buf, len, 0, &dst.sa, sockaddr_len(&dst)) == (ssize_t)len)
		n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return parse(buf, n);
}

static int tcp_connect(const char *to)
{
	union sockaddr_inet dst = sa(to);
	int fd = client_socket(SOCK_STREAM, NULL);

	if (connect(fd, &dst.sa, sockaddr_len(&dst)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static struct answer tcp_read(int fd)
{
	uint8_t buf[65536];
	size_t len;

	if (!read_full(fd, buf, 2))
		return (struct answer){ .rcode = -1 };
	len = (size_t)buf[0] << 8 | buf[1];
	if (!read_full(fd, buf, len))
		return (struct answer){ .rcode = -1 };
	return parse(buf, (ssize_t)len);
}

/* A framed query in out; its length. */
static size_t framed(const char *name, ldns_rr_type type, uint16_t id, uint8_t *out)
{
	size_t len = query_wire(name, type, id, out + 2);

	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	return len + 2;
}

/* Whether the server closed fd (EOF before the timeout). */
static bool closed_by_peer(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, 0) == 0;
}

/* ---- running a scenario ---- */

static void on_poll(void *ctx)
{
	struct loop_timer **t = ctx;

	if (atomic_load(&client_done))
		loop_stop(loop);
	else
		loop_timer_set(loop, *t, loop_now() + 5000000);
}

static void run(void *(*client)(void *))
{
	pthread_t th;
	struct loop_timer *t;

	atomic_store(&client_done, false);
	t = loop_timer_add(loop, loop_now(), on_poll, &t);
	if (pthread_create(&th, NULL, client, NULL) != 0)
		abort();
	CHECK(loop_run(loop) == 0);
	pthread_join(th, NULL);
	loop_timer_del(loop, t);
}

/* ---- UDP ---- */

static struct answer udp_results[8];

static void *udp_client(void *arg)
{
	(void)arg;
	udp_results[0] = udp_ask("127.0.0.1:5353", "home.mesh.internal.", LDNS_RR_TYPE_A);
	udp_results[1] = udp_ask("127.0.0.1:5353", "HOME.mesh.internal.", LDNS_RR_TYPE_AAAA);
	udp_results[2] = udp_ask("127.0.0.1:5353", "nope.mesh.internal.", LDNS_RR_TYPE_A);
	udp_results[3] = udp_ask("127.0.0.1:5353", "example.com.", LDNS_RR_TYPE_A);
	udp_results[4] = udp_ask("127.0.0.1:5353", "1.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	/* Garbage: silence. */
	{
		union sockaddr_inet dst = sa("127.0.0.1:5353");
		int fd = client_socket(SOCK_DGRAM, NULL);
		uint8_t junk[3] = { 1, 2, 3 };
		struct timeval tv = { .tv_usec = 300000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sendto(fd, junk, sizeof(junk), 0, &dst.sa, sockaddr_len(&dst));
		udp_results[5].rcode = recv(fd, junk, sizeof(junk), 0) < 0 ? -1 : 0;
		close(fd);
	}
	atomic_store(&client_done, true);
	return NULL;
}

static void test_udp(void)
{
	struct dns_server_stats before = *dns_server_stats(srv);
	const struct dns_server_stats *st;

	run(udp_client);
	st = dns_server_stats(srv);
	CHECK_EQ_INT(udp_results[0].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(udp_results[0].ancount, 1);
	CHECK_EQ_INT(udp_results[0].id, 77);
	CHECK_EQ_INT(udp_results[1].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(udp_results[1].ancount, 1);
	CHECK_EQ_INT(udp_results[2].rcode, LDNS_RCODE_NXDOMAIN);
	/* No forwarder: REFUSED. */
	CHECK_EQ_INT(udp_results[3].rcode, LDNS_RCODE_REFUSED);
	CHECK_EQ_INT(udp_results[4].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(udp_results[4].ancount, 1);
	CHECK_EQ_INT(udp_results[5].rcode, -1);
	CHECK_EQ_INT(st->queries_udp - before.queries_udp, 6);
	CHECK_EQ_INT(st->rcode[LDNS_RCODE_NOERROR] - before.rcode[LDNS_RCODE_NOERROR], 3);
	CHECK_EQ_INT(st->rcode[LDNS_RCODE_NXDOMAIN] - before.rcode[LDNS_RCODE_NXDOMAIN], 1);
	CHECK_EQ_INT(st->rcode[LDNS_RCODE_REFUSED] - before.rcode[LDNS_RCODE_REFUSED], 1);
	CHECK_EQ_INT(st->dropped_malformed - before.dropped_malformed, 1);
	CHECK_EQ_INT(st->local - before.local, 4);
}

/* ---- a forwarder behind the seam ---- */

struct fake_fwd {
	dns_forward_done_fn done;
	void *ctx;
	uint8_t query[512];
	size_t len;
	struct loop_timer *timer;
	unsigned calls, cancels;
	bool fail; /* answer with no bytes: the server's SERVFAIL */
	bool busy; /* forward() returns -EBUSY: the server's SERVFAIL too */
};

static void fake_fire(void *arg)
{
	struct fake_fwd *f = arg;
	uint8_t reply[512];
	ldns_pkt *q = NULL, *r = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	if (!f->done)
		return;
	if (f->fail) {
		dns_forward_done_fn done = f->done;
		f->done = NULL;
		done(f->ctx, NULL, 0);
		return;
	}
	/* A NOERROR reply with one A record, as an upstream would give. */
	if (ldns_wire2pkt(&q, f->query, f->len) != LDNS_STATUS_OK)
		abort();
	r = ldns_pkt_clone(q);
	ldns_pkt_set_qr(r, true);
	ldns_rr *rr = NULL;
	ldns_rr_new_frm_str(&rr, "example.com. 60 IN A 192.0.2.1", 0, NULL, NULL);
	ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	ldns_pkt2wire(&wire, r, &len);
	memcpy(reply, wire, len);
	free(wire);
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	dns_forward_done_fn done = f->done;
	f->done = NULL;
	done(f->ctx, reply, len);
}

static int fake_forward(void *fwd, const uint8_t *query, size_t len, bool tcp,
			dns_forward_done_fn done, void *ctx)
{
	struct fake_fwd *f = fwd;

	(void)tcp;
	f->calls++;
	if (f->busy || f->done || len > sizeof(f->query))
		return -EBUSY;
	f->done = done;
	f->ctx = ctx;
	memcpy(f->query, query, len);
	f->len = len;
	loop_timer_set(loop, f->timer, loop_now() + 1000000);
	return 0;
}

static void fake_cancel(void *fwd, void *ctx)
{
	struct fake_fwd *f = fwd;

	if (f->ctx == ctx) {
		f->done = NULL;
		f->cancels++;
	}
}

static struct answer fwd_results[2];

static void *fwd_client(void *arg)
{
	(void)arg;
	fwd_results[0] = udp_ask("127.0.0.1:5353", "example.com.", LDNS_RR_TYPE_A);
	atomic_store(&client_done, true);
	return NULL;
}

static void *fwd_tcp_client(void *arg)
{
	uint8_t buf[600];
	int fd = tcp_connect("127.0.0.1:5353");
	size_t len = framed("example.com.", LDNS_RR_TYPE_A, 9, buf);

	(void)arg;
	if (fd >= 0 && send(fd, buf, len, 0) == (ssize_t)len)
		fwd_results[1] = tcp_read(fd);
	if (fd >= 0)
		close(fd);
	atomic_store(&client_done, true);
	return NULL;
}

static void test_forward(void)
{
	struct fake_fwd f = { 0 };
	struct dns_server_ops ops = { fake_forward, fake_cancel, &f };
	struct dns_server *fs;
	union sockaddr_inet a = sa("127.0.0.1:5353");
	char err[256];

	f.timer = loop_timer_add(loop, UINT64_MAX, fake_fire, &f);
	dns_server_free(srv);
	CHECK(dns_server_new(loop, &ops, &fs) == 0);
	dns_server_set_zone(fs, zone_new("192.168.77.2"));
	CHECK(dns_server_listen(fs, &a, 1, err, sizeof(err)) == 0);
	srv = fs;
	run(fwd_client);
	CHECK_EQ_INT(fwd_results[0].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(fwd_results[0].ancount, 1);
	CHECK_EQ_INT(dns_server_stats(fs)->forwarded, 1);
	/* A forwarder that fails: SERVFAIL over TCP. */
	f.fail = true;
	run(fwd_tcp_client);
	CHECK_EQ_INT(fwd_results[1].rcode, LDNS_RCODE_SERVFAIL);
	CHECK_EQ_INT(fwd_results[1].id, 9);
	CHECK_EQ_INT(f.calls, 2);
	/* A busy forwarder (-EBUSY): SERVFAIL, not REFUSED (no policy said no). */
	f.fail = false;
	f.busy = true;
	run(fwd_client);
	CHECK_EQ_INT(fwd_results[0].rcode, LDNS_RCODE_SERVFAIL);
	CHECK_EQ_INT(f.calls, 3);
	f.busy = false;
	/* A pending forward is cancelled when the server goes. */
	f.fail = false;
	f.done = NULL;
	dns_server_free(srv);
	CHECK(dns_server_new(loop, NULL, &srv) == 0);
	dns_server_set_zone(srv, zone_new("192.168.77.2"));
	CHECK(dns_server_listen(srv, &a, 1, err, sizeof(err)) == 0);
	loop_timer_del(loop, f.timer);
}

/* ---- a forwarder that answers from inside forward() (a cache hit) ---- */

static int sync_forward(void *fwd, const uint8_t *query, size_t len, bool tcp,
			dns_forward_done_fn done, void *ctx)
{
	uint8_t reply[512];

	(void)fwd;
	(void)tcp;
	if (len > sizeof(reply))
		return -EBUSY;
	memcpy(reply, query, len);
	reply[2] |= 0x80; /* QR: the query as its own answer */
	done(ctx, reply, len);
	return 0;
}

static int sync_fd = -1;
static struct answer sync_results[3];
static bool sync_closed;

/* A forwarded query, a local one and a zero length in one write: two
 * replies in order, then the server closes (it once went on with the
 * connection it had freed while answering from inside forward()). */
static void *sync_client(void *arg)
{
	uint8_t buf[1024];
	size_t len = framed("example.com.", LDNS_RR_TYPE_A, 21, buf);
	struct timeval tv = { .tv_sec = 2 };

	(void)arg;
	len += framed("home.mesh.internal.", LDNS_RR_TYPE_A, 22, buf + len);
	buf[len++] = 0;
	buf[len++] = 0;
	setsockopt(sync_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(sync_fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len) {
		sync_results[0] = tcp_read(sync_fd);
		sync_results[1] = tcp_read(sync_fd);
		sync_closed = closed_by_peer(sync_fd);
	}
	atomic_store(&client_done, true);
	return NULL;
}

static void test_forward_at_once(void)
{
	struct dns_server_ops ops = { sync_forward, NULL, NULL };
	union sockaddr_inet peer = sa("192.0.2.9:4000");
	struct dns_server *fs;
	int sv[2];

	if (!CHECK(dns_server_new(loop, &ops, &fs) == 0))
		return;
	dns_server_set_zone(fs, zone_new("192.168.77.2"));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	CHECK(dns_server_tcp_adopt(fs, sv[1], &peer) == 0);
	sync_fd = sv[0];
	run(sync_client);
	CHECK_EQ_INT(sync_results[0].id, 21);
	CHECK_EQ_INT(sync_results[0].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(sync_results[1].id, 22);
	CHECK_EQ_INT(sync_results[1].ancount, 1);
	CHECK(sync_closed);
	CHECK_EQ_INT(dns_server_stats(fs)->forwarded, 1);
	CHECK_EQ_INT(dns_server_tcp_count(fs), 0);
	close(sv[0]);
	dns_server_free(fs);
}

/* ---- TCP framing ---- */

static struct answer tcp_results[8];
static bool tcp_flags[8];

static void *tcp_client(void *arg)
{
	uint8_t buf[2048];
	size_t len;
	int fd;

	(void)arg;
	/* Byte by byte. */
	fd = tcp_connect("127.0.0.1:5353");
	len = framed("home.mesh.internal.", LDNS_RR_TYPE_A, 1, buf);
	for (size_t i = 0; fd >= 0 && i < len; i++) {
		send(fd, buf + i, 1, 0);
		usleep(2000);
	}
	tcp_results[0] = tcp_read(fd);
	/* Two queries in one write: two replies in order. */
	len = framed("home.mesh.internal.", LDNS_RR_TYPE_AAAA, 2, buf);
	len += framed("nope.mesh.internal.", LDNS_RR_TYPE_A, 3, buf + len);
	send(fd, buf, len, 0);
	tcp_results[1] = tcp_read(fd);
	tcp_results[2] = tcp_read(fd);
	close(fd);
	/* A length past the server's cap closes the connection. */
	fd = tcp_connect("127.0.0.1:5353");
	buf[0] = 0xff;
	buf[1] = 0xff;
	send(fd, buf, 2, 0);
	tcp_flags[0] = closed_by_peer(fd);
	close(fd);
	/* A zero length too. */
	fd = tcp_connect("127.0.0.1:5353");
	buf[0] = buf[1] = 0;
	send(fd, buf, 2, 0);
	tcp_flags[1] = closed_by_peer(fd);
	close(fd);
	atomic_store(&client_done, true);
	return NULL;
}

static void test_tcp(void)
{
	run(tcp_client);
	CHECK_EQ_INT(tcp_results[0].rcode, LDNS_RCODE_NOERROR);
	CHECK_EQ_INT(tcp_results[0].ancount, 1);
	CHECK_EQ_INT(tcp_results[0].id, 1);
	CHECK_EQ_INT(tcp_results[1].id, 2);
	CHECK_EQ_INT(tcp_results[1].ancount, 1);
	CHECK_EQ_INT(tcp_results[2].id, 3);
	CHECK_EQ_INT(tcp_results[2].rcode, LDNS_RCODE_NXDOMAIN);
	CHECK(tcp_flags[0]);
	CHECK(tcp_flags[1]);
}

/* ---- many connections ---- */

enum { MANY = DNS_SERVER_TCP_MAX + 8 };
static unsigned many_answered, many_closed;

static void *many_client(void *arg)
{
	int fds[MANY];
	uint8_t buf[600];

	(void)arg;
	many_answered = many_closed = 0;
	for (int i = 0; i < MANY; i++) {
		fds[i] = tcp_connect("127.0.0.1:5353");
		usleep(1000);
	}
	for (int i = 0; i < MANY; i++) {
		size_t len = framed("home.mesh.internal.", LDNS_RR_TYPE_A, (uint16_t)i, buf);
		struct answer a = { .rcode = -1 };
		if (fds[i] >= 0 && send(fds[i], buf, len, MSG_NOSIGNAL) == (ssize_t)len)
			a = tcp_read(fds[i]);
		if (a.rcode == LDNS_RCODE_NOERROR && a.id == i)
			many_answered++;
		else
			many_closed++;
	}
	for (int i = 0; i < MANY; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	atomic_store(&client_done, true);
	return NULL;
}

static void test_many_connections(void)
{
	uint64_t refused = dns_server_stats(srv)->tcp_refused;

	run(many_client);
	printf("  %u answered, %u closed of %d connections\n", many_answered, many_closed, MANY);
	CHECK_EQ_INT(many_answered, DNS_SERVER_TCP_MAX);
	CHECK_EQ_INT(many_closed, MANY - DNS_SERVER_TCP_MAX);
	CHECK_EQ_INT(dns_server_stats(srv)->tcp_refused - refused, MANY - DNS_SERVER_TCP_MAX);
}

/* ---- rate limit ---- */

static unsigned rl_got[2];

static void *rl_client(void *arg)
{
	union sockaddr_inet dst = sa("127.0.0.1:5353");
	uint8_t buf[600];

	(void)arg;
	for (int s = 0; s < 2; s++) {
		int fd = client_socket(SOCK_DGRAM, s ? "127.0.0.2:0" : "127.0.0.3:0");
		struct timeval tv = { .tv_usec = 500000 };
		size_t len = query_wire("home.mesh.internal.", LDNS_RR_TYPE_A, 5, buf);
		int n = s ? 3 : 40;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		for (int i = 0; i < n; i++)
			sendto(fd, buf, len, 0, &dst.sa, sockaddr_len(&dst));
		rl_got[s] = 0;
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			rl_got[s]++;
		close(fd);
	}
	atomic_store(&client_done, true);
	return NULL;
}

static void test_rate_limit(void)
{
	uint64_t dropped = dns_server_stats(srv)->dropped_ratelimit;

	/* One token a second, five in a burst: of 40 at once from one
	 * source, about five are answered; another source is not held. */
	dns_server_set_rate(srv, 1, 5);
	run(rl_client);
	printf("  %u of 40 answered from one source, %u of 3 from another\n", rl_got[0], rl_got[1]);
	CHECK(rl_got[0] >= 5 && rl_got[0] <= 10);
	CHECK_EQ_INT(rl_got[1], 3);
	CHECK(dns_server_stats(srv)->dropped_ratelimit - dropped >= 30);
	dns_server_set_rate(srv, DNS_SERVER_RATE, DNS_SERVER_BURST);
}

/* ---- zone and listen changes ---- */

static struct answer zone_result;

static void *zone_client(void *arg)
{
	(void)arg;
	zone_result = udp_ask("127.0.0.1:5353", "switch.mesh.internal.", LDNS_RR_TYPE_A);
	atomic_store(&client_done, true);
	return NULL;
}

static void test_listen_change(void)
{
	union sockaddr_inet a[2] = { sa("127.0.0.1:5353"), sa("[::1]:5353") }, got[4];
	char err[256];

	dns_server_set_zone(srv, zone_new("192.168.77.3"));
	run(zone_client);
	CHECK_EQ_INT(zone_result.ancount, 1);
	CHECK(dns_server_listen(srv, a, 2, err, sizeof(err)) == 0);
	CHECK_EQ_INT(dns_server_listening(srv, got, 4), 2);
	CHECK(dns_server_listen(srv, &a[1], 1, err, sizeof(err)) == 0);
	CHECK_EQ_INT(dns_server_listening(srv, got, 4), 1);
	CHECK(sockaddr_equal(&got[0], &a[1]));
	/* Not yet on the host: IP_FREEBIND binds it all the same. */
	a[0] = sa("100.100.100.100:5353");
	CHECK(dns_server_listen(srv, a, 2, err, sizeof(err)) == 0);
	CHECK_EQ_INT(dns_server_listening(srv, got, 4), 2);
	CHECK(dns_server_listen(srv, NULL, 0, err, sizeof(err)) == 0);
	CHECK_EQ_INT(dns_server_listening(srv, got, 4), 0);
}

int main(void)
{
	union sockaddr_inet a = sa("127.0.0.1:5353");
	char err[256];
	int ret = test_enter_private_netns();

	if (ret)
		return ret;
	if (system("ip link set lo up") != 0)
		return 77;
	loop = loop_new();
	if (!loop || dns_server_new(loop, NULL, &srv) < 0)
		return 1;
	dns_server_set_zone(srv, zone_new("192.168.77.2"));
	if (dns_server_listen(srv, &a, 1, err, sizeof(err)) < 0) {
		printf("%s\n", err);
		return 1;
	}
	RUN(test_udp);
	RUN(test_tcp);
	RUN(test_many_connections);
	RUN(test_rate_limit);
	RUN(test_forward);
	RUN(test_forward_at_once);
	RUN(test_listen_change);
	dns_server_free(srv);
	loop_free(loop);
	return test_summary();
}
