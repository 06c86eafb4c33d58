/*
 * Fuzz harness for the data plane's mesh dispatch: the datagrams of type >=
 * DATAPLANE_MESH_TYPE_MIN that the data plane hands to the running role's rx
 * hook (dataplane.h). A real coordinator and two real clients run once per
 * process, each on a fake host (mesh_fake_host.h) with a fixed static key,
 * in a temporary state_dir, with an event loop that only runs at setup. The
 * coordinator has a live reusable invite, and two nodes ("alpha" id 2,
 * "beta" id 3, fixed keys) joined with it at setup, so relay frames between
 * them are forwarded. The clients: one joining with that invite (it waits
 * for a response) and "beta" as a member (saved state and a cached netmap signed with the
 * coordinator's key, peers the coordinator and "alpha"), which takes relay
 * frames from them.
 *
 * Input: byte 0 picks the role (bits 0-1: 0 or 3 the coordinator, 1 the
 * joining client, 2 the member), the source (bit 2: 0 an IPv4, 1 an IPv6
 * address) and the framing (bit 3: 0 the rest is one datagram, 1 the rest
 * is datagrams each after a 16-bit little-endian length). Each datagram
 * goes to the role's rx as the data plane hands it: only a type >= 0x80
 * and at least 4 bytes.
 *
 * Invariants beyond memory safety and leaks: rx returns a valid demux value,
 * and only the member hands a datagram to the engine: a relay frame from a
 * peer of its netmap, unwrapped inside the slot and marked relayed from
 * that peer; whatever a role put in the udp_out batch lies inside its slot
 * and is addressed to the source or to a known node's endpoint.
 *
 * With MG_FUZZ_WRITE_SEEDS=DIR in the environment the harness writes its
 * seed corpus into DIR at setup and exits: a join request for the live
 * invite's id with a wrong secret (join_request_create, with the join
 * gate's macs), relay frames 2->3 and 3->2 as sent to the coordinator and
 * 2->3 and 1->3 as the member gets them (relay_wrap), a port probe
 * datagram, and junk of each mesh type for each role.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keys.h"
#include "loop.h"
#include "mesh/client.h"
#include "mesh/coordinator.h"
#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/netmap.h"
#include "mesh/portprobe.h"
#include "mesh/protocol.h"
#include "mesh/relay.h"
#include "mesh/signkey.h"
#include "mesh_fake_host.h"
#include "test_dh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SLOT_SIZE = PKT_HEADROOM + 65536, OUT_SLOTS = 4, JOINERS = 2 };

/* The nodes joined at setup: their keys and the endpoint the engine has. */
static struct {
	uint8_t priv[32], pub[32];
	uint32_t id;
	struct wg_endpoint ep;
} joiners[JOINERS];

static struct {
	char dir[64], coord_dir[96], client_dir[96], member_dir[96];
	struct mg_config coord_cfg, client_cfg, member_cfg;
	struct loop *loop;
	struct fake_host coord_host, client_host, member_host;
	struct mesh_counters coord_counters, client_counters, member_counters;
	struct coordinator *coord;
	struct mesh_client *client, *member;
	struct invite inv;
	struct pkt_batch *in;
	struct wg_endpoint src[2];
} fx;

/* ---- what the roles send ---- */

static bool same_endpoint(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	return a->addr.sa.sa_family == AF_INET6 && a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
	       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr, 16);
}

/* Every datagram queued lies inside its slot and goes to src or to a
 * joined node. NULL src: sent by a role's own timer at setup, not checked. */
static void check_out(const struct pkt_batch *b, const struct wg_endpoint *src)
{
	for (unsigned i = 0; i < b->count; i++) {
		const struct pkt *p = &b->pkts[i];
		bool known = false;

		if (!src)
			return;
		if (p->data < p->buf || p->len > p->cap || p->data - p->buf > p->cap - p->len)
			abort();
		known = same_endpoint(&p->ep, src);
		for (size_t k = 0; k < JOINERS; k++)
			if (same_endpoint(&p->ep, &joiners[k].ep))
				known = true;
		if (!known)
			abort();
	}
}

