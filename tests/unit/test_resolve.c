/*
 * Name resolution off the loop (daemon/resolve.c), with names that need no
 * DNS server: "localhost" from /etc/hosts and numeric addresses. Results
 * come back on the loop with the port asked for, IPv4 first; a family that
 * does not match is -ENOENT; bad hosts are refused; a cancelled lookup's
 * callback never runs, also when the cancel comes from another callback of
 * the same batch; freeing the resolver with lookups queued calls nothing.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "resolve.h"
#include "testlib.h"

#define SEC 1000000000ULL

struct rig {
	struct loop *loop;
	struct resolver *res;
	int calls;
	int want;
	struct resolver_result last;
	char last_host[ENDPOINT_HOST_MAX + 1];
	void *cancel_in_cb; /* the callback cancels this ctx */
};

static void on_result(void *ctx, const char *host, uint16_t port, const struct resolver_result *res)
{
	struct rig *r = *(struct rig **)ctx;

	(void)port;
	r->calls++;
	r->last = *res;
	snprintf(r->last_host, sizeof(r->last_host), "%s", host);
	if (r->cancel_in_cb)
		resolver_cancel(r->res, r->cancel_in_cb);
	if (r->calls >= r->want)
		loop_stop(r->loop);
}

static void on_guard(void *ctx)
{
	loop_stop(ctx);
}

/* Runs the loop until want callbacks came or 10 s passed. */
static void run_until(struct rig *r, int want)
{
	struct loop_timer *guard =
	    loop_timer_add(r->loop, loop_now() + 10 * SEC, on_guard, r->loop);

	r->want = want;
	loop_run(r->loop);
	loop_timer_del(r->loop, guard);
}

/* Waits (bounded) until the worker has finished everything queued. */
static void wait_idle(struct rig *r)
{
	for (int i = 0; i < 1000 && resolver_pending(r->res) > 0; i++)
		usleep(10000);
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop_new();
	r->res = resolver_new(r->loop);
	CHECK(r->loop && r->res);
}

static void rig_free(struct rig *r)
{
	resolver_free(r->res);
	loop_free(r->loop);
}

static void test_names(void)
{
	struct rig r;
	struct rig *self = &r;
	char text[SOCKADDR_STR_LEN];

	rig_init(&r);
	CHECK_EQ_INT(resolver_lookup(r.res, "localhost", 53, AF_UNSPEC, on_result, &self), 0);
	run_until(&r, 1);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(r.last.err, 0);
	CHECK(r.last.n >= 1);
	sockaddr_format(&r.last.addrs[0], text, sizeof(text));
	CHECK(strcmp(text, "127.0.0.1:53") == 0);
	CHECK(strcmp(r.last_host, "localhost") == 0);

	CHECK_EQ_INT(resolver_lookup(r.res, "2001:db8::1", 41641, AF_UNSPEC, on_result, &self), 0);
	run_until(&r, 2);
	CHECK_EQ_INT(r.last.err, 0);
	CHECK_EQ_INT(r.last.n, 1);
	sockaddr_format(&r.last.addrs[0], text, sizeof(text));
	CHECK(strcmp(text, "[2001:db8::1]:41641") == 0);

	CHECK_EQ_INT(resolver_lookup(r.res, "192.0.2.7", 1, AF_INET6, on_result, &self), 0);
	run_until(&r, 3);
	CHECK_EQ_INT(r.last.err, -ENOENT);
	CHECK_EQ_INT(r.last.n, 0);
	rig_free(&r);
}

static void test_refused(void)
{
	struct rig r;
	struct rig *self = &r;
	char long_host[ENDPOINT_HOST_MAX + 2];

	rig_init(&r);
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	CHECK_EQ_INT(resolver_lookup(r.res, "", 1, AF_UNSPEC, on_result, &self), -EINVAL);
	CHECK_EQ_INT(resolver_lookup(r.res, long_host, 1, AF_UNSPEC, on_result, &self), -EINVAL);
	CHECK_EQ_INT(resolver_lookup(r.res, "localhost", 1, AF_PACKET, on_result, &self), -EINVAL);
	CHECK_EQ_INT(resolver_pending(r.res), 0);
	rig_free(&r);
}

static void test_cancel(void)
{
	struct rig r;
	struct rig *a = &r, *b = &r, *c = &r;

	rig_init(&r);
	/* Finished but not yet handed out: cancel drops it. */
	CHECK_EQ_INT(resolver_lookup(r.res, "192.0.2.1", 1, AF_INET, on_result, &a), 0);
	CHECK_EQ_INT(resolver_lookup(r.res, "192.0.2.2", 1, AF_INET, on_result, &b), 0);
	wait_idle(&r);
	resolver_cancel(r.res, &a);
	run_until(&r, 1);
	CHECK_EQ_INT(r.calls, 1);
	CHECK(strcmp(r.last_host, "192.0.2.2") == 0);

	/* b's callback (slot 0) cancels c (slot 1) of the same batch. */
	r.calls = 0;
	r.cancel_in_cb = &c;
	CHECK_EQ_INT(resolver_lookup(r.res, "192.0.2.3", 1, AF_INET, on_result, &b), 0);
	CHECK_EQ_INT(resolver_lookup(r.res, "192.0.2.4", 1, AF_INET, on_result, &c), 0);
	wait_idle(&r);
	run_until(&r, 1); /* the rest of the batch is handed out in the same round */
	CHECK_EQ_INT(r.calls, 1);
	CHECK(strcmp(r.last_host, "192.0.2.3") == 0);
	rig_free(&r);
}

static void test_free_with_queue(void)
{
	struct rig r;
	struct rig *self = &r;
	char host[32];

	rig_init(&r);
	for (int i = 0; i < RESOLVER_QUEUE; i++) {
		snprintf(host, sizeof(host), "192.0.2.%d", i + 10);
		CHECK_EQ_INT(resolver_lookup(r.res, host, 1, AF_INET, on_result, &self), 0);
	}
	rig_free(&r);
	CHECK_EQ_INT(r.calls, 0);
}

int main(void)
{
	RUN(test_names);
	RUN(test_refused);
	RUN(test_cancel);
	RUN(test_free_with_queue);
	return test_summary();
}
