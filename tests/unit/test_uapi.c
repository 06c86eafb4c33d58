/*
 * The UAPI protocol (uapi_handle) against a real wg_device with fake
 * socket-level operations: set then get round trips, peer sections
 * (replace_peers, remove, update_only), the error for every kind of bad
 * line, allowed IPs with host bits, and garbage. Then the server on a Unix
 * socket in a temporary directory: several requests on one connection,
 * oversize requests, live and stale sockets.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "keys.h"
#include "testlib.h"
#include "uapi.h"

/* ---- a fake node: real device, fake socket-level parts ---- */

struct fake_node {
	struct wg_device *dev;
	struct pkt_batch *udp_out;
	uint64_t now;
	struct test_rng rng;
	uint16_t port;
	uint32_t fwmark;
	int port_error; /* returned by set_listen_port when set */
	unsigned key_sets, port_sets, fwmark_sets, changed;
};

static uint64_t env_now(void *ctx)
{
	return ((struct fake_node *)ctx)->now;
}

static void env_wall(void *ctx, struct timespec *ts)
{
	ts->tv_sec = 1700000000;
	ts->tv_nsec = (long)(((struct fake_node *)ctx)->now % 1000000000);
}

static void env_random(void *ctx, void *buf, size_t len)
{
	test_rng_bytes(&((struct fake_node *)ctx)->rng, buf, len);
}

static int fake_set_private_key(void *ctx, const uint8_t *key)
{
	struct fake_node *n = ctx;
	n->key_sets++;
	return wg_device_set_private_key(n->dev, key);
}

static int fake_set_listen_port(void *ctx, uint16_t port)
{
	struct fake_node *n = ctx;
	n->port_sets++;
	if (n->port_error)
		return n->port_error;
	n->port = port ? port : 40000; /* port 0: "the kernel" picks one */
	return 0;
}

static int fake_set_fwmark(void *ctx, uint32_t mark)
{
	struct fake_node *n = ctx;
	n->fwmark_sets++;
	n->fwmark = mark;
	return 0;
}

static uint16_t fake_listen_port(void *ctx)
{
	return ((struct fake_node *)ctx)->port;
}

static uint32_t fake_fwmark(void *ctx)
{
	return ((struct fake_node *)ctx)->fwmark;
}

static struct wg_device *fake_device(void *ctx)
{
	return ((struct fake_node *)ctx)->dev;
}

static struct pkt_batch *fake_udp_out(void *ctx)
{
	return ((struct fake_node *)ctx)->udp_out;
}

static void fake_changed(void *ctx)
{
	((struct fake_node *)ctx)->changed++;
}

static const struct uapi_ops fake_ops = {
	.set_private_key = fake_set_private_key,
	.set_listen_port = fake_set_listen_port,
	.set_fwmark = fake_set_fwmark,
	.listen_port = fake_listen_port,
	.fwmark = fake_fwmark,
	.device = fake_device,
	.udp_out = fake_udp_out,
	.changed = fake_changed,
};

static void fake_init(struct fake_node *n)
{
	*n = (struct fake_node){ .now = 1000000000ULL, .rng = { 0x5eed }, .port = 51820 };
	struct wg_env env = { env_now, env_wall, env_random, n };
	n->dev = wg_device_new(&env, 1420);
	n->udp_out = pkt_batch_new(64, 2048);
}

static void fake_deinit(struct fake_node *n)
{
	wg_device_free(n->dev);
	pkt_batch_free(n->udp_out);
}

/* ---- helpers ---- */

static struct uapi_buf out;

/* Runs one request; the response is in out.data. */
static int handle(struct fake_node *n, const char *req)
{
	uapi_buf_reset(&out);
	return uapi_handle(&fake_ops, n, req, strlen(req), &out);
}

static void hex(char out_hex[65], const uint8_t key[32])
{
	sodium_bin2hex(out_hex, 65, key, 32);
}

