/* The coordinator's device service; see devices.h. */
#include "mesh/devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mesh/audit.h"
#include "mesh/coordinator_role.h"
#include "mesh/devconf.h"
#include "mesh/hello.h"
#include "mesh/netmap.h"
#include "mesh/views.h"

#define NAME_RULE "1 to 63 letters, digits, '-', '_' or '.', not digits and dots alone"

uint32_t coordinator_self_id(const struct coordinator *c)
{
	return c->self_id;
}

json_t *coord_device_json(const struct registry_device *d, const char *hub)
{
	struct prefix a[2] = { d->addr4, d->addr6 };

	return json_pack("{s:s, s:o, s:s, s:b}", "name", d->name, "addresses",
			 mesh_prefixes_json(a, 2), "hub", hub, "exit_node", d->exit_node);
}

/* A printable excerpt of a name from a request, for messages. */
static const char *printable(const char *s, char out[72])
{
	size_t i;

	for (i = 0; s && s[i] && i < 64; i++)
		out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

/* Whether the hub advertises an exit (its 0.0.0.0/0 and ::/0 rows), and
 * whether that offer is approved. */
static int hub_exit(struct coordinator *c, uint32_t hub_id, bool *offered, bool *approved)
{
	struct registry_route *routes = NULL;
	size_t n = 0;
	int ret = registry_routes(c->reg, &routes, &n);

	*offered = *approved = false;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (routes[i].node_id != hub_id || !registry_route_is_exit(&routes[i].prefix))
			continue;
		*offered = true;
		*approved |= routes[i].approved;
	}
	free(routes);
	return ret;
}

/* The one-line reason for a refusal of registry_device_add(), as the
 * errno coord_device_add() returns. */
static int add_refused(struct coordinator *c, int err, const char *name, const uint8_t key[32],
		       char *errbuf, size_t errlen)
{
	char other[ALLOC_NAME_MAX + 1] = "";
	struct registry_device d;
	struct registry_node n;

	switch (err) {
	case -EEXIST:
		snprintf(errbuf, errlen, "the name %s is taken by a %s", name,
			 registry_device_by_name(c->reg, name, NULL) == 0 ? "device" : "node");
		return -EEXIST;
	case -EKEYREVOKED:
		if (registry_key_revoked(c->reg, key, other) <= 0)
			snprintf(other, sizeof(other), "?");
		snprintf(errbuf, errlen,
			 "this key belonged to removed device %s; generate a new key", other);
		return -EPERM;
	case -EKEYREJECTED:
		if (registry_node_by_key(c->reg, key, &n) == 0) {
			snprintf(errbuf, errlen, "this public key is node %s's", n.name);
			registry_node_clear(&n);
		} else if (registry_device_by_key(c->reg, key, &d) == 0) {
			snprintf(errbuf, errlen, "this public key is device %s's already", d.name);
		} else {
			snprintf(errbuf, errlen, "this public key is in use");
		}
		return -EEXIST;
	case -ENOSPC:
		snprintf(errbuf, errlen, "no free mesh address left for a device");
		return err;
	default:
		snprintf(errbuf, errlen, "cannot write the registry: %s", strerror(-err));
		return err;
	}
}

/* How many devices hub_id hubs: a netmap carries NETMAP_MAX_DEVICES. */
static int hub_devices(struct coordinator *c, uint32_t hub_id, size_t *count)
{
	struct registry_device *devices = NULL;
	size_t n = 0;
	int ret = registry_devices(c->reg, &devices, &n);

	*count = 0;
	for (size_t i = 0; ret == 0 && i < n; i++)
		*count += devices[i].hub_id == hub_id;
	free(devices);
	return ret;
}

/* Whether the hub offers the exit a device is to use: -EOPNOTSUPP when
 * not, 0 with a warning when the offer is not approved yet. */
