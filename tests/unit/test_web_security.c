/*
 * The status server's request rules (webui/policy.h): Host against DNS
 * rebinding, cross-site requests, methods.
 */
#include <string.h>

#include "netaddr.h"
#include "testlib.h"
#include "webui/policy.h"

static union sockaddr_inet sa(const char *text)
{
	union sockaddr_inet s;

	if (sockaddr_parse(&s, text) < 0)
		memset(&s, 0, sizeof(s));
	return s;
}

static union sockaddr_inet listen_addrs[3];

static struct web_request req(const char *local, const char *host)
{
	listen_addrs[0] = sa("127.0.0.1:8080");
	listen_addrs[1] = sa("100.64.0.1:8080");
	listen_addrs[2] = sa("[fd7a:6d67:7465::1]:8080");
	return (struct web_request){ .method = "GET",
				     .host = host,
				     .local = sa(local),
				     .listen = listen_addrs,
				     .n_listen = 3 };
}

static int verdict(const char *local, const char *host)
{
	struct web_request r = req(local, host);
	return web_request_check(&r);
}

static void test_host(void)
{
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.0.0.1:8080"), WEB_OK);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "localhost:8080"), WEB_OK);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "LocalHost:8080"), WEB_OK);
	CHECK_EQ_INT(verdict("100.64.0.1:8080", "100.64.0.1:8080"), WEB_OK);
	CHECK_EQ_INT(verdict("[fd7a:6d67:7465::1]:8080", "[fd7a:6d67:7465::1]:8080"), WEB_OK);
	CHECK_EQ_INT(verdict("[fd7a:6d67:7465::1]:8080", "[fd7a:6d67:7465:0::1]:8080"), WEB_OK);
	/* The address the connection came in on counts (a wildcard listener). */
	CHECK_EQ_INT(verdict("192.168.1.5:8080", "192.168.1.5:8080"), WEB_OK);

	/* DNS rebinding: a name that resolves to us is still not us. */
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "evil.example"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "evil.example:8080"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "localhost.evil.example:8080"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", NULL), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", ""), WEB_MISDIRECTED);
	/* The port must be the one the request came in on. */
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "localhost:8081"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "localhost"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:80", "localhost"), WEB_OK);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.0.0.1"), WEB_MISDIRECTED);
	/* Malformed forms. */
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.0.0.1:"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.0.0.1:08080x"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.0.0.1:99999"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "localhost:8080@evil"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("[fd7a:6d67:7465::1]:8080", "fd7a:6d67:7465::1:8080"),
		     WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("[fd7a:6d67:7465::1]:8080", "[fd7a:6d67:7465::1"), WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("[fd7a:6d67:7465::1]:8080", "[fd7a:6d67:7465::1]x8080"),
		     WEB_MISDIRECTED);
	CHECK_EQ_INT(verdict("127.0.0.1:8080", "127.1:8080"), WEB_MISDIRECTED);
}

static int with(const char *origin, const char *site, const char *method)
{
	struct web_request r = req("127.0.0.1:8080", "127.0.0.1:8080");

	r.origin = origin;
	r.sec_fetch_site = site;
	r.method = method;
	return web_request_check(&r);
}

static void test_cross_site(void)
{
	CHECK_EQ_INT(with(NULL, "same-origin", "GET"), WEB_OK);
	CHECK_EQ_INT(with(NULL, "none", "GET"), WEB_OK);
	CHECK_EQ_INT(with(NULL, "cross-site", "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with(NULL, "Cross-Site", "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with(NULL, "same-site", "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with("http://127.0.0.1:8080", NULL, "GET"), WEB_OK);
	CHECK_EQ_INT(with("http://localhost:8080", NULL, "GET"), WEB_OK);
	CHECK_EQ_INT(with("http://evil.example", NULL, "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with("http://127.0.0.1:9999", NULL, "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with("https://127.0.0.1:8080", NULL, "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with("null", NULL, "GET"), WEB_FORBIDDEN);
	CHECK_EQ_INT(with("", NULL, "GET"), WEB_FORBIDDEN);
}

static void test_methods(void)
{
	CHECK_EQ_INT(with(NULL, NULL, "GET"), WEB_OK);
	CHECK_EQ_INT(with(NULL, NULL, "HEAD"), WEB_OK);
	CHECK_EQ_INT(with(NULL, NULL, "POST"), WEB_METHOD_NOT_ALLOWED);
	CHECK_EQ_INT(with(NULL, NULL, "PUT"), WEB_METHOD_NOT_ALLOWED);
	CHECK_EQ_INT(with(NULL, NULL, "OPTIONS"), WEB_METHOD_NOT_ALLOWED);
	CHECK_EQ_INT(with(NULL, NULL, "get"), WEB_METHOD_NOT_ALLOWED);
	CHECK_EQ_INT(with(NULL, NULL, NULL), WEB_METHOD_NOT_ALLOWED);
	/* Host comes first: a bad Host is misdirected whatever the method. */
	struct web_request r = req("127.0.0.1:8080", "evil.example");
	r.method = "POST";
	CHECK_EQ_INT(web_request_check(&r), WEB_MISDIRECTED);
}

int main(void)
{
	RUN(test_host);
	RUN(test_cross_site);
	RUN(test_methods);
	return test_summary();
}
