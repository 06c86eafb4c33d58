/* The coordinator's control channel server; see ctlserver.h. */
#include "mesh/ctlserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mesh/apply.h"
#include "mesh/audit.h"
#include "mesh/coordinator_role.h"
#include "mesh/devices.h"
#include "mesh/devmsg.h"
#include "mesh/views.h"

/* ---- control channel ---- */

/* The engine's direct endpoint for node id: where its packets come from. */
static bool node_observed(const struct coordinator *c, uint32_t id, struct endpoint *out)
{
	struct mesh_peer_facts f;

	if (!coord_node_direct(c, id, &f))
		return false;
	mesh_endpoint_from_wg(&f.endpoint, out);
	return out->numeric;
}

/* Loopback, or an address of one of this host's interfaces. */
static bool own_address(const struct endpoint *own, size_t n, const union sockaddr_inet *sa)
{
	const uint8_t *ip = sa->sa.sa_family == AF_INET ? (const uint8_t *)&sa->in.sin_addr
							: (const uint8_t *)&sa->in6.sin6_addr;

	if (sa->sa.sa_family == AF_INET ? ip[0] == 127 : IN6_IS_ADDR_LOOPBACK(&sa->in6.sin6_addr))
		return true;
	for (size_t i = 0; i < n; i++) {
		const union sockaddr_inet *o = &own[i].addr;
		const void *oip = o->sa.sa_family == AF_INET ? (const void *)&o->in.sin_addr
							     : (const void *)&o->in6.sin6_addr;
		if (o->sa.sa_family == sa->sa.sa_family &&
		    !memcmp(oip, ip, addr_len(sa->sa.sa_family)))
			return true;
	}
	return false;
}

/* The coordinator cannot probe itself. Its nodes send first (a join, the
 * handshake that carries the control channel), so a node whose WireGuard
 * packets arrive from an address that is not this host's shows that
 * traffic nobody here asked for reaches the port. */
unsigned coordinator_port_reached(const struct coordinator *c)
{
	struct endpoint own[64], seen;
	size_t n_own = mesh_local_endpoints(c->host.tun_name, 1, own, 64);
	unsigned count = 0;

	for (size_t i = 0; i < c->n_relay; i++)
		if (node_observed(c, c->relay[i].id, &seen) && !own_address(own, n_own, &seen.addr))
			count++;
	return count;
}

/* Sends the PORT_PROBE datagram to the observed IP at port; NULL or why not. */
static const char *port_probe_send(struct coordinator *c, const struct endpoint *observed,
				   uint16_t port, const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	union sockaddr_inet to = observed->addr;
	uint8_t dgram[MESH_PORT_PROBE_LEN];
	char text[SOCKADDR_STR_LEN];
	size_t len;
	int ret;

	if (to.sa.sa_family == AF_INET)
		to.in.sin_port = htons(port);
	else
		to.in6.sin6_port = htons(port);
	ret = portprobe_datagram_create(dgram, sizeof(dgram), &len, nonce);
	if (ret == 0)
		ret = udp_send_once(&to.sa, sockaddr_len(&to), dgram, len,
				    c->host.ops->fwmark(c->host.ctx));
	if (ret == 0)
		return NULL;
	sockaddr_format(&to, text, sizeof(text));
	log_warn("mesh: port probe to %s: %s", text, strerror(-ret));
	return "cannot send";
}

/* A node asks whether its UDP port is reachable: one datagram from a fresh
 * socket, only to the IP its WireGuard packets come from, at most once per
 * node per interval; the reply says whether it went out. */
static void on_port_probe(struct coordinator *c, struct conn *k, const json_t *msg)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];
	struct endpoint observed = { 0 };
	const char *error = NULL;
	uint16_t port;
	json_t *reply;
	bool seen;

	if (portprobe_request_parse(msg, nonce, &port) < 0)
		return;
	seen = node_observed(c, k->node_id, &observed);
	if (!seen)
		error = "no observed endpoint";
	else if (!portprobe_limit_allow(&c->probes, k->node_id, loop_now()))
		error = "rate limited";
	else
		error = port_probe_send(c, &observed, port, nonce);
	reply = portprobe_reply_create(nonce, !error, seen ? &observed : NULL, error);
	if (!reply || channel_send(k->ch, reply) < 0)
		log_warn("mesh: cannot answer the port probe request of node %u", k->node_id);
	json_decref(reply);
}

/* Records the endpoints of a hello, or only last_seen; true when the
 * netmaps change. An endpoint change sooner than the node's interval waits
 * as its pending message (the routes went in already). */
