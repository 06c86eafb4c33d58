/*
 * dns_forward_probe: the forwarder (dns/forward.h) as a one-shot client,
 * for tests against a real resolver. Asks each NAME TYPE in turn through
 * one forwarder (so later ones may be cache hits), prints every response
 * as ldns writes it, then a line of counters.
 * Usage: dns_forward_probe UPSTREAM_IP:PORT [--tcp] NAME TYPE [NAME TYPE...]
 * --tcp: the client came over TCP (whole answers); else over UDP with EDNS.
 */
#include <stdbool.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/forward.h"
#include "loop.h"

static struct loop *loop;

static void on_done(void *ctx, const uint8_t *reply, size_t len)
{
	ldns_pkt *pkt = NULL;
	char *text;

	*(int *)ctx = 1;
	if (!reply || ldns_wire2pkt(&pkt, reply, len) != LDNS_STATUS_OK) {
		printf(";; no response\n");
	} else {
		text = ldns_pkt2str(pkt);
		printf(";; %zu bytes\n%s\n", len, text ? text : "");
		free(text);
	}
	ldns_pkt_free(pkt);
	loop_stop(loop);
}

static int ask(struct dns_forwarder *fwd, const char *name, const char *type, bool tcp)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t len;
	int got = 0, ret;

	if (ldns_pkt_query_new_frm_str(&q, name, ldns_get_rr_type_by_name(type), LDNS_RR_CLASS_IN,
				       LDNS_RD) != LDNS_STATUS_OK)
		return -1;
	ldns_pkt_set_id(q, 0x6d67);
	if (!tcp)
		ldns_pkt_set_edns_udp_size(q, 1232);
	if (ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK)
		return -1;
	ret = dns_forwarder_query(fwd, wire, len, tcp, on_done, &got);
	while (ret == 0 && !got)
		loop_run(loop);
	free(wire);
	ldns_pkt_free(q);
	return ret;
}

int main(int argc, char **argv)
{
	struct dns_forwarder_config cfg = { 0 };
	struct dns_upstreams up = { .n_servers = 1 };
	struct dns_forward_stats st;
	struct dns_forwarder *fwd;
	bool tcp = argc > 2 && strcmp(argv[2], "--tcp") == 0;
	int first = tcp ? 3 : 2;

	if (argc < first + 2 || (argc - first) % 2 || sockaddr_parse(&up.servers[0], argv[1]) < 0) {
		fprintf(stderr, "usage: dns_forward_probe IP:PORT [--tcp] NAME TYPE...\n");
		return 2;
	}
	loop = loop_new();
	fwd = loop ? dns_forwarder_new(loop, &cfg) : NULL;
	if (!fwd || dns_forwarder_set_upstreams(fwd, &up) < 0)
		return 1;
	for (int i = first; i < argc; i += 2)
		if (ask(fwd, argv[i], argv[i + 1], tcp) < 0)
			return 1;
	dns_forwarder_get_stats(fwd, &st);
	printf("stats: forwarded=%llu hits=%llu misses=%llu tcp_fallbacks=%llu timeouts=%llu\n",
	       (unsigned long long)st.forwarded, (unsigned long long)st.cache.hits,
	       (unsigned long long)st.cache.misses, (unsigned long long)st.tcp_fallbacks,
	       (unsigned long long)st.timeouts);
	dns_forwarder_free(fwd);
	loop_free(loop);
	return 0;
}
