/*
 * Status commands: status (this node and its peers), ping (a peer through
 * the mesh).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ping.h"
#include "status_format.h"

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	json_t *result;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (cli_is_help(argv[i]))
			return printf("usage: meshgate status [--json]\n"
				      "Show this node and its peers; --json prints the status "
				      "document.\n"),
			       EXIT_OK;
		else
			return cli_usage_error("status: unknown option '%s'", argv[i]);
	}
	result = cli_fetch_status(cli);
	if (!result)
		return EXIT_FAIL;
	if (json) {
		json_dumpf(result, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		status_format_human(stdout, result, time(NULL));
	}
	json_decref(result);
	return fflush(stdout) == 0 ? EXIT_OK : cli_fail("cannot write: %s", strerror(errno));
}

/* The peer named by `want`: its name, one of its addresses, or its key. */
static json_t *find_peer(json_t *status, const char *want)
{
	size_t i, j;
	json_t *peer, *addr;

	json_array_foreach(json_object_get(status, "peers"), i, peer)
	{
		const char *name = json_string_value(json_object_get(peer, "name"));
		const char *key = json_string_value(json_object_get(peer, "public_key"));
		if ((name && !strcmp(name, want)) || (key && !strcmp(key, want)))
			return peer;
		json_array_foreach(json_object_get(peer, "addresses"), j, addr)
		{
			const char *a = json_string_value(addr);
			size_t n = strlen(want);
			if (a && !strncmp(a, want, n) && (a[n] == '/' || a[n] == '\0'))
				return peer;
		}
	}
	return NULL;
}

/* The address to probe: the peer's first IPv4 mesh address, else its first. */
static bool ping_target(json_t *peer, struct prefix *out)
{
	size_t i;
	json_t *addr;
	bool found = false;

	json_array_foreach(json_object_get(peer, "addresses"), i, addr)
	{
		struct prefix p;
		if (!json_is_string(addr) || prefix_parse(&p, json_string_value(addr)) < 0)
			continue;
		if (!found || (p.family == AF_INET && out->family != AF_INET))
			*out = p;
		found = true;
	}
	return found;
}

/* "direct 203.0.113.2:41641", "relay", "none": the peer's path now. */
static void describe_path(const struct cli *cli, const char *name, char *out, size_t len)
{
	json_t *status = cli_fetch_status(cli), *peer = status ? find_peer(status, name) : NULL;
	const char *path = json_string_value(json_object_get(peer, "path"));
	const char *endpoint = json_string_value(json_object_get(peer, "endpoint"));

	snprintf(out, len, "%s%s%s", path ? path : "unknown", endpoint ? " " : "",
		 endpoint ? endpoint : "");
	json_decref(status);
}

static int parse_count(const char *text, unsigned *count)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text == '\0' || *end || v == 0 || v > 1000)
		return -1;
	*count = (unsigned)v;
	return 0;
}

int cmd_ping(const struct cli *cli, int argc, char **argv)
{
	unsigned count = 3, replies = 0;
	uint64_t rtt, min = UINT64_MAX, max = 0, sum = 0;
	const char *want = NULL;
	char name[128], addr[PREFIX_STR_LEN], path[128];
	struct prefix target;
	struct pinger pinger;
	json_t *status, *peer;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return printf("usage: meshgate ping [-c COUNT] PEER\n"
				      "Send COUNT (default 3) probes through the mesh to PEER (a "
				      "name, mesh address or public key); report path and RTT.\n"),
			       EXIT_OK;
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			if (parse_count(argv[++i], &count) < 0)
				return cli_usage_error("ping: -c takes a count from 1 to 1000");
		} else if (argv[i][0] == '-' || want) {
			return cli_usage_error("ping: unexpected argument '%s'", argv[i]);
		} else {
			want = argv[i];
		}
	}
	if (!want)
		return cli_usage_error("ping: which peer?");
	status = cli_fetch_status(cli);
	if (!status)
		return EXIT_FAIL;
	peer = find_peer(status, want);
	if (!peer || !ping_target(peer, &target)) {
		json_decref(status);
		return cli_fail(peer ? "ping: %s has no mesh address" : "ping: no peer '%s'", want);
	}
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(peer, "name")));
	json_decref(status);
	prefix_format_addr(&target, addr, sizeof(addr));
	ret = pinger_open(&pinger, &target);
	if (ret < 0)
		return cli_fail("ping: cannot open an ICMP socket: %s", strerror(-ret));
	for (unsigned seq = 1; seq <= count; seq++) {
		ret = pinger_probe(&pinger, (uint16_t)seq, 2000, &rtt);
		describe_path(cli, name, path, sizeof(path));
		if (ret == 0) {
			printf("pong from %s (%s) via %s in %.2f ms\n", name, addr, path,
			       (double)rtt / 1000);
			replies++;
			sum += rtt;
			min = rtt < min ? rtt : min;
			max = rtt > max ? rtt : max;
		} else {
			printf("no reply from %s (%s) within 2 s (path %s)\n", name, addr, path);
		}
		fflush(stdout);
		if (seq < count)
			usleep(500000);
	}
	pinger_close(&pinger);
	if (!replies)
		return cli_fail("ping: no reply from %s", name);
	printf("%s: %u/%u replies, rtt min/avg/max %.2f/%.2f/%.2f ms\n", name, replies, count,
	       (double)min / 1000, (double)sum / replies / 1000, (double)max / 1000);
	return EXIT_OK;
}
