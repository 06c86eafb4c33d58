/* The mesh's name table (daemon/dns/zone.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/meshzone.h"
#include "mesh/host.h"
#include "testlib.h"

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

/* Whether name has exactly the addresses want (text, any order). */
static bool has_addresses(const struct dns_zone *z, const char *name, const char *const *want,
			  size_t n_want)
{
	const struct dns_zone_entry *e = dns_zone_lookup(z, name, strlen(name));
	const struct prefix *a;
	size_t n;

	if (!e) {
		fprintf(stderr, "  no name %s\n", name);
		return false;
	}
	a = dns_zone_addresses(z, e, &n);
	if (n != n_want) {
		fprintf(stderr, "  %s: %zu addresses, want %zu\n", name, n, n_want);
		return false;
	}
	for (size_t i = 0; i < n_want; i++) {
		struct prefix w = pfx(want[i]);
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = a[j].family == w.family &&
				!memcmp(a[j].addr, w.addr, addr_len(w.family));
		if (!found) {
			fprintf(stderr, "  %s lacks %s\n", name, want[i]);
			return false;
		}
	}
	return true;
}

static const char *name_of(const struct dns_zone *z, const char *addr)
{
	struct prefix p = pfx(addr);
	const struct dns_zone_entry *e = dns_zone_lookup_addr(z, p.family, p.addr);

	return e ? e->name : "";
}

/* A view: self "home", peers "Laptop" and "exit_1" (not a DNS label), a
 * device "phone" and one named as a peer ("LAPTOP"). */
struct fixture {
	struct prefix self[2], laptop_ips[4], exit_ips[2], phone[2], dup[1];
	struct mesh_peer peers[2];
	struct mesh_device devices[2];
	struct mesh_view view;
};

static void fixture_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->self[0] = pfx("100.64.0.1/10");
	fx->self[1] = pfx("fd7a:6d67:7465::1/48");
	/* Its addresses, then a route and a device's address it carries. */
	fx->laptop_ips[0] = pfx("100.64.0.2/32");
	fx->laptop_ips[1] = pfx("fd7a:6d67:7465::2/128");
	fx->laptop_ips[2] = pfx("192.168.1.0/24");
	fx->laptop_ips[3] = pfx("100.64.0.9/32");
	fx->exit_ips[0] = pfx("100.64.0.3/32");
	fx->phone[0] = pfx("100.64.0.4/32");
	fx->phone[1] = pfx("fd7a:6d67:7465::4/128");
	fx->dup[0] = pfx("100.64.0.5/32");
	strcpy(fx->peers[0].name, "Laptop");
	fx->peers[0].id = 2;
	fx->peers[0].allowed_ips = fx->laptop_ips;
	fx->peers[0].n_allowed_ips = 4;
	fx->peers[0].n_addresses = 2;
	strcpy(fx->peers[1].name, "exit_1");
	fx->peers[1].id = 3;
	fx->peers[1].allowed_ips = fx->exit_ips;
	fx->peers[1].n_allowed_ips = 1;
	fx->peers[1].n_addresses = 1;
	strcpy(fx->devices[0].name, "phone");
	memcpy(fx->devices[0].addresses, fx->phone, sizeof(fx->phone));
	fx->devices[0].n_addresses = 2;
	strcpy(fx->devices[1].name, "LAPTOP");
	fx->devices[1].addresses[0] = fx->dup[0];
	fx->devices[1].n_addresses = 1;
	fx->view = (struct mesh_view){ .peers = fx->peers,
				       .n_peers = 2,
				       .addresses = fx->self,
				       .n_addresses = 2,
				       .devices = fx->devices,
				       .n_devices = 2,
				       .self_id = 1 };
}

static struct dns_record record(const char *name, const char *addr)
{
	struct dns_record r = { .address = pfx(addr) };

	snprintf(r.name, sizeof(r.name), "%s", name);
	return r;
}

