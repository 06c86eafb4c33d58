/*
 * The join datagrams (formats in join.h): a request a joiner seals to the
 * coordinator's key with the invite's id and secret, and the coordinator's
 * sealed answer.
 *
 * Boxes are crypto_box (X25519, XSalsa20-Poly1305) through
 * crypto_box_beforenm(), which refuses a low-order public key (an all-zero
 * shared secret): such a key can never open or seal anything here.
 *
 * Both directions share one key and the type word is not authenticated,
 * so a message could be reflected as the other kind; the layouts make that
 * useless: a request's plaintext holds NUL bytes (the high bytes of a
 * present-day timestamp), so it is never a JSON text, and a response's
 * text is no invite secret.
 */
#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/join.h"

enum {
	REQUEST_PLAIN_FIXED = 8 + MESH_SECRET_LEN + 8,
	REQUEST_BOX_AT = JOIN_HEADER_LEN + KEY_LEN + MESH_NONCE_LEN,
	RESPONSE_BOX_AT = JOIN_HEADER_LEN + MESH_NONCE_LEN,
};

_Static_assert(MESH_NONCE_LEN == crypto_box_NONCEBYTES, "nonce length");
_Static_assert(MESH_BOX_OVERHEAD == crypto_box_MACBYTES, "box overhead");
_Static_assert(KEY_LEN == crypto_box_PUBLICKEYBYTES, "X25519 key length");
_Static_assert(JOIN_HELLO_MAX > 0 && JOIN_RESULT_MAX > 0, "join datagrams have room");
_Static_assert(JOIN_NONCE_AT + MESH_NONCE_LEN == REQUEST_BOX_AT, "nonce before the box");

const struct cookie_labels join_cookie_labels = { "mgjoin1-", "mgjcook-" };

static void put_header(uint8_t *buf, uint32_t type)
{
	uint32_t le = htole32(type);

	memcpy(buf, &le, 4);
}

static bool has_header(const uint8_t *msg, size_t len, uint32_t type)
{
	uint32_t le;

	if (len < JOIN_HEADER_LEN)
		return false;
	memcpy(&le, msg, 4);
	return le32toh(le) == type;
}

int mesh_dh_box_key(const struct mesh_dh *dh, const uint8_t pub[32], uint8_t k[32])
{
	static const uint8_t zero[16];
	uint8_t shared[32];
	int ret = -EINVAL;

	if (dh->fn(dh->ctx, shared, pub) && crypto_core_hsalsa20(k, zero, shared, NULL) == 0)
		ret = 0;
	sodium_memzero(shared, sizeof(shared));
	return ret;
}

/* Seals plain[0..n) into out (n + MESH_BOX_OVERHEAD bytes). */
static int seal(uint8_t *out, const uint8_t *plain, size_t n, const uint8_t nonce[MESH_NONCE_LEN],
		const uint8_t pub[KEY_LEN], const struct mesh_dh *dh)
{
	uint8_t k[crypto_box_BEFORENMBYTES];
	int ret = 0;

	if (mesh_dh_box_key(dh, pub, k) < 0)
		ret = -EINVAL;
	else
		crypto_box_easy_afternm(out, plain, n, nonce, k);
	sodium_memzero(k, sizeof(k));
	return ret;
}

/* Opens box[0..n) into plain (n - MESH_BOX_OVERHEAD bytes); -EBADMSG. */
static int unseal(uint8_t *plain, const uint8_t *box, size_t n, const uint8_t nonce[MESH_NONCE_LEN],
		  const uint8_t pub[KEY_LEN], const struct mesh_dh *dh)
{
	uint8_t k[crypto_box_BEFORENMBYTES];
	int ret = -EBADMSG;

	if (n >= MESH_BOX_OVERHEAD && mesh_dh_box_key(dh, pub, k) == 0 &&
	    crypto_box_open_easy_afternm(plain, box, n, nonce, k) == 0)
		ret = 0;
	sodium_memzero(k, sizeof(k));
	return ret;
}

/* A JSON object from untrusted bytes: no NUL, no duplicate keys, nothing
 * after it. */
static json_t *load_object(const uint8_t *text, size_t n)
{
	json_t *v = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);

	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* ---- Request ----------------------------------------------------------- */

/* X25519 ignores the top bit and reduces the rest modulo p = 2^255 - 19, so
 * 2^255 + 19 texts name only 2^255 - 19 keys. The joiner's key becomes its
 * identity in the registry: only the canonical text (top bit clear, below
 * p) is accepted, so one joiner cannot appear under several keys. */
static bool key_canonical(const uint8_t key[KEY_LEN])
{
	if (key[31] & 0x80)
		return false;
	if (key[31] != 0x7f || key[0] < 0xed)
		return true;
	for (size_t i = 1; i < 31; i++)
		if (key[i] != 0xff)
			return true;
	return false;
}