static int check_exit(struct coordinator *c, const struct registry_node *hub, json_t *warnings,
		      char *errbuf, size_t errlen)
{
	bool offered, approved;
	int ret = hub_exit(c, hub->id, &offered, &approved);

	if (ret < 0) {
		snprintf(errbuf, errlen, "cannot read the registry: %s", strerror(-ret));
		return ret;
	}
	if (!offered) {
		snprintf(errbuf, errlen, "%s offers no exit node (exit_node.enabled = false)",
			 hub->name);
		return -EOPNOTSUPP;
	}
	if (!approved && warnings)
		json_array_append_new(warnings,
				      json_sprintf("the exit of %s is not approved yet: meshgate "
						   "routes approve %s 0.0.0.0/0 ::/0",
						   hub->name, hub->name));
	return 0;
}

/* The hub (its name in hub) with room for one more device, and its exit
 * when the device is to use it: -ENOENT, -ENOSPC, -EOPNOTSUPP. */
static int check_hub(struct coordinator *c, int64_t hub_id, bool exit_node, json_t *warnings,
		     struct registry_node *hub, char *errbuf, size_t errlen)
{
	size_t count;
	int ret;

	if (hub_id < 1 || hub_id > UINT32_MAX ||
	    registry_node_by_id(c->reg, (uint32_t)hub_id, hub) < 0) {
		snprintf(errbuf, errlen, "no node %lld to attach the device to", (long long)hub_id);
		return -ENOENT;
	}
	ret = hub_devices(c, hub->id, &count);
	if (ret < 0) {
		snprintf(errbuf, errlen, "cannot read the registry: %s", strerror(-ret));
		return ret;
	}
	if (count >= NETMAP_MAX_DEVICES) {
		snprintf(errbuf, errlen, "%s hubs %d devices already, the most a node may",
			 hub->name, NETMAP_MAX_DEVICES);
		return -ENOSPC;
	}
	return exit_node ? check_exit(c, hub, warnings, errbuf, errlen) : 0;
}

/* Registers the device and records it, in one transaction. */
static int device_store(struct coordinator *c, const struct registry_node *hub, const char *name,
			const uint8_t key[32], bool exit_node, const struct audit_actor *who,
			struct registry_device *d)
{
	const struct mg_config *cfg = c->host.cfg;
	char addr[PREFIX_STR_LEN];
	int ret = registry_begin(c->reg);

	if (ret < 0)
		return ret;
	ret = registry_device_add(c->reg, name, key, hub->id, exit_node, &cfg->coordinator.prefix4,
				  &cfg->coordinator.prefix6, now_s(), d);
	if (ret == 0) {
		prefix_format(&d->addr4, addr, sizeof(addr));
		ret = audit_add(c->reg, who, "add-device", d->name, "hub %s, %s%s", hub->name, addr,
				exit_node ? ", may use its exit" : "");
	}
	if (ret == 0)
		ret = registry_commit(c->reg);
	else
		registry_rollback(c->reg);
	return ret;
}

int coord_device_add(struct coordinator *c, int64_t hub_id, const char *name, const uint8_t key[32],
		     bool exit_node, const struct audit_actor *who, json_t **device,
		     json_t *warnings, char *errbuf, size_t errlen)
{
	struct registry_node hub = { 0 };
	struct registry_device d;
	char text[72], addr[PREFIX_STR_LEN];
	int ret;

	*device = NULL;
	if (!name || !alloc_name_valid(name)) {
		snprintf(errbuf, errlen, "'%s' is not a valid device name (" NAME_RULE ")",
			 printable(name, text));
		return -EINVAL;
	}
	ret = check_hub(c, hub_id, exit_node, warnings, &hub, errbuf, errlen);
	if (ret < 0)
		goto out;
	ret = device_store(c, &hub, name, key, exit_node, who, &d);
	if (ret < 0) {
		ret = add_refused(c, ret, name, key, errbuf, errlen);
		goto out;
	}
	*device = coord_device_json(&d, hub.name);
	prefix_format(&d.addr4, addr, sizeof(addr));
	log_info("mesh: device %s added at %s, hub %s%s", d.name, addr, hub.name,
		 d.exit_node ? ", may use its exit" : "");
	coord_schedule(c);
out:
	registry_node_clear(&hub);
	return ret;
}