static void out_flush(void *ctx, struct pkt_batch *b)
{
	check_out(b, ctx);
	b->count = 0;
}

/* ---- setup ---- */

/* A fake node whose engine has the joined nodes, each with a session and
 * an endpoint. */
static void host_init(struct fake_host *h, uint8_t fill)
{
	for (size_t i = 0; i < JOINERS; i++) {
		struct fake_peer *p = &h->peers[h->n_peers++];

		snprintf(p->name, sizeof(p->name), "node%zu", i);
		memcpy(p->key, joiners[i].pub, 32);
		p->session = true;
		p->last_handshake = time(NULL);
		p->has_endpoint = true;
		p->endpoint = joiners[i].ep;
	}
	memset(h->priv, fill, 32);
	crypto_scalarmult_base(h->pub, h->priv);
	h->udp_out = pkt_batch_new(OUT_SLOTS, SLOT_SIZE);
	if (!h->udp_out)
		abort();
	h->udp_out->flush = out_flush;
}

static void endpoint_v4(struct wg_endpoint *ep, const char *ip, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &ep->addr.in4.sin_addr);
}

static void cfg_init(struct mg_config *cfg, char *dir, size_t len, const char *sub,
		     const char *hostname)
{
	snprintf(dir, len, "%s/%s", fx.dir, sub);
	if (mkdir(dir, 0700) < 0 || config_defaults(cfg) < 0)
		abort();
	free(cfg->state_dir);
	cfg->state_dir = strdup(dir);
	snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", hostname);
}

static void stop_loop(void *ctx)
{
	loop_stop(ctx);
}

/* A join request for the live invite from a fixed key; secret NULL: the
 * invite's own. */
static size_t join_request(uint8_t *buf, const uint8_t priv[32], const uint8_t pub[32],
			   const char *hostname, const uint8_t *secret)
{
	struct join_request req = { .invite_id = fx.inv.id, .timestamp = (int64_t)time(NULL) };
	uint8_t nonce[MESH_NONCE_LEN];
	size_t len = 0;

	randombytes_buf(nonce, sizeof(nonce));
	memcpy(req.joiner_key, pub, 32);
	memcpy(req.secret, secret ? secret : fx.inv.secret, sizeof(req.secret));
	req.hello = json_pack("{s:s, s:[], s:b, s:[]}", "hostname", hostname, "routes", "exit_node",
			      0, "endpoints");
	if (join_request_create(buf, MESH_JOIN_MAX, &len, &req, DH_OF(priv), fx.coord_host.pub,
				nonce) != 0)
		abort();
	join_request_clear(&req);
	return len;
}

static enum demux feed(struct fake_host *h, const uint8_t *data, size_t len,
		       const struct wg_endpoint *src)
{
	struct pkt *pkt = &fx.in->pkts[0];
	enum demux ret;

	pkt_reset(pkt);
	memcpy(pkt->data, data, len);
	pkt->len = (uint32_t)len;
	pkt->ep = *src;
	ret = h->hooks->rx(h->hooks_role, pkt, h->udp_out);
	if (ret != DEMUX_CONSUMED && ret != DEMUX_ENGINE)
		abort();
	return ret;
}

/* Joins the fixed nodes through the coordinator's rx and learns their ids
 * from the answers. */
