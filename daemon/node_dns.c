/* The node's mesh resolver; see node_dns.h. */
#include "node_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns/dnsserver.h"
#include "dns/forward.h"
#include "dns/meshzone.h"
#include "dns/osresolver.h"
#include "log.h"
#include "mesh/host.h"
#include "mesh/netmap.h"

bool node_dns_wanted(const struct mg_config *cfg, bool mesh_member)
{
	return cfg->dns.enabled && mesh_member;
}

size_t node_dns_addresses(const struct mg_config *cfg, bool mesh_member, struct prefix out[2])
{
	if (!node_dns_wanted(cfg, mesh_member) ||
	    prefix_parse(&out[0], DNS_RESOLVER_V4 "/32") < 0 ||
	    prefix_parse(&out[1], DNS_RESOLVER_V6 "/128") < 0)
		return 0;
	return 2;
}

int node_dns_take_names(struct node_dns *d, const struct mesh_view *view)
{
	const struct netmap_dns *dns = view->dns;
	size_t n = dns ? dns->n_records : 0;
	struct dns_record *records = calloc(n + 1, sizeof(*records));
	struct mesh_split_dns *offers = calloc(view->n_split_dns + 1, sizeof(*offers));

	if (!records || !offers) {
		free(records);
		free(offers);
		return -ENOMEM;
	}
	if (n)
		memcpy(records, dns->records, n * sizeof(*records));
	if (view->n_split_dns)
		memcpy(offers, view->split_dns, view->n_split_dns * sizeof(*offers));
	free(d->offers);
	d->offers = offers;
	d->n_offers = view->n_split_dns;
	free(d->records);
	d->records = records;
	d->n_records = n;
	d->have_names = dns != NULL;
	snprintf(d->self_name, sizeof(d->self_name), "%s", view->self_name ? view->self_name : "");
	d->self_id = view->self_id;
	snprintf(d->domain, sizeof(d->domain), "%s", dns ? dns->domain : "");
	return 0;
}

static void host_sockaddr(const struct prefix *p, union sockaddr_inet *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (p->family == AF_INET) {
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons(DNS_SERVER_PORT);
		memcpy(&sa->in.sin_addr, p->addr, 4);
	} else {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(DNS_SERVER_PORT);
		memcpy(&sa->in6.sin6_addr, p->addr, 16);
	}
}

/* The resolver's addresses, then the node's mesh addresses, port 53. */
static size_t listen_addrs(const struct mg_config *cfg, const struct mesh_view *view,
			   union sockaddr_inet *out, size_t max)
{
	struct prefix resolver[2];
	size_t n = 0, k = node_dns_addresses(cfg, true, resolver);

	for (size_t i = 0; i < k && n < max; i++)
		host_sockaddr(&resolver[i], &out[n++]);
	for (size_t i = 0; i < view->n_addresses && n < max; i++)
		host_sockaddr(&view->addresses[i], &out[n++]);
	return n;
}

static bool skip_listed(const struct dns_zone *zone, const struct dns_zone_skip *s)
{
	size_t n;
	const struct dns_zone_skip *all = zone ? dns_zone_skipped(zone, &n) : NULL;

	for (size_t i = 0; all && i < n; i++)
		if (!strcmp(all[i].name, s->name) && !strcmp(all[i].holder, s->holder))
			return true;
	return false;
}

/* One line per member that loses or gets back its name. */
static void skips_log(const struct dns_zone *old, const struct dns_zone *zone)
{
	const struct dns_zone_skip *s;
	char reason[160];
	size_t n;

	s = dns_zone_skipped(zone, &n);
	for (size_t i = 0; i < n; i++) {
		if (skip_listed(old, &s[i]))
			continue;
		dns_zone_skip_reason(&s[i], reason, sizeof(reason));
		log_warn("dns: %s gets no name in %s: %s", s[i].name, dns_zone_domain(zone),
			 reason);
	}
	s = old ? dns_zone_skipped(old, &n) : NULL;
	for (size_t i = 0; s && i < n; i++)
		if (!skip_listed(zone, &s[i]))
			log_info("dns: %s is no longer left without a name", s[i].name);
}

