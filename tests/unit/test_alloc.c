/* Host address and node name allocation (daemon/mesh/alloc.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/alloc.h"
#include "testlib.h"

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

/* Allocates in net with the given used addresses and checks the result
 * (want NULL: must fail with -ENOSPC). */
static void check_alloc(const char *net, const char *const *used, size_t n_used, const char *want)
{
	struct prefix n = pfx(net), u[16], out;
	char got[PREFIX_STR_LEN];
	int ret;

	for (size_t i = 0; i < n_used; i++)
		u[i] = pfx(used[i]);
	ret = alloc_host_address(&n, u, n_used, &out);
	if (!want) {
		CHECK_EQ_INT(ret, -ENOSPC);
		return;
	}
	if (!CHECK_EQ_INT(ret, 0))
		return;
	prefix_format(&out, got, sizeof(got));
	if (!CHECK(strcmp(got, want) == 0))
		fprintf(stderr, "  in %s: got %s, want %s\n", net, got, want);
}

static void test_first_and_gaps(void)
{
	const char *const some[] = { "100.64.0.3", "100.64.0.1", "100.64.0.2", "100.64.0.5" };
	const char *const dups[] = { "100.64.0.1", "100.64.0.1", "100.64.0.2", "100.64.0.2" };
	const char *const outside[] = { "10.0.0.1", "fd00::1", "100.128.0.1" };
	const char *const network[] = { "100.64.0.0", "100.64.0.2" };

	check_alloc("100.64.0.0/10", NULL, 0, "100.64.0.1/32");
	check_alloc("100.64.0.0/10", some, 4, "100.64.0.4/32");
	check_alloc("100.64.0.0/10", some + 1, 1, "100.64.0.2/32");
	check_alloc("100.64.0.0/10", dups, 4, "100.64.0.3/32");
	check_alloc("100.64.0.0/10", outside, 3, "100.64.0.1/32");
	check_alloc("100.64.0.0/10", network, 2, "100.64.0.1/32");
	/* Host bits in the network are ignored. */
	check_alloc("100.64.7.9/10", NULL, 0, "100.64.0.1/32");
	check_alloc("192.168.7.0/24", NULL, 0, "192.168.7.1/32");
}

/* The resolver's addresses (100.100.100.100, fd7a:6d67:7465::53) are never
 * handed out: a network filled up to one skips it. */
static void test_resolver_reserved(void)
{
	struct prefix net4 = pfx("100.100.100.0/24"), net6 = pfx("fd7a:6d67:7465::/48");
	struct prefix used[99], out;
	char got[PREFIX_STR_LEN];

	for (size_t i = 0; i < 99; i++) {
		used[i] = net4;
		used[i].addr[3] = (uint8_t)(i + 1);
	}
	CHECK_EQ_INT(alloc_host_address(&net4, used, 99, &out), 0);
	prefix_format(&out, got, sizeof(got));
	CHECK(strcmp(got, "100.100.100.101/32") == 0);
	for (size_t i = 0; i < 0x52; i++) {
		used[i] = net6;
		used[i].addr[15] = (uint8_t)(i + 1);
	}
	CHECK_EQ_INT(alloc_host_address(&net6, used, 0x52, &out), 0);
	prefix_format(&out, got, sizeof(got));
	CHECK(strcmp(got, "fd7a:6d67:7465::54/128") == 0);
}

/* A network whose only free host is the resolver's address is full. */
static void test_resolver_full(void)
{
	const char *const others[] = { "100.100.100.97", "100.100.100.98", "100.100.100.99",
				       "100.100.100.101", "100.100.100.102" };

	check_alloc("100.100.100.96/29", others, 4, "100.100.100.102/32");
	check_alloc("100.100.100.96/29", others, 5, NULL);
}

