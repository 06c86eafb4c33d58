/*
 * The node's nftables table with an access policy, without a node, for
 * test_policy_nft.sh: computes the route plan of a static subnet router
 * whose host carries a policy filter (route_plan_compute(), as the node
 * does), applies its table as the router does (nft_apply(), owned) inside
 * the namespace it runs in, and reads the policy's counters back as the
 * node's status does.
 *
 *   policytable apply [options] [ENTRY...]
 *       installs the table, prints "applied" and holds it until killed (an
 *       owned table goes with its socket)
 *       --tun NAME        the TUN's name (a veth standing in for it)
 *       --addresses P,... the node's addresses (config `addresses`)
 *       --lan P,...       subnet_router.routes
 *       --snat            subnet_router.snat (else false)
 *       --exit WAN        exit_node.enabled, its wan_interface WAN
 *       --allow           the policy's default "allow" (else "deny")
 *       --alt ENTRY       an entry of the other policy: SIGHUP switches
 *                         between the two (the ENTRYs, and the ENTRYs plus
 *                         every --alt) and applies it as the router applies
 *                         a change, one batch on the same owner socket
 *       ENTRY             "RULE HOOK SRC DST PROTOS PORTS", one argument:
 *                         HOOK input|forward|exit; SRC, DST prefixes
 *                         "P,P" (DST "-" for none); PROTOS "tcp,udp,icmp"
 *                         or "*"; PORTS "22,8000-8080" or "-"
 *   policytable counters
 *       prints "accepted RULE HOOK PACKETS" and "denied HOOK PACKETS" lines
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/filter.h"
#include "config.h"
#include "nft.h"
#include "plan.h"
#include "plan_acl.h"

enum { MAX_PREFIXES = 16, MAX_ENTRIES = 16, MAX_PORTS = 16 };

struct spec {
	const char *tun, *addresses, *lan, *wan;
	bool snat;
	struct acl_filter filter, alt; /* alt: filter's entries and the --alt ones */
	const char *alt_texts[MAX_ENTRIES];
	size_t n_alt;
	struct acl_entry entries[MAX_ENTRIES];
	struct prefix addrs[MAX_ENTRIES][2][MAX_PREFIXES];
	struct acl_port_range ports[MAX_ENTRIES][MAX_PORTS];
};

static int usage(void)
{
	fprintf(stderr, "usage: policytable apply [--tun NAME] [--addresses P,...] [--lan P,...] "
			"[--snat] [--exit WAN] [--allow] [ENTRY...]\n"
			"       policytable counters\n");
	return 2;
}

/* "P,P" into v (room for MAX_PREFIXES); "-" or "" is none. */
static int parse_prefixes(const char *text, struct prefix *v, size_t *n)
{
	char buf[1024], *save = NULL;

	*n = 0;
	snprintf(buf, sizeof(buf), "%s", strcmp(text, "-") ? text : "");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_PREFIXES || prefix_parse(&v[*n], t) < 0) {
			fprintf(stderr, "policytable: bad prefix '%s'\n", t);
			return -EINVAL;
		}
		prefix_mask(&v[(*n)++]);
	}
	return 0;
}

static int parse_hook(const char *text, enum acl_hook *hook)
{
	for (enum acl_hook h = ACL_HOOK_INPUT; h <= ACL_HOOK_EXIT; h++) {
		if (!strcmp(text, plan_acl_hook_name(h))) {
			*hook = h;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_protocols(const char *text, uint8_t *protocols)
{
	char buf[64], *save = NULL;

	*protocols = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "tcp"))
			*protocols |= ACL_PROTO_TCP;
		else if (!strcmp(t, "udp"))
			*protocols |= ACL_PROTO_UDP;
		else if (!strcmp(t, "icmp"))
			*protocols |= ACL_PROTO_ICMP;
		else if (strcmp(t, "*"))
			return -EINVAL;
	}
	return 0;
}

