/*
 * WireGuard keys in their text form: 32 bytes as standard base64 with
 * padding (44 characters), exactly as `wg genkey` / `wg pubkey` print them.
 */
#ifndef MESHGATE_KEYS_H
#define MESHGATE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KEY_LEN = 32, KEY_B64_LEN = 44 };

/* Writes a NUL-terminated base64 form of key into out[KEY_B64_LEN + 1]. */
void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);

/* Parses a base64 key, ignoring surrounding white space; false if invalid. */
bool key_from_base64(uint8_t key[KEY_LEN], const char *text);

/* Fills key with a fresh clamped X25519 private key. */
void key_generate_private(uint8_t key[KEY_LEN]);

/* Derives the public key; false for a private key that is not usable. */
bool key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);

/* A short printable form for logs: the first 8 base64 characters and "…". */
void key_short(char out[16], const uint8_t pub[KEY_LEN]);

/*
 * Reads a key file (one base64 key, like wg's). With create set and the file
 * missing, generates a private key and writes it with mode 0600, creating the
 * directory (0700) if needed. Returns 0 or -errno; on -EINVAL *why says what
 * is wrong with the file's content.
 */
int key_file_load(const char *path, uint8_t key[KEY_LEN], bool create, const char **why);

#endif
