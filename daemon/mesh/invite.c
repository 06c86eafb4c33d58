/*
 * Invite codes (format in invite.h): encoding to and decoding from
 * "mg1-" + base64url, and the hash of a secret the registry keeps.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mesh/invite.h"

static const char prefix[] = MESH_INVITE_PREFIX;

/* Versions a future meshgate might write; a higher first byte is damage. */
enum { INVITE_VERSION_PLAUSIBLE = 15 };

/* The BLAKE2b key that separates this hash from any other use of the
 * secret (16..64 bytes). */
static const char hash_key[] = "meshgate invite secret hash v1";

_Static_assert(sizeof(prefix) - 1 == 4, "INVITE_CODE_MAX counts a 4-character prefix");
_Static_assert(INVITE_HASH_LEN == crypto_generichash_BYTES, "hash length");
_Static_assert(sizeof(hash_key) - 1 >= crypto_generichash_KEYBYTES_MIN, "hash key length");

void invite_secret_hash(const uint8_t secret[MESH_SECRET_LEN], uint8_t out[INVITE_HASH_LEN])
{
	crypto_generichash(out, INVITE_HASH_LEN, secret, MESH_SECRET_LEN, (const uint8_t *)hash_key,
			   sizeof(hash_key) - 1);
}

void invite_clear(struct invite *inv)
{
	sodium_memzero(inv, sizeof(*inv));
}

static size_t endpoint_text(const struct endpoint *ep, char out[ENDPOINT_STR_LEN])
{
	endpoint_format(ep, out, ENDPOINT_STR_LEN);
	return strlen(out);
}

