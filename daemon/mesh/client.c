/*
 * The client role; see client.h. One timer (a timerfd on the node's loop,
 * once a second) drives join retries, reconnects and path choice; packet
 * hooks only record what arrived and leave the work to the timer.
 */
#include "mesh/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"
#include "mesh/apply.h"
#include "mesh/channel.h"
#include "mesh/hello.h"
#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/netmap.h"
#include "mesh/portprobe.h"
#include "mesh/relay.h"

enum { NS = 1000000000, MAX_BACKOFF_S = 8, CONNECT_TIMEOUT_S = 10 };

enum join_state { JOIN_IDLE, JOIN_RUNNING, JOIN_DONE, JOIN_FAILED };

/* How a peer is reached, for the path choice. */
struct path {
	uint8_t key[KEY_LEN];
	uint32_t id;
	uint64_t since; /* monotonic ns: last time it was fine, or added */
	uint64_t last_probe;
};

struct mesh_client {
	struct mesh_host host;
	/* Saved state (mesh.json). */
	bool joined;
	uint8_t coord_key[KEY_LEN];
	uint8_t sign_key[NETMAP_SIGN_PUBLIC_LEN];
	uint32_t self_id;
	char name[64];
	struct prefix addrs[2];
	size_t n_addrs;
	struct prefix coord_addrs[2];
	size_t n_coord_addrs;
	struct endpoint coord_eps[INVITE_MAX_ENDPOINTS];
	size_t n_coord_eps;
	union sockaddr_inet relay_addr; /* the coordinator's UDP address */
	uint8_t relay_key[RELAY_KEY_LEN];
	/* The netmap in use. */
	struct netmap nm;
	bool have_nm;
	/* Joining. */
	enum join_state join;
	struct invite inv;
	uint64_t join_deadline;
	json_t *join_result;       /* received, not yet handled */
	struct cookie join_cookie; /* the coordinator's cookie under load (join.h) */
	union sockaddr_inet join_from;
	char join_error[256];
	/* Control channel. */
	struct channel *ch;
	char *hello_sent; /* what the coordinator last heard from us (JSON text) */
	uint64_t next_connect, connect_started;
	unsigned backoff;
	struct portprobe probe; /* whether the coordinator reaches our UDP port */
	/* Paths. */
	struct path *paths;
	size_t n_paths;
	int timer_fd;
	struct loop_source *timer_src;
};

static uint64_t now_ns(void)
{
	return loop_now();
}

static uint16_t listen_port(const struct mesh_client *mc)
{
	return mc->host.ops->listen_port(mc->host.ctx);
}

static void state_path(const struct mesh_client *mc, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", mc->host.cfg->state_dir, file);
}

/* ---- saved state ---- */

static json_t *key_json(const uint8_t *key)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	return json_string(b64);
}

static int state_save(struct mesh_client *mc)
{
	char path[4096], relay[SOCKADDR_STR_LEN], *text;
	json_t *doc;
	int ret;

	sockaddr_format(&mc->relay_addr, relay, sizeof(relay));
	doc = json_pack("{s:o, s:o, s:I, s:s, s:o, s:o, s:o, s:s}", "coordinator_key",
			key_json(mc->coord_key), "sign_key", key_json(mc->sign_key), "node_id",
			(json_int_t)mc->self_id, "name", mc->name, "addresses",
			mesh_prefixes_json(mc->addrs, mc->n_addrs), "coordinator_addresses",
			mesh_prefixes_json(mc->coord_addrs, mc->n_coord_addrs),
			"coordinator_endpoints",
			mesh_endpoints_json(mc->coord_eps, mc->n_coord_eps), "relay", relay);
	state_path(mc, MESH_STATE_FILE, path, sizeof(path));
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	ret = atomicfile_write(path, text, strlen(text), 0600, 0);
	free(text);
	return ret;
}

static int prefixes_load(const json_t *arr, struct prefix *out, size_t max, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	json_array_foreach(arr, i, v)
	{
		if (*n == max || !json_is_string(v) || prefix_parse(&out[*n], json_string_value(v)))
			return -EINVAL;
		(*n)++;
	}
	return *n ? 0 : -EINVAL;
}

