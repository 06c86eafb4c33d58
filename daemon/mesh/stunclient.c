/* The coordinator's STUN rounds; see stunclient.h. */
#include "mesh/stunclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loop.h"
#include "mesh/hello.h"
#include "mesh/stun.h"
#include "resolve.h"

#define MS 1000000ULL
#define S  1000000000ULL

struct server {
	struct endpoint ep; /* as configured */
	bool resolved, failed, answered;
	union sockaddr_inet addr;
	uint8_t txid[STUN_TXID_LEN];
	unsigned sent;
	uint64_t next_send; /* monotonic ns */
	union sockaddr_inet mapped;
};

struct stunclient {
	struct mesh_host host;
	struct server srv[STUNCLIENT_MAX_SERVERS];
	size_t n;
	bool round;          /* a round runs */
	uint64_t round_end;  /* monotonic ns */
	uint64_t next_round; /* monotonic ns; 0: at the next tick */
	uint64_t next_local_check;
	uint64_t local_sig; /* hash of the host's addresses last seen */
	struct stunclient_status st;
};

const char *stunclient_nat_name(enum stun_nat nat)
{
	return nat == STUN_NAT_INDEPENDENT ? "endpoint-independent"
	       : nat == STUN_NAT_SYMMETRIC ? "symmetric"
					   : "unknown";
}

struct stunclient *stunclient_new(const struct mesh_host *host)
{
	struct stunclient *sc = calloc(1, sizeof(*sc));

	if (sc)
		sc->host = *host;
	return sc;
}

void stunclient_free(struct stunclient *sc)
{
	if (!sc)
		return;
	if (sc->host.resolver)
		resolver_cancel(sc->host.resolver, sc);
	free(sc);
}

/* Whether the configured list is the one the client holds. */
static bool list_same(const struct stunclient *sc, const struct endpoint_list *l)
{
	if (l->n != sc->n && !(l->n > STUNCLIENT_MAX_SERVERS && sc->n == STUNCLIENT_MAX_SERVERS))
		return false;
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(l->v[i].host, sc->srv[i].ep.host) || l->v[i].port != sc->srv[i].ep.port)
			return false;
	return true;
}

static void send_request(struct stunclient *sc, struct server *s, uint64_t now)
{
	struct pkt_batch *out = sc->host.ops->udp_out(sc->host.ctx);
	struct pkt *pkt = pkt_batch_add(out);

	s->next_send = now + STUNCLIENT_RETRANSMIT_MS * MS;
	if (!pkt)
		return;
	pkt->len = (uint32_t)stun_binding_request(pkt->data, s->txid);
	memset(&pkt->ep, 0, sizeof(pkt->ep));
	memcpy(&pkt->ep.addr, &s->addr, sockaddr_len(&s->addr));
	sc->host.ops->flush(sc->host.ctx);
	s->sent++;
	sc->st.requests++;
}

static void on_resolved(void *ctx, const char *host, uint16_t port,
			const struct resolver_result *res)
{
	struct stunclient *sc = ctx;

	for (size_t i = 0; sc->round && i < sc->n; i++) {
		struct server *s = &sc->srv[i];
		if (s->resolved || s->failed || strcmp(s->ep.host, host) || s->ep.port != port)
			continue;
		if (res->err || res->n == 0) {
			s->failed = true;
			continue;
		}
		s->addr = res->addrs[0]; /* IPv4 first */
		s->resolved = true;
		send_request(sc, s, loop_now());
	}
}

static void round_start(struct stunclient *sc, uint64_t now)
{
	const struct endpoint_list *l = &sc->host.cfg->coordinator.stun;

	sc->n = l->n < STUNCLIENT_MAX_SERVERS ? l->n : STUNCLIENT_MAX_SERVERS;
	sc->st.servers = sc->n;
	sc->next_round = now + STUNCLIENT_ROUND_EVERY_S * S;
	if (sc->host.resolver)
		resolver_cancel(sc->host.resolver, sc);
	if (sc->n == 0) {
		sc->round = false;
		sc->st = (struct stunclient_status){ .requests = sc->st.requests,
						     .responses = sc->st.responses,
						     .dropped = sc->st.dropped };
		return;
	}
	sc->round = true;
	sc->round_end = now + STUNCLIENT_ROUND_MS * MS;
	for (size_t i = 0; i < sc->n; i++) {
		struct server *s = &sc->srv[i];
		*s = (struct server){ .ep = l->v[i] };
		randombytes_buf(s->txid, sizeof(s->txid));
		if (s->ep.numeric) {
			s->addr = s->ep.addr;
			s->resolved = true;
			send_request(sc, s, now);
		} else if (!sc->host.resolver ||
			   resolver_lookup(sc->host.resolver, s->ep.host, s->ep.port, AF_UNSPEC,
					   on_resolved, sc) < 0)
			s->failed = true;
	}
}

/* The verdict on the NAT from the servers that answered. */
static enum stun_nat nat_verdict(const struct stunclient *sc)
{
	const union sockaddr_inet *first[2] = { NULL, NULL };
	bool agree = false;

