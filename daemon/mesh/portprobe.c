/* The port probe's wire forms and the node's state machine; see portprobe.h. */
#include "mesh/portprobe.h"

#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

enum {
	NONCE_B64_LEN =
	    sodium_base64_ENCODED_LEN(MESH_PORT_PROBE_NONCE_LEN, sodium_base64_VARIANT_ORIGINAL)
};

_Static_assert(MESH_PORT_PROBE_LEN == 20, "PORT_PROBE is type (4) | nonce (16)");

/* ---- wire forms ---- */

int portprobe_datagram_create(uint8_t *buf, size_t cap, size_t *len,
			      const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	uint32_t type = htole32(MESH_PORT_PROBE);

	if (cap < MESH_PORT_PROBE_LEN)
		return -ENOBUFS;
	memcpy(buf, &type, sizeof(type));
	memcpy(buf + sizeof(type), nonce, MESH_PORT_PROBE_NONCE_LEN);
	*len = MESH_PORT_PROBE_LEN;
	return 0;
}

int portprobe_datagram_consume(const uint8_t *data, size_t len,
			       uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	uint32_t type;

	if (len != MESH_PORT_PROBE_LEN)
		return -EINVAL;
	memcpy(&type, data, sizeof(type));
	if (le32toh(type) != MESH_PORT_PROBE)
		return -EINVAL;
	memcpy(nonce, data + sizeof(type), MESH_PORT_PROBE_NONCE_LEN);
	return 0;
}

static json_t *nonce_json(const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	char b64[NONCE_B64_LEN];

	sodium_bin2base64(b64, sizeof(b64), nonce, MESH_PORT_PROBE_NONCE_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	return json_string(b64);
}

/* Exactly 16 bytes in standard base64, nothing after them. */
static int nonce_parse(const json_t *v, uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN])
{
	const char *text = json_string_value(v), *end = NULL;
	size_t len = 0, n;

	if (!text)
		return -EINVAL;
	n = strlen(text);
	if (sodium_base642bin(nonce, MESH_PORT_PROBE_NONCE_LEN, text, n, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != MESH_PORT_PROBE_NONCE_LEN || end != text + n)
		return -EINVAL;
	return 0;
}

/* A numeric endpoint, normalised to "ip:port". */
static int observed_parse(const json_t *v, char out[SOCKADDR_STR_LEN])
{
	struct endpoint ep;

	if (!json_is_string(v) || endpoint_parse(&ep, json_string_value(v)) < 0 || !ep.numeric)
		return -EINVAL;
	sockaddr_format(&ep.addr, out, SOCKADDR_STR_LEN);
	return 0;
}

json_t *portprobe_request_create(const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN], uint16_t port)
{
	return json_pack("{s:s, s:o, s:i}", "type", "port_probe", "nonce", nonce_json(nonce),
			 "port", (int)port);
}