static int state_load(struct mesh_client *mc)
{
	char path[4096];
	json_t *doc, *eps, *v;
	size_t i;
	int ret = -EINVAL;

	state_path(mc, MESH_STATE_FILE, path, sizeof(path));
	doc = json_load_file(path, 0, NULL);
	if (!doc)
		return -ENOENT;
	if (!key_from_base64(mc->coord_key,
			     json_string_value(json_object_get(doc, "coordinator_key")) ?: "") ||
	    !key_from_base64(mc->sign_key,
			     json_string_value(json_object_get(doc, "sign_key")) ?: "") ||
	    prefixes_load(json_object_get(doc, "addresses"), mc->addrs, 2, &mc->n_addrs) < 0 ||
	    prefixes_load(json_object_get(doc, "coordinator_addresses"), mc->coord_addrs, 2,
			  &mc->n_coord_addrs) < 0 ||
	    sockaddr_parse(&mc->relay_addr,
			   json_string_value(json_object_get(doc, "relay")) ?: "") < 0)
		goto out;
	mc->self_id = (uint32_t)json_integer_value(json_object_get(doc, "node_id"));
	snprintf(mc->name, sizeof(mc->name), "%s",
		 json_string_value(json_object_get(doc, "name")) ?: "");
	eps = json_object_get(doc, "coordinator_endpoints");
	mc->n_coord_eps = 0;
	json_array_foreach(eps, i, v)
	{
		if (mc->n_coord_eps < INVITE_MAX_ENDPOINTS && json_is_string(v) &&
		    endpoint_parse(&mc->coord_eps[mc->n_coord_eps], json_string_value(v)) == 0)
			mc->n_coord_eps++;
	}
	ret = mc->self_id ? 0 : -EINVAL;
out:
	json_decref(doc);
	return ret;
}

/* ---- applying the view ---- */

static struct path *path_find(struct mesh_client *mc, const uint8_t *key)
{
	for (size_t i = 0; i < mc->n_paths; i++)
		if (!memcmp(mc->paths[i].key, key, KEY_LEN))
			return &mc->paths[i];
	return NULL;
}

/* The coordinator as a peer: its mesh addresses, its endpoints; pointed at
 * the address that answered the join until roaming knows better. */
static void coordinator_peer(struct mesh_client *mc, struct mesh_peer *mp,
			     const struct netmap_node *nn)
{
	struct mesh_peer_facts existing;
	bool known = mc->host.ops->peer_facts(mc->host.ctx, mc->coord_key, &existing);

	if (!nn) {
		memset(mp, 0, sizeof(*mp));
		snprintf(mp->name, sizeof(mp->name), "coordinator");
		memcpy(mp->public_key, mc->coord_key, KEY_LEN);
		mp->allowed_ips = calloc(mc->n_coord_addrs + 1, sizeof(struct prefix));
		for (size_t i = 0; mp->allowed_ips && i < mc->n_coord_addrs; i++) {
			mp->allowed_ips[i] = mc->coord_addrs[i];
			mp->allowed_ips[i].len = mc->coord_addrs[i].family == AF_INET ? 32 : 128;
		}
		mp->n_allowed_ips = mp->allowed_ips ? mc->n_coord_addrs : 0;
	}
	for (size_t i = 0; i < mc->n_coord_eps && mp->n_candidates < 8; i++)
		if (mesh_endpoint_to_wg(&mc->coord_eps[i], &mp->candidates[mp->n_candidates]))
			mp->n_candidates++;
	if (!known || !existing.has_endpoint) {
		mp->set_endpoint = true;
		memset(&mp->endpoint, 0, sizeof(mp->endpoint));
		memcpy(&mp->endpoint.addr, &mc->relay_addr, sockaddr_len(&mc->relay_addr));
	}
}

/* Keeps one path per non-coordinator peer; a new one that is online and
 * has no session yet starts a handshake. */