static void test_from_view(void)
{
	struct dns_record recs[] = { record("switch", "192.168.77.2"),
				     record("Switch", "fd00:77::2"),
				     record("switch", "192.168.77.2"), /* once */
				     record("phone", "192.168.77.9"),  /* a member's */
				     record("nas", "100.64.0.4") };
	const char *const home[] = { "100.64.0.1", "fd7a:6d67:7465::1" };
	const char *const laptop[] = { "100.64.0.2", "fd7a:6d67:7465::2" };
	const char *const phone[] = { "100.64.0.4", "fd7a:6d67:7465::4" };
	const char *const sw[] = { "192.168.77.2", "fd00:77::2" };
	const char *const exit1[] = { "100.64.0.3" };
	const struct dns_zone_skip *skipped;
	struct dns_zone_stats st;
	size_t n;
	struct dns_zone *z;
	struct fixture fx;

	fixture_init(&fx);
	if (!CHECK_EQ_INT(dns_zone_from_view(NULL, 7, "home", &fx.view, recs, 5, &z, &st), 0))
		return;
	CHECK(strcmp(dns_zone_domain(z), "mesh.internal") == 0);
	CHECK_EQ_INT(dns_zone_serial(z), 7);
	CHECK(has_addresses(z, "home", home, 2));
	/* Only a peer's own addresses: not its routes or its devices'. */
	CHECK(has_addresses(z, "laptop", laptop, 2));
	CHECK(has_addresses(z, "LaPtOp", laptop, 2));
	CHECK(has_addresses(z, "phone", phone, 2));
	CHECK(has_addresses(z, "switch", sw, 2));
	CHECK(has_addresses(z, "nas", phone, 1));
	/* A name that is no label gets one: exit_1 is exit-1. */
	CHECK(dns_zone_lookup(z, "exit_1", 6) == NULL);
	CHECK(has_addresses(z, "exit-1", exit1, 1));
	CHECK(dns_zone_lookup(z, "laptop.x", 8) == NULL);
	CHECK(dns_zone_lookup(z, "", 0) == NULL);
	CHECK_EQ_INT(st.names, 6); /* home laptop exit-1 phone switch nas */
	CHECK_EQ_INT(dns_zone_count(z), 6);
	CHECK_EQ_INT(st.invalid, 0);
	CHECK_EQ_INT(st.duplicate, 2); /* the device LAPTOP, the record phone */
	CHECK_EQ_INT(st.over_cap, 0);
	/* The device LAPTOP (no id) is skipped for the node Laptop (id 2). */
	skipped = dns_zone_skipped(z, &n);
	if (CHECK_EQ_INT(n, 1)) {
		CHECK(strcmp(skipped[0].name, "LAPTOP") == 0);
		CHECK(strcmp(skipped[0].label, "laptop") == 0);
		CHECK(strcmp(skipped[0].holder, "Laptop") == 0);
	}
	CHECK(strcmp(dns_zone_member_label(z, "Laptop"), "laptop") == 0);
	CHECK(strcmp(dns_zone_member_label(z, "exit_1"), "exit-1") == 0);
	CHECK(dns_zone_member_label(z, "LAPTOP") == NULL);
	CHECK(dns_zone_member_label(z, "switch") == NULL); /* a record */
	/* Reverse: members first, then records; nothing for an address
	 * nobody has. */
	CHECK(strcmp(name_of(z, "100.64.0.2"), "laptop") == 0);
	CHECK(strcmp(name_of(z, "fd7a:6d67:7465::1"), "home") == 0);
	CHECK(strcmp(name_of(z, "100.64.0.4"), "phone") == 0);
	CHECK(strcmp(name_of(z, "192.168.77.2"), "switch") == 0);
	CHECK(strcmp(name_of(z, "100.64.0.5"), "") == 0);
	CHECK(strcmp(name_of(z, "100.64.0.3"), "exit-1") == 0);
	CHECK(strcmp(name_of(z, "100.64.0.9"), "") == 0);
	CHECK(dns_zone_is_mesh(z, AF_INET, pfx("100.127.1.1").addr));
	CHECK(!dns_zone_is_mesh(z, AF_INET, pfx("100.128.0.1").addr));
	CHECK(dns_zone_is_mesh(z, AF_INET6, pfx("fd7a:6d67:7465:1::1").addr));
	CHECK(!dns_zone_is_mesh(z, AF_INET6, pfx("fd7a:6d67:7466::1").addr));
	dns_zone_free(z);
}

