/*
 * The mesh client driven through fake host ops (mesh/host.h), no node, no
 * engine: saved state and a cached netmap in, exactly one reconfigure with
 * the expected view out; a handshake kicked only for a peer the host says
 * has no session; hooks installed at start and removed at stop; the static
 * key's DH asked of the host; a dropped probe counted in the host's
 * counters. Device requests of a member: refused at once without a control
 * connection; over a socketpair standing for the connection, the request
 * on the wire, a reply for an unknown req ignored, the outcome polled with
 * its CONFIG, a refusal, a closed connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keys.h"
#include "loop.h"
#include "mesh/client.h"
#include "mesh/client_ctl.h"
#include "mesh/client_ddns.h"
#include "mesh/client_role.h"
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

/* coord_addr IPv6: the client never dials the control channel itself. */
static void write_state_at(struct mesh_fixture *f, const char *coord_addr)
{
	char path[128], ck[KEY_B64_LEN + 1], sk[KEY_B64_LEN + 1];
	json_t *doc;

	key_b64(f->home, ck);
	key_b64(f->sign_pk, sk);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:[s], s:[s], s:[s], s:s}", "coordinator_key", ck,
			"sign_key", sk, "node_id", 3, "name", "laptop", "addresses",
			"100.64.0.3/10", "coordinator_addresses", coord_addr,
			"coordinator_endpoints", "192.0.2.1:41641", "relay", "192.0.2.1:41641");
	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_STATE_FILE);
	CHECK_EQ_INT(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
}

static void write_state(struct mesh_fixture *f)
{
	write_state_at(f, "100.64.0.1/10");
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

/* ---- device requests of a member ---- */

static void stop_loop(void *ctx)
{
	loop_stop(ctx);
}

/* Runs the loop for about 10 ms. */
static void pump(struct loop *loop)
{
	struct loop_timer *t = loop_timer_add(loop, loop_now() + 10000000, stop_loop, loop);

	if (t) {
		loop_run(loop);
		loop_timer_del(loop, t);
	}
}

/* The next message of type from the coordinator's end (other messages,
 * hello and probes, are skipped); NULL after a generous bound. */
static json_t *coord_read(struct loop *loop, int fd, const char *type)
{
	static char buf[65536];
	static size_t len;

	for (int round = 0; round < 500; round++) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n > 0)
			len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			json_t *msg = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
			const char *t = json_string_value(json_object_get(msg, "type"));

			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			if (t && !strcmp(t, type))
				return msg;
			json_decref(msg);
		}
		pump(loop);
	}
	return NULL;
}

static void coord_send(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0;

	if (!CHECK(text) || !CHECK(write(fd, text, n) == (ssize_t)n) ||
	    !CHECK(write(fd, "\n", 1) == 1))
		abort();
	free(text);
	json_decref(msg);
}

/* Polls device_status until it is no longer pending (a generous bound). */
static json_t *poll_status(struct mesh_fixture *f, struct mesh_client *mc, const char *id,
			   char *err, size_t len)
{
	for (int round = 0; round < 500; round++) {
		json_t *st = mesh_client_device_status(mc, id, err, len);
		const char *state = json_string_value(json_object_get(st, "state"));

		if (!st || strcmp(state, "pending"))
			return st;
		json_decref(st);
		pump(f->loop);
	}
	return NULL;
}

struct member {
	struct mesh_fixture f;
	struct mesh_client *mc;
	int fd; /* the coordinator's end */
};

/* Starts the member on the state written, its control channel a
 * socketpair. */
static bool member_connect(struct member *m)
{
	struct mesh_host host = fixture_host(&m->f);
	char err[256] = "";
	int sv[2];

	if (!CHECK_EQ_INT(mesh_client_start(&m->mc, &host, err, sizeof(err)), 0))
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	m->mc->ch = channel_new(m->f.loop, sv[0], false, client_on_msg, client_on_closed, m->mc);
	m->fd = sv[1];
	return CHECK(m->mc->ch);
}

/* A joined member whose control channel is a socketpair. */
static bool member_start(struct member *m)
{
	fixture_init(&m->f);
	write_state_at(&m->f, "fd7a:6d67:7465::1/48");
	write_netmap(&m->f, 3);
	return member_connect(m);
}

static void member_stop(struct member *m)
{
	mesh_client_stop(m->mc);
	if (m->fd >= 0)
		close(m->fd);
	fixture_free(&m->f);
}

/* ---- the coordinator's endpoint names (client_ddns.h) ---- */

/* Saved state whose coordinator endpoints are eps (one or two), relay the
 * address that answered the join; named: the name's saved address (NULL:
 * none saved, a state from before names were followed). */
