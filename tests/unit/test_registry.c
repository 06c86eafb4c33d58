/*
 * The coordinator's registry (daemon/mesh/registry.c): nodes, addresses and
 * names, routes and approvals, invites, devices and revoked keys, the
 * migration from schema 1, netmap versions, persistence across
 * reopening, damaged files, and crashes in the middle of a change (forked
 * children that exit or are killed before or after committing).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mesh/registry.h"
#include "testlib.h"

static char dir[64], path[128];

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

static bool addr_is(const struct prefix *p, const char *want)
{
	char got[PREFIX_STR_LEN];

	prefix_format(p, got, sizeof(got));
	if (strcmp(got, want) == 0)
		return true;
	fprintf(stderr, "  address %s, want %s\n", got, want);
	return false;
}

static void key_of(uint8_t key[KEY_LEN], unsigned n)
{
	memset(key, 0, KEY_LEN);
	key[0] = (uint8_t)n;
	key[1] = (uint8_t)(n >> 8);
	key[31] = 0x5a;
}

static struct prefix prefix4, prefix6;

/* Adds or finds the node with key number k; returns its id (0 on error). */
static uint32_t upsert(struct registry *reg, unsigned k, const char *name, bool *created)
{
	struct registry_node n;
	uint8_t key[KEY_LEN];
	uint32_t id;

	key_of(key, k);
	if (!CHECK_EQ_INT(
		registry_node_upsert(reg, key, name, &prefix4, &prefix6, 1000 + k, &n, created), 0))
		return 0;
	id = n.id;
	registry_node_clear(&n);
	return id;
}

static void remove_files(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	unlink(path);
}

static struct registry *open_fresh(void)
{
	struct registry *reg = NULL;
	char err[256] = "";

	remove_files();
	if (!CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	return reg;
}

static struct registry *reopen(struct registry *reg)
{
	char err[256] = "";

	registry_close(reg);
	reg = NULL;
	if (!CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), 0))
		fprintf(stderr, "  %s\n", err);
	return reg;
}

static size_t count_nodes(struct registry *reg)
{
	struct registry_node *nodes;
	size_t n = 0;

	if (!CHECK_EQ_INT(registry_nodes(reg, &nodes, &n), 0))
		return (size_t)-1;
	registry_nodes_free(nodes, n);
	return n;
}

static void test_upsert(void)
{
	struct registry *reg = open_fresh();
	struct registry_node n, again;
	uint8_t key[KEY_LEN];
	bool created = false;
	char wal[160];
	struct stat st;

	if (!reg)
		return;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK(stat(wal, &st) == 0 && (st.st_mode & 0777) == 0600);
	key_of(key, 1);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "home", &prefix4, &prefix6, 100, &n, &created),
		     0);
	CHECK(created);
	CHECK_EQ_INT(n.id, 1);
	CHECK(strcmp(n.name, "home") == 0);
	CHECK(strcmp(n.hostname, "home") == 0);
	CHECK_MEM(n.public_key, key, KEY_LEN);
	CHECK(addr_is(&n.addr4, "100.64.0.1/32"));
	CHECK(addr_is(&n.addr6, "fd7a:6d67:7465::1/128"));
	CHECK_EQ_INT(n.created_at, 100);
	CHECK_EQ_INT(n.last_seen, 0);
	CHECK_EQ_INT(n.n_endpoints, 0);

	/* The same key again: the same node, whatever name it asks for. */
	CHECK_EQ_INT(
	    registry_node_upsert(reg, key, "other", &prefix4, &prefix6, 200, &again, &created), 0);
	CHECK(!created);
	CHECK_EQ_INT(again.id, n.id);
	CHECK(strcmp(again.name, "home") == 0);
	CHECK(prefix_equal(&again.addr4, &n.addr4) && prefix_equal(&again.addr6, &n.addr6));
	CHECK_EQ_INT(again.created_at, 100);
	registry_node_clear(&again);
	registry_node_clear(&n);

	CHECK_EQ_INT(upsert(reg, 2, "laptop", &created), 2);
	CHECK_EQ_INT(upsert(reg, 3, "laptop", NULL), 3);
	CHECK_EQ_INT(upsert(reg, 4, "Laptop", NULL), 4);
	CHECK_EQ_INT(upsert(reg, 5, "my laptop", NULL), 5);
	CHECK_EQ_INT(registry_node_by_name(reg, "laptop-2", &n), 0);
	CHECK_EQ_INT(n.id, 3);
	CHECK(addr_is(&n.addr4, "100.64.0.3/32"));
	CHECK(addr_is(&n.addr6, "fd7a:6d67:7465::3/128"));
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_by_name(reg, "LAPTOP-3", &n), 0); /* names ignore case */
	CHECK_EQ_INT(n.id, 4);
	CHECK(strcmp(n.name, "Laptop-3") == 0);
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_by_id(reg, 5, &n), 0);
	CHECK(strcmp(n.name, "my-laptop") == 0 && strcmp(n.hostname, "my laptop") == 0);
	registry_node_clear(&n);
	key_of(key, 2);
	CHECK_EQ_INT(registry_node_by_key(reg, key, &n), 0);
	CHECK_EQ_INT(n.id, 2);
	registry_node_clear(&n);

	key_of(key, 99);
	CHECK_EQ_INT(registry_node_by_key(reg, key, &n), -ENOENT);
	CHECK_EQ_INT(registry_node_by_name(reg, "nobody", &n), -ENOENT);
	CHECK_EQ_INT(registry_node_by_id(reg, 99, NULL), -ENOENT);
	CHECK_EQ_INT(registry_node_by_id(reg, 1, NULL), 0);
	CHECK_EQ_INT(count_nodes(reg), 5);
	registry_close(reg);
}

/*
 * Removal forgets the node and its routes. Ids are never reused; addresses
 * and names are: the next new key takes the lowest free address.
 */
/* A joiner that asks for the name "1" cannot shadow node 1: it is named
 * "node-1", and digits always find a node by id. */
static void test_numeric_names(void)
{
	struct registry *reg = open_fresh();
	struct registry_node n;
	uint32_t home, two, one;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	two = upsert(reg, 2, "laptop", NULL);
	one = upsert(reg, 3, "1", NULL);
	CHECK_EQ_INT(registry_node_by_id(reg, one, &n), 0);
	CHECK(!strcmp(n.name, "node-1"));
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_find(reg, "1", &n), 0);
	CHECK_EQ_INT(n.id, home);
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_find(reg, "node-1", &n), 0);
	CHECK_EQ_INT(n.id, one);
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_find(reg, "LAPTOP", &n), 0);
	CHECK_EQ_INT(n.id, two);
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_node_find(reg, "99", &n), -ENOENT);
	CHECK_EQ_INT(registry_node_find(reg, "", &n), -ENOENT);
	registry_close(reg);
}