static void test_domain(void)
{
	struct dns_zone_spec spec = { .domain = "Corp.Example." };
	struct dns_zone *z = NULL;
	static const char *const bad[] = { "",      ".",   "a..b",  "-a.b", "a-.b",
					   "a_b.c", "a b", "a.b..", "..a" };

	CHECK_EQ_INT(dns_zone_build(&spec, NULL, 0, &z, NULL), 0);
	if (z)
		CHECK(strcmp(dns_zone_domain(z), "corp.example") == 0);
	dns_zone_free(z);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spec.domain = bad[i];
		if (!CHECK_EQ_INT(dns_zone_build(&spec, NULL, 0, &z, NULL), -EINVAL))
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		CHECK(z == NULL);
	}
	CHECK(dns_domain_valid("internal"));
	CHECK(dns_domain_valid("a1.b-2.c"));
	CHECK(dns_label_valid("x", 1));
	CHECK(dns_label_valid("0day", 4));
	CHECK(!dns_label_valid("a.b", 3));
	CHECK(!dns_label_valid("abc-", 4));
	{
		char long_label[70];
		memset(long_label, 'a', sizeof(long_label));
		CHECK(dns_label_valid(long_label, 63));
		CHECK(!dns_label_valid(long_label, 64));
	}
}

/* Past DNS_ZONE_NAMES_MAX names the rest (in input order) are dropped;
 * past DNS_NAME_ADDRS_MAX addresses a name takes no more. */
static void test_caps(void)
{
	size_t n = DNS_ZONE_NAMES_MAX + 10;
	struct dns_zone_name *names = calloc(n + 40, sizeof(*names));
	char(*text)[16] = calloc(n, sizeof(*text));
	struct prefix *addrs = calloc(n + 40, sizeof(*addrs));
	struct dns_zone_spec spec = { 0 };
	struct dns_zone_stats st;
	struct dns_zone *z;
	const struct prefix *got;
	size_t k;

	if (!CHECK(names && text && addrs))
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "n%zu", i);
		addrs[i] = pfx("100.64.0.0");
		addrs[i].addr[2] = (uint8_t)(i >> 8);
		addrs[i].addr[3] = (uint8_t)i;
		names[i] = (struct dns_zone_name){ text[i], &addrs[i], 1, true, 0 };
	}
	CHECK_EQ_INT(dns_zone_build(&spec, names, n, &z, &st), 0);
	CHECK_EQ_INT(st.names, DNS_ZONE_NAMES_MAX);
	CHECK_EQ_INT(st.over_cap, 10);
	CHECK(dns_zone_lookup(z, "n0", 2) != NULL);
	CHECK(dns_zone_lookup(z, "n4095", 5) != NULL);
	CHECK(dns_zone_lookup(z, "n4096", 5) == NULL);
	dns_zone_free(z);
	/* 40 records of one name: 32 addresses. */
	for (size_t i = 0; i < 40; i++) {
		addrs[i] = pfx("192.0.2.0");
		addrs[i].addr[3] = (uint8_t)(i + 1);
		names[i] = (struct dns_zone_name){ "big", &addrs[i], 1, false, 0 };
	}
	CHECK_EQ_INT(dns_zone_build(&spec, names, 40, &z, &st), 0);
	CHECK_EQ_INT(st.names, 1);
	CHECK_EQ_INT(st.addresses, DNS_NAME_ADDRS_MAX);
	CHECK_EQ_INT(st.over_cap, 40 - DNS_NAME_ADDRS_MAX);
	got = dns_zone_addresses(z, dns_zone_lookup(z, "BIG", 3), &k);
	CHECK_EQ_INT(k, DNS_NAME_ADDRS_MAX);
	CHECK(got[0].addr[3] == 1);
	dns_zone_free(z);
out:
	free(names);
	free(text);
	free(addrs);
}