static void test_small_networks(void)
{
	const char *const one[] = { "10.0.0.1" };
	const char *const both[] = { "10.0.0.2", "10.0.0.1" };

	check_alloc("10.0.0.0/30", NULL, 0, "10.0.0.1/32");
	check_alloc("10.0.0.0/30", one, 1, "10.0.0.2/32");
	check_alloc("10.0.0.0/30", both, 2, NULL); /* .3 is the broadcast */
	check_alloc("10.0.0.0/31", NULL, 0, NULL);
	check_alloc("10.0.0.0/32", NULL, 0, NULL);
	check_alloc("fd00::/127", NULL, 0, "fd00::1/128");
	check_alloc("fd00::/128", NULL, 0, NULL);
}

/* A /10 with used addresses past the first gap, and the top of a /22
 * (host bits crossing byte boundaries). */
static void test_large_networks(void)
{
	const char *const far[] = { "100.127.255.254", "100.64.0.1", "100.100.0.0" };
	const char *const top[] = { "100.64.1.0", "100.64.0.255", "100.64.0.1" };
	struct prefix net = pfx("10.0.0.0/22"), used[1022], out;

	check_alloc("100.64.0.0/10", far, 3, "100.64.0.2/32");
	check_alloc("100.64.0.0/10", top, 3, "100.64.0.2/32");
	for (size_t i = 0; i < 1022; i++) {
		used[i] = net;
		used[i].addr[2] = (uint8_t)((1022 - i) >> 8);
		used[i].addr[3] = (uint8_t)(1022 - i);
		used[i].len = 32;
	}
	CHECK_EQ_INT(alloc_host_address(&net, used, 1022, &out), -ENOSPC);
	used[500].addr[3] ^= 1; /* frees one, duplicates another */
	CHECK_EQ_INT(alloc_host_address(&net, used, 1022, &out), 0);
	CHECK_EQ_INT(out.addr[2] * 256 + out.addr[3], 1022 - 500);
	/* Hosts 1..300 taken, listed backwards: the next is 301 = 0.0.1.45. */
	net = pfx("100.64.0.0/10");
	for (size_t i = 0; i < 300; i++) {
		used[i] = net;
		used[i].addr[2] = (uint8_t)((300 - i) >> 8);
		used[i].addr[3] = (uint8_t)(300 - i);
		used[i].len = 32;
	}
	CHECK_EQ_INT(alloc_host_address(&net, used, 300, &out), 0);
	CHECK_MEM(out.addr, ((const uint8_t[]){ 100, 64, 1, 45 }), 4);
	CHECK_EQ_INT(out.len, 32);
}

static void test_ipv6(void)
{
	const char *const used[] = { "fd7a:6d67:7465::1", "fd7a:6d67:7465::2",
				     "fd7a:6d67:7465:1::3", "fd7a:6d67:7465:0:1::4" };
	const char *const full_low[] = { "fd7a:6d67:7465::1", "fd7a:6d67:7465::2",
					 "fd7a:6d67:7465::3", "fd7a:6d67:7465::4" };
	const char *const byte[] = { "fd00::ff", "fd00::100", "fd00::1" };

	check_alloc("fd7a:6d67:7465::/48", NULL, 0, "fd7a:6d67:7465::1/128");
	check_alloc("fd7a:6d67:7465::/48", used, 4, "fd7a:6d67:7465::3/128");
	check_alloc("fd7a:6d67:7465::/48", full_low, 4, "fd7a:6d67:7465::5/128");
	check_alloc("fd00::/8", byte, 3, "fd00::2/128");
	check_alloc("fd7a:6d67:7465::/126", full_low, 3, NULL);
}

static void test_bad_family(void)
{
	struct prefix net = { 0 }, out;

	CHECK_EQ_INT(alloc_host_address(&net, NULL, 0, &out), -EINVAL);
}

struct names {
	const char *const *list;
	size_t n;
};

static bool taken(void *ctx, const char *name)
{
	const struct names *names = ctx;

	for (size_t i = 0; i < names->n; i++)
		if (strcmp(names->list[i], name) == 0)
			return true;
	return false;
}

static void check_name(const char *wanted, const char *const *list, size_t n, const char *want)
{
	struct names names = { list, n };
	char out[ALLOC_NAME_MAX + 1];

	alloc_unique_name(wanted, taken, &names, out);
	if (!CHECK(strcmp(out, want) == 0))
		fprintf(stderr, "  '%s': got '%s', want '%s'\n", wanted ? wanted : "(null)", out,
			want);
}

