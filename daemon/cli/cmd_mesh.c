/*
 * Mesh commands: init and join (this node's role), nodes and routes (the
 * coordinator's registry).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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
		cli_print_list(ok);
		fputs("  ", stdout);
		cli_print_list(pending);
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

int cmd_nodes(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	json_t *result;

	if (argc >= 2 && !strcmp(argv[1], "remove")) {
		if (argc != 3)
			return cli_usage_error("nodes remove: which node?");
		result =
		    cli_ask(cli, json_pack("{s:s, s:s}", "cmd", "nodes_remove", "node", argv[2]));
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
		else if (cli_is_help(argv[i]))
			return printf("usage: meshgate nodes [--json]\n"
				      "       meshgate nodes remove NODE\n"
				      "List the mesh's nodes and their devices (on the "
				      "coordinator), or remove a node (its devices go with it).\n"
				      "NODE is a name or an id (digits alone: an id; no name is "
				      "digits and dots alone).\n"),
			       EXIT_OK;
		else
			return cli_usage_error("nodes: unexpected argument '%s'", argv[i]);
	}
	return cli_print_result(cli_ask(cli, json_pack("{s:s}", "cmd", "nodes")), json,
				nodes_human);
}

int cmd_routes(const struct cli *cli, int argc, char **argv)
{
	json_t *prefixes, *result, *v;
	bool approve;
	size_t k;

	if (argc >= 2 && cli_is_help(argv[1]))
		return printf("usage: meshgate routes approve|unapprove NODE PREFIX...\n"
			      "Approve (or withdraw the approval of) routes NODE advertises.\n"
			      "The coordinator's own routes and exit are approved by its config.\n"
			      "NODE is a name or an id (digits alone: an id; no name is digits and "
			      "dots alone).\n"),
		       EXIT_OK;
	if (argc < 4 || (strcmp(argv[1], "approve") && strcmp(argv[1], "unapprove")))
		return cli_usage_error("routes: approve|unapprove NODE PREFIX...");
	approve = !strcmp(argv[1], "approve");
	prefixes = json_array();
	for (int i = 3; prefixes && i < argc; i++)
		json_array_append_new(prefixes, json_string(argv[i]));
	result = cli_ask(cli, json_pack("{s:s, s:s, s:o}", "cmd",
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

int cmd_init(const struct cli *cli, int argc, char **argv)
{
	json_t *result;

	if (argc == 2 && cli_is_help(argv[1]))
		return printf("usage: meshgate init\n"
			      "Make this node the coordinator of a new mesh (kept in state_dir, "
			      "over coordinator.enabled);\nthen `meshgate invite` makes codes for "
			      "the other nodes.\n"),
		       EXIT_OK;
	if (argc != 1)
		return cli_usage_error("init: unexpected argument '%s'", argv[1]);
	result = cli_ask(cli, json_pack("{s:s}", "cmd", "init"));
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

int cmd_join(const struct cli *cli, int argc, char **argv)
{
	json_t *result;
	const char *state, *code = NULL;
	bool force = false;

	if (argc == 2 && cli_is_help(argv[1]))
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
			return cli_usage_error("join: unexpected argument '%s'", argv[i]);
	}
	if (!code)
		return cli_usage_error("join: one invite code, please");
	result =
	    cli_ask(cli, json_pack("{s:s, s:s, s:b}", "cmd", "join", "code", code, "force", force));
	for (int i = 0; result && i < 40; i++) {
		state = json_string_value(json_object_get(result, "state"));
		if (!state || strcmp(state, "joining"))
			break;
		json_decref(result);
		usleep(500000);
		result = cli_ask(cli, json_pack("{s:s}", "cmd", "join_status"));
	}
	if (!result)
		return EXIT_FAIL;
	state = json_string_value(json_object_get(result, "state"));
	if (!state || strcmp(state, "joined")) {
		const char *why = json_string_value(json_object_get(result, "error"));
		int ret = cli_fail("join: %s", why ? why : "no answer from the coordinator");
		json_decref(result);
		return ret;
	}
	printf("joined as %s, addresses ", json_string_value(json_object_get(result, "name")));
	cli_print_list(json_object_get(result, "addresses"));
	putchar('\n');
	json_decref(result);
	return EXIT_OK;
}
