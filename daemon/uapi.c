/*
 * The UAPI protocol core: get dumps the device and its peers, set applies a
 * list of key=value lines (see uapi.h). The reference is wireguard-go's
 * device/uapi.go; the client is wireguard-tools' ipc-uapi.h.
 *
 * A set runs twice over its lines through one table of {key, handler}: a
 * validation pass that only parses, then the pass that applies.
 */
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "netaddr.h"

enum { KEY_HEX_LEN = 2 * NOISE_PUBLIC_KEY_LEN };

/* ---- response buffer ---- */

void uapi_buf_reset(struct uapi_buf *buf)
{
	if (buf->data)
		sodium_memzero(buf->data, buf->cap);
	buf->len = 0;
	buf->failed = false;
}

void uapi_buf_free(struct uapi_buf *buf)
{
	uapi_buf_reset(buf);
	free(buf->data);
	*buf = (struct uapi_buf){ 0 };
}

/* Grows to hold extra more bytes plus a NUL. The old memory is wiped, not
 * just freed: it may hold the private key. */
static bool buf_reserve(struct uapi_buf *buf, size_t extra)
{
	size_t cap = buf->cap ? buf->cap : 1024;
	char *data;

	if (buf->failed)
		return false;
	while (cap - buf->len <= extra)
		cap *= 2;
	if (cap == buf->cap)
		return true;
	data = malloc(cap);
	if (!data) {
		buf->failed = true;
		return false;
	}
	if (buf->data) {
		memcpy(data, buf->data, buf->len);
		sodium_memzero(buf->data, buf->cap);
		free(buf->data);
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct uapi_buf *buf, const char *fmt, ...)
{
	char line[UAPI_MAX_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || !buf_reserve(buf, (size_t)n)) {
		buf->failed = true;
	} else {
		memcpy(buf->data + buf->len, line, (size_t)n + 1);
		buf->len += (size_t)n;
	}
	sodium_memzero(line, sizeof(line));
}

/* Drops (and wipes) everything after the first start bytes. */
static void buf_truncate(struct uapi_buf *buf, size_t start)
{
	if (buf->len > start) {
		sodium_memzero(buf->data + start, buf->len - start);
		buf->len = start;
	}
}

/* Ends a response. On an earlier allocation failure the partial text is
 * dropped and "errno=-12" written in its place if possible. */
static int buf_finish(struct uapi_buf *buf, size_t start, int err)
{
	if (buf->failed) {
		buf->failed = false;
		buf_truncate(buf, start);
		err = -ENOMEM;
		buf_printf(buf, "errno=%d\n\n", err);
		return err;
	}
	/* wireguard-go's convention: the negated errno, see uapi.h. */
	buf_printf(buf, "errno=%d\n\n", err);
	return buf->failed ? -ENOMEM : err;
}

void uapi_respond_error(struct uapi_buf *response, int err)
{
	buf_finish(response, response->len, err);
}

/* ---- text forms ---- */

static void buf_key(struct uapi_buf *buf, const char *name, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	char hex[KEY_HEX_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), key, NOISE_PUBLIC_KEY_LEN);
	buf_printf(buf, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
}

/* 64 hex digits, either case. */
static int parse_key(uint8_t key[NOISE_PUBLIC_KEY_LEN], const char *value)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (strlen(value) != KEY_HEX_LEN ||
	    sodium_hex2bin(key, NOISE_PUBLIC_KEY_LEN, value, KEY_HEX_LEN, NULL, &bin_len, &end) !=
		0 ||
	    bin_len != NOISE_PUBLIC_KEY_LEN || end != value + KEY_HEX_LEN)
		return -EINVAL;
	return 0;
}

static bool key_is_zero(const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return sodium_is_zero(key, NOISE_PUBLIC_KEY_LEN);
}

