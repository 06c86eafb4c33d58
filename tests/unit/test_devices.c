/*
 * The coordinator's device service (daemon/mesh/devices.c) and its control
 * commands (roles.c), on a coordinator running on a fake host
 * (mesh_fake_host.h) in a temporary state_dir: device_add answers DEVICE,
 * CONFIG and warnings, and the view is applied again at once; every
 * refusal is one line and adds nothing; device_remove revokes the key; the
 * exit check; a member's removal limited to its own devices; `nodes` and
 * `nodes remove` with devices.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "loop.h"
#include "mesh/audit.h"
#include "mesh/coordinator.h"
#include "mesh/coordinator_role.h"
#include "mesh/devices.h"
#include "mesh/netmap.h"
#include "mesh/roles.h"
#include "mesh_fake_host.h"
#include "testlib.h"

static struct fake_coordinator fx;

/* Runs the control command named cmd; *error is set on an error. */
static json_t *command(json_t *req, const char **error)
{
	const char *name = json_string_value(json_object_get(req, "cmd"));
	json_t *result = NULL;

	*error = NULL;
	for (size_t i = 0; i < mesh_n_commands; i++)
		if (!strcmp(mesh_commands[i].name, name))
			result = mesh_commands[i].fn(&fx.roles, req, error);
	json_decref(req);
	return result;
}

static json_t *device_add_key(const char *name, const uint8_t key[KEY_LEN], bool exit_node,
			      const char **error)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	return command(json_pack("{s:s, s:s, s:s, s:b}", "cmd", "device_add", "name", name,
				 "public_key", b64, "exit", exit_node),
		       error);
}

static json_t *device_add(const char *name, unsigned key_byte, bool exit_node, const char **error)
{
	uint8_t key[KEY_LEN];

	memset(key, (int)key_byte, sizeof(key));
	return device_add_key(name, key, exit_node, error);
}

/* The error of a device_add that must fail, which must contain want. */
static void add_refused(const char *name, unsigned key_byte, bool exit_node, const char *want)
{
	const char *error;
	json_t *result = device_add(name, key_byte, exit_node, &error);

	if (!CHECK(result == NULL) || !CHECK(error && strstr(error, want)))
		fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", name, error ? error : "(none)",
			want);
	json_decref(result);
}

static bool has_string(const json_t *arr, const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) if (json_is_string(v) &&
					  !strcmp(json_string_value(v), want)) return true;
	return false;
}

static int setup(void)
{
	if (fake_coordinator_init(&fx, "devices") < 0)
		return -1;
	fx.cfg.exit_node.enabled = true; /* offered, not auto-approved */
	fx.cfg.coordinator.endpoints.v = calloc(1, sizeof(struct endpoint));
	fx.cfg.coordinator.endpoints.n = 1;
	/* A random /21 (room for a hub's most devices): the control listener
	 * binds to its first address. */
	{
		uint8_t r[2];
		char text[32];

		randombytes_buf(r, sizeof(r));
		snprintf(text, sizeof(text), "10.%u.%u.0/21", r[0], r[1] & 0xf8);
		if (!fx.cfg.coordinator.endpoints.v ||
		    prefix_parse(&fx.cfg.coordinator.prefix4, text) < 0 ||
		    endpoint_parse(fx.cfg.coordinator.endpoints.v, "vpn.example.net:41641") < 0)
			return -1;
	}
	return fake_coordinator_start(&fx);
}

static void teardown(void)
{
	fake_coordinator_stop(&fx);
}

static void test_add(void)
{
	unsigned before = fx.host.reconfigures;
	const char *error;
	json_t *r = device_add("phone", 0x61, false, &error), *dev, *conf;
	char net4[PREFIX_STR_LEN], hub_key[KEY_B64_LEN + 1];
	struct prefix p;

	if (!CHECK(r != NULL)) {
		fprintf(stderr, "  %s\n", error);
		return;
	}
	dev = json_object_get(r, "device");
	conf = json_object_get(r, "config");
	CHECK(strcmp(json_string_value(json_object_get(r, "state")), "done") == 0);
	CHECK(strcmp(json_string_value(json_object_get(dev, "name")), "phone") == 0);
	CHECK(strcmp(json_string_value(json_object_get(dev, "hub")), "home") == 0);
	CHECK(json_is_false(json_object_get(dev, "exit_node")));
	CHECK_EQ_INT(json_array_size(json_object_get(dev, "addresses")), 2);
	CHECK(prefix_parse(&p, json_string_value(
				   json_array_get(json_object_get(dev, "addresses"), 0))) == 0 &&
	      p.len == 32 && prefix_contains(&fx.cfg.coordinator.prefix4, &p));
	CHECK(json_object_get(dev, "public_key") == NULL);
	/* CONFIG from the coordinator's own view. */
	key_to_base64(hub_key, fx.host.pub);
	CHECK(strcmp(json_string_value(json_object_get(conf, "hub_public_key")), hub_key) == 0);
	CHECK(strcmp(json_string_value(json_object_get(conf, "endpoint")),
		     "vpn.example.net:41641") == 0);
	prefix_format(&fx.cfg.coordinator.prefix4, net4, sizeof(net4));
	CHECK(has_string(json_object_get(conf, "allowed_ips"), net4));
	CHECK(has_string(json_object_get(conf, "allowed_ips"), "fd7a:6d67:7465::/48"));
	CHECK(!has_string(json_object_get(conf, "allowed_ips"), "0.0.0.0/0"));
	CHECK_EQ_INT(json_integer_value(json_object_get(conf, "mtu")), 1280);
	CHECK_EQ_INT(json_array_size(json_object_get(r, "warnings")), 0);
	/* The hub's view carries the device at once. */
	CHECK(fx.host.reconfigures > before);
	json_decref(r);
}

