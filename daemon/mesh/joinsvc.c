/* The join service: JOIN_REQUEST datagrams to registered nodes; see joinsvc.h. */
#include "mesh/joinsvc.h"

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
#include "mesh/audit.h"
#include "mesh/invite.h"
#include "mesh/join.h"
#include "mesh/coordinator_role.h"
#include "mesh/views.h"

/* ---- joins ---- */

static json_t *result_error(const char *message)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

static json_t *addresses_json(const struct registry_node *n, const struct mg_config *cfg)
{
	struct prefix a[2] = { n->addr4, n->addr6 };

	a[0].len = cfg->coordinator.prefix4.len;
	a[1].len = cfg->coordinator.prefix6.len;
	return mesh_prefixes_json(a, 2);
}

static json_t *result_ok(struct coordinator *c, const struct registry_node *n)
{
	char key[KEY_B64_LEN + 1],
	    sign[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	struct prefix host[2] = { c->addrs[0], c->addrs[1] };

	host[0].len = 32;
	host[1].len = 128;
	key_to_base64(key, c->host.public_key);
	sodium_bin2base64(sign, sizeof(sign), c->sign_public, sizeof(c->sign_public),
			  sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:b, s:s, s:I, s:o, s:{s:s, s:I, s:s, s:o, s:s}}", "ok", 1, "name",
			 n->name, "id", (json_int_t)n->id, "addresses",
			 addresses_json(n, c->host.cfg), "coordinator", "public_key", key, "id",
			 (json_int_t)c->self_id, "name", c->host.cfg->hostname, "addresses",
			 mesh_prefixes_json(host, c->n_addrs), "sign_key", sign);
}

/* Registers the joiner (in the open transaction); the result to send. */
static json_t *join_register(struct coordinator *c, const struct join_request *req, bool use_invite)
{
	const struct mg_config *cfg = c->host.cfg;
	struct registry_node n = { 0 };
	struct mesh_hello hello;
	struct audit_actor who;
	int64_t now = now_s();
	json_t *result = NULL;
	bool created = false;

	if (mesh_hello_parse(req->hello, &hello) < 0)
		return result_error("the join request's hello is malformed");
	if (registry_node_upsert(c->reg, req->joiner_key, hello.hostname[0] ? hello.hostname : NULL,
				 &cfg->coordinator.prefix4, &cfg->coordinator.prefix6, now, &n,
				 &created) < 0)
		return result_error("the coordinator cannot register this node (mesh full?)");
	/* A known node asking again (a lost answer) is no new join. The
	 * entry comes before those of the routes auto_approve approves. */
	audit_actor_node(n.name, &who);
	if ((created &&
	     audit_add(c->reg, &who, "join", n.name, "via invite %" PRIu64 ", id %" PRIu32,
		       req->invite_id, n.id) < 0) ||
	    coord_advertise(c, n.id, hello.routes, hello.n_routes, NULL) < 0 ||
	    registry_node_seen(c->reg, n.id, now, hello.endpoints, hello.n_endpoints) < 0 ||
	    (use_invite && registry_invite_use(c->reg, req->invite_id, n.id, now) < 0))
		result = result_error("the coordinator cannot register this node");
	else
		result = result_ok(c, &n);
	registry_node_clear(&n);
	return result;
}

/* The answer to a join that the registry could not commit (err). */
static json_t *store_error(const struct coordinator *c, int err)
{
	if (err != -ENOSPC)
		return result_error("the coordinator cannot store this node");
	log_err("mesh: a join failed: the disk of state_dir %s is full", c->host.cfg->state_dir);
	return result_error("the coordinator's disk is full: it cannot store this node until "
			    "space is freed in its state_dir");
}