static void paths_update(struct mesh_client *mc)
{
	struct path *next = calloc(mc->nm.n_peers + 1, sizeof(*next));
	size_t k = 0;

	if (!next)
		return;
	for (size_t i = 0; mc->have_nm && i < mc->nm.n_peers; i++) {
		const struct netmap_node *nn = &mc->nm.peers[i];
		struct path *old = path_find(mc, nn->public_key);
		struct mesh_peer_facts f;
		bool known = mc->host.ops->peer_facts(mc->host.ctx, nn->public_key, &f);
		if (nn->coordinator)
			continue;
		next[k] = old ? *old : (struct path){ .since = now_ns() };
		/* A new netmap may bring new candidates (a peer's NAT mapping
		 * changed): relayed peers try them at the next tick. */
		next[k].last_probe = 0;
		memcpy(next[k].key, nn->public_key, KEY_LEN);
		next[k].id = nn->id;
		if (!old && known && !f.session && nn->online)
			mc->host.ops->peer_kick(mc->host.ctx, nn->public_key);
		k++;
	}
	free(mc->paths);
	mc->paths = next;
	mc->n_paths = k;
	mc->host.ops->flush(mc->host.ctx);
}

static void apply_view(struct mesh_client *mc)
{
	struct mesh_approved approved;
	struct mesh_view view;
	struct mesh_peer *peers = NULL;
	size_t n = 0, coord = SIZE_MAX;
	char err[512];

	if (mc->have_nm && mesh_apply_peers(&mc->nm, mc->addrs, mc->n_addrs, &peers, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(peers[i].public_key, mc->coord_key, KEY_LEN))
			coord = i;
	if (coord == SIZE_MAX) {
		struct mesh_peer *grown = realloc(peers, (n + 1) * sizeof(*peers));
		if (!grown) {
			mesh_apply_free(peers, n);
			return;
		}
		peers = grown;
		coord = n++;
		coordinator_peer(mc, &peers[coord], NULL);
	} else {
		coordinator_peer(mc, &peers[coord], &mc->nm.peers[coord]);
	}
	if (mc->have_nm)
		mesh_apply_approved(&mc->nm, &approved);
	/* Before the first netmap nothing of this node's offer is approved. */
	view =
	    (struct mesh_view){ peers, n, mc->addrs, mc->n_addrs, mc->have_nm ? &approved : NULL };
	if (mc->host.ops->reconfigure(mc->host.ctx, &view, err, sizeof(err)) < 0)
		log_err("mesh: %s", err);
	mesh_apply_free(peers, n);
	paths_update(mc);
}

/* ---- netmaps ---- */

static bool netmap_take(struct mesh_client *mc, const json_t *msg, bool from_cache)
{
	struct netmap nm;
	char err[256], path[4096];

	if (netmap_verify(msg, mc->sign_key, &nm, err, sizeof(err)) < 0) {
		log_warn("mesh: netmap refused: %s", err);
		return false;
	}
	if (memcmp(nm.coordinator_key, mc->coord_key, KEY_LEN) ||
	    (mc->have_nm && nm.version <= mc->nm.version)) {
		netmap_free(&nm);
		return true;
	}
	if (!from_cache) {
		state_path(mc, MESH_NETMAP_FILE, path, sizeof(path));
		if (netmap_cache_save(path, msg) < 0)
			log_warn("mesh: cannot cache the netmap in %s", path);
	}
	netmap_free(&mc->nm);
	mc->nm = nm;
	mc->have_nm = true;
	log_info("mesh: netmap %llu: %zu peer(s)", (unsigned long long)nm.version, nm.n_peers);
	apply_view(mc);
	return true;
}

static void load_cache(struct mesh_client *mc)
{
	char path[4096], err[256];
	struct netmap nm;
	json_t *msg = NULL;

	state_path(mc, MESH_NETMAP_FILE, path, sizeof(path));
	if (netmap_cache_load(path, mc->sign_key, &nm, &msg, err, sizeof(err)) < 0)
		return;
	netmap_free(&nm);
	netmap_take(mc, msg, true);
	json_decref(msg);
}

/* ---- control channel ---- */

static void port_probe_reply(struct mesh_client *mc, const json_t *msg)
{
	struct portprobe_reply r;

	if (portprobe_reply_parse(msg, &r) < 0 || portprobe_reply(&mc->probe, &r) < 0)
		return;
	if (!r.sent)
		log_info("mesh: the coordinator did not probe UDP %u: %s", mc->probe.port,
			 r.error[0] ? r.error : "no reason given");
}

static void observed_take(struct mesh_client *mc, const json_t *msg)
{
	char observed[SOCKADDR_STR_LEN];

	if (portprobe_observed_parse(msg, observed) == 0)
		portprobe_observed(&mc->probe, observed);
}

/* Asks the coordinator to probe our UDP port with a fresh nonce. */
static void port_probe_ask(struct mesh_client *mc, uint16_t port)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];
	json_t *msg;

	randombytes_buf(nonce, sizeof(nonce));
	msg = portprobe_request_create(nonce, port);
	if (msg && channel_send(mc->ch, msg) == 0)
		portprobe_asked(&mc->probe, nonce, port, now_ns());
	json_decref(msg);
}

