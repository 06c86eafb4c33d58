/*
 * A member's table of device requests (mesh/devreq.h) on a fake clock:
 * numbers, matching replies, unknown and repeated replies ignored, the
 * 15 s timeout, outcomes kept 60 s, a full table, a closed connection.
 */
#include <string.h>

#include "mesh/devreq.h"
#include "testlib.h"

#define S 1000000000ULL

static struct devmsg_request add_of(const char *name)
{
	struct devmsg_request r = { .kind = DEVMSG_ADD };

	snprintf(r.name, sizeof(r.name), "%s", name);
	return r;
}

static struct devmsg_reply reply_of(uint32_t req, const char *error, const json_t *device)
{
	struct devmsg_reply r = { .req = req, .device = device };

	snprintf(r.error, sizeof(r.error), "%s", error ? error : "");
	return r;
}

static void test_numbers_and_matching(void)
{
	struct devreq_table t;
	struct devmsg_request m = add_of("phone");
	json_t *device = json_pack("{s:s}", "name", "phone");
	struct devmsg_reply r;
	struct devreq *a, *b;
	uint32_t ra, rb;

	devreq_init(&t, UINT32_MAX);
	a = devreq_open(&t, &m, 100 * S);
	b = devreq_open(&t, &m, 100 * S);
	if (!CHECK(a && b)) {
		devreq_free(&t);
		json_decref(device);
		return;
	}
	ra = a->msg.req;
	rb = b->msg.req;
	CHECK_EQ_INT(ra, UINT32_MAX);
	CHECK_EQ_INT(rb, 1); /* 0 is never a number */
	CHECK(!strcmp(a->msg.name, "phone"));
	/* An unknown req: ignored, nothing changes. */
	r = reply_of(77, NULL, device);
	CHECK(!devreq_answer(&t, &r, 101 * S));
	r = reply_of(0, NULL, device);
	CHECK(!devreq_answer(&t, &r, 101 * S));
	CHECK_EQ_INT(devreq_find(&t, ra, 101 * S)->state, DEVREQ_PENDING);
	/* The second one answered first, with an error; the first with a device. */
	r = reply_of(rb, "no device named phone", NULL);
	CHECK(devreq_answer(&t, &r, 102 * S));
	r = reply_of(ra, NULL, device);
	CHECK(devreq_answer(&t, &r, 102 * S));
	a = devreq_find(&t, ra, 103 * S);
	b = devreq_find(&t, rb, 103 * S);
	if (CHECK(a && b)) {
		CHECK_EQ_INT(a->state, DEVREQ_DONE);
		CHECK(json_equal(a->device, device) && a->device != device);
		CHECK_EQ_INT(b->state, DEVREQ_FAILED);
		CHECK(!strcmp(b->error, "no device named phone"));
	}
	/* A second reply for an answered request changes nothing. */
	r = reply_of(rb, NULL, device);
	CHECK(!devreq_answer(&t, &r, 104 * S));
	CHECK_EQ_INT(devreq_find(&t, rb, 104 * S)->state, DEVREQ_FAILED);
	devreq_free(&t);
	json_decref(device);
}

/* An add answered without a device fails; a remove needs none. */
static void test_add_needs_device(void)
{
	struct devreq_table t;
	struct devmsg_request m = add_of("phone");
	struct devmsg_reply r;
	struct devreq *d;
	uint32_t add, rm;

	devreq_init(&t, 1);
	add = devreq_open(&t, &m, S)->msg.req;
	m.kind = DEVMSG_REMOVE;
	rm = devreq_open(&t, &m, S)->msg.req;
	r = reply_of(add, NULL, NULL);
	CHECK(devreq_answer(&t, &r, S));
	r = reply_of(rm, NULL, NULL);
	CHECK(devreq_answer(&t, &r, S));
	d = devreq_find(&t, add, S);
	CHECK(d && d->state == DEVREQ_FAILED);
	d = devreq_find(&t, rm, S);
	CHECK(d && d->state == DEVREQ_DONE && !d->device);
	devreq_free(&t);
}

