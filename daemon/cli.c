/*
 * meshgate: the command-line client. Key commands work offline (genkey,
 * pubkey, interchangeable with `wg genkey` / `wg pubkey`); the others ask
 * meshgated over its control socket (control_client.h).
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control_client.h"
#include "keys.h"
#include "ping.h"
#include "qr.h"
#include "status_format.h"
#include "wgquick.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli {
	const char *socket; /* the daemon's control socket */
};

struct command {
	const char *name;
	const char *args; /* synopsis after the name */
	const char *summary;
	/* argv[0] is the command name; returns an exit code. */
	int (*run)(const struct cli *cli, int argc, char **argv);
};

static const struct command *command_find(const char *name);

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("meshgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("meshgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'meshgate --help'.\n", stderr);
	return EXIT_USAGE;
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Handles a command's -h/--help and refuses any other argument. */
static int no_arguments(const struct command *cmd, int argc, char **argv, bool *done)
{
	*done = true;
	if (argc == 2 && is_help(argv[1])) {
		printf("usage: meshgate %s%s%s\n%s\n", cmd->name, cmd->args[0] ? " " : "",
		       cmd->args, cmd->summary);
		return EXIT_OK;
	}
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", cmd->name, argv[1]);
	*done = false;
	return EXIT_OK;
}

/* ---- key commands ---- */

/* Whether stdout is a file others can read (a printed key would be theirs). */
static bool stdout_world_readable(void)
{
	struct stat st;

	return fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO);
}

/* Warns, as `wg genkey` does, when the key lands in a file others can read. */
static void warn_world_readable(void)
{
	if (stdout_world_readable())
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n",
		      stderr);
}

static int cmd_genkey(const struct cli *cli, int argc, char **argv)
{
	uint8_t key[KEY_LEN];
	char text[KEY_B64_LEN + 1];
	bool done;
	int ret = no_arguments(command_find("genkey"), argc, argv, &done);

	if (done)
		return ret;
	warn_world_readable();
	key_generate_private(key);
	key_to_base64(text, key);
	printf("%s\n", text);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	return fflush(stdout) == 0 ? EXIT_OK : fail("genkey: cannot write: %s", strerror(errno));
}

static int cmd_pubkey(const struct cli *cli, int argc, char **argv)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char text[KEY_B64_LEN + 64];
	size_t n;
	bool done;
	int ret = no_arguments(command_find("pubkey"), argc, argv, &done);

	if (done)
		return ret;
	n = fread(text, 1, sizeof(text) - 1, stdin);
	text[n] = '\0';
	if (n == sizeof(text) - 1 || !key_from_base64(priv, text) ||
	    !key_public_from_private(pub, priv))
		ret = fail("pubkey: stdin does not hold a base64 private key (as `meshgate genkey` "
			   "prints)");
	sodium_memzero(text, sizeof(text));
	sodium_memzero(priv, sizeof(priv));
	if (ret == EXIT_OK) {
		key_to_base64(text, pub);
		printf("%s\n", text);
	}
	return ret;
}

/* ---- daemon commands ---- */

/* Sends request (consumed) and returns the result, or NULL after printing. */
static json_t *ask(const struct cli *cli, json_t *request)
{
	json_t *result = NULL;
	char err[512];

	if (!request) {
		fail("out of memory");
		return NULL;
	}
	if (control_request(cli->socket, request, &result, err, sizeof(err)) < 0) {
		fail("%s", err);
		result = NULL;
	}
	json_decref(request);
	return result;
}

/* Asks the daemon for its status document; NULL after printing why. */
static json_t *fetch_status(const struct cli *cli)
{
	return ask(cli, json_pack("{s:s}", "cmd", "status"));
}

static int cmd_status(const struct cli *cli, int argc, char **argv)
{
	json_t *result;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (is_help(argv[i]))
			return printf("usage: meshgate status [--json]\n"
				      "Show this node and its peers; --json prints the status "
				      "document.\n"),
			       EXIT_OK;
		else
			return usage_error("status: unknown option '%s'", argv[i]);
	}
	result = fetch_status(cli);
	if (!result)
		return EXIT_FAIL;
	if (json) {
		json_dumpf(result, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		status_format_human(stdout, result, time(NULL));
	}
	json_decref(result);
	return fflush(stdout) == 0 ? EXIT_OK : fail("cannot write: %s", strerror(errno));
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
	json_t *status = fetch_status(cli), *peer = status ? find_peer(status, name) : NULL;
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

static int cmd_ping(const struct cli *cli, int argc, char **argv)
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
		if (is_help(argv[i]))
			return printf("usage: meshgate ping [-c COUNT] PEER\n"
				      "Send COUNT (default 3) probes through the mesh to PEER (a "
				      "name, mesh address or public key); report path and RTT.\n"),
			       EXIT_OK;
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			if (parse_count(argv[++i], &count) < 0)
				return usage_error("ping: -c takes a count from 1 to 1000");
		} else if (argv[i][0] == '-' || want) {
			return usage_error("ping: unexpected argument '%s'", argv[i]);
		} else {
			want = argv[i];
		}
	}
	if (!want)
		return usage_error("ping: which peer?");
	status = fetch_status(cli);
	if (!status)
		return EXIT_FAIL;
	peer = find_peer(status, want);
	if (!peer || !ping_target(peer, &target)) {
		json_decref(status);
		return fail(peer ? "ping: %s has no mesh address" : "ping: no peer '%s'", want);
	}
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(peer, "name")));
	json_decref(status);
	prefix_format_addr(&target, addr, sizeof(addr));
	ret = pinger_open(&pinger, &target);
	if (ret < 0)
		return fail("ping: cannot open an ICMP socket: %s", strerror(-ret));
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
		return fail("ping: no reply from %s", name);
	printf("%s: %u/%u replies, rtt min/avg/max %.2f/%.2f/%.2f ms\n", name, replies, count,
	       (double)min / 1000, (double)sum / replies / 1000, (double)max / 1000);
	return EXIT_OK;
}