/* A deterministic key pair; the public key in hex. */
static void make_peer_key(uint8_t pub[32], char pub_hex[65], uint8_t seed)
{
	uint8_t priv[32];

	memset(priv, seed, sizeof(priv));
	CHECK(key_public_from_private(pub, priv));
	hex(pub_hex, pub);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && p[n] == '\n')
			return true;
	return false;
}

static unsigned count_lines(const char *text, const char *prefix)
{
	unsigned count = 0;
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			count++;
	return count;
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t a = strlen(text), b = strlen(suffix);
	return a >= b && strcmp(text + a - b, suffix) == 0;
}

/* ---- tests ---- */

static void test_set_then_get(void)
{
	struct fake_node n;
	uint8_t priv[32], pub_a[32], pub_b[32], psk[32];
	char priv_hex[65], a_hex[65], b_hex[65], psk_hex[65], req[2048], want[2048];

	fake_init(&n);
	memset(priv, 0x11, sizeof(priv));
	priv[0] &= 248; /* clamped, so get returns it unchanged */
	priv[31] = (priv[31] & 127) | 64;
	hex(priv_hex, priv);
	make_peer_key(pub_a, a_hex, 0x22);
	make_peer_key(pub_b, b_hex, 0x33);
	memset(psk, 0x44, sizeof(psk));
	hex(psk_hex, psk);

	snprintf(req, sizeof(req),
		 "set=1\nprivate_key=%s\nlisten_port=51821\nfwmark=4660\nreplace_peers=true\n"
		 "public_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:51820\n"
		 "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::/64\nallowed_ip=10.9.0.0/16\n"
		 "public_key=%s\nprotocol_version=1\nendpoint=[2001:db8::1]:443\n"
		 "allowed_ip=10.0.0.3/32\n\n",
		 priv_hex, a_hex, psk_hex, b_hex);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK(strcmp(out.data, "errno=0\n\n") == 0);
	CHECK_EQ_INT(n.changed, 1);
	CHECK_EQ_INT(n.port, 51821);
	CHECK_EQ_INT(n.fwmark, 4660);
	CHECK_EQ_INT(n.dev->peer_count, 2);
	/* Keepalive newly on with an endpoint: something was queued to send
	 * (a handshake initiation, as there is no session yet). */
	CHECK(n.udp_out->count > 0);

	struct wg_peer *a = wg_device_find_peer(n.dev, pub_a);
	char name[16];
	key_short(name, pub_a);
	CHECK(a && strcmp(a->name, name) == 0);

	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	snprintf(want, sizeof(want),
		 "private_key=%s\nlisten_port=51821\nfwmark=4660\n"
		 "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		 "endpoint=192.0.2.1:51820\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		 "tx_bytes=%llu\nrx_bytes=0\npersistent_keepalive_interval=25\n"
		 "allowed_ip=10.0.0.2/32\nallowed_ip=10.9.0.0/16\nallowed_ip=fd00::/64\n"
		 "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		 "endpoint=[2001:db8::1]:443\nlast_handshake_time_sec=0\n"
		 "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
		 "persistent_keepalive_interval=0\nallowed_ip=10.0.0.3/32\nerrno=0\n\n",
		 priv_hex, a_hex, psk_hex, (unsigned long long)a->stats.tx_bytes, b_hex,
		 "0000000000000000000000000000000000000000000000000000000000000000");
	CHECK(strcmp(out.data, want) == 0);
	if (strcmp(out.data, want) != 0)
		printf("got:\n%s\nwant:\n%s\n", out.data, want);

	/* Counters and the handshake time are reported as they stand. */
	a->stats.rx_bytes = 1234;
	a->last_handshake = (struct timespec){ 1700000001, 5 };
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK(has_line(out.data, "rx_bytes=1234"));
	CHECK(has_line(out.data, "last_handshake_time_sec=1700000001"));
	CHECK(has_line(out.data, "last_handshake_time_nsec=5"));

	/* The blank line may be left out of the text handed in. */
	CHECK_EQ_INT(handle(&n, "get=1\n"), 0);
	CHECK(ends_with(out.data, "errno=0\n\n"));
	fake_deinit(&n);
}

