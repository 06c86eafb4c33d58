/*
 * Fuzz harness for the mesh resolver's DNS-over-TCP framing
 * (daemon/dns/dnsserver.c): a server on its loop serves one end of a
 * socketpair (dns_server_tcp_adopt()); the harness writes the input's
 * byte stream into the other end in the input's chunks, runs the loop
 * between writes and reads what comes back.
 *
 * Input: byte 0 is the mode: bits 0-1 the forwarder behind the seam (0
 * answers from inside forward(), as a cache hit does; 1 answers on the
 * next loop round; 2 never answers; 3 none: REFUSED), bit 2 a half-close
 * (shutdown(SHUT_WR)) after the last chunk. Then chunks, each a length
 * byte (1 + byte % 64) and that many bytes of the stream.
 *
 * Invariants beyond memory safety, against a naive reading of the whole
 * stream (2-byte lengths, each message through dns_answer_local()):
 * however it is split, the replies are length-framed, parse, and carry
 * the IDs of the messages answered, in order: every whole message up to
 * the first that is dropped (a zero or oversize length, or a message
 * dns_answer_local() drops), which closes the connection, or up to the
 * first forwarded one that never gets an answer. When the client closes,
 * the server holds no connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/answer.h"
#include "dns/dnsserver.h"
#include "dns_testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MODE_SYNC, MODE_DEFERRED, MODE_NEVER, MODE_NONE, STEPS_MAX = 200 };

struct fake_fwd {
	unsigned mode;
	dns_forward_done_fn done; /* MODE_DEFERRED, MODE_NEVER: the one waiting */
	void *ctx;
	uint8_t reply[DNS_SERVER_TCP_QUERY_MAX];
	size_t len;
};

static struct loop *loop;
static struct loop_timer *tick;
static struct dns_server *servers[4];
static struct fake_fwd fakes[4];
static struct dns_zone *zone;
static uint32_t peer_counter;

/* The query with QR set: what an upstream would answer, for the IDs. */
static int fake_forward(void *fwd, const uint8_t *query, size_t len, bool tcp,
			dns_forward_done_fn done, void *ctx)
{
	struct fake_fwd *f = fwd;

	(void)tcp;
	if (f->done || len > sizeof(f->reply))
		return -EBUSY;
	memcpy(f->reply, query, len);
	f->reply[2] |= 0x80;
	f->len = len;
	if (f->mode == MODE_SYNC) {
		done(ctx, f->reply, len);
		return 0;
	}
	f->done = done;
	f->ctx = ctx;
	return 0;
}

static void fake_cancel(void *fwd, void *ctx)
{
	struct fake_fwd *f = fwd;

	if (f->ctx == ctx)
		f->done = NULL;
}

/* A round of the loop: MODE_DEFERRED's answer goes out on the tick. */
static void on_tick(void *ctx)
{
	struct fake_fwd *f = &fakes[MODE_DEFERRED];
	dns_forward_done_fn done = f->done;

	(void)ctx;
	if (done) {
		f->done = NULL;
		done(f->ctx, f->reply, f->len);
	}
}

static void on_idle(void *ctx)
{
	loop_stop(ctx);
}

static void step(void)
{
	loop_timer_set(loop, tick, loop_now());
	if (loop_run(loop) < 0)
		abort();
}

static void setup(void)
{
	static struct prefix home[2], mesh[2];
	struct dns_zone_spec spec = { .mesh = mesh, .n_mesh = 2, .serial = 1 };
	struct dns_zone_name names[] = { { "home", home, 2, true, 1 } };

	if (loop)
		return;
	home[0] = dns_test_prefix("100.64.0.1");
	home[1] = dns_test_prefix("fd7a:6d67:7465::1");
	mesh[0] = dns_test_prefix("100.64.0.0/10");
	mesh[1] = dns_test_prefix("fd7a:6d67:7465::/48");
	if (dns_zone_build(&spec, names, 1, &zone, NULL) < 0 || !(loop = loop_new()) ||
	    !(tick = loop_timer_add(loop, UINT64_MAX, on_tick, NULL)))
		abort();
	loop_set_idle(loop, on_idle, loop);
	for (unsigned m = 0; m < 4; m++) {
		struct dns_server_ops ops = { fake_forward, fake_cancel, &fakes[m] };
		struct dns_zone *z = NULL;

		fakes[m].mode = m;
		if (dns_server_new(loop, m == MODE_NONE ? NULL : &ops, &servers[m]) < 0 ||
		    dns_zone_build(&spec, names, 1, &z, NULL) < 0)
			abort();
		dns_server_set_zone(servers[m], z);
		/* No query is refused for its rate here. */
		dns_server_set_rate(servers[m], 1000000, 1000000);
	}
}

/* The naive reading: the IDs of the replies the stream gets, and whether
 * the server closes the connection after them. */