static void write_state_names(struct mesh_fixture *f, const char *ep1, const char *ep2,
			      const char *relay, const char *named)
{
	char path[128], ck[KEY_B64_LEN + 1], sk[KEY_B64_LEN + 1];
	json_t *doc, *eps = json_pack("[s]", ep1);

	if (ep2)
		json_array_append_new(eps, json_string(ep2));
	key_b64(f->home, ck);
	key_b64(f->sign_pk, sk);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:[s], s:[s], s:o, s:s}", "coordinator_key", ck,
			"sign_key", sk, "node_id", 3, "name", "laptop", "addresses",
			"100.64.0.3/10", "coordinator_addresses", "fd7a:6d67:7465::1/48",
			"coordinator_endpoints", eps, "relay", relay);
	if (named)
		json_object_set_new(doc, "coordinator_endpoint_addresses",
				    json_pack("{s:s}", "home.ddns.test:41641", named));
	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_STATE_FILE);
	CHECK_EQ_INT(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
}

static struct resolver_result one_answer(const char *addr)
{
	struct resolver_result r = { .n = 1 };

	if (sockaddr_parse(&r.addrs[0], addr) < 0)
		abort();
	return r;
}

static bool wg_addr_is(const struct wg_endpoint *ep, const char *text)
{
	union sockaddr_inet want, got;

	memset(&got, 0, sizeof(got));
	memcpy(&got, &ep->addr, sizeof(got));
	return sockaddr_parse(&want, text) == 0 && sockaddr_equal(&got, &want);
}

/* mesh.json's "relay" and the name's saved address. */
static void check_saved(struct mesh_fixture *f, const char *relay, const char *named)
{
	char path[128];
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s", f->dir, MESH_STATE_FILE);
	doc = json_load_file(path, 0, NULL);
	if (!CHECK(doc))
		return;
	CHECK(!strcmp(json_string_value(json_object_get(doc, "relay")) ?: "", relay));
	CHECK(!strcmp(
	    json_string_value(json_object_get(
		json_object_get(doc, "coordinator_endpoint_addresses"), "home.ddns.test:41641"))
		?: "",
	    named));
	json_decref(doc);
}

/* With the control connection up: the name still giving its address leaves
 * the coordinator where roaming put it; a failed lookup changes nothing; a
 * new address moves relay_addr and the peer, and is saved. */
static void test_coord_name_followed(void)
{
	struct member m = { .fd = -1 };
	struct resolver_result same = one_answer("192.0.2.1:41641");
	struct resolver_result moved = one_answer("192.0.2.2:41641");
	struct resolver_result fail = { .err = -EAGAIN };
	const struct ddns_name *dn;
	struct fake_peer *home;
	unsigned kicks;

	fixture_init(&m.f);
	write_state_names(&m.f, "home.ddns.test:41641", NULL, "192.0.2.1:41641", "192.0.2.1:41641");
	home = &m.f.host.peers[0];
	home->has_endpoint = true;
	if (sockaddr_parse((union sockaddr_inet *)&home->endpoint.addr, "192.0.2.99:41641") < 0)
		abort();
	if (!member_connect(&m)) {
		member_stop(&m);
		return;
	}
	m.f.host.endpoint_sets = 0;
	client_ddns_coord_answer(m.mc, 0, &same);
	CHECK_EQ_INT(m.f.host.endpoint_sets, 0);
	CHECK(wg_addr_is(&home->endpoint, "192.0.2.99:41641"));
	client_ddns_coord_answer(m.mc, 0, &fail);
	CHECK_EQ_INT(m.f.host.endpoint_sets, 0);
	CHECK(sockaddr_equal(&m.mc->relay_addr, &same.addrs[0]));
	kicks = m.f.host.kicks;
	client_ddns_coord_answer(m.mc, 0, &moved);
	CHECK(sockaddr_equal(&m.mc->relay_addr, &moved.addrs[0]));
	CHECK(wg_addr_is(&home->endpoint, "192.0.2.2:41641"));
	CHECK(m.f.host.kicks > kicks);
	check_saved(&m.f, "192.0.2.2:41641", "192.0.2.2:41641");
	dn = mesh_client_endpoint_name(m.mc, m.f.home);
	CHECK(dn && !strcmp(dn->ep.host, "home.ddns.test") && dn->resolved_at > 0);
	CHECK(!mesh_client_endpoint_name(m.mc, m.f.tab));
	member_stop(&m);
}

/* The join was answered on the LAN address: the name moving does not move
 * a coordinator that is fine; its new address is saved. */
