/*
 * The device messages of the control channel (mesh/devmsg.h) as the
 * coordinator reads a member's requests and the member reads the replies:
 * round trips, and each refusal one line, with the req kept when there is
 * one to answer, never a crash.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "mesh/devmsg.h"
#include "testlib.h"

static const char *KEY = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

static int parse_text(const char *text, struct devmsg_request *r, char *err, size_t len)
{
	json_t *msg = json_loads(text, JSON_ALLOW_NUL, NULL);
	int ret;

	if (!CHECK(msg))
		return -EBADMSG;
	ret = devmsg_request_parse(msg, r, err, len);
	json_decref(msg);
	return ret;
}

static void test_request_round_trip(void)
{
	struct devmsg_request in = { .kind = DEVMSG_ADD, .req = 7, .exit_node = true }, out;
	char err[256];
	json_t *msg;

	strcpy(in.name, "phone");
	CHECK(key_from_base64(in.public_key, KEY));
	msg = devmsg_request_create(&in);
	if (CHECK(msg) && CHECK_EQ_INT(devmsg_request_parse(msg, &out, err, sizeof(err)), 0)) {
		CHECK(!strcmp(json_string_value(json_object_get(msg, "type")), "device_add"));
		CHECK_EQ_INT(out.kind, DEVMSG_ADD);
		CHECK_EQ_INT(out.req, 7);
		CHECK(!strcmp(out.name, "phone"));
		CHECK_MEM(out.public_key, in.public_key, 32);
		CHECK(out.exit_node);
	}
	json_decref(msg);
	in = (struct devmsg_request){ .kind = DEVMSG_REMOVE, .req = 4294967295u };
	strcpy(in.name, "Laptop-2.home");
	msg = devmsg_request_create(&in);
	if (CHECK(msg) && CHECK_EQ_INT(devmsg_request_parse(msg, &out, err, sizeof(err)), 0)) {
		CHECK_EQ_INT(out.kind, DEVMSG_REMOVE);
		CHECK_EQ_INT(out.req, 4294967295u);
		CHECK(!strcmp(out.name, "Laptop-2.home"));
		CHECK(!json_object_get(msg, "public_key"));
	}
	json_decref(msg);
}

/* Refusals a member can be answered (req readable) and those it cannot. */
static void test_request_refusals(void)
{
	static const struct {
		const char *text;
		unsigned req; /* 0: no answer possible */
		const char *says;
	} cases[] = {
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"bad name\",\"public_key\":\"%K\"}",
		  3, "device name" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"10.0.0.1\",\"public_key\":\"%K\"}",
		  3, "digits and dots" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"\",\"public_key\":\"%K\"}", 3,
		  "device name" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":"
		  "\"a123456789012345678901234567890123456789"
		  "0123456789012345678901234\",\"public_key\":\"%K\"}",
		  3, "device name" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"ph\\u0000one\",\"public_key\":\"%"
		  "K\"}",
		  3, "device name" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":7,\"public_key\":\"%K\"}", 3,
		  "device name" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"phone\"}", 3, "public_key" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"phone\",\"public_key\":\"AAAA\"}",
		  3, "public_key" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"phone\",\"public_key\":null}", 3,
		  "public_key" },
		{ "{\"type\":\"device_add\",\"req\":3,\"name\":\"phone\",\"public_key\":\"%K\","
		  "\"exit_node\":\"yes\"}",
		  3, "exit_node" },
		{ "{\"type\":\"device_remove\",\"req\":9}", 9, "device name" },
		{ "{\"type\":\"device_add\",\"name\":\"phone\",\"public_key\":\"%K\"}", 0, "req" },
		{ "{\"type\":\"device_add\",\"req\":0,\"name\":\"phone\",\"public_key\":\"%K\"}", 0,
		  "req" },
		{ "{\"type\":\"device_add\",\"req\":-1,\"name\":\"phone\",\"public_key\":\"%K\"}",
		  0, "req" },
		{ "{\"type\":\"device_add\",\"req\":4294967296,\"name\":\"phone\"}", 0, "req" },
		{ "{\"type\":\"device_add\",\"req\":\"3\",\"name\":\"phone\"}", 0, "req" },
		{ "{\"type\":\"device_add\",\"req\":1.5,\"name\":\"phone\"}", 0, "req" },
		{ "{\"type\":\"device_list\",\"req\":3}", 3, "not a device request" },
		{ "{\"req\":3}", 3, "not a device request" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], err[256] = "", *k;
		struct devmsg_request r;

		snprintf(text, sizeof(text), "%s", cases[i].text);
		k = strstr(text, "%K");
		if (k) {
			char tail[512];
			snprintf(tail, sizeof(tail), "%s", k + 2);
			snprintf(k, sizeof(text) - (size_t)(k - text), "%s%s", KEY, tail);
		}
		if (!CHECK_EQ_INT(parse_text(text, &r, err, sizeof(err)), -EINVAL)) {
			fprintf(stderr, "  case %zu: %s\n", i, text);
			continue;
		}
		CHECK_EQ_INT(r.req, cases[i].req);
		if (!CHECK(strstr(err, cases[i].says) && !strchr(err, '\n')))
			fprintf(stderr, "  case %zu: '%s'\n", i, err);
	}
}