static size_t request_plain(uint8_t *plain, const struct join_request *req, const char *hello,
			    size_t hello_len)
{
	uint64_t id = htole64(req->invite_id), ts = htole64((uint64_t)req->timestamp);

	memcpy(plain, &id, 8);
	memcpy(plain + 8, req->secret, MESH_SECRET_LEN);
	memcpy(plain + 8 + MESH_SECRET_LEN, &ts, 8);
	memcpy(plain + REQUEST_PLAIN_FIXED, hello, hello_len);
	return REQUEST_PLAIN_FIXED + hello_len;
}

int join_request_create(uint8_t *buf, size_t cap, size_t *len, const struct join_request *req,
			const struct mesh_dh *joiner_dh, const uint8_t coordinator_pub[KEY_LEN],
			const uint8_t nonce[MESH_NONCE_LEN])
{
	uint8_t plain[REQUEST_PLAIN_FIXED + JOIN_HELLO_MAX];
	struct cookie ck;
	char *hello;
	size_t hello_len, n;
	int ret;

	if (!json_is_object(req->hello))
		return -EINVAL;
	hello = json_dumps(req->hello, JSON_COMPACT | JSON_SORT_KEYS);
	if (!hello)
		return -ENOMEM;
	hello_len = strlen(hello);
	if (hello_len > JOIN_HELLO_MAX || JOIN_REQUEST_FIXED + hello_len > cap) {
		free(hello);
		return -EMSGSIZE;
	}
	n = request_plain(plain, req, hello, hello_len);
	free(hello);
	put_header(buf, MESH_JOIN_REQUEST);
	memcpy(buf + JOIN_HEADER_LEN, req->joiner_key, KEY_LEN);
	memcpy(buf + JOIN_HEADER_LEN + KEY_LEN, nonce, MESH_NONCE_LEN);
	ret = seal(buf + REQUEST_BOX_AT, plain, n, nonce, coordinator_pub, joiner_dh);
	*len = ret == 0 ? REQUEST_BOX_AT + n + MESH_BOX_OVERHEAD + JOIN_MACS_LEN : 0;
	if (ret == 0) {
		cookie_init_labels(&ck, coordinator_pub, &join_cookie_labels);
		cookie_add_macs(buf, *len, &ck, 0);
	}
	sodium_memzero(plain, sizeof(plain));
	return ret;
}

/* True if ts lies within MESH_JOIN_CLOCK_SKEW seconds of now (no overflow
 * for any pair: the distance is taken as unsigned). */
static bool timestamp_fresh(int64_t ts, int64_t now)
{
	uint64_t d = ts > now ? (uint64_t)ts - (uint64_t)now : (uint64_t)now - (uint64_t)ts;

	return d <= MESH_JOIN_CLOCK_SKEW;
}

static void request_fields(struct join_request *out, const uint8_t *plain)
{
	uint64_t id, ts;

	memcpy(&id, plain, 8);
	memcpy(out->secret, plain + 8, MESH_SECRET_LEN);
	memcpy(&ts, plain + 8 + MESH_SECRET_LEN, 8);
	out->invite_id = le64toh(id);
	out->timestamp = (int64_t)le64toh(ts);
}

int join_request_open(const uint8_t *msg, size_t len, const struct mesh_dh *coordinator_dh,
		      int64_t now, struct join_request *out)
{
	uint8_t plain[MESH_JOIN_MAX];
	const uint8_t *joiner, *nonce;
	size_t n;
	int ret = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (len < JOIN_REQUEST_FIXED || len > MESH_JOIN_MAX ||
	    !has_header(msg, len, MESH_JOIN_REQUEST))
		return -EBADMSG;
	joiner = msg + JOIN_HEADER_LEN;
	nonce = joiner + KEY_LEN;
	n = len - REQUEST_BOX_AT - MESH_BOX_OVERHEAD - JOIN_MACS_LEN;
	if (!key_canonical(joiner))
		return -EBADMSG;
	if (unseal(plain, msg + REQUEST_BOX_AT, len - REQUEST_BOX_AT - JOIN_MACS_LEN, nonce, joiner,
		   coordinator_dh) < 0)
		goto out;
	out->hello = load_object(plain + REQUEST_PLAIN_FIXED, n - REQUEST_PLAIN_FIXED);
	if (!out->hello)
		goto out;
	memcpy(out->joiner_key, joiner, KEY_LEN);
	request_fields(out, plain);
	ret = timestamp_fresh(out->timestamp, now) ? 0 : -ESTALE;
out:
	if (ret == -EBADMSG)
		join_request_clear(out);
	sodium_memzero(plain, sizeof(plain));
	return ret;
}