/* ---- mesh commands ---- */

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
/* Prints a command's result (released here): as JSON with --json, else as
 * human(); EXIT_FAIL when there is none (ask() said why). */
static int print_result(json_t *result, bool json, void (*human)(const json_t *result))
{
	if (!result)
		return EXIT_FAIL;
	if (json) {
		json_dumpf(result, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		human(result);
	}
	json_decref(result);
	return EXIT_OK;
}

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
			return usage_error("invite list: unexpected argument '%s'", argv[i]);
	}
	return print_result(ask(cli, json_pack("{s:s}", "cmd", "invite_list")), json,
			    invites_human);
}

static int invite_revoke(const struct cli *cli, int argc, char **argv)
{
	char *end;
	unsigned long long id;
	json_t *result;

	if (argc != 3)
		return usage_error("invite revoke: which invite id? (see meshgate invite list)");
	errno = 0;
	id = strtoull(argv[2], &end, 10);
	if (errno || !*argv[2] || *end || id < 1 || id > INT64_MAX)
		return usage_error("invite revoke: '%s' is not an invite id", argv[2]);
	result = ask(cli, json_pack("{s:s, s:I}", "cmd", "invite_revoke", "id", (json_int_t)id));
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

static int cmd_invite(const struct cli *cli, int argc, char **argv)
{
	long long ttl = 24 * 3600;
	bool reusable = false, json = false;
	json_t *result;

	if (argc >= 2 && !strcmp(argv[1], "list"))
		return invite_list(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "revoke"))
		return invite_revoke(cli, argc, argv);
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
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
				return usage_error("invite: --ttl takes a duration like 90s, 30m, "
						   "12h or 7d");
		} else
			return usage_error("invite: unexpected argument '%s'", argv[i]);
	}
	result = ask(cli, json_pack("{s:s, s:I, s:b}", "cmd", "invite", "ttl", (json_int_t)ttl,
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

static void print_list(const json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_array_size(arr))
		fputs("-", stdout);
	json_array_foreach(arr, i, v) printf("%s%s", i ? "," : "", json_string_value(v));
}

/* The devices of every node, one line each, after the nodes. */
static void node_devices_human(const json_t *nodes)
{
	bool header = false;
	size_t i, j;
	json_t *n, *d;

	json_array_foreach(nodes, i, n)
	{
		json_array_foreach(json_object_get(n, "devices"), j, d)
		{
			if (!header)
				printf("\n%-20s %-16s %-20s %s\n", "DEVICE", "ADDRESS", "HUB",
				       "EXIT");
			header = true;
			printf(
			    "%-20s %-16s %-20s %s\n", json_string_value(json_object_get(d, "name")),
			    json_string_value(json_array_get(json_object_get(d, "addresses"), 0)),
			    json_string_value(json_object_get(d, "hub")),
			    json_is_true(json_object_get(d, "exit_node")) ? "yes" : "no");
		}
	}
}

/* One line per node, as `tailscale status`: address, name, state, routes;
 * then the devices. */
static void nodes_human(const json_t *nodes)
{
	size_t i;
	json_t *n;

	printf("%-4s %-16s %-20s %-8s %-22s %s\n", "ID", "ADDRESS", "NAME", "STATE", "ROUTES",
	       "PENDING");
	json_array_foreach(nodes, i, n)
	{
		const json_t *adv = json_object_get(n, "routes_advertised");
		const json_t *ok = json_object_get(n, "routes_approved");
		json_t *pending = json_array();
		size_t j;
		json_t *r;
		json_array_foreach(adv, j, r)
		{
			bool approved = false;
			size_t k;
			json_t *a;
			json_array_foreach(ok, k, a) approved |= json_equal(a, r);
			if (!approved)
				json_array_append(pending, r);
		}
		printf("%-4lld %-16s %-20s %-8s ",
		       (long long)json_integer_value(json_object_get(n, "id")),
		       json_string_value(json_array_get(json_object_get(n, "addresses"), 0)),
		       json_string_value(json_object_get(n, "name")),
		       json_is_true(json_object_get(n, "coordinator"))
			   ? "self"
			   : (json_is_true(json_object_get(n, "online")) ? "online" : "offline"));
		print_list(ok);
		fputs("  ", stdout);
		print_list(pending);
		putchar('\n');
		json_decref(pending);
	}
	node_devices_human(nodes);
}

/* The devices that went with a removed hub. */
static void devices_removed_note(const json_t *names)
{
	size_t i;
	json_t *v;

	if (!json_array_size(names))
		return;
	printf("its device%s went with it (keys revoked): ", json_array_size(names) > 1 ? "s" : "");
	json_array_foreach(names, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
	putchar('\n');
}

/* Whether the removed node could come back by itself. */
static void nodes_removed_note(const json_t *ids)
{
	size_t i;
	json_t *v;

	if (!json_is_array(ids))
		return;
	if (!json_array_size(ids)) {
		printf("no live reusable invite: it needs a new invite to join again\n");
		return;
	}
	printf("live reusable invite%s ", json_array_size(ids) > 1 ? "s" : "");
	json_array_foreach(ids, i, v)
	    printf("%s%lld", i ? ", " : "", (long long)json_integer_value(v));
	printf(" could bring it back (meshgate invite revoke ID)\n");
}

static int cmd_nodes(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	json_t *result;

	if (argc >= 2 && !strcmp(argv[1], "remove")) {
		if (argc != 3)
			return usage_error("nodes remove: which node?");
		result = ask(cli, json_pack("{s:s, s:s}", "cmd", "nodes_remove", "node", argv[2]));
		if (!result)
			return EXIT_FAIL;
		printf("removed %s\n", argv[2]);
		devices_removed_note(json_object_get(result, "devices_removed"));
		nodes_removed_note(json_object_get(result, "live_reusable_invites"));
		json_decref(result);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (is_help(argv[i]))
			return printf("usage: meshgate nodes [--json]\n"
				      "       meshgate nodes remove NODE\n"
				      "List the mesh's nodes and their devices (on the "
				      "coordinator), or remove a node (its devices go with it).\n"
				      "NODE is a name or an id (digits alone: an id; no name is "
				      "digits and dots alone).\n"),
			       EXIT_OK;
		else
			return usage_error("nodes: unexpected argument '%s'", argv[i]);
	}
	return print_result(ask(cli, json_pack("{s:s}", "cmd", "nodes")), json, nodes_human);
}

static int cmd_routes(const struct cli *cli, int argc, char **argv)
{
	json_t *prefixes, *result, *v;
	bool approve;
	size_t k;

	if (argc >= 2 && is_help(argv[1]))
		return printf("usage: meshgate routes approve|unapprove NODE PREFIX...\n"
			      "Approve (or withdraw the approval of) routes NODE advertises.\n"
			      "The coordinator's own routes and exit are approved by its config.\n"
			      "NODE is a name or an id (digits alone: an id; no name is digits and "
			      "dots alone).\n"),
		       EXIT_OK;
	if (argc < 4 || (strcmp(argv[1], "approve") && strcmp(argv[1], "unapprove")))
		return usage_error("routes: approve|unapprove NODE PREFIX...");
	approve = !strcmp(argv[1], "approve");
	prefixes = json_array();
	for (int i = 3; prefixes && i < argc; i++)
		json_array_append_new(prefixes, json_string(argv[i]));
	result = ask(cli, json_pack("{s:s, s:s, s:o}", "cmd",
				    approve ? "routes_approve" : "routes_unapprove", "node",
				    argv[2], "prefixes", prefixes));
	if (!result)
		return EXIT_FAIL;
	printf("%s: %s", argv[2], approve ? "approved" : "unapproved");
	for (int i = 3; i < argc; i++)
		printf(" %s", argv[i]);
	putchar('\n');
	json_array_foreach(json_object_get(result, "warnings"), k, v)
	    printf("warning: %s\n", json_string_value(v));
	json_decref(result);
	return EXIT_OK;
}

static int cmd_init(const struct cli *cli, int argc, char **argv)
{
	json_t *result;

	if (argc == 2 && is_help(argv[1]))
		return printf("usage: meshgate init\n"
			      "Make this node the coordinator of a new mesh (kept in state_dir, "
			      "over coordinator.enabled);\nthen `meshgate invite` makes codes for "
			      "the other nodes.\n"),
		       EXIT_OK;
	if (argc != 1)
		return usage_error("init: unexpected argument '%s'", argv[1]);
	result = ask(cli, json_pack("{s:s}", "cmd", "init"));
	if (!result)
		return EXIT_FAIL;
	if (json_is_true(json_object_get(result, "changed")))
		printf("this node is now a coordinator; `meshgate invite` makes a code for the "
		       "next node\n");
	else
		printf("this node is already a coordinator (%s)\n",
		       json_string_value(json_object_get(result, "origin")));
	json_decref(result);
	return EXIT_OK;
}

static int cmd_join(const struct cli *cli, int argc, char **argv)
{
	json_t *result;
	const char *state, *code = NULL;
	bool force = false;

	if (argc == 2 && is_help(argv[1]))
		return printf("usage: meshgate join [--force] CODE\n"
			      "Join the mesh with an invite code from `meshgate invite`. On a "
			      "coordinator without\nother nodes or devices, this makes it a member "
			      "(its registry is set aside, not deleted);\n--force does so even "
			      "when it has some, which strands them.\n"),
		       EXIT_OK;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (!code && argv[i][0] != '-')
			code = argv[i];
		else
			return usage_error("join: unexpected argument '%s'", argv[i]);
	}
	if (!code)
		return usage_error("join: one invite code, please");
	result =
	    ask(cli, json_pack("{s:s, s:s, s:b}", "cmd", "join", "code", code, "force", force));
	for (int i = 0; result && i < 40; i++) {
		state = json_string_value(json_object_get(result, "state"));
		if (!state || strcmp(state, "joining"))
			break;
		json_decref(result);
		usleep(500000);
		result = ask(cli, json_pack("{s:s}", "cmd", "join_status"));
	}
	if (!result)
		return EXIT_FAIL;
	state = json_string_value(json_object_get(result, "state"));
	if (!state || strcmp(state, "joined")) {
		const char *why = json_string_value(json_object_get(result, "error"));
		int ret = fail("join: %s", why ? why : "no answer from the coordinator");
		json_decref(result);
		return ret;
	}
	printf("joined as %s, addresses ", json_string_value(json_object_get(result, "name")));
	print_list(json_object_get(result, "addresses"));
	putchar('\n');
	json_decref(result);
	return EXIT_OK;
}

/* ---- stock WireGuard devices ---- */

/* A member forwards device_add/device_remove to the coordinator and answers
 * "pending"; the answer is then polled with device_status. */
enum { DEVICE_POLL_USEC = 200 * 1000, DEVICE_POLLS = 75 /* 15 s */ };

struct device_add_args {
	const char *name;
	const char *endpoint;   /* overrides the one the daemon suggests */
	const char *public_key; /* made on the device: no private key here */
	const char *png;        /* --qr-png FILE */
	bool exit_node;
	bool qr; /* draw in the terminal: default when stdout is one */
};

static const char device_usage[] =
    "usage: meshgate device add NAME [--exit] [--endpoint HOST:PORT] [--public-key KEY]\n"
    "                           [--qr] [--qr-png FILE]\n"
    "       meshgate device list [--json]\n"
    "       meshgate device remove NAME\n"
    "Attach a stock WireGuard device (phone, laptop) to this node: print its wg-quick\n"
    "configuration (and, on a terminal or with --qr, a QR code for the WireGuard app;\n"
    "--qr-png writes one as a PNG). The private key is made here and printed once;\n"
    "--public-key takes a key made on the device instead. --exit lets the device use\n"
    "this node's exit; --endpoint sets the address the device dials.\n";

/*
 * The value of option opt at argv[*i], written "OPT VALUE" or "OPT=VALUE".
 * NULL when argv[*i] is not opt; *missing is set when it is, without value.
 */
static const char *option_value(const char *opt, int argc, char **argv, int *i, bool *missing)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 < argc)
		return argv[++*i];
	*missing = true;
	return NULL;
}