/* Removes the device and records it, in one transaction. */
static int device_delete(struct coordinator *c, const struct registry_device *d,
			 const struct audit_actor *who)
{
	struct registry_node hub = { 0 };
	int ret = registry_begin(c->reg);

	if (ret < 0)
		return ret;
	if (registry_node_by_id(c->reg, d->hub_id, &hub) < 0)
		snprintf(hub.name, sizeof(hub.name), "%" PRIu32, d->hub_id);
	ret = registry_device_remove(c->reg, d->id);
	if (ret == 0)
		ret = audit_add(c->reg, who, "remove-device", d->name, "hub %s, key revoked",
				hub.name);
	registry_node_clear(&hub);
	if (ret == 0)
		ret = registry_commit(c->reg);
	else
		registry_rollback(c->reg);
	return ret;
}

int coord_device_remove(struct coordinator *c, int64_t hub_id, const char *name,
			const struct audit_actor *who, char *errbuf, size_t errlen)
{
	struct registry_device d;
	char text[72];
	int ret;

	if (!name || registry_device_by_name(c->reg, name, &d) < 0) {
		snprintf(errbuf, errlen, "no device named %s", printable(name, text));
		return -ENOENT;
	}
	if (hub_id != 0 && d.hub_id != hub_id) {
		snprintf(errbuf, errlen, "device %s is attached to another node", d.name);
		return -EPERM;
	}
	ret = device_delete(c, &d, who);
	if (ret < 0) {
		snprintf(errbuf, errlen, "cannot remove device %s: %s", d.name, strerror(-ret));
		return ret;
	}
	log_info("mesh: device %s removed, its key revoked", d.name);
	coord_schedule(c);
	return 0;
}

/* ---- the coordinator as the hub ---- */

/* CONFIG for a device of this node, from its view as a rebuild makes it. */
static json_t *own_config(struct coordinator *c, bool exit_node)
{
	const struct mg_config *cfg = c->host.cfg;
	uint16_t port = c->host.ops->listen_port(c->host.ctx);
	struct endpoint local[HELLO_MAX_ENDPOINTS];
	char configured[ENDPOINT_STR_LEN] = "";
	struct devconf_endpoints ep = { .configured = configured,
					.local = local,
					.listen_port = port };
	struct netmap nm;
	json_t *conf;

	if (coord_self_netmap(c, &nm) < 0)
		return NULL;
	if (cfg->coordinator.endpoints.n)
		endpoint_format(&cfg->coordinator.endpoints.v[0], configured, sizeof(configured));
	ep.n_local = mesh_local_endpoints(c->host.tun_name, port, local, HELLO_MAX_ENDPOINTS);
	conf = devconf_json(&nm, c->addrs, c->n_addrs, c->host.public_key, nm.self.name, exit_node,
			    &ep, cfg->dns.enabled ? cfg->dns.domain : NULL);
	netmap_free(&nm);
	return conf;
}

json_t *coordinator_device_add(struct coordinator *c, const char *name, const uint8_t key[32],
			       bool exit_node, const struct audit_actor *who, char *errbuf,
			       size_t errlen)
{
	json_t *warnings = json_array(), *device = NULL;
	json_t *conf = own_config(c, exit_node); /* first: a failure adds nothing */

	if (!warnings || !conf) {
		snprintf(errbuf, errlen, "cannot make a device configuration for this node");
		goto err;
	}
	if (coord_device_add(c, c->self_id, name, key, exit_node, who, &device, warnings, errbuf,
			     errlen) < 0)
		goto err;
	coord_rebuild(c); /* the engine peer, before the device dials in */
	return json_pack("{s:s, s:o, s:o, s:o}", "state", "done", "device", device, "config", conf,
			 "warnings", warnings);
err:
	json_decref(conf);
	json_decref(warnings);
	return NULL;
}

json_t *coordinator_device_remove(struct coordinator *c, const char *name,
				  const struct audit_actor *who, char *errbuf, size_t errlen)
{
	if (coord_device_remove(c, 0, name, who, errbuf, errlen) < 0)
		return NULL;
	coord_rebuild(c); /* access ends now: the hub drops the engine peer */
	return json_pack("{s:s, s:s}", "state", "done", "removed", name);
}
