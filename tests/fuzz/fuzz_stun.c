/*
 * Fuzz harness for the STUN response parser (stun_parse_response, run by
 * the coordinator on any datagram stun_is_message() accepts on its UDP
 * port, from anyone).
 *
 * Invariants beyond memory safety: an accepted response is a STUN message,
 * its mapped address is IPv4 or IPv6, and the transaction id is the one in
 * the header; a refused one leaves the address zeroed.
 *
 * Seeds (tests/fuzz/seeds/fuzz_stun): RFC 5769's two sample responses, a
 * MAPPED-ADDRESS only response, an error response and a bare request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const union sockaddr_inet zero;
	uint8_t txid[STUN_TXID_LEN];
	union sockaddr_inet sa;
	int ret = stun_parse_response(data, size, txid, &sa);

	if (ret == 0) {
		if (!stun_is_message(data, size) || memcmp(txid, data + 8, STUN_TXID_LEN))
			abort();
		if (sa.sa.sa_family != AF_INET && sa.sa.sa_family != AF_INET6)
			abort();
	} else if (memcmp(&sa, &zero, sizeof(sa))) {
		abort();
	}
	return 0;
}