static void test_remove_and_rejoin(void)
{
	struct registry *reg = open_fresh();
	struct prefix lan = pfx("192.168.1.0/24");
	struct registry_route *routes;
	struct registry_node n;
	size_t n_routes;

	if (!reg)
		return;
	upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "laptop", NULL);
	upsert(reg, 3, "phone", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, &lan, 1, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(registry_node_remove(reg, 2), 0);
	CHECK_EQ_INT(registry_node_remove(reg, 2), -ENOENT);
	CHECK_EQ_INT(registry_node_by_id(reg, 2, NULL), -ENOENT);
	CHECK_EQ_INT(registry_routes(reg, &routes, &n_routes), 0);
	CHECK_EQ_INT(n_routes, 0);
	free(routes);

	CHECK_EQ_INT(upsert(reg, 4, "desk", NULL), 4);
	CHECK_EQ_INT(registry_node_by_id(reg, 4, &n), 0);
	CHECK(addr_is(&n.addr4, "100.64.0.2/32"));
	CHECK(addr_is(&n.addr6, "fd7a:6d67:7465::2/128"));
	registry_node_clear(&n);
	/* The removed key joins again: a new node, the name is free again. */
	CHECK_EQ_INT(upsert(reg, 2, "laptop", NULL), 5);
	CHECK_EQ_INT(registry_node_by_id(reg, 5, &n), 0);
	CHECK(strcmp(n.name, "laptop") == 0);
	CHECK(addr_is(&n.addr4, "100.64.0.4/32"));
	registry_node_clear(&n);
	/* Removing the newest node does not free its id either. */
	CHECK_EQ_INT(registry_node_remove(reg, 5), 0);
	reg = reopen(reg);
	CHECK_EQ_INT(upsert(reg, 6, "tablet", NULL), 6);
	registry_close(reg);
}

static void test_seen_and_persistence(void)
{
	struct registry *reg = open_fresh();
	struct registry_node *before = NULL, *after = NULL;
	size_t n_before = 0, n_after = 0;
	struct endpoint eps[2];
	char text[ENDPOINT_STR_LEN];

	if (!reg)
		return;
	CHECK_EQ_INT(endpoint_parse(&eps[0], "203.0.113.7:41641"), 0);
	CHECK_EQ_INT(endpoint_parse(&eps[1], "[2001:db8::7]:41641"), 0);
	for (unsigned k = 1; k <= 20; k++)
		upsert(reg, k, k % 2 ? "odd" : "even", NULL);
	CHECK_EQ_INT(registry_node_seen(reg, 3, 5000, eps, 2), 0);
	CHECK_EQ_INT(registry_node_seen(reg, 4, 5001, eps, 1), 0);
	CHECK_EQ_INT(registry_node_seen(reg, 4, 5002, NULL, 0), 0); /* keeps endpoints */
	CHECK_EQ_INT(registry_node_seen(reg, 5, 5003, eps, 2), 0);
	CHECK_EQ_INT(registry_node_seen(reg, 5, 5004, eps, 0), 0); /* clears them */
	CHECK_EQ_INT(registry_node_seen(reg, 99, 5000, NULL, 0), -ENOENT);
	CHECK_EQ_INT(registry_nodes(reg, &before, &n_before), 0);

	reg = reopen(reg);
	if (!reg)
		return;
	CHECK_EQ_INT(registry_nodes(reg, &after, &n_after), 0);
	CHECK_EQ_INT(n_after, 20);
	for (size_t i = 0; i < n_after && i < n_before; i++) {
		const struct registry_node *a = &after[i], *b = &before[i];

		CHECK_EQ_INT(a->id, i + 1);
		CHECK(a->id == b->id && strcmp(a->name, b->name) == 0);
		CHECK(memcmp(a->public_key, b->public_key, KEY_LEN) == 0);
		CHECK(prefix_equal(&a->addr4, &b->addr4) && prefix_equal(&a->addr6, &b->addr6));
		CHECK(a->created_at == b->created_at && a->last_seen == b->last_seen);
		CHECK_EQ_INT(a->n_endpoints, b->n_endpoints);
	}
	CHECK(strcmp(after[19].name, "even-10") == 0);
	CHECK_EQ_INT(after[2].n_endpoints, 2);
	CHECK_EQ_INT(after[2].last_seen, 5000);
	if (after[2].n_endpoints == 2) {
		endpoint_format(&after[2].endpoints[1], text, sizeof(text));
		CHECK(strcmp(text, "[2001:db8::7]:41641") == 0);
		CHECK(after[2].endpoints[0].numeric);
	}
	CHECK_EQ_INT(after[3].n_endpoints, 1);
	CHECK_EQ_INT(after[3].last_seen, 5002);
	CHECK_EQ_INT(after[4].n_endpoints, 0);
	registry_nodes_free(before, n_before);
	registry_nodes_free(after, n_after);
	registry_close(reg);
}

/* The approval of route p of node id in the registry: 1, 0, or -1 if absent. */
static int approval(struct registry *reg, uint32_t id, const char *p)
{
	struct prefix want = pfx(p);
	struct registry_route *routes;
	size_t n;
	int found = -1;

	if (!CHECK_EQ_INT(registry_routes(reg, &routes, &n), 0))
		return -2;
	for (size_t i = 0; i < n; i++)
		if (routes[i].node_id == id && prefix_equal(&routes[i].prefix, &want))
			found = routes[i].approved;
	free(routes);
	return found;
}

static void test_routes(void)
{
	struct registry *reg = open_fresh();
	struct prefix adv[] = { pfx("192.168.1.0/24"), pfx("10.0.0.0/8"), pfx("0.0.0.0/0"),
				pfx("::/0"), pfx("fd00:1::/64") };
	struct prefix autos[] = { pfx("192.168.0.0/16"), pfx("0.0.0.0/0"), pfx("fd00::/16") };
	struct prefix again[] = { pfx("10.0.0.0/8"), pfx("192.168.1.0/24"), pfx("172.16.0.0/12"),
				  pfx("0.0.0.0/0"), pfx("10.0.0.0/8") };
	struct prefix host = pfx("192.168.1.1/24"), p = pfx("172.16.0.0/12");
	bool changed = false;

	if (!reg)
		return;
	upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "office", NULL);
	/* Auto-approval by containment; 0.0.0.0/0 in auto_routes is no exit
	 * approval. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, adv, 5, autos, 1, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 1, "192.168.1.0/24"), 1);
	CHECK_EQ_INT(approval(reg, 1, "10.0.0.0/8"), 0);
	CHECK_EQ_INT(approval(reg, 1, "0.0.0.0/0"), 0);
	CHECK_EQ_INT(approval(reg, 1, "::/0"), 0);
	CHECK_EQ_INT(approval(reg, 1, "fd00:1::/64"), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, adv + 2, 3, autos, 3, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 2, "0.0.0.0/0"), 0);
	CHECK_EQ_INT(approval(reg, 2, "fd00:1::/64"), 1);

	/* Admin approves and unapproves. */
	CHECK_EQ_INT(registry_route_set_approved(reg, 1, &adv[1], true), 0);
	CHECK_EQ_INT(registry_route_set_approved(reg, 1, &adv[0], false), 0);
	CHECK_EQ_INT(registry_route_set_approved(reg, 1, &host, true), 0); /* masked */
	CHECK_EQ_INT(registry_route_set_approved(reg, 1, &p, true), -ENOENT);
	CHECK_EQ_INT(registry_route_set_approved(reg, 9, &adv[0], true), -ENOENT);
	CHECK_EQ_INT(approval(reg, 1, "10.0.0.0/8"), 1);
	CHECK_EQ_INT(approval(reg, 1, "192.168.1.0/24"), 1);
	CHECK_EQ_INT(registry_route_set_approved(reg, 1, &adv[0], false), 0);

	/* Re-advertising keeps approvals, forgets what is gone, adds new ones
	 * as pending (duplicates in the list are harmless). */
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, again, 5, autos, 1, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 1, "10.0.0.0/8"), 1);
	CHECK_EQ_INT(approval(reg, 1, "192.168.1.0/24"), 0);
	CHECK_EQ_INT(approval(reg, 1, "172.16.0.0/12"), 0);
	CHECK_EQ_INT(approval(reg, 1, "0.0.0.0/0"), 0);
	CHECK_EQ_INT(approval(reg, 1, "::/0"), -1);
	CHECK_EQ_INT(approval(reg, 1, "fd00:1::/64"), -1);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, again, 5, autos, 1, true, &changed), 0);
	CHECK(!changed);
	CHECK_EQ_INT(approval(reg, 1, "0.0.0.0/0"), 0); /* auto_exit only for new offers */

	/* Bad input. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 9, adv, 1, NULL, 0, false, NULL), -ENOENT);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, &host, 1, NULL, 0, false, NULL), -EINVAL);
	CHECK_EQ_INT(approval(reg, 1, "10.0.0.0/8"), 1);

	/* Withdrawing everything, then offering exit with auto_exit. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, NULL, 0, NULL, 0, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 2, "::/0"), -1);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, adv + 2, 2, NULL, 0, true, NULL), 0);
	CHECK_EQ_INT(approval(reg, 2, "0.0.0.0/0"), 1);
	CHECK_EQ_INT(approval(reg, 2, "::/0"), 1);
	CHECK(registry_route_is_exit(&adv[2]) && registry_route_is_exit(&adv[3]));
	CHECK(!registry_route_is_exit(&adv[0]));

	reg = reopen(reg);
	CHECK_EQ_INT(approval(reg, 1, "10.0.0.0/8"), 1);
	CHECK_EQ_INT(approval(reg, 2, "::/0"), 1);
	registry_close(reg);
}

/* The coordinator's own routes are approved by its config: at once, whatever
 * they overlap, one stored as pending too (a registry of an older version);
 * what leaves the config is forgotten. */
