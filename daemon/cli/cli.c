/*
 * What the command files share: one-line errors and usage errors, a command's
 * --help, a request to the daemon and the printing of its answer.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "control_client.h"

int __attribute__((format(printf, 1, 2))) cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("meshgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int __attribute__((format(printf, 1, 2))) cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("meshgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'meshgate --help'.\n", stderr);
	return EXIT_USAGE;
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Handles a command's -h/--help and refuses any other argument. */
int cli_no_arguments(const struct command *cmd, int argc, char **argv, bool *done)
{
	*done = true;
	if (argc == 2 && cli_is_help(argv[1])) {
		printf("usage: meshgate %s%s%s\n%s\n", cmd->name, cmd->args[0] ? " " : "",
		       cmd->args, cmd->summary);
		return EXIT_OK;
	}
	if (argc > 1)
		return cli_usage_error("%s: unexpected argument '%s'", cmd->name, argv[1]);
	*done = false;
	return EXIT_OK;
}

/* Whether stdout is a file others can read (a printed key would be theirs). */
bool cli_stdout_world_readable(void)
{
	struct stat st;

	return fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO);
}

/* Sends request (consumed) and returns the result, or NULL after printing. */
json_t *cli_ask(const struct cli *cli, json_t *request)
{
	json_t *result = NULL;
	char err[512];

	if (!request) {
		cli_fail("out of memory");
		return NULL;
	}
	if (control_request(cli->socket, request, &result, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		result = NULL;
	}
	json_decref(request);
	return result;
}

/* Asks the daemon for its status document; NULL after printing why. */
json_t *cli_fetch_status(const struct cli *cli)
{
	return cli_ask(cli, json_pack("{s:s}", "cmd", "status"));
}

/* Prints a command's result (released here): as JSON with --json, else as
 * human(); EXIT_FAIL when there is none (cli_ask() said why). */
int cli_print_result(json_t *result, bool json, void (*human)(const json_t *result))
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

void cli_print_list(const json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_array_size(arr))
		fputs("-", stdout);
	json_array_foreach(arr, i, v) printf("%s%s", i ? "," : "", json_string_value(v));
}

/*
 * The value of option opt at argv[*i], written "OPT VALUE" or "OPT=VALUE".
 * NULL when argv[*i] is not opt; *missing is set when it is, without value.
 */
const char *cli_option_value(const char *opt, int argc, char **argv, int *i, bool *missing)
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
