/* Devices hubbed by a member, through the coordinator; see client_devices.h. */
#include "mesh/client_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mesh/client_role.h"
#include "mesh/devconf.h"
#include "mesh/hello.h"

enum { LOCAL_ENDPOINTS_MAX = 16 };

static json_t *pending_json(const struct devreq *d)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", d->msg.req);
	return json_pack("{s:s, s:s}", "state", "pending", "request", id);
}

static json_t *send_request(struct mesh_client *mc, const struct devmsg_request *msg, char *errbuf,
			    size_t errlen)
{
	struct devreq *d;
	json_t *wire;
	int ret;

	if (!mc->joined) {
		snprintf(errbuf, errlen, "this node has not joined a mesh (meshgate join)");
		return NULL;
	}
	if (!mc->ch || !mc->ch->connected) {
		snprintf(errbuf, errlen,
			 "not connected to the coordinator; try again when `meshgate status` "
			 "shows it");
		return NULL;
	}
	d = devreq_open(&mc->devreqs, msg, now_ns());
	if (!d) {
		snprintf(errbuf, errlen, "%d device requests wait for the coordinator already",
			 DEVREQ_SLOTS);
		return NULL;
	}
	wire = devmsg_request_create(&d->msg);
	ret = wire ? channel_send(mc->ch, wire) : -ENOMEM;
	json_decref(wire);
	if (ret < 0) {
		devreq_drop(d);
		snprintf(errbuf, errlen, "cannot send the request to the coordinator: %s",
			 strerror(-ret));
		return NULL;
	}
	return pending_json(d);
}

/* Copies a valid name into out; false with errbuf otherwise. */
static bool name_take(char out[NETMAP_NAME_MAX + 1], const char *name, char *errbuf, size_t errlen)
{
	if (!devmsg_name_valid(name)) {
		snprintf(errbuf, errlen,
			 "'%.63s' is not a valid device name (1 to 63 letters, digits, '-', '_' or "
			 "'.', not digits and dots alone)",
			 name);
		return false;
	}
	memcpy(out, name, strlen(name) + 1);
	return true;
}

json_t *mesh_client_device_add(struct mesh_client *mc, const char *name, const uint8_t key[32],
			       bool exit_node, char *errbuf, size_t errlen)
{
	struct devmsg_request msg = { .kind = DEVMSG_ADD, .exit_node = exit_node };

	if (!name_take(msg.name, name, errbuf, errlen))
		return NULL;
	memcpy(msg.public_key, key, sizeof(msg.public_key));
	return send_request(mc, &msg, errbuf, errlen);
}

json_t *mesh_client_device_remove(struct mesh_client *mc, const char *name, char *errbuf,
				  size_t errlen)
{
	struct devmsg_request msg = { .kind = DEVMSG_REMOVE };

	if (!name_take(msg.name, name, errbuf, errlen))
		return NULL;
	return send_request(mc, &msg, errbuf, errlen);
}

/* The mesh's domain as this hub answers it: the netmap's, else its own
 * dns.domain; NULL when it serves no DNS. */
static const char *dns_domain(const struct mesh_client *mc)
{
	const struct mg_config *cfg = mc->host.cfg;

	if (!cfg->dns.enabled)
		return NULL;
	return mc->have_nm && mc->nm.dns.present && mc->nm.dns.domain[0] ? mc->nm.dns.domain
									 : cfg->dns.domain;
}

/* CONFIG from this node's view: its netmap (none yet: no routes), its mesh
 * networks, the endpoint the coordinator observes, its local addresses. */
static json_t *config_json(struct mesh_client *mc, bool exit_node)
{
	struct endpoint local[LOCAL_ENDPOINTS_MAX], observed;
	struct devconf_endpoints ep = { .listen_port = listen_port(mc), .local = local };
	struct netmap none = { 0 };
	struct prefix mesh[2];

	for (size_t i = 0; i < mc->n_addrs; i++) {
		mesh[i] = mc->addrs[i];
		prefix_mask(&mesh[i]);
	}
	if (mc->probe.observed[0] && endpoint_parse(&observed, mc->probe.observed) == 0)
		ep.observed = &observed;
	ep.n_local =
	    mesh_local_endpoints(mc->host.tun_name, ep.listen_port, local, LOCAL_ENDPOINTS_MAX);
	return devconf_json(mc->have_nm ? &mc->nm : &none, mesh, mc->n_addrs, mc->host.public_key,
			    mc->name, exit_node, &ep, dns_domain(mc));
}

static json_t *done_json(struct mesh_client *mc, const struct devreq *d, char *errbuf,
			 size_t errlen)
{
	const json_t *exit_node = json_object_get(d->device, "exit_node");
	json_t *config;

	if (d->msg.kind == DEVMSG_REMOVE)
		return json_pack("{s:s, s:s}", "state", "done", "removed", d->msg.name);
	config = config_json(mc, json_is_boolean(exit_node) ? json_is_true(exit_node)
							    : d->msg.exit_node);
	if (!config) {
		snprintf(errbuf, errlen,
			 "device %s was added, but its configuration cannot be composed",
			 d->msg.name);
		return NULL;
	}
	return json_pack("{s:s, s:O, s:o, s:o}", "state", "done", "device", d->device, "config",
			 config, "warnings", d->warnings ? json_copy(d->warnings) : json_array());
}

json_t *mesh_client_device_status(struct mesh_client *mc, const char *request, char *errbuf,
				  size_t errlen)
{
	char *end = NULL;
	unsigned long req = request && *request ? strtoul(request, &end, 10) : 0;
	struct devreq *d =
	    end && !*end && req <= UINT32_MAX ? devreq_find(&mc->devreqs, req, now_ns()) : NULL;

	if (!d) {
		snprintf(errbuf, errlen, "no device request %.16s (outcomes are kept %d s)",
			 request ? request : "", DEVREQ_KEEP_S);
		return NULL;
	}
	if (d->state == DEVREQ_PENDING)
		return pending_json(d);
	if (d->state == DEVREQ_FAILED) {
		snprintf(errbuf, errlen, "%s", d->error);
		return NULL;
	}
	return done_json(mc, d, errbuf, errlen);
}

void client_devices_reply(struct mesh_client *mc, const json_t *msg)
{
	struct devmsg_reply r;

	if (devmsg_reply_parse(msg, &r) < 0 || !devreq_answer(&mc->devreqs, &r, now_ns()))
		return;
	if (r.error[0])
		log_info("mesh: the coordinator refused a device request: %s", r.error);
}

void client_devices_lost(struct mesh_client *mc)
{
	devreq_fail_pending(&mc->devreqs,
			    "the connection to the coordinator closed before it answered; "
			    "`meshgate device list` shows whether it was done",
			    now_ns());
}