static void test_get_empty_device(void)
{
	struct fake_node n;

	fake_init(&n);
	n.port = 0;
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	/* No key, no port, no fwmark, no peers: just the status. */
	CHECK(strcmp(out.data, "errno=0\n\n") == 0);
	n.port = 7;
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK(strcmp(out.data, "listen_port=7\nerrno=0\n\n") == 0);
	fake_deinit(&n);
}

static void test_private_key(void)
{
	struct fake_node n;
	uint8_t priv[32], pub[32], own[32];
	char priv_hex[65], pub_hex[65], own_hex[65], req[512];

	fake_init(&n);
	memset(priv, 0x55, sizeof(priv));
	hex(priv_hex, priv);
	CHECK(key_public_from_private(own, priv));
	hex(own_hex, own);
	make_peer_key(pub, pub_hex, 0x66);

	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\npublic_key=%s\n\n", priv_hex, pub_hex);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.key_sets, 1);
	CHECK(n.dev->identity.has_identity);

	/* Upper-case hex is the same key: not set again (sessions stay). */
	for (char *p = priv_hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\n\n", priv_hex);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.key_sets, 1);

	/* Our own public key as a peer is ignored, not an error. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=10.1.0.0/16\n\n", own_hex);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 1);
	CHECK_EQ_INT(allowedips_count(&n.dev->allowedips), 0);

	/* All zeros removes the key; get then has no private_key line. */
	CHECK_EQ_INT(handle(&n, "set=1\nprivate_key=0000000000000000000000000000000000000000"
				"000000000000000000000000\n\n"),
		     0);
	CHECK_EQ_INT(n.key_sets, 2);
	CHECK(!n.dev->identity.has_identity);
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK_EQ_INT(count_lines(out.data, "private_key="), 0);
	CHECK_EQ_INT(count_lines(out.data, "public_key="), 1);
	fake_deinit(&n);
}

static void test_replace_and_remove(void)
{
	struct fake_node n;
	uint8_t pub[4][32];
	char h[4][65], req[1024];

	fake_init(&n);
	for (int i = 0; i < 4; i++)
		make_peer_key(pub[i], h[i], (uint8_t)(0x70 + i));
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nallowed_ip=10.0.0.1/32\npublic_key=%s\n"
		 "allowed_ip=10.0.0.2/32\npublic_key=%s\n\n",
		 h[0], h[1], h[2]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 3);

	/* remove=true drops the peer and its allowed IPs; lines after it in
	 * the section are ignored; removing an absent peer is fine. */
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nremove=true\nallowed_ip=10.5.0.0/16\n"
		 "public_key=%s\nremove=true\n\n",
		 h[0], h[3]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 2);
	CHECK(!wg_device_find_peer(n.dev, pub[0]));
	CHECK(!wg_device_find_peer(n.dev, pub[3]));
	CHECK_EQ_INT(allowedips_count(&n.dev->allowedips), 1);

	/* replace_peers=true leaves only the peers of this request. */
	snprintf(req, sizeof(req), "set=1\nreplace_peers=true\npublic_key=%s\n\n", h[3]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 1);
	CHECK(wg_device_find_peer(n.dev, pub[3]) != NULL);
	CHECK_EQ_INT(allowedips_count(&n.dev->allowedips), 0);

	/* replace_allowed_ips=true on an existing peer. */
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/8\nallowed_ip=10.1.0.0/16\n\n", h[3]);
	CHECK_EQ_INT(handle(&n, req), 0);
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=192.0.2.0/24\n\n",
		 h[3]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK_EQ_INT(count_lines(out.data, "allowed_ip="), 1);
	CHECK(has_line(out.data, "allowed_ip=192.0.2.0/24"));
	fake_deinit(&n);
}

