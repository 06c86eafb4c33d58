/*
 * Fuzzes the configuration loader: libconfig parsing and all of our
 * validation, through config_load_string(). Must never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libconfig 1.5's scanner loses the string it is reading when a syntax error
 * interrupts it (mtu = 1."" ...): leaks inside the library, not ours. Our
 * code allocates nothing while libconfig's frames are on the stack, so this
 * hides none of our own leaks.
 */
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_config cfg;
	char err[1024];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(text, "fuzz.conf", &cfg, err, sizeof(err)) == 0) {
		/* Exercise the helpers on whatever loaded. */
		for (size_t i = 0; i < cfg.n_peers; i++)
			(void)config_peer_equal(&cfg.peers[i], &cfg.peers[cfg.n_peers - 1 - i]);
	}
	config_free(&cfg);
	free(text);
	return 0;
}
