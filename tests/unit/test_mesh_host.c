/*
 * The mesh client driven through fake host ops (mesh/host.h), no node, no
 * engine: saved state and a cached netmap in, exactly one reconfigure with
 * the expected view out; a handshake kicked only for a peer the host says
 * has no session; hooks installed at start and removed at stop; the static
 * key's DH asked of the host; a dropped probe counted in the host's
 * counters.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "loop.h"
#include "mesh/client.h"
#include "mesh/netmap.h"
#include "mesh/protocol.h"
#include "mesh_fake_host.h"
#include "testlib.h"

/* ---- a mesh: coordinator "home" (1), this node "laptop" (3), "tab" (2)
 * and "nas" (4) ---- */

struct mesh_fixture {
	char dir[64];
	struct mg_config cfg;
	struct loop *loop;
	struct fake_host host;
	struct mesh_counters counters;
	uint8_t sign_pk[32], sign_sk[64];
	uint8_t home[32], tab[32], nas[32];
};

static void key_b64(const uint8_t key[32], char out[KEY_B64_LEN + 1])
{
	key_to_base64(out, key);
}

static void random_public(uint8_t pub[32])
{
	uint8_t priv[32];

	randombytes_buf(priv, sizeof(priv));
	crypto_scalarmult_base(pub, priv);
}

static void write_state(struct mesh_fixture *f)
{
	char path[128], ck[KEY_B64_LEN + 1], sk[KEY_B64_LEN + 1];
	json_t *doc;

	key_b64(f->home, ck);
	key_b64(f->sign_pk, sk);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:[s], s:[s], s:[s], s:s}", "coordinator_key", ck,
			"sign_key", sk, "node_id", 3, "name", "laptop", "addresses",
			"100.64.0.3/10", "coordinator_addresses", "100.64.0.1/10",
			"coordinator_endpoints", "192.0.2.1:41641", "relay", "192.0.2.1:41641");
	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_STATE_FILE);
	CHECK_EQ_INT(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
}

static json_t *peer_json(const char *name, int id, const uint8_t key[32], const char *addr,
			 bool coordinator)
{
	char k[KEY_B64_LEN + 1];

	key_b64(key, k);
	return json_pack("{s:s, s:i, s:s, s:[s], s:[s], s:[], s:b, s:b, s:b}", "name", name, "id",
			 id, "public_key", k, "addresses", addr, "endpoints", "192.0.2.9:41641",
			 "routes", "exit_node", 0, "online", 1, "coordinator", coordinator);
}

/* Signs doc as the coordinator and caches it; the netmap it decodes to in
 * *out when out is not NULL (free with netmap_free()). */
static void write_netmap_doc(struct mesh_fixture *f, json_t *doc, struct netmap *out)
{
	char path[128];
	struct netmap nm;
	json_t *msg;

	if (!CHECK(doc) || !CHECK_EQ_INT(netmap_from_json(doc, &nm, NULL, 0), 0))
		abort();
	msg = netmap_sign(&nm, f->sign_sk);
	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_NETMAP_FILE);
	CHECK_EQ_INT(netmap_cache_save(path, msg), 0);
	json_decref(msg);
	json_decref(doc);
	if (out)
		*out = nm;
	else
		netmap_free(&nm);
}

static void write_netmap(struct mesh_fixture *f, int version)
{
	char ck[KEY_B64_LEN + 1];

	key_b64(f->home, ck);
	write_netmap_doc(
	    f,
	    json_pack("{s:i, s:i, s:s, s:{s:i, s:s, s:[s], s:[], s:[], s:b}, s:[o, o, o]}",
		      "version", version, "issued_at", 1795300000, "coordinator", ck, "self", "id",
		      3, "name", "laptop", "addresses", "100.64.0.3/32", "routes_advertised",
		      "routes_approved", "exit_node", 0, "peers",
		      peer_json("home", 1, f->home, "100.64.0.1/32", true),
		      peer_json("tab", 2, f->tab, "100.64.0.2/32", false),
		      peer_json("nas", 4, f->nas, "100.64.0.4/32", false)),
	    NULL);
}

/* The netmap of write_netmap() with devices: this node hubs "ipad", home
 * (an approved exit) hubs "pixel", which may use it. *has_devices: the
 * netmap as decoded carries them. */