/* The checks of each argument; returns -1 to go on, or an exit code. */
static int device_add_check(const struct device_add_args *a)
{
	struct endpoint ep;
	uint8_t key[KEY_LEN];

	if (!a->name)
		return fail("device add: which device? (meshgate device add NAME)");
	if (!config_name_valid(a->name))
		return fail("device add: '%s' is not a valid device name (1 to %d letters, digits, "
			    "'-', '_' or '.', not digits and dots alone)",
			    a->name, CONFIG_NAME_MAX);
	if (a->endpoint && endpoint_parse(&ep, a->endpoint) < 0)
		return fail("device add: --endpoint '%s' is not HOST:PORT or [IPV6]:PORT with a "
			    "port from 1 to 65535",
			    a->endpoint);
	if (a->public_key && !key_from_base64(key, a->public_key))
		return fail("device add: --public-key '%s' is not a WireGuard public key (32 bytes "
			    "of base64, as `wg pubkey` prints)",
			    a->public_key);
	if (a->png && !a->png[0])
		return fail("device add: --qr-png needs a FILE");
	return -1;
}

/* Reads `device add`'s arguments into a; returns -1 to go on, or an exit code. */
static int device_add_parse(int argc, char **argv, struct device_add_args *a)
{
	static const char *const with_value[] = { "--endpoint", "--public-key", "--qr-png" };

	a->qr = isatty(STDOUT_FILENO);
	for (int i = 2; i < argc; i++) {
		const char **dst[] = { &a->endpoint, &a->public_key, &a->png }, *value = NULL;
		bool missing = false;
		size_t k;

		for (k = 0; k < 3; k++) {
			value = option_value(with_value[k], argc, argv, &i, &missing);
			if (value || missing)
				break;
		}
		if (missing)
			return fail("device add: %s needs a value", argv[i]);
		if (value)
			*dst[k] = value;
		else if (is_help(argv[i]))
			return fputs(device_usage, stdout), EXIT_OK;
		else if (!strcmp(argv[i], "--exit"))
			a->exit_node = true;
		else if (!strcmp(argv[i], "--qr"))
			a->qr = true;
		else if (argv[i][0] == '-')
			return fail("device add: unknown option '%s'", argv[i]);
		else if (a->name)
			return fail("device add: one name, please (unexpected '%s')", argv[i]);
		else
			a->name = argv[i];
	}
	return device_add_check(a);
}