	for (size_t i = 0; i < sc->n; i++) {
		const struct server *s = &sc->srv[i];
		int f = s->mapped.sa.sa_family == AF_INET6;
		if (!s->answered)
			continue;
		if (!first[f]) {
			first[f] = &s->mapped;
			continue;
		}
		if (!sockaddr_equal(first[f], &s->mapped))
			return STUN_NAT_SYMMETRIC;
		agree = true;
	}
	return agree ? STUN_NAT_INDEPENDENT : STUN_NAT_UNKNOWN;
}

static void round_end(struct stunclient *sc)
{
	const struct server *best = NULL;
	size_t unresolved = 0;
	char text[SOCKADDR_STR_LEN];

	sc->round = false;
	sc->st.last_round = (int64_t)time(NULL);
	for (size_t i = 0; i < sc->n; i++) {
		const struct server *s = &sc->srv[i];
		unresolved += !s->resolved;
		if (s->answered && (!best || (best->mapped.sa.sa_family == AF_INET6 &&
					      s->mapped.sa.sa_family == AF_INET)))
			best = s;
	}
	if (!best) {
		snprintf(sc->st.error, sizeof(sc->st.error),
			 unresolved == sc->n ? "no STUN server name resolved (%zu configured)"
					     : "no STUN server answered (%zu configured)",
			 sc->n);
		log_warn("stun: %s", sc->st.error);
		return;
	}
	sc->st.error[0] = '\0';
	sc->st.nat = nat_verdict(sc);
	if (!sc->st.have_public || !sockaddr_equal(&sc->st.public_ep, &best->mapped)) {
		sockaddr_format(&best->mapped, text, sizeof(text));
		log_info("stun: public endpoint %s (NAT %s)", text,
			 stunclient_nat_name(sc->st.nat));
	}
	sc->st.have_public = true;
	sc->st.public_ep = best->mapped;
	sc->st.learned_at = sc->st.last_round;
}

static bool round_done(const struct stunclient *sc, uint64_t now)
{
	if (now >= sc->round_end)
		return true;
	for (size_t i = 0; i < sc->n; i++)
		if (!sc->srv[i].answered && !sc->srv[i].failed)
			return false;
	return true;
}

/* A hash of the host's addresses: a change starts a round soon. */
static uint64_t local_signature(const struct stunclient *sc)
{
	struct endpoint eps[HELLO_MAX_ENDPOINTS];
	size_t n = mesh_local_endpoints(sc->host.tun_name, 1, eps, HELLO_MAX_ENDPOINTS);
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		for (const char *p = eps[i].host; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h;
}

static void local_check(struct stunclient *sc, uint64_t now)
{
	uint64_t sig;

	if (now < sc->next_local_check)
		return;
	sc->next_local_check = now + STUNCLIENT_LOCAL_CHECK_S * S;
	sig = local_signature(sc);
	if (sc->local_sig && sig != sc->local_sig && !sc->round) {
		log_info("stun: this host's addresses changed, asking again");
		sc->next_round = now;
	}
	sc->local_sig = sig;
}

void stunclient_tick(struct stunclient *sc, uint64_t now)
{
	if (!list_same(sc, &sc->host.cfg->coordinator.stun) && !sc->round)
		sc->next_round = now;
	local_check(sc, now);
	if (sc->round) {
		for (size_t i = 0; i < sc->n; i++) {
			struct server *s = &sc->srv[i];
			if (s->resolved && !s->answered && s->sent < STUNCLIENT_SENDS &&
			    now >= s->next_send)
				send_request(sc, s, now);
		}
		if (round_done(sc, now))
			round_end(sc);
	} else if (now >= sc->next_round)
		round_start(sc, now);
}

void stunclient_rx(struct stunclient *sc, const uint8_t *buf, size_t len)
{
	uint8_t txid[STUN_TXID_LEN];
	union sockaddr_inet mapped;

	if (stun_parse_response(buf, len, txid, &mapped) == 0)
		for (size_t i = 0; sc->round && i < sc->n; i++) {
			struct server *s = &sc->srv[i];
			if (s->answered || !s->sent || sodium_memcmp(s->txid, txid, sizeof(txid)))
				continue;
			s->answered = true;
			s->mapped = mapped;
			sc->st.responses++;
			if (round_done(sc, loop_now()))
				round_end(sc);
			return;
		}
	sc->st.dropped++;
}

void stunclient_status(const struct stunclient *sc, struct stunclient_status *out)
{
	*out = sc->st;
	out->servers = sc->host.cfg->coordinator.stun.n;
}

bool stunclient_public(const struct stunclient *sc, struct endpoint *out)
{
	char text[SOCKADDR_STR_LEN];

	if (!sc || !sc->st.have_public || sc->st.nat == STUN_NAT_SYMMETRIC)
		return false;
	sockaddr_format(&sc->st.public_ep, text, sizeof(text));
	return endpoint_parse(out, text) == 0;
}