static void test_refusals(void)
{
	add_refused("3", 0x62, false, "'3' is not a valid device name");
	add_refused("my phone", 0x62, false, "'my?phone' is not a valid device name");
	add_refused("PHONE", 0x62, false, "the name PHONE is taken by a device");
	add_refused("Laptop", 0x62, false, "the name Laptop is taken by a node");
	add_refused("home", 0x62, false, "the name home is taken by a node");
	add_refused("tablet", 0x61, false, "this public key is device phone's already");
	add_refused("tablet", 0x44, false, "this public key is node laptop's");
	{
		const char *error;
		json_t *r = device_add_key("tablet", fx.host.pub, false, &error);
		CHECK(!r && error && strcmp(error, "this public key is node home's") == 0);
		r = command(json_pack("{s:s, s:s, s:s}", "cmd", "device_add", "name", "tablet",
				      "public_key", "AQID"),
			    &error);
		CHECK(!r && error && strstr(error, "public_key is not a WireGuard key"));
		r = command(json_pack("{s:s}", "cmd", "device_add"), &error);
		CHECK(!r && error && strstr(error, "which name?"));
	}
	/* Nothing was written by any of them. */
	struct registry_device *list = NULL;
	size_t n = 0;
	CHECK_EQ_INT(registry_devices(fx.c->reg, &list, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(list);
}

/* --exit: the hub must offer an exit; a pending offer is a warning. home's
 * own exit is approved by its config from the start. */
static void test_exit(void)
{
	const char *error;
	json_t *r = device_add("tablet", 0x63, true, &error), *dev = NULL, *warnings;
	char err[256] = "";
	uint8_t key[KEY_LEN];
	struct prefix exits[] = { { .family = AF_INET }, { .family = AF_INET6 } };

	if (!CHECK(r != NULL)) {
		fprintf(stderr, "  %s\n", error);
		return;
	}
	CHECK_EQ_INT(json_array_size(json_object_get(r, "warnings")), 0);
	CHECK(json_is_true(json_object_get(json_object_get(r, "device"), "exit_node")));
	CHECK(json_is_true(json_object_get(json_object_get(r, "config"), "exit_node")));
	json_decref(r);

	/* A member's exit offer waits for the admin: a warning. */
	CHECK_EQ_INT(
	    registry_routes_advertise(fx.c->reg, fx.laptop, exits, 2, NULL, 0, false, NULL), 0);
	warnings = json_array();
	memset(key, 0x6a, sizeof(key));
	CHECK_EQ_INT(coord_device_add(fx.c, fx.laptop, "clock", key, true, NULL, &dev, warnings,
				      err, sizeof(err)),
		     0);
	CHECK(json_array_size(warnings) == 1 &&
	      strcmp(json_string_value(json_array_get(warnings, 0)),
		     "the exit of laptop is not approved yet: meshgate routes approve laptop "
		     "0.0.0.0/0 ::/0") == 0);
	json_decref(dev);
	dev = NULL;
	CHECK_EQ_INT(coord_device_remove(fx.c, fx.laptop, "clock", NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(registry_routes_advertise(fx.c->reg, fx.laptop, NULL, 0, NULL, 0, false, NULL),
		     0);
	json_decref(warnings);

	/* home's own: no warning. */
	warnings = json_array();
	memset(key, 0x64, sizeof(key));
	CHECK_EQ_INT(coord_device_add(fx.c, fx.c->self_id, "watch", key, true, NULL, &dev, warnings,
				      err, sizeof(err)),
		     0);
	CHECK_EQ_INT(json_array_size(warnings), 0);
	json_decref(dev);

	/* laptop offers none. */
	memset(key, 0x65, sizeof(key));
	CHECK_EQ_INT(coord_device_add(fx.c, fx.laptop, "pad", key, true, NULL, &dev, warnings, err,
				      sizeof(err)),
		     -EOPNOTSUPP);
	CHECK(strcmp(err, "laptop offers no exit node (exit_node.enabled = false)") == 0);
	CHECK(dev == NULL);
	CHECK_EQ_INT(
	    coord_device_add(fx.c, 999, "pad", key, false, NULL, &dev, warnings, err, sizeof(err)),
	    -ENOENT);
	CHECK(strstr(err, "no node 999") != NULL);
	CHECK_EQ_INT(registry_device_by_name(fx.c->reg, "pad", NULL), -ENOENT);
	/* Without --exit laptop hubs it. */
	CHECK_EQ_INT(coord_device_add(fx.c, fx.laptop, "pad", key, false, NULL, &dev, warnings, err,
				      sizeof(err)),
		     0);
	CHECK(strcmp(json_string_value(json_object_get(dev, "hub")), "laptop") == 0);
	json_decref(dev);
	json_decref(warnings);
}

static void test_remove(void)
{
	char err[256] = "";
	const char *error;
	json_t *r;

	/* A member removes its own devices only. */
	CHECK_EQ_INT(coord_device_remove(fx.c, fx.laptop, "phone", NULL, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "device phone is attached to another node") != NULL);
	r = command(json_pack("{s:s, s:s}", "cmd", "device_remove", "name", "phone"), &error);
	CHECK(r && strcmp(json_string_value(json_object_get(r, "removed")), "phone") == 0);
	json_decref(r);
	r = command(json_pack("{s:s, s:s}", "cmd", "device_remove", "name", "phone"), &error);
	CHECK(!r && error && strcmp(error, "no device named phone") == 0);
	/* Its key is revoked, its name free. */
	add_refused("phone", 0x61, false,
		    "this key belonged to removed device phone; generate a new key");
	add_refused("other", 0x61, false, "this key belonged to removed device phone");
	r = device_add("phone", 0x66, false, &error);
	CHECK(r != NULL);
	json_decref(r);
}

/* `nodes` lists each node's devices; removing a hub removes them. */
static void test_nodes(void)
{
	const char *error;
	json_t *nodes = command(json_pack("{s:s}", "cmd", "nodes"), &error), *n, *r;
	size_t i;
	uint8_t key[KEY_LEN];

	json_array_foreach(nodes, i, n)
	{
		const json_t *devs = json_object_get(n, "devices");
		const char *name = json_string_value(json_object_get(n, "name"));
		if (!strcmp(name, "laptop")) {
			CHECK_EQ_INT(json_array_size(devs), 1);
			CHECK(strcmp(json_string_value(
					 json_object_get(json_array_get(devs, 0), "hub")),
				     "laptop") == 0);
			CHECK(json_is_integer(
			    json_object_get(json_array_get(devs, 0), "created_at")));
		} else {
			CHECK_EQ_INT(json_array_size(devs), 3); /* tablet, watch, phone */
		}
	}
	CHECK_EQ_INT(json_array_size(nodes), 2);
	json_decref(nodes);

	r = command(json_pack("{s:s, s:s}", "cmd", "nodes_remove", "node", "tablet"), &error);
	CHECK(!r && error && strstr(error, "tablet is a device: meshgate device remove"));
	r = command(json_pack("{s:s, s:s}", "cmd", "nodes_remove", "node", "laptop"), &error);
	if (CHECK(r != NULL))
		CHECK(has_string(json_object_get(r, "devices_removed"), "pad") &&
		      json_array_size(json_object_get(r, "devices_removed")) == 1);
	json_decref(r);
	memset(key, 0x65, sizeof(key));
	CHECK_EQ_INT(registry_key_revoked(fx.c->reg, key, NULL), 1);
	CHECK_EQ_INT(registry_device_by_name(fx.c->reg, "pad", NULL), -ENOENT);
}

/* Without the coordinator role the commands answer at once. */
static void test_not_coordinator(void)
{
	struct coordinator *c = fx.roles.coordinator;
	const char *error;
	json_t *r;

	fx.roles.coordinator = NULL;
	r = device_add("ghost", 0x70, false, &error);
	CHECK(!r && error && strstr(error, "this node is in no mesh"));
	r = command(json_pack("{s:s, s:s}", "cmd", "device_remove", "name", "tablet"), &error);
	CHECK(!r && error && strstr(error, "this node is in no mesh"));
	fx.roles.coordinator = c;
}

/* A hub holds at most NETMAP_MAX_DEVICES: a netmap carries no more. */
static void test_hub_full(void)
{
	char err[256] = "", name[32];
	uint8_t key[KEY_LEN] = { 0x77 };
	json_t *dev = NULL;
	size_t n = 0;
	struct registry_device *list = NULL;
	int ret = 0;

	CHECK_EQ_INT(registry_devices(fx.c->reg, &list, &n), 0);
	free(list);
	CHECK_EQ_INT(registry_begin(fx.c->reg), 0);
	for (size_t i = n; ret == 0 && i < NETMAP_MAX_DEVICES; i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		key[1] = (uint8_t)i;
		key[2] = (uint8_t)(i >> 8);
		ret = registry_device_add(fx.c->reg, name, key, fx.c->self_id, false,
					  &fx.cfg.coordinator.prefix4, &fx.cfg.coordinator.prefix6,
					  1, NULL);
	}
	CHECK_EQ_INT(ret, 0);
	CHECK_EQ_INT(registry_commit(fx.c->reg), 0);
	key[3] = 1;
	CHECK_EQ_INT(coord_device_add(fx.c, fx.c->self_id, "one-more", key, false, NULL, &dev, NULL,
				      err, sizeof(err)),
		     -ENOSPC);
	CHECK(strcmp(err, "home hubs 1024 devices already, the most a node may") == 0);
	CHECK(dev == NULL);
}

/* The last audit entry's actor, action and subject, and how many there
 * are, through the log command. */
static size_t audit_last(char *out, size_t len)
{
	const char *error;
	json_t *r = command(json_pack("{s:s}", "cmd", "log"), &error);
	json_t *entries = json_object_get(r, "entries");
	json_t *e = json_array_get(entries, json_array_size(entries) - 1);
	size_t n = json_array_size(entries);

	snprintf(out, len, "%s %" JSON_INTEGER_FORMAT " %s %s",
		 json_string_value(json_object_get(e, "actor")),
		 json_is_integer(json_object_get(e, "uid"))
		     ? json_integer_value(json_object_get(e, "uid"))
		     : -1,
		 json_string_value(json_object_get(e, "action")),
		 json_string_value(json_object_get(e, "subject")));
	json_decref(r);
	return n;
}

/* Adding and removing a device writes one entry each, with the caller the
 * control socket set (or the node); a refusal writes none. */
static void test_audit(void)
{
	char b64[KEY_B64_LEN + 1], last[256], err[256];
	struct audit_actor who;
	uint8_t key[KEY_LEN];
	const char *error;
	size_t n;
	json_t *r;

	memset(key, 0x71, sizeof(key));
	key_to_base64(b64, key);
	n = audit_last(last, sizeof(last));
	r = command(json_pack("{s:s, s:s, s:s, s:{s:s, s:i}}", "cmd", "device_add", "name", "cam",
			      "public_key", b64, "caller", "user", "alice", "uid", 1000),
		    &error);
	CHECK(r != NULL);
	json_decref(r);
	CHECK_EQ_INT(audit_last(last, sizeof(last)), n + 1);
	CHECK(strcmp(last, "alice 1000 add-device cam") == 0);
	r = command(
	    json_pack("{s:s, s:s, s:s}", "cmd", "device_add", "name", "CAM", "public_key", b64),
	    &error);
	CHECK(r == NULL);
	CHECK_EQ_INT(audit_last(last, sizeof(last)), n + 1);
	audit_actor_node("laptop", &who);
	CHECK_EQ_INT(coord_device_remove(fx.c, 0, "cam", &who, err, sizeof(err)), 0);
	CHECK_EQ_INT(audit_last(last, sizeof(last)), n + 2);
	CHECK(strcmp(last, "node:laptop -1 remove-device cam") == 0);
	/* Without a caller (a request from inside the process): the daemon. */
	memset(key, 0x72, sizeof(key));
	key_to_base64(b64, key);
	r = command(
	    json_pack("{s:s, s:s, s:s}", "cmd", "device_add", "name", "cam2", "public_key", b64),
	    &error);
	json_decref(r);
	CHECK_EQ_INT(audit_last(last, sizeof(last)), n + 3);
	CHECK(strcmp(last, "daemon -1 add-device cam2") == 0);
	CHECK_EQ_INT(coord_device_remove(fx.c, 0, "cam2", NULL, err, sizeof(err)), 0);
}

int main(void)
{
	if (sodium_init() < 0 || setup() < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	RUN(test_add);
	RUN(test_refusals);
	RUN(test_exit);
	RUN(test_remove);
	RUN(test_audit);
	RUN(test_nodes);
	RUN(test_not_coordinator);
	RUN(test_hub_full);
	teardown();
	return test_summary();
}
