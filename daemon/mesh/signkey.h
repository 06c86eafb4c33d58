/*
 * The coordinator's Ed25519 netmap signing key: a seed in
 * state_dir/COORDINATOR_SIGN_KEY_FILE, created on first start.
 */
#ifndef MESHGATE_MESH_SIGNKEY_H
#define MESHGATE_MESH_SIGNKEY_H

#include <stddef.h>
#include <stdint.h>

/* Name of the Ed25519 netmap signing key's seed file under state_dir. */
#define COORDINATOR_SIGN_KEY_FILE "coordinator.key"

/* Loads (or creates) the seed and derives the key pair. -EIO with errbuf. */
int signkey_load(const char *state_dir, uint8_t sign_public[32], uint8_t sign_secret[64],
		 char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