static bool endpoints_apply(struct coordinator *c, struct throttle_node *tn,
			    const struct mesh_hello *hello, uint64_t now)
{
	bool differ = false;
	int ret = registry_node_endpoints_differ(c->reg, tn->node_id, hello->endpoints,
						 hello->n_endpoints, &differ);

	if (ret == 0 && differ && !throttle_endpoints_allowed(tn, now)) {
		c->stats.endpoints_debounced++;
		if (throttle_defer(tn, hello,
				   tn->endpoints_at + THROTTLE_ENDPOINT_INTERVAL_S * NS) < 0)
			log_warn("mesh: cannot keep the update of node %u", tn->node_id);
		differ = false;
	} else if (ret == 0 && differ) {
		ret = registry_node_seen(c->reg, tn->node_id, now_s(), hello->endpoints,
					 hello->n_endpoints);
		tn->endpoints_at = tn->seen_at = now;
	} else if (ret == 0 &&
		   (!tn->seen_at || now - tn->seen_at >= THROTTLE_SEEN_INTERVAL_S * NS)) {
		ret = registry_node_seen(c->reg, tn->node_id, now_s(), NULL, 0);
		tn->seen_at = now;
	} else if (ret == 0) {
		c->stats.writes_skipped++;
	}
	if (ret < 0)
		log_warn("mesh: cannot record the endpoints of node %u", tn->node_id);
	return ret == 0 && differ;
}

/* Records what hello says that the registry does not have yet, and
 * rebuilds only then. */
static void hello_apply(struct coordinator *c, struct throttle_node *tn,
			const struct mesh_hello *hello, uint64_t now)
{
	bool changed = false, offer_changed = false;

	if (coord_advertise(c, tn->node_id, hello->routes, hello->n_routes, &changed) < 0)
		log_warn("mesh: cannot record the routes of node %u", tn->node_id);
	else if (!changed)
		c->stats.writes_skipped++;
	if (coord_offer_take(c, tn->node_id, &hello->dns, &offer_changed) < 0)
		log_warn("mesh: cannot keep the split DNS offer of node %u", tn->node_id);
	else if (offer_changed)
		log_info("mesh: node %u offers split DNS %s", tn->node_id,
			 hello->dns.domain[0] ? hello->dns.domain : "no more");
	if (endpoints_apply(c, tn, hello, now) || changed || offer_changed)
		coord_schedule(c);
}

/* A hello or update: applied when the node's bucket has a token, else kept
 * as its pending message (the latest wins) for when it has one. */
