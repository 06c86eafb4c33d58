/* The fake node of mesh_fake_host.h. */
#include "mesh_fake_host.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "mesh/coordinator.h"
#include "mesh/coordinator_role.h"

static struct fake_peer *fake_find(struct fake_host *h, const uint8_t key[32])
{
	for (size_t i = 0; i < h->n_peers; i++)
		if (!memcmp(h->peers[i].key, key, 32))
			return &h->peers[i];
	return NULL;
}

static int fake_reconfigure(void *ctx, const struct mesh_view *v, char *errbuf, size_t errlen)
{
	struct fake_host *h = ctx;

	h->reconfigures++;
	h->view_peers = v->n_peers;
	for (size_t i = 0; i < v->n_peers && i < FAKE_HOST_MAX_CALLS; i++) {
		snprintf(h->view_names[i], sizeof(h->view_names[i]), "%s", v->peers[i].name);
		h->view_allowed_ips[i] = v->peers[i].n_allowed_ips;
		h->view_exit_offered[i] = v->peers[i].exit_offered;
	}
	h->view_devices = v->n_devices;
	for (size_t i = 0; i < v->n_devices && i < FAKE_HOST_MAX_CALLS; i++)
		h->view_device[i] = v->devices[i];
	h->view_addresses = v->n_addresses;
	h->view_address_len = v->n_addresses ? v->addresses[0].len : 0;
	h->view_approved = v->approved != NULL;
	h->view_policy = v->policy != NULL;
	h->view_policy_revision = v->policy ? v->policy->revision : 0;
	h->view_policy_entries = v->policy ? v->policy->n_entries : 0;
	return 0;
}

static uint16_t fake_listen_port(void *ctx)
{
	return 41641;
}

static uint32_t fake_fwmark(void *ctx)
{
	return 0;
}

static bool fake_static_dh(void *ctx, uint8_t out[32], const uint8_t pub[32])
{
	struct fake_host *h = ctx;

	h->dh_calls++;
	return crypto_scalarmult(out, h->priv, pub) == 0;
}

static bool fake_peer_facts(void *ctx, const uint8_t key[32], struct mesh_peer_facts *out)
{
	struct fake_peer *p = fake_find(ctx, key);

	if (!p)
		return false;
	*out = (struct mesh_peer_facts){ .session = p->session,
					 .has_endpoint = p->has_endpoint,
					 .endpoint = p->endpoint,
					 .last_handshake = p->last_handshake,
					 .handshake_attempts = p->handshake_attempts };
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	return true;
}

static bool fake_peer_kick(void *ctx, const uint8_t key[32])
{
	struct fake_host *h = ctx;

	if (h->kicks < FAKE_HOST_MAX_CALLS)
		memcpy(h->kicked[h->kicks], key, 32);
	h->kicks++;
	return true;
}

static void fake_peer_set_endpoint(void *ctx, const uint8_t key[32], const struct wg_endpoint *ep)
{
	struct fake_host *h = ctx;
	struct fake_peer *p = fake_find(h, key);

	h->endpoint_sets++;
	if (!p)
		return;
	p->endpoint = *ep;
	p->has_endpoint = true;
}

static void fake_set_hooks(void *ctx, const struct dataplane_mesh_ops *ops,
			   bool (*relay_check)(void *role, const uint8_t key[32],
					       uint32_t relay_via),
			   void *role)
{
	struct fake_host *h = ctx;

	if (!ops && h->hooks_role != role)
		return;
	h->hooks = ops;
	h->hooks_role = ops ? role : NULL;
	h->relay_check = relay_check != NULL;
}

static struct pkt_batch *fake_udp_out(void *ctx)
{
	struct fake_host *h = ctx;

	return h->udp_out;
}

static void fake_flush(void *ctx)
{
	struct fake_host *h = ctx;

	h->flushes++;
	if (h->udp_out)
		h->udp_out->count = 0;
}

const struct mesh_host_ops fake_host_ops = {
	.reconfigure = fake_reconfigure,
	.listen_port = fake_listen_port,
	.fwmark = fake_fwmark,
	.static_dh = fake_static_dh,
	.peer_facts = fake_peer_facts,
	.peer_kick = fake_peer_kick,
	.peer_set_endpoint = fake_peer_set_endpoint,
	.set_hooks = fake_set_hooks,
	.udp_out = fake_udp_out,
	.flush = fake_flush,
};

int fake_coordinator_init(struct fake_coordinator *fc, const char *name)
{
	snprintf(fc->dir, sizeof(fc->dir), "/tmp/mg-%s-XXXXXX", name);
	if (!mkdtemp(fc->dir) || config_defaults(&fc->cfg) < 0 || !(fc->loop = loop_new()))
		return -1;
	free(fc->cfg.state_dir);
	fc->cfg.state_dir = strdup(fc->dir);
	snprintf(fc->cfg.hostname, sizeof(fc->cfg.hostname), "home");
	fc->cfg.coordinator.enabled = true;
	return fc->cfg.state_dir ? 0 : -1;
}

int fake_coordinator_start(struct fake_coordinator *fc)
{
	struct mesh_host host;
	uint8_t laptop_key[KEY_LEN];
	struct registry_node n;
	char err[256] = "";

	memset(fc->host.priv, 0x22, 32);
	crypto_scalarmult_base(fc->host.pub, fc->host.priv);
	host = (struct mesh_host){ .ops = &fake_host_ops,
				   .ctx = &fc->host,
				   .loop = fc->loop,
				   .cfg = &fc->cfg,
				   .tun_name = "mg0",
				   .public_key = fc->host.pub,
				   .counters = &fc->counters };
	if (mesh_roles_start(&fc->roles, &host, err, sizeof(err)) < 0) {
		fprintf(stderr, "coordinator: %s\n", err);
		return -1;
	}
	fc->c = fc->roles.coordinator;
	memset(laptop_key, 0x44, sizeof(laptop_key));
	if (registry_node_upsert(fc->c->reg, laptop_key, "laptop", &fc->cfg.coordinator.prefix4,
				 &fc->cfg.coordinator.prefix6, 1, &n, NULL) < 0)
		return -1;
	fc->laptop = n.id;
	registry_node_clear(&n);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void fake_coordinator_stop(struct fake_coordinator *fc)
{
	mesh_roles_stop(&fc->roles);
	loop_free(fc->loop);
	config_free(&fc->cfg);
	nftw(fc->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}