static void join_nodes(void)
{
	uint8_t buf[MESH_JOIN_MAX];
	static const char *const names[JOINERS] = { "alpha", "beta" };

	for (size_t i = 0; i < JOINERS; i++) {
		size_t len = join_request(buf, joiners[i].priv, joiners[i].pub, names[i], NULL);
		json_t *result = NULL;
		struct pkt *ans;

		fx.coord_host.udp_out->count = 0;
		feed(&fx.coord_host, buf, len, &joiners[i].ep);
		if (fx.coord_host.udp_out->count != 1)
			abort();
		ans = &fx.coord_host.udp_out->pkts[0];
		if (join_response_open(ans->data, ans->len, DH_OF(joiners[i].priv),
				       fx.coord_host.pub, &result) != 0 ||
		    !json_is_true(json_object_get(result, "ok")))
			abort();
		joiners[i].id = (uint32_t)json_integer_value(json_object_get(result, "id"));
		json_decref(result);
		fx.coord_host.udp_out->count = 0;
	}
}

static void write_seeds(const char *dir);

static void key_b64(const uint8_t key[32], char out[KEY_B64_LEN + 1])
{
	key_to_base64(out, key);
}

static json_t *peer_json(const char *name, uint32_t id, const uint8_t key[32], const char *addr,
			 bool coordinator)
{
	char k[KEY_B64_LEN + 1];

	key_b64(key, k);
	return json_pack("{s:s, s:i, s:s, s:[s], s:[s], s:[], s:b, s:b, s:b}", "name", name, "id",
			 (int)id, "public_key", k, "addresses", addr, "endpoints",
			 "198.51.100.9:41641", "routes", "exit_node", 0, "online", 1, "coordinator",
			 coordinator);
}

/* The member's saved state and cached netmap, as joining and the control
 * channel would have left them: beta, with the coordinator and alpha. */
