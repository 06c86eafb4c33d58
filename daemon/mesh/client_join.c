/* Joining with an invite; see client_join.h. */
#include "mesh/client_join.h"

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
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mesh/hello.h"
#include "mesh/client_role.h"
#include "mesh/client_ctl.h"
#include "mesh/client_ddns.h"
#include "mesh/client_state.h"
#include "mesh/client_view.h"

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
	/* The datagram has room for little (MESH_JOIN_MAX): the split DNS
	 * offer goes with the first hello on the control channel. */
	json_object_del(req.hello, "dns");
	randombytes_buf(nonce, sizeof(nonce));
	if (req.hello)
		ret = join_request_create(msg, MESH_JOIN_MAX, len, &req, &dh,
					  mc->inv.coordinator_key, nonce);
	if (ret == 0)
		cookie_add_macs(msg, *len, &mc->join_cookie, now_ns());
	join_request_clear(&req);
	return ret;
}

/* Where the request for inv.endpoints[i] goes: a name's answer from the
 * resolver (client_ddns.h; none yet: -EAGAIN), or without a resolver a
 * blocking lookup. */
static int join_target(const struct mesh_client *mc, size_t i, union sockaddr_inet *sa)
{
	const struct endpoint *ep = &mc->inv.endpoints[i];
	const struct client_name *cn = &mc->join_names[i];

	if (ep->numeric || !mc->host.resolver)
		return endpoint_resolve(ep, AF_UNSPEC, sa);
	if (!cn->used || !cn->dn.known)
		return -EAGAIN;
	*sa = cn->dn.addr;
	return 0;
}

void client_join_send(struct mesh_client *mc)
{
	struct pkt_batch *udp_out = mc->host.ops->udp_out(mc->host.ctx);
	uint8_t msg[MESH_JOIN_MAX];
	size_t len;

	if (join_request_build(mc, msg, &len) < 0)
		return;
	for (size_t i = 0; i < mc->inv.n_endpoints; i++) {
		union sockaddr_inet sa;
		struct pkt *pkt;
		if (join_target(mc, i, &sa) < 0)
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
	if (client_prefixes_load(json_object_get(r, "addresses"), mc->addrs, 2, &mc->n_addrs) < 0 ||
	    client_prefixes_load(json_object_get(co, "addresses"), mc->coord_addrs, 2,
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
	client_ddns_coord_reset(mc);
	mc->relay_addr = mc->join_from;
	invite_clear(&mc->inv);
	if (relay_key_derive(mc->relay_key, &dh, mc->coord_key) < 0 || client_state_save(mc) < 0) {
		join_fail(mc, "cannot save the mesh state in state_dir");
		return;
	}
	mc->joined = true;
	mc->join = JOIN_DONE;
	log_info("mesh: joined as %s (node id %u)", mc->name, mc->self_id);
	client_apply_view(mc);
	if (mc->ch)
		client_on_closed(mc, mc->ch);
	mc->next_connect = 0;
	mc->backoff = 0;
}

void client_join_tick(struct mesh_client *mc)
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
	client_join_send(mc);
}