static void write_netmap_devices(struct mesh_fixture *f, const uint8_t ipad[32], bool *has_devices)
{
	char ck[KEY_B64_LEN + 1], ik[KEY_B64_LEN + 1];
	json_t *home = peer_json("home", 1, f->home, "100.64.0.1/32", true);
	struct netmap nm;

	key_b64(f->home, ck);
	key_b64(ipad, ik);
	json_object_set_new(home, "exit_node", json_true());
	json_object_set_new(home, "devices",
			    json_pack("[{s:s, s:[s, s], s:b}]", "name", "pixel", "addresses",
				      "100.64.0.7/32", "fd7a:6d67:7465::7/128", "exit_node", 1));
	write_netmap_doc(
	    f,
	    json_pack("{s:i, s:i, s:s, s:{s:i, s:s, s:[s], s:[], s:[], s:b, s:[{s:s, s:s, s:[s], "
		      "s:b}]}, s:[o, o, o]}",
		      "version", 9, "issued_at", 1795300000, "coordinator", ck, "self", "id", 3,
		      "name", "laptop", "addresses", "100.64.0.3/32", "routes_advertised",
		      "routes_approved", "exit_node", 0, "devices", "name", "ipad", "public_key",
		      ik, "addresses", "100.64.0.8/32", "exit_node", 0, "peers", home,
		      peer_json("tab", 2, f->tab, "100.64.0.2/32", false),
		      peer_json("nas", 4, f->nas, "100.64.0.4/32", false)),
	    &nm);
	*has_devices = nm.self.n_devices == 1;
	netmap_free(&nm);
}

static void fixture_init(struct mesh_fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/mg-mesh-host-XXXXXX");
	if (!mkdtemp(f->dir) || config_defaults(&f->cfg) < 0)
		abort();
	free(f->cfg.state_dir);
	f->cfg.state_dir = strdup(f->dir);
	f->loop = loop_new();
	crypto_sign_keypair(f->sign_pk, f->sign_sk);
	randombytes_buf(f->host.priv, 32);
	crypto_scalarmult_base(f->host.pub, f->host.priv);
	random_public(f->home);
	random_public(f->tab);
	random_public(f->nas);
	/* The engine has all three; only tab has no session yet. */
	f->host.peers[0] = (struct fake_peer){ .name = "home", .session = true };
	memcpy(f->host.peers[0].key, f->home, 32);
	f->host.peers[1] = (struct fake_peer){ .name = "tab", .session = false };
	memcpy(f->host.peers[1].key, f->tab, 32);
	f->host.peers[2] = (struct fake_peer){ .name = "nas", .session = true };
	memcpy(f->host.peers[2].key, f->nas, 32);
	f->host.n_peers = 3;
}

static void fixture_free(struct mesh_fixture *f)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_STATE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_NETMAP_FILE);
	unlink(path);
	rmdir(f->dir);
	loop_free(f->loop);
	config_free(&f->cfg);
}

static struct mesh_host fixture_host(struct mesh_fixture *f)
{
	return (struct mesh_host){ .ops = &fake_host_ops,
				   .ctx = &f->host,
				   .loop = f->loop,
				   .cfg = &f->cfg,
				   .tun_name = "mg-test0",
				   .public_key = f->host.pub,
				   .counters = &f->counters };
}

/* ---- tests ---- */

static void test_cached_netmap_one_reconfigure(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	char err[256] = "";

	fixture_init(&f);
	host = fixture_host(&f);
	write_state(&f);
	write_netmap(&f, 7);
	CHECK(mesh_client_wanted(&f.cfg));
	if (!CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		fixture_free(&f);
		return;
	}
	CHECK_EQ_INT(f.host.reconfigures, 1);
	CHECK_EQ_INT(f.host.view_peers, 3);
	CHECK(!strcmp(f.host.view_names[0], "home"));
	CHECK(!strcmp(f.host.view_names[1], "tab"));
	CHECK(!strcmp(f.host.view_names[2], "nas"));
	CHECK_EQ_INT(f.host.view_addresses, 1);
	CHECK_EQ_INT(f.host.view_address_len, 10); /* the mesh prefix's length */
	CHECK(f.host.view_approved);               /* a netmap says what is approved */
	/* Only tab has no session: one kick, for tab; none for the coordinator. */
	CHECK_EQ_INT(f.host.kicks, 1);
	CHECK_MEM(f.host.kicked[0], f.tab, 32);
	CHECK(f.host.dh_calls >= 1); /* the relay key, through the host */
	CHECK(f.host.hooks && f.host.hooks_role == mc && f.host.relay_check);
	mesh_client_stop(mc);
	CHECK(!f.host.hooks && !f.host.relay_check);
	fixture_free(&f);
}