static bool on_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct mesh_client *mc = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));

	mc->backoff = 0;
	if (type && !strcmp(type, "netmap"))
		return netmap_take(mc, msg, false);
	if (type && !strcmp(type, "port_probe_reply"))
		port_probe_reply(mc, msg);
	else if (type && !strcmp(type, "observed"))
		observed_take(mc, msg);
	return true; /* other types: from a newer coordinator, ignored */
}

static void on_closed(void *ctx, struct channel *ch)
{
	struct mesh_client *mc = ctx;

	channel_free(ch);
	mc->ch = NULL;
	portprobe_lost(&mc->probe);
	mc->backoff =
	    mc->backoff ? (mc->backoff * 2 > MAX_BACKOFF_S ? MAX_BACKOFF_S : mc->backoff * 2) : 1;
	mc->next_connect = now_ns() + (uint64_t)mc->backoff * NS;
	log_info("mesh: control connection closed; retrying in %u s", mc->backoff);
}

/* Our hello as it stands (config, local endpoints), as compact text. */
static char *hello_text(struct mesh_client *mc)
{
	json_t *hello = mesh_hello_create(mc->host.cfg, NULL, mc->host.tun_name, listen_port(mc));
	char *text = hello ? json_dumps(hello, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(hello);
	return text;
}

/* Sends a hello (type "hello" on a new connection, "update" after) when it
 * differs from the last one sent: a reload that changed the advertised
 * routes or exit offer, or a local address that came or went. */
static void send_hello(struct mesh_client *mc, const char *type)
{
	char *text = hello_text(mc);
	json_t *msg = text ? json_loads(text, 0, NULL) : NULL;

	if (!msg || (mc->hello_sent && !strcmp(type, "update") && !strcmp(text, mc->hello_sent))) {
		json_decref(msg);
		free(text);
		return;
	}
	json_object_set_new(msg, "type", json_string(type));
	if (channel_send(mc->ch, msg) == 0) {
		free(mc->hello_sent);
		mc->hello_sent = text;
		text = NULL;
		if (!strcmp(type, "update"))
			log_info("mesh: sent an update to the coordinator");
	}
	json_decref(msg);
	free(text);
}

static void connect_control(struct mesh_client *mc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MESH_CONTROL_PORT) };
	int fd;

	if (mc->n_coord_addrs == 0 || mc->coord_addrs[0].family != AF_INET)
		return;
	memcpy(&sin.sin_addr, mc->coord_addrs[0].addr, 4);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
		close(fd);
		mc->next_connect = now_ns() + NS;
		return;
	}
	mc->ch = channel_new(mc->host.loop, fd, true, on_msg, on_closed, mc);
	if (!mc->ch)
		return;
	mc->connect_started = now_ns();
	send_hello(mc, "hello");
	portprobe_want(&mc->probe);
}

