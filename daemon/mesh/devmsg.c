/* The device messages of the control channel; see devmsg.h. */
#include "mesh/devmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mesh/alloc.h"

bool devmsg_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= NETMAP_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789-_.") == n &&
	       !alloc_name_numeric(name);
}

json_t *devmsg_request_create(const struct devmsg_request *r)
{
	char key[KEY_B64_LEN + 1];

	if (r->kind == DEVMSG_REMOVE)
		return json_pack("{s:s, s:I, s:s}", "type", "device_remove", "req",
				 (json_int_t)r->req, "name", r->name);
	key_to_base64(key, r->public_key);
	return json_pack("{s:s, s:I, s:s, s:s, s:b}", "type", "device_add", "req",
			 (json_int_t)r->req, "name", r->name, "public_key", key, "exit_node",
			 r->exit_node);
}

/* 1..2^32-1, else 0. */
static uint32_t req_of(const json_t *msg)
{
	const json_t *v = json_object_get(msg, "req");
	json_int_t req = json_is_integer(v) ? json_integer_value(v) : 0;

	return req >= 1 && req <= UINT32_MAX ? (uint32_t)req : 0;
}

static int request_fields(const json_t *msg, struct devmsg_request *out, const char **why)
{
	const json_t *v = json_object_get(msg, "name");
	const char *name = json_string_value(v);
	const char *key = json_string_value(json_object_get(msg, "public_key"));
	const json_t *exit_node = json_object_get(msg, "exit_node");

	if (!name || json_string_length(v) != strlen(name) || !devmsg_name_valid(name)) {
		*why = "not a valid device name (1 to 63 letters, digits, '-', '_' or '.', "
		       "not digits and dots alone)";
		return -EINVAL;
	}
	memcpy(out->name, name, strlen(name) + 1);
	if (out->kind == DEVMSG_REMOVE)
		return 0;
	if (!key || !key_from_base64(out->public_key, key)) {
		*why = "public_key: not a WireGuard public key (base64 of 32 bytes)";
		return -EINVAL;
	}
	if (exit_node && !json_is_boolean(exit_node)) {
		*why = "exit_node: not true or false";
		return -EINVAL;
	}
	out->exit_node = json_is_true(exit_node);
	return 0;
}

int devmsg_request_parse(const json_t *msg, struct devmsg_request *out, char *errbuf, size_t errlen)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *why = NULL;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	out->req = req_of(msg);
	if (type && !strcmp(type, "device_add"))
		out->kind = DEVMSG_ADD;
	else if (type && !strcmp(type, "device_remove"))
		out->kind = DEVMSG_REMOVE;
	else
		why = "not a device request";
	if (!why && !out->req)
		why = "req: not a number from 1 to 4294967295";
	if (!why)
		ret = request_fields(msg, out, &why);
	if (ret < 0) {
		snprintf(errbuf, errlen, "%s", why);
		memset(out->public_key, 0, sizeof(out->public_key));
	}
	return ret;
}

json_t *devmsg_reply_create(uint32_t req, const char *error, const json_t *device,
			    const json_t *warnings)
{
	json_t *msg = json_pack("{s:s, s:I, s:o}", "type", "device_reply", "req", (json_int_t)req,
				"error", error && *error ? json_string(error) : json_null());

	if (msg && device)
		json_object_set(msg, "device", (json_t *)device);
	if (msg && json_array_size(warnings))
		json_object_set(msg, "warnings", (json_t *)warnings);
	return msg;
}

/* One line of printable ASCII, cut at the buffer's size. */
static void one_line(char *out, size_t len, const char *in)
{
	size_t i;

	for (i = 0; i + 1 < len && in[i]; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : ' ';
	out[i] = '\0';
}

static bool warnings_valid(const json_t *v)
{
	size_t i;
	json_t *w;

	if (!json_is_array(v) || json_array_size(v) > DEVMSG_MAX_WARNINGS)
		return false;
	json_array_foreach(v, i, w)
	{
		if (!json_is_string(w))
			return false;
	}
	return true;
}

int devmsg_reply_parse(const json_t *msg, struct devmsg_reply *out)
{
	const json_t *error = json_object_get(msg, "error");
	const json_t *device = json_object_get(msg, "device");
	const json_t *warnings = json_object_get(msg, "warnings");

	memset(out, 0, sizeof(*out));
	out->req = req_of(msg);
	if (!out->req || (error && !json_is_null(error) && !json_is_string(error)) ||
	    (device && !json_is_null(device) && !json_is_object(device)) ||
	    (warnings && !json_is_null(warnings) && !warnings_valid(warnings)))
		return -EINVAL;
	if (json_is_string(error))
		one_line(out->error, sizeof(out->error),
			 json_string_length(error) ? json_string_value(error) : "refused");
	out->device = json_is_object(device) ? device : NULL;
	out->warnings = json_is_array(warnings) ? warnings : NULL;
	return 0;
}