static int zone_build(struct node_dns *d, const struct mg_config *cfg, const struct mesh_view *view)
{
	const char *domain = d->have_names ? d->domain : DNS_DEFAULT_DOMAIN;
	struct dns_zone_stats st;
	struct dns_zone *zone;
	const char *self = d->self_name[0] ? d->self_name : cfg->hostname;
	struct mesh_view v = *view;
	int ret;

	v.self_id = d->self_id;
	ret =
	    dns_zone_from_view(domain, ++d->serial, self, &v, d->records, d->n_records, &zone, &st);
	if (ret < 0)
		return ret;
	skips_log(dns_server_zone(d->server), zone);
	if (st.invalid || st.duplicate || st.over_cap)
		log_warn("dns: left out of %s: %zu name(s) not a DNS label, %zu taken, %zu past "
			 "the caps",
			 domain, st.invalid, st.duplicate, st.over_cap);
	dns_server_set_zone(d->server, zone);
	return 0;
}

static void server_stop(struct node_dns *d)
{
	if (!d->server)
		return;
	/* The server cancels its pending forwards: the forwarder goes after. */
	dns_server_free(d->server);
	d->server = NULL;
	dns_forwarder_free(d->fwd);
	d->fwd = NULL;
	d->n_upstreams = 0;
	d->n_splits = 0;
	log_info("dns: resolver stopped");
}

/* ---- the forwarder behind the server's seam ---- */

static int fwd_forward(void *fwd, const uint8_t *query, size_t len, bool tcp,
		       dns_forward_done_fn done, void *ctx)
{
	return dns_forwarder_query(fwd, query, len, tcp, done, ctx);
}

static void fwd_cancel(void *fwd, void *ctx)
{
	dns_forwarder_cancel(fwd, ctx);
}

static int server_start(struct node_dns *d, struct loop *loop)
{
	struct dns_server_ops ops = { fwd_forward, fwd_cancel, NULL };
	int ret;

	d->fwd = dns_forwarder_new(loop, &(struct dns_forwarder_config){ 0 });
	if (!d->fwd)
		return -ENOMEM;
	ops.fwd = d->fwd;
	ret = dns_server_new(loop, &ops, &d->server);
	if (ret < 0) {
		dns_forwarder_free(d->fwd);
		d->fwd = NULL;
	}
	d->n_upstreams = 0;
	d->n_splits = 0;
	return ret;
}

/* The host's resolvers, once: the saved original while meshgated's
 * resolv.conf is in place (a restart after a crash). */
static void host_read(struct node_dns *d, const char *state_dir)
{
	char path[4096];
	int ret;

	if (d->host_read)
		return;
	d->host_read = true;
	osresolver_original_path(state_dir, path, sizeof(path));
	ret = dns_upstream_resolv_conf(path, d->host, DNS_UPSTREAM_MAX, &d->n_host);
	if (ret < 0) {
		d->n_host = 0;
		log_warn("dns: %s: %s; no upstream but dns.upstream or an exit node", path,
			 strerror(-ret));
	} else if (!d->n_host) {
		log_warn("dns: %s names no nameserver to forward to", path);
	}
}

static void put_upstream(union sockaddr_inet *out, size_t *n, const union sockaddr_inet *sa)
{
	if (*n < DNS_UPSTREAM_MAX)
		out[(*n)++] = *sa;
}

/* The exit peer's mesh addresses (the first n_addresses of its allowed
 * IPs), port 53; 0 when the view has no such peer. */
static size_t exit_upstreams(const struct mesh_view *view, const char *exit_name,
			     union sockaddr_inet *out)
{
	size_t n = 0;

	for (size_t i = 0; i < view->n_peers; i++) {
		const struct mesh_peer *p = &view->peers[i];
		if (strcmp(p->name, exit_name) != 0)
			continue;
		for (size_t k = 0; k < p->n_addresses && k < p->n_allowed_ips; k++) {
			union sockaddr_inet sa;
			host_sockaddr(&p->allowed_ips[k], &sa);
			put_upstream(out, &n, &sa);
		}
		break;
	}
	return n;
}

/* The default list (see node_dns.h) into out (zeroed first); its count.
 * exit_name "" (wanted, blocked) names no peer: none. */
static size_t upstreams_choose(const struct node_dns *d, const struct mg_config *cfg,
			       const struct mesh_view *view, const char *exit_name,
			       union sockaddr_inet *out)
{
	size_t n = 0;

	memset(out, 0, DNS_UPSTREAM_MAX * sizeof(*out));
	if (exit_name)
		return exit_upstreams(view, exit_name, out);
	for (size_t i = 0; i < cfg->dns.upstream.n; i++)
		put_upstream(out, &n, &cfg->dns.upstream.v[i]);
	for (size_t i = 0; !cfg->dns.upstream.n && i < d->n_host; i++)
		put_upstream(out, &n, &d->host[i]);
	return n;
}

