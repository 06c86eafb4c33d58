/* The data plane's environment overrides (dataplane_options_from_env). */
#include <errno.h>
#include <string.h>

#include "dataplane.h"
#include "testlib.h"

static void test_unset_keeps_config(void)
{
	struct dataplane_options o = { .offloads = true, .crypto_threads = 3 };
	const char *bad = NULL;

	CHECK_EQ_INT(dataplane_options_from_env(&o, NULL, NULL, &bad), 0);
	CHECK(o.offloads);
	CHECK_EQ_INT(o.crypto_threads, 3);
	CHECK(bad == NULL);
}

static void test_switch_words(void)
{
	static const char *const off[] = { "0", "off", "OFF", "false", "No" };
	static const char *const on[] = { "1", "on", "True", "yes" };
	const char *bad = NULL;

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		struct dataplane_options o = { .offloads = true };
		CHECK_EQ_INT(dataplane_options_from_env(&o, off[i], NULL, &bad), 0);
		CHECK(!o.offloads);
	}
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		struct dataplane_options o = { .offloads = false };
		CHECK_EQ_INT(dataplane_options_from_env(&o, on[i], NULL, &bad), 0);
		CHECK(o.offloads);
	}
}

static void test_threads(void)
{
	struct dataplane_options o = { .offloads = true, .crypto_threads = 0 };
	const char *bad = NULL;

	CHECK_EQ_INT(dataplane_options_from_env(&o, NULL, "2", &bad), 0);
	CHECK_EQ_INT(o.crypto_threads, 2);
	CHECK_EQ_INT(dataplane_options_from_env(&o, NULL, "0", &bad), 0);
	CHECK_EQ_INT(o.crypto_threads, 0);
	CHECK_EQ_INT(dataplane_options_from_env(&o, NULL, "16", &bad), 0);
	CHECK_EQ_INT(o.crypto_threads, 16);
}

/* A value not understood names its variable and changes nothing, not even
 * the other, well-formed one. */
static void test_bad_values(void)
{
	static const char *const bad_threads[] = { "",   "-1", "17",
						   "2x", " 2", "99999999999999999999" };
	struct dataplane_options o = { .offloads = true, .crypto_threads = 4 };
	const char *bad = NULL;

	CHECK_EQ_INT(dataplane_options_from_env(&o, "maybe", "2", &bad), -EINVAL);
	CHECK(bad && strcmp(bad, "MESHGATE_OFFLOADS") == 0);
	CHECK(o.offloads);
	CHECK_EQ_INT(o.crypto_threads, 4);
	for (size_t i = 0; i < sizeof(bad_threads) / sizeof(bad_threads[0]); i++) {
		bad = NULL;
		CHECK_EQ_INT(dataplane_options_from_env(&o, "off", bad_threads[i], &bad), -EINVAL);
		CHECK(bad && strcmp(bad, "MESHGATE_CRYPTO_THREADS") == 0);
		CHECK(o.offloads);
		CHECK_EQ_INT(o.crypto_threads, 4);
	}
}

int main(void)
{
	RUN(test_unset_keeps_config);
	RUN(test_switch_words);
	RUN(test_threads);
	RUN(test_bad_values);
	return test_summary();
}