static void test_names(void)
{
	const char *const laptops[] = { "laptop", "laptop-2", "laptop-4" };
	const char *const nodes[] = { "node" };

	check_name("laptop", NULL, 0, "laptop");
	check_name("laptop", laptops, 1, "laptop-2");
	check_name("laptop", laptops, 3, "laptop-3");
	check_name("home.lan_1-a", NULL, 0, "home.lan_1-a");
	check_name("My Laptop!", NULL, 0, "My-Laptop-");
	check_name("caf\xc3\xa9", NULL, 0, "caf--");
	check_name("a/b\\c", NULL, 0, "a-b-c");
	check_name("", NULL, 0, "node");
	check_name(NULL, NULL, 0, "node");
	check_name("", nodes, 1, "node-2");
}

/* A name of digits and dots would shadow a node id or read as an address
 * in `meshgate nodes remove` and `routes approve`: it gets a prefix. */
static void test_numeric_names(void)
{
	const char *const taken[] = { "node-3" };
	char digits[80];

	check_name("3", NULL, 0, "node-3");
	check_name("3", taken, 1, "node-3-2");
	check_name("10.0.0.1", NULL, 0, "node-10.0.0.1");
	check_name("..", NULL, 0, "node-..");
	check_name("3com", NULL, 0, "3com");
	check_name("1.2.3a", NULL, 0, "1.2.3a");
	check_name("3 4", NULL, 0, "3-4");
	memset(digits, '7', sizeof(digits) - 1);
	digits[sizeof(digits) - 1] = '\0';
	check_name(digits, NULL, 0,
		   "node-7777777777777777777777777777777777777777777777777777777777");
	CHECK(alloc_name_numeric("42"));
	CHECK(alloc_name_numeric("192.168.1.1"));
	CHECK(!alloc_name_numeric("node-42"));
	/* A device's name is taken as given or refused. */
	CHECK(alloc_name_valid("phone"));
	CHECK(alloc_name_valid("My_Phone.2"));
	CHECK(!alloc_name_valid("42"));
	CHECK(!alloc_name_valid("10.0.0.1"));
	CHECK(!alloc_name_valid(""));
	CHECK(!alloc_name_valid("my phone"));
	CHECK(!alloc_name_valid("caf\xc3\xa9"));
	memset(digits, 'a', 64);
	digits[64] = '\0';
	CHECK(!alloc_name_valid(digits));
	digits[63] = '\0';
	CHECK(alloc_name_valid(digits));
}

static void test_name_length(void)
{
	char long_name[100], names[10][64];
	const char *list[10];

	memset(long_name, 'x', 99);
	long_name[99] = '\0';
	/* names[0] = 63 x, names[k] = the k + 1 suffix on as many x as fit */
	snprintf(names[0], sizeof(names[0]), "%.63s", long_name);
	list[0] = names[0];
	for (int k = 1; k < 10; k++) {
		int slen = k + 1 < 10 ? 2 : 3;

		/* 63 - slen x, then the suffix: exactly 63 characters. */
		memset(names[k], 'x', (size_t)(63 - slen));
		sprintf(names[k] + 63 - slen, "-%d", k + 1);
		list[k] = names[k];
	}
	check_name(long_name, NULL, 0, names[0]);
	check_name(long_name, list, 1, names[1]);
	check_name(long_name, list, 9, names[9]);
	CHECK_EQ_INT(strlen(names[9]), 63);
	CHECK(strcmp(names[9] + 60, "-10") == 0);
}

int main(void)
{
	RUN(test_first_and_gaps);
	RUN(test_small_networks);
	RUN(test_resolver_reserved);
	RUN(test_resolver_full);
	RUN(test_large_networks);
	RUN(test_ipv6);
	RUN(test_bad_family);
	RUN(test_names);
	RUN(test_numeric_names);
	RUN(test_name_length);
	return test_summary();
}