static void control_tick(struct mesh_client *mc)
{
	if (!mc->joined)
		return;
	if (mc->ch && mc->ch->connecting &&
	    now_ns() - mc->connect_started > (uint64_t)CONNECT_TIMEOUT_S * NS) {
		on_closed(mc, mc->ch);
		return;
	}
	portprobe_tick(&mc->probe, now_ns());
	if (!mc->ch && now_ns() >= mc->next_connect)
		connect_control(mc);
	else if (mc->ch && mc->ch->connected) {
		send_hello(mc, "update");
		if (portprobe_due(&mc->probe, listen_port(mc), now_ns()))
			port_probe_ask(mc, listen_port(mc));
	}
}

/* ---- paths ---- */

static void to_relay(struct mesh_client *mc, const struct mesh_peer_facts *f, struct path *path)
{
	struct wg_endpoint ep = { 0 };

	memcpy(&ep.addr, &mc->relay_addr, sockaddr_len(&mc->relay_addr));
	ep.relay_via = path->id;
	mc->host.ops->peer_set_endpoint(mc->host.ctx, path->key, &ep);
	log_info("mesh: peer %s: no direct path answered; relaying", f->name);
	mc->host.ops->peer_kick(mc->host.ctx, path->key);
	path->last_probe = now_ns();
}

static void path_tick(struct mesh_client *mc, struct path *path, uint64_t now)
{
	struct mesh_peer_facts f;
	time_t wall = time(NULL);
	bool fresh;

	if (!mc->host.ops->peer_facts(mc->host.ctx, path->key, &f))
		return;
	fresh = f.last_handshake && wall - f.last_handshake < REJECT_AFTER_TIME;
	if (f.has_endpoint && wg_endpoint_is_relay(&f.endpoint)) {
		/* Copies of this initiation go to the direct candidates: one
		 * that answers takes over through roaming. The engine sends
		 * none within REKEY_TIMEOUT of its last handshake message, a
		 * response to the peer's own probe included: then the probe
		 * is due again at the next tick, or two peers probing at the
		 * same pace could silence one side for good. */
		if (now - path->last_probe > (uint64_t)MESH_RELAY_PROBE_S * NS &&
		    mc->host.ops->peer_kick(mc->host.ctx, path->key))
			path->last_probe = now;
		return;
	}
	if (fresh && f.session) {
		path->since = now;
		return;
	}
	if (now - path->since > (uint64_t)MESH_DIRECT_TIMEOUT_S * NS)
		to_relay(mc, &f, path);
}

static void paths_tick(struct mesh_client *mc)
{
	uint64_t now = now_ns();

	for (size_t i = 0; mc->joined && i < mc->n_paths; i++)
		path_tick(mc, &mc->paths[i], now);
	mc->host.ops->flush(mc->host.ctx);
}

/* ---- joining ---- */

static void join_fail(struct mesh_client *mc, const char *why)
{
	snprintf(mc->join_error, sizeof(mc->join_error), "%s", why);
	mc->join = JOIN_FAILED;
	invite_clear(&mc->inv);
	log_err("mesh: join failed: %s", why);
}

/* Builds this attempt's request (one nonce for every endpoint; mac2 from
 * the coordinator's cookie, if it sent one). */
static int join_request_build(struct mesh_client *mc, uint8_t *msg, size_t *len)
{
	struct join_request req = { 0 };
	uint8_t nonce[MESH_NONCE_LEN];
	int ret = -ENOMEM;

	struct mesh_dh dh = mesh_host_dh(&mc->host);

	memcpy(req.joiner_key, mc->host.public_key, KEY_LEN);
	req.invite_id = mc->inv.id;
	memcpy(req.secret, mc->inv.secret, MESH_SECRET_LEN);
	req.timestamp = (int64_t)time(NULL);
	req.hello = mesh_hello_create(mc->host.cfg, NULL, mc->host.tun_name, listen_port(mc));
	randombytes_buf(nonce, sizeof(nonce));
	if (req.hello)
		ret = join_request_create(msg, MESH_JOIN_MAX, len, &req, &dh,
					  mc->inv.coordinator_key, nonce);
	if (ret == 0)
		cookie_add_macs(msg, *len, &mc->join_cookie, now_ns());
	join_request_clear(&req);
	return ret;
}