static int parse_ports(const char *text, struct acl_entry *e, struct acl_port_range *v)
{
	e->ports = v;
	e->n_ports = 0;
	for (const char *p = strcmp(text, "-") ? text : ""; *p;) {
		unsigned lo = 0, hi = 0;
		int used = 0;

		if (sscanf(p, "%u-%u%n", &lo, &hi, &used) != 2 &&
		    sscanf(p, "%u%n", &lo, &used) == 1)
			hi = lo;
		if (!used || !lo || lo > hi || hi > 65535 || e->n_ports == MAX_PORTS)
			return -EINVAL;
		v[e->n_ports++] = (struct acl_port_range){ (uint16_t)lo, (uint16_t)hi };
		p += used;
		p += *p == ',';
	}
	return 0;
}

/* "RULE HOOK SRC DST PROTOS PORTS" */
static int parse_entry(struct spec *s, const char *text)
{
	size_t i = s->filter.n_entries;
	struct acl_entry *e = &s->entries[i];
	char hook[16], src[1024], dst[1024], protos[64], ports[256];
	unsigned rule;

	if (i == MAX_ENTRIES || sscanf(text, "%u %15s %1023s %1023s %63s %255s", &rule, hook, src,
				       dst, protos, ports) != 6)
		goto bad;
	e->rule = rule;
	e->src = s->addrs[i][0];
	e->dst = s->addrs[i][1];
	if (parse_hook(hook, &e->hook) < 0 || parse_prefixes(src, e->src, &e->n_src) < 0 ||
	    parse_prefixes(dst, e->dst, &e->n_dst) < 0 ||
	    parse_protocols(protos, &e->protocols) < 0 || parse_ports(ports, e, s->ports[i]) < 0)
		goto bad;
	s->filter.n_entries++;
	return 0;
bad:
	fprintf(stderr, "policytable: bad entry '%s'\n", text);
	return -EINVAL;
}

static int parse_apply(struct spec *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tun", required_argument, NULL, 't' },
		{ "addresses", required_argument, NULL, 'd' },
		{ "lan", required_argument, NULL, 'l' },
		{ "snat", no_argument, NULL, 'n' },
		{ "exit", required_argument, NULL, 'x' },
		{ "allow", no_argument, NULL, 'a' },
		{ "alt", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	s->tun = "meshgate0";
	s->addresses = s->lan = "";
	s->filter = (struct acl_filter){ .present = true, .deny = true, .entries = s->entries };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			s->tun = optarg;
		else if (c == 'd')
			s->addresses = optarg;
		else if (c == 'l')
			s->lan = optarg;
		else if (c == 'n')
			s->snat = true;
		else if (c == 'x')
			s->wan = optarg;
		else if (c == 'a')
			s->filter.deny = false;
		else if (c == 'A' && s->n_alt < MAX_ENTRIES)
			s->alt_texts[s->n_alt++] = optarg;
		else
			return -EINVAL;
	}
	for (; optind < argc; optind++)
		if (parse_entry(s, argv[optind]) < 0)
			return -EINVAL;
	s->alt = s->filter;
	for (size_t i = 0; i < s->n_alt; i++)
		if (parse_entry(s, s->alt_texts[i]) < 0)
			return -EINVAL;
	s->alt.n_entries = s->filter.n_entries;
	s->filter.n_entries -= s->n_alt;
	return 0;
}

/* "P,P" as a libconfig list of strings into out; false when too long. */
static bool conf_list(const char *csv, char *out, size_t len)
{
	char buf[1024], *save = NULL;
	size_t used = (size_t)snprintf(out, len, "[");

	snprintf(buf, sizeof(buf), "%s", csv);
	for (char *t = strtok_r(buf, ",", &save); t && used < len; t = strtok_r(NULL, ",", &save))
		used +=
		    (size_t)snprintf(out + used, len - used, "%s\"%s\"", used > 1 ? ", " : " ", t);
	if (used < len)
		used += (size_t)snprintf(out + used, len - used, " ]");
	return used < len;
}