static void test_update_only(void)
{
	struct fake_node n;
	uint8_t pub[2][32];
	char h[2][65], req[1024];

	fake_init(&n);
	make_peer_key(pub[0], h[0], 0x81);
	make_peer_key(pub[1], h[1], 0x82);

	/* An unknown peer is not created, whatever the line order. */
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=10.0.0.1/32\n\n", h[0]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 0);
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nallowed_ip=10.0.0.1/32\nupdate_only=true\n\n", h[0]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 0);
	CHECK_EQ_INT(allowedips_count(&n.dev->allowedips), 0);

	/* A known peer is updated. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\n\n", h[1]);
	CHECK_EQ_INT(handle(&n, req), 0);
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nupdate_only=true\nendpoint=198.51.100.7:9\n\n", h[1]);
	CHECK_EQ_INT(handle(&n, req), 0);
	struct wg_peer *p = wg_device_find_peer(n.dev, pub[1]);
	CHECK(p && p->has_endpoint);
	CHECK_EQ_INT(n.dev->peer_count, 1);
	fake_deinit(&n);
}

static void test_allowed_ips(void)
{
	struct fake_node n;
	uint8_t pub[2][32];
	char h[2][65], req[1024];

	fake_init(&n);
	make_peer_key(pub[0], h[0], 0x91);
	make_peer_key(pub[1], h[1], 0x92);

	/* Host bits are masked off, as the kernel and wireguard-go do. */
	snprintf(req, sizeof(req),
		 "set=1\npublic_key=%s\nallowed_ip=10.1.2.3/8\nallowed_ip=2001:db8::1/32\n"
		 "allowed_ip=0.0.0.0/0\nallowed_ip=::/0\nallowed_ip=192.0.2.255/32\n\n",
		 h[0]);
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK(has_line(out.data, "allowed_ip=10.0.0.0/8"));
	CHECK(has_line(out.data, "allowed_ip=2001:db8::/32"));
	CHECK(has_line(out.data, "allowed_ip=0.0.0.0/0"));
	CHECK(has_line(out.data, "allowed_ip=::/0"));
	CHECK(has_line(out.data, "allowed_ip=192.0.2.255/32"));

	/* A prefix given to another peer moves to it. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=10.0.0.0/8\n\n", h[1]);
	CHECK_EQ_INT(handle(&n, req), 0);
	uint8_t ip[4] = { 10, 2, 3, 4 };
	CHECK(allowedips_lookup(&n.dev->allowedips, AF_INET, ip) ==
	      wg_device_find_peer(n.dev, pub[1]));
	CHECK_EQ_INT(allowedips_count(&n.dev->allowedips), 5);
	fake_deinit(&n);
}

static void test_endpoints(void)
{
	struct fake_node n;
	uint8_t pub[32];
	char h[65], req[512];
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "203.0.113.9:1", "203.0.113.9:1" },
		{ "[::ffff:192.0.2.1]:51820", "[::ffff:192.0.2.1]:51820" },
		{ "[fe80::1%3]:51820", "[fe80::1%3]:51820" },
		{ "[2001:DB8::A]:65535", "[2001:db8::a]:65535" },
	};

	fake_init(&n);
	make_peer_key(pub, h, 0xa1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];
		snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=%s\n\n", h, cases[i].in);
		CHECK_EQ_INT(handle(&n, req), 0);
		CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
		snprintf(want, sizeof(want), "endpoint=%s", cases[i].out);
		if (!CHECK(has_line(out.data, want)))
			printf("  case %zu: %s\n", i, out.data);
	}
	fake_deinit(&n);
}

static void test_invalid_lines(void)
{
	static const char K[] = "2222222222222222222222222222222222222222222222222222222222222222";
	static const struct {
		const char *body; /* after "set=1\n"; @ stands for a valid key in hex */
		int err;
	} cases[] = {
		{ "listen_port\n", -EPROTO },
		{ "bogus=1\n", -EINVAL },
		{ "=1\n", -EINVAL },
		{ "private_key=abc\n", -EINVAL },
		{ "private_key=@0\n", -EINVAL },
		{ "private_key=zz22222222222222222222222222222222222222222222222222222222222222\n",
		  -EINVAL },
		{ "private_key= @\n", -EINVAL },
		{ "listen_port=65536\n", -EINVAL },
		{ "listen_port=-1\n", -EINVAL },
		{ "listen_port=+1\n", -EINVAL },
		{ "listen_port=\n", -EINVAL },
		{ "listen_port=1 \n", -EINVAL },
		{ "fwmark=4294967296\n", -EINVAL },
		{ "fwmark=0x10\n", -EINVAL },
		{ "replace_peers=false\n", -EINVAL },
		{ "replace_peers=TRUE\n", -EINVAL },
		/* Peer keys before any public_key, device keys after one. */
		{ "endpoint=192.0.2.1:1\n", -EINVAL },
		{ "protocol_version=1\n", -EINVAL },
		{ "public_key=@\nlisten_port=1\n", -EINVAL },
		{ "public_key=@\nprivate_key=@\n", -EINVAL },
		{ "public_key=@\nreplace_peers=true\n", -EINVAL },
		{ "public_key=\n", -EINVAL },
		{ "public_key=@\nremove=yes\n", -EINVAL },
		{ "public_key=@\nupdate_only=1\n", -EINVAL },
		{ "public_key=@\npreshared_key=00\n", -EINVAL },
		{ "public_key=@\nendpoint=example.com:51820\n", -EINVAL },
		{ "public_key=@\nendpoint=192.0.2.1\n", -EINVAL },
		{ "public_key=@\nendpoint=192.0.2.1:65536\n", -EINVAL },
		{ "public_key=@\nendpoint=2001:db8::1:51820\n", -EINVAL },
		{ "public_key=@\nendpoint=[192.0.2.1]:1\n", -EINVAL },
		{ "public_key=@\nendpoint=[fe80::1%]:1\n", -EINVAL },
		{ "public_key=@\nendpoint=[fe80::1%no-such-if0]:1\n", -EINVAL },
		{ "public_key=@\npersistent_keepalive_interval=65536\n", -EINVAL },
		{ "public_key=@\nreplace_allowed_ips=false\n", -EINVAL },
		{ "public_key=@\nallowed_ip=10.0.0.1\n", -EINVAL },
		{ "public_key=@\nallowed_ip=10.0.0.0/33\n", -EINVAL },
		{ "public_key=@\nallowed_ip=::/129\n", -EINVAL },
		{ "public_key=@\nallowed_ip=10.0.0.0/\n", -EINVAL },
		{ "public_key=@\nallowed_ip=host/8\n", -EINVAL },
		{ "public_key=@\nprotocol_version=2\n", -EINVAL },
		{ "public_key=@\nlast_handshake_time_sec=0\n", -EINVAL },
		/* A bad line at the end: the whole request changes nothing. */
		{ "listen_port=1\npublic_key=@\nallowed_ip=10.0.0.0/8\nbogus\n", -EPROTO },
	};
	struct fake_node n;
	char req[1024];

	fake_init(&n);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = (size_t)snprintf(req, sizeof(req), "set=1\n");
		for (const char *c = cases[i].body; *c; c++)
			len += (size_t)snprintf(req + len, sizeof(req) - len, "%s",
						*c == '@' ? K : (char[]){ *c, '\0' });
		snprintf(req + len, sizeof(req) - len, "\n");
		int ret = handle(&n, req);
		char want[32];
		snprintf(want, sizeof(want), "errno=%d\n\n", cases[i].err);
		if (!CHECK_EQ_INT(ret, cases[i].err) || !CHECK(strcmp(out.data, want) == 0))
			printf("  case %zu: %s", i, req);
	}
	CHECK_EQ_INT(n.port_sets, 0);
	CHECK_EQ_INT(n.key_sets, 0);
	CHECK_EQ_INT(n.dev->peer_count, 0);
	CHECK_EQ_INT(n.changed, 0);

	/* Framing and operations. */
	CHECK_EQ_INT(handle(&n, "get=1\nlisten_port=1\n\n"), -EINVAL);
	CHECK(strcmp(out.data, "errno=-22\n\n") == 0);
	CHECK_EQ_INT(handle(&n, "get=2\n\n"), -EPROTO);
	CHECK_EQ_INT(handle(&n, "\n"), -EPROTO);
	CHECK_EQ_INT(handle(&n, ""), -EPROTO);
	CHECK_EQ_INT(handle(&n, "GET / HTTP/1.0\r\n\r\n"), -EPROTO);
	CHECK(strcmp(out.data, "errno=-71\n\n") == 0);

	/* An over-long line, and a NUL inside a line. */
	char *big = malloc(4096);
	memset(big, 'a', 4096);
	memcpy(big, "set=1\nfwmark=", 13);
	big[4094] = '\n';
	big[4095] = '\n';
	uapi_buf_reset(&out);
	CHECK_EQ_INT(uapi_handle(&fake_ops, &n, big, 4096, &out), -EINVAL);
	free(big);
	static const char nul[] = "set=1\nfwmark=1\0\n\n";
	uapi_buf_reset(&out);
	CHECK_EQ_INT(uapi_handle(&fake_ops, &n, nul, sizeof(nul) - 1, &out), -EINVAL);
	CHECK_EQ_INT(n.fwmark_sets, 0);

	/* An empty set is fine, and so is a set that ends without its blank line. */
	CHECK_EQ_INT(handle(&n, "set=1\n\n"), 0);
	CHECK_EQ_INT(handle(&n, "set=1\nfwmark=0\n"), 0);
	fake_deinit(&n);
}

