/* Prefix and endpoint parsing and formatting (daemon/netaddr.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "netaddr.h"
#include "testlib.h"

/* Parses text and checks that it formats back as want (NULL: must fail). */
static void check_prefix(const char *text, const char *want)
{
	struct prefix p;
	char out[PREFIX_STR_LEN];
	int ret = prefix_parse(&p, text);

	if (!want) {
		if (!CHECK_EQ_INT(ret, -EINVAL))
			fprintf(stderr, "  accepted '%s'\n", text);
		return;
	}
	if (!CHECK_EQ_INT(ret, 0)) {
		fprintf(stderr, "  rejected '%s'\n", text);
		return;
	}
	prefix_format(&p, out, sizeof(out));
	if (!CHECK(strcmp(out, want) == 0))
		fprintf(stderr, "  '%s' formatted as '%s', want '%s'\n", text, out, want);
}

static void test_prefix_parse(void)
{
	check_prefix("10.0.0.0/8", "10.0.0.0/8");
	check_prefix("100.64.0.1/10", "100.64.0.1/10");
	check_prefix("0.0.0.0/0", "0.0.0.0/0");
	check_prefix("192.168.1.7", "192.168.1.7/32");
	check_prefix("fd7a:6d67:7465::/48", "fd7a:6d67:7465::/48");
	check_prefix("2001:DB8::1/128", "2001:db8::1/128");
	check_prefix("::/0", "::/0");
	check_prefix("::1", "::1/128");
	check_prefix("", NULL);
	check_prefix("/8", NULL);
	check_prefix("10.0.0.0/", NULL);
	check_prefix("10.0.0.0/33", NULL);
	check_prefix("10.0.0.0/-1", NULL);
	check_prefix("10.0.0.0/+8", NULL);
	check_prefix("10.0.0.0/8/8", NULL);
	check_prefix("10.0.0/8", NULL);
	check_prefix("10.0.0.256/32", NULL);
	check_prefix("fe80::1/129", NULL);
	check_prefix("fe80::1%eth0/64", NULL);
	check_prefix("example.com/24", NULL);
	check_prefix(" 10.0.0.0/8", NULL);
	check_prefix("10.0.0.0/8 ", NULL);
	check_prefix("10.0.0.0/123456", NULL);
	check_prefix("1111:2222:3333:4444:5555:6666:7777:8888/128999", NULL);
}

static void test_prefix_mask(void)
{
	struct prefix p;
	char out[PREFIX_STR_LEN];

	CHECK(prefix_parse(&p, "192.168.1.77/24") == 0);
	CHECK(!prefix_is_network(&p));
	prefix_mask(&p);
	CHECK(prefix_is_network(&p));
	prefix_format(&p, out, sizeof(out));
	CHECK(strcmp(out, "192.168.1.0/24") == 0);

	CHECK(prefix_parse(&p, "10.255.255.255/9") == 0);
	prefix_mask(&p);
	prefix_format(&p, out, sizeof(out));
	CHECK(strcmp(out, "10.128.0.0/9") == 0);

	CHECK(prefix_parse(&p, "2001:db8:ffff::1/33") == 0);
	prefix_mask(&p);
	prefix_format(&p, out, sizeof(out));
	CHECK(strcmp(out, "2001:db8:8000::/33") == 0);

	CHECK(prefix_parse(&p, "1.2.3.4/0") == 0);
	prefix_mask(&p);
	prefix_format(&p, out, sizeof(out));
	CHECK(strcmp(out, "0.0.0.0/0") == 0);
	prefix_format_addr(&p, out, sizeof(out));
	CHECK(strcmp(out, "0.0.0.0") == 0);
}

static struct prefix pfx(const char *text)
{
	struct prefix p;
	if (!CHECK(prefix_parse(&p, text) == 0))
		fprintf(stderr, "  bad test prefix '%s'\n", text);
	return p;
}

static void test_prefix_relations(void)
{
	struct prefix a = pfx("10.0.0.0/8"), b = pfx("10.1.0.0/16"), c = pfx("11.0.0.0/8");
	struct prefix v6 = pfx("::/0"), all4 = pfx("0.0.0.0/0");
	uint8_t addr[4] = { 10, 200, 0, 1 };

	CHECK(prefix_contains(&a, &b));
	CHECK(!prefix_contains(&b, &a));
	CHECK(prefix_contains(&a, &a));
	CHECK(!prefix_contains(&a, &c));
	CHECK(prefix_contains(&all4, &c));
	CHECK(!prefix_contains(&v6, &c));
	CHECK(prefix_overlaps(&a, &b) && prefix_overlaps(&b, &a));
	CHECK(!prefix_overlaps(&a, &c));
	CHECK(prefix_contains_addr(&a, AF_INET, addr));
	CHECK(!prefix_contains_addr(&b, AF_INET, addr));
	CHECK(!prefix_contains_addr(&v6, AF_INET, addr));
	struct prefix a2 = pfx("10.0.0.0/8"), a9 = pfx("10.0.0.0/9");
	CHECK(prefix_equal(&a, &a2));
	CHECK(!prefix_equal(&a, &a9));
	struct prefix odd = pfx("10.0.0.128/25"), lower = pfx("10.0.0.0/25");
	CHECK(!prefix_overlaps(&odd, &lower));
}