static void test_routes_own(void)
{
	struct registry *reg = open_fresh();
	struct prefix lan = pfx("192.168.77.0/24"), nas = pfx("192.168.77.0/25"),
		      inside = pfx("192.168.77.0/26"), host = pfx("192.168.1.1/24");
	struct prefix own[] = { pfx("192.168.77.0/25"), pfx("192.168.79.0/24"), pfx("0.0.0.0/0"),
				pfx("::/0") };
	bool changed = false;

	if (!reg)
		return;
	upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "office", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, &lan, 1, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(registry_route_set_approved(reg, 2, &lan, true), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, &own[1], 1, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 1, "192.168.79.0/24"), 0);

	CHECK_EQ_INT(registry_routes_own(reg, 1, own, 4, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 1, "192.168.77.0/25"), 1); /* inside office's */
	CHECK_EQ_INT(approval(reg, 1, "192.168.79.0/24"), 1); /* was pending */
	CHECK_EQ_INT(approval(reg, 1, "0.0.0.0/0"), 1);
	CHECK_EQ_INT(approval(reg, 1, "::/0"), 1);
	CHECK_EQ_INT(approval(reg, 2, "192.168.77.0/24"), 1);
	CHECK_EQ_INT(registry_routes_own(reg, 1, own, 4, &changed), 0);
	CHECK(!changed);

	/* Out of the config, out of the registry. */
	CHECK_EQ_INT(registry_routes_own(reg, 1, own + 1, 1, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 1, "192.168.77.0/25"), -1);
	CHECK_EQ_INT(approval(reg, 1, "0.0.0.0/0"), -1);
	CHECK_EQ_INT(approval(reg, 1, "192.168.79.0/24"), 1);
	/* A member's prefix inside the coordinator's waits for the admin. */
	CHECK_EQ_INT(registry_routes_own(reg, 1, &nas, 1, NULL), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, &inside, 1, &lan, 1, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 2, "192.168.77.0/26"), 0);

	CHECK_EQ_INT(registry_routes_own(reg, 9, own, 1, NULL), -ENOENT);
	CHECK_EQ_INT(registry_routes_own(reg, 1, &host, 1, NULL), -EINVAL);
	CHECK_EQ_INT(approval(reg, 1, "192.168.77.0/25"), 1);
	registry_close(reg);
}

/* auto_approve never approves a prefix overlapping another node's approved
 * route: a /32 inside the NAS's LAN would become primary for the NAS. */
static void test_auto_approve_overlap(void)
{
	struct registry *reg = open_fresh();
	struct prefix autos[] = { pfx("192.168.0.0/16"), pfx("10.0.0.0/8") };
	struct prefix nas[] = { pfx("192.168.1.0/24") };
	struct prefix own[] = { pfx("10.1.0.0/16"), pfx("10.1.1.0/24") };
	struct prefix intruder[] = { pfx("192.168.1.10/32"), pfx("192.168.0.0/17"),
				     pfx("192.168.2.0/24"), pfx("0.0.0.0/0"), pfx("10.0.0.0/8") };
	struct prefix third[] = { pfx("10.1.0.0/16") };
	struct prefix standby[] = { pfx("192.168.1.0/24") };
	struct registry_route other;
	char text[PREFIX_STR_LEN];

	if (!reg)
		return;
	upsert(reg, 1, "nas-router", NULL);
	upsert(reg, 2, "intruder", NULL);
	upsert(reg, 3, "third", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, nas, 1, autos, 1, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 1, "192.168.1.0/24"), 1);
	/* Inside, around, beside it; an exit offer is not a LAN prefix. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, intruder, 4, autos, 1, true, NULL), 0);
	CHECK_EQ_INT(approval(reg, 2, "192.168.1.10/32"), 0);
	CHECK_EQ_INT(approval(reg, 2, "192.168.0.0/17"), 0);
	CHECK_EQ_INT(approval(reg, 2, "192.168.2.0/24"), 1);
	CHECK_EQ_INT(approval(reg, 2, "0.0.0.0/0"), 1);
	/* The same prefix too: with a lower id it would be primary at once;
	 * a second router for that LAN (failover) is approved by hand. */
	upsert(reg, 4, "standby", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 4, standby, 1, autos, 1, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 4, "192.168.1.0/24"), 0);
	/* Another node's pending route does not either. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, intruder, 5, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 2, "10.0.0.0/8"), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 3, third, 1, autos, 2, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 3, "10.1.0.0/16"), 1);
	/* A node's own approved routes do not hold back its new ones. */
	CHECK_EQ_INT(registry_routes_advertise(reg, 3, own, 2, autos, 2, false, NULL), 0);
	CHECK_EQ_INT(approval(reg, 3, "10.1.1.0/24"), 1);
	/* What overlaps, and whose; the admin may still approve it. */
	CHECK_EQ_INT(registry_route_overlap(reg, 2, &intruder[0], &other), 1);
	prefix_format(&other.prefix, text, sizeof(text));
	CHECK((other.node_id == 1 || other.node_id == 4) && !strcmp(text, "192.168.1.0/24"));
	CHECK_EQ_INT(registry_route_overlap(reg, 1, &nas[0], &other), 0);
	CHECK_EQ_INT(registry_route_set_approved(reg, 2, &intruder[0], true), 0);
	CHECK_EQ_INT(approval(reg, 2, "192.168.1.10/32"), 1);
	registry_close(reg);
}

/* registry_routes() order: node id, IPv4 first, address, length. */
static struct endpoint ep(const char *text)
{
	struct endpoint e;

	if (endpoint_parse(&e, text) < 0)
		abort();
	return e;
}

/* What a node reports again unchanged is read, not written: it goes
 * through while another connection holds the write lock. */