/* ---- split domains ---- */

static struct node_dns_split *split_find(struct node_dns_split *v, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].domain, domain))
			return &v[i];
	return NULL;
}

/* How good a state is: lower is better. */
static int split_rank(enum node_dns_split_state st)
{
	return st == NODE_DNS_SPLIT_OK ? 0 : st == NODE_DNS_SPLIT_NOT_ACCEPTED ? 1 : 2;
}

/* Adds an offer for its domain, or counts it; one in a better state
 * (usable; usable but for accept_routes) replaces one listed before. */
static void split_put(struct node_dns_split *v, size_t *n, const struct split_dns *offer,
		      const char *via, enum node_dns_split_state state, bool own)
{
	struct node_dns_split *s = split_find(v, *n, offer->domain);
	unsigned offers = s ? s->offers + 1 : 1;

	if (s && split_rank(state) >= split_rank(s->state)) {
		s->offers = offers;
		return;
	}
	if (!s && *n >= NODE_DNS_SPLITS_MAX)
		return;
	if (!s)
		s = &v[(*n)++];
	memset(s, 0, sizeof(*s));
	memcpy(s->domain, offer->domain, sizeof(s->domain));
	s->server = offer->server;
	snprintf(s->via, sizeof(s->via), "%s", via);
	s->state = state;
	s->offers = offers;
	s->own = own;
}

/* This node's own offer first (its server is on its LAN: reached
 * directly), while its route holding the server is approved; then the
 * peers' in netmap order. Returns how many domains. */
static size_t splits_choose(const struct node_dns *d, const struct mg_config *cfg,
			    const struct mesh_view *view, struct node_dns_split *out)
{
	const struct mesh_approved *ap = view->approved;
	struct split_dns own = { .server = cfg->subnet_router.dns.server };
	size_t n = 0;

	memset(out, 0, NODE_DNS_SPLITS_MAX * sizeof(*out));
	memcpy(own.domain, cfg->subnet_router.dns.domain, sizeof(own.domain));
	if (own.domain[0] && ap && split_dns_server_routed(&own, ap->routes, ap->n_routes))
		split_put(out, &n, &own, d->self_name[0] ? d->self_name : cfg->hostname,
			  NODE_DNS_SPLIT_OK, true);
	for (size_t i = 0; i < d->n_offers; i++) {
		const struct mesh_split_dns *o = &d->offers[i];
		enum node_dns_split_state st = !o->usable            ? NODE_DNS_SPLIT_OFFLINE
					       : !cfg->accept_routes ? NODE_DNS_SPLIT_NOT_ACCEPTED
								     : NODE_DNS_SPLIT_OK;
		split_put(out, &n, &o->dns, o->via, st, false);
	}
	return n;
}

static void splits_log(const struct node_dns_split *v, size_t n)
{
	static const char *const why[] = { "", " (router offline: SERVFAIL)",
					   " (accept_routes = false: SERVFAIL)" };
	char text[SOCKADDR_STR_LEN];

	for (size_t i = 0; i < n; i++) {
		sockaddr_format(&v[i].server, text, sizeof(text));
		log_info("dns: %s to %s via %s%s", v[i].domain, text, v[i].via, why[v[i].state]);
		if (v[i].offers > 1)
			log_warn("dns: %s is offered by %u routers; using %s's", v[i].domain,
				 v[i].offers, v[i].via);
	}
}

size_t node_dns_split_domains(const struct node_dns *d, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_splits && n < max; i++)
		out[n++] = d->splits[i].domain;
	return n;
}

