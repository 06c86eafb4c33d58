/*
 * The wg-quick text of a stock device: the whole file for the usual cases,
 * AllowedIPs with and without the exit (IPv4 and IPv6), the placeholder for a
 * key made on the device, the lines left out (Endpoint, DNS, MTU), canonical
 * forms, and every field that could smuggle in a line of its own refused.
 * AllowedIPs is checked against a naive reference on random lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wgquick.h"

/* RFC 7748 6.1: Alice's private key, Bob's public key. */
#define PRIV "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define HUB  "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="

static const char *const addrs[] = { "100.64.0.7/32", "fd7a:6d67:7465::7/128" };
static const char *const mesh[] = { "100.64.0.0/10", "fd7a:6d67:7465::/48", "192.168.77.0/24" };

static struct wgquick_config base(void)
{
	return (struct wgquick_config){
		.device = "phone",
		.hub = "home",
		.private_key = PRIV,
		.address = addrs,
		.n_address = 2,
		.mtu = 1280,
		.hub_public_key = HUB,
		.endpoint = "203.0.113.2:41641",
		.allowed_ips = mesh,
		.n_allowed_ips = 3,
	};
}

static void check_text(const struct wgquick_config *c, const char *want)
{
	char *text = NULL;

	CHECK_EQ_INT(wgquick_format(c, &text), 0);
	if (!CHECK(text && strcmp(text, want) == 0))
		fprintf(stderr, "  got:\n%s\n  want:\n%s\n", text ? text : "(null)", want);
	wgquick_free(text);
}

/* The AllowedIPs line of c's text, without the key. */
static char *allowed_line(const struct wgquick_config *c)
{
	char *text = NULL, *line, *end, *out;

	if (!CHECK_EQ_INT(wgquick_format(c, &text), 0))
		return strdup("");
	line = strstr(text, "\nAllowedIPs = ");
	if (!CHECK(line != NULL)) {
		wgquick_free(text);
		return strdup("");
	}
	line += strlen("\nAllowedIPs = ");
	end = strchr(line, '\n');
	out = strndup(line, end ? (size_t)(end - line) : strlen(line));
	wgquick_free(text);
	return out;
}

static void check_allowed(const struct wgquick_config *c, const char *want)
{
	char *got = allowed_line(c);

	if (!CHECK(strcmp(got, want) == 0))
		fprintf(stderr, "  AllowedIPs = %s\n  want         %s\n", got, want);
	free(got);
}

static void test_full(void)
{
	struct wgquick_config c = base();

	check_text(&c, "# meshgate device phone, hub home\n"
		       "[Interface]\n"
		       "PrivateKey = " PRIV "\n"
		       "Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\n"
		       "MTU = 1280\n"
		       "\n"
		       "[Peer]\n"
		       "PublicKey = " HUB "\n"
		       "Endpoint = 203.0.113.2:41641\n"
		       "AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24\n"
		       "PersistentKeepalive = 25\n");
}

/* --public-key: the key stays on the device; no endpoint; DNS when given. */
static void test_device_key_no_endpoint_dns(void)
{
	static const char *const dns[] = { "100.100.100.100", "fd7a:6d67:7465::53" };
	struct wgquick_config c = base();

	c.private_key = NULL;
	c.endpoint = NULL;
	c.dns = dns;
	c.n_dns = 2;
	check_text(&c, "# meshgate device phone, hub home\n"
		       "[Interface]\n"
		       "# PrivateKey = (the key made on the device)\n"
		       "Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\n"
		       "MTU = 1280\n"
		       "DNS = 100.100.100.100, fd7a:6d67:7465::53\n"
		       "\n"
		       "[Peer]\n"
		       "PublicKey = " HUB "\n"
		       "AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24\n"
		       "PersistentKeepalive = 25\n");
	/* An empty DNS list writes no line; mtu 0 none either. */
	c.n_dns = 0;
	c.mtu = 0;
	{
		char *text = NULL;
		CHECK_EQ_INT(wgquick_format(&c, &text), 0);
		CHECK(text && !strstr(text, "DNS") && !strstr(text, "MTU") &&
		      !strstr(text, "Endpoint") && !strstr(text, "\nPrivateKey"));
		wgquick_free(text);
	}
}

static void test_allowed_ips(void)
{
	static const char *const v6only[] = { "fd7a:6d67:7465::/48", "2001:db8:5::/64" };
	static const char *const with_default[] = { "100.64.0.0/10", "0.0.0.0/0",
						    "fd7a:6d67:7465::/48" };
	static const char *const messy[] = { "100.64.0.0/10", "192.168.77.5/24",
					     "fd7a:6d67:7465:0:0::/48", "192.168.77.0/24",
					     "100.64.0.0/10" };
	struct wgquick_config c = base();

	check_allowed(&c, "100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24");
	c.exit_node = true;
	check_allowed(&c, "100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24, 0.0.0.0/0, ::/0");
	c.allowed_ips = v6only;
	c.n_allowed_ips = 2;
	check_allowed(&c, "fd7a:6d67:7465::/48, 2001:db8:5::/64, 0.0.0.0/0, ::/0");
	c.exit_node = false;
	check_allowed(&c, "fd7a:6d67:7465::/48, 2001:db8:5::/64");
	/* A default already listed is not written twice. */
	c.allowed_ips = with_default;
	c.n_allowed_ips = 3;
	c.exit_node = true;
	check_allowed(&c, "100.64.0.0/10, 0.0.0.0/0, fd7a:6d67:7465::/48, ::/0");
	/* The exit alone is enough. */
	c.n_allowed_ips = 0;
	check_allowed(&c, "0.0.0.0/0, ::/0");
	/* Canonical forms; duplicates (also after clearing host bits) once. */
	c.allowed_ips = messy;
	c.n_allowed_ips = 5;
	c.exit_node = false;
	check_allowed(&c, "100.64.0.0/10, 192.168.77.0/24, fd7a:6d67:7465::/48");
}