static void test_unchanged_writes_nothing(void)
{
	struct registry *reg = open_fresh();
	struct prefix adv[] = { pfx("192.168.1.0/24"), pfx("0.0.0.0/0") },
		      same[] = { pfx("0.0.0.0/0"), pfx("192.168.1.0/24"), pfx("0.0.0.0/0") },
		      more[] = { pfx("192.168.1.0/24"), pfx("0.0.0.0/0"), pfx("10.1.0.0/16") };
	struct endpoint eps[] = { ep("198.51.100.2:41641"), ep("192.168.1.20:41641") },
			swapped[] = { eps[1], eps[0] };
	bool changed = true, differ = true;
	sqlite3 *db = NULL;

	if (!reg)
		return;
	upsert(reg, 1, "home", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, adv, 2, NULL, 0, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(registry_node_seen(reg, 1, 5000, eps, 2), 0);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	CHECK_EQ_INT(registry_routes_advertise(reg, 1, same, 3, NULL, 0, false, &changed), 0);
	CHECK(!changed);
	CHECK_EQ_INT(registry_node_endpoints_differ(reg, 1, eps, 2, &differ), 0);
	CHECK(!differ);
	CHECK_EQ_INT(registry_node_endpoints_differ(reg, 1, swapped, 2, &differ), 0);
	CHECK(differ); /* the order is the node's preference */
	CHECK_EQ_INT(registry_node_endpoints_differ(reg, 1, eps, 1, &differ), 0);
	CHECK(differ);
	CHECK_EQ_INT(registry_node_endpoints_differ(reg, 9, eps, 2, &differ), -ENOENT);
	CHECK_EQ_INT(registry_routes_advertise(reg, 9, NULL, 0, NULL, 0, false, NULL), -ENOENT);

	CHECK_EQ_INT(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, more, 3, NULL, 0, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(approval(reg, 1, "10.1.0.0/16"), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, NULL, 0, NULL, 0, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, NULL, 0, NULL, 0, false, &changed), 0);
	CHECK(!changed);
	registry_close(reg);
}

static void test_routes_order(void)
{
	struct registry *reg = open_fresh();
	struct prefix a[] = { pfx("::/0"),       pfx("192.168.1.0/24"), pfx("10.0.0.0/16"),
			      pfx("10.0.0.0/8"), pfx("0.0.0.0/0"),      pfx("9.0.0.0/8") };
	const char *const want[] = { "0.0.0.0/0",   "9.0.0.0/8",      "10.0.0.0/8",
				     "10.0.0.0/16", "192.168.1.0/24", "::/0" };
	struct registry_route *routes;
	char text[PREFIX_STR_LEN];
	size_t n;

	if (!reg)
		return;
	upsert(reg, 1, "a", NULL);
	upsert(reg, 2, "b", NULL);
	CHECK_EQ_INT(registry_routes_advertise(reg, 2, a, 1, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(registry_routes_advertise(reg, 1, a, 6, NULL, 0, false, NULL), 0);
	CHECK_EQ_INT(registry_routes(reg, &routes, &n), 0);
	CHECK_EQ_INT(n, 7);
	for (size_t i = 0; i < n && i < 6; i++) {
		prefix_format(&routes[i].prefix, text, sizeof(text));
		CHECK(routes[i].node_id == 1 && strcmp(text, want[i]) == 0);
	}
	CHECK(n == 7 && routes[6].node_id == 2);
	free(routes);
	registry_close(reg);
}

static void test_invites(void)
{
	struct registry *reg = open_fresh();
	uint8_t hash[REGISTRY_HASH_LEN], other[REGISTRY_HASH_LEN];
	uint64_t once, timed, multi, extra;

	if (!reg)
		return;
	memset(hash, 0xa5, sizeof(hash));
	memcpy(other, hash, sizeof(other));
	other[31] ^= 1;
	upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "laptop", NULL);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 100, 0, false, &once), 0);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 100, 200, false, &timed), 0);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 100, 0, true, &multi), 0);
	CHECK(once >= 1 && timed > once && multi > timed);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 100, -1, false, &extra), -EINVAL);

	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 150), INVITE_VALID);
	CHECK_EQ_INT(registry_invite_check(reg, once, other, 150), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_check(reg, 999, hash, 150), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_check(reg, UINT64_MAX, hash, 150), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_check(reg, timed, hash, 199), INVITE_VALID);
	CHECK_EQ_INT(registry_invite_check(reg, timed, hash, 200), INVITE_EXPIRED);

	CHECK_EQ_INT(registry_invite_use(reg, once, 2, 160), 0);
	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 170), INVITE_USED);
	CHECK_EQ_INT(registry_invite_check(reg, once, other, 170), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_use(reg, once, 1, 170), -EALREADY);
	CHECK_EQ_INT(registry_invite_use(reg, 999, 1, 170), -ENOENT);
	CHECK_EQ_INT(registry_invite_use(reg, multi, 99, 170), -ENOENT); /* no such node */
	CHECK_EQ_INT(registry_invite_use(reg, multi, 1, 170), 0);
	CHECK_EQ_INT(registry_invite_use(reg, multi, 2, 180), 0);
	CHECK_EQ_INT(registry_invite_check(reg, multi, hash, 190), INVITE_VALID);

	/* A used invite stays used when its node is removed, and across
	 * reopening. */
	CHECK_EQ_INT(registry_node_remove(reg, 2), 0);
	reg = reopen(reg);
	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 170), INVITE_USED);
	CHECK_EQ_INT(registry_invite_check(reg, timed, hash, 150), INVITE_VALID);

	/* Pruning drops the used and the expired ones; ids are not reused. */
	CHECK_EQ_INT(registry_invites_prune(reg, 300, 60), 0);
	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 300), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_check(reg, timed, hash, 150), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_check(reg, multi, hash, 300), INVITE_VALID);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 300, 0, false, &extra), 0);
	CHECK(extra > multi);
	registry_close(reg);
}

/* Listing shows every invite without its secret; removing one makes its
 * code unknown; a used single-use invite survives pruning for the grace. */
static void test_invite_list_remove(void)
{
	struct registry *reg = open_fresh();
	struct registry_invite *list = NULL;
	uint8_t hash[REGISTRY_HASH_LEN];
	uint64_t once, multi, timed;
	size_t n = 0;

	if (!reg)
		return;
	memset(hash, 0x5c, sizeof(hash));
	upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "laptop", NULL);
	CHECK_EQ_INT(registry_invites(reg, &list, &n), 0);
	CHECK(n == 0 && list == NULL);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 100, 0, false, &once), 0);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 110, 0, true, &multi), 0);
	CHECK_EQ_INT(registry_invite_add(reg, hash, 120, 500, false, &timed), 0);
	CHECK_EQ_INT(registry_invite_use(reg, once, 2, 150), 0);
	CHECK_EQ_INT(registry_invite_use(reg, multi, 1, 160), 0);

	CHECK_EQ_INT(registry_invites(reg, &list, &n), 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK(list[0].id == once && list[0].created_at == 100 && !list[0].reusable);
		CHECK(list[0].used && list[0].used_at == 150 && list[0].used_by == 2);
		CHECK(list[1].id == multi && list[1].reusable && list[1].used_by == 1);
		CHECK(list[2].id == timed && list[2].expires_at == 500 && !list[2].used);
		CHECK_EQ_INT(list[2].used_by, 0);
	}
	free(list);

	/* Within the grace the used invite stays (its joiner may ask again). */
	CHECK_EQ_INT(registry_invites_prune(reg, 200, 60), 0);
	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 200), INVITE_USED);
	CHECK_EQ_INT(registry_invites_prune(reg, 210, 60), 0);
	CHECK_EQ_INT(registry_invite_check(reg, once, hash, 210), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invites_prune(reg, 210, -1), -EINVAL);

	CHECK_EQ_INT(registry_invite_remove(reg, multi), 0);
	CHECK_EQ_INT(registry_invite_check(reg, multi, hash, 220), INVITE_UNKNOWN);
	CHECK_EQ_INT(registry_invite_remove(reg, multi), -ENOENT);
	CHECK_EQ_INT(registry_invite_remove(reg, 0), -ENOENT);
	CHECK_EQ_INT(registry_invite_remove(reg, UINT64_MAX), -ENOENT);
	CHECK_EQ_INT(registry_invites(reg, &list, &n), 0);
	CHECK(n == 1 && list && list[0].id == timed);
	free(list);
	registry_close(reg);
}

