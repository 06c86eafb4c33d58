/*
 * What the meshgate command files (cmd_*.c) share: the CLI's state, the
 * command table's entry, exit codes, errors, requests to meshgated, and the
 * commands main.c dispatches to.
 */
#ifndef MESHGATE_CLI_H
#define MESHGATE_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

/* The command table's entry for name (main.c), or NULL. */
const struct command *command_find(const char *name);

/* "meshgate: " and the message on stderr; return EXIT_FAIL / EXIT_USAGE. */
int __attribute__((format(printf, 1, 2))) cli_fail(const char *fmt, ...);
int __attribute__((format(printf, 1, 2))) cli_usage_error(const char *fmt, ...);
bool cli_is_help(const char *arg);
int cli_no_arguments(const struct command *cmd, int argc, char **argv, bool *done);
bool cli_stdout_world_readable(void);
const char *cli_option_value(const char *opt, int argc, char **argv, int *i, bool *missing);

json_t *cli_ask(const struct cli *cli, json_t *request);
json_t *cli_fetch_status(const struct cli *cli);
int cli_print_result(json_t *result, bool json, void (*human)(const json_t *result));
void cli_print_list(const json_t *arr);

int cmd_genkey(const struct cli *cli, int argc, char **argv);
int cmd_pubkey(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_ping(const struct cli *cli, int argc, char **argv);
int cmd_init(const struct cli *cli, int argc, char **argv);
int cmd_join(const struct cli *cli, int argc, char **argv);
int cmd_invite(const struct cli *cli, int argc, char **argv);
int cmd_nodes(const struct cli *cli, int argc, char **argv);
int cmd_routes(const struct cli *cli, int argc, char **argv);
int cmd_device(const struct cli *cli, int argc, char **argv);
int cmd_set(const struct cli *cli, int argc, char **argv);
int cmd_exit_node(const struct cli *cli, int argc, char **argv);
int cmd_policy(const struct cli *cli, int argc, char **argv);
int cmd_log(const struct cli *cli, int argc, char **argv);

/* A time for --since: ISO 8601 (local, or UTC with a final Z) or a time
 * before now ("30m", "1h", "2d"). 0 with *out in Unix seconds, -EINVAL. */
int cli_time_parse(const char *text, time_t now, int64_t *out);

#endif