/* Whether a PNG can be written at path, asked before the device is added. */
static int png_target_check(const char *path)
{
	char copy[PATH_MAX];
	struct stat st;

	if (strlen(path) >= sizeof(copy))
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	strcpy(copy, path);
	return access(dirname(copy), W_OK) == 0 ? 0 : -errno;
}

/*
 * Sends a device request (consumed) and, while the answer is "pending" (a
 * member waiting for the coordinator), polls device_status every 200 ms for
 * up to 15 s. Returns the final result or NULL after printing why.
 */
static json_t *device_call(const struct cli *cli, const char *what, json_t *request)
{
	json_t *result = ask(cli, request), *id;
	const char *state;

	for (int polls = 0; result; polls++) {
		state = json_string_value(json_object_get(result, "state"));
		id = json_object_get(result, "request");
		if (state && !strcmp(state, "done"))
			return result;
		if (!state || strcmp(state, "pending") || !id) {
			fail("%s: unexpected answer from meshgated", what);
			break;
		}
		if (polls == DEVICE_POLLS) {
			fail("%s: no answer from the coordinator within %d s (see meshgate device "
			     "list)",
			     what, DEVICE_POLLS * DEVICE_POLL_USEC / 1000000);
			break;
		}
		id = json_incref(id);
		json_decref(result);
		usleep(DEVICE_POLL_USEC);
		result = ask(cli, json_pack("{s:s, s:o}", "cmd", "device_status", "request", id));
	}
	json_decref(result);
	return NULL;
}