static void test_versions(void)
{
	struct registry *reg = open_fresh();
	uint64_t v = 0, prev;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_next_version(reg, &v), 0);
	CHECK_EQ_INT(v, 1);
	for (int i = 0; i < 5; i++) {
		prev = v;
		CHECK_EQ_INT(registry_next_version(reg, &v), 0);
		CHECK(v > prev);
	}
	prev = v;
	reg = reopen(reg);
	CHECK_EQ_INT(registry_next_version(reg, &v), 0);
	CHECK(v > prev);
	registry_close(reg);
}

/* Explicit transactions; a failing call inside one undoes only itself. */
static void test_transactions(void)
{
	struct registry *reg = open_fresh();
	struct prefix small = pfx("10.9.0.0/30"), saved = prefix4;
	uint8_t key[KEY_LEN];
	uint64_t v = 0;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_begin(reg), 0);
	CHECK_EQ_INT(registry_begin(reg), -EBUSY);
	upsert(reg, 1, "a", NULL);
	registry_rollback(reg);
	CHECK_EQ_INT(count_nodes(reg), 0);
	CHECK_EQ_INT(registry_commit(reg), -EINVAL);

	CHECK_EQ_INT(registry_begin(reg), 0);
	prefix4 = small;
	upsert(reg, 1, "a", NULL);
	upsert(reg, 2, "b", NULL);
	CHECK_EQ_INT(registry_next_version(reg, &v), 0);
	key_of(key, 3);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "c", &prefix4, &prefix6, 0, NULL, NULL),
		     -ENOSPC);
	CHECK_EQ_INT(registry_commit(reg), 0);
	prefix4 = saved;
	reg = reopen(reg);
	CHECK_EQ_INT(count_nodes(reg), 2);
	CHECK_EQ_INT(registry_next_version(reg, &v), 0);
	CHECK_EQ_INT(v, 2);
	registry_close(reg);
}

/* A changed mesh prefix moves a node that re-joins into the new prefix. */
static void test_prefix_change(void)
{
	struct registry *reg = open_fresh();
	struct prefix saved4 = prefix4, saved6 = prefix6;
	struct registry_node n;
	uint8_t key[KEY_LEN];

	if (!reg)
		return;
	upsert(reg, 1, "a", NULL);
	upsert(reg, 2, "b", NULL);
	prefix4 = pfx("10.99.0.0/16");
	CHECK_EQ_INT(upsert(reg, 2, "b", NULL), 2);
	CHECK_EQ_INT(registry_node_by_id(reg, 2, &n), 0);
	CHECK(addr_is(&n.addr4, "10.99.0.1/32"));
	CHECK(addr_is(&n.addr6, "fd7a:6d67:7465::2/128"));
	registry_node_clear(&n);

	/* Both prefixes change and the IPv6 one is full: nothing changes,
	 * neither on its own nor inside a transaction. */
	prefix4 = pfx("10.98.0.0/16");
	prefix6 = pfx("fd7a:6d67:7465::/127");
	key_of(key, 2);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "b", &prefix4, &prefix6, 0, NULL, NULL),
		     -ENOSPC);
	CHECK_EQ_INT(registry_begin(reg), 0);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "b", &prefix4, &prefix6, 0, NULL, NULL),
		     -ENOSPC);
	CHECK_EQ_INT(registry_commit(reg), 0);
	CHECK_EQ_INT(registry_node_by_id(reg, 2, &n), 0);
	CHECK(addr_is(&n.addr4, "10.99.0.1/32"));
	registry_node_clear(&n);
	prefix4 = saved4;
	prefix6 = saved6;
	registry_close(reg);
}

static void test_damaged(void)
{
	struct registry *reg = NULL;
	char err[256] = "";
	int fd;

	remove_files();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "this is not a database, just some text.", 39) == 39);
	close(fd);
	CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), -EUCLEAN);
	CHECK(reg == NULL);
	CHECK(strstr(err, "registry.sqlite is damaged: restore a backup or remove it") != NULL);

	/* A real registry with a page overwritten. */
	reg = open_fresh();
	for (unsigned k = 1; k <= 200; k++)
		upsert(reg, k, "node", NULL);
	registry_close(reg);
	fd = open(path, O_WRONLY);
	for (off_t page = 2; page < 6; page++) {
		char junk[512];

		memset(junk, 0x77, sizeof(junk));
		CHECK(pwrite(fd, junk, sizeof(junk), page * 4096 + 100) == (ssize_t)sizeof(junk));
	}
	close(fd);
	err[0] = '\0';
	reg = NULL;
	CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), -EUCLEAN);
	CHECK(strstr(err, "is damaged") != NULL);
	registry_close(reg);
}

static size_t count_devices(struct registry *reg)
{
	struct registry_device *devs = NULL;
	size_t n = 0;

	if (!CHECK_EQ_INT(registry_devices(reg, &devs, &n), 0))
		return (size_t)-1;
	free(devs);
	return n;
}

static int add_device(struct registry *reg, const char *name, unsigned k, uint32_t hub,
		      struct registry_device *out)
{
	uint8_t key[KEY_LEN];

	key_of(key, k);
	return registry_device_add(reg, name, key, hub, false, &prefix4, &prefix6, 2000 + k, out);
}

/* Devices take addresses from the nodes' pool and names from the nodes'
 * namespace, and give both back when removed. */
