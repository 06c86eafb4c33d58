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

/* The DNS line of c's text ("" when there is none). */
static char *dns_line(const struct wgquick_config *c)
{
	char *text = NULL, *line, *end, *out;

	if (!CHECK_EQ_INT(wgquick_format(c, &text), 0))
		return strdup("?");
	line = strstr(text, "\nDNS = ");
	if (!line) {
		wgquick_free(text);
		return strdup("");
	}
	line += strlen("\nDNS = ");
	end = strchr(line, '\n');
	out = strndup(line, end ? (size_t)(end - line) : strlen(line));
	wgquick_free(text);
	return out;
}

static void check_dns(const struct wgquick_config *c, const char *want)
{
	char *got = dns_line(c);

	if (!CHECK(strcmp(got, want) == 0))
		fprintf(stderr, "  DNS = %s\n  want  %s\n", got, want);
	free(got);
}

/* The device's DNS name, when given, in the first comment. */
static void test_dns_name_comment(void)
{
	struct wgquick_config c = base();
	char *text = NULL;

	c.device = "my_phone";
	c.dns_name = "my-phone.mesh.internal";
	if (!CHECK_EQ_INT(wgquick_format(&c, &text), 0))
		return;
	CHECK(strncmp(text, "# meshgate device my_phone (my-phone.mesh.internal), hub home\n",
		      strlen("# meshgate device my_phone (my-phone.mesh.internal), hub home\n")) ==
	      0);
	wgquick_free(text);
}

/* The hub's resolver and the mesh's domain, as wg-quick takes a search
 * domain: after the addresses on the DNS line. */
static void test_dns_search(void)
{
	static const char *const dns[] = { "100.100.100.100", "fd7a:6d67:7465::53" };
	static const char *const search[] = { "mesh.internal" };
	static const char *const messy[] = { "MESH.Internal.", "home.lan", "mesh.internal" };
	struct wgquick_config c = base();

	c.dns = dns;
	c.n_dns = 1;
	c.dns_search = search;
	c.n_dns_search = 1;
	check_text(&c, "# meshgate device phone, hub home\n"
		       "[Interface]\n"
		       "PrivateKey = " PRIV "\n"
		       "Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\n"
		       "MTU = 1280\n"
		       "DNS = 100.100.100.100, mesh.internal\n"
		       "\n"
		       "[Peer]\n"
		       "PublicKey = " HUB "\n"
		       "Endpoint = 203.0.113.2:41641\n"
		       "AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24\n"
		       "PersistentKeepalive = 25\n");
	c.n_dns = 2;
	c.dns_search = messy;
	c.n_dns_search = 3;
	check_dns(&c, "100.100.100.100, fd7a:6d67:7465::53, mesh.internal, home.lan");
	/* A search domain alone has no resolver to go to: no line. */
	c.n_dns = 0;
	check_dns(&c, "");
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
	static const char *const dns_ok[] = { "100.100.100.100" };
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
	{
		static const char *const bad_search[][1] = {
			{ "mesh.internal\nPostUp = touch /tmp/x" },
			{ "mesh internal" },
			{ "bad_label.example" },
			{ "" },
			{ NULL },
			{ "a..b" },
		};
		for (size_t i = 0; i < sizeof(bad_search) / sizeof(bad_search[0]); i++) {
			c = base();
			c.dns = dns_ok;
			c.n_dns = 1;
			c.dns_search = bad_search[i];
			c.n_dns_search = 1;
			check_invalid(&c, "a bad search domain");
		}
		c.n_dns_search = WGQUICK_MAX_LIST + 1;
		check_invalid(&c, "too many search domains");
	}
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

/* Random resolver and search lists with repeats against a naive
 * reference: distinct addresses in first-seen order, then distinct search
 * domains in lower case without the final dot; no line without a resolver. */
static void test_dns_random(void)
{
	static const char *const resolvers[] = { "100.100.100.100", "fd7a:6d67:7465::53",
						 "192.0.2.53" };
	static const char *const names[] = { "mesh.internal", "MESH.internal.", "home.lan",
					     "Home.Lan", "x.example" };
	static const char *const canon[] = { "mesh.internal", "mesh.internal", "home.lan",
					     "home.lan", "x.example" };
	struct test_rng rng = { test_seed() };

	for (int round = 0; round < 500; round++) {
		const char *dns[6], *search[6];
		const char *seen[12];
		size_t n_seen = 0;
		struct wgquick_config c = base();
		char want[512] = "";

		c.n_dns = test_rng_next(&rng) % 6;
		c.n_dns_search = test_rng_next(&rng) % 6;
		for (size_t i = 0; i < c.n_dns; i++)
			dns[i] = resolvers[test_rng_next(&rng) % 3];
		for (size_t i = 0; i < c.n_dns_search; i++) {
			size_t k = test_rng_next(&rng) % 5;
			search[i] = names[k];
			seen[c.n_dns + i] = canon[k];
		}
		for (size_t i = 0; i < c.n_dns; i++)
			seen[i] = dns[i];
		for (size_t i = 0; c.n_dns && i < c.n_dns + c.n_dns_search; i++) {
			bool dup = false;
			for (size_t k = 0; k < n_seen && !dup; k++)
				dup = strcmp(seen[k], seen[i]) == 0;
			if (dup)
				continue;
			seen[n_seen++] = seen[i];
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
				 want[0] ? ", " : "", seen[i]);
		}
		c.dns = dns;
		c.dns_search = search;
		check_dns(&c, want);
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
	RUN(test_dns_search);
	RUN(test_dns_name_comment);
	RUN(test_dns_random);
	return test_summary();
}