/* The result for a request whose envelope opened; NULL: stay silent. */
static json_t *join_decide(struct coordinator *c, const struct join_request *req, bool stale)
{
	uint8_t hash[INVITE_HASH_LEN];
	struct registry_node known;
	enum invite_state st;
	bool member;

	invite_secret_hash(req->secret, hash);
	st = registry_invite_check(c->reg, req->invite_id, hash, now_s());
	if (st == INVITE_UNKNOWN)
		return NULL;
	if (stale)
		return result_error("the clocks of this node and the coordinator differ by more "
				    "than five minutes");
	if (st == INVITE_EXPIRED)
		return result_error("this invite has expired");
	member = registry_node_by_key(c->reg, req->joiner_key, &known) == 0;
	if (member)
		registry_node_clear(&known);
	/* A node that already used it may ask again (a lost answer, or the
	 * request sent to several endpoints). */
	if (st == INVITE_USED && !member)
		return result_error("this invite has already been used");
	return join_register(c, req, st == INVITE_VALID);
}

static void join_answer(struct coordinator *c, const struct pkt *pkt, const uint8_t key[KEY_LEN],
			const json_t *result, struct pkt_batch *udp_out)
{
	uint8_t nonce[MESH_NONCE_LEN];
	struct pkt *out = pkt_batch_add(udp_out);
	struct mesh_dh dh = mesh_host_dh(&c->host);
	size_t len;

	if (!out)
		return;
	randombytes_buf(nonce, sizeof(nonce));
	if (join_response_create(out->data, pkt_tailroom(out), &len, result, &dh, key, nonce) < 0) {
		udp_out->count--;
		return;
	}
	out->len = (uint32_t)len;
	out->ep = pkt->ep;
	out->ep.relay_via = 0;
}

static void join_cookie_send(struct coordinator *c, const struct pkt *pkt, uint64_t now_ns,
			     struct pkt_batch *udp_out)
{
	struct pkt *out = pkt_batch_add(udp_out);
	size_t len;

	if (!out)
		return;
	if (joingate_cookie_create(&c->gate, out->data, pkt_tailroom(out), &len, pkt->data,
				   pkt->len, &pkt->ep.addr.sa, now_ns) < 0) {
		udp_out->count--;
		return;
	}
	out->len = (uint32_t)len;
	out->ep = pkt->ep;
	out->ep.relay_via = 0;
}

/* The join gate first (joingate.h): only a request that passes it costs an
 * X25519, and only one whose nonce is new costs a registry transaction. */
void coord_on_join(struct coordinator *c, struct pkt *pkt, struct pkt_batch *udp_out)
{
	struct mesh_dh dh = mesh_host_dh(&c->host);
	struct join_request req;
	json_t *result;
	uint64_t now_ns = loop_now();
	int64_t now = now_s();
	int ret;

	switch (joingate_check(&c->gate, pkt->data, pkt->len, &pkt->ep.addr.sa, now_ns, now)) {
	case JOINGATE_SEND_COOKIE:
		join_cookie_send(c, pkt, now_ns, udp_out);
		return;
	case JOINGATE_DROP:
		return;
	case JOINGATE_PASS:
		break;
	}
	ret = join_request_open(pkt->data, pkt->len, &dh, now, &req);
	if (ret < 0 && ret != -ESTALE) {
		joingate_box_failed(&c->gate);
		return;
	}
	if (joingate_remember(&c->gate, join_request_nonce(pkt->data), req.timestamp, now) < 0 ||
	    registry_begin(c->reg) < 0) {
		join_request_clear(&req);
		return;
	}
	result = join_decide(c, &req, ret == -ESTALE);
	if (result && json_is_true(json_object_get(result, "ok"))) {
		ret = registry_commit(c->reg);
		if (ret < 0) {
			json_decref(result);
			result = store_error(c, ret);
		} else {
			log_info("mesh: node %s (id %" JSON_INTEGER_FORMAT ") joined",
				 json_string_value(json_object_get(result, "name")),
				 json_integer_value(json_object_get(result, "id")));
		}
		coord_gate_refresh(c); /* a single-use invite is used now */
		coord_schedule(c);
	} else {
		registry_rollback(c->reg);
	}
	if (result)
		join_answer(c, pkt, req.joiner_key, result, udp_out);
	json_decref(result);
	join_request_clear(&req);
}