static void test_devices(void)
{
	struct registry *reg = open_fresh();
	struct registry_device d, again, *list = NULL;
	struct registry_node n;
	uint8_t key[KEY_LEN];
	uint32_t home, laptop;
	char name[ALLOC_NAME_MAX + 1] = "";
	size_t count = 0;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	key_of(key, 100);
	CHECK_EQ_INT(
	    registry_device_add(reg, "phone", key, home, true, &prefix4, &prefix6, 500, &d), 0);
	CHECK(d.id == 1 && d.hub_id == home && d.exit_node && d.created_at == 500);
	CHECK(strcmp(d.name, "phone") == 0);
	CHECK_MEM(d.public_key, key, KEY_LEN);
	CHECK(addr_is(&d.addr4, "100.64.0.2/32"));
	CHECK(addr_is(&d.addr6, "fd7a:6d67:7465::2/128"));
	/* The next node skips the device's addresses. */
	laptop = upsert(reg, 2, "laptop", NULL);
	CHECK_EQ_INT(registry_node_by_id(reg, laptop, &n), 0);
	CHECK(addr_is(&n.addr4, "100.64.0.3/32"));
	CHECK(addr_is(&n.addr6, "fd7a:6d67:7465::3/128"));
	registry_node_clear(&n);
	CHECK_EQ_INT(registry_device_by_name(reg, "PHONE", &again), 0);
	CHECK(again.id == d.id && prefix_equal(&again.addr4, &d.addr4));
	CHECK_EQ_INT(registry_device_by_key(reg, key, NULL), 0);
	CHECK_EQ_INT(add_device(reg, "tablet", 101, laptop, NULL), 0);
	CHECK_EQ_INT(registry_devices(reg, &list, &count), 0);
	CHECK(count == 2 && list && list[0].id == 1 && list[1].hub_id == laptop &&
	      !list[1].exit_node);
	free(list);

	/* Removed: the key is revoked, the name and addresses are free. */
	CHECK_EQ_INT(registry_device_remove(reg, d.id), 0);
	CHECK_EQ_INT(registry_device_remove(reg, d.id), -ENOENT);
	CHECK_EQ_INT(registry_device_by_name(reg, "phone", NULL), -ENOENT);
	CHECK_EQ_INT(registry_key_revoked(reg, key, name), 1);
	CHECK(strcmp(name, "phone") == 0);
	CHECK_EQ_INT(
	    registry_device_add(reg, "phone", key, home, false, &prefix4, &prefix6, 600, NULL),
	    -EKEYREVOKED);
	CHECK_EQ_INT(
	    registry_device_add(reg, "other", key, home, false, &prefix4, &prefix6, 600, NULL),
	    -EKEYREVOKED);
	CHECK_EQ_INT(add_device(reg, "phone", 102, home, &d), 0);
	CHECK(d.id == 3); /* ids are never reused */
	CHECK(addr_is(&d.addr4, "100.64.0.2/32"));
	key_of(key, 102);
	CHECK_EQ_INT(registry_key_revoked(reg, key, NULL), 0);

	/* Kept across reopening. */
	reg = reopen(reg);
	if (!reg)
		return;
	CHECK_EQ_INT(count_devices(reg), 2);
	CHECK_EQ_INT(registry_device_by_name(reg, "tablet", &d), 0);
	CHECK(d.hub_id == laptop);
	registry_close(reg);
}

/* Every refusal of registry_device_add(), and no row left by any. */
static void test_device_refusals(void)
{
	struct registry *reg = open_fresh();
	struct prefix small4 = pfx("100.64.0.0/30");
	struct registry_node n;
	uint8_t key[KEY_LEN];
	uint32_t home;
	bool created;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	upsert(reg, 2, "laptop", NULL);
	CHECK_EQ_INT(add_device(reg, "phone", 100, home, NULL), 0);
	static const char *const bad[] = { "",
					   "bad name",
					   "3",
					   "10.0.0.1",
					   "caf\xc3\xa9",
					   "a1234567890123456789012345678901234567890123456789"
					   "01234567890123" }; /* 64 */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK_EQ_INT(add_device(reg, bad[i], 200 + (unsigned)i, home, NULL), -EINVAL))
			fprintf(stderr, "  name '%s'\n", bad[i]);
	CHECK_EQ_INT(add_device(reg, NULL, 210, home, NULL), -EINVAL);
	CHECK_EQ_INT(add_device(reg, "watch", 211, 99, NULL), -ENOENT);
	/* Names: a node's or a device's, in any case. */
	CHECK_EQ_INT(add_device(reg, "Laptop", 212, home, NULL), -EEXIST);
	CHECK_EQ_INT(add_device(reg, "HOME", 213, home, NULL), -EEXIST);
	CHECK_EQ_INT(add_device(reg, "Phone", 214, home, NULL), -EEXIST);
	/* Keys: a node's or a device's. */
	CHECK_EQ_INT(add_device(reg, "watch", 2, home, NULL), -EKEYREJECTED);
	CHECK_EQ_INT(add_device(reg, "watch", 100, home, NULL), -EKEYREJECTED);
	CHECK_EQ_INT(count_devices(reg), 1);

	/* A joining node neither takes a device's name nor its key. */
	key_of(key, 3);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "phone", &prefix4, &prefix6, 5, &n, &created),
		     0);
	CHECK(created && strcmp(n.name, "phone-2") == 0);
	registry_node_clear(&n);
	key_of(key, 100);
	CHECK_EQ_INT(registry_node_upsert(reg, key, "thief", &prefix4, &prefix6, 5, NULL, NULL),
		     -EKEYREJECTED);
	CHECK_EQ_INT(registry_node_by_name(reg, "thief", NULL), -ENOENT);

	/* A full prefix: the transaction leaves nothing behind, inside a
	 * caller's transaction too. */
	CHECK_EQ_INT(registry_node_remove(reg, 3), 0);
	key_of(key, 300);
	CHECK_EQ_INT(
	    registry_device_add(reg, "watch", key, home, false, &small4, &prefix6, 1, NULL),
	    -ENOSPC);
	CHECK_EQ_INT(registry_begin(reg), 0);
	CHECK_EQ_INT(
	    registry_device_add(reg, "watch", key, home, false, &small4, &prefix6, 1, NULL),
	    -ENOSPC);
	CHECK_EQ_INT(add_device(reg, "watch2", 301, home, NULL), 0);
	registry_rollback(reg);
	CHECK_EQ_INT(count_devices(reg), 1);
	CHECK_EQ_INT(registry_device_by_name(reg, "watch", NULL), -ENOENT);
	CHECK_EQ_INT(registry_key_revoked(reg, key, NULL), 0);
	registry_close(reg);
}

/* Removing a hub removes its devices and revokes their keys. */
static void test_device_cascade(void)
{
	struct registry *reg = open_fresh();
	struct registry_device *list = NULL;
	uint8_t key[KEY_LEN];
	char name[ALLOC_NAME_MAX + 1] = "";
	uint32_t home, laptop;
	size_t n = 0;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	laptop = upsert(reg, 2, "laptop", NULL);
	CHECK_EQ_INT(add_device(reg, "phone", 100, laptop, NULL), 0);
	CHECK_EQ_INT(add_device(reg, "tablet", 101, laptop, NULL), 0);
	CHECK_EQ_INT(add_device(reg, "watch", 102, home, NULL), 0);
	CHECK_EQ_INT(registry_node_remove(reg, laptop), 0);
	CHECK_EQ_INT(registry_devices(reg, &list, &n), 0);
	CHECK(n == 1 && list && strcmp(list[0].name, "watch") == 0);
	free(list);
	key_of(key, 101);
	CHECK_EQ_INT(registry_key_revoked(reg, key, name), 1);
	CHECK(strcmp(name, "tablet") == 0);
	CHECK_EQ_INT(add_device(reg, "tablet", 101, home, NULL), -EKEYREVOKED);
	/* Their addresses are free again: the next device takes the lowest. */
	CHECK_EQ_INT(add_device(reg, "tablet", 103, home, NULL), 0);
	CHECK_EQ_INT(registry_device_by_name(reg, "tablet", &(struct registry_device){ 0 }), 0);
	registry_close(reg);
}

/* A registry of schema 1 (before devices) is brought to schema 2 and
 * keeps its nodes. */
static void test_device_migration(void)
{
	struct registry *reg = open_fresh();
	struct registry_node n;
	sqlite3 *db;
	uint32_t home;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	registry_close(reg);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db,
				  "DROP TRIGGER devices_revoke; DROP TABLE devices; "
				  "DROP TABLE revoked_keys; DROP TABLE audit; "
				  "UPDATE meta SET value = 1 WHERE key = 'schema_version'",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	reg = reopen(NULL);
	if (!reg)
		return;
	CHECK_EQ_INT(registry_node_by_id(reg, home, &n), 0);
	CHECK(strcmp(n.name, "home") == 0);
	registry_node_clear(&n);
	CHECK_EQ_INT(add_device(reg, "phone", 100, home, NULL), 0);
	CHECK_EQ_INT(registry_device_remove(reg, 1), 0);
	CHECK_EQ_INT(add_device(reg, "phone", 100, home, NULL), -EKEYREVOKED);
	registry_close(reg);
}

