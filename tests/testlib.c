/* The shared test harness; see testlib.h. */
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "status_format.h"

struct test_counts test_counts;

bool test_check(bool ok, const char *expr, const char *file, int line)
{
	if (ok) {
		test_counts.passed++;
		return true;
	}
	test_counts.failed++;
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
	return false;
}

bool test_check_int(long long got, long long want, const char *expr, const char *file, int line)
{
	if (got == want)
		return test_check(true, expr, file, line);
	fprintf(stderr, "%s:%d: got %lld, want %lld\n", file, line, got, want);
	return test_check(false, expr, file, line);
}

static void print_hex(const char *label, const uint8_t *p, size_t len)
{
	fprintf(stderr, "  %s ", label);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x", p[i]);
	fputc('\n', stderr);
}

bool test_check_mem(const void *got, const void *want, size_t len, const char *expr,
		    const char *file, int line)
{
	if (memcmp(got, want, len) == 0)
		return test_check(true, expr, file, line);
	test_check(false, expr, file, line);
	print_hex("got: ", got, len);
	print_hex("want:", want, len);
	return false;
}

int test_summary(void)
{
	printf("%u passed, %u failed\n", test_counts.passed, test_counts.failed);
	return test_counts.failed ? 1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int test_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
			buf[size] = '\0';
			if (len)
				*len = (size_t)size;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

uint64_t test_rng_next(struct test_rng *rng)
{
	uint64_t x = rng->state ? rng->state : 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng->state = x;
	return x;
}

void test_rng_bytes(struct test_rng *rng, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		uint64_t v = test_rng_next(rng);
		size_t n = len < 8 ? len : 8;
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

uint64_t test_seed(void)
{
	const char *env = getenv("MG_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("seed %llu (set MG_TEST_SEED to replay)\n", (unsigned long long)seed);
	return seed;
}

int test_enter_private_netns(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("skipped: cannot create a network namespace: %s\n", strerror(errno));
		return 77;
	}
	return 0;
}

int test_ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r, err;

	if (fd < 0)
		return -1;
	r = ioctl(fd, req, ifr);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

int test_link_up(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (test_ifreq_ioctl(SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return test_ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

int test_addr_set4(const char *name, const char *addr, const char *mask)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1 ||
	    test_ifreq_ioctl(SIOCSIFADDR, &ifr) < 0)
		return -1;
	if (inet_pton(AF_INET, mask, &sin->sin_addr) != 1)
		return -1;
	return test_ifreq_ioctl(SIOCSIFNETMASK, &ifr);
}

char *test_run(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	size_t len = 0, cap = 1 << 16;
	char *out = calloc(1, cap);
	size_t n;

	if (!f || !out) {
		if (f)
			pclose(f);
		free(out);
		return NULL;
	}
	while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger)
				break;
			out = bigger;
			cap *= 2;
		}
	}
	out[len] = 0;
	int st = pclose(f);
	if (status)
		*status = st;
	return out;
}

bool test_has(const char *text, const char *needle)
{
	bool ok = text && strstr(text, needle);

	if (!ok)
		fprintf(stderr, "  missing: %s\n", needle);
	return ok;
}

bool test_lacks(const char *text, const char *needle)
{
	bool ok = text && !strstr(text, needle);

	if (!ok)
		fprintf(stderr, "  unexpected: %s\n", needle);
	return ok;
}

bool test_check_status_text(const char *doc_text, time_t now, const char *want, const char *file,
			    int line)
{
	json_error_t jerr;
	json_t *doc = json_loads(doc_text, 0, &jerr);
	char *got = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&got, &len);
	bool ok = doc && out;

	if (!doc)
		fprintf(stderr, "  json: %s\n", jerr.text);
	if (ok) {
		status_format_human(out, doc, now);
		fclose(out);
		ok = !strcmp(got, want);
		if (!ok)
			fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
	} else if (out) {
		fclose(out);
	}
	json_decref(doc);
	free(got);
	return test_check(ok, "status text", file, line);
}