static size_t expected(const uint8_t *s, size_t n, unsigned mode, uint16_t *ids, bool *closes)
{
	static uint8_t out[DNS_ANSWER_TCP_MAX];
	size_t k = 0, pos = 0;

	*closes = false;
	while (pos + 2 <= n) {
		size_t len = (size_t)s[pos] << 8 | s[pos + 1];
		enum dns_answer_verdict v;

		if (!len || len > DNS_SERVER_TCP_QUERY_MAX) {
			*closes = true;
			break;
		}
		if (pos + 2 + len > n)
			break;
		v = dns_answer_local(zone, s + pos + 2, len, DNS_TCP, out, sizeof(out), NULL);
		if (v == DNS_ANSWER_DROP) {
			*closes = true;
			break;
		}
		if (v == DNS_ANSWER_FORWARD && mode == MODE_NEVER)
			break;
		ids[k++] = LDNS_ID_WIRE(s + pos + 2);
		pos += 2 + len;
	}
	return k;
}

/* Reads what the server sent; true when something came. *eof: closed. */
static bool drain(int fd, uint8_t **buf, size_t *len, size_t *cap, bool *eof)
{
	bool got = false;

	for (;;) {
		ssize_t r;

		if (*cap - *len < 4096) {
			uint8_t *grown = realloc(*buf, *cap * 2 + 4096);
			if (!grown)
				abort();
			*buf = grown;
			*cap = *cap * 2 + 4096;
		}
		r = recv(fd, *buf + *len, *cap - *len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return got;
		if (r <= 0) {
			*eof = true;
			return got;
		}
		*len += (size_t)r;
		got = true;
	}
}

/* Runs the loop until nothing moves (bounded). */
static void settle(int fd, uint8_t **buf, size_t *len, size_t *cap, bool *eof)
{
	for (int i = 0, quiet = 0; i < STEPS_MAX && quiet < 3; i++) {
		step();
		quiet = drain(fd, buf, len, cap, eof) || fakes[MODE_DEFERRED].done ? 0 : quiet + 1;
	}
}

/* The replies' IDs, in order; aborts on a frame that does not parse. */
static size_t replies(const uint8_t *buf, size_t len, uint16_t *ids, size_t max)
{
	size_t k = 0, pos = 0;

	while (pos + 2 <= len) {
		size_t n = (size_t)buf[pos] << 8 | buf[pos + 1];
		ldns_pkt *pkt = NULL;

		if (pos + 2 + n > len || k == max)
			abort();
		if (ldns_wire2pkt(&pkt, buf + pos + 2, n) != LDNS_STATUS_OK || !ldns_pkt_qr(pkt))
			abort();
		ids[k++] = ldns_pkt_id(pkt);
		ldns_pkt_free(pkt);
		pos += 2 + n;
	}
	if (pos != len)
		abort();
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *stream = malloc(size + 1), *back = NULL;
	uint16_t *want = malloc((size / 2 + 1) * sizeof(*want));
	uint16_t *got = malloc((size / 2 + 1) * sizeof(*got));
	size_t n = 0, back_len = 0, back_cap = 0, n_want, n_got;
	union sockaddr_inet peer = { .in = { .sin_family = AF_INET } };
	unsigned mode;
	bool closes, eof = false;
	int sv[2];

	setup();
	if (!stream || !want || !got || size < 1)
		goto out;
	mode = data[0] & 3;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	peer.in.sin_addr.s_addr = htonl(0x0a000000u | (++peer_counter & 0xffffff));
	if (dns_server_tcp_adopt(servers[mode], sv[1], &peer) < 0)
		abort();
	for (size_t i = 1; i < size;) {
		size_t chunk = 1 + data[i++] % 64;

		if (chunk > size - i)
			chunk = size - i;
		memcpy(stream + n, data + i, chunk);
		if (chunk && !eof && send(sv[0], data + i, chunk, MSG_NOSIGNAL) != (ssize_t)chunk &&
		    errno != EPIPE && errno != ECONNRESET)
			abort();
		n += chunk;
		i += chunk;
		settle(sv[0], &back, &back_len, &back_cap, &eof);
	}
	if (data[0] & 4)
		shutdown(sv[0], SHUT_WR);
	settle(sv[0], &back, &back_len, &back_cap, &eof);
	n_want = expected(stream, n, mode, want, &closes);
	n_got = replies(back, back_len, got, size / 2 + 1);
	if (n_got != n_want || (n_got && memcmp(got, want, n_got * sizeof(*got))))
		abort();
	/* A drop closes; a half-close is answered, then closed. */
	if ((closes || (data[0] & 4 && mode != MODE_NEVER)) && !eof)
		abort();
	if (eof && !closes && !(data[0] & 4))
		abort();
	close(sv[0]);
	settle(-1, &back, &back_len, &back_cap, &eof);
	if (dns_server_tcp_count(servers[mode]) != 0 || fakes[mode].done)
		abort();
out:
	free(stream);
	free(want);
	free(got);
	free(back);
	return 0;
}