/* The strings of a JSON array, pointing into it (free() the array only);
 * -EINVAL if not all are strings. */
static int string_array(const json_t *arr, const char *const **out, size_t *n)
{
	const char **v;
	size_t i;
	json_t *item;

	*n = json_array_size(arr);
	*out = v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_array_foreach(arr, i, item)
	{
		v[i] = json_string_value(item);
		if (!v[i])
			return -EINVAL;
	}
	return 0;
}

/* Warns about an endpoint a device could not reach from outside the LAN. */
static void endpoint_warn(const char *hub, const char *endpoint, bool private)
{
	if (!endpoint)
		fprintf(
		    stderr,
		    "meshgate: warning: no endpoint is known for %s, so the config has no "
		    "Endpoint line: give the hub's public HOST:PORT with --endpoint (and forward "
		    "that UDP port to it)\n",
		    hub);
	else if (private)
		fprintf(stderr,
			"meshgate: warning: the endpoint %s is a LAN address: a device outside the "
			"LAN needs --endpoint HOST:PORT (or coordinator.endpoints) and a UDP port "
			"forward to it\n",
			endpoint);
}

/* The wg-quick text for the daemon's answer; NULL after printing why. */
static char *device_config_text(const struct device_add_args *a, const char *private_key,
				const json_t *result)
{
	const json_t *dev = json_object_get(result, "device"),
		     *cfg = json_object_get(result, "config");
	struct wgquick_config c = {
		.device = json_string_value(json_object_get(dev, "name")),
		.hub = json_string_value(json_object_get(cfg, "hub")),
		.private_key = private_key,
		.mtu = (unsigned)json_integer_value(json_object_get(cfg, "mtu")),
		.hub_public_key = json_string_value(json_object_get(cfg, "hub_public_key")),
		.endpoint =
		    a->endpoint ? a->endpoint : json_string_value(json_object_get(cfg, "endpoint")),
		.exit_node = json_is_true(json_object_get(cfg, "exit_node")),
	};
	char *text = NULL;
	int ret = string_array(json_object_get(dev, "addresses"), &c.address, &c.n_address);

	if (ret == 0)
		ret = string_array(json_object_get(cfg, "dns"), &c.dns, &c.n_dns);
	if (ret == 0)
		ret = string_array(json_object_get(cfg, "dns_search"), &c.dns_search,
				   &c.n_dns_search);
	if (ret == 0)
		ret = string_array(json_object_get(cfg, "allowed_ips"), &c.allowed_ips,
				   &c.n_allowed_ips);
	if (ret == 0)
		ret = wgquick_format(&c, &text);
	if (ret < 0)
		fail("device add: %s was added, but meshgated's answer makes no valid "
		     "configuration (%s); remove it with meshgate device remove %s",
		     a->name, strerror(-ret), a->name);
	else if (!a->endpoint)
		endpoint_warn(c.hub, c.endpoint,
			      json_is_true(json_object_get(cfg, "endpoint_private")));
	/* The WireGuard apps refuse to import a tunnel without its key. */
	if (ret == 0 && !private_key)
		fputs("meshgate: warning: the config has no PrivateKey line: put in the key made "
		      "on the device before importing it\n",
		      stderr);
	free((void *)c.address);
	free((void *)c.dns);
	free((void *)c.dns_search);
	free((void *)c.allowed_ips);
	return text;
}

/* Draws the QR code of text as asked; the text is printed already. */
static int device_qr(const struct device_add_args *a, const char *text)
{
	struct qr qr;
	int ret = qr_encode(&qr, text);

	if (ret < 0)
		return fail("device add: no QR code for this configuration (%s); use the text "
			    "above",
			    strerror(-ret));
	if (a->qr) {
		putchar('\n');
		if (qr_write_terminal(&qr, QR_TERMINAL_QUIET, stdout) < 0)
			ret = fail("device add: cannot write: %s", strerror(errno));
	}
	if (ret == 0 && a->png && (ret = qr_write_png(&qr, a->png)) < 0)
		ret = fail("device add: cannot write %s: %s", a->png, strerror(-ret));
	qr_free(&qr);
	return ret;
}

