/* Netmap peers and devices to mesh peers and devices; see apply.h. */
#include "mesh/apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "mesh/hello.h"

bool mesh_endpoint_to_wg(const struct endpoint *ep, struct wg_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (!ep->numeric)
		return false;
	memcpy(&out->addr, &ep->addr, sockaddr_len(&ep->addr));
	return true;
}

void mesh_endpoint_from_wg(const struct wg_endpoint *ep, struct endpoint *out)
{
	union sockaddr_inet sa;
	char text[SOCKADDR_STR_LEN];

	memset(&sa, 0, sizeof(sa));
	memcpy(&sa, &ep->addr, sizeof(sa));
	sockaddr_format(&sa, text, sizeof(text));
	if (endpoint_parse(out, text) < 0)
		memset(out, 0, sizeof(*out));
}

void mesh_apply_free(struct mesh_peer *peers, size_t n)
{
	for (size_t i = 0; peers && i < n; i++)
		free(peers[i].allowed_ips);
	free(peers);
}

static size_t device_addresses(const struct netmap_node *nn)
{
	size_t n = 0;

	for (size_t i = 0; i < nn->n_devices; i++)
		n += nn->devices[i].n_addresses;
	return n;
}

static int peer_from_node(const struct netmap_node *nn, const struct prefix *mesh, size_t n_mesh,
			  struct mesh_peer *mp)
{
	size_t n = nn->n_addresses + nn->n_routes + device_addresses(nn) + 2;

	memset(mp, 0, sizeof(*mp));
	snprintf(mp->name, sizeof(mp->name), "%s", nn->name);
	mp->id = nn->id;
	memcpy(mp->public_key, nn->public_key, sizeof(mp->public_key));
	mp->allowed_ips = calloc(n, sizeof(*mp->allowed_ips));
	if (!mp->allowed_ips)
		return -ENOMEM;
	for (size_t i = 0; i < nn->n_addresses; i++)
		mp->allowed_ips[mp->n_allowed_ips++] = nn->addresses[i];
	mp->n_addresses = nn->n_addresses;
	for (size_t i = 0; i < nn->n_routes; i++)
		mp->allowed_ips[mp->n_allowed_ips++] = nn->routes[i];
	/* Its devices are reached through it and send through it. */
	for (size_t i = 0; i < nn->n_devices; i++)
		for (size_t j = 0; j < nn->devices[i].n_addresses; j++)
			mp->allowed_ips[mp->n_allowed_ips++] = nn->devices[i].addresses[j];
	mp->exit_offered = nn->exit_node;
	mp->exit_approved = nn->exit_offer == NETMAP_EXIT_APPROVED;
	mp->exit_pending = nn->exit_offer == NETMAP_EXIT_PENDING;
	mp->online = nn->online;
	if (nn->exit_node) {
		mp->allowed_ips[mp->n_allowed_ips++] = (struct prefix){ .family = AF_INET };
		mp->allowed_ips[mp->n_allowed_ips++] = (struct prefix){ .family = AF_INET6 };
	}
	for (size_t i = 0; i < nn->n_endpoints; i++) {
		size_t max = sizeof(mp->candidates) / sizeof(mp->candidates[0]);
		if (mp->n_candidates < max &&
		    mesh_endpoint_usable(&nn->endpoints[i], mesh, n_mesh) &&
		    mesh_endpoint_to_wg(&nn->endpoints[i], &mp->candidates[mp->n_candidates]))
			mp->n_candidates++;
	}
	return 0;
}

int mesh_apply_peers(const struct netmap *nm, const struct prefix *mesh, size_t n_mesh,
		     struct mesh_peer **out, size_t *n)
{
	struct mesh_peer *v = calloc(nm->n_peers + 1, sizeof(*v));

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nm->n_peers; i++) {
		if (peer_from_node(&nm->peers[i], mesh, n_mesh, &v[i]) < 0) {
			mesh_apply_free(v, i);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = nm->n_peers;
	return 0;
}

static void device_from_netmap(const struct netmap_device *nd, const char *hub, bool attached,
			       struct mesh_device *md)
{
	memset(md, 0, sizeof(*md));
	snprintf(md->name, sizeof(md->name), "%s", nd->name);
	snprintf(md->hub, sizeof(md->hub), "%s", hub);
	md->attached = attached;
	if (attached && nd->has_key)
		memcpy(md->public_key, nd->public_key, sizeof(md->public_key));
	md->n_addresses = nd->n_addresses < 2 ? nd->n_addresses : 2;
	memcpy(md->addresses, nd->addresses, md->n_addresses * sizeof(md->addresses[0]));
	md->exit_node = nd->exit_node;
}

int mesh_apply_devices(const struct netmap *nm, struct mesh_device **out, size_t *n)
{
	size_t total = nm->self.n_devices, k = 0;
	struct mesh_device *v;

	for (size_t i = 0; i < nm->n_peers; i++)
		total += nm->peers[i].n_devices;
	*out = NULL;
	*n = 0;
	v = calloc(total + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nm->self.n_devices; i++)
		device_from_netmap(&nm->self.devices[i], nm->self.name, true, &v[k++]);
	for (size_t i = 0; i < nm->n_peers; i++)
		for (size_t j = 0; j < nm->peers[i].n_devices; j++)
			device_from_netmap(&nm->peers[i].devices[j], nm->peers[i].name, false,
					   &v[k++]);
	*out = v;
	*n = total;
	return 0;
}

int mesh_apply_split_dns(const struct netmap *nm, struct mesh_split_dns **out, size_t *n)
{
	size_t total = 0, k = 0;
	struct mesh_split_dns *v;

	for (size_t i = 0; i < nm->n_peers; i++)
		total += nm->peers[i].n_split_dns;
	*out = NULL;
	*n = 0;
	v = calloc(total + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nm->n_peers; i++) {
		const struct netmap_node *p = &nm->peers[i];
		for (size_t j = 0; j < p->n_split_dns; j++, k++) {
			v[k].dns = p->split_dns[j];
			snprintf(v[k].via, sizeof(v[k].via), "%s", p->name);
			v[k].usable = p->online && split_dns_server_routed(&p->split_dns[j],
									   p->routes, p->n_routes);
		}
	}
	*out = v;
	*n = total;
	return 0;
}

void mesh_apply_approved(const struct netmap *nm, struct mesh_approved *out)
{
	*out = (struct mesh_approved){ .routes = nm->self.routes,
				       .n_routes = nm->self.n_routes,
				       .exit_node = nm->self.exit_node };
}

json_t *mesh_apply_policy_json(const struct acl_filter *f)
{
	json_t *doc;

	if (!f || !f->present)
		return json_pack("{s:b, s:s, s:i, s:[]}", "present", false, "default", "allow",
				 "revision", 0, "entries");
	doc = acl_filter_to_json(f);
	if (doc && json_object_set_new(doc, "present", json_true()) < 0) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}