static int upstreams_sync(struct node_dns *d, const struct mg_config *cfg,
			  const struct mesh_view *view, const char *exit_name, const char *tun_name)
{
	union sockaddr_inet want[DNS_UPSTREAM_MAX];
	size_t n = upstreams_choose(d, cfg, view, exit_name, want);
	struct node_dns_split splits[NODE_DNS_SPLITS_MAX];
	size_t n_splits = splits_choose(d, cfg, view, splits);
	struct dns_split fs[NODE_DNS_SPLITS_MAX];
	struct dns_upstreams up = { .n_servers = n, .splits = fs, .n_splits = n_splits };
	char text[SOCKADDR_STR_LEN];
	int ret;

	if (n == d->n_upstreams && !memcmp(want, d->upstreams, sizeof(want)) &&
	    n_splits == d->n_splits && !memcmp(splits, d->splits, sizeof(splits)))
		return 0;
	memset(fs, 0, sizeof(fs));
	for (size_t i = 0; i < n_splits; i++) {
		memcpy(fs[i].domain, splits[i].domain, sizeof(fs[i].domain));
		fs[i].servers[0] = splits[i].server;
		fs[i].n_servers = splits[i].state == NODE_DNS_SPLIT_OK;
		/* A peer's server only through the mesh, whatever LAN this
		 * host is on; this node's own on its LAN directly. */
		if (!splits[i].own && tun_name)
			snprintf(fs[i].ifname, sizeof(fs[i].ifname), "%s", tun_name);
	}
	memcpy(up.servers, want, sizeof(want));
	ret = dns_forwarder_set_upstreams(d->fwd, &up);
	if (ret < 0)
		return ret;
	memcpy(d->splits, splits, sizeof(splits));
	d->n_splits = n_splits;
	splits_log(splits, n_splits);
	memcpy(d->upstreams, want, sizeof(want));
	d->n_upstreams = n;
	if (n)
		sockaddr_format(&want[0], text, sizeof(text));
	if (exit_name && !exit_name[0])
		log_info("dns: forwarding nowhere while the exit node is blocked (SERVFAIL)");
	else
		log_info("dns: forwarding to %s%s%s (%zu server(s))", n ? text : "nowhere",
			 exit_name ? " via exit node " : "", exit_name ? exit_name : "", n);
	return 0;
}

void node_dns_sync(struct node_dns *d, struct loop *loop, const struct mg_config *cfg,
		   bool mesh_member, const struct mesh_view *view, const char *exit_name,
		   const char *tun_name)
{
	union sockaddr_inet addrs[DNS_SERVER_LISTEN_MAX];
	size_t n;
	int ret;

	if (!node_dns_wanted(cfg, mesh_member)) {
		server_stop(d);
		d->error[0] = '\0';
		return;
	}
	host_read(d, cfg->state_dir);
	if (!d->server) {
		ret = server_start(d, loop);
		if (ret < 0) {
			snprintf(d->error, sizeof(d->error), "%s", strerror(-ret));
			log_err("dns: %s", d->error);
			return;
		}
		log_info("dns: resolver on %s and %s, port %d", DNS_RESOLVER_V4, DNS_RESOLVER_V6,
			 DNS_SERVER_PORT);
	}
	d->error[0] = '\0';
	ret = zone_build(d, cfg, view);
	if (ret < 0)
		snprintf(d->error, sizeof(d->error), "zone: %s", strerror(-ret));
	n = listen_addrs(cfg, view, addrs, DNS_SERVER_LISTEN_MAX);
	if (dns_server_listen(d->server, addrs, n, d->error, sizeof(d->error)) < 0)
		ret = -1;
	if (upstreams_sync(d, cfg, view, exit_name, tun_name) < 0) {
		snprintf(d->error, sizeof(d->error), "forwarder: out of memory");
		ret = -1;
	}
	if (ret < 0)
		log_err("dns: %s", d->error);
}

void node_dns_stop(struct node_dns *d)
{
	server_stop(d);
	free(d->records);
	d->records = NULL;
	d->n_records = 0;
	d->have_names = false;
	free(d->offers);
	d->offers = NULL;
	d->n_offers = 0;
}

static json_t *counters_json(const struct dns_server_stats *st)
{
	static const char *const rcodes[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					      "NOTIMP",  "REFUSED", "other" };
	json_t *answers = json_object();

	for (size_t i = 0; answers && i < sizeof(rcodes) / sizeof(rcodes[0]); i++)
		json_object_set_new(answers, rcodes[i], json_integer((json_int_t)st->rcode[i]));
	return json_pack("{s:{s:I, s:I}, s:o*, s:{s:I, s:I}, s:I, s:I, s:I, s:I}", "queries", "udp",
			 (json_int_t)st->queries_udp, "tcp", (json_int_t)st->queries_tcp, "answers",
			 answers, "dropped", "rate_limit", (json_int_t)st->dropped_ratelimit,
			 "malformed", (json_int_t)st->dropped_malformed, "local",
			 (json_int_t)st->local, "forwarded", (json_int_t)st->forwarded, "truncated",
			 (json_int_t)st->truncated, "tcp_refused", (json_int_t)st->tcp_refused);
}

