/*
 * The coordinator's control server (daemon/mesh/ctlserver.c) with a
 * member's device requests, on a coordinator running on a fake host
 * (mesh_fake_host.h) in a temporary state_dir, the member's connection a
 * socketpair: device_add registers the device with the member as its hub;
 * each refusal (bad name, missing key, an exit the member does not offer,
 * another hub's device) is answered with its req and one line, a request
 * without a req gets no answer, malformed requests never stop the server,
 * and a burst runs out of the member's device bucket.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keys.h"
#include "loop.h"
#include "mesh/coordinator.h"
#include "mesh/coordinator_role.h"
#include "mesh/ctlserver.h"
#include "mesh/devices.h"
#include "mesh/roles.h"
#include "mesh_fake_host.h"
#include "testlib.h"

static struct fake_coordinator fx;

/* laptop's end of its control channel, and what came in on it. */
static struct {
	int fd;
	char in[1 << 20];
	size_t in_len;
} member;

static int setup(void)
{
	char text[32];
	uint8_t r[2];
	int sv[2];

	if (fake_coordinator_init(&fx, "ctlserver") < 0)
		return -1;
	/* A random prefix: the control listener binds to its first address. */
	randombytes_buf(r, sizeof(r));
	snprintf(text, sizeof(text), "10.%u.%u.0/24", r[0], r[1]);
	if (prefix_parse(&fx.cfg.coordinator.prefix4, text) < 0 || fake_coordinator_start(&fx) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    coord_conn_open(fx.c, sv[0], fx.laptop) < 0)
		return -1;
	member.fd = sv[1];
	return 0;
}

static void teardown(void)
{
	fake_coordinator_stop(&fx);
	close(member.fd);
}

static void stop_loop(void *ctx)
{
	loop_stop(ctx);
}

/* Runs the loop for about 10 ms. */
static void pump(void)
{
	struct loop_timer *t = loop_timer_add(fx.loop, loop_now() + 10000000, stop_loop, fx.loop);

	if (t) {
		loop_run(fx.loop);
		loop_timer_del(fx.loop, t);
	}
}

static void send_line(const char *line)
{
	size_t n = strlen(line);

	if (write(member.fd, line, n) != (ssize_t)n || write(member.fd, "\n", 1) != 1)
		abort();
}

/* The next device_reply (netmaps and the rest skipped); NULL after a
 * generous bound. */
static json_t *next_reply(void)
{
	for (int round = 0; round < 300; round++) {
		ssize_t n;
		char *nl;

		pump();
		while ((n = read(member.fd, member.in + member.in_len,
				 sizeof(member.in) - member.in_len)) > 0)
			member.in_len += (size_t)n;
		while ((nl = memchr(member.in, '\n', member.in_len))) {
			json_t *msg = json_loadb(member.in, (size_t)(nl - member.in), 0, NULL);
			const char *type = json_string_value(json_object_get(msg, "type"));

			member.in_len -= (size_t)(nl + 1 - member.in);
			memmove(member.in, nl + 1, member.in_len);
			if (type && !strcmp(type, "device_reply"))
				return msg;
			json_decref(msg);
		}
	}
	return NULL;
}

/* Sends line and checks the reply: its req, and the error holding want
 * (NULL: a success). Returns the reply. */
static json_t *ask(const char *line, json_int_t req, const char *want)
{
	json_t *reply;
	const char *error;

	send_line(line);
	reply = next_reply();
	if (!CHECK(reply)) {
		fprintf(stderr, "  no reply to %s\n", line);
		return NULL;
	}
	error = json_string_value(json_object_get(reply, "error"));
	CHECK_EQ_INT(json_integer_value(json_object_get(reply, "req")), req);
	if (want ? !CHECK(error && strstr(error, want) && !strchr(error, '\n'))
		 : !CHECK(json_is_null(json_object_get(reply, "error"))))
		fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", line, error ? error : "(null)",
			want ? want : "(null)");
	return reply;
}

static const char *KEY_55 = "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=";

