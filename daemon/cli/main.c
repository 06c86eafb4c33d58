/*
 * meshgate: the command-line client. Key commands work offline (genkey,
 * pubkey, interchangeable with `wg genkey` / `wg pubkey`); the others ask
 * meshgated over its control socket (control_client.h).
 *
 * This file holds the global options, the command table and the dispatch;
 * each family of commands has its file: cmd_keys.c (genkey, pubkey),
 * cmd_status.c (status, ping), cmd_mesh.c (init, join, nodes, routes),
 * cmd_invite.c (invite), cmd_device.c (device), cmd_prefs.c (set,
 * exit-node), cmd_log.c (log), cmd_policy.c (policy). cli.h/cli.c are what
 * they share: errors, --help, requests.
 *
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"

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
	{ "log", "[--since TIME] [-n N] [--json]",
	  "Coordinator: the audit log (who changed the mesh).", cmd_log },
	{ "device", "add NAME | list | remove NAME",
	  "Stock WireGuard devices (phones, laptops): config and QR code.", cmd_device },
	{ "policy", "check FROM TO [PROTO:PORT] | show",
	  "Access policy: explain a decision (coordinator), the entries enforced here.",
	  cmd_policy },
	{ "exit-node", "list [--json]", "Peers offering an exit node, and the one in use.",
	  cmd_exit_node },
	{ "genkey", "", "Print a new private key (base64).", cmd_genkey },
	{ "pubkey", "", "Read a private key on stdin; print its public key.", cmd_pubkey },
};

const struct command *command_find(const char *name)
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
				return cli_usage_error("--socket needs a PATH");
			cli->socket = argv[i];
		} else if (!strncmp(arg, "--socket=", 9)) {
			cli->socket = arg + 9;
		} else if (!strcmp(arg, "--version") && out == 1) {
			printf("meshgate %s\n", MESHGATE_VERSION);
			return EXIT_OK;
		} else if (cli_is_help(arg) && out == 1) {
			print_help();
			return EXIT_OK;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	if (!cli->socket[0])
		return cli_usage_error("--socket needs a PATH");
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
		return cli_usage_error("no command given");
	cmd = command_find(argv[1]);
	if (!cmd)
		return cli_usage_error(
		    argv[1][0] == '-' ? "unknown option '%s'" : "unknown command '%s'", argv[1]);
	if (sodium_init() < 0)
		return cli_fail("cannot initialise libsodium");
	return cmd->run(&cli, argc - 1, argv + 1);
}