static void test_coord_name_lan_relay_stays(void)
{
	struct member m = { .fd = -1 };
	struct resolver_result moved = one_answer("192.0.2.2:41641");

	fixture_init(&m.f);
	write_state_names(&m.f, "10.0.0.1:41641", "home.ddns.test:41641", "10.0.0.1:41641",
			  "192.0.2.1:41641");
	if (!member_connect(&m)) {
		member_stop(&m);
		return;
	}
	m.f.host.endpoint_sets = 0;
	client_ddns_coord_answer(m.mc, 1, &moved);
	CHECK_EQ_INT(m.f.host.endpoint_sets, 0);
	check_saved(&m.f, "10.0.0.1:41641", "192.0.2.2:41641");
	member_stop(&m);
}

/* No address saved for the name: its first answer is only the baseline while
 * the coordinator is fine, and moves it once the coordinator looks failed
 * (no control connection). */
static void test_coord_name_first_answer(void)
{
	struct member m = { .fd = -1 };
	struct resolver_result moved = one_answer("192.0.2.2:41641");
	struct resolver_result again = one_answer("192.0.2.3:41641");
	struct mesh_host host;
	char err[256] = "";

	fixture_init(&m.f);
	write_state_names(&m.f, "home.ddns.test:41641", NULL, "192.0.2.1:41641", NULL);
	if (!member_connect(&m)) {
		member_stop(&m);
		return;
	}
	m.f.host.endpoint_sets = 0;
	client_ddns_coord_answer(m.mc, 0, &moved);
	CHECK_EQ_INT(m.f.host.endpoint_sets, 0);
	check_saved(&m.f, "192.0.2.1:41641", "192.0.2.2:41641");
	mesh_client_stop(m.mc);
	/* Restarted without a connection: the saved name's change moves it. */
	host = fixture_host(&m.f);
	m.mc = NULL;
	if (CHECK_EQ_INT(mesh_client_start(&m.mc, &host, err, sizeof(err)), 0)) {
		client_ddns_coord_answer(m.mc, 0, &again);
		CHECK(sockaddr_equal(&m.mc->relay_addr, &again.addrs[0]));
		check_saved(&m.f, "192.0.2.3:41641", "192.0.2.3:41641");
	}
	member_stop(&m);
}

static void test_device_not_connected(void)
{
	struct mesh_fixture f;
	struct mesh_client *mc = NULL;
	struct mesh_host host;
	uint8_t key[32] = { 1 };
	char err[256] = "";

	fixture_init(&f);
	host = fixture_host(&f);
	write_state_at(&f, "fd7a:6d67:7465::1/48");
	if (CHECK_EQ_INT(mesh_client_start(&mc, &host, err, sizeof(err)), 0)) {
		CHECK(!mesh_client_device_add(mc, "phone", key, false, err, sizeof(err)));
		CHECK(strstr(err, "not connected to the coordinator"));
		CHECK(!mesh_client_device_remove(mc, "phone", err, sizeof(err)));
		CHECK(strstr(err, "not connected to the coordinator"));
		CHECK(!mesh_client_device_status(mc, "1", err, sizeof(err)));
		CHECK(strstr(err, "no device request 1"));
		mesh_client_stop(mc);
	}
	fixture_free(&f);
}