static void hello_take(struct coordinator *c, uint32_t id, const struct mesh_hello *hello)
{
	uint64_t now = loop_now(), interval = THROTTLE_MSG_INTERVAL_S * NS;
	struct throttle_node *tn = throttle_node(&c->throttle, id);

	if (!tn) {
		log_warn("mesh: cannot record the update of node %u", id);
		return;
	}
	if (!throttle_bucket_take(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) {
		c->stats.updates_deferred++;
		if (throttle_defer(
			tn, hello,
			throttle_bucket_ready(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) < 0)
			log_warn("mesh: cannot keep the update of node %u", id);
		else
			coord_arm(c, tn->pending_due);
		return;
	}
	throttle_clear(tn);
	hello_apply(c, tn, hello, now);
	if (tn->pending)
		coord_arm(c, tn->pending_due);
}

/* Applies the pending messages that are due, as their buckets allow. */
void coord_pending_tick(struct coordinator *c, uint64_t now)
{
	uint64_t interval = THROTTLE_MSG_INTERVAL_S * NS;

	for (size_t i = 0; i < c->throttle.n; i++) {
		struct throttle_node *tn = &c->throttle.v[i];
		struct mesh_hello *hello = tn->pending;

		if (!hello || tn->pending_due > now)
			continue;
		if (!throttle_bucket_take(&tn->msgs, now, interval, THROTTLE_MSG_BURST)) {
			tn->pending_due =
			    throttle_bucket_ready(&tn->msgs, now, interval, THROTTLE_MSG_BURST);
			continue;
		}
		tn->pending = NULL; /* applying may defer it again */
		hello_apply(c, tn, hello, now);
		free(hello);
	}
}

/* A device request within the node's bucket; the others are refused. */
static bool device_allowed(struct coordinator *c, uint32_t id)
{
	struct throttle_node *tn = throttle_node(&c->throttle, id);

	return tn && throttle_bucket_take(&tn->devices, loop_now(), THROTTLE_DEVICE_INTERVAL_S * NS,
					  THROTTLE_DEVICE_BURST);
}

/* Registers or removes a device for the node on the connection, its hub,
 * and answers device_reply; a request without a usable req goes
 * unanswered. */
/* "node:NAME" for node id (its id when the registry has no name). */
static void node_actor(struct coordinator *c, uint32_t id, struct audit_actor *who)
{
	struct registry_node n;
	char name[ALLOC_NAME_MAX + 1];

	snprintf(name, sizeof(name), "%" PRIu32, id);
	if (registry_node_by_id(c->reg, id, &n) == 0) {
		snprintf(name, sizeof(name), "%s", n.name);
		registry_node_clear(&n);
	}
	audit_actor_node(name, who);
}

static void on_device_request(struct coordinator *c, struct conn *k, const json_t *msg)
{
	struct audit_actor who;
	json_t *device = NULL, *warnings = json_array(), *reply = NULL;
	struct devmsg_request r;
	char err[DEVMSG_ERROR_MAX + 1] = "";
	int ret = devmsg_request_parse(msg, &r, err, sizeof(err));

	if (ret < 0 && !r.req)
		goto out; /* nothing to answer to; ignored as unknown lines are */
	if (ret == 0 && !device_allowed(c, k->node_id)) {
		snprintf(err, sizeof(err), "too many device requests; try again in a few seconds");
		ret = -EAGAIN;
	}
	if (ret == 0)
		node_actor(c, k->node_id, &who);
	if (ret == 0 && r.kind == DEVMSG_ADD)
		ret = coord_device_add(c, k->node_id, r.name, r.public_key, r.exit_node, &who,
				       &device, warnings, err, sizeof(err));
	else if (ret == 0)
		ret = coord_device_remove(c, k->node_id, r.name, &who, err, sizeof(err));
	if (ret < 0 && !err[0])
		snprintf(err, sizeof(err), "%s", strerror(-ret));
	if (ret == 0)
		log_info("mesh: node %u %s device %s", k->node_id,
			 r.kind == DEVMSG_ADD ? "added" : "removed", r.name);
	reply = devmsg_reply_create(r.req, ret < 0 ? err : NULL, device, warnings);
	if (!reply || channel_send(k->ch, reply) < 0)
		log_warn("mesh: cannot answer the device request of node %u", k->node_id);
out:
	json_decref(reply);
	json_decref(device);
	json_decref(warnings);
}

static bool on_conn_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct conn *k = ctx;
	struct coordinator *c = k->c;
	const char *type = json_string_value(json_object_get(msg, "type"));
	struct mesh_hello hello;

	if (type && !strcmp(type, "port_probe")) {
		on_port_probe(c, k, msg);
		return true;
	}
	if (type && (!strcmp(type, "device_add") || !strcmp(type, "device_remove"))) {
		on_device_request(c, k, msg);
		return true;
	}
	if (!type || (strcmp(type, "hello") && strcmp(type, "update")))
		return true; /* newer messages: ignored */
	if (mesh_hello_parse(msg, &hello) < 0) {
		log_warn("mesh: node %u sent a malformed %s", k->node_id, type);
		return false;
	}
	hello_take(c, k->node_id, &hello);
	return true;
}

static void on_conn_closed(void *ctx, struct channel *ch)
{
	struct conn *k = ctx;

	log_info("mesh: node %u disconnected", k->node_id);
	coord_schedule(k->c);
	coord_conn_close(k);
}

/* The node whose mesh address is the connection's source; 0 if none. */
static uint32_t node_by_source(struct coordinator *c, const union sockaddr_inet *sa)
{
	struct registry_node *nodes = NULL;
	size_t n = 0;
	uint32_t id = 0;

	if (registry_nodes(c->reg, &nodes, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !id; i++) {
		const struct prefix *a =
		    sa->sa.sa_family == AF_INET ? &nodes[i].addr4 : &nodes[i].addr6;
		const void *ip = sa->sa.sa_family == AF_INET ? (const void *)&sa->in.sin_addr
							     : (const void *)&sa->in6.sin6_addr;
		if (a->family == sa->sa.sa_family && !memcmp(a->addr, ip, addr_len(a->family)) &&
		    nodes[i].id != c->self_id)
			id = nodes[i].id;
	}
	registry_nodes_free(nodes, n);
	return id;
}

/* A node's connection within its reconnect budget; counts the others. */
static bool connect_allowed(struct coordinator *c, uint32_t id)
{
	struct throttle_node *tn = throttle_node(&c->throttle, id);

	if (tn && throttle_bucket_take(&tn->connects, loop_now(), THROTTLE_CONNECT_INTERVAL_S * NS,
				       THROTTLE_CONNECT_BURST))
		return true;
	c->stats.reconnects_refused++;
	return false;
}

int coord_conn_open(struct coordinator *c, int fd, uint32_t node_id)
{
	struct conn *k = calloc(1, sizeof(*k)), *old;

	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	old = coord_conn_by_node(c, node_id);
	if (old)
		coord_conn_close(old);
	*k = (struct conn){ .c = c, .node_id = node_id };
	k->ch = channel_new(c->host.loop, fd, false, on_conn_msg, on_conn_closed, k);
	if (!k->ch) {
		free(k);
		return -ENOMEM;
	}
	k->next = c->conns;
	c->conns = k;
	coord_schedule(c);
	return 0;
}

static void on_accept(void *ctx, uint32_t events)
{
	struct coordinator *c = ctx;
	union sockaddr_inet sa;
	socklen_t len = sizeof(sa);
	int fd = accept4(c->listen_fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	uint32_t id;

	if (fd < 0)
		return;
	id = node_by_source(c, &sa);
	if (!id || !connect_allowed(c, id)) {
		close(fd);
		return;
	}
	if (coord_conn_open(c, fd, id) == 0)
		log_info("mesh: node %u connected", id);
}

int coord_listen_control(struct coordinator *c)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MESH_CONTROL_PORT) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(&sin.sin_addr, c->addrs[0].addr, 4);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	c->listen_fd = fd;
	c->listen_src = loop_add_fd(c->host.loop, fd, EPOLLIN, on_accept, c);
	return c->listen_src ? 0 : -ENOMEM;
}
