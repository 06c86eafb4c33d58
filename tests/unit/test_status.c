/*
 * The status snapshot (daemon/status.h, node_status.h): views read the
 * published document and do no work of their own (no engine walk, and no
 * preflight system checks, which open a netlink socket and read /proc); the
 * node republishes after a change, on its timer, and for the control socket.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "node.h"
#include "node_status.h"
#include "node_web.h"
#include "preflight.h"
#include "status.h"
#include "testlib.h"
#include "webui/metrics.h"

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return loop_now();
}

static void fake_wall(void *ctx, struct timespec *ts)
{
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, ts);
}

static void fake_random(void *ctx, void *buf, size_t len)
{
	static uint8_t next = 1;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = next++;
}

static void stop_loop(void *ctx)
{
	loop_stop(ctx);
}

static const struct wg_env env = { fake_now, fake_wall, fake_random, NULL };

/* A node with an engine, a loop and the config's defaults; no TUN, no
 * socket, no mesh role, no web server. */
static void node_init(struct node *node)
{
	uint8_t key[KEY_LEN];

	memset(node, 0, sizeof(*node));
	CHECK(config_defaults(&node->cfg) == 0);
	node->cfg.web.enabled = false;
	snprintf(node->cfg.hostname, sizeof(node->cfg.hostname), "unit");
	node->loop = loop_new();
	node->dev = wg_device_new(&env, 1280);
	fake_random(NULL, key, sizeof(key));
	CHECK(node->dev && wg_device_set_private_key(node->dev, key) == 0);
	memcpy(node->public_key, node->dev->identity.static_public, KEY_LEN);
	node->dp.tun.fd = -1;
	node->dp.udp.fd = -1;
	snprintf(node->dp.tun.name, sizeof(node->dp.tun.name), "mgunit0");
}

static void node_fini(struct node *node)
{
	node_web_stop(node);
	wg_device_free(node->dev);
	loop_free(node->loop);
	config_free(&node->cfg);
}

static json_int_t sessions(const json_t *doc)
{
	return json_integer_value(
	    json_object_get(json_object_get(doc, "daemon"), "sessions_established"));
}

static void test_board(void)
{
	struct status_board b = { 0 };
	json_t *one = json_object(), *two = json_object(), *got;

	CHECK(status_board_get(&b) == NULL);
	status_board_publish(&b, one);
	got = status_board_get(&b);
	CHECK(got == one && b.published == 1);
	status_board_publish(&b, NULL); /* a failed build keeps the last one */
	CHECK(b.doc == one && b.published == 1);
	status_board_publish(&b, two);
	CHECK(b.doc == two && b.published == 2);
	/* The reader's reference outlives the replacement. */
	CHECK(got->refcount == 1 && json_is_object(got));
	json_decref(got);
	status_board_clear(&b);
	CHECK(status_board_get(&b) == NULL);
}

/* Requests read the snapshot: the same document, no system checks, no
 * engine walk, however many there are. */
static void test_requests_do_no_work(void)
{
	struct node node;
	unsigned long runs;
	json_t *first;

	node_init(&node);
	CHECK(node_status_current(&node) == NULL);
	runs = preflight_system_runs;
	node_web_sync(&node); /* what node.c calls after each apply */
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	first = node_status_current(&node);
	CHECK(first && json_array_size(json_object_get(first, "preflight")) == PREFLIGHT_CHECKS);

	node.dev->stats.sessions_established = 42;
	for (int i = 0; i < 200; i++) {
		json_t *doc = node_status_current(&node);     /* GET /api/status */
		char *text = metrics_render(doc, time(NULL)); /* GET /metrics */
		CHECK(doc == first && text);
		free(text);
		json_decref(doc);
	}
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	CHECK_EQ_INT(sessions(first), 0);
	json_decref(first);
	node_fini(&node);
}

/* The node republishes: after a change with fresh system checks; for the
 * control socket and on its timer with the counters alone. */
static void test_republished(void)
{
	uint8_t peer_key[KEY_LEN];
	struct wg_peer *peer = NULL;
	unsigned long runs;
	struct node node;
	json_t *doc, *next = NULL;

	node_init(&node);
	node_web_sync(&node);
	doc = node_status_current(&node);
	CHECK(json_array_size(json_object_get(doc, "peers")) == 0);
	json_decref(doc);

	fake_random(NULL, peer_key, sizeof(peer_key));
	CHECK(wg_device_add_peer(node.dev, peer_key, &peer) == 0);
	wg_peer_set_name(peer, "tab");
	runs = preflight_system_runs;
	node_web_sync(&node);
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	doc = node_status_current(&node);
	CHECK(json_array_size(json_object_get(doc, "peers")) == 1);
	CHECK(!strcmp(json_string_value(json_object_get(
			  json_array_get(json_object_get(doc, "peers"), 0), "name")),
		      "tab"));

	node.dev->stats.sessions_established = 7;
	node_status_refresh(&node); /* the control socket's status */
	next = node_status_current(&node);
	CHECK(next != doc && sessions(next) == 7);
	CHECK_EQ_INT(preflight_system_runs, runs + 1);
	json_decref(doc);

	/* The timer: run the loop until a tick publishes, boundedly. */
	node.dev->stats.sessions_established = 8;
	for (int i = 0; i < 20 && sessions(next) != 8; i++) {
		json_decref(next);
		struct loop_timer *t = loop_timer_add(node.loop, loop_now() + 500 * 1000 * 1000ULL,
						      stop_loop, node.loop);
		loop_run(node.loop);
		loop_timer_del(node.loop, t);
		next = node_status_current(&node);
	}
	CHECK_EQ_INT(sessions(next), 8);
	json_decref(next);
	node_fini(&node);
}

int main(void)
{
	RUN(test_board);
	RUN(test_requests_do_no_work);
	RUN(test_republished);
	return test_summary();
}