/* Lookups against a linear search over 2,000 random names. */
static void test_lookup_random(void)
{
	struct test_rng rng = { 0x5eed };
	enum { N = 2000 };
	static char text[N][12];
	static struct prefix addrs[N];
	static struct dns_zone_name names[N];
	struct dns_zone_spec spec = { .mesh = &addrs[0], .n_mesh = 1 };
	struct dns_zone *z;
	size_t found = 0;

	for (size_t i = 0; i < N; i++) {
		uint64_t r = test_rng_next(&rng);
		snprintf(text[i], sizeof(text[i]), "h%llx", (unsigned long long)(r % 3000));
		addrs[i] = pfx("100.64.0.0/10");
		addrs[i].addr[2] = (uint8_t)(i >> 8);
		addrs[i].addr[3] = (uint8_t)i;
		names[i] = (struct dns_zone_name){ text[i], &addrs[i], 1, true, 0 };
	}
	if (!CHECK_EQ_INT(dns_zone_build(&spec, names, N, &z, NULL), 0))
		return;
	for (unsigned v = 0; v < 3000; v++) {
		char q[12];
		size_t first = N;
		const struct dns_zone_entry *e;
		const struct prefix *a;
		size_t n;

		snprintf(q, sizeof(q), "H%X", v);
		for (size_t i = 0; i < N && first == N; i++)
			if (!strcasecmp(text[i], q))
				first = i;
		e = dns_zone_lookup(z, q, strlen(q));
		if (!CHECK((e != NULL) == (first != N)) || !e)
			continue;
		found++;
		a = dns_zone_addresses(z, e, &n);
		CHECK(n == 1 && !memcmp(a[0].addr, addrs[first].addr, 4));
		CHECK(dns_zone_lookup_addr(z, AF_INET, addrs[first].addr) == e);
	}
	CHECK(found > 1000);
	dns_zone_free(z);
}

static enum dns_reverse_kind find(const struct dns_zone *z, const char *name,
				  struct dns_reverse *rev);

/* Names that are no DNS label: lower case, runs outside [a-z0-9-] one
 * '-', trimmed. */