static json_t *forward_json(const struct node_dns *d)
{
	struct dns_forward_stats st;
	json_t *ups = json_array();
	char text[SOCKADDR_STR_LEN];

	dns_forwarder_get_stats(d->fwd, &st);
	for (size_t i = 0; ups && i < d->n_upstreams; i++) {
		sockaddr_format(&d->upstreams[i], text, sizeof(text));
		json_array_append_new(ups, json_string(text));
	}
	return json_pack(
	    "{s:o*, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "upstreams", ups, "queries", (json_int_t)st.queries, "sent", (json_int_t)st.forwarded,
	    "tcp_fallbacks", (json_int_t)st.tcp_fallbacks, "timeouts", (json_int_t)st.timeouts,
	    "upstream_errors", (json_int_t)st.upstream_errors, "mismatched",
	    (json_int_t)st.mismatched, "servfail_built", (json_int_t)st.servfail_built, "busy",
	    (json_int_t)st.busy, "inflight", (json_int_t)dns_forwarder_inflight(d->fwd),
	    "split_forwarded", (json_int_t)st.split_forwarded, "split_refused",
	    (json_int_t)st.split_refused, "cache", "hits", (json_int_t)st.cache.hits, "misses",
	    (json_int_t)st.cache.misses, "evictions", (json_int_t)st.cache.evictions, "expired",
	    (json_int_t)st.cache.expired, "entries", (json_int_t)st.cache.entries, "bytes",
	    (json_int_t)st.cache.bytes);
}

static json_t *split_json(const struct node_dns *d)
{
	static const char *const states[] = { "ok", "offline", "routes_not_accepted" };
	json_t *arr = json_array(), *e;
	char text[SOCKADDR_STR_LEN], warn[160];

	for (size_t i = 0; arr && i < d->n_splits; i++) {
		const struct node_dns_split *s = &d->splits[i];
		sockaddr_format(&s->server, text, sizeof(text));
		e = json_pack("{s:s, s:s, s:s, s:s}", "domain", s->domain, "server", text, "via",
			      s->via, "state", states[s->state]);
		if (e && s->offers > 1) {
			snprintf(warn, sizeof(warn), "offered by %u routers; %s's is used",
				 s->offers, s->via);
			json_object_set_new(e, "warning", json_string(warn));
		}
		json_array_append_new(arr, e);
	}
	return arr;
}

static json_t *skipped_json(const struct dns_zone *zone)
{
	json_t *arr = json_array();
	const struct dns_zone_skip *s;
	char reason[160];
	size_t n;

	s = zone ? dns_zone_skipped(zone, &n) : NULL;
	for (size_t i = 0; arr && s && i < n; i++) {
		dns_zone_skip_reason(&s[i], reason, sizeof(reason));
		json_array_append_new(arr,
				      json_pack("{s:s, s:s}", "name", s[i].name, "reason", reason));
	}
	return arr;
}

bool node_dns_name(const struct node_dns *d, const char *member, char *out, size_t len)
{
	const struct dns_zone *zone = d->server ? dns_server_zone(d->server) : NULL;
	const char *label = zone ? dns_zone_member_label(zone, member) : NULL;

	return label && (size_t)snprintf(out, len, "%s.%s", label, dns_zone_domain(zone)) < len;
}

json_t *node_dns_json(const struct node_dns *d)
{
	const struct dns_zone *zone = d->server ? dns_server_zone(d->server) : NULL;
	union sockaddr_inet addrs[DNS_SERVER_LISTEN_MAX];
	size_t n = d->server ? dns_server_listening(d->server, addrs, DNS_SERVER_LISTEN_MAX) : 0;
	json_t *listen = json_array(), *doc;
	char text[SOCKADDR_STR_LEN];

	for (size_t i = 0; listen && i < n; i++) {
		sockaddr_format(&addrs[i], text, sizeof(text));
		json_array_append_new(listen, json_string(text));
	}
	doc = json_pack("{s:b, s:s, s:I, s:o*}", "enabled", d->server != NULL, "domain",
			zone ? dns_zone_domain(zone)
			     : (d->have_names ? d->domain : DNS_DEFAULT_DOMAIN),
			"names", (json_int_t)(zone ? dns_zone_count(zone) : 0), "listen", listen);
	if (doc)
		json_object_set_new(doc, "skipped", skipped_json(zone));
	if (doc && d->error[0])
		json_object_set_new(doc, "error", json_string(d->error));
	if (doc && d->server)
		json_object_update_new(doc, counters_json(dns_server_stats(d->server)));
	if (doc && d->fwd)
		json_object_set_new(doc, "forward", forward_json(d));
	if (doc && d->fwd)
		json_object_set_new(doc, "split", split_json(d));
	return doc;
}
