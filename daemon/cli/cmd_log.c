/*
 * meshgate log: the coordinator's audit log (mesh/audit.h), one line per
 * entry, oldest first: "2026-12-03 18:04:12 root approve-route home
 * 192.168.77.0/24" (local time), or its entries as JSON.
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

enum { LOG_DEFAULT_ENTRIES = 1000 };

/* "30s", "30m", "1h", "2d": that long before now. */
static bool relative_time(const char *text, time_t now, int64_t *out)
{
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char *end;
	long long n;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno || end[0] == '\0' || end[1] != '\0')
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit && n <= INT64_MAX / 86400) {
			*out = (int64_t)now - n * units[i].seconds;
			return true;
		}
	return false;
}

/* ISO 8601: a date, then optionally "T" or " " and HH:MM[:SS], then
 * optionally "Z" (UTC); local time without it. */
static bool iso_time(const char *text, int64_t *out)
{
	static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					       "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d" };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = { .tm_isdst = -1 };
		const char *rest = strptime(text, formats[i], &tm);
		time_t t;

		if (!rest || (rest[0] && strcmp(rest, "Z")))
			continue;
		t = rest[0] ? timegm(&tm) : mktime(&tm);
		if (t == (time_t)-1)
			return false;
		*out = (int64_t)t;
		return true;
	}
	return false;
}

int cli_time_parse(const char *text, time_t now, int64_t *out)
{
	if (relative_time(text, now, out) || iso_time(text, out))
		return *out < 0 ? -ERANGE : 0;
	return -EINVAL;
}

static void log_human(const json_t *result)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(result, "entries"), i, e)
	{
		time_t t = (time_t)json_integer_value(json_object_get(e, "time"));
		const char *fields[] = { "actor", "action", "subject", "detail" };
		char when[32] = "?";
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fputs(when, stdout);
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			const char *v = json_string_value(json_object_get(e, fields[k]));

			if (v && v[0])
				printf(" %s", v);
		}
		putchar('\n');
	}
}

/* Asks page after page (the daemon holds one at a time): lines go out as
 * they come; --json gathers the entries into one document. */
static int log_print(const struct cli *cli, int64_t since, long long limit, bool json)
{
	json_t *all = json ? json_array() : NULL, *page;
	json_int_t after = 0;
	bool more = true;

	while (more) {
		json_t *entries;

		page = cli_ask(cli, json_pack("{s:s, s:I, s:I, s:I}", "cmd", "log", "since",
					      (json_int_t)since, "limit", (json_int_t)limit,
					      "after", after));
		if (!page) {
			json_decref(all);
			return EXIT_FAIL;
		}
		entries = json_object_get(page, "entries");
		more = json_is_true(json_object_get(page, "more")) && json_array_size(entries);
		after = json_integer_value(
		    json_object_get(json_array_get(entries, json_array_size(entries) - 1), "id"));
		if (json)
			json_array_extend(all, entries);
		else
			log_human(page);
		json_decref(page);
	}
	if (!json)
		return EXIT_OK;
	return cli_print_result(json_pack("{s:o}", "entries", all), true, log_human);
}

static int log_help(void)
{
	printf("usage: meshgate log [--since TIME] [-n N] [--json]\n"
	       "The coordinator's audit log, oldest first: joins, node removals, route and exit\n"
	       "approvals, devices, invites and policy changes, with who made them (the local\n"
	       "user who ran the command, or node:NAME for a node acting over the mesh).\n"
	       "  --since TIME  entries from TIME on: ISO 8601 (2026-12-03, 2026-12-03T18:04,\n"
	       "                2026-12-03 18:04:12; local time, UTC with a final Z) or a time\n"
	       "                ago: 30s, 30m, 1h, 2d\n"
	       "  -n N          the last N entries (default %d; 0: all that are kept)\n"
	       "  --json        the entries as JSON (time in Unix seconds)\n",
	       LOG_DEFAULT_ENTRIES);
	return EXIT_OK;
}

int cmd_log(const struct cli *cli, int argc, char **argv)
{
	int64_t since = 0;
	long long limit = LOG_DEFAULT_ENTRIES;
	bool json = false, missing = false;
	const char *v;
	char *end;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i]))
			return log_help();
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if ((v = cli_option_value("--since", argc, argv, &i, &missing))) {
			if (cli_time_parse(v, time(NULL), &since) < 0)
				return cli_usage_error("log: --since '%s' is no time (2026-12-03, "
						       "2026-12-03T18:04:12Z, 30m, 1h, 2d)",
						       v);
		} else if ((v = cli_option_value("-n", argc, argv, &i, &missing))) {
			errno = 0;
			limit = strtoll(v, &end, 10);
			if (errno || end == v || *end || limit < 0)
				return cli_usage_error("log: -n '%s' is not a count", v);
		} else {
			return cli_usage_error(missing ? "log: %s needs a value"
						       : "log: unexpected argument '%s'",
					       argv[i]);
		}
	}
	return log_print(cli, since, limit, json);
}