static void test_timeout_and_keep(void)
{
	struct devreq_table t;
	struct devmsg_request m = add_of("phone");
	json_t *device = json_pack("{s:s}", "name", "phone");
	struct devmsg_reply r;
	struct devreq *d;
	uint32_t req, late;

	devreq_init(&t, 1);
	req = devreq_open(&t, &m, 10 * S)->msg.req;
	d = devreq_find(&t, req, 10 * S + (DEVREQ_TIMEOUT_S * S - 1));
	CHECK(d && d->state == DEVREQ_PENDING);
	d = devreq_find(&t, req, 10 * S + DEVREQ_TIMEOUT_S * S);
	if (CHECK(d)) {
		CHECK_EQ_INT(d->state, DEVREQ_FAILED);
		CHECK(!strcmp(d->error, "the coordinator did not answer"));
	}
	/* A reply after the timeout is ignored. */
	r = reply_of(req, NULL, device);
	CHECK(!devreq_answer(&t, &r, 26 * S));
	CHECK_EQ_INT(devreq_find(&t, req, 26 * S)->state, DEVREQ_FAILED);
	/* The outcome is kept 60 s from when it came, then forgotten. */
	CHECK(devreq_find(&t, req, 25 * S + DEVREQ_KEEP_S * S - 1));
	CHECK(!devreq_find(&t, req, 25 * S + DEVREQ_KEEP_S * S));
	/* A done one too. */
	late = devreq_open(&t, &m, 200 * S)->msg.req;
	r = reply_of(late, NULL, device);
	CHECK(devreq_answer(&t, &r, 201 * S));
	CHECK(devreq_find(&t, late, 260 * S));
	CHECK(!devreq_find(&t, late, 261 * S));
	devreq_free(&t);
	json_decref(device);
}

/* Eight waiting requests fill the table; an outcome's slot is reused,
 * the oldest first. */
static void test_full_table(void)
{
	struct devreq_table t;
	struct devmsg_request m = add_of("phone");
	uint32_t req[DEVREQ_SLOTS];
	struct devmsg_reply r;

	devreq_init(&t, 1);
	for (size_t i = 0; i < DEVREQ_SLOTS; i++) {
		struct devreq *d = devreq_open(&t, &m, S);
		if (!CHECK(d)) {
			devreq_free(&t);
			return;
		}
		req[i] = d->msg.req;
	}
	CHECK(!devreq_open(&t, &m, 2 * S));
	r = reply_of(req[5], "refused", NULL);
	CHECK(devreq_answer(&t, &r, 3 * S));
	r = reply_of(req[2], "refused", NULL);
	CHECK(devreq_answer(&t, &r, 4 * S));
	CHECK(devreq_open(&t, &m, 5 * S));
	CHECK(!devreq_find(&t, req[5], 5 * S)); /* the older outcome went */
	CHECK(devreq_find(&t, req[2], 5 * S));
	CHECK(devreq_open(&t, &m, 5 * S));
	CHECK(!devreq_open(&t, &m, 5 * S));
	/* Past the timeout every slot has an outcome and can be taken. */
	CHECK(devreq_open(&t, &m, 5 * S + DEVREQ_TIMEOUT_S * S));
	devreq_free(&t);
}

static void test_connection_closed(void)
{
	struct devreq_table t;
	struct devmsg_request m = add_of("phone");
	struct devreq *d;
	uint32_t req;

	devreq_init(&t, 1);
	req = devreq_open(&t, &m, S)->msg.req;
	devreq_fail_pending(&t, "the connection to the coordinator closed", 2 * S);
	d = devreq_find(&t, req, 2 * S);
	CHECK(d && d->state == DEVREQ_FAILED && strstr(d->error, "closed"));
	d = devreq_open(&t, &m, 3 * S);
	req = d->msg.req;
	devreq_drop(d);
	CHECK(!devreq_find(&t, req, 3 * S));
	devreq_free(&t);
}

int main(void)
{
	RUN(test_numbers_and_matching);
	RUN(test_add_needs_device);
	RUN(test_timeout_and_keep);
	RUN(test_full_table);
	RUN(test_connection_closed);
	return test_summary();
}