static void test_device_add_answered(void)
{
	struct member m = { .fd = -1 };
	uint8_t key[32];
	char err[256] = "", b64[KEY_B64_LEN + 1], id[16], hub[KEY_B64_LEN + 1];
	json_t *pending, *wire, *st, *device;
	json_int_t req;

	randombytes_buf(key, sizeof(key));
	if (!member_start(&m)) {
		member_stop(&m);
		return;
	}
	CHECK(!mesh_client_device_add(m.mc, "10.0.0.7", key, false, err, sizeof(err)));
	CHECK(strstr(err, "not a valid device name"));
	CHECK(!mesh_client_device_remove(
	    m.mc, "a123456789012345678901234567890123456789012345678901234567890123", err,
	    sizeof(err)));
	CHECK(strstr(err, "'a1234") && strstr(err, "not a valid device name"));
	pending = mesh_client_device_add(m.mc, "phone", key, true, err, sizeof(err));
	wire = coord_read(m.f.loop, m.fd, "device_add");
	if (!CHECK(pending && wire)) {
		json_decref(pending);
		json_decref(wire);
		member_stop(&m);
		return;
	}
	CHECK(!strcmp(json_string_value(json_object_get(pending, "state")), "pending"));
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(pending, "request")));
	req = json_integer_value(json_object_get(wire, "req"));
	CHECK(req >= 1 && (unsigned long)req == strtoul(id, NULL, 10));
	key_b64(key, b64);
	CHECK(!strcmp(json_string_value(json_object_get(wire, "public_key")), b64));
	CHECK(!strcmp(json_string_value(json_object_get(wire, "name")), "phone"));
	CHECK(json_is_true(json_object_get(wire, "exit_node")));
	/* A reply for another req: ignored, still pending. */
	device =
	    json_pack("{s:s, s:[s, s], s:s, s:b}", "name", "phone", "addresses", "100.64.0.7/32",
		      "fd7a:6d67:7465::7/128", "hub", "laptop", "exit_node", 1);
	coord_send(m.fd, json_pack("{s:s, s:I, s:n, s:O}", "type", "device_reply", "req", req + 1,
				   "error", "device", device));
	for (int i = 0; i < 5; i++)
		pump(m.f.loop);
	st = mesh_client_device_status(m.mc, id, err, sizeof(err));
	CHECK(st && !strcmp(json_string_value(json_object_get(st, "state")), "pending"));
	json_decref(st);
	/* The answer: done, with the device, the hub's CONFIG and the warnings. */
	coord_send(m.fd,
		   json_pack("{s:s, s:I, s:n, s:O, s:[s]}", "type", "device_reply", "req", req,
			     "error", "device", device, "warnings", "exit not approved"));
	st = poll_status(&m.f, m.mc, id, err, sizeof(err));
	if (CHECK(st)) {
		json_t *config = json_object_get(st, "config");

		CHECK(!strcmp(json_string_value(json_object_get(st, "state")), "done"));
		CHECK(json_equal(json_object_get(st, "device"), device));
		CHECK_EQ_INT(json_array_size(json_object_get(st, "warnings")), 1);
		key_b64(m.f.host.pub, hub);
		CHECK(!strcmp(json_string_value(json_object_get(config, "hub")), "laptop"));
		CHECK(!strcmp(json_string_value(json_object_get(config, "hub_public_key")), hub));
		CHECK(json_is_true(json_object_get(config, "exit_node")));
		/* No private key anywhere: the member never had one. */
		CHECK(!json_object_get(st, "private_key"));
	} else {
		fprintf(stderr, "  device_status: %s\n", err);
	}
	json_decref(st);
	/* A second answer for it changes nothing. */
	coord_send(m.fd, json_pack("{s:s, s:I, s:s}", "type", "device_reply", "req", req, "error",
				   "late"));
	pump(m.f.loop);
	st = mesh_client_device_status(m.mc, id, err, sizeof(err));
	CHECK(st && !strcmp(json_string_value(json_object_get(st, "state")), "done"));
	json_decref(st);
	json_decref(device);
	json_decref(pending);
	json_decref(wire);
	member_stop(&m);
}

static void test_device_remove_refused_and_lost(void)
{
	struct member m = { .fd = -1 };
	char err[256] = "", id[16];
	json_t *pending, *wire, *st;

	if (!member_start(&m)) {
		member_stop(&m);
		return;
	}
	pending = mesh_client_device_remove(m.mc, "phone", err, sizeof(err));
	wire = coord_read(m.f.loop, m.fd, "device_remove");
	if (CHECK(pending && wire)) {
		snprintf(id, sizeof(id), "%s",
			 json_string_value(json_object_get(pending, "request")));
		coord_send(m.fd, json_pack("{s:s, s:O, s:s}", "type", "device_reply", "req",
					   json_object_get(wire, "req"), "error",
					   "no device named phone"));
		st = poll_status(&m.f, m.mc, id, err, sizeof(err));
		CHECK(!st && !strcmp(err, "no device named phone"));
		json_decref(st);
	}
	json_decref(pending);
	json_decref(wire);
	/* A request waiting when the connection closes fails at once. */
	pending = mesh_client_device_remove(m.mc, "tablet", err, sizeof(err));
	if (CHECK(pending)) {
		snprintf(id, sizeof(id), "%s",
			 json_string_value(json_object_get(pending, "request")));
		close(m.fd);
		m.fd = -1;
		st = poll_status(&m.f, m.mc, id, err, sizeof(err));
		CHECK(!st && strstr(err, "closed before it answered"));
		json_decref(st);
		CHECK(!m.mc->ch);
	}
	json_decref(pending);
	member_stop(&m);
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
	RUN(test_coord_name_followed);
	RUN(test_coord_name_lan_relay_stays);
	RUN(test_coord_name_first_answer);
	RUN(test_device_not_connected);
	RUN(test_device_add_answered);
	RUN(test_device_remove_refused_and_lost);
	return test_summary();
}