/* A refusal answered: the reply reads back with the same req and error. */
static void test_reply_round_trip(void)
{
	json_t *device =
	    json_pack("{s:s, s:[s, s], s:s, s:b}", "name", "phone", "addresses", "100.64.0.7/32",
		      "fd7a:6d67:7465::7/128", "hub", "nas", "exit_node", 0);
	json_t *warnings = json_pack("[s]", "the exit of nas is not approved yet");
	json_t *ok = devmsg_reply_create(5, NULL, device, warnings);
	json_t *no = devmsg_reply_create(6, "no device named phone", NULL, NULL);
	struct devmsg_reply r;

	if (CHECK(ok) && CHECK_EQ_INT(devmsg_reply_parse(ok, &r), 0)) {
		CHECK_EQ_INT(r.req, 5);
		CHECK(!r.error[0]);
		CHECK(json_equal((json_t *)r.device, device));
		CHECK(json_equal((json_t *)r.warnings, warnings));
		CHECK(json_is_null(json_object_get(ok, "error")));
	}
	if (CHECK(no) && CHECK_EQ_INT(devmsg_reply_parse(no, &r), 0)) {
		CHECK_EQ_INT(r.req, 6);
		CHECK(!strcmp(r.error, "no device named phone"));
		CHECK(!r.device && !r.warnings);
		CHECK(!json_object_get(no, "warnings"));
	}
	json_decref(ok);
	json_decref(no);
	json_decref(device);
	json_decref(warnings);
}

static void test_reply_refusals(void)
{
	static const char *bad[] = {
		"{\"type\":\"device_reply\",\"error\":null}",
		"{\"type\":\"device_reply\",\"req\":0,\"error\":null}",
		"{\"type\":\"device_reply\",\"req\":2,\"error\":5}",
		"{\"type\":\"device_reply\",\"req\":2,\"error\":null,\"device\":[]}",
		"{\"type\":\"device_reply\",\"req\":2,\"error\":null,\"warnings\":[1]}",
		"{\"type\":\"device_reply\",\"req\":2,\"error\":null,\"warnings\":\"x\"}",
	};
	json_t *msg;
	struct devmsg_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = json_loads(bad[i], 0, NULL);
		if (CHECK(msg) && !CHECK_EQ_INT(devmsg_reply_parse(msg, &r), -EINVAL))
			fprintf(stderr, "  case %zu\n", i);
		json_decref(msg);
	}
	/* An error with a newline and controls reads as one line. */
	msg = json_loads("{\"req\":2,\"error\":\"two\\nlines\\u001b[31m\"}", 0, NULL);
	if (CHECK(msg) && CHECK_EQ_INT(devmsg_reply_parse(msg, &r), 0))
		CHECK(!strcmp(r.error, "two lines [31m"));
	json_decref(msg);
	msg = json_loads("{\"req\":2,\"error\":\"\"}", 0, NULL);
	if (CHECK(msg) && CHECK_EQ_INT(devmsg_reply_parse(msg, &r), 0))
		CHECK(r.error[0]);
	json_decref(msg);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_request_round_trip);
	RUN(test_request_refusals);
	RUN(test_reply_round_trip);
	RUN(test_reply_refusals);
	return test_summary();
}