/* Decimal without sign, leading '+' or white space, at most max. */
static int parse_uint(uint64_t *out, const char *value, uint64_t max)
{
	uint64_t v = 0;

	if (!*value)
		return -EINVAL;
	for (const char *p = value; *p; p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (digit > 9 || v > (max - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static bool parse_true(const char *value)
{
	return strcmp(value, "true") == 0;
}

/*
 * A numeric endpoint: "1.2.3.4:51820" or "[2001:db8::1]:51820", where an
 * IPv6 address may carry a numeric or named scope ("[fe80::1%eth0]:51820"),
 * as wg writes link-local endpoints. Names are never resolved here.
 */
static int parse_endpoint(union sockaddr_inet *sa, const char *value)
{
	char text[SOCKADDR_STR_LEN + IF_NAMESIZE], scope_name[IF_NAMESIZE];
	const char *pct = strchr(value, '%'), *close;
	size_t head, scope_len;
	uint32_t scope;
	uint64_t num;

	if (!pct)
		return sockaddr_parse(sa, value);
	/* Cut "%scope" out of "[addr%scope]:port". */
	close = strchr(pct, ']');
	if (value[0] != '[' || !close)
		return -EINVAL;
	head = (size_t)(pct - value);
	scope_len = (size_t)(close - pct - 1);
	if (scope_len == 0 || scope_len >= sizeof(scope_name) ||
	    head + strlen(close) >= sizeof(text))
		return -EINVAL;
	memcpy(scope_name, pct + 1, scope_len);
	scope_name[scope_len] = '\0';
	if (parse_uint(&num, scope_name, UINT32_MAX) == 0)
		scope = (uint32_t)num;
	else if (!(scope = if_nametoindex(scope_name)))
		return -EINVAL;
	memcpy(text, value, head);
	strcpy(text + head, close);
	if (sockaddr_parse(sa, text) < 0)
		return -EINVAL;
	sa->in6.sin6_scope_id = scope;
	return 0;
}

static void format_endpoint(const struct wg_endpoint *ep, char *out, size_t len)
{
	union sockaddr_inet sa = { 0 };

	if (ep->addr.sa.sa_family == AF_INET6) {
		memcpy(&sa.in6, &ep->addr.in6, sizeof(sa.in6));
		if (sa.in6.sin6_scope_id) {
			char addr[INET6_ADDRSTRLEN] = "?";
			inet_ntop(AF_INET6, &sa.in6.sin6_addr, addr, sizeof(addr));
			snprintf(out, len, "[%s%%%" PRIu32 "]:%u", addr, sa.in6.sin6_scope_id,
				 ntohs(sa.in6.sin6_port));
			return;
		}
	} else {
		memcpy(&sa.in, &ep->addr.in4, sizeof(sa.in));
	}
	sockaddr_format(&sa, out, len);
}

/* ---- get ---- */

static int put_allowed_ip(void *ctx, int family, const uint8_t *ip, uint8_t cidr)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, ip, addr, sizeof(addr));
	buf_printf(ctx, "allowed_ip=%s/%u\n", addr, cidr);
	return 0;
}

static void put_peer(struct uapi_buf *buf, const struct wg_device *dev, struct wg_peer *peer)
{
	char ep[SOCKADDR_STR_LEN + 16];

	buf_key(buf, "public_key", peer->public_key);
	buf_key(buf, "preshared_key", peer->handshake.preshared_key);
	buf_printf(buf, "protocol_version=1\n");
	if (peer->has_endpoint) {
		format_endpoint(&peer->endpoint, ep, sizeof(ep));
		buf_printf(buf, "endpoint=%s\n", ep);
	}
	buf_printf(buf, "last_handshake_time_sec=%lld\n", (long long)peer->last_handshake.tv_sec);
	buf_printf(buf, "last_handshake_time_nsec=%ld\n", (long)peer->last_handshake.tv_nsec);
	buf_printf(buf, "tx_bytes=%" PRIu64 "\n", peer->stats.tx_bytes);
	buf_printf(buf, "rx_bytes=%" PRIu64 "\n", peer->stats.rx_bytes);
	buf_printf(buf, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive_interval);
	allowedips_walk_by_peer(&dev->allowedips, peer, put_allowed_ip, buf);
}

static int handle_get(const struct uapi_ops *ops, void *ctx, struct uapi_buf *buf)
{
	const struct wg_device *dev = ops->device(ctx);
	struct wg_peer **order;
	uint16_t port = ops->listen_port(ctx);
	uint32_t fwmark = ops->fwmark(ctx);
	size_t n = 0;

	if (dev->identity.has_identity)
		buf_key(buf, "private_key", dev->identity.static_private);
	if (port)
		buf_printf(buf, "listen_port=%u\n", port);
	if (fwmark)
		buf_printf(buf, "fwmark=%" PRIu32 "\n", fwmark);

	/* The list holds peers newest first; answer in the order they were
	 * added, so showconf reads like the configuration. */
	order = malloc((dev->peer_count ? dev->peer_count : 1) * sizeof(*order));
	if (!order) {
		buf->failed = true;
		return -ENOMEM;
	}
	wg_device_for_each_peer(dev, peer)
	{
		order[n++] = peer;
	}
	while (n)
		put_peer(buf, dev, order[--n]);
	free(order);
	return 0;
}

/* ---- set ---- */

struct set_state {
	const struct uapi_ops *ops;
	void *ctx;
	struct wg_device *dev;
	bool apply;    /* false: the validation pass, which only parses */
	bool in_peers; /* a public_key line was seen: device keys are over */

	/* The peer section being configured. */
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	struct wg_peer *peer; /* NULL until found or created */
	bool skip;            /* lines apply to nothing (removed, own key, update_only) */
	bool create;          /* absent: created at its first change or section end */
	bool created;         /* created within this section */
	int keepalive;        /* to set at section end; -1 unchanged */
};

/* The section's peer, created on first use. NULL with *err 0 when skipped. */
static struct wg_peer *section_peer(struct set_state *s, int *err)
{
	char name[16];

	*err = 0;
	if (s->skip || s->peer || !s->create)
		return s->skip ? NULL : s->peer;
	*err = wg_device_add_peer(s->dev, s->pub, &s->peer);
	if (*err < 0) {
		s->peer = NULL;
		return NULL;
	}
	s->create = false;
	s->created = true;
	key_short(name, s->pub);
	wg_peer_set_name(s->peer, name);
	log_info("uapi: peer %s added", name);
	return s->peer;
}

/* Completes the section: a bare public_key line creates its peer, and a
 * newly enabled keepalive is sent once the endpoint is known (as
 * wireguard-go's handlePostConfig). */
static int section_end(struct set_state *s)
{
	struct wg_peer *peer;
	int err = 0;

	if (s->apply && s->in_peers) {
		peer = section_peer(s, &err);
		if (peer && s->keepalive >= 0)
			wg_peer_set_persistent_keepalive(peer, (uint16_t)s->keepalive,
							 s->ops->udp_out(s->ctx));
	}
	s->peer = NULL;
	s->skip = s->create = s->created = false;
	s->keepalive = -1;
	return err;
}

static int set_private_key(struct set_state *s, const char *value)
{
	uint8_t key[NOISE_PUBLIC_KEY_LEN], pub[NOISE_PUBLIC_KEY_LEN];
	const struct noise_static_identity *id = &s->dev->identity;
	int ret = parse_key(key, value);

	if (ret < 0 || !s->apply)
		goto out;
	if (key_is_zero(key)) {
		if (id->has_identity)
			ret = s->ops->set_private_key(s->ctx, NULL);
		goto out;
	}
	/* The same key again (wg setconf sends it every time) keeps the
	 * sessions; a new identity would drop them all. */
	if (key_public_from_private(pub, key) && id->has_identity &&
	    sodium_memcmp(pub, id->static_public, sizeof(pub)) == 0)
		goto out;
	ret = s->ops->set_private_key(s->ctx, key);
	if (ret == 0)
		log_info("uapi: private key changed");
out:
	sodium_memzero(key, sizeof(key));
	return ret;
}

static int set_listen_port(struct set_state *s, const char *value)
{
	uint64_t port;
	int ret = parse_uint(&port, value, UINT16_MAX);

	if (ret < 0 || !s->apply || (port && port == s->ops->listen_port(s->ctx)))
		return ret;
	return s->ops->set_listen_port(s->ctx, (uint16_t)port);
}

static int set_fwmark(struct set_state *s, const char *value)
{
	uint64_t mark;
	int ret = parse_uint(&mark, value, UINT32_MAX);

	if (ret < 0 || !s->apply || mark == s->ops->fwmark(s->ctx))
		return ret;
	return s->ops->set_fwmark(s->ctx, (uint32_t)mark);
}

static int set_replace_peers(struct set_state *s, const char *value)
{
	if (!parse_true(value))
		return -EINVAL;
	if (s->apply && s->dev->peer_count) {
		log_info("uapi: removing all %u peers", s->dev->peer_count);
		wg_device_remove_all_peers(s->dev);
	}
	return 0;
}

static int set_public_key(struct set_state *s, const char *value)
{
	const struct noise_static_identity *id = &s->dev->identity;
	int ret = section_end(s);

	if (ret < 0)
		return ret;
	s->in_peers = true;
	if (parse_key(s->pub, value) < 0)
		return -EINVAL;
	if (!s->apply)
		return 0;
	/* A peer with our own public key is ignored, as wireguard-go does. */
	if (id->has_identity && sodium_memcmp(s->pub, id->static_public, sizeof(s->pub)) == 0) {
		s->skip = true;
		return 0;
	}
	s->peer = wg_device_find_peer(s->dev, s->pub);
	s->create = !s->peer;
	return 0;
}

static int set_update_only(struct set_state *s, const char *value)
{
	if (!parse_true(value))
		return -EINVAL;
	if (!s->apply)
		return 0;
	if (s->created) {
		/* Created by an earlier line of this section: undo that. */
		wg_device_remove_peer(s->dev, s->peer);
		s->peer = NULL;
	}
	if (!s->peer)
		s->skip = true;
	s->create = false;
	return 0;
}

static int set_remove(struct set_state *s, const char *value)
{
	if (!parse_true(value))
		return -EINVAL;
	if (!s->apply)
		return 0;
	if (!s->skip && s->peer) {
		log_info("uapi: peer %s removed", s->peer->name);
		wg_device_remove_peer(s->dev, s->peer);
	}
	s->peer = NULL;
	s->skip = true;
	s->create = false;
	return 0;
}

static int set_preshared_key(struct set_state *s, const char *value)
{
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	struct wg_peer *peer;
	int ret = parse_key(psk, value);

	if (ret == 0 && s->apply && (peer = section_peer(s, &ret)))
		wg_peer_set_preshared_key(peer, psk);
	sodium_memzero(psk, sizeof(psk));
	return ret;
}

static int set_endpoint(struct set_state *s, const char *value)
{
	union sockaddr_inet sa;
	struct wg_endpoint ep = { 0 };
	struct wg_peer *peer;
	int ret = 0;

	if (parse_endpoint(&sa, value) < 0)
		return -EINVAL;
	if (!s->apply || !(peer = section_peer(s, &ret)))
		return ret;
	if (sa.sa.sa_family == AF_INET)
		ep.addr.in4 = sa.in;
	else
		ep.addr.in6 = sa.in6;
	wg_peer_set_endpoint(peer, &ep);
	return 0;
}

static int set_keepalive(struct set_state *s, const char *value)
{
	uint64_t secs;
	int ret = parse_uint(&secs, value, UINT16_MAX);

	if (ret == 0 && s->apply)
		s->keepalive = (int)secs; /* applied at section end */
	return ret;
}

static int set_replace_allowed_ips(struct set_state *s, const char *value)
{
	struct wg_peer *peer;
	int ret = 0;

	if (!parse_true(value))
		return -EINVAL;
	if (s->apply && (peer = section_peer(s, &ret)))
		wg_peer_clear_allowed_ips(peer);
	return ret;
}

static int set_allowed_ip(struct set_state *s, const char *value)
{
	struct prefix p;
	struct wg_peer *peer;
	int ret = 0;

	/* wireguard-go (netip.ParsePrefix) wants the "/cidr"; host bits
	 * are accepted and masked off by the table. */
	if (!strchr(value, '/') || prefix_parse(&p, value) < 0)
		return -EINVAL;
	if (s->apply && (peer = section_peer(s, &ret)))
		ret = wg_peer_add_allowed_ip(peer, p.family, p.addr, p.len);
	return ret;
}

static int set_protocol_version(struct set_state *s, const char *value)
{
	return strcmp(value, "1") == 0 ? 0 : -EINVAL;
}

enum set_scope { SCOPE_DEVICE, SCOPE_PEER, SCOPE_ANY };

static const struct set_key {
	const char *key;
	enum set_scope scope;
	int (*handle)(struct set_state *s, const char *value);
} set_keys[] = {
	{ "private_key", SCOPE_DEVICE, set_private_key },
	{ "listen_port", SCOPE_DEVICE, set_listen_port },
	{ "fwmark", SCOPE_DEVICE, set_fwmark },
	{ "replace_peers", SCOPE_DEVICE, set_replace_peers },
	{ "public_key", SCOPE_ANY, set_public_key },
	{ "update_only", SCOPE_PEER, set_update_only },
	{ "remove", SCOPE_PEER, set_remove },
	{ "preshared_key", SCOPE_PEER, set_preshared_key },
	{ "endpoint", SCOPE_PEER, set_endpoint },
	{ "persistent_keepalive_interval", SCOPE_PEER, set_keepalive },
	{ "replace_allowed_ips", SCOPE_PEER, set_replace_allowed_ips },
	{ "allowed_ip", SCOPE_PEER, set_allowed_ip },
	{ "protocol_version", SCOPE_PEER, set_protocol_version },
};

/* One key=value line. A line without '=' is a protocol error; a key unknown
 * here, or one outside its section, is invalid (both as wireguard-go). */
static int set_line(struct set_state *s, char *line, const char **what)
{
	char *value = strchr(line, '=');

	*what = "line without '='";
	if (!value)
		return -EPROTO;
	*value++ = '\0';
	*what = "unknown key";
	for (size_t i = 0; i < sizeof(set_keys) / sizeof(set_keys[0]); i++) {
		const struct set_key *k = &set_keys[i];
		if (strcmp(k->key, line) != 0)
			continue;
		*what = k->key;
		if ((k->scope == SCOPE_DEVICE && s->in_peers) ||
		    (k->scope == SCOPE_PEER && !s->in_peers))
			return -EINVAL;
		return k->handle(s, value);
	}
	return -EINVAL;
}

/* Splits the next line off [*pos, end) into out (NUL-terminated). Returns
 * the line length, or -EINVAL for an over-long line or one holding a NUL. */
static int next_line(const char **pos, const char *end, char out[UAPI_MAX_LINE])
{
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	size_t n = (size_t)((nl ? nl : end) - *pos);

	if (n >= UAPI_MAX_LINE || memchr(*pos, '\0', n))
		return -EINVAL;
	memcpy(out, *pos, n);
	out[n] = '\0';
	*pos = nl ? nl + 1 : end;
	return (int)n;
}

/* One pass over the lines after "set=1", up to the blank line. */
static int set_pass(struct set_state *s, const char *pos, const char *end)
{
	char line[UAPI_MAX_LINE];
	const char *what = "over-long line or NUL";
	int n, ret = 0;

	while (pos < end) {
		n = next_line(&pos, end, line);
		if (n <= 0) {
			ret = n;
			break;
		}
		ret = set_line(s, line, &what);
		if (ret < 0)
			break;
	}
	/* Only the key is logged, never a value: it may be a key. */
	if (ret < 0)
		log_info("uapi: set refused (%s): %s", what, strerror(-ret));
	if (ret == 0)
		ret = section_end(s);
	sodium_memzero(line, sizeof(line));
	return ret;
}

static int handle_set(const struct uapi_ops *ops, void *ctx, const char *pos, const char *end)
{
	struct set_state s = { .ops = ops, .ctx = ctx, .dev = ops->device(ctx), .keepalive = -1 };
	int ret = set_pass(&s, pos, end);

	if (ret < 0)
		goto out;
	s = (struct set_state){
		.ops = ops, .ctx = ctx, .dev = ops->device(ctx), .apply = true, .keepalive = -1
	};
	ret = set_pass(&s, pos, end);
	if (ops->changed)
		ops->changed(ctx);
out:
	sodium_memzero(&s, sizeof(s));
	return ret;
}

/* A get takes no arguments: "get=1" is followed directly by the blank line. */
static bool rest_is_empty(const char *pos, const char *end)
{
	return pos == end || *pos == '\n';
}

int uapi_handle(const struct uapi_ops *ops, void *ctx, const char *request, size_t len,
		struct uapi_buf *response)
{
	const char *end = request + len, *pos = request;
	size_t start = response->len;
	char op[UAPI_MAX_LINE];
	int ret;

	if (next_line(&pos, end, op) < 0)
		ret = -EPROTO;
	else if (strcmp(op, "get=1") == 0)
		ret = rest_is_empty(pos, end) ? handle_get(ops, ctx, response) : -EINVAL;
	else if (strcmp(op, "set=1") == 0)
		ret = handle_set(ops, ctx, pos, end);
	else
		ret = -EPROTO;
	/* Whatever a failed request wrote is dropped: only errno remains. */
	if (ret < 0)
		buf_truncate(response, start);
	return buf_finish(response, start, ret);
}
