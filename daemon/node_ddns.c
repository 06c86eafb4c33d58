/* The static peers' endpoint names; see node_ddns.h. */
#include "node_ddns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolve.h"

enum { TICK_NS = 1000000000 };

/* One followed name; the resolver's ctx, so it does not move. */
struct node_name {
	struct node_ddns *d;
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	struct ddns_name dn;
};

struct node_ddns {
	struct node_ddns_env env;
	struct node_name **v;
	size_t n;
	struct loop_timer *timer;
};

static bool same_endpoint(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && !strcmp(a->host, b->host);
}

const struct ddns_name *node_ddns_find(const struct node_ddns *d, const uint8_t key[32],
				       const struct endpoint *ep)
{
	for (size_t i = 0; d && i < d->n; i++) {
		const struct node_name *nn = d->v[i];
		if (!memcmp(nn->key, key, NOISE_PUBLIC_KEY_LEN) &&
		    (!ep || same_endpoint(&nn->dn.ep, ep)))
			return &nn->dn;
	}
	return NULL;
}

/* The roaming rule (ddns.h): only a first or changed address moves the
 * peer; an unchanged one leaves its endpoint where roaming put it. */
static void on_answer(void *ctx, const char *host, uint16_t port, const struct resolver_result *res)
{
	struct node_name *nn = ctx;
	const struct node_ddns_env *env = &nn->d->env;
	struct wg_peer *peer = wg_device_find_peer(env->dev, nn->key);
	struct wg_endpoint ep = { 0 };
	char who[80];

	(void)host;
	(void)port;
	snprintf(who, sizeof(who), "peer %s", peer ? peer->name : "?");
	if (ddns_take(&nn->dn, res, time(NULL), who, NULL) != DDNS_NEW || !peer)
		return;
	memcpy(&ep.addr, &nn->dn.addr, sockaddr_len(&nn->dn.addr));
	wg_peer_set_endpoint(peer, &ep);
	wg_peer_send_handshake(peer, env->dp->udp_out);
	dataplane_flush(env->dp);
}

/* Handshake retransmissions unanswered: the name may have moved. */
static bool peer_failed(const struct node_ddns *d, const uint8_t key[32])
{
	const struct wg_peer *peer = wg_device_find_peer(d->env.dev, key);

	return peer && peer->handshake_attempts >= DDNS_FAILED_ATTEMPTS;
}

static void on_tick(void *ctx)
{
	struct node_ddns *d = ctx;
	uint64_t now = loop_now();

	loop_timer_set(d->env.loop, d->timer, now + TICK_NS);
	for (size_t i = 0; i < d->n; i++) {
		struct node_name *nn = d->v[i];
		if (!ddns_due(&nn->dn, now, peer_failed(d, nn->key)))
			continue;
		/* -EBUSY: the queue is full; asked again next tick. */
		if (resolver_lookup(d->env.resolver, nn->dn.ep.host, nn->dn.ep.port, AF_UNSPEC,
				    on_answer, nn) == 0)
			ddns_asked(&nn->dn, now);
	}
}

/* The entry of old for (key, ep), taken out of old; or a new one. */
static struct node_name *name_take(struct node_ddns *d, struct node_ddns *old,
				   const struct config_peer *cp)
{
	struct node_name *nn;

	for (size_t i = 0; i < old->n; i++) {
		nn = old->v[i];
		if (nn && !memcmp(nn->key, cp->public_key, NOISE_PUBLIC_KEY_LEN) &&
		    same_endpoint(&nn->dn.ep, &cp->endpoint)) {
			old->v[i] = NULL;
			return nn;
		}
	}
	nn = calloc(1, sizeof(*nn));
	if (!nn)
		return NULL;
	nn->d = d;
	memcpy(nn->key, cp->public_key, NOISE_PUBLIC_KEY_LEN);
	ddns_init(&nn->dn, &cp->endpoint);
	return nn;
}

static void names_free(struct resolver *r, struct node_name **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] && r)
			resolver_cancel(r, v[i]);
		free(v[i]);
	}
	free(v);
}

int node_ddns_update(struct node_ddns **dp, const struct node_ddns_env *env,
		     const struct mg_config *cfg)
{
	struct node_ddns *d = *dp;
	struct node_ddns old = { 0 };
	struct node_name **v;
	size_t n = 0;

	if (!d) {
		d = *dp = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->env = *env;
	}
	v = calloc(cfg->n_peers + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	old = *d;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *cp = &cfg->peers[i];
		if (!cp->has_endpoint || cp->endpoint.numeric)
			continue;
		v[n] = name_take(d, &old, cp);
		if (v[n])
			n++;
	}
	names_free(d->env.resolver, old.v, old.n);
	d->v = v;
	d->n = n;
	if (!d->timer && n)
		d->timer = loop_timer_add(d->env.loop, loop_now(), on_tick, d);
	else if (d->timer && n)
		loop_timer_set(d->env.loop, d->timer, loop_now());
	return d->timer || !n ? 0 : -ENOMEM;
}

void node_ddns_free(struct node_ddns *d)
{
	if (!d)
		return;
	if (d->timer)
		loop_timer_del(d->env.loop, d->timer);
	names_free(d->env.resolver, d->v, d->n);
	free(d);
}