static void check_endpoint(const char *text, const char *host, unsigned port, bool numeric)
{
	struct endpoint ep;
	char out[ENDPOINT_STR_LEN];
	int ret = endpoint_parse(&ep, text);

	if (!host) {
		if (!CHECK_EQ_INT(ret, -EINVAL))
			fprintf(stderr, "  accepted endpoint '%s'\n", text);
		return;
	}
	if (!CHECK_EQ_INT(ret, 0)) {
		fprintf(stderr, "  rejected endpoint '%s'\n", text);
		return;
	}
	CHECK(strcmp(ep.host, host) == 0);
	CHECK_EQ_INT(ep.port, port);
	CHECK_EQ_INT(ep.numeric, numeric);
	endpoint_format(&ep, out, sizeof(out));
	if (!CHECK(strcmp(out, text) == 0))
		fprintf(stderr, "  '%s' formatted as '%s'\n", text, out);
}

static void test_endpoint_parse(void)
{
	check_endpoint("203.0.113.7:41641", "203.0.113.7", 41641, true);
	check_endpoint("[2001:db8::1]:51820", "2001:db8::1", 51820, true);
	check_endpoint("vpn.example.com:443", "vpn.example.com", 443, false);
	check_endpoint("home:1", "home", 1, false);
	check_endpoint("my_host.lan.:65535", "my_host.lan.", 65535, false);
	check_endpoint("203.0.113.7:0", NULL, 0, false);
	check_endpoint("203.0.113.7:65536", NULL, 0, false);
	check_endpoint("203.0.113.7", NULL, 0, false);
	check_endpoint("203.0.113.7:", NULL, 0, false);
	check_endpoint(":41641", NULL, 0, false);
	check_endpoint("2001:db8::1:51820", NULL, 0, false);
	check_endpoint("[203.0.113.7]:1", NULL, 0, false);
	check_endpoint("[example.com]:1", NULL, 0, false);
	check_endpoint("[2001:db8::1]51820", NULL, 0, false);
	check_endpoint("1.2.3:80", NULL, 0, false);
	check_endpoint("-bad.example:80", NULL, 0, false);
	check_endpoint("bad-.example:80", NULL, 0, false);
	check_endpoint("a..b:80", NULL, 0, false);
	check_endpoint("has space:80", NULL, 0, false);
	check_endpoint("host:8x", NULL, 0, false);

	struct endpoint ep;
	CHECK(endpoint_parse(&ep, "[2001:db8::1]:51820") == 0);
	CHECK(ep.addr.sa.sa_family == AF_INET6 && ntohs(ep.addr.in6.sin6_port) == 51820);
	CHECK(endpoint_parse(&ep, "10.1.2.3:7") == 0);
	CHECK(ep.addr.sa.sa_family == AF_INET && ntohs(ep.addr.in.sin_port) == 7);
	CHECK(ep.addr.in.sin_addr.s_addr == htonl(0x0a010203));
	char label64[80];
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ":1");
	CHECK(endpoint_parse(&ep, label64) == -EINVAL);
	strcpy(label64 + 63, ":1");
	CHECK(endpoint_parse(&ep, label64) == 0);
}

static void test_endpoint_resolve(void)
{
	struct endpoint ep;
	union sockaddr_inet sa;
	char out[SOCKADDR_STR_LEN];

	CHECK(endpoint_parse(&ep, "192.0.2.1:41641") == 0);
	CHECK(endpoint_resolve(&ep, AF_UNSPEC, &sa) == 0);
	sockaddr_format(&sa, out, sizeof(out));
	CHECK(strcmp(out, "192.0.2.1:41641") == 0);

	/* "localhost" resolves from /etc/hosts, without DNS. */
	CHECK(endpoint_parse(&ep, "localhost:5") == 0);
	if (CHECK(endpoint_resolve(&ep, AF_INET, &sa) == 0)) {
		sockaddr_format(&sa, out, sizeof(out));
		CHECK(strcmp(out, "127.0.0.1:5") == 0);
	}
	CHECK(endpoint_parse(&ep, "no-such-host.invalid:5") == 0);
	CHECK(endpoint_resolve(&ep, AF_UNSPEC, &sa) == -ENOENT);
}

static void test_sockaddr(void)
{
	union sockaddr_inet a, b;
	char out[SOCKADDR_STR_LEN];

	CHECK(sockaddr_parse(&a, "127.0.0.1:8080") == 0);
	CHECK(sockaddr_len(&a) == sizeof(struct sockaddr_in));
	sockaddr_format(&a, out, sizeof(out));
	CHECK(strcmp(out, "127.0.0.1:8080") == 0);
	CHECK(sockaddr_parse(&b, "[::1]:8080") == 0);
	CHECK(sockaddr_len(&b) == sizeof(struct sockaddr_in6));
	sockaddr_format(&b, out, sizeof(out));
	CHECK(strcmp(out, "[::1]:8080") == 0);
	CHECK(!sockaddr_equal(&a, &b));
	CHECK(sockaddr_parse(&b, "127.0.0.1:8080") == 0);
	CHECK(sockaddr_equal(&a, &b));
	CHECK(sockaddr_parse(&b, "127.0.0.1:8081") == 0);
	CHECK(!sockaddr_equal(&a, &b));
	CHECK(sockaddr_parse(&a, "localhost:80") == -EINVAL);
	CHECK(sockaddr_parse(&a, "::1:80") == -EINVAL);
	CHECK(sockaddr_parse(&a, "[::1]") == -EINVAL);
	CHECK(sockaddr_parse(&a, "1.2.3.4:99999") == -EINVAL);
}

int main(void)
{
	RUN(test_prefix_parse);
	RUN(test_prefix_mask);
	RUN(test_prefix_relations);
	RUN(test_endpoint_parse);
	RUN(test_endpoint_resolve);
	RUN(test_sockaddr);
	return test_summary();
}
