/*
 * Fuzzes the UAPI protocol core: the input is split at blank lines into
 * requests, as a client connection would carry them, and each goes through
 * uapi_handle() against a real device with fake socket-level parts. Every
 * response must end in exactly one errno line; the allowed-IPs trie must
 * stay sound; and the final get, replayed as a set into a fresh device,
 * must read back identically (get and set agree on every value).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "testlib.h"
#include "uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake {
	struct wg_device *dev;
	struct pkt_batch *udp_out;
	uint64_t rng;
	uint16_t port;
	uint32_t fwmark;
};

static uint64_t fake_now(void *ctx)
{
	return 5000000000ULL;
}

static void fake_wall(void *ctx, struct timespec *ts)
{
	ts->tv_sec = 1700000000;
	ts->tv_nsec = 0;
}

static void fake_random(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		f->rng ^= f->rng << 13;
		f->rng ^= f->rng >> 7;
		f->rng ^= f->rng << 17;
		p[i] = (uint8_t)f->rng;
	}
}

static int set_private_key(void *ctx, const uint8_t *key)
{
	return wg_device_set_private_key(((struct fake *)ctx)->dev, key);
}

static int set_listen_port(void *ctx, uint16_t port)
{
	struct fake *f = ctx;
	if (port == 1)
		return -EADDRINUSE; /* some port is always taken */
	f->port = port ? port : 40000;
	return 0;
}

static int set_fwmark(void *ctx, uint32_t mark)
{
	((struct fake *)ctx)->fwmark = mark;
	return 0;
}

static uint16_t listen_port(void *ctx)
{
	return ((struct fake *)ctx)->port;
}

static uint32_t fwmark(void *ctx)
{
	return ((struct fake *)ctx)->fwmark;
}

static struct wg_device *device(void *ctx)
{
	return ((struct fake *)ctx)->dev;
}

static struct pkt_batch *udp_out(void *ctx)
{
	return ((struct fake *)ctx)->udp_out;
}

static void changed(void *ctx)
{
	((struct fake *)ctx)->udp_out->count = 0; /* "sent" */
}

static const struct uapi_ops ops = {
	.set_private_key = set_private_key,
	.set_listen_port = set_listen_port,
	.set_fwmark = set_fwmark,
	.listen_port = listen_port,
	.fwmark = fwmark,
	.device = device,
	.udp_out = udp_out,
	.changed = changed,
};

static bool fake_init(struct fake *f)
{
	*f = (struct fake){ .rng = 0x9e3779b97f4a7c15ULL, .port = 51820 };
	struct wg_env env = { fake_now, fake_wall, fake_random, f };
	f->dev = wg_device_new(&env, 1420);
	f->udp_out = pkt_batch_new(8, 2048);
	return f->dev && f->udp_out;
}

static void fake_deinit(struct fake *f)
{
	wg_device_free(f->dev);
	pkt_batch_free(f->udp_out);
}

static void check_response(const struct uapi_buf *r, size_t start)
{
	const char *text = r->data + start;
	size_t len = r->len - start;
	const char *last;

	if (len < 9 || memcmp(text + len - 2, "\n\n", 2) != 0)
		abort();
	/* The status is the last line, and the only errno line. */
	last = memchr(text, '\0', len) ? NULL : strstr(text, "errno=");
	if (!last || strstr(last + 1, "errno=") || memchr(last, '\n', len) != text + len - 2)
		abort();
}

/* Turns a get response into the set that reproduces it. */
static size_t get_to_set(const char *get, char *set, size_t cap)
{
	static const char *const read_only[] = { "last_handshake_time_sec=",
						 "last_handshake_time_nsec=", "tx_bytes=",
						 "rx_bytes=", "errno=" };
	size_t len = (size_t)snprintf(set, cap, "set=1\nreplace_peers=true\n");

	for (const char *p = get; *p && *p != '\n';) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1;
		bool skip = false;
		for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
			skip |= strncmp(p, read_only[i], strlen(read_only[i])) == 0;
		if (!skip && len + n < cap) {
			memcpy(set + len, p, n);
			len += n;
		}
		p = nl + 1;
	}
	if (len + 1 < cap)
		set[len++] = '\n';
	return len;
}

static void round_trip(struct fake *f)
{
	struct uapi_buf get1 = { 0 }, get2 = { 0 }, res = { 0 };
	struct fake g;
	char *set;

	if (uapi_handle(&ops, f, "get=1\n\n", 7, &get1) < 0 || !fake_init(&g))
		goto out;
	g.port = f->port;
	g.fwmark = f->fwmark;
	set = malloc(get1.len + 64);
	if (set) {
		size_t len = get_to_set(get1.data, set, get1.len + 64);
		int ret = uapi_handle(&ops, &g, set, len, &res);
		/* -EINVAL only for a low-order peer key, which the device takes
		 * while it has no private key but not after. */
		if (ret != 0 && ret != -EINVAL)
			abort();
		if (ret == 0 &&
		    (uapi_handle(&ops, &g, "get=1\n\n", 7, &get2) != 0 || get1.len != get2.len ||
		     memcmp(get1.data, get2.data, get1.len) != 0))
			abort();
		free(set);
	}
	fake_deinit(&g);
out:
	uapi_buf_free(&get1);
	uapi_buf_free(&get2);
	uapi_buf_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = text + size;
	struct uapi_buf response = { 0 };
	struct fake f;
	static bool quiet;

	if (!quiet) {
		log_init(LOG_TO_STDERR, LOG_ERR);
		quiet = true;
	}
	if (!fake_init(&f))
		return 0;
	while (text < end) {
		/* One request: up to and including the first empty line. */
		const char *p = text;
		while (p < end && !(*p == '\n' && (p == text || p[-1] == '\n')))
			p++;
		size_t len = (size_t)(p < end ? p + 1 - text : end - text);
		size_t start = response.len;

		uapi_handle(&ops, &f, text, len, &response);
		check_response(&response, start);
		uapi_buf_reset(&response);
		if (!allowedips_check(&f.dev->allowedips))
			abort();
		text += len;
	}
	round_trip(&f);
	uapi_buf_free(&response);
	fake_deinit(&f);
	return 0;
}