/* Prints the configuration, then its QR code as asked. */
static int device_add_print(const struct device_add_args *a, const char *private_key,
			    const json_t *result)
{
	char *text = device_config_text(a, private_key, result);
	size_t i;
	json_t *v;
	int ret = EXIT_OK;

	if (!text)
		return EXIT_FAIL;
	json_array_foreach(json_object_get(result, "warnings"), i, v)
	    fprintf(stderr, "meshgate: warning: %s\n", json_string_value(v));
	if (private_key && stdout_world_readable())
		fputs("meshgate: warning: the device's private key goes to a file others can read "
		      "(umask 077 first)\n",
		      stderr);
	fputs(text, stdout);
	if (a->qr || a->png)
		ret = device_qr(a, text);
	if (fflush(stdout) != 0 && ret == EXIT_OK)
		ret = fail("device add: cannot write: %s", strerror(errno));
	wgquick_free(text);
	return ret;
}

static int device_add(const struct cli *cli, int argc, char **argv)
{
	struct device_add_args a = { 0 };
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char priv_text[KEY_B64_LEN + 1] = "", pub_text[KEY_B64_LEN + 1];
	json_t *result;
	int ret = device_add_parse(argc, argv, &a);

	if (ret >= 0)
		return ret;
	if (a.png && (ret = png_target_check(a.png)) < 0)
		return fail("device add: cannot write %s: %s", a.png, strerror(-ret));
	if (a.public_key) {
		if (!key_from_base64(pub, a.public_key))
			return fail("device add: --public-key is not a key");
	} else {
		/* The device's key pair: only the public half leaves this process. */
		key_generate_private(priv);
		if (!key_public_from_private(pub, priv)) {
			sodium_memzero(priv, sizeof(priv));
			return fail("device add: cannot derive a public key");
		}
		key_to_base64(priv_text, priv);
		sodium_memzero(priv, sizeof(priv));
	}
	key_to_base64(pub_text, pub);
	result = device_call(cli, "device add",
			     json_pack("{s:s, s:s, s:s, s:b}", "cmd", "device_add", "name", a.name,
				       "public_key", pub_text, "exit", a.exit_node));
	ret = result ? device_add_print(&a, priv_text[0] ? priv_text : NULL, result) : EXIT_FAIL;
	sodium_memzero(priv_text, sizeof(priv_text));
	json_decref(result);
	return ret;
}

/* One line per device: name, address, hub, exit, last handshake, traffic. */
static void devices_human(const json_t *devices)
{
	char addr[PREFIX_STR_LEN], age[32], rx[32], tx[32];
	time_t now = time(NULL);
	size_t i;
	json_t *d;

	if (!json_array_size(devices)) {
		printf("no devices\n");
		return;
	}
	printf("%-20s %-16s %-20s %-5s %-10s %-10s %s\n", "NAME", "ADDRESS", "HUB", "EXIT",
	       "HANDSHAKE", "RX", "TX");
	json_array_foreach(devices, i, d)
	{
		const char *a =
		    json_string_value(json_array_get(json_object_get(d, "addresses"), 0));
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *hub = json_string_value(json_object_get(d, "hub"));

		snprintf(addr, sizeof(addr), "%.*s", a ? (int)strcspn(a, "/") : 1, a ? a : "-");
		snprintf(age, sizeof(age), "-");
		snprintf(rx, sizeof(rx), "-");
		snprintf(tx, sizeof(tx), "-");
		if (json_is_true(json_object_get(d, "attached"))) {
			status_format_age(
			    age, sizeof(age),
			    (time_t)json_integer_value(json_object_get(d, "last_handshake")), now);
			status_format_bytes(
			    rx, sizeof(rx),
			    (uint64_t)json_integer_value(json_object_get(d, "rx_bytes")));
			status_format_bytes(
			    tx, sizeof(tx),
			    (uint64_t)json_integer_value(json_object_get(d, "tx_bytes")));
		}
		printf("%-20s %-16s %-20s %-5s %-10s %-10s %s\n", name ? name : "-", addr,
		       hub ? hub : "-",
		       json_is_true(json_object_get(d, "exit_node")) ? "yes" : "no", age, rx, tx);
	}
}

static int device_list(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	json_t *status, *devices;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (is_help(argv[i]))
			return fputs(device_usage, stdout), EXIT_OK;
		else
			return fail("device list: unexpected argument '%s'", argv[i]);
	}
	status = fetch_status(cli);
	if (!status)
		return EXIT_FAIL;
	devices = json_object_get(status, "devices");
	devices = json_is_array(devices) ? json_incref(devices) : json_array();
	json_decref(status);
	return print_result(devices, json, devices_human);
}

static int device_remove(const struct cli *cli, int argc, char **argv)
{
	json_t *result;

	if (argc == 3 && is_help(argv[2]))
		return fputs(device_usage, stdout), EXIT_OK;
	if (argc < 3)
		return fail("device remove: which device?");
	if (argc > 3)
		return fail("device remove: one name, please (unexpected '%s')", argv[3]);
	result = device_call(cli, "device remove",
			     json_pack("{s:s, s:s}", "cmd", "device_remove", "name", argv[2]));
	if (!result)
		return EXIT_FAIL;
	printf("removed %s: its key is revoked and its address free\n", argv[2]);
	json_decref(result);
	return EXIT_OK;
}

