/*
 * meshgate policy: check a flow against the coordinator's access policy
 * (exit status as test(1): 0 allowed, 1 denied, 2 anything else), show the
 * entries this node enforces.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: meshgate policy check FROM TO [PROTO:PORT]\n"
    "       meshgate policy show [--json]\n"
    "check (on the coordinator): whether FROM (a node or device) may reach TO (a node,\n"
    "device or address, \"exit\" for the internet, \"dns\" for the mesh resolver), and the\n"
    "rule that decides; PROTO:PORT is tcp:22, udp:53, icmp or 443 (TCP or UDP).\n"
    "Exit status: 0 allowed, 1 denied, 2 usage error, unknown name or no answer.\n"
    "show (on any node): the policy's entries this node enforces.\n";

/* A port 1..65535 in text; 0 when it is not one. */
static long port_value(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return text[0] >= '0' && text[0] <= '9' && !*end && v >= 1 && v <= 65535 ? v : 0;
}

/* PROTO:PORT, PROTO or PORT into the request; false when it is none. */
static bool add_flow(json_t *req, const char *flow)
{
	const char *colon = strchr(flow, ':');
	size_t n = colon ? (size_t)(colon - flow) : strlen(flow);
	static const char *const protos[] = { "tcp", "udp", "icmp", "*" };
	long port = 0;

	if (!colon && port_value(flow))
		return json_object_set_new(req, "port", json_integer(port_value(flow))) == 0;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strlen(protos[i]) != n || strncasecmp(flow, protos[i], n))
			continue;
		if (colon && (!strcmp(protos[i], "icmp") || !(port = port_value(colon + 1))))
			return false;
		if (json_object_set_new(req, "proto", json_string(protos[i])) < 0)
			return false;
		return !port || json_object_set_new(req, "port", json_integer(port)) == 0;
	}
	return false;
}

static int policy_check(const struct cli *cli, int argc, char **argv)
{
	json_t *req, *result;
	const char *reason;
	bool allowed;

	if (argc < 4 || argc > 5)
		return cli_usage_error("policy check: FROM TO [PROTO:PORT]");
	req = json_pack("{s:s, s:s, s:s}", "cmd", "policy_check", "from", argv[2], "to", argv[3]);
	if (req && argc == 5 && !add_flow(req, argv[4])) {
		json_decref(req);
		return cli_usage_error("policy check: '%s' is not PROTO:PORT (tcp:22, udp:53, "
				       "icmp, 443)",
				       argv[4]);
	}
	result = cli_ask(cli, req);
	if (!result)
		return EXIT_USAGE;
	allowed = json_is_true(json_object_get(result, "allowed"));
	reason = json_string_value(json_object_get(result, "reason"));
	/* The reason is the checker's sentence: decision, rule and line. */
	printf("%s\n", reason && reason[0] ? reason : allowed ? "allowed" : "denied");
	json_decref(result);
	return allowed ? EXIT_OK : EXIT_FAIL;
}

/* The array's strings joined by ',' into out; empty is dflt. */
static void join(char *out, size_t len, const json_t *arr, const char *dflt)
{
	size_t i, used = 0;
	json_t *v;

	snprintf(out, len, "%s", json_array_size(arr) ? "" : dflt);
	json_array_foreach(arr, i, v)
	{
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "",
					 json_string_value(v) ? json_string_value(v) : "?");
		if (used >= len)
			break;
	}
}

static void policy_human(const json_t *result)
{
	const json_t *entries = json_object_get(result, "entries");
	char protos[32], ports[512], src[4096], dst[4096];
	size_t i;
	json_t *e;

	if (!json_is_true(json_object_get(result, "present"))) {
		printf("no access policy: this node lets the mesh through\n");
		return;
	}
	printf("default %s, revision %lld, %zu entr%s enforced here\n",
	       json_string_value(json_object_get(result, "default")),
	       (long long)json_integer_value(json_object_get(result, "revision")),
	       json_array_size(entries), json_array_size(entries) == 1 ? "y" : "ies");
	if (!json_array_size(entries))
		return;
	printf("%-8s %-5s %-10s %-12s %s\n", "HOOK", "RULE", "PROTO", "PORTS",
	       "SOURCE -> DESTINATION");
	json_array_foreach(entries, i, e)
	{
		join(protos, sizeof(protos), json_object_get(e, "protocols"), "*");
		join(ports, sizeof(ports), json_object_get(e, "ports"), "*");
		join(src, sizeof(src), json_object_get(e, "src"), "-");
		join(dst, sizeof(dst), json_object_get(e, "dst"), "internet");
		printf("%-8s %-5lld %-10s %-12s %s -> %s\n",
		       json_string_value(json_object_get(e, "hook")),
		       (long long)json_integer_value(json_object_get(e, "rule")), protos, ports,
		       src, dst);
	}
}

static int policy_show(const struct cli *cli, int argc, char **argv)
{
	bool json = false;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return cli_usage_error("policy show: unexpected argument '%s'", argv[i]);
		json = true;
	}
	return cli_print_result(cli_ask(cli, json_pack("{s:s}", "cmd", "policy_show")), json,
				policy_human);
}

int cmd_policy(const struct cli *cli, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (cli_is_help(argv[i]))
			return fputs(usage, stdout), EXIT_OK;
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return policy_check(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return policy_show(cli, argc, argv);
	return cli_usage_error("policy: check FROM TO [PROTO:PORT] | show [--json]");
}