static void test_label_from_name(void)
{
	static const char *const cases[][2] = {
		{ "my_laptop", "my-laptop" },
		{ "My.Laptop", "my-laptop" },
		{ "a__.._b", "a-b" },
		{ "_web_", "web" },
		{ "-x-", "x" },
		{ "a-_-b", "a---b" },
		{ "home", "home" },
		{ "___", "" },
		{ "._-", "" },
		{ "Web-1.lan", "web-1-lan" },
	};
	char out[DNS_LABEL_MAX + 1], big[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = dns_label_from_name(cases[i][0], out);

		if (!CHECK(strcmp(out, cases[i][1]) == 0 && len == strlen(cases[i][1])))
			fprintf(stderr, "  %s: '%s', want '%s'\n", cases[i][0], out, cases[i][1]);
		CHECK(len == 0 || dns_label_valid(out, len));
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[62] = '_';
	CHECK_EQ_INT(dns_label_from_name(big, out), 62); /* trimmed after the cut */
}

/* Members whose names map to one label: the lower id keeps it, whatever
 * the input order; nodes before devices (no id), then the name's bytes. */
static void test_collisions(void)
{
	struct prefix a[5] = { pfx("100.64.0.1"), pfx("100.64.0.2"), pfx("100.64.0.3"),
			       pfx("100.64.0.4"), pfx("100.64.0.5") };
	struct dns_zone_name names[] = {
		{ "my-laptop", &a[0], 1, true, 9 },  { "my_laptop", &a[1], 1, true, 4 },
		{ "MY.LAPTOP", &a[2], 1, true, 0 },  { "___", &a[3], 1, true, 5 },
		{ "my-laptop", &a[4], 1, false, 0 }, /* a record: loses, not listed */
	};
	struct dns_zone_spec spec = { 0 };
	const struct dns_zone_skip *s;
	struct dns_zone_stats st;
	struct dns_zone *z;
	char reason[160];
	size_t n;

	if (!CHECK_EQ_INT(dns_zone_build(&spec, names, 5, &z, &st), 0))
		return;
	CHECK_EQ_INT(dns_zone_count(z), 1);
	CHECK(strcmp(name_of(z, "100.64.0.2"), "my-laptop") == 0);
	CHECK(strcmp(dns_zone_member_label(z, "my_laptop"), "my-laptop") == 0);
	CHECK(dns_zone_member_label(z, "my-laptop") == NULL);
	CHECK_EQ_INT(st.invalid, 1);
	CHECK_EQ_INT(st.duplicate, 3);
	s = dns_zone_skipped(z, &n);
	if (CHECK_EQ_INT(n, 3)) {
		CHECK(strcmp(s[0].name, "___") == 0 && !s[0].holder[0]);
		dns_zone_skip_reason(&s[0], reason, sizeof(reason));
		CHECK(strcmp(reason, "no DNS label in the name") == 0);
		CHECK(strcmp(s[1].name, "my-laptop") == 0 && !strcmp(s[1].holder, "my_laptop"));
		CHECK(strcmp(s[2].name, "MY.LAPTOP") == 0 && !strcmp(s[2].holder, "my_laptop"));
		dns_zone_skip_reason(&s[2], reason, sizeof(reason));
		CHECK(strcmp(reason, "its label \"my-laptop\" is my_laptop's") == 0);
	}
	dns_zone_free(z);
	/* The same in another order: the same holder. */
	struct dns_zone_name rev[] = { names[2], names[1], names[0] };
	if (!CHECK_EQ_INT(dns_zone_build(&spec, rev, 3, &z, &st), 0))
		return;
	CHECK(strcmp(name_of(z, "100.64.0.2"), "my-laptop") == 0);
	dns_zone_free(z);
	/* Without ids: the name's bytes ("MY.LAPTOP" < "my_laptop"). */
	names[0].id = names[1].id = 0;
	if (!CHECK_EQ_INT(dns_zone_build(&spec, names, 3, &z, &st), 0))
		return;
	CHECK(strcmp(name_of(z, "100.64.0.3"), "my-laptop") == 0);
	dns_zone_free(z);
}

static void test_reverse_names(void)
{
	uint8_t addr[16];
	int family = 0;
	struct prefix want = pfx("fd7a:6d67:7465::53");
	const char *v6 =
	    "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.6.4.7.7.6.D.6.a.7.d.f.ip6.ARPA.";
	static const char *const bad[] = {
		"1.0.64.in-addr.arpa",
		"1.1.0.64.100.in-addr.arpa",
		"01.0.64.100.in-addr.arpa",
		"256.0.64.100.in-addr.arpa",
		"x.0.64.100.in-addr.arpa",
		"1.0.64.100.in-addr.arpa.x",
		"1..64.100.in-addr.arpa",
		"in-addr.arpa",
		"",
		"5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa",
	};
	struct dns_zone_spec spec = { .mesh = &want, .n_mesh = 1 };
	struct prefix mesh4 = pfx("100.64.0.0/10");
	struct dns_reverse rev;
	struct dns_zone *z;

	CHECK(dns_reverse_parse("2.0.64.100.in-addr.arpa.", &family, addr));
	CHECK(family == AF_INET && !memcmp(addr, pfx("100.64.0.2").addr, 4));
	CHECK(dns_reverse_parse("255.255.255.0.IN-ADDR.arpa", &family, addr));
	CHECK(!memcmp(addr, pfx("0.255.255.255").addr, 4));
	CHECK(dns_reverse_parse(v6, &family, addr));
	CHECK(family == AF_INET6 && !memcmp(addr, want.addr, 16));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK(!dns_reverse_parse(bad[i], &family, addr)))
			fprintf(stderr, "  parsed '%s'\n", bad[i]);
	want.len = 48;
	if (!CHECK_EQ_INT(dns_zone_build(&spec, NULL, 0, &z, NULL), 0))
		return;
	CHECK_EQ_INT(find(z, v6, &rev), DNS_REVERSE_ADDRESS);
	CHECK(strcmp(rev.apex, "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa") == 0);
	CHECK(rev.family == AF_INET6 && !memcmp(rev.addr, want.addr, 16));
	CHECK_EQ_INT(find(z, "2.0.64.100.in-addr.arpa", &rev), DNS_REVERSE_OUTSIDE);
	dns_zone_free(z);
	spec.mesh = &mesh4;
	if (!CHECK_EQ_INT(dns_zone_build(&spec, NULL, 0, &z, NULL), 0))
		return;
	CHECK_EQ_INT(find(z, "2.1.100.100.in-addr.arpa", &rev), DNS_REVERSE_ADDRESS);
	CHECK(strcmp(rev.apex, "100.100.in-addr.arpa") == 0);
	CHECK_EQ_INT(find(z, "127.100.in-addr.arpa", &rev), DNS_REVERSE_APEX);
	CHECK_EQ_INT(find(z, "128.100.in-addr.arpa", &rev), DNS_REVERSE_OUTSIDE);
	CHECK_EQ_INT(find(z, "100.in-addr.arpa", &rev), DNS_REVERSE_OUTSIDE);
	/* The resolver's network is the zone's without a mesh network in it. */
	CHECK_EQ_INT(find(z, "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa", &rev), DNS_REVERSE_APEX);
	dns_zone_free(z);
}

/* dns_zone_reverse_find() of a name in text. */
static enum dns_reverse_kind find(const struct dns_zone *z, const char *name,
				  struct dns_reverse *rev)
{
	struct dns_label labels[128];
	size_t n = 0;