static void test_apply_errors(void)
{
	struct fake_node n;

	fake_init(&n);
	n.port_error = -EADDRINUSE;
	CHECK_EQ_INT(handle(&n, "set=1\nlisten_port=53\n\n"), -EADDRINUSE);
	CHECK(strcmp(out.data, "errno=-98\n\n") == 0);
	CHECK_EQ_INT(n.changed, 1); /* whatever went before is flushed */
	/* The same port again is not rebound. */
	n.port_error = 0;
	CHECK_EQ_INT(handle(&n, "set=1\nlisten_port=51820\n\n"), 0);
	CHECK_EQ_INT(n.port_sets, 1);
	CHECK_EQ_INT(handle(&n, "set=1\nlisten_port=0\n\n"), 0);
	CHECK_EQ_INT(n.port, 40000);
	fake_deinit(&n);
}

static void test_many_peers(void)
{
	struct fake_node n;
	size_t cap = 2000 * 200, len = 0;
	char *req = malloc(cap);

	fake_init(&n);
	len += (size_t)snprintf(req + len, cap - len, "set=1\nreplace_peers=true\n");
	for (unsigned i = 0; i < 2000; i++) {
		uint8_t pub[32] = { 0 };
		char h[65];
		pub[0] = 9; /* any non-low-order point will do: no identity yet */
		pub[1] = (uint8_t)(i >> 8);
		pub[2] = (uint8_t)i;
		hex(h, pub);
		len += (size_t)snprintf(req + len, cap - len,
					"public_key=%s\nreplace_allowed_ips=true\n"
					"allowed_ip=10.%u.%u.0/24\n",
					h, i >> 8, i & 255);
	}
	len += (size_t)snprintf(req + len, cap - len, "\n");
	CHECK_EQ_INT(handle(&n, req), 0);
	CHECK_EQ_INT(n.dev->peer_count, 2000);
	CHECK_EQ_INT(handle(&n, "get=1\n\n"), 0);
	CHECK_EQ_INT(count_lines(out.data, "public_key="), 2000);
	CHECK_EQ_INT(count_lines(out.data, "allowed_ip="), 2000);
	CHECK(ends_with(out.data, "errno=0\n\n"));
	free(req);
	fake_deinit(&n);
}