/* ---- the audit log ---- */

static int audit(struct registry *reg, int64_t t, const char *actor, const char *action,
		 const char *subject)
{
	return registry_audit_add(reg, t, actor, strcmp(actor, "root") ? -1 : 0, action, subject,
				  "d");
}

/* Entries come back newest first, from since on, at most limit; the uid is
 * kept for a local user and absent (-1) for a node. */
static void test_audit(void)
{
	struct registry *reg = open_fresh();
	struct registry_audit *v = NULL;
	size_t n = 0;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	CHECK(v == NULL && n == 0);
	CHECK_EQ_INT(audit(reg, 100, "root", "create-invite", "invite 1"), 0);
	CHECK_EQ_INT(audit(reg, 200, "node:laptop", "join", "laptop"), 0);
	CHECK_EQ_INT(audit(reg, 300, "root", "approve-route", "home"), 0);
	CHECK_EQ_INT(registry_audit_add(reg, 400, "", -1, "x", NULL, NULL), -EINVAL);
	CHECK_EQ_INT(registry_audit_add(reg, 400, "root", 0, "", NULL, NULL), -EINVAL);
	CHECK_EQ_INT(registry_audit_add(reg, 400, "uid 1000", 1000, "remove-node", NULL, NULL), 0);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	if (CHECK_EQ_INT(n, 4)) {
		CHECK(v[0].id == 4 && v[0].time == 400 && v[0].uid == 1000);
		CHECK(strcmp(v[0].actor, "uid 1000") == 0 && !v[0].subject[0] && !v[0].detail[0]);
		CHECK(v[1].id == 3 && strcmp(v[1].action, "approve-route") == 0 && v[1].uid == 0);
		CHECK(strcmp(v[2].actor, "node:laptop") == 0 && v[2].uid == -1);
		CHECK(strcmp(v[3].subject, "invite 1") == 0 && strcmp(v[3].detail, "d") == 0);
	}
	free(v);
	CHECK_EQ_INT(registry_audit_list(reg, 200, 10, &v, &n), 0);
	CHECK(n == 3 && v[2].time == 200);
	free(v);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 2, &v, &n), 0);
	CHECK(n == 2 && v[0].id == 4 && v[1].id == 3);
	free(v);
	reg = reopen(reg);
	if (!reg)
		return;
	CHECK_EQ_INT(registry_audit_list(reg, 301, 10, &v, &n), 0);
	CHECK(n == 1 && v[0].id == 4);
	free(v);
	registry_close(reg);
}

/* An entry written inside registry_begin() goes with the transaction: a
 * rollback leaves neither the change nor its entry. */
static void test_audit_transaction(void)
{
	struct registry *reg = open_fresh();
	struct registry_audit *v = NULL;
	size_t n = 0;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_begin(reg), 0);
	upsert(reg, 1, "laptop", NULL);
	CHECK_EQ_INT(audit(reg, 10, "node:laptop", "join", "laptop"), 0);
	registry_rollback(reg);
	CHECK_EQ_INT(registry_node_by_name(reg, "laptop", NULL), -ENOENT);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	CHECK(n == 0);
	free(v);
	CHECK_EQ_INT(registry_begin(reg), 0);
	upsert(reg, 1, "laptop", NULL);
	CHECK_EQ_INT(audit(reg, 10, "node:laptop", "join", "laptop"), 0);
	CHECK_EQ_INT(registry_commit(reg), 0);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	CHECK(n == 1 && strcmp(v[0].subject, "laptop") == 0);
	free(v);
	registry_close(reg);
}

/* The log keeps the newest REGISTRY_AUDIT_KEEP entries. */
static void test_audit_bound(void)
{
	struct registry *reg = open_fresh();
	struct registry_audit *v = NULL;
	sqlite3_stmt *st;
	sqlite3 *db;
	size_t n = 0;
	int64_t extra = 7, count = 0, oldest = 0;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_begin(reg), 0);
	for (int64_t i = 1; i <= REGISTRY_AUDIT_KEEP + extra; i++)
		if (registry_audit_add(reg, i, "root", 0, "create-invite", "x", NULL) < 0) {
			CHECK(false);
			break;
		}
	CHECK_EQ_INT(registry_commit(reg), 0);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 1, &v, &n), 0);
	CHECK(n == 1 && v[0].id == REGISTRY_AUDIT_KEEP + extra);
	free(v);
	registry_close(reg);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	if (CHECK_EQ_INT(
		sqlite3_prepare_v2(db, "SELECT count(*), min(id) FROM audit", -1, &st, NULL),
		SQLITE_OK) &&
	    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW)) {
		count = sqlite3_column_int64(st, 0);
		oldest = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(count == REGISTRY_AUDIT_KEEP);
	CHECK(oldest == extra + 1);
}

/* The policy's digest and revision: none at first, then what was set,
 * across a reopen. */
static void test_policy_record(void)
{
	struct registry *reg = open_fresh();
	uint8_t d[REGISTRY_POLICY_DIGEST_LEN], got[REGISTRY_POLICY_DIGEST_LEN];
	uint64_t rev = 0;
	char err[256] = "";

	if (!reg)
		return;
	CHECK_EQ_INT(registry_policy_get(reg, got, &rev), -ENOENT);
	memset(d, 0xa5, sizeof(d));
	CHECK_EQ_INT(registry_policy_set(reg, d, 42), 0);
	CHECK_EQ_INT(registry_policy_set(reg, d, 43), 0);
	registry_close(reg);
	reg = NULL;
	if (!CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), 0))
		return;
	CHECK_EQ_INT(registry_policy_get(reg, got, &rev), 0);
	CHECK(memcmp(got, d, sizeof(d)) == 0 && rev == 43);
	registry_close(reg);
}

/* Walks registry_audit_page() from the first page; the ids in order in
 * ids[], how many in *n; false on an error or a page over page. */
static bool audit_walk(struct registry *reg, int64_t since, size_t limit, size_t page, int64_t *ids,
		       size_t cap, size_t *n)
{
	int64_t after = 0;

	*n = 0;
	for (;;) {
		struct registry_audit *v = NULL;
		size_t got = 0;

		if (registry_audit_page(reg, since, limit, after, page, &v, &got) < 0 || got > page)
			return false;
		for (size_t i = 0; i < got && *n < cap; i++)
			ids[(*n)++] = v[i].id;
		if (got)
			after = v[got - 1].id;
		free(v);
		if (got < page)
			return true;
	}
}

/* Pages walk the same entries registry_audit_list() selects, oldest first,
 * each id once, whatever the page size. */
