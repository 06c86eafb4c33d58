/*
 * The hot path allocates nothing: data both ways, keepalives, a rekey and
 * roaming run without a single malloc, calloc or realloc from our code. The
 * linker routes those calls through the counting wrappers below (see
 * tests/CMakeLists.txt: -Wl,--wrap=...); libraries such as libsodium are not
 * counted, and ASan still sees every allocation through __real_malloc.
 */
#include <stdlib.h>

#include "harness.h"

/* volatile: the compiler assumes malloc leaves our variables alone. */
static volatile unsigned long allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

void *__wrap_malloc(size_t size)
{
	allocations++;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	allocations++;
	return __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	allocations++;
	return __real_realloc(ptr, size);
}

static void exchange(struct harness *h, uint32_t first, uint32_t count)
{
	for (uint32_t s = first; s < first + count; s++) {
		h_send(&h->a, s & 1 ? AF_INET : AF_INET6, s, 64 + s % 1300);
		h_send(&h->b, s & 1 ? AF_INET6 : AF_INET, s, 64 + s % 1300);
		if (s % 4 == 0)
			h_pump(h);
		h_advance(h, 20 * H_MSEC);
	}
	h_pump(h);
}

static void test_wrappers_count(void)
{
	unsigned long before = allocations;
	void *volatile p = malloc(16);

	free(p);
	CHECK_EQ_INT(allocations, before + 1);

	/* The engine's own calls are counted too. */
	struct harness *h = h_new(49);
	uint8_t key[NOISE_PUBLIC_KEY_LEN] = { 9 };
	struct wg_peer *peer;
	before = allocations;
	CHECK_EQ_INT(wg_device_add_peer(h->a.dev, key, &peer), 0);
	CHECK(allocations > before);
	h_free(h);
}

static void test_no_allocation_in_steady_state(void)
{
	struct harness *h = h_new(50);
	unsigned long before;

	CHECK(h_connect(h));
	exchange(h, 1, 100); /* warm up */

	before = allocations;
	exchange(h, 1000, 2000);
	CHECK_EQ_INT(allocations, before);
	CHECK_EQ_INT(h_rx_once(&h->a, 1000, 2999), 2000);
	CHECK_EQ_INT(h_rx_once(&h->b, 1000, 2999), 2000);

	/* Keepalives and the rekey after REKEY_AFTER_TIME, still none. */
	before = allocations;
	unsigned handshakes = h->a.sent[MESSAGE_HANDSHAKE_INITIATION];
	h_advance(h, 60 * H_SEC);
	exchange(h, 3000, 3000);
	CHECK(h->a.sent[MESSAGE_HANDSHAKE_INITIATION] > handshakes);
	CHECK_EQ_INT(allocations, before);
	CHECK_EQ_INT(h_rx_once(&h->b, 3000, 5999), 3000);

	/* Roaming. */
	before = allocations;
	h->b.addr = h_endpoint4(203, 0, 113, 20, 1111);
	exchange(h, 6000, 100);
	CHECK_EQ_INT(allocations, before);
	CHECK_EQ_INT(h_rx_once(&h->a, 6000, 6099), 100);
	h_free(h);
}

int main(void)
{
	RUN(test_wrappers_count);
	RUN(test_no_allocation_in_steady_state);
	return test_summary();
}