/* Random and mutated text must never crash, and always get one errno. */
static void test_garbage(void)
{
	static const char *const words[] = {
		"set=1\n",
		"get=1\n",
		"\n",
		"=",
		"public_key",
		"private_key",
		"allowed_ip",
		"endpoint",
		"remove",
		"update_only",
		"true",
		"10.0.0.0/8",
		"[::1]:1",
		"2222222222222222222222222222222222222222222222222222222222222222",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"%",
		"listen_port",
		"65535",
		"replace_peers",
		"replace_allowed_ips",
		"\0",
	};
	struct test_rng rng = { test_seed() };
	struct fake_node n;
	char buf[1024];

	fake_init(&n);
	for (int round = 0; round < 20000; round++) {
		size_t len = 0;
		if (round % 2) {
			len = (size_t)(test_rng_next(&rng) % sizeof(buf));
			test_rng_bytes(&rng, buf, len);
			if (round % 4 == 1 && len > 6)
				memcpy(buf, "set=1\n", 6);
		} else {
			while (len < sizeof(buf) - 80) {
				const char *w =
				    words[test_rng_next(&rng) % (sizeof(words) / sizeof(words[0]))];
				size_t wl = *w ? strlen(w) : 1;
				if (test_rng_next(&rng) % 8 == 0)
					break;
				memcpy(buf + len, w, wl);
				len += wl;
			}
		}
		uapi_buf_reset(&out);
		int ret = uapi_handle(&fake_ops, &n, buf, len, &out);
		if (!CHECK(ret <= 0 && out.len >= 9 && ends_with(out.data, "\n\n") &&
			   count_lines(out.data, "errno=") == 1))
			break;
		CHECK(allowedips_check(&n.dev->allowedips));
	}
	fake_deinit(&n);
}