static int cmd_device(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return device_add(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return device_list(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "remove"))
		return device_remove(cli, argc, argv);
	if (argc == 2 && is_help(argv[1]))
		return fputs(device_usage, stdout), EXIT_OK;
	if (argc < 2)
		return fail("device: add, list or remove?");
	return fail("device: unknown subcommand '%s' (add, list or remove)", argv[1]);
}

/* ---- preferences: meshgate set ---- */

static const char set_usage[] =
    "usage: meshgate set [--exit-node NAME|auto|none] [--accept-routes[=true|false]]\n"
    "                    [--advertise-routes PREFIX,...] [--advertise-exit[=true|false]]\n"
    "                    [--reset]\n"
    "Change this node's preferences at run time, over the config file: kept in\n"
    "state_dir/prefs.json across restarts and reloads, applied as a reload applies the\n"
    "file. Preferences not given stay as they are; --reset drops every override first.\n"
    "Without options: print the overrides.\n"
    "  --exit-node NAME     use NAME (a peer's name or mesh address) as the exit node\n"
    "  --exit-node auto     use an online exit node whose offer is approved (the one in\n"
    "                       use stays while it is; see meshgate(1))\n"
    "  --exit-node none     use no exit node, whatever the file says\n"
    "  --accept-routes      install the routes other nodes serve (=false: do not)\n"
    "  --advertise-routes   the LAN prefixes to serve, comma-separated (\"\": none)\n"
    "  --advertise-exit     offer this node as an exit node (=false: do not)\n"
    "  --reset              back to the config file\n";

/* "--name" or "--name=..." */
static bool is_option(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

/* A flag's boolean: bare is true, "=true" or "=false". */
static int set_bool(json_t *req, const char *key, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false"))
		return usage_error("set: %.*s takes =true or =false", (int)(eq - arg), arg);
	json_object_set_new(req, key, json_boolean(!eq || !strcmp(eq + 1, "true")));
	return -1;
}

/* "P1,P2" as a list; "" is none. */
static json_t *prefix_list_arg(const char *text)
{
	json_t *arr = json_array();

	while (arr && *text) {
		size_t n = strcspn(text, ",");
		json_array_append_new(arr, json_stringn(text, n));
		text += n + (text[n] == ',');
	}
	return arr;
}

/* One option into req; -1 to go on, or an exit code. */
static int set_option(json_t *req, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *v;
	bool missing = false;

	if (!strcmp(arg, "--reset"))
		return json_object_set_new(req, "reset", json_true()), -1;
	if (is_option(arg, "--accept-routes"))
		return set_bool(req, "accept_routes", arg);
	if (is_option(arg, "--advertise-exit"))
		return set_bool(req, "advertise_exit", arg);
	if (is_option(arg, "--exit-node")) {
		v = option_value("--exit-node", argc, argv, i, &missing);
		if (!v || !v[0])
			return usage_error("set: --exit-node takes NAME, auto or none");
		return json_object_set_new(req, "exit_node", json_string(v)), -1;
	}
	if (is_option(arg, "--advertise-routes")) {
		v = option_value("--advertise-routes", argc, argv, i, &missing);
		if (!v)
			return usage_error("set: --advertise-routes takes PREFIX,... (\"\": none)");
		return json_object_set_new(req, "advertise_routes", prefix_list_arg(v)), -1;
	}
	return usage_error("set: unknown option '%s'", arg);
}

static const char *const set_labels[][2] = {
	{ "exit_node", "exit node" },
	{ "accept_routes", "accept routes" },
	{ "advertise_routes", "advertise routes" },
	{ "advertise_exit", "advertise exit" },
};

/* One override per line, or that there is none. */
static void overrides_print(const json_t *result)
{
	const json_t *over = json_object_get(result, "overrides");
	const char *error = json_string_value(json_object_get(result, "error"));
	bool any = false;

	for (size_t i = 0; i < sizeof(set_labels) / sizeof(set_labels[0]); i++) {
		const json_t *v = json_object_get(over, set_labels[i][0]);
		if (!v)
			continue;
		any = true;
		printf("%s: ", set_labels[i][1]);
		if (json_is_array(v))
			json_array_size(v) ? print_list(v) : (void)printf("none");
		else if (json_is_string(v))
			printf("%s", json_string_value(v));
		else
			printf("%s", json_is_true(v) ? "true" : "false");
		putchar('\n');
	}
	if (!any)
		printf("no overrides; the config file decides\n");
	if (error)
		printf("note: %s\n", error);
}

static int cmd_set(const struct cli *cli, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", "set"), *result;
	int ret = -1;

	if (argc == 2 && is_help(argv[1])) {
		json_decref(req);
		return fputs(set_usage, stdout), EXIT_OK;
	}
	for (int i = 1; req && ret < 0 && i < argc; i++)
		ret = set_option(req, argc, argv, &i);
	if (ret >= 0) {
		json_decref(req);
		return ret;
	}
	result = ask(cli, req);
	if (!result)
		return EXIT_FAIL;
	overrides_print(result);
	json_decref(result);
	return EXIT_OK;
}

static const char exit_node_usage[] =
    "usage: meshgate exit-node list [--json]\n"
    "List the peers that offer an exit node: approved or pending approval, online or\n"
    "offline, path, last handshake; \"*\" marks the one internet traffic goes through.\n"
    "When use_exit_node names an exit that cannot carry traffic, says why (traffic\n"
    "is then blocked, never sent outside the mesh). --json prints the list.\n";

/* `meshgate exit-node list`: a view of the status document. */
static int exit_node_list(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	json_t *status, *list;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (is_help(argv[i]))
			return fputs(exit_node_usage, stdout), EXIT_OK;
		else
			return usage_error("exit-node list: unknown option '%s'", argv[i]);
	}
	status = fetch_status(cli);
	if (!status)
		return EXIT_FAIL;
	if (json) {
		list = status_exit_nodes(status);
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(list);
	} else {
		status_format_exit_nodes(stdout, status, time(NULL));
	}
	json_decref(status);
	return fflush(stdout) == 0 ? EXIT_OK : fail("cannot write: %s", strerror(errno));
}

