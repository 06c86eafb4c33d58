/* The node's mesh resolver; see node_dns.h. */
#include "node_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns/dnsserver.h"
#include "dns/meshzone.h"
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

	if (!records)
		return -ENOMEM;
	if (n)
		memcpy(records, dns->records, n * sizeof(*records));
	free(d->records);
	d->records = records;
	d->n_records = n;
	d->have_names = dns != NULL;
	snprintf(d->self_name, sizeof(d->self_name), "%s", view->self_name ? view->self_name : "");
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

static int zone_build(struct node_dns *d, const struct mg_config *cfg, const struct mesh_view *view)
{
	const char *domain = d->have_names ? d->domain : DNS_DEFAULT_DOMAIN;
	struct dns_zone_stats st;
	struct dns_zone *zone;
	const char *self = d->self_name[0] ? d->self_name : cfg->hostname;
	int ret = dns_zone_from_view(domain, ++d->serial, self, view, d->records, d->n_records,
				     &zone, &st);

	if (ret < 0)
		return ret;
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
	dns_server_free(d->server);
	d->server = NULL;
	log_info("dns: resolver stopped");
}

void node_dns_sync(struct node_dns *d, struct loop *loop, const struct mg_config *cfg,
		   bool mesh_member, const struct mesh_view *view)
{
	union sockaddr_inet addrs[DNS_SERVER_LISTEN_MAX];
	size_t n;
	int ret;

	if (!node_dns_wanted(cfg, mesh_member)) {
		server_stop(d);
		d->error[0] = '\0';
		return;
	}
	if (!d->server) {
		ret = dns_server_new(loop, d->ops, &d->server);
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
	if (doc && d->error[0])
		json_object_set_new(doc, "error", json_string(d->error));
	if (doc && d->server)
		json_object_update_new(doc, counters_json(dns_server_stats(d->server)));
	return doc;
}