static void write_member_state(void)
{
	uint8_t sign_pk[32], sign_sk[64];
	char path[160], ck[KEY_B64_LEN + 1], sk[KEY_B64_LEN + 1], errbuf[256];
	struct netmap nm;
	json_t *doc, *msg;

	if (signkey_load(fx.coord_dir, sign_pk, sign_sk, errbuf, sizeof(errbuf)) != 0)
		abort();
	key_b64(fx.coord_host.pub, ck);
	key_b64(sign_pk, sk);
	doc = json_pack("{s:s, s:s, s:i, s:s, s:[s], s:[s], s:[s], s:s}", "coordinator_key", ck,
			"sign_key", sk, "node_id", (int)joiners[1].id, "name", "beta", "addresses",
			"100.64.0.3/10", "coordinator_addresses", "100.64.0.1/10",
			"coordinator_endpoints", "192.0.2.1:41641", "relay", "192.0.2.1:41641");
	snprintf(path, sizeof(path), "%s/%s", fx.member_dir, MESH_STATE_FILE);
	if (!doc || json_dump_file(doc, path, 0) != 0)
		abort();
	json_decref(doc);
	doc = json_pack("{s:i, s:i, s:s, s:{s:i, s:s, s:[s], s:[], s:[], s:b}, s:[o, o]}",
			"version", 1, "issued_at", (int)time(NULL), "coordinator", ck, "self", "id",
			(int)joiners[1].id, "name", "beta", "addresses", "100.64.0.3/32",
			"routes_advertised", "routes_approved", "exit_node", 0, "peers",
			peer_json("home", 1, fx.coord_host.pub, "100.64.0.1/32", true),
			peer_json("alpha", joiners[0].id, joiners[0].pub, "100.64.0.2/32", false));
	if (!doc || netmap_from_json(doc, &nm, errbuf, sizeof(errbuf)) != 0)
		abort();
	msg = netmap_sign(&nm, sign_sk);
	snprintf(path, sizeof(path), "%s/%s", fx.member_dir, MESH_NETMAP_FILE);
	if (!msg || netmap_cache_save(path, msg) != 0)
		abort();
	sodium_memzero(sign_sk, sizeof(sign_sk));
	json_decref(msg);
	json_decref(doc);
	netmap_free(&nm);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* At exit: the roles stopped, everything freed, the state_dir removed. */
static void teardown(void)
{
	mesh_client_stop(fx.member);
	mesh_client_stop(fx.client);
	coordinator_stop(fx.coord);
	pkt_batch_free(fx.coord_host.udp_out);
	pkt_batch_free(fx.client_host.udp_out);
	pkt_batch_free(fx.member_host.udp_out);
	pkt_batch_free(fx.in);
	loop_free(fx.loop);
	config_free(&fx.coord_cfg);
	config_free(&fx.client_cfg);
	config_free(&fx.member_cfg);
	invite_clear(&fx.inv);
	nftw(fx.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	static int done;
	const char *err = NULL, *seeds;
	char errbuf[256];
	json_t *code;
	struct mesh_host host;
	struct loop_timer *stop;

	if (done++)
		return;
	if (sodium_init() < 0)
		abort();
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/mg-fuzz-dispatch-XXXXXX");
	if (!mkdtemp(fx.dir) || atexit(teardown) != 0)
		abort();
	fx.loop = loop_new();
	fx.in = pkt_batch_new(1, SLOT_SIZE);
	if (!fx.loop || !fx.in)
		abort();
	endpoint_v4(&fx.src[0], "203.0.113.7", 41641);
	memset(&fx.src[1], 0, sizeof(fx.src[1]));
	fx.src[1].addr.in6.sin6_family = AF_INET6;
	fx.src[1].addr.in6.sin6_port = htons(51820);
	inet_pton(AF_INET6, "2001:db8::7", &fx.src[1].addr.in6.sin6_addr);
	for (size_t i = 0; i < JOINERS; i++) {
		char ip[32];

		memset(joiners[i].priv, 0x31 + (int)i, 32);
		crypto_scalarmult_base(joiners[i].pub, joiners[i].priv);
		snprintf(ip, sizeof(ip), "198.51.100.%zu", i + 2);
		endpoint_v4(&joiners[i].ep, ip, 41641);
	}

	/* The coordinator, on a random /24 so that its control listener
	 * (bound to its first mesh address) clashes with no other process. */
	host_init(&fx.coord_host, 0x22);
	cfg_init(&fx.coord_cfg, fx.coord_dir, sizeof(fx.coord_dir), "coordinator", "home");
	fx.coord_cfg.coordinator.enabled = true;
	{
		uint8_t r[2];
		char text[32];

		randombytes_buf(r, sizeof(r));
		snprintf(text, sizeof(text), "10.%u.%u.0/24", r[0], r[1]);
		fx.coord_cfg.coordinator.endpoints.v = calloc(1, sizeof(struct endpoint));
		fx.coord_cfg.coordinator.endpoints.n = 1;
		if (prefix_parse(&fx.coord_cfg.coordinator.prefix4, text) != 0 ||
		    !fx.coord_cfg.coordinator.endpoints.v ||
		    endpoint_parse(fx.coord_cfg.coordinator.endpoints.v, "192.0.2.1:41641") != 0)
			abort();
	}
	host = (struct mesh_host){ .ops = &fake_host_ops,
				   .ctx = &fx.coord_host,
				   .loop = fx.loop,
				   .cfg = &fx.coord_cfg,
				   .tun_name = "mg0",
				   .public_key = fx.coord_host.pub,
				   .counters = &fx.coord_counters };
	if (coordinator_start(&fx.coord, &host, errbuf, sizeof(errbuf)) != 0) {
		fprintf(stderr, "coordinator_start: %s\n", errbuf);
		abort();
	}
	code = coordinator_invite(fx.coord, 0, true, NULL, &err);
	if (!code || invite_decode(json_string_value(json_object_get(code, "code")), &fx.inv,
				   errbuf, sizeof(errbuf)) != 0)
		abort();
	join_nodes();

	/* The client, joining with the invite. */
	host_init(&fx.client_host, 0x33);
	cfg_init(&fx.client_cfg, fx.client_dir, sizeof(fx.client_dir), "client", "laptop");
	fx.client_cfg.join = strdup(json_string_value(json_object_get(code, "code")));
	json_decref(code);
	host = (struct mesh_host){ .ops = &fake_host_ops,
				   .ctx = &fx.client_host,
				   .loop = fx.loop,
				   .cfg = &fx.client_cfg,
				   .tun_name = "mg0",
				   .public_key = fx.client_host.pub,
				   .counters = &fx.client_counters };
	if (mesh_client_start(&fx.client, &host, errbuf, sizeof(errbuf)) != 0) {
		fprintf(stderr, "mesh_client_start: %s\n", errbuf);
		abort();
	}

	/* Let the roles' timers run a while: the coordinator rebuilds its
	 * views (the relay keys of the joined nodes). */
	stop = loop_timer_add(fx.loop, loop_now() + 1500ULL * 1000000ULL, stop_loop, fx.loop);
	if (!stop || loop_run(fx.loop) < 0)
		abort();
	loop_timer_del(fx.loop, stop);
	fx.coord_host.udp_out->count = 0;
	fx.client_host.udp_out->count = 0;

	/* The member, started after the loop ran: it never runs again, so
	 * its control connection is never attempted. Its host key is beta's. */
	host_init(&fx.member_host, 0x32);
	cfg_init(&fx.member_cfg, fx.member_dir, sizeof(fx.member_dir), "member", "beta");
	write_member_state();
	host = (struct mesh_host){ .ops = &fake_host_ops,
				   .ctx = &fx.member_host,
				   .loop = fx.loop,
				   .cfg = &fx.member_cfg,
				   .tun_name = "mg0",
				   .public_key = fx.member_host.pub,
				   .counters = &fx.member_counters };
	if (mesh_client_start(&fx.member, &host, errbuf, sizeof(errbuf)) != 0) {
		fprintf(stderr, "mesh_client_start (member): %s\n", errbuf);
		abort();
	}
	fx.member_host.udp_out->count = 0;

	seeds = getenv("MG_FUZZ_WRITE_SEEDS");
	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
}

/* ---- one input ---- */

static void dispatch(struct fake_host *h, const uint8_t *d, size_t len,
		     const struct wg_endpoint *src)
{
	const struct pkt *pkt = &fx.in->pkts[0];
	uint32_t type;
	enum demux ret;

	if (len < sizeof(type))
		return;
	memcpy(&type, d, sizeof(type));
	if (le32toh(type) < DATAPLANE_MESH_TYPE_MIN)
		return;
	h->udp_out->flush_ctx = (void *)src;
	ret = feed(h, d, len, src);
	/* Only a member has a relay path to hand a datagram to the engine
	 * for: unwrapped in place, relayed from a peer of its netmap. */
	if (ret == DEMUX_ENGINE &&
	    (h != &fx.member_host || le32toh(type) != MESH_RELAY ||
	     (pkt->ep.relay_via != 1 && pkt->ep.relay_via != joiners[0].id) ||
	     pkt->data < pkt->buf || pkt->len > pkt_tailroom(pkt) ||
	     pkt->len != len - MESH_RELAY_HEADER))
		abort();
	check_out(h->udp_out, src);
	h->udp_out->count = 0;
	h->udp_out->flush_ctx = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_host *h;
	const struct wg_endpoint *src;

	setup();
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 1:
		h = &fx.client_host;
		break;
	case 2:
		h = &fx.member_host;
		break;
	default:
		h = &fx.coord_host;
	}
	src = &fx.src[(data[0] >> 2) & 1];
	if (!h->hooks)
		abort();
	if (!(data[0] & 8)) {
		dispatch(h, data + 1, size - 1, src);
		return 0;
	}
	for (size_t at = 1; at + 2 <= size;) {
		size_t len = data[at] | (size_t)data[at + 1] << 8;

		at += 2;
		if (len > size - at)
			len = size - at;
		dispatch(h, data + at, len, src);
		at += len;
	}
	return 0;
}

/* ---- seeds ---- */

static void write_seed(const char *dir, const char *name, uint8_t first, const void *d, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(first, f) == EOF || fwrite(d, 1, len, f) != len || fclose(f) != 0)
		abort();
}