static bool endpoints_encodable(const struct endpoint *eps, size_t n)
{
	char text[ENDPOINT_STR_LEN];

	if (n > INVITE_MAX_ENDPOINTS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (endpoint_text(&eps[i], text) > INVITE_ENDPOINT_TEXT_MAX)
			return false;
	return true;
}

int invite_generate(struct invite *inv, const uint8_t coordinator_key[KEY_LEN],
		    const struct endpoint *endpoints, size_t n_endpoints)
{
	memset(inv, 0, sizeof(*inv));
	if (!endpoints_encodable(endpoints, n_endpoints))
		return -EINVAL;
	memcpy(inv->coordinator_key, coordinator_key, KEY_LEN);
	if (n_endpoints)
		memcpy(inv->endpoints, endpoints, n_endpoints * sizeof(*endpoints));
	inv->n_endpoints = n_endpoints;
	randombytes_buf(inv->secret, sizeof(inv->secret));
	return 0;
}

/* The binary form into bin (INVITE_BINARY_MAX); returns its length or
 * -EINVAL. */
static int serialise(const struct invite *inv, uint8_t *bin)
{
	char text[ENDPOINT_STR_LEN];
	uint64_t id = htole64(inv->id);
	size_t n = 0;

	if (!endpoints_encodable(inv->endpoints, inv->n_endpoints))
		return -EINVAL;
	bin[n++] = INVITE_VERSION;
	memcpy(bin + n, inv->coordinator_key, KEY_LEN);
	n += KEY_LEN;
	memcpy(bin + n, &id, 8);
	n += 8;
	memcpy(bin + n, inv->secret, MESH_SECRET_LEN);
	n += MESH_SECRET_LEN;
	bin[n++] = (uint8_t)inv->n_endpoints;
	for (size_t i = 0; i < inv->n_endpoints; i++) {
		size_t len = endpoint_text(&inv->endpoints[i], text);
		bin[n++] = (uint8_t)len;
		memcpy(bin + n, text, len);
		n += len;
	}
	return (int)n;
}

int invite_encode(const struct invite *inv, char *out, size_t len)
{
	uint8_t bin[INVITE_BINARY_MAX];
	int n = serialise(inv, bin);
	int ret = 0;

	if (n < 0)
		return n;
	if (len <
	    sizeof(prefix) - 1 +
		sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
		ret = -ENOSPC;
		goto out;
	}
	memcpy(out, prefix, sizeof(prefix) - 1);
	sodium_bin2base64(out + sizeof(prefix) - 1, len - (sizeof(prefix) - 1), bin, (size_t)n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
out:
	sodium_memzero(bin, sizeof(bin));
	return ret;
}

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A cursor over the binary form. */
struct reader {
	const uint8_t *p;
	size_t left;
};

static bool take(struct reader *r, void *dst, size_t n)
{
	if (r->left < n)
		return false;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

static bool read_endpoint(struct reader *r, struct endpoint *ep)
{
	char text[INVITE_ENDPOINT_TEXT_MAX + 1];
	uint8_t len;

	if (!take(r, &len, 1) || !take(r, text, len))
		return false;
	text[len] = '\0';
	return strlen(text) == len && endpoint_parse(ep, text) == 0;
}

/* The binary form into inv; false if it is not one. */
static bool parse(const uint8_t *bin, size_t n, struct invite *inv)
{
	struct reader r = { bin, n };
	uint8_t version, count;
	uint64_t id;

	if (!take(&r, &version, 1) || version != INVITE_VERSION ||
	    !take(&r, inv->coordinator_key, KEY_LEN) || !take(&r, &id, 8) ||
	    !take(&r, inv->secret, MESH_SECRET_LEN) || !take(&r, &count, 1) ||
	    count > INVITE_MAX_ENDPOINTS)
		return false;
	inv->id = le64toh(id);
	for (inv->n_endpoints = 0; inv->n_endpoints < count; inv->n_endpoints++)
		if (!read_endpoint(&r, &inv->endpoints[inv->n_endpoints]))
			return false;
	return r.left == 0 && !sodium_is_zero(inv->coordinator_key, KEY_LEN);
}

/* The code without the white space around it: [*start, *start + *len). */
static void trim(const char *code, const char **start, size_t *len)
{
	size_t n;

	while (isspace((unsigned char)*code))
		code++;
	n = strlen(code);
	while (n && isspace((unsigned char)code[n - 1]))
		n--;
	*start = code;
	*len = n;
}

int invite_decode(const char *code, struct invite *inv, char *errbuf, size_t errlen)
{
	const size_t plen = sizeof(prefix) - 1;
	uint8_t bin[INVITE_BINARY_MAX];
	size_t len, bin_len = 0;
	const char *text;
	int ret = 0;

	memset(inv, 0, sizeof(*inv));
	trim(code, &text, &len);
	if (len < plen || memcmp(text, prefix, plen) != 0)
		return fail(errbuf, errlen, "not a meshgate invite code (it starts with %s)",
			    prefix);
	if (len >= INVITE_CODE_MAX)
		return fail(errbuf, errlen, "invite code is too long (copy only the code)");
	if (sodium_base642bin(bin, sizeof(bin), text + plen, len - plen, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		ret = fail(errbuf, errlen, "invite code is damaged (copy it whole)");
	} else if (bin_len >= 1 && bin[0] > INVITE_VERSION && bin[0] <= INVITE_VERSION_PLAUSIBLE) {
		ret = fail(errbuf, errlen,
			   "invite code is from a newer meshgate (version %u; this one reads %u)",
			   bin[0], INVITE_VERSION);
	} else if (!parse(bin, bin_len, inv)) {
		ret = fail(errbuf, errlen, "invite code is damaged (copy it whole)");
	}
	if (ret < 0)
		invite_clear(inv);
	sodium_memzero(bin, sizeof(bin));
	return ret;
}

const char *invite_source_name(enum invite_source src)
{
	return src == INVITE_FROM_CONFIG ? "config" : src == INVITE_FROM_STUN ? "stun" : "local";
}

static bool listed(const struct endpoint *v, size_t n, const struct endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].port == ep->port && !strcmp(v[i].host, ep->host))
			return true;
	return false;
}

static void add(struct endpoint *out, enum invite_source *src, size_t *n, size_t max,
		const struct endpoint *ep, enum invite_source from)
{
	if (*n >= max || listed(out, *n, ep))
		return;
	out[*n] = *ep;
	src[(*n)++] = from;
}

size_t invite_endpoints_order(const struct endpoint *config, size_t n_config,
			      const struct endpoint *stun, const struct endpoint *local,
			      size_t n_local, struct endpoint *out, enum invite_source *src,
			      size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < n_config; i++)
		add(out, src, &n, max, &config[i], INVITE_FROM_CONFIG);
	/* A STUN address that is the host's own: no NAT in between. */
	if (stun && !listed(local, n_local, stun))
		add(out, src, &n, max, stun, INVITE_FROM_STUN);
	for (size_t i = 0; i < n_local; i++)
		add(out, src, &n, max, &local[i], INVITE_FROM_LOCAL);
	return n;
}

static bool ipv4_global(const uint8_t *a)
{
	return !(a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224 ||
		 (a[0] == 100 && (a[1] & 0xc0) == 64) || (a[0] == 169 && a[1] == 254) ||
		 (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168));
}

bool invite_endpoint_global(const struct endpoint *ep)
{
	const struct in6_addr *a6 = &ep->addr.in6.sin6_addr;

	if (!ep->numeric)
		return true;
	if (ep->addr.sa.sa_family == AF_INET)
		return ipv4_global((const uint8_t *)&ep->addr.in.sin_addr);
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return ipv4_global(a6->s6_addr + 12);
	return !(IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LOOPBACK(a6) ||
		 IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_MULTICAST(a6) ||
		 (a6->s6_addr[0] & 0xfe) == 0xfc);
}