static void join_send(struct mesh_client *mc)
{
	struct pkt_batch *udp_out = mc->host.ops->udp_out(mc->host.ctx);
	uint8_t msg[MESH_JOIN_MAX];
	size_t len;

	if (join_request_build(mc, msg, &len) < 0)
		return;
	for (size_t i = 0; i < mc->inv.n_endpoints; i++) {
		union sockaddr_inet sa;
		struct pkt *pkt;
		if (endpoint_resolve(&mc->inv.endpoints[i], AF_UNSPEC, &sa) < 0)
			continue;
		pkt = pkt_batch_add(udp_out);
		if (!pkt)
			break;
		if (len > pkt_tailroom(pkt)) {
			udp_out->count--;
			break;
		}
		memcpy(pkt->data, msg, len);
		pkt->len = (uint32_t)len;
		memset(&pkt->ep, 0, sizeof(pkt->ep));
		memcpy(&pkt->ep.addr, &sa, sockaddr_len(&sa));
	}
	mc->host.ops->flush(mc->host.ctx);
	sodium_memzero(msg, sizeof(msg));
}

static int result_parse(struct mesh_client *mc, const json_t *r)
{
	const json_t *co = json_object_get(r, "coordinator");
	const char *sign = json_string_value(json_object_get(co, "sign_key"));
	size_t len = 0;
	uint8_t key[KEY_LEN];

	if (!sign ||
	    sodium_base642bin(mc->sign_key, sizeof(mc->sign_key), sign, strlen(sign), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    len != sizeof(mc->sign_key))
		return -EINVAL;
	if (!key_from_base64(key, json_string_value(json_object_get(co, "public_key")) ?: "") ||
	    memcmp(key, mc->inv.coordinator_key, KEY_LEN))
		return -EINVAL;
	if (prefixes_load(json_object_get(r, "addresses"), mc->addrs, 2, &mc->n_addrs) < 0 ||
	    prefixes_load(json_object_get(co, "addresses"), mc->coord_addrs, 2,
			  &mc->n_coord_addrs) < 0)
		return -EINVAL;
	mc->self_id = (uint32_t)json_integer_value(json_object_get(r, "id"));
	snprintf(mc->name, sizeof(mc->name), "%s",
		 json_string_value(json_object_get(r, "name")) ?: "");
	return mc->self_id ? 0 : -EINVAL;
}

static void join_finish(struct mesh_client *mc)
{
	struct mesh_dh dh = mesh_host_dh(&mc->host);
	json_t *r = mc->join_result;
	bool same = mc->joined && !memcmp(mc->coord_key, mc->inv.coordinator_key, KEY_LEN);

	mc->join_result = NULL;
	if (!json_is_true(json_object_get(r, "ok"))) {
		join_fail(mc, json_string_value(json_object_get(r, "error")) ?: "refused");
		json_decref(r);
		return;
	}
	if (result_parse(mc, r) < 0) {
		json_decref(r);
		join_fail(mc, "the coordinator's answer is malformed");
		return;
	}
	json_decref(r);
	if (!same) {
		netmap_free(&mc->nm);
		mc->have_nm = false;
	}
	memcpy(mc->coord_key, mc->inv.coordinator_key, KEY_LEN);
	memcpy(mc->coord_eps, mc->inv.endpoints, sizeof(mc->coord_eps));
	mc->n_coord_eps = mc->inv.n_endpoints;
	mc->relay_addr = mc->join_from;
	invite_clear(&mc->inv);
	if (relay_key_derive(mc->relay_key, &dh, mc->coord_key) < 0 || state_save(mc) < 0) {
		join_fail(mc, "cannot save the mesh state in state_dir");
		return;
	}
	mc->joined = true;
	mc->join = JOIN_DONE;
	log_info("mesh: joined as %s (node id %u)", mc->name, mc->self_id);
	apply_view(mc);
	if (mc->ch)
		on_closed(mc, mc->ch);
	mc->next_connect = 0;
	mc->backoff = 0;
}

static void join_tick(struct mesh_client *mc)
{
	if (mc->join != JOIN_RUNNING)
		return;
	if (mc->join_result) {
		join_finish(mc);
		return;
	}
	if (now_ns() > mc->join_deadline) {
		join_fail(mc, "no answer from the coordinator: the invite may have been revoked, "
			      "used up or expired, or be for another mesh, or its endpoint is "
			      "unreachable");
		return;
	}
	join_send(mc);
}

/* ---- packet hooks ---- */

static const uint8_t *node_relay_key(void *ctx, uint32_t node_id)
{
	struct mesh_client *mc = ctx;

	for (size_t i = 0; mc->joined && mc->have_nm && i < mc->nm.n_peers; i++)
		if (mc->nm.peers[i].id == node_id)
			return mc->relay_key;
	return NULL;
}

static enum demux client_rx(void *ctx, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct mesh_client *mc = ctx;
	struct mesh_dh dh = mesh_host_dh(&mc->host);
	uint32_t type;
	json_t *result;

	memcpy(&type, pkt->data, sizeof(type));
	type = le32toh(type);
	if (type == MESH_RELAY && mc->joined)
		return relay_receive(pkt, mc->self_id, node_relay_key, mc) == 0 ? DEMUX_ENGINE
										: DEMUX_CONSUMED;
	if (type == MESH_PORT_PROBE) {
		if (portprobe_receive(&mc->probe, pkt->data, pkt->len) < 0)
			mc->host.counters->rx_probe_dropped++;
		return DEMUX_CONSUMED;
	}
	if (type == MESH_JOIN_COOKIE && mc->join == JOIN_RUNNING && !mc->join_result) {
		/* Busy coordinator: ask again at once, with mac2. */
		if (join_cookie_consume(pkt->data, pkt->len, &mc->join_cookie, now_ns()) == 0)
			timerfd_settime(mc->timer_fd, 0,
					&(struct itimerspec){ .it_value = { 0, 1000000 },
							      .it_interval = { 1, 0 } },
					NULL);
		return DEMUX_CONSUMED;
	}
	if (type != MESH_JOIN_RESPONSE || mc->join != JOIN_RUNNING || mc->join_result)
		return DEMUX_CONSUMED;
	if (join_response_open(pkt->data, pkt->len, &dh, mc->inv.coordinator_key, &result) < 0)
		return DEMUX_CONSUMED;
	mc->join_result = result;
	memset(&mc->join_from, 0, sizeof(mc->join_from));
	memcpy(&mc->join_from, &pkt->ep.addr, sizeof(mc->join_from));
	timerfd_settime(mc->timer_fd, 0,
			&(struct itimerspec){ .it_value = { 0, 1000000 }, .it_interval = { 1, 0 } },
			NULL);
	return DEMUX_CONSUMED;
}

static int client_tx_relay(void *ctx, struct pkt *pkt)
{
	struct mesh_client *mc = ctx;

	if (!mc->joined)
		return -ENOTCONN;
	return relay_wrap(pkt, mc->self_id, pkt->ep.relay_via, mc->relay_key);
}

/* The engine's relay path check: a peer's messages come relayed with its
 * own node id as the source, whichever member put them on the relay. The
 * coordinator has no path: it is never relayed. */
static bool client_relay_check(void *ctx, const uint8_t key[32], uint32_t relay_via)
{
	struct path *path = path_find(ctx, key);

	return path && path->id == relay_via;
}

static const struct dataplane_mesh_ops client_ops = { .rx = client_rx,
						      .tx_relay = client_tx_relay };

/* ---- timer, start, stop ---- */

static void on_timer(void *ctx, uint32_t events)
{
	struct mesh_client *mc = ctx;
	uint64_t expirations;

	if (read(mc->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	join_tick(mc);
	control_tick(mc);
	paths_tick(mc);
}

bool mesh_client_wanted(const struct mg_config *cfg)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, MESH_STATE_FILE);
	return cfg->join || access(path, F_OK) == 0;
}

int mesh_client_join(struct mesh_client *mc, const char *code, char *errbuf, size_t errlen)
{
	struct invite inv;
	int ret = invite_decode(code, &inv, errbuf, errlen);

	if (ret < 0)
		return ret;
	invite_clear(&mc->inv);
	mc->inv = inv;
	cookie_init_labels(&mc->join_cookie, inv.coordinator_key, &join_cookie_labels);
	json_decref(mc->join_result);
	mc->join_result = NULL;
	mc->join_error[0] = '\0';
	mc->join = JOIN_RUNNING;
	mc->join_deadline = now_ns() + (uint64_t)MESH_JOIN_TIMEOUT_S * NS;
	join_send(mc);
	return 0;
}

void mesh_client_port_probe(const struct mesh_client *mc, int *reachable, char *seen_as, size_t len)
{
	*reachable = mc->probe.reachable;
	snprintf(seen_as, len, "%s", mc->probe.observed);
}

json_t *mesh_client_join_status(const struct mesh_client *mc)
{
	static const char *names[] = { "idle", "joining", "joined", "failed" };
	json_t *doc = json_pack("{s:s}", "state", names[mc->join]);

	if (mc->join == JOIN_FAILED)
		json_object_set_new(doc, "error", json_string(mc->join_error));
	if (mc->joined) {
		json_object_set_new(doc, "name", json_string(mc->name));
		json_object_set_new(doc, "addresses", mesh_prefixes_json(mc->addrs, mc->n_addrs));
	}
	return doc;
}

static void start_from_state(struct mesh_client *mc)
{
	struct mesh_dh dh = mesh_host_dh(&mc->host);

	if (state_load(mc) < 0 || relay_key_derive(mc->relay_key, &dh, mc->coord_key) < 0)
		return;
	mc->joined = true;
	load_cache(mc);
	if (!mc->have_nm)
		apply_view(mc);
	log_info("mesh: member %s (node id %u)%s", mc->name, mc->self_id,
		 mc->have_nm ? ", from the cached netmap" : "");
}

int mesh_client_start(struct mesh_client **out, const struct mesh_host *host, char *errbuf,
		      size_t errlen)
{
	struct mesh_client *mc = calloc(1, sizeof(*mc));
	struct itimerspec its = { .it_value = { 0, 1000000 }, .it_interval = { 1, 0 } };

	if (!mc)
		return -ENOMEM;
	mc->host = *host;
	portprobe_init(&mc->probe);
	mc->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	mc->timer_src =
	    mc->timer_fd >= 0 ? loop_add_fd(host->loop, mc->timer_fd, EPOLLIN, on_timer, mc) : NULL;
	if (!mc->timer_src) {
		snprintf(errbuf, errlen, "mesh: cannot create a timer");
		mesh_client_stop(mc);
		return -ENOMEM;
	}
	timerfd_settime(mc->timer_fd, 0, &its, NULL);
	host->ops->set_hooks(host->ctx, &client_ops, client_relay_check, mc);
	start_from_state(mc);
	if (host->cfg->join) {
		struct invite inv;
		char err[256];
		if (invite_decode(host->cfg->join, &inv, err, sizeof(err)) < 0) {
			snprintf(errbuf, errlen, "join: %s", err);
			mesh_client_stop(mc);
			return -EINVAL;
		}
		if (!mc->joined || memcmp(inv.coordinator_key, mc->coord_key, KEY_LEN))
			if (mesh_client_join(mc, host->cfg->join, errbuf, errlen) < 0)
				log_err("mesh: join: %s", errbuf);
		invite_clear(&inv);
	}
	*out = mc;
	return 0;
}

void mesh_client_stop(struct mesh_client *mc)
{
	if (!mc)
		return;
	mc->host.ops->set_hooks(mc->host.ctx, NULL, NULL, mc);
	channel_free(mc->ch);
	if (mc->timer_src)
		loop_del_fd(mc->host.loop, mc->timer_src);
	if (mc->timer_fd >= 0)
		close(mc->timer_fd);
	invite_clear(&mc->inv);
	json_decref(mc->join_result);
	netmap_free(&mc->nm);
	sodium_memzero(mc->relay_key, sizeof(mc->relay_key));
	free(mc->paths);
	free(mc->hello_sent);
	free(mc);
}