/* ---- the server on a real socket ---- */

struct server_test {
	struct loop *loop;
	int client;
	char got[8192];
	size_t got_len;
	size_t want_responses;
	bool eof;
	const char *pending; /* still to send */
	size_t pending_len, sent;
};

static unsigned count_responses(const char *text, size_t len)
{
	unsigned n = 0;
	for (size_t i = 1; i < len; i++)
		if (text[i] == '\n' && text[i - 1] == '\n')
			n++;
	return n;
}

/* After every loop round: collect what the server sent. */
static void on_idle(void *ctx)
{
	struct server_test *t = ctx;
	ssize_t r;

	/* Send the first 64 bytes in 7-byte pieces, to exercise reassembly. */
	if (t->sent < t->pending_len) {
		size_t piece = t->sent < 64 ? 7 : t->pending_len - t->sent;
		if (piece > t->pending_len - t->sent)
			piece = t->pending_len - t->sent;
		r = send(t->client, t->pending + t->sent, piece, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0)
			t->sent += (size_t)r;
		else if (errno != EAGAIN)
			t->pending_len = t->sent; /* closed by the server */
	}
	while ((r = recv(t->client, t->got + t->got_len, sizeof(t->got) - 1 - t->got_len,
			 MSG_DONTWAIT)) > 0)
		t->got_len += (size_t)r;
	if (r == 0 || (r < 0 && errno != EAGAIN))
		t->eof = true; /* closed, or reset with our data unread */
	t->got[t->got_len] = '\0';
	if (t->eof || count_responses(t->got, t->got_len) >= t->want_responses)
		loop_stop(t->loop);
}