int portprobe_request_parse(const json_t *msg, uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN],
			    uint16_t *port)
{
	const json_t *p = json_object_get(msg, "port");
	json_int_t v = json_integer_value(p);

	if (!json_is_integer(p) || v < 1 || v > 65535 ||
	    nonce_parse(json_object_get(msg, "nonce"), nonce) < 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

json_t *portprobe_reply_create(const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN], bool sent,
			       const struct endpoint *observed, const char *error)
{
	json_t *msg = json_pack("{s:s, s:o, s:b}", "type", "port_probe_reply", "nonce",
				nonce_json(nonce), "sent", sent);
	char text[SOCKADDR_STR_LEN];

	if (msg && observed && observed->numeric) {
		sockaddr_format(&observed->addr, text, sizeof(text));
		json_object_set_new(msg, "observed", json_string(text));
	}
	if (msg && error)
		json_object_set_new(msg, "error", json_string(error));
	return msg;
}

int portprobe_reply_parse(const json_t *msg, struct portprobe_reply *out)
{
	const json_t *sent = json_object_get(msg, "sent");
	const json_t *observed = json_object_get(msg, "observed");
	const json_t *error = json_object_get(msg, "error");

	memset(out, 0, sizeof(*out));
	if (!json_is_boolean(sent) || nonce_parse(json_object_get(msg, "nonce"), out->nonce) < 0 ||
	    (observed && observed_parse(observed, out->observed) < 0) ||
	    (error && !json_is_string(error))) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	out->sent = json_is_true(sent);
	if (error)
		snprintf(out->error, sizeof(out->error), "%s", json_string_value(error));
	return 0;
}

json_t *portprobe_observed_create(const struct endpoint *ep)
{
	char text[SOCKADDR_STR_LEN];

	if (!ep->numeric)
		return NULL;
	sockaddr_format(&ep->addr, text, sizeof(text));
	return json_pack("{s:s, s:s}", "type", "observed", "endpoint", text);
}

int portprobe_observed_parse(const json_t *msg, char out[SOCKADDR_STR_LEN])
{
	return observed_parse(json_object_get(msg, "endpoint"), out);
}

/* ---- the node's side ---- */

void portprobe_init(struct portprobe *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->reachable = -1;
}

void portprobe_want(struct portprobe *pp)
{
	pp->wanted = true;
}

bool portprobe_due(struct portprobe *pp, uint16_t port, uint64_t now)
{
	if (pp->asked && port != pp->port) {
		pp->outstanding = false;
		pp->reachable = -1;
		pp->wanted = true;
		return true;
	}
	if (pp->outstanding)
		return false;
	if (!pp->asked)
		return pp->wanted;
	if (now - pp->asked_at >= (uint64_t)MESH_PORT_PROBE_PERIOD_S * NSEC_PER_SEC)
		return true;
	return pp->wanted &&
	       now - pp->asked_at >= (uint64_t)MESH_PORT_PROBE_SPACING_S * NSEC_PER_SEC;
}

void portprobe_asked(struct portprobe *pp, const uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN],
		     uint16_t port, uint64_t now)
{
	memcpy(pp->nonce, nonce, MESH_PORT_PROBE_NONCE_LEN);
	pp->asked = true;
	pp->outstanding = true;
	pp->sent = false;
	pp->wanted = false;
	pp->asked_at = now;
	pp->port = port;
}

int portprobe_reply(struct portprobe *pp, const struct portprobe_reply *r)
{
	if (!pp->asked || sodium_memcmp(r->nonce, pp->nonce, MESH_PORT_PROBE_NONCE_LEN) != 0)
		return -ENOENT;
	if (r->observed[0])
		snprintf(pp->observed, sizeof(pp->observed), "%s", r->observed);
	if (!pp->outstanding)
		return 0;
	if (r->sent) {
		pp->sent = true;
	} else {
		pp->outstanding = false;
		pp->wanted = true;
	}
	return 0;
}

void portprobe_observed(struct portprobe *pp, const char *observed)
{
	if (!strcmp(pp->observed, observed))
		return;
	if (pp->observed[0])
		pp->wanted = true;
	snprintf(pp->observed, sizeof(pp->observed), "%s", observed);
}

int portprobe_receive(struct portprobe *pp, const uint8_t *data, size_t len)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];

	if (portprobe_datagram_consume(data, len, nonce) < 0)
		return -EINVAL;
	if (!pp->outstanding || sodium_memcmp(nonce, pp->nonce, sizeof(nonce)) != 0)
		return -ENOENT;
	pp->outstanding = false;
	pp->reachable = 1;
	return 0;
}

void portprobe_tick(struct portprobe *pp, uint64_t now)
{
	if (!pp->outstanding ||
	    now - pp->asked_at < (uint64_t)MESH_PORT_PROBE_TIMEOUT_S * NSEC_PER_SEC)
		return;
	pp->outstanding = false;
	if (pp->sent)
		pp->reachable = 0;
}

void portprobe_lost(struct portprobe *pp)
{
	pp->outstanding = false;
}

/* ---- the coordinator's limit ---- */

bool portprobe_limit_allow(struct portprobe_limit *l, uint32_t node_id, uint64_t now)
{
	const uint64_t interval = (uint64_t)MESH_PORT_PROBE_MIN_INTERVAL_S * NSEC_PER_SEC;
	size_t kept = 0;

	for (size_t i = 0; i < l->n; i++)
		if (now - l->v[i].at < interval)
			l->v[kept++] = l->v[i];
	l->n = kept;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].node_id == node_id)
			return false;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct portprobe_limit_entry *grown = realloc(l->v, cap * sizeof(*grown));
		if (!grown)
			return false;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n++] = (struct portprobe_limit_entry){ .node_id = node_id, .at = now };
	return true;
}

void portprobe_limit_free(struct portprobe_limit *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