/* The plan of a static subnet router: its config as text, its host with
 * the policy. */
static int compute(const struct spec *s, const struct acl_filter *f, struct route_plan *plan)
{
	struct mg_config cfg_storage = { 0 }, *cfg = &cfg_storage;
	char addrs[1024], lan[1024], exit_conf[256] = "", conf[4096], err[512];
	struct plan_host host = { .tun_name = s->tun, .mtu = 1420, .policy = f };
	int ret;

	if (!conf_list(s->addresses, addrs, sizeof(addrs)) || !conf_list(s->lan, lan, sizeof(lan)))
		return -EINVAL;
	if (s->wan)
		snprintf(exit_conf, sizeof(exit_conf),
			 "exit_node = { enabled = true; wan_interface = \"%s\"; };\n", s->wan);
	snprintf(conf, sizeof(conf),
		 "addresses = %s;\nsubnet_router = { routes = %s; snat = %s; };\n%s", addrs, lan,
		 s->snat ? "true" : "false", exit_conf);
	ret = config_load_string(conf, "policytable", cfg, err, sizeof(err));
	if (ret == 0) {
		route_plan_free(plan);
		ret = route_plan_compute(cfg, NULL, 0, &host, plan, err, sizeof(err));
	}
	config_free(cfg);
	if (ret < 0)
		fprintf(stderr, "policytable: %s\n", err);
	return ret;
}

/* Holds the table; each SIGHUP switches to the other policy. */
static int hold(struct spec *s, struct nft_ctx *ctx, struct route_plan *plan)
{
	sigset_t hup;
	bool alt = false;
	int sig, ret;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	printf("applied\n");
	fflush(stdout);
	while (sigwait(&hup, &sig) == 0) {
		alt = !alt;
		if ((ret = compute(s, alt ? &s->alt : &s->filter, plan)) < 0 ||
		    (ret = nft_apply(ctx, &plan->nft)) < 0)
			return ret;
		printf("applied %s\n", alt ? "alt" : "first");
		fflush(stdout);
	}
	return -errno;
}

static int cmd_apply(int argc, char **argv)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct route_plan plan = { .exit_peer = -1 };
	struct nft_ctx *ctx = NULL;
	int ret = -ENOMEM;

	if (!s || (ret = parse_apply(s, argc, argv)) < 0 ||
	    (ret = compute(s, &s->filter, &plan)) < 0)
		goto out;
	if ((ret = nft_open(&ctx)) < 0 || (ret = nft_apply(ctx, &plan.nft)) < 0 ||
	    (ret = hold(s, ctx, &plan)) < 0)
		fprintf(stderr, "policytable: %s\n", strerror(-ret));
out:
	nft_close(ctx);
	route_plan_free(&plan);
	free(s);
	return ret == -EINVAL ? usage() : 1;
}

static int cmd_counters(void)
{
	struct nft_policy_counter *v = NULL;
	struct nft_ctx *ctx = NULL;
	size_t n = 0;
	int ret;

	if ((ret = nft_open(&ctx)) < 0 || (ret = nft_policy_counters(ctx, &v, &n)) < 0) {
		fprintf(stderr, "policytable: %s\n", strerror(-ret));
		nft_close(ctx);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].deny)
			printf("denied %s %llu\n", plan_acl_hook_name(v[i].hook),
			       (unsigned long long)v[i].packets);
		else
			printf("accepted %u %s %llu\n", v[i].rule, plan_acl_hook_name(v[i].hook),
			       (unsigned long long)v[i].packets);
	}
	free(v);
	nft_close(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "apply"))
		return cmd_apply(argc - 1, argv + 1);
	if (argc == 2 && !strcmp(argv[1], "counters"))
		return cmd_counters();
	return usage();
}