static void test_member_add_and_refusals(void)
{
	struct registry_device d;
	char line[256], err[256];
	json_t *reply, *device = NULL, *warnings = json_array();
	uint8_t key[KEY_LEN];

	snprintf(line, sizeof(line),
		 "{\"type\":\"device_add\",\"req\":1,\"name\":\"tab\",\"public_key\":\"%s\"}",
		 KEY_55);
	reply = ask(line, 1, NULL);
	if (CHECK(reply)) {
		const json_t *dev = json_object_get(reply, "device");
		CHECK(!strcmp(json_string_value(json_object_get(dev, "name")), "tab"));
		CHECK(!strcmp(json_string_value(json_object_get(dev, "hub")), "laptop"));
		CHECK_EQ_INT(json_array_size(json_object_get(dev, "addresses")), 2);
	}
	json_decref(reply);
	if (CHECK_EQ_INT(registry_device_by_name(fx.c->reg, "tab", &d), 0))
		CHECK_EQ_INT(d.hub_id, fx.laptop);
	/* Refusals, each answered with its req. */
	json_decref(ask("{\"type\":\"device_add\",\"req\":2,\"name\":\"bad name\","
			"\"public_key\":\"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\"}",
			2, "not a valid device name"));
	json_decref(ask("{\"type\":\"device_add\",\"req\":3,\"name\":\"pad\"}", 3, "public_key"));
	json_decref(ask("{\"type\":\"device_add\",\"req\":4,\"name\":\"pad\",\"public_key\":[],"
			"\"exit_node\":{}}",
			4, "public_key"));
	snprintf(line, sizeof(line),
		 "{\"type\":\"device_add\",\"req\":5,\"name\":\"pad\",\"public_key\":\"%s\","
		 "\"exit_node\":true}",
		 "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=");
	json_decref(ask(line, 5, "laptop offers no exit node"));
	json_decref(ask(line, 5, "laptop offers no exit node")); /* the same req again */
	/* Another hub's device stays. */
	memset(key, 0x66, sizeof(key));
	if (CHECK_EQ_INT(coord_device_add(fx.c, coordinator_self_id(fx.c), "nasdev", key, false,
					  NULL, &device, warnings, err, sizeof(err)),
			 0))
		json_decref(
		    ask("{\"type\":\"device_remove\",\"req\":6,\"name\":\"nasdev\"}", 6, "nasdev"));
	CHECK_EQ_INT(registry_device_by_name(fx.c->reg, "nasdev", &d), 0);
	/* Without a req: no answer; the next request's is the next reply. */
	send_line("{\"type\":\"device_add\",\"name\":\"pad\",\"public_key\":\"x\"}");
	send_line("{\"type\":\"device_remove\",\"req\":0,\"name\":\"pad\"}");
	send_line("{\"type\":\"device_remove\",\"req\":\"7\",\"name\":\"pad\"}");
	json_decref(ask("{\"type\":\"device_remove\",\"req\":8,\"name\":\"tab\"}", 8, NULL));
	CHECK(registry_device_by_name(fx.c->reg, "tab", &d) < 0);
	json_decref(device);
	json_decref(warnings);
}

/* Device requests past parsing take a token of the member's device bucket;
 * a burst past THROTTLE_DEVICE_BURST is refused, not queued. */
static void test_burst_refused(void)
{
	unsigned refused = 0, answered = 0;
	char line[128];

	for (int i = 0; i < THROTTLE_DEVICE_BURST + 2; i++) {
		json_t *reply;
		const char *error;

		snprintf(line, sizeof(line),
			 "{\"type\":\"device_remove\",\"req\":%d,\"name\":\"none%d\"}", 100 + i, i);
		send_line(line);
		reply = next_reply();
		if (!CHECK(reply))
			break;
		answered++;
		error = json_string_value(json_object_get(reply, "error"));
		if (error && strstr(error, "too many device requests"))
			refused++;
		json_decref(reply);
	}
	CHECK_EQ_INT(answered, THROTTLE_DEVICE_BURST + 2);
	CHECK(refused >= 2);
	/* The connection stays up through all of it. */
	CHECK(fx.c->conns && fx.c->conns->node_id == fx.laptop);
}

int main(void)
{
	if (sodium_init() < 0 || setup() < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	RUN(test_member_add_and_refusals);
	RUN(test_burst_refused);
	teardown();
	return test_summary();
}