	for (const char *s = name; *s && n < 128;) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);

		labels[n++] = (struct dns_label){ s, len };
		s += len + (dot != NULL);
	}
	return dns_zone_reverse_find(z, labels, n, rev);
}

/* A partial name of a mesh address (RFC 8020): NODATA when a name lies
 * below, else NXDOMAIN; the apex exists; labels that are no address and
 * names past an address are empty. */
static void test_reverse_tree(void)
{
	struct prefix mesh[2] = { pfx("100.64.0.0/10"), pfx("fd00:1:2::/56") };
	struct prefix home[2] = { pfx("100.64.3.1"), pfx("fd00:1:2:3::1") };
	struct dns_zone_name names[] = { { "home", home, 2, true, 0 } };
	struct dns_zone_spec spec = { .mesh = mesh, .n_mesh = 2 };
	static const struct {
		const char *name;
		enum dns_reverse_kind kind;
		const char *apex;
	} cases[] = {
		{ "64.100.in-addr.arpa", DNS_REVERSE_APEX, "64.100.in-addr.arpa" },
		{ "65.100.in-addr.arpa", DNS_REVERSE_APEX, "65.100.in-addr.arpa" },
		{ "3.64.100.in-addr.arpa", DNS_REVERSE_INNER, "64.100.in-addr.arpa" },
		{ "0.64.100.in-addr.arpa", DNS_REVERSE_EMPTY, "64.100.in-addr.arpa" },
		{ "1.3.64.100.in-addr.arpa", DNS_REVERSE_ADDRESS, "64.100.in-addr.arpa" },
		{ "2.3.64.100.in-addr.arpa", DNS_REVERSE_ADDRESS, "64.100.in-addr.arpa" },
		{ "x.1.3.64.100.in-addr.arpa", DNS_REVERSE_EMPTY, "64.100.in-addr.arpa" },
		{ "x.3.64.100.in-addr.arpa", DNS_REVERSE_EMPTY, "64.100.in-addr.arpa" },
		{ "03.64.100.In-Addr.ARPA", DNS_REVERSE_EMPTY, "64.100.in-addr.arpa" },
		{ "3.63.100.in-addr.arpa", DNS_REVERSE_OUTSIDE, "" },
		{ "100.in-addr.arpa", DNS_REVERSE_OUTSIDE, "" },
		{ "in-addr.arpa", DNS_REVERSE_OUTSIDE, "" },
		{ "arpa", DNS_REVERSE_OUTSIDE, "" },
		{ "3.64.100.in-addr.arpa.example", DNS_REVERSE_OUTSIDE, "" },
		/* fd00:1:2::/56: 14 nibbles. */
		{ "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa", DNS_REVERSE_APEX,
		  "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" },
		{ "0.0.2.0.0.0.1.0.0.0.0.0.D.F.IP6.ARPA", DNS_REVERSE_APEX,
		  "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" },
		{ "3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa", DNS_REVERSE_INNER,
		  "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" },
		{ "4.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa", DNS_REVERSE_EMPTY,
		  "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" },
		{ "0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa", DNS_REVERSE_OUTSIDE, "" },
		{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa",
		  DNS_REVERSE_ADDRESS, "0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa" },
		{ "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa", DNS_REVERSE_APEX,
		  "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa" },
		{ "0.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa", DNS_REVERSE_EMPTY,
		  "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa" },
		{ "ab.5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa", DNS_REVERSE_EMPTY,
		  "5.6.4.7.7.6.d.6.a.7.d.f.ip6.arpa" },
	};
	struct dns_reverse rev;
	struct dns_zone *z;

	if (!CHECK_EQ_INT(dns_zone_build(&spec, names, 1, &z, NULL), 0))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = CHECK_EQ_INT(find(z, cases[i].name, &rev), cases[i].kind) &&
			  CHECK(strcmp(rev.apex, cases[i].apex) == 0);

		if (!ok)
			fprintf(stderr, "  %s: apex '%s'\n", cases[i].name, rev.apex);
	}
	dns_zone_free(z);
}

int main(void)
{
	RUN(test_from_view);
	RUN(test_domain);
	RUN(test_caps);
	RUN(test_lookup_random);
	RUN(test_reverse_names);
	RUN(test_reverse_tree);
	RUN(test_label_from_name);
	RUN(test_collisions);
	return test_summary();
}
