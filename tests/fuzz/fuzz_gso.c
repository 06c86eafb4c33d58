/*
 * Fuzz harness for segmentation offload (gso_split on a buffer read from a
 * TUN with IFF_VNET_HDR, which the local kernel writes; gso_coalesce on
 * decrypted packets, which any peer chooses).
 *
 * First byte even: the rest is one virtio_net_hdr + packet for gso_split.
 * First byte odd: the rest is packets, each behind a 2-byte big-endian
 * length, for gso_coalesce.
 *
 * Invariants beyond memory safety: a split GSO packet yields segments whose
 * IP lengths match their size and whose IPv4 header and L4 checksums verify,
 * with no more payload than went in; coalesce keeps every byte (each merged
 * output splits back into valid segments, and the bytes out equal the bytes
 * in), and a refused split names its reason. gso_split_part, a few slots
 * at a time, gives the same segments as the whole split (and goes on where
 * that runs out of slots); an in-place coalesce equals the one into separate
 * buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "io/gso.h"

enum { SLOTS = 64, CAP = GSO_VNET_HDR_LEN + GSO_MAX_PACKET };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mem[SLOTS][CAP], mem2[SLOTS][CAP];
static struct gso_buf out[SLOTS], back[SLOTS];

/* Lengths and checksums of one segment that gso_split produced. */
static void check_segment(const uint8_t *p, size_t len)
{
	size_t iph, l4len;
	uint8_t ph[4];
	uint32_t sum;

	if (len < 20)
		abort();
	if (p[0] >> 4 == 4) {
		iph = (size_t)(p[0] & 15) * 4;
		if (get_be16(p + 2) != len || gso_csum_fold(gso_csum_add(0, p, iph)) != 0xffff)
			abort();
		sum = gso_csum_add(0, p + 12, 8);
	} else {
		iph = 40;
		if (get_be16(p + 4) + iph != len)
			abort();
		sum = gso_csum_add(0, p + 8, 32);
	}
	l4len = len - iph;
	ph[0] = 0;
	ph[1] = p[0] >> 4 == 4 ? p[9] : p[6];
	ph[2] = (uint8_t)(l4len >> 8);
	ph[3] = (uint8_t)l4len;
	sum = gso_csum_add(sum, ph, 4);
	if (gso_csum_fold(gso_csum_add(sum, p + iph, l4len)) != 0xffff)
		abort();
}

/* Part by part, step slots at a time, into back[]: the same segments as
 * out[0 .. n-1] when the whole split worked (n > 0), else valid ones. */
static void fuzz_split_part(const uint8_t *data, size_t size, int n, size_t step)
{
	size_t first = 0, total = 0;
	enum gso_reason why;

	for (;;) {
		int m = gso_split_part(data, size, first, back, step, &total, &why);

		if (m < 0) {
			/* Refused whole, or a later segment with no room: never
			 * after the whole split worked (its slots are as large). */
			if (n > 0 || why == GSO_OK)
				abort();
			return;
		}
		if (m == 0) {
			if (first != total || (n > 0 && total != (size_t)n))
				abort();
			return;
		}
		if ((size_t)m > step || first + (size_t)m > total)
			abort();
		for (int j = 0; j < m; j++) {
			size_t i = first + (size_t)j;

			if (n > 0 && (back[j].len != out[i].len ||
				      memcmp(back[j].data, out[i].data, back[j].len)))
				abort();
			if (n <= 0)
				check_segment(back[j].data, back[j].len);
		}
		first += (size_t)m;
	}
}

static void fuzz_split(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	enum gso_reason why;
	int n = gso_split(data, size, out, SLOTS, &why);

	fuzz_split_part(data, size, n, 1 + size % 13);
	if (n < 0) {
		if (why == GSO_OK || !gso_reason_str(why))
			abort();
		return;
	}
	if (n == 0 || n > SLOTS || size < GSO_VNET_HDR_LEN)
		abort();
	memcpy(&h, data, sizeof(h));
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (n != 1 || out[0].len != size - GSO_VNET_HDR_LEN)
			abort();
		return;
	}
	for (int i = 0; i < n; i++) {
		if (out[i].len > out[i].cap || (i + 1 < n && out[i].len != out[0].len))
			abort();
		check_segment(out[i].data, out[i].len);
	}
}

/* The same inputs, each at offset 32 of its own slot, coalesced in place:
 * the same n outputs as out[], byte for byte. Clobbers back[]. */
static void fuzz_coalesce_in_place(const struct gso_buf *in, size_t nin, int n)
{
	static struct gso_buf at[SLOTS], place[SLOTS];

	for (size_t i = 0; i < nin; i++) {
		at[i] = (struct gso_buf){ .data = back[i].data + 32, .len = in[i].len };
		memcpy(at[i].data, in[i].data, in[i].len);
		place[i] = back[i];
	}
	if (gso_coalesce(at, nin, place, nin) != n)
		abort();
	for (int i = 0; i < n; i++)
		if (place[i].len != out[i].len || memcmp(place[i].data, out[i].data, out[i].len))
			abort();
}

static void fuzz_coalesce(const uint8_t *data, size_t size)
{
	static struct gso_buf in[SLOTS];
	size_t nin = 0, bytes_in = 0, bytes_out = 0;
	enum gso_reason why;
	int n;

	while (size >= 2 && nin < SLOTS) {
		size_t len = get_be16(data);

		if (len > size - 2)
			len = size - 2;
		in[nin] = (struct gso_buf){ .data = (uint8_t *)data + 2, .len = len };
		bytes_in += len;
		nin++;
		data += 2 + len;
		size -= 2 + len;
	}
	n = gso_coalesce(in, nin, out, SLOTS);
	if (n < 0 || (size_t)n > nin)
		abort();
	for (int i = 0; i < n; i++) {
		struct virtio_net_hdr h;
		int m;

		memcpy(&h, out[i].data, sizeof(h));
		if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			bytes_out += out[i].len - GSO_VNET_HDR_LEN;
			continue;
		}
		if (out[i].len > GSO_VNET_HDR_LEN + GSO_MAX_COALESCED)
			abort();
		m = gso_split(out[i].data, out[i].len, back, SLOTS, &why);
		if (m < 2)
			abort();
		for (int j = 0; j < m; j++) {
			check_segment(back[j].data, back[j].len);
			bytes_out += back[j].len;
		}
	}
	if (bytes_in != bytes_out)
		abort();
	fuzz_coalesce_in_place(in, nin, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!out[0].data)
		for (int i = 0; i < SLOTS; i++) {
			out[i] = (struct gso_buf){ .data = mem[i], .cap = CAP };
			back[i] = (struct gso_buf){ .data = mem2[i], .cap = CAP };
		}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_coalesce(data + 1, size - 1);
	else
		fuzz_split(data + 1, size - 1);
	return 0;
}
