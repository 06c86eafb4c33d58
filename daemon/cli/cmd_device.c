/*
 * Stock WireGuard devices (phones, laptops): device add, list, remove.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config.h"
#include "dns/zone.h"
#include "keys.h"
#include "netaddr.h"
#include "qr.h"
#include "status_format.h"
#include "wgquick.h"

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

/* The checks of each argument; returns -1 to go on, or an exit code. */
static int device_add_check(const struct device_add_args *a)
{
	struct endpoint ep;
	uint8_t key[KEY_LEN];

	if (!a->name)
		return cli_fail("device add: which device? (meshgate device add NAME)");
	if (!config_name_valid(a->name))
		return cli_fail(
		    "device add: '%s' is not a valid device name (1 to %d letters, digits, "
		    "'-', '_' or '.', not digits and dots alone)",
		    a->name, CONFIG_NAME_MAX);
	if (a->endpoint && endpoint_parse(&ep, a->endpoint) < 0)
		return cli_fail(
		    "device add: --endpoint '%s' is not HOST:PORT or [IPV6]:PORT with a "
		    "port from 1 to 65535",
		    a->endpoint);
	if (a->public_key && !key_from_base64(key, a->public_key))
		return cli_fail(
		    "device add: --public-key '%s' is not a WireGuard public key (32 bytes "
		    "of base64, as `wg pubkey` prints)",
		    a->public_key);
	if (a->png && !a->png[0])
		return cli_fail("device add: --qr-png needs a FILE");
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
			value = cli_option_value(with_value[k], argc, argv, &i, &missing);
			if (value || missing)
				break;
		}
		if (missing)
			return cli_fail("device add: %s needs a value", argv[i]);
		if (value)
			*dst[k] = value;
		else if (cli_is_help(argv[i]))
			return fputs(device_usage, stdout), EXIT_OK;
		else if (!strcmp(argv[i], "--exit"))
			a->exit_node = true;
		else if (!strcmp(argv[i], "--qr"))
			a->qr = true;
		else if (argv[i][0] == '-')
			return cli_fail("device add: unknown option '%s'", argv[i]);
		else if (a->name)
			return cli_fail("device add: one name, please (unexpected '%s')", argv[i]);
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
	json_t *result = cli_ask(cli, request), *id;
	const char *state;

	for (int polls = 0; result; polls++) {
		state = json_string_value(json_object_get(result, "state"));
		id = json_object_get(result, "request");
		if (state && !strcmp(state, "done"))
			return result;
		if (!state || strcmp(state, "pending") || !id) {
			cli_fail("%s: unexpected answer from meshgated", what);
			break;
		}
		if (polls == DEVICE_POLLS) {
			cli_fail(
			    "%s: no answer from the coordinator within %d s (see meshgate device "
			    "list)",
			    what, DEVICE_POLLS * DEVICE_POLL_USEC / 1000000);
			break;
		}
		id = json_incref(id);
		json_decref(result);
		usleep(DEVICE_POLL_USEC);
		result =
		    cli_ask(cli, json_pack("{s:s, s:o}", "cmd", "device_status", "request", id));
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

/* The device's DNS name when the hub gives it the resolver: its label
 * (dns/zone.h) under the search domain; NULL without one. A node whose
 * name maps to the same label keeps it (status dns.skipped says so). */
static const char *device_dns_name(const struct wgquick_config *c, char *out, size_t len)
{
	char label[DNS_LABEL_MAX + 1];

	if (!c->device || !c->n_dns || !c->n_dns_search || !dns_label_from_name(c->device, label))
		return NULL;
	return (size_t)snprintf(out, len, "%s.%s", label, c->dns_search[0]) < len ? out : NULL;
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
	char *text = NULL, fqdn[256];
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
		c.dns_name = device_dns_name(&c, fqdn, sizeof(fqdn));
	if (ret == 0)
		ret = wgquick_format(&c, &text);
	if (ret < 0)
		cli_fail("device add: %s was added, but meshgated's answer makes no valid "
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
		return cli_fail("device add: no QR code for this configuration (%s); use the text "
				"above",
				strerror(-ret));
	if (a->qr) {
		putchar('\n');
		if (qr_write_terminal(&qr, QR_TERMINAL_QUIET, stdout) < 0)
			ret = cli_fail("device add: cannot write: %s", strerror(errno));
	}
	if (ret == 0 && a->png && (ret = qr_write_png(&qr, a->png)) < 0)
		ret = cli_fail("device add: cannot write %s: %s", a->png, strerror(-ret));
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
	if (private_key && cli_stdout_world_readable())
		fputs("meshgate: warning: the device's private key goes to a file others can read "
		      "(umask 077 first)\n",
		      stderr);
	fputs(text, stdout);
	if (a->qr || a->png)
		ret = device_qr(a, text);
	if (fflush(stdout) != 0 && ret == EXIT_OK)
		ret = cli_fail("device add: cannot write: %s", strerror(errno));
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
		return cli_fail("device add: cannot write %s: %s", a.png, strerror(-ret));
	if (a.public_key) {
		if (!key_from_base64(pub, a.public_key))
			return cli_fail("device add: --public-key is not a key");
	} else {
		/* The device's key pair: only the public half leaves this process. */
		key_generate_private(priv);
		if (!key_public_from_private(pub, priv)) {
			sodium_memzero(priv, sizeof(priv));
			return cli_fail("device add: cannot derive a public key");
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
		else if (cli_is_help(argv[i]))
			return fputs(device_usage, stdout), EXIT_OK;
		else
			return cli_fail("device list: unexpected argument '%s'", argv[i]);
	}
	status = cli_fetch_status(cli);
	if (!status)
		return EXIT_FAIL;
	devices = json_object_get(status, "devices");
	devices = json_is_array(devices) ? json_incref(devices) : json_array();
	json_decref(status);
	return cli_print_result(devices, json, devices_human);
}

static int device_remove(const struct cli *cli, int argc, char **argv)
{
	json_t *result;

	if (argc == 3 && cli_is_help(argv[2]))
		return fputs(device_usage, stdout), EXIT_OK;
	if (argc < 3)
		return cli_fail("device remove: which device?");
	if (argc > 3)
		return cli_fail("device remove: one name, please (unexpected '%s')", argv[3]);
	result = device_call(cli, "device remove",
			     json_pack("{s:s, s:s}", "cmd", "device_remove", "name", argv[2]));
	if (!result)
		return EXIT_FAIL;
	printf("removed %s: its key is revoked and its address free\n", argv[2]);
	json_decref(result);
	return EXIT_OK;
}

int cmd_device(const struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return device_add(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return device_list(cli, argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "remove"))
		return device_remove(cli, argc, argv);
	if (argc == 2 && cli_is_help(argv[1]))
		return fputs(device_usage, stdout), EXIT_OK;
	if (argc < 2)
		return cli_fail("device: add, list or remove?");
	return cli_fail("device: unknown subcommand '%s' (add, list or remove)", argv[1]);
}
