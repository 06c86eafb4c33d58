/*
 * Preferences: set (this node's overrides of the config file), exit-node list.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "status_format.h"

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
		return cli_usage_error("set: %.*s takes =true or =false", (int)(eq - arg), arg);
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
		v = cli_option_value("--exit-node", argc, argv, i, &missing);
		if (!v || !v[0])
			return cli_usage_error("set: --exit-node takes NAME, auto or none");
		return json_object_set_new(req, "exit_node", json_string(v)), -1;
	}
	if (is_option(arg, "--advertise-routes")) {
		v = cli_option_value("--advertise-routes", argc, argv, i, &missing);
		if (!v)
			return cli_usage_error(
			    "set: --advertise-routes takes PREFIX,... (\"\": none)");
		return json_object_set_new(req, "advertise_routes", prefix_list_arg(v)), -1;
	}
	return cli_usage_error("set: unknown option '%s'", arg);
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
			json_array_size(v) ? cli_print_list(v) : (void)printf("none");
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

int cmd_set(const struct cli *cli, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", "set"), *result;
	int ret = -1;

	if (argc == 2 && cli_is_help(argv[1])) {
		json_decref(req);
		return fputs(set_usage, stdout), EXIT_OK;
	}
	for (int i = 1; req && ret < 0 && i < argc; i++)
		ret = set_option(req, argc, argv, &i);
	if (ret >= 0) {
		json_decref(req);
		return ret;
	}
	result = cli_ask(cli, req);
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
		else if (cli_is_help(argv[i]))
			return fputs(exit_node_usage, stdout), EXIT_OK;
		else
			return cli_usage_error("exit-node list: unknown option '%s'", argv[i]);
	}
	status = cli_fetch_status(cli);
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
	return fflush(stdout) == 0 ? EXIT_OK : cli_fail("cannot write: %s", strerror(errno));
}

int cmd_exit_node(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return exit_node_list(cli, argc, argv);
	if (argc == 2 && cli_is_help(argv[1]))
		return fputs(exit_node_usage, stdout), EXIT_OK;
	if (argc < 2)
		return cli_usage_error("exit-node: list?");
	return cli_usage_error("exit-node: unknown subcommand '%s' (list)", argv[1]);
}
