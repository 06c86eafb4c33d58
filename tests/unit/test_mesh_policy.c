/*
 * The access policy on the coordinator (views.c, admin_policy.c, roles.c),
 * on a fake host (mesh_fake_host.h): the config's policy taken with a new
 * revision when it changes and only then, the coordinator's own view
 * carrying its filter to the host, the members' netmaps without the peer
 * they may not talk to (the coordinator always theirs, they always its),
 * `policy check` (decision, rule, line;
 * unknown names; refused on a member) and `policy show` on both roles.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "mesh/coordinator.h"
#include "mesh/coordinator_role.h"
#include "mesh/netmap.h"
#include "mesh/roles.h"
#include "mesh/views.h"
#include "mesh_fake_host.h"
#include "testlib.h"

static struct fake_coordinator fx;
static uint32_t phone_id;

static json_t *command(struct mesh_roles *r, json_t *req, const char **error)
{
	const char *name = json_string_value(json_object_get(req, "cmd"));
	json_t *result = NULL;

	*error = NULL;
	for (size_t i = 0; i < mesh_n_commands; i++)
		if (!strcmp(mesh_commands[i].name, name))
			result = mesh_commands[i].fn(r, req, error);
	json_decref(req);
	return result;
}

/* default deny; rule 1 (line 3): laptop may reach home on tcp/22 (port
 * port), rule 2 (line 4): phone may use the exit. */
static int set_policy(uint16_t port)
{
	struct acl_port_range ssh = { port, port };
	struct acl_target from[2] = { { .kind = ACL_NAME, .name = "laptop" },
				      { .kind = ACL_NAME, .name = "phone" } };
	struct acl_target to[2] = {
		{ .kind = ACL_NAME, .name = "home", .ports = &ssh, .n_ports = 1 },
		{ .kind = ACL_EXIT }
	};
	struct acl_rule rules[2] = {
		{ .from = &from[0],
		  .n_from = 1,
		  .to = &to[0],
		  .n_to = 1,
		  .protocols = ACL_PROTO_TCP,
		  .line = 3 },
		{ .from = &from[1], .n_from = 1, .to = &to[1], .n_to = 1, .line = 4 },
	};
	struct acl_policy p = { .def = ACL_DEFAULT_DENY, .rules = rules, .n_rules = 2 };

	acl_policy_free(&fx.cfg.policy);
	fx.cfg.policy_present = true;
	return acl_policy_copy(&fx.cfg.policy, &p);
}

static json_t *check(const char *from, const char *to, const char *proto, int port,
		     const char **error)
{
	json_t *req = json_pack("{s:s, s:s, s:s}", "cmd", "policy_check", "from", from, "to", to);

	if (proto)
		json_object_set_new(req, "proto", json_string(proto));
	if (port)
		json_object_set_new(req, "port", json_integer(port));
	return command(&fx.roles, req, error);
}

static bool allowed(const json_t *r)
{
	return json_is_true(json_object_get(r, "allowed"));
}

static json_int_t field(const json_t *r, const char *key)
{
	return json_integer_value(json_object_get(r, key));
}

/* How many "change-policy" entries the audit log holds; the newest one's
 * detail into detail. */
static size_t policy_changes(char *detail, size_t len)
{
	struct registry_audit *v = NULL;
	size_t n = 0, count = 0;

	if (!CHECK_EQ_INT(registry_audit_list(fx.c->reg, 0, 1000, &v, &n), 0))
		return 0;
	for (size_t i = n; i-- > 0;) {
		if (strcmp(v[i].action, "change-policy"))
			continue;
		CHECK(strcmp(v[i].actor, "daemon") == 0 && v[i].uid == -1);
		if (detail)
			snprintf(detail, len, "%s", v[i].detail);
		count++;
	}
	free(v);
	return count;
}

/* Whether the netmap the coordinator makes for node id lists peer. */
static bool lists(uint32_t id, uint32_t peer)
{
	struct netmap nm;
	bool found = false;

	if (!CHECK_EQ_INT(coord_node_netmap(fx.c, id, &nm), 0))
		return false;
	for (size_t i = 0; i < nm.n_peers; i++)
		found |= nm.peers[i].id == peer;
	netmap_free(&nm);
	return found;
}

/* Without a policy: no filter in the view, allow, revision 0; laptop and
 * phone are each other's peers. */
static void test_no_policy(void)
{
	const char *error;
	json_t *r;

	CHECK(lists(fx.laptop, phone_id) && lists(phone_id, fx.laptop));
	CHECK(lists(fx.laptop, fx.c->self_id) && lists(fx.c->self_id, phone_id));
	CHECK_EQ_INT(policy_changes(NULL, 0), 0); /* starting is no change */

	CHECK(fx.host.reconfigures > 0 && !fx.host.view_policy);
	CHECK(!fx.c->have_policy && fx.c->policy_revision == 0);
	r = command(&fx.roles, json_pack("{s:s}", "cmd", "policy_show"), &error);
	CHECK(r && json_is_false(json_object_get(r, "present")) &&
	      !strcmp(json_string_value(json_object_get(r, "default")), "allow"));
	json_decref(r);
	r = check("laptop", "home", "tcp", 80, &error);
	CHECK(r && allowed(r) && field(r, "rule") == 0 && field(r, "revision") == 0);
	json_decref(r);
}

/* The config's policy: a new revision, the coordinator's own view with its
 * filter (input: laptop to it on tcp/22), checks naming rule and line. */