/* A relay frame from node src to node dst around a WireGuard message,
 * MACed with joiner k's relay key as the coordinator derives it. */
static size_t relay_frame(uint8_t *out, uint32_t src, uint32_t dst, size_t k)
{
	uint8_t key[RELAY_KEY_LEN];
	struct pkt_batch *b = pkt_batch_new(1, SLOT_SIZE);
	struct pkt *p;
	size_t len;

	if (!b || relay_key_derive(key, DH_OF(joiners[k].priv), fx.coord_host.pub) != 0)
		abort();
	p = &b->pkts[0];
	pkt_reset(p);
	memset(p->data, 0, 32);
	p->data[0] = 4; /* a WireGuard data message */
	p->len = 32;
	if (relay_wrap(p, src, dst, key) != 0)
		abort();
	len = p->len;
	memcpy(out, p->data, len);
	pkt_batch_free(b);
	return len;
}

static void write_seeds(const char *dir)
{
	static const uint32_t types[] = { 0x80,       MESH_JOIN_REQUEST, MESH_JOIN_RESPONSE,
					  MESH_RELAY, MESH_PORT_PROBE,   MESH_JOIN_COOKIE,
					  0xff };
	uint8_t buf[MESH_JOIN_MAX + 64], wrong[MESH_SECRET_LEN], nonce[MESH_PORT_PROBE_NONCE_LEN];
	uint8_t priv[32], pub[32], multi[256];
	char name[64];
	size_t len, n;

	memset(wrong, 0x5a, sizeof(wrong));
	memset(priv, 0x44, sizeof(priv));
	crypto_scalarmult_base(pub, priv);
	len = join_request(buf, priv, pub, "intruder", wrong);
	write_seed(dir, "join-wrong-secret", 0, buf, len);
	write_seed(dir, "join-wrong-secret-v6", 4, buf, len);
	len = relay_frame(buf, joiners[0].id, joiners[1].id, 0);
	write_seed(dir, "relay-2-to-3", 0, buf, len);
	write_seed(dir, "relay-2-to-3-client", 1, buf, len);
	len = relay_frame(buf, joiners[1].id, joiners[0].id, 1);
	write_seed(dir, "relay-3-to-2", 4, buf, len);
	len = relay_frame(buf, joiners[0].id, joiners[1].id, 1);
	write_seed(dir, "member-relay-from-2", 2, buf, len);
	len = relay_frame(buf, 1, joiners[1].id, 1);
	write_seed(dir, "member-relay-from-1", 6, buf, len);
	len = relay_frame(buf, 4, joiners[1].id, 1);
	write_seed(dir, "member-relay-from-unknown", 2, buf, len);
	memset(nonce, 0x70, sizeof(nonce));
	if (portprobe_datagram_create(buf, sizeof(buf), &len, nonce) != 0)
		abort();
	write_seed(dir, "probe-client", 1, buf, len);
	write_seed(dir, "probe-coordinator", 0, buf, len);
	write_seed(dir, "probe-member", 2, buf, len);
	n = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint32_t t = htole32(types[i]);

		memset(buf, 0xa5, 48);
		memcpy(buf, &t, 4);
		for (unsigned role = 0; role < 3; role++) {
			static const char *const roles[] = { "coordinator", "client", "member" };

			snprintf(name, sizeof(name), "junk-%02x-%s", types[i], roles[role]);
			write_seed(dir, name, (uint8_t)role, buf, 48);
		}
		multi[n] = 8;
		multi[n + 1] = 0;
		memcpy(multi + n + 2, buf, 8);
		n += 10;
	}
	write_seed(dir, "several-coordinator", 8, multi, n);
	write_seed(dir, "several-client", 9, multi, n);
	write_seed(dir, "several-member", 10, multi, n);
}
