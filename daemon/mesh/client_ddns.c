/* The coordinator's endpoint names, followed; see client_ddns.h. */
#include "mesh/client_ddns.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mesh/client_role.h"
#include "mesh/client_state.h"
#include "resolve.h"

static void name_init(struct client_name *cn, struct mesh_client *mc, bool join,
		      const struct endpoint *ep)
{
	if (mc->host.resolver)
		resolver_cancel(mc->host.resolver, cn);
	*cn = (struct client_name){ .mc = mc, .join = join, .used = !ep->numeric };
	ddns_init(&cn->dn, ep);
}

void client_ddns_coord_reset(struct mesh_client *mc)
{
	for (size_t i = 0; i < INVITE_MAX_ENDPOINTS; i++) {
		struct client_name *cn = &mc->coord_names[i];
		const struct endpoint *ep = &mc->coord_eps[i];
		if (i >= mc->n_coord_eps) {
			name_init(cn, mc, false, &(struct endpoint){ .numeric = true });
			continue;
		}
		if (cn->used && !strcmp(cn->dn.ep.host, ep->host) && cn->dn.ep.port == ep->port)
			continue;
		name_init(cn, mc, false, ep);
		/* The address the join went to is the name's first answer. */
		for (size_t j = 0; cn->used && j < INVITE_MAX_ENDPOINTS; j++) {
			const struct client_name *jn = &mc->join_names[j];
			if (jn->used && jn->dn.known && !strcmp(jn->dn.ep.host, ep->host) &&
			    jn->dn.ep.port == ep->port)
				cn->dn = jn->dn;
		}
	}
}

void client_ddns_join_reset(struct mesh_client *mc)
{
	for (size_t i = 0; i < INVITE_MAX_ENDPOINTS; i++)
		name_init(&mc->join_names[i], mc, true,
			  i < mc->inv.n_endpoints ? &mc->inv.endpoints[i]
						  : &(struct endpoint){ .numeric = true });
}

/* No control connection, or handshake retransmissions unanswered. */
static bool coordinator_failing(const struct mesh_client *mc)
{
	struct mesh_peer_facts f;

	if (!mc->ch || !mc->ch->connected)
		return true;
	return mc->host.ops->peer_facts(mc->host.ctx, mc->coord_key, &f) &&
	       f.handshake_attempts >= DDNS_FAILED_ATTEMPTS;
}

/* Relayed peers were pointed at the old relay address: move them too. */
static void relayed_follow(struct mesh_client *mc)
{
	struct mesh_peer_facts f;

	for (size_t i = 0; i < mc->n_paths; i++) {
		const uint8_t *key = mc->paths[i].key;
		struct wg_endpoint ep = { 0 };
		if (!mc->host.ops->peer_facts(mc->host.ctx, key, &f) || !f.has_endpoint ||
		    !wg_endpoint_is_relay(&f.endpoint))
			continue;
		memcpy(&ep.addr, &mc->relay_addr, sockaddr_len(&mc->relay_addr));
		ep.relay_via = f.endpoint.relay_via;
		mc->host.ops->peer_set_endpoint(mc->host.ctx, key, &ep);
	}
}

static void relay_move(struct mesh_client *mc, const union sockaddr_inet *to)
{
	struct wg_endpoint ep = { 0 };

	mc->relay_addr = *to;
	memcpy(&ep.addr, to, sockaddr_len(to));
	mc->host.ops->peer_set_endpoint(mc->host.ctx, mc->coord_key, &ep);
	relayed_follow(mc);
	mc->host.ops->peer_kick(mc->host.ctx, mc->coord_key);
	mc->host.ops->flush(mc->host.ctx);
}

/*
 * The roaming rule: relay_addr moves only when the name's address changed
 * and relay_addr was the name's old address (another endpoint, say a LAN
 * address, that answered the join stays), or the coordinator looks failed.
 * A first answer with no address saved from before only sets the baseline
 * unless the coordinator looks failed.
 */
void client_ddns_coord_answer(struct mesh_client *mc, size_t i, const struct resolver_result *res)
{
	struct client_name *cn = &mc->coord_names[i];
	bool failing = coordinator_failing(mc), first;
	union sockaddr_inet was;

	if (ddns_take(&cn->dn, res, time(NULL), "mesh: coordinator", &was) != DDNS_NEW)
		return;
	first = was.sa.sa_family == AF_UNSPEC;
	if (!sockaddr_equal(&cn->dn.addr, &mc->relay_addr) &&
	    (failing || (!first && sockaddr_equal(&was, &mc->relay_addr))))
		relay_move(mc, &cn->dn.addr);
	if (client_state_save(mc) < 0)
		log_warn("mesh: cannot save the coordinator's address in state_dir");
}

static void on_answer(void *ctx, const char *host, uint16_t port, const struct resolver_result *res)
{
	struct client_name *cn = ctx;
	struct mesh_client *mc = cn->mc;

	(void)host;
	(void)port;
	if (!cn->join) {
		client_ddns_coord_answer(mc, (size_t)(cn - mc->coord_names), res);
		return;
	}
	/* The join requests go to it from the next tick on. */
	ddns_take(&cn->dn, res, time(NULL), "mesh: join", NULL);
}

static void ask(struct mesh_client *mc, struct client_name *cn, bool failed, uint64_t now)
{
	if (!cn->used || !ddns_due(&cn->dn, now, failed))
		return;
	/* -EBUSY: the queue is full; asked again next tick. */
	if (resolver_lookup(mc->host.resolver, cn->dn.ep.host, cn->dn.ep.port, AF_UNSPEC, on_answer,
			    cn) == 0)
		ddns_asked(&cn->dn, now);
}

void client_ddns_tick(struct mesh_client *mc)
{
	uint64_t now = now_ns();
	bool failing;

	if (!mc->host.resolver)
		return;
	for (size_t i = 0; mc->join == JOIN_RUNNING && i < mc->inv.n_endpoints; i++)
		ask(mc, &mc->join_names[i], true, now);
	if (!mc->joined)
		return;
	failing = coordinator_failing(mc);
	for (size_t i = 0; i < mc->n_coord_eps; i++)
		ask(mc, &mc->coord_names[i], failing, now);
}

const struct ddns_name *mesh_client_endpoint_name(const struct mesh_client *mc,
						  const uint8_t key[32])
{
	const struct ddns_name *first = NULL;

	if (!mc->joined || memcmp(key, mc->coord_key, KEY_LEN))
		return NULL;
	for (size_t i = 0; i < mc->n_coord_eps; i++) {
		const struct client_name *cn = &mc->coord_names[i];
		if (!cn->used)
			continue;
		if (cn->dn.known && sockaddr_equal(&cn->dn.addr, &mc->relay_addr))
			return &cn->dn;
		if (!first)
			first = &cn->dn;
	}
	return first;
}

void client_ddns_cancel(struct mesh_client *mc)
{
	for (size_t i = 0; mc->host.resolver && i < INVITE_MAX_ENDPOINTS; i++) {
		resolver_cancel(mc->host.resolver, &mc->coord_names[i]);
		resolver_cancel(mc->host.resolver, &mc->join_names[i]);
	}
}