static void test_no_kick_with_sessions(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	char err[256] = "";

	fixture_init(&f);
	f.host.peers[1].session = true;
	host = fixture_host(&f);
	write_state(&f);
	write_netmap(&f, 1);
	if (CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		CHECK_EQ_INT(f.host.reconfigures, 1);
		CHECK_EQ_INT(f.host.kicks, 0);
		mesh_client_stop(mc);
	}
	fixture_free(&f);
}

/* Saved state without a netmap: the coordinator as the only peer, nothing
 * of this node's offer approved. */
static void test_state_without_netmap(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	char err[256] = "";

	fixture_init(&f);
	host = fixture_host(&f);
	write_state(&f);
	if (CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		CHECK_EQ_INT(f.host.reconfigures, 1);
		CHECK_EQ_INT(f.host.view_peers, 1);
		CHECK(!strcmp(f.host.view_names[0], "coordinator"));
		CHECK(!f.host.view_approved);
		CHECK_EQ_INT(f.host.kicks, 0);
		mesh_client_stop(mc);
	}
	fixture_free(&f);
}

/* The devices of the netmap reach the node in the view: this node's own
 * attached (with its key), home's listed under home, whose allowed IPs
 * carry them, and home's approved exit shows as exit_offered. */
static void test_devices_in_view(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	uint8_t ipad[32];
	char err[256] = "";
	bool has_devices = false;

	fixture_init(&f);
	random_public(ipad);
	host = fixture_host(&f);
	write_state(&f);
	write_netmap_devices(&f, ipad, &has_devices);
	CHECK(has_devices);
	if (!CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		fixture_free(&f);
		return;
	}
	CHECK_EQ_INT(f.host.reconfigures, 1);
	CHECK_EQ_INT(f.host.view_peers, 3);
	CHECK(!strcmp(f.host.view_names[0], "home"));
	/* Its address, the defaults and pixel's two addresses. */
	CHECK_EQ_INT(f.host.view_allowed_ips[0], 5);
	CHECK(f.host.view_exit_offered[0] && !f.host.view_exit_offered[1]);
	CHECK_EQ_INT(f.host.view_allowed_ips[1], 1);
	CHECK_EQ_INT(f.host.view_devices, 2);
	CHECK(!strcmp(f.host.view_device[0].name, "ipad"));
	CHECK(!strcmp(f.host.view_device[0].hub, "laptop"));
	CHECK(f.host.view_device[0].attached && !f.host.view_device[0].exit_node);
	CHECK_MEM(f.host.view_device[0].public_key, ipad, 32);
	CHECK_EQ_INT(f.host.view_device[0].n_addresses, 1);
	CHECK(!strcmp(f.host.view_device[1].name, "pixel"));
	CHECK(!strcmp(f.host.view_device[1].hub, "home"));
	CHECK(!f.host.view_device[1].attached && f.host.view_device[1].exit_node);
	CHECK_EQ_INT(f.host.view_device[1].n_addresses, 2);
	mesh_client_stop(mc);
	fixture_free(&f);
}

/* A malformed PORT_PROBE datagram is dropped and counted in the host's
 * counters, not the data plane's. */
static void test_probe_drop_counted(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	uint8_t buf[256] = { 0 };
	struct pkt pkt = { .buf = buf, .cap = sizeof(buf), .data = buf + 64 };
	uint32_t type = htole32(MESH_PORT_PROBE);
	char err[256] = "";

	fixture_init(&f);
	host = fixture_host(&f);
	if (CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		CHECK_EQ_INT(f.host.reconfigures, 0); /* no state: no view yet */
		memcpy(pkt.data, &type, sizeof(type));
		pkt.len = 5;
		if (CHECK(f.host.hooks && f.host.hooks->rx))
			CHECK_EQ_INT(f.host.hooks->rx(mc, &pkt, NULL), DEMUX_CONSUMED);
		CHECK_EQ_INT(f.counters.rx_probe_dropped, 1);
		mesh_client_stop(mc);
	}
	fixture_free(&f);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_cached_netmap_one_reconfigure);
	RUN(test_no_kick_with_sessions);
	RUN(test_state_without_netmap);
	RUN(test_devices_in_view);
	RUN(test_probe_drop_counted);
	return test_summary();
}