static int cmd_exit_node(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return exit_node_list(cli, argc, argv);
	if (argc == 2 && is_help(argv[1]))
		return fputs(exit_node_usage, stdout), EXIT_OK;
	if (argc < 2)
		return usage_error("exit-node: list?");
	return usage_error("exit-node: unknown subcommand '%s' (list)", argv[1]);
}

static const struct command commands[] = {
	{ "status", "[--json]", "Show this node and its peers.", cmd_status },
	{ "ping", "[-c N] PEER", "Probe PEER through the mesh: path and round-trip time.",
	  cmd_ping },
	{ "init", "", "Make this node the coordinator of a new mesh.", cmd_init },
	{ "join", "[--force] CODE", "Join a mesh with an invite code.", cmd_join },
	{ "set", "[--exit-node N|auto|none] ...",
	  "Change this node's preferences over the config file.", cmd_set },
	{ "invite", "[--reusable] [--ttl D] [--json] | list | revoke ID",
	  "Coordinator: print, list or revoke invite codes.", cmd_invite },
	{ "nodes", "[--json] | remove NODE", "Coordinator: list or remove nodes.", cmd_nodes },
	{ "routes", "approve|unapprove NODE PREFIX...", "Coordinator: route approvals.",
	  cmd_routes },
	{ "device", "add NAME | list | remove NAME",
	  "Stock WireGuard devices (phones, laptops): config and QR code.", cmd_device },
	{ "exit-node", "list [--json]", "Peers offering an exit node, and the one in use.",
	  cmd_exit_node },
	{ "genkey", "", "Print a new private key (base64).", cmd_genkey },
	{ "pubkey", "", "Read a private key on stdin; print its public key.", cmd_pubkey },
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_help(void)
{
	printf("usage: meshgate [--socket PATH] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char synopsis[64];
		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name, commands[i].args);
		printf("  %-20s %s\n", synopsis, commands[i].summary);
	}
	printf("\nOptions:\n"
	       "  --socket PATH        meshgated's control socket (default %s)\n"
	       "  -h, --help           show this help (COMMAND --help: the command's)\n"
	       "  --version            print the version\n",
	       CONFIG_DEFAULT_CONTROL_SOCKET);
}

/*
 * Takes the global options out of argv wherever they stand (before or after
 * the command), leaving the command and its arguments. Returns -1 to go on,
 * or an exit code.
 */
static int global_options(struct cli *cli, int *argc, char **argv)
{
	int out = 1;
	bool literal = false;

	for (int i = 1; i < *argc; i++) {
		const char *arg = argv[i];
		if (literal || arg[0] != '-') {
			argv[out++] = argv[i];
		} else if (!strcmp(arg, "--")) {
			literal = true;
		} else if (!strcmp(arg, "--socket")) {
			if (++i == *argc)
				return usage_error("--socket needs a PATH");
			cli->socket = argv[i];
		} else if (!strncmp(arg, "--socket=", 9)) {
			cli->socket = arg + 9;
		} else if (!strcmp(arg, "--version") && out == 1) {
			printf("meshgate %s\n", MESHGATE_VERSION);
			return EXIT_OK;
		} else if (is_help(arg) && out == 1) {
			print_help();
			return EXIT_OK;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	if (!cli->socket[0])
		return usage_error("--socket needs a PATH");
	return -1;
}

int main(int argc, char **argv)
{
	struct cli cli = { .socket = CONFIG_DEFAULT_CONTROL_SOCKET };
	const struct command *cmd;
	int ret = global_options(&cli, &argc, argv);

	if (ret >= 0)
		return ret;
	if (argc < 2)
		return usage_error("no command given");
	cmd = command_find(argv[1]);
	if (!cmd)
		return usage_error(
		    argv[1][0] == '-' ? "unknown option '%s'" : "unknown command '%s'", argv[1]);
	if (sodium_init() < 0)
		return fail("cannot initialise libsodium");
	return cmd->run(&cli, argc - 1, argv + 1);
}
