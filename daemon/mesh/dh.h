/*
 * X25519 with this node's static key, computed where the key lives (the
 * engine, wg_device_static_dh()): the join boxes and the relay keys take
 * one of these instead of the private key, which never leaves daemon/wg/.
 */
#ifndef MESHGATE_MESH_DH_H
#define MESHGATE_MESH_DH_H

#include <stdbool.h>
#include <stdint.h>

/* fn: out = X25519(static private, pub); false for a low-order pub or no
 * key (out is then not used). */
struct mesh_dh {
	bool (*fn)(void *ctx, uint8_t out[32], const uint8_t pub[32]);
	void *ctx;
};

/* crypto_box's key for the pair: HSalsa20 over the DH, as
 * crypto_box_beforenm() derives it. -EINVAL when the DH fails. */
int mesh_dh_box_key(const struct mesh_dh *dh, const uint8_t pub[32], uint8_t k[32]);

#endif
