/*
 * A struct mesh_dh over a private key the test holds, for the join boxes
 * and relay keys (the daemon's comes from the engine: wg_device_static_dh).
 * DH_OF(priv) is a pointer valid for the enclosing block.
 */
#ifndef MESHGATE_TEST_DH_H
#define MESHGATE_TEST_DH_H

#include <sodium.h>

#include "mesh/dh.h"

static inline bool test_dh_with(void *priv, uint8_t out[32], const uint8_t pub[32])
{
	return crypto_scalarmult(out, priv, pub) == 0;
}

#define DH_OF(priv) (&(const struct mesh_dh){ test_dh_with, (void *)(priv) })

#endif