static void test_policy_taken(void)
{
	char detail[256] = "", want[256];
	const char *error;
	json_t *r;

	if (!CHECK_EQ_INT(set_policy(22), 0))
		return;
	coord_rebuild(fx.c);
	CHECK(fx.c->have_policy && fx.c->policy_revision > 0);
	snprintf(want, sizeof(want), "revision %u: default deny, 2 rule(s)", fx.c->policy_revision);
	CHECK_EQ_INT(policy_changes(detail, sizeof(detail)), 1);
	CHECK(strcmp(detail, want) == 0);
	CHECK(fx.host.view_policy && fx.host.view_policy_revision == fx.c->policy_revision);
	CHECK(fx.host.view_policy_entries >= 1);
	/* laptop and phone may not talk: neither lists the other; the
	 * coordinator stays everyone's peer and keeps both. */
	CHECK(!lists(fx.laptop, phone_id) && !lists(phone_id, fx.laptop));
	CHECK(lists(fx.laptop, fx.c->self_id) && lists(phone_id, fx.c->self_id));
	CHECK(lists(fx.c->self_id, fx.laptop) && lists(fx.c->self_id, phone_id));
	r = command(&fx.roles, json_pack("{s:s}", "cmd", "policy_show"), &error);
	CHECK(r && json_is_true(json_object_get(r, "present")) &&
	      !strcmp(json_string_value(json_object_get(r, "default")), "deny") &&
	      field(r, "revision") == fx.c->policy_revision &&
	      json_array_size(json_object_get(r, "entries")) == fx.host.view_policy_entries);
	json_decref(r);

	r = check("laptop", "home", "tcp", 22, &error);
	if (CHECK(r != NULL))
		CHECK(allowed(r) && field(r, "rule") == 1 && field(r, "line") == 3 &&
		      !strcmp(json_string_value(json_object_get(r, "default")), "deny"));
	else
		fprintf(stderr, "  %s\n", error);
	json_decref(r);
	r = check("laptop", "home", "tcp", 80, &error);
	CHECK(r && !allowed(r) && field(r, "rule") == 0);
	json_decref(r);
	/* Unknown names are errors saying which, not denials. */
	r = check("laptop", "nosuchnode", "tcp", 22, &error);
	CHECK(r == NULL && error && strstr(error, "nosuchnode"));
	r = check("laptop", "home", "icmp", 22, &error);
	CHECK(r == NULL && error && strstr(error, "PROTO:PORT"));
	r = check("laptop", "home", "sctp", 0, &error);
	CHECK(r == NULL && error && strstr(error, "PROTO:PORT"));
	r = command(&fx.roles, json_pack("{s:s, s:s}", "cmd", "policy_check", "from", "laptop"),
		    &error);
	CHECK(r == NULL && error && strstr(error, "FROM and TO"));
}

/* The revision moves, and the audit log gets an entry, with a change of
 * the policy only; taking it away leaves the views without a filter. */
static void test_revision(void)
{
	char detail[256] = "";
	unsigned reconfigures;
	uint32_t rev = fx.c->policy_revision;

	if (!CHECK_EQ_INT(set_policy(22), 0)) /* the same policy, a new copy */
		return;
	reconfigures = fx.host.reconfigures;
	coord_rebuild(fx.c);
	CHECK_EQ_INT(fx.c->policy_revision, rev);
	CHECK_EQ_INT(fx.host.reconfigures, reconfigures); /* the view did not change */
	CHECK_EQ_INT(policy_changes(NULL, 0), 1);
	if (!CHECK_EQ_INT(set_policy(2222), 0))
		return;
	coord_rebuild(fx.c);
	CHECK(fx.c->policy_revision > rev);
	CHECK(fx.host.view_policy && fx.host.view_policy_revision == fx.c->policy_revision);
	CHECK_EQ_INT(policy_changes(NULL, 0), 2);
	acl_policy_free(&fx.cfg.policy);
	fx.cfg.policy_present = false;
	coord_rebuild(fx.c);
	CHECK(!fx.c->have_policy && fx.c->policy_revision == 0 && !fx.host.view_policy);
	CHECK_EQ_INT(policy_changes(detail, sizeof(detail)), 3);
	CHECK(strcmp(detail, "none: every node reaches every other") == 0);
	CHECK(lists(fx.laptop, phone_id) && lists(phone_id, fx.laptop));
}

/* A member holds no policy: check is refused with where to run it; show
 * answers from its netmap (none here). */
static void test_member(void)
{
	struct mesh_roles member = { 0 };
	const char *error;
	json_t *r;

	r = command(&member,
		    json_pack("{s:s, s:s, s:s}", "cmd", "policy_check", "from", "a", "to", "b"),
		    &error);
	CHECK(r == NULL && error && strstr(error, "run it there"));
	r = command(&member, json_pack("{s:s}", "cmd", "policy_show"), &error);
	CHECK(r && json_is_false(json_object_get(r, "present")));
	json_decref(r);
}

int main(void)
{
	uint8_t key[KEY_LEN];
	struct registry_node n;

	if (sodium_init() < 0 || fake_coordinator_init(&fx, "policy") < 0 ||
	    fake_coordinator_start(&fx) < 0)
		return 1;
	memset(key, 0x66, sizeof(key));
	if (registry_node_upsert(fx.c->reg, key, "phone", &fx.cfg.coordinator.prefix4,
				 &fx.cfg.coordinator.prefix6, 1, &n, NULL) < 0)
		return 1;
	phone_id = n.id;
	registry_node_clear(&n);
	coord_rebuild(fx.c);
	RUN(test_no_policy);
	RUN(test_policy_taken);
	RUN(test_revision);
	RUN(test_member);
	fake_coordinator_stop(&fx);
	return test_summary();
}
