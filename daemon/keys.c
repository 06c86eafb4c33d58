/* Key text form, generation and key files; see keys.h. */
#include "keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "wg/crypto.h"

void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(out, KEY_B64_LEN + 1, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

bool key_from_base64(uint8_t key[KEY_LEN], const char *text)
{
	size_t len, start = 0, end = strlen(text);
	const char *last = NULL;

	while (start < end && isspace((unsigned char)text[start]))
		start++;
	while (end > start && isspace((unsigned char)text[end - 1]))
		end--;
	if (end - start != KEY_B64_LEN)
		return false;
	if (sodium_base642bin(key, KEY_LEN, text + start, KEY_B64_LEN, NULL, &len, &last,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != KEY_LEN || last != text + end) {
		sodium_memzero(key, KEY_LEN);
		return false;
	}
	return true;
}

void key_generate_private(uint8_t key[KEY_LEN])
{
	randombytes_buf(key, KEY_LEN);
	x25519_clamp(key);
}

bool key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	return x25519_public(pub, priv);
}

void key_short(char out[16], const uint8_t pub[KEY_LEN])
{
	char full[KEY_B64_LEN + 1];
	key_to_base64(full, pub);
	memcpy(out, full, 8);
	memcpy(out + 8, "\xe2\x80\xa6", 4); /* U+2026 */
}

static int mkdir_parent(const char *path)
{
	char copy[PATH_MAX];
	if (strlen(path) >= sizeof(copy))
		return -ENAMETOOLONG;
	strcpy(copy, path);
	const char *dir = dirname(copy);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int key_file_create(const char *path, uint8_t key[KEY_LEN])
{
	char text[KEY_B64_LEN + 2];
	int ret = mkdir_parent(path);

	if (ret < 0)
		return ret;
	key_generate_private(key);
	key_to_base64(text, key);
	text[KEY_B64_LEN] = '\n';
	ret = atomicfile_write(path, text, KEY_B64_LEN + 1, 0600, ATOMICFILE_NOREPLACE);
	sodium_memzero(text, sizeof(text));
	return ret;
}

int key_file_load(const char *path, uint8_t key[KEY_LEN], bool create, const char **why)
{
	char text[128];
	ssize_t n;
	int fd, ret = 0;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && create)
			return key_file_create(path, key);
		return -errno;
	}
	n = read(fd, text, sizeof(text) - 1);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	text[n] = '\0';
	if (!key_from_base64(key, text)) {
		*why = "not a base64 WireGuard key (44 characters, as `wg genkey` prints)";
		ret = -EINVAL;
	}
out:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return ret;
}
