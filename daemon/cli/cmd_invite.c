/*
 * The coordinator's invite codes: print, list, revoke; the warning when the
 * code names an endpoint other nodes may not reach.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* "90", "90s", "30m", "12h", "7d" in seconds; -1 when it is none of these. */
static long long parse_duration(const char *text)
{
	char *end;
	long long v = strtoll(text, &end, 10);

	if (end == text || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	return *end && end[1] ? -1 : v;
}

static void time_text(char *buf, size_t len, json_int_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, len, "-");
}

/* One line per invite: id, created, expires, kind, last use, live. */
static void invites_human(const json_t *invites)
{
	char created[32], expires[32], used[32];
	size_t i;
	json_t *v;

	printf("%-5s %-20s %-20s %-8s %-32s %s\n", "ID", "CREATED", "EXPIRES", "KIND", "USED",
	       "LIVE");
	json_array_foreach(invites, i, v)
	{
		const char *by = json_string_value(json_object_get(v, "used_by"));
		json_int_t exp = json_integer_value(json_object_get(v, "expires_at"));
		char use[64];

		time_text(created, sizeof(created),
			  json_integer_value(json_object_get(v, "created_at")));
		time_text(expires, sizeof(expires), exp);
		time_text(used, sizeof(used), json_integer_value(json_object_get(v, "used_at")));
		snprintf(use, sizeof(use), "%s%s%s", used, by ? " by " : "", by ? by : "");
		printf("%-5lld %-20s %-20s %-8s %-32s %s\n",
		       (long long)json_integer_value(json_object_get(v, "id")), created,
		       exp ? expires : "never",
		       json_is_true(json_object_get(v, "reusable")) ? "reusable" : "once", use,
		       json_is_true(json_object_get(v, "live")) ? "yes" : "no");
	}
}

static int invite_list(const struct cli *cli, int argc, char **argv)
{
	bool json = false;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return cli_usage_error("invite list: unexpected argument '%s'", argv[i]);
	}
	return cli_print_result(cli_ask(cli, json_pack("{s:s}", "cmd", "invite_list")), json,
				invites_human);
}

static int invite_revoke(const struct cli *cli, int argc, char **argv)
{
	char *end;
	unsigned long long id;
	json_t *result;

	if (argc != 3)
		return cli_usage_error(
		    "invite revoke: which invite id? (see meshgate invite list)");
	errno = 0;
	id = strtoull(argv[2], &end, 10);
	if (errno || !*argv[2] || *end || id < 1 || id > INT64_MAX)
		return cli_usage_error("invite revoke: '%s' is not an invite id", argv[2]);
	result =
	    cli_ask(cli, json_pack("{s:s, s:I}", "cmd", "invite_revoke", "id", (json_int_t)id));
	if (!result)
		return EXIT_FAIL;
	printf("revoked invite %llu: its code no longer joins\n", id);
	json_decref(result);
	return EXIT_OK;
}

/* The host part of an endpoint's text ("[v6]:port" or "v4:port"). */
static void endpoint_host(const char *ep, char *out, size_t len)
{
	const char *colon = strrchr(ep, ':');
	size_t n = colon ? (size_t)(colon - ep) : strlen(ep);

	if (n >= 2 && ep[0] == '[' && ep[n - 1] == ']') {
		ep++;
		n -= 2;
	}
	snprintf(out, len, "%.*s", (int)n, ep);
}

/* The host's LAN address for the port-forward advice: its first local
 * IPv4 endpoint, else its first local one. */
static void lan_address(const json_t *eps, char *out, size_t len)
{
	const char *first = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(eps, i, v)
	{
		const char *ep = json_string_value(json_object_get(v, "endpoint"));
		if (!ep || strcmp(json_string_value(json_object_get(v, "source")), "local"))
			continue;
		if (!first)
			first = ep;
		if (ep[0] != '[') {
			first = ep;
			break;
		}
	}
	if (first)
		endpoint_host(first, out, len);
	else
		snprintf(out, len, "this host's LAN address");
}

/*
 * Warns on stderr when an invite cannot work from outside the LAN: every
 * endpoint is private (the two fixes: a port forward, and
 * coordinator.endpoints), or the only public one came from STUN with no
 * port forward known (it works only if the NAT lets unsolicited packets
 * in). The daemon's facts say where each endpoint came from.
 */
