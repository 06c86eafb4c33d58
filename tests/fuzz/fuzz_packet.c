/*
 * Fuzz harness for the engine's whole receive path (wg_device_udp_input):
 * message classification, MAC and cookie checks, handshake consumption, index
 * lookup, decryption, replay window, inner-packet checks.
 *
 * Every input starts from the same state: two in-process engines with an
 * established session (tests/inproc/harness.h). The input is a list of
 * datagrams for B, each "mode byte, length byte pair, bytes":
 *   mode even: the bytes are the datagram, as they are
 *   mode odd:  the bytes are XORed into a copy of a genuine datagram A sent
 *              (the (mode/2)-th captured one), so mutations reach the paths
 *              behind valid indices and MACs
 * After the datagrams, both engines run their timers for a few minutes of
 * fake time. Invariants beyond memory safety: B's TUN only ever receives
 * intact patterned packets, and B still talks to A afterwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(struct harness *h, const uint8_t *data, size_t size)
{
	uint8_t dg[H_SLOT_SIZE - PKT_HEADROOM]; /* what a batch slot holds */

	while (size >= 3) {
		uint8_t mode = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(dg))
			len = sizeof(dg);
		if (mode & 1 && h->captured_count) {
			const struct h_datagram *orig =
			    &h->captured[(mode / 2) % h->captured_count];
			memcpy(dg, orig->data, orig->len);
			for (size_t i = 0; i < len && i < orig->len; i++)
				dg[i] ^= data[i];
			h_udp_input(&h->b, dg, orig->len, &h->a.addr);
		} else {
			memcpy(dg, data, len);
			h_udp_input(&h->b, dg, (uint32_t)len, &h->a.addr);
		}
		data += len;
		size -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = h_new(1);

	if (!h)
		abort();
	h->capture_types = H_ALL_TYPES;
	if (!h_connect(h))
		abort();
	for (uint32_t seq = 1; seq <= 4; seq++)
		h_send(&h->a, seq & 1 ? AF_INET : AF_INET6, seq, 100 + seq);
	h_pump(h);

	feed(h, data, size);
	h_pump(h);
	h_advance(h, 200 * H_SEC);

	/* Only A's genuine packets may ever reach B's TUN. */
	if (h->b.rx_bad)
		abort();
	h_free(h);
	return 0;
}
