/*
 * Fuzz harness for the device messages of the control channel (devmsg.h):
 * the input is JSON text, read both as a member's device_add/device_remove
 * (devmsg_request_parse, run by the coordinator on untrusted input) and as
 * the coordinator's device_reply (devmsg_reply_parse, run by a member).
 *
 * Invariants beyond memory safety: a refused request says why on one line,
 * with no key left in the result; an accepted one has a valid name and a
 * req, and written back parses to the same request; an accepted reply's
 * error is one line of printable ASCII, and written back parses to the same
 * reply.
 *
 * Seeds (tests/fuzz/seeds/fuzz_devmsg) are hand-written messages as a member
 * and the coordinator send them, and near misses of each check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/devmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const json_t *msg)
{
	static const uint8_t zero[KEY_LEN];
	struct devmsg_request r, again;
	char err[256] = "";
	json_t *back;

	if (devmsg_request_parse(msg, &r, err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n') || memcmp(r.public_key, zero, KEY_LEN))
			abort();
		return;
	}
	if (!r.req || !devmsg_name_valid(r.name) || (r.kind == DEVMSG_REMOVE && r.exit_node))
		abort();
	back = devmsg_request_create(&r);
	if (!back || devmsg_request_parse(back, &again, err, sizeof(err)) < 0 ||
	    memcmp(&r, &again, sizeof(r)))
		abort();
	json_decref(back);
}

static void check_reply(const json_t *msg)
{
	struct devmsg_reply r, again;
	json_t *back;

	if (devmsg_reply_parse(msg, &r) < 0)
		return;
	for (const char *p = r.error; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			abort();
	back = devmsg_reply_create(r.req, r.error, r.device, r.warnings);
	if (!back || devmsg_reply_parse(back, &again) < 0 || again.req != r.req ||
	    strcmp(again.error, r.error) || !again.device != !r.device ||
	    (r.device && !json_equal((json_t *)again.device, (json_t *)r.device)))
		abort();
	if (json_array_size(r.warnings) &&
	    !json_equal((json_t *)again.warnings, (json_t *)r.warnings))
		abort();
	json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *msg = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);

	if (!json_is_object(msg)) {
		json_decref(msg);
		return 0;
	}
	check_request(msg);
	check_reply(msg);
	json_decref(msg);
	return 0;
}