static void test_audit_pages(void)
{
	enum { ENTRIES = 2500 };
	static int64_t ids[ENTRIES + 1];
	struct registry *reg = open_fresh();
	size_t n = 0;
	bool ordered = true;

	if (!reg)
		return;
	CHECK_EQ_INT(registry_begin(reg), 0);
	for (int64_t i = 1; i <= ENTRIES; i++)
		if (registry_audit_add(reg, i, "root", 0, "create-invite", "x", NULL) < 0) {
			CHECK(false);
			break;
		}
	CHECK_EQ_INT(registry_commit(reg), 0);
	/* All of them, in pages of 1000: 1000, 1000, 500. */
	CHECK(audit_walk(reg, 0, REGISTRY_AUDIT_KEEP, 1000, ids, ENTRIES + 1, &n));
	CHECK_EQ_INT(n, ENTRIES);
	for (size_t i = 0; i < n; i++)
		ordered &= ids[i] == (int64_t)i + 1;
	CHECK(ordered);
	/* The newest 700 at or after time 1000, in pages of 300 (and of 700,
	 * where the last page is full and the next one empty). */
	CHECK(audit_walk(reg, 1000, 700, 300, ids, ENTRIES + 1, &n));
	CHECK(n == 700 && ids[0] == ENTRIES - 699 && ids[699] == ENTRIES);
	CHECK(audit_walk(reg, 1000, 700, 700, ids, ENTRIES + 1, &n));
	CHECK(n == 700 && ids[0] == ENTRIES - 699 && ids[699] == ENTRIES);
	/* Fewer entries after since than the limit: those. */
	CHECK(audit_walk(reg, 2401, 700, 64, ids, ENTRIES + 1, &n));
	CHECK(n == 100 && ids[0] == 2401 && ids[99] == ENTRIES);
	registry_close(reg);
}

/* A registry of schema 2 (before the audit log) is brought to schema 3:
 * its nodes and devices stay, and the log starts empty. */
static void test_audit_migration(void)
{
	struct registry *reg = open_fresh();
	struct registry_audit *v = NULL;
	size_t n = 1;
	sqlite3 *db;
	uint32_t home;

	if (!reg)
		return;
	home = upsert(reg, 1, "home", NULL);
	CHECK_EQ_INT(add_device(reg, "phone", 100, home, NULL), 0);
	registry_close(reg);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db,
				  "DROP TABLE audit; "
				  "UPDATE meta SET value = 2 WHERE key = 'schema_version'",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	reg = reopen(NULL);
	if (!reg)
		return;
	CHECK_EQ_INT(registry_node_by_name(reg, "home", NULL), 0);
	CHECK_EQ_INT(registry_device_by_name(reg, "phone", NULL), 0);
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	CHECK(n == 0);
	CHECK_EQ_INT(audit(reg, 5, "root", "remove-device", "phone"), 0);
	reg = reopen(reg);
	if (!reg)
		return;
	CHECK_EQ_INT(registry_audit_list(reg, 0, 10, &v, &n), 0);
	CHECK(n == 1 && strcmp(v[0].action, "remove-device") == 0);
	free(v);
	registry_close(reg);
}

/* A schema newer than this program is refused, not clobbered. */
static void test_newer_schema(void)
{
	struct registry *reg = open_fresh();
	char err[256] = "";
	sqlite3 *db;

	registry_close(reg);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	reg = NULL;
	CHECK_EQ_INT(registry_open(&reg, path, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "schema version 99") != NULL);
}

/* SQLite's own check of the whole file. */
static bool file_intact(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	bool ok = false;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		ok = sqlite3_step(st) == SQLITE_ROW &&
		     strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return ok;
}

enum crash_point { CRASH_BEFORE_COMMIT, CRASH_AFTER_COMMIT };

/* The child: commits node 1 on its own, then nodes 2..11 in one
 * transaction, and dies without closing, before or after that commit. */
static void crash_child(enum crash_point when, bool kill_self)
{
	struct registry *reg;
	char err[256];

	if (registry_open(&reg, path, err, sizeof(err)) < 0)
		_exit(2);
	upsert(reg, 1, "first", NULL);
	if (registry_begin(reg) < 0)
		_exit(3);
	for (unsigned k = 2; k <= 11; k++)
		upsert(reg, k, "batch", NULL);
	if (when == CRASH_AFTER_COMMIT && registry_commit(reg) < 0)
		_exit(4);
	if (kill_self)
		raise(SIGKILL);
	_exit(test_counts.failed ? 5 : 0);
}

static void run_crash(enum crash_point when, bool kill_self)
{
	struct registry *reg;
	int status = 0;
	pid_t pid;

	remove_files();
	pid = fork();
	if (!CHECK(pid >= 0))
		return;
	if (pid == 0)
		crash_child(when, kill_self);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (kill_self)
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	else
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_intact());
	reg = reopen(NULL);
	if (!reg)
		return;
	CHECK_EQ_INT(count_nodes(reg), when == CRASH_AFTER_COMMIT ? 11 : 1);
	CHECK_EQ_INT(registry_node_by_name(reg, "first", NULL), 0);
	/* The next node takes the next free address after what survived. */
	CHECK_EQ_INT(upsert(reg, 50, "after", NULL), when == CRASH_AFTER_COMMIT ? 12 : 2);
	registry_close(reg);
}

static void test_crash_mid_transaction(void)
{
	run_crash(CRASH_BEFORE_COMMIT, false);
	run_crash(CRASH_BEFORE_COMMIT, true);
	run_crash(CRASH_AFTER_COMMIT, false);
	run_crash(CRASH_AFTER_COMMIT, true);
}

/*
 * A child adds nodes one by one, reporting each committed id down a pipe;
 * the parent kills it at an arbitrary point. Every reported node is there
 * afterwards, the file is intact, and the registry carries on.
 */
static void test_crash_killed(void)
{
	struct registry *reg;
	uint32_t id = 0, last = 0;
	int fds[2];
	pid_t pid;

	remove_files();
	if (!CHECK(pipe(fds) == 0))
		return;
	pid = fork();
	if (!CHECK(pid >= 0)) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		char err[256];

		close(fds[0]);
		if (registry_open(&reg, path, err, sizeof(err)) < 0)
			_exit(2);
		for (unsigned k = 1;; k++) {
			id = upsert(reg, k, "busy", NULL);
			if (!id || write(fds[1], &id, sizeof(id)) != sizeof(id))
				_exit(3);
		}
	}
	close(fds[1]);
	while (last < 40 && read(fds[0], &id, sizeof(id)) == sizeof(id))
		last = id;
	kill(pid, SIGKILL);
	while (read(fds[0], &id, sizeof(id)) == sizeof(id))
		last = id;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	CHECK(last >= 40);
	CHECK(file_intact());
	reg = reopen(NULL);
	if (!reg)
		return;
	CHECK(count_nodes(reg) >= last);
	CHECK_EQ_INT(registry_node_by_id(reg, last, NULL), 0);
	CHECK(upsert(reg, 100000, "after", NULL) > last);
	registry_close(reg);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/mg-registry-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (strlen(dir) >= sizeof(dir) - 1 || !mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/" REGISTRY_FILE, dir);
	prefix4 = pfx("100.64.0.0/10");
	prefix6 = pfx("fd7a:6d67:7465::/48");

	RUN(test_upsert);
	RUN(test_numeric_names);
	RUN(test_remove_and_rejoin);
	RUN(test_seen_and_persistence);
	RUN(test_routes);
	RUN(test_routes_own);
	RUN(test_auto_approve_overlap);
	RUN(test_routes_order);
	RUN(test_unchanged_writes_nothing);
	RUN(test_invites);
	RUN(test_invite_list_remove);
	RUN(test_versions);
	RUN(test_transactions);
	RUN(test_prefix_change);
	RUN(test_damaged);
	RUN(test_newer_schema);
	RUN(test_devices);
	RUN(test_device_refusals);
	RUN(test_device_cascade);
	RUN(test_device_migration);
	RUN(test_audit);
	RUN(test_audit_transaction);
	RUN(test_audit_bound);
	RUN(test_audit_pages);
	RUN(test_policy_record);
	RUN(test_audit_migration);
	RUN(test_crash_mid_transaction);
	RUN(test_crash_killed);

	remove_files();
	rmdir(dir);
	return test_summary();
}