static void invite_warn(const json_t *facts)
{
	const json_t *eps = json_object_get(facts, "endpoints"),
		     *stun = json_object_get(facts, "stun");
	int port = (int)json_integer_value(json_object_get(facts, "listen_port"));
	const char *pub = json_string_value(json_object_get(stun, "public_endpoint"));
	const char *stun_ep = NULL, *error = json_string_value(json_object_get(stun, "error"));
	bool global = false, configured = false;
	char lan[64];
	size_t i;
	json_t *v;

	json_array_foreach(eps, i, v)
	{
		const char *src = json_string_value(json_object_get(v, "source"));
		if (!json_is_true(json_object_get(v, "global")))
			continue;
		global = true;
		configured |= !strcmp(src, "config");
		if (!strcmp(src, "stun"))
			stun_ep = json_string_value(json_object_get(v, "endpoint"));
	}
	lan_address(eps, lan, sizeof(lan));
	if (!global) {
		fprintf(
		    stderr,
		    "warning: this invite holds only private addresses: it works on this LAN "
		    "only. To join from outside:\n"
		    "  1. forward UDP port %d on the home router to this host's LAN address "
		    "%s, and\n"
		    "  2. set coordinator.endpoints = [\"your.public.name:%d\"] in the config "
		    "(a DDNS name works; names are re-resolved), reload, and make a new invite.\n",
		    port, lan, port);
		if (pub && !strcmp(json_string_value(json_object_get(stun, "nat")), "symmetric"))
			fprintf(stderr,
				"STUN saw %s, but this host's NAT maps each destination to another "
				"port (symmetric NAT): that address is no use without the port "
				"forward, so the invite leaves it out.\n",
				pub);
		else if (json_integer_value(json_object_get(stun, "servers")) == 0)
			fprintf(stderr, "(STUN is off: coordinator.stun = [])\n");
		else if (error)
			fprintf(stderr, "(STUN found no public address: %s)\n", error);
		return;
	}
	if (stun_ep && !configured &&
	    json_integer_value(json_object_get(facts, "port_reached_by")) == 0)
		fprintf(
		    stderr,
		    "note: %s was learned by STUN; it works from outside only if the router lets "
		    "unsolicited UDP in: forward UDP port %d to %s and set "
		    "coordinator.endpoints to be sure.\n",
		    stun_ep, port, lan);
}

int cmd_invite(const struct cli *cli, int argc, char **argv)
{
	long long ttl = 24 * 3600;
	bool reusable = false, json = false;
	json_t *result;

	if (argc >= 2 && !strcmp(argv[1], "list"))
		return invite_list(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "revoke"))
		return invite_revoke(cli, argc, argv);
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return printf(
				   "usage: meshgate invite [--reusable] [--ttl DURATION] [--json]\n"
				   "       meshgate invite list [--json]\n"
				   "       meshgate invite revoke ID\n"
				   "Print an invite code (valid 24h unless --ttl, e.g. 30m, "
				   "7d, 0 for never; single use unless --reusable), list the "
				   "invites (never their secrets) or revoke one. --json: the "
				   "code with its endpoints and where each came from (config, "
				   "stun, local). A warning on stderr says when the invite "
				   "cannot work from outside the LAN, and what to change.\n"),
			       EXIT_OK;
		if (!strcmp(argv[i], "--reusable"))
			reusable = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) {
			ttl = parse_duration(argv[++i]);
			if (ttl < 0)
				return cli_usage_error(
				    "invite: --ttl takes a duration like 90s, 30m, "
				    "12h or 7d");
		} else
			return cli_usage_error("invite: unexpected argument '%s'", argv[i]);
	}
	result = cli_ask(cli, json_pack("{s:s, s:I, s:b}", "cmd", "invite", "ttl", (json_int_t)ttl,
					"reusable", reusable));
	if (!result)
		return EXIT_FAIL;
	if (json) {
		json_dumpf(result, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		printf("%s\n", json_string_value(json_object_get(result, "code")));
	fflush(stdout);
	invite_warn(json_object_get(result, "facts"));
	json_decref(result);
	return EXIT_OK;
}