static void test_canonical(void)
{
	static const char *const v6addr[] = { "FD7A:6D67:7465:0::7/128" };
	struct wgquick_config c = base();
	char *text = NULL;

	c.address = v6addr;
	c.n_address = 1;
	c.endpoint = "[2001:DB8::1]:51820";
	c.private_key = "  " PRIV "\n";
	CHECK_EQ_INT(wgquick_format(&c, &text), 0);
	CHECK(text && strstr(text, "\nAddress = fd7a:6d67:7465::7/128\n"));
	CHECK(text && strstr(text, "\nEndpoint = [2001:db8::1]:51820\n"));
	CHECK(text && strstr(text, "\nPrivateKey = " PRIV "\n"));
	wgquick_free(text);
	text = NULL;
	/* A DNS name stays a name. */
	c.endpoint = "vpn.example.org:41641";
	CHECK_EQ_INT(wgquick_format(&c, &text), 0);
	CHECK(text && strstr(text, "\nEndpoint = vpn.example.org:41641\n"));
	wgquick_free(text);
	wgquick_free(NULL);
}

static void check_invalid(const struct wgquick_config *c, const char *what)
{
	char *text = (char *)"untouched";

	if (!CHECK_EQ_INT(wgquick_format(c, &text), -EINVAL))
		fprintf(stderr, "  accepted: %s\n", what);
	CHECK(text == NULL);
	wgquick_free(text);
}

static void test_invalid(void)
{
	static const char *const injected[] = { "100.64.0.0/10\nPostUp = touch /tmp/x" };
	static const char *const net_addr[] = { "100.64.0.0/24" };
	static const char *const nulls[] = { NULL };
	static const char *const bad_dns[] = { "resolver.example" };
	struct wgquick_config c;

#define INVALID(field, value)                                                                      \
	do {                                                                                       \
		c = base();                                                                        \
		c.field = value;                                                                   \
		check_invalid(&c, #field " = " #value);                                            \
	} while (0)
	INVALID(device, NULL);
	INVALID(device, "");
	INVALID(device, "pho\nne");
	INVALID(device, "0123456789012345678901234567890123456789012345678901234567890123");
	INVALID(hub, "ho\x7fme");
	INVALID(private_key, "not a key");
	INVALID(private_key, PRIV "\nPostUp = x");
	INVALID(hub_public_key, NULL);
	INVALID(hub_public_key, "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK0");
	INVALID(endpoint, "203.0.113.2");
	INVALID(endpoint, "203.0.113.2:0");
	INVALID(endpoint, "203.0.113.2:65536");
	INVALID(endpoint, "2001:db8::1:41641");
	INVALID(endpoint, "host:41641\nPostUp = x");
	INVALID(mtu, 100);
	INVALID(mtu, 65536);
	INVALID(n_address, 0);
	INVALID(address, net_addr);
	INVALID(address, nulls);
	INVALID(allowed_ips, injected);
	INVALID(allowed_ips, nulls);
	INVALID(n_allowed_ips, 0);
	INVALID(n_allowed_ips, WGQUICK_MAX_LIST + 1);
	c = base();
	c.dns = bad_dns;
	c.n_dns = 1;
	check_invalid(&c, "dns = a name");
#undef INVALID
}

/* Random lists of prefixes from a small pool (so with repeats): the line is
 * the distinct ones in first-seen order, plus the defaults with the exit. */
static void test_allowed_random(void)
{
	static const char *const pool[] = { "10.0.0.0/8", "10.1.0.0/16",  "192.168.1.0/24",
					    "0.0.0.0/0",  "::/0",         "2001:db8::/32",
					    "fd00::/8",   "100.64.0.0/10" };
	enum { POOL = sizeof(pool) / sizeof(pool[0]) };
	struct test_rng rng = { test_seed() };

	for (int round = 0; round < 500; round++) {
		const char *list[12];
		struct wgquick_config c = base();
		char want[512] = "";
		bool seen[POOL] = { false };
		size_t n = test_rng_next(&rng) % 12;

		for (size_t i = 0; i < n; i++) {
			size_t k = test_rng_next(&rng) % POOL;
			list[i] = pool[k];
			if (!seen[k])
				snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
					 want[0] ? ", " : "", pool[k]);
			seen[k] = true;
		}
		c.allowed_ips = list;
		c.n_allowed_ips = n;
		c.exit_node = test_rng_next(&rng) & 1;
		if (c.exit_node && !seen[3])
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s0.0.0.0/0",
				 want[0] ? ", " : "");
		if (c.exit_node && !seen[4])
			snprintf(want + strlen(want), sizeof(want) - strlen(want), ", ::/0");
		if (!n && !c.exit_node) {
			check_invalid(&c, "no AllowedIPs");
			continue;
		}
		check_allowed(&c, want);
	}
}

int main(void)
{
	RUN(test_full);
	RUN(test_device_key_no_endpoint_dns);
	RUN(test_allowed_ips);
	RUN(test_canonical);
	RUN(test_invalid);
	RUN(test_allowed_random);
	return test_summary();
}
