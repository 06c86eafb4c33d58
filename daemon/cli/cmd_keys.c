/*
 * Key commands: genkey, pubkey. They work offline, interchangeable with
 * `wg genkey` / `wg pubkey`.
 */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "keys.h"

/* Warns, as `wg genkey` does, when the key lands in a file others can read. */
static void warn_world_readable(void)
{
	if (cli_stdout_world_readable())
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n",
		      stderr);
}

int cmd_genkey(const struct cli *cli, int argc, char **argv)
{
	uint8_t key[KEY_LEN];
	char text[KEY_B64_LEN + 1];
	bool done;
	int ret = cli_no_arguments(command_find("genkey"), argc, argv, &done);

	if (done)
		return ret;
	warn_world_readable();
	key_generate_private(key);
	key_to_base64(text, key);
	printf("%s\n", text);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	return fflush(stdout) == 0 ? EXIT_OK
				   : cli_fail("genkey: cannot write: %s", strerror(errno));
}

int cmd_pubkey(const struct cli *cli, int argc, char **argv)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char text[KEY_B64_LEN + 64];
	size_t n;
	bool done;
	int ret = cli_no_arguments(command_find("pubkey"), argc, argv, &done);

	if (done)
		return ret;
	n = fread(text, 1, sizeof(text) - 1, stdin);
	text[n] = '\0';
	if (n == sizeof(text) - 1 || !key_from_base64(priv, text) ||
	    !key_public_from_private(pub, priv))
		ret = cli_fail(
		    "pubkey: stdin does not hold a base64 private key (as `meshgate genkey` "
		    "prints)");
	sodium_memzero(text, sizeof(text));
	sodium_memzero(priv, sizeof(priv));
	if (ret == EXIT_OK) {
		key_to_base64(text, pub);
		printf("%s\n", text);
	}
	return ret;
}