static void on_deadline(void *ctx)
{
	loop_stop(((struct server_test *)ctx)->loop);
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends text from the loop's idle callback and runs the loop until want
 * responses or EOF arrived, or two seconds passed. */
static void exchange(struct server_test *t, const char *text, size_t len, size_t want)
{
	struct loop_timer *bound;

	t->got_len = 0;
	t->got[0] = '\0';
	t->eof = false;
	t->want_responses = want;
	t->pending = text;
	t->pending_len = len;
	t->sent = 0;
	on_idle(t);
	bound = loop_timer_add(t->loop, loop_now() + 2000000000ULL, on_deadline, t);
	loop_run(t->loop);
	loop_timer_del(t->loop, bound);
}

static void test_server(void)
{
	struct fake_node n;
	struct server_test t = { 0 };
	struct uapi_server *srv = NULL, *srv2 = NULL;
	char dir[] = "/tmp/mg-uapi-XXXXXX", path[64];
	struct stat st;

	fake_init(&n);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/mg0.sock", dir);
	t.loop = loop_new();
	loop_set_idle(t.loop, on_idle, &t);

	CHECK_EQ_INT(uapi_server_start_at(&srv, t.loop, &fake_ops, &n, path), 0);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	/* A second server on a live socket is refused. */
	CHECK_EQ_INT(uapi_server_start_at(&srv2, t.loop, &fake_ops, &n, path), -EADDRINUSE);
	CHECK(srv2 == NULL);

	/* Two requests on one connection, sent in small pieces. */
	t.client = connect_to(path);
	CHECK(t.client >= 0);
	static const char two[] = "set=1\nlisten_port=4242\n\nget=1\n\n";
	exchange(&t, two, sizeof(two) - 1, 2);
	CHECK(strcmp(t.got, "errno=0\n\nlisten_port=4242\nerrno=0\n\n") == 0);
	/* wg's way: one request, and the connection stays usable. */
	exchange(&t, "get=1\n\n", 7, 1);
	CHECK(strcmp(t.got, "listen_port=4242\nerrno=0\n\n") == 0);
	/* After the client shuts down its side, the reply still comes. */
	shutdown(t.client, SHUT_WR);
	exchange(&t, "", 0, 2);
	CHECK(t.eof);
	close(t.client);

	/* A request without an end, past the limit: EMSGSIZE, then closed. */
	t.client = connect_to(path);
	size_t big_len = UAPI_MAX_REQUEST + 4096;
	char *big = malloc(big_len);
	memset(big, 'x', big_len);
	memcpy(big, "set=1\n", 6);
	exchange(&t, big, big_len, 2);
	CHECK(strcmp(t.got, "errno=-90\n\n") == 0);
	CHECK(t.eof);
	free(big);
	close(t.client);

	/* Stop unlinks; a stale socket file left by a dead process is replaced. */
	uapi_server_stop(srv);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	CHECK(bind(stale, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(stale);
	CHECK_EQ_INT(uapi_server_start_at(&srv, t.loop, &fake_ops, &n, path), 0);
	uapi_server_stop(srv);

	/* Something that is not a socket is left alone. */
	FILE *f = fopen(path, "w");
	fclose(f);
	CHECK_EQ_INT(uapi_server_start_at(&srv, t.loop, &fake_ops, &n, path), -EEXIST);
	unlink(path);
	CHECK_EQ_INT(uapi_server_start(&srv, t.loop, &fake_ops, &n, "a/b"), -EINVAL);
	uapi_server_stop(NULL);

	rmdir(dir);
	loop_free(t.loop);
	fake_deinit(&n);
}

int main(void)
{
	RUN(test_set_then_get);
	RUN(test_get_empty_device);
	RUN(test_private_key);
	RUN(test_replace_and_remove);
	RUN(test_update_only);
	RUN(test_allowed_ips);
	RUN(test_endpoints);
	RUN(test_invalid_lines);
	RUN(test_apply_errors);
	RUN(test_many_peers);
	RUN(test_garbage);
	RUN(test_server);
	uapi_buf_free(&out);
	return test_summary();
}