void join_request_clear(struct join_request *req)
{
	if (!req)
		return;
	json_decref(req->hello);
	sodium_memzero(req, sizeof(*req));
}

/* ---- Cookie ------------------------------------------------------------ */

int join_cookie_create(uint8_t *buf, size_t cap, size_t *len, const uint8_t *msg, size_t msg_len,
		       const uint8_t *src, size_t src_len, struct cookie_checker *checker,
		       uint64_t now_ns, const uint8_t nonce[COOKIE_NONCE_LEN],
		       const uint8_t random_secret[32])
{
	*len = 0;
	if (msg_len < JOIN_REQUEST_FIXED)
		return -EINVAL;
	if (cap < JOIN_COOKIE_LEN)
		return -EMSGSIZE;
	put_header(buf, MESH_JOIN_COOKIE);
	memcpy(buf + JOIN_HEADER_LEN, nonce, COOKIE_NONCE_LEN);
	if (cookie_reply_seal(buf + JOIN_HEADER_LEN + COOKIE_NONCE_LEN, msg, msg_len, src, src_len,
			      checker, now_ns, nonce, random_secret) < 0)
		return -EINVAL;
	*len = JOIN_COOKIE_LEN;
	return 0;
}

int join_cookie_consume(const uint8_t *msg, size_t len, struct cookie *ck, uint64_t now_ns)
{
	if (len != JOIN_COOKIE_LEN || !has_header(msg, len, MESH_JOIN_COOKIE))
		return -EBADMSG;
	return cookie_reply_open(msg + JOIN_HEADER_LEN, msg + JOIN_HEADER_LEN + COOKIE_NONCE_LEN,
				 ck, now_ns);
}

/* ---- Response ---------------------------------------------------------- */

/* The result's text, without its netmap when the whole does not fit in
 * room bytes; NULL when nothing fits (*too_big) or memory runs out. */
static char *result_text(const json_t *result, size_t room, bool *too_big)
{
	char *text = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *slim;

	*too_big = false;
	if (!text || strlen(text) <= room)
		return text;
	free(text);
	text = NULL;
	if (json_object_get(result, "netmap")) {
		slim = json_copy((json_t *)result); /* shallow: members are shared */
		if (!slim || json_object_del(slim, "netmap") < 0) {
			json_decref(slim);
			return NULL;
		}
		text = json_dumps(slim, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(slim);
	}
	if (text && strlen(text) <= room)
		return text;
	free(text);
	*too_big = true;
	return NULL;
}

int join_response_create(uint8_t *buf, size_t cap, size_t *len, const json_t *result,
			 const struct mesh_dh *coordinator_dh, const uint8_t joiner_pub[KEY_LEN],
			 const uint8_t nonce[MESH_NONCE_LEN])
{
	size_t room = cap < MESH_JOIN_MAX ? cap : MESH_JOIN_MAX, n;
	bool too_big;
	char *text;
	int ret;

	*len = 0;
	if (!json_is_boolean(json_object_get(result, "ok")))
		return -EINVAL;
	if (room < JOIN_RESPONSE_FIXED)
		return -EMSGSIZE;
	text = result_text(result, room - JOIN_RESPONSE_FIXED, &too_big);
	if (!text)
		return too_big ? -EMSGSIZE : -ENOMEM;
	n = strlen(text);
	put_header(buf, MESH_JOIN_RESPONSE);
	memcpy(buf + JOIN_HEADER_LEN, nonce, MESH_NONCE_LEN);
	ret = seal(buf + RESPONSE_BOX_AT, (const uint8_t *)text, n, nonce, joiner_pub,
		   coordinator_dh);
	if (ret == 0)
		*len = JOIN_RESPONSE_FIXED + n;
	sodium_memzero(text, n);
	free(text);
	return ret;
}

int join_response_open(const uint8_t *msg, size_t len, const struct mesh_dh *joiner_dh,
		       const uint8_t coordinator_pub[KEY_LEN], json_t **result)
{
	uint8_t plain[MESH_JOIN_MAX];
	json_t *obj = NULL;

	*result = NULL;
	if (len < JOIN_RESPONSE_FIXED || len > MESH_JOIN_MAX ||
	    !has_header(msg, len, MESH_JOIN_RESPONSE))
		return -EBADMSG;
	if (unseal(plain, msg + RESPONSE_BOX_AT, len - RESPONSE_BOX_AT, msg + JOIN_HEADER_LEN,
		   coordinator_pub, joiner_dh) == 0)
		obj = load_object(plain, len - JOIN_RESPONSE_FIXED);
	sodium_memzero(plain, sizeof(plain));
	if (!obj || !json_is_boolean(json_object_get(obj, "ok"))) {
		json_decref(obj);
		return -EBADMSG;
	}
	*result = obj;
	return 0;
}
