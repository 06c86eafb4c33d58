/* The netmap signing key's file; see signkey.h. */
#include "mesh/signkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "atomicfile.h"

int signkey_load(const char *state_dir, uint8_t sign_public[32], uint8_t sign_secret[64],
		 char *errbuf, size_t errlen)
{
	char path[4096];
	uint8_t seed[crypto_sign_SEEDBYTES];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", state_dir, COORDINATOR_SIGN_KEY_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, seed, sizeof(seed));
		close(fd);
	} else if (errno == ENOENT) {
		randombytes_buf(seed, sizeof(seed));
		if (atomicfile_write(path, seed, sizeof(seed), 0600, ATOMICFILE_NOREPLACE) == 0)
			n = sizeof(seed);
	}
	if (n != (ssize_t)sizeof(seed)) {
		snprintf(errbuf, errlen, "%s: cannot read or create the netmap signing key", path);
		sodium_memzero(seed, sizeof(seed));
		return -EIO;
	}
	crypto_sign_seed_keypair(sign_public, sign_secret, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}
