/*
 * Big-endian (network order) loads and stores at any byte address, for
 * wire headers that sit unaligned in a buffer. Header-only and libc-only,
 * so that the engine (daemon/wg/) may include it. ntohs() on an aligned
 * struct field needs none of this.
 */
#ifndef MESHGATE_BIGENDIAN_H
#define MESHGATE_BIGENDIAN_H

#include <stdint.h>

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

#endif
