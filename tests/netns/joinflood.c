/*
 * A paced sender of JOIN_REQUEST-typed datagrams (0x81) for the join flood
 * scenario (test_join_flood.sh); runs inside the attacker's namespace and
 * sends only to the address it is given.
 *
 *   joinflood ADDR PORT RATE SECONDS junk
 *       random bytes after the type word, 100 to 400 bytes
 *   joinflood ADDR PORT RATE SECONDS mac1 COORDINATOR_KEY
 *       well-formed: random joiner key, nonce and box, a valid mac1 keyed
 *       from the coordinator's public key (base64), zero mac2
 *   joinflood ADDR PORT RATE SECONDS replay FILE
 *       the datagram in FILE, again and again
 *
 * Pacing: every millisecond it sends what the rate owes by then (sendmmsg
 * batches), never more than one second's worth late. Prints
 * {"sent": N, "seconds": S} at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "mesh/join.h"

enum { BATCH = 64, JUNK_MIN = 100, JUNK_SPAN = 300, BOX_LEN = 200 };

struct flood {
	int fd;
	const char *mode;
	uint8_t coord[KEY_LEN];
	struct cookie ck;
	uint8_t fixed[MESH_JOIN_MAX];
	size_t fixed_len;
	uint64_t rng;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next(struct flood *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

static void fill(struct flood *f, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = next(f);
		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* One datagram of the mode into buf; its length. */
static size_t make(struct flood *f, uint8_t *buf)
{
	static const uint8_t type[4] = { MESH_JOIN_REQUEST, 0, 0, 0 };
	size_t len;

	if (!strcmp(f->mode, "replay")) {
		memcpy(buf, f->fixed, f->fixed_len);
		return f->fixed_len;
	}
	if (!strcmp(f->mode, "junk")) {
		len = JUNK_MIN + next(f) % JUNK_SPAN;
		fill(f, buf, len);
		memcpy(buf, type, 4);
		return len;
	}
	len = JOIN_REQUEST_FIXED + BOX_LEN;
	fill(f, buf, len);
	memcpy(buf, type, 4);
	buf[JOIN_HEADER_LEN + KEY_LEN - 1] &= 0x7f; /* a canonical key */
	cookie_add_macs(buf, len, &f->ck, 0);
	return len;
}

static int setup(struct flood *f, int argc, char **argv)
{
	FILE *in;

	f->mode = argv[5];
	f->rng = (uint64_t)now_ns() | 1;
	if (!strcmp(f->mode, "junk"))
		return argc == 6 ? 0 : -EINVAL;
	if (!strcmp(f->mode, "mac1")) {
		if (argc != 7 || !key_from_base64(f->coord, argv[6]))
			return -EINVAL;
		cookie_init_labels(&f->ck, f->coord, &join_cookie_labels);
		return 0;
	}
	if (strcmp(f->mode, "replay") || argc != 7 || !(in = fopen(argv[6], "rb")))
		return -EINVAL;
	f->fixed_len = fread(f->fixed, 1, sizeof(f->fixed), in);
	fclose(in);
	return f->fixed_len >= 4 ? 0 : -EINVAL;
}

/* Sends n datagrams in sendmmsg batches; how many went out. */
static uint64_t send_some(struct flood *f, uint64_t n)
{
	static uint8_t bufs[BATCH][MESH_JOIN_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t done = 0;

	while (done < n) {
		unsigned k = n - done < BATCH ? (unsigned)(n - done) : BATCH;
		int sent;
		for (unsigned i = 0; i < k; i++) {
			iov[i] = (struct iovec){ bufs[i], make(f, bufs[i]) };
			msgs[i] =
			    (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		sent = sendmmsg(f->fd, msgs, k, 0);
		if (sent <= 0)
			break;
		done += (unsigned)sent;
	}
	return done;
}

int main(int argc, char **argv)
{
	struct flood f = { 0 };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint64_t rate, seconds, start, end, t, owed, sent = 0;

	if (argc < 6 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || setup(&f, argc, argv)) {
		fprintf(stderr,
			"usage: joinflood ADDR PORT RATE SECONDS junk|mac1 KEY|replay FILE\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = strtoull(argv[3], NULL, 10);
	seconds = strtoull(argv[4], NULL, 10);
	f.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (f.fd < 0 || connect(f.fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("joinflood: socket");
		return 1;
	}
	start = now_ns();
	end = start + seconds * 1000000000ull;
	while ((t = now_ns()) < end) {
		owed = (t - start) / 1000 * rate / 1000000 - sent;
		if (owed > rate)
			owed = rate; /* never more than a second's worth at once */
		sent += send_some(&f, owed);
		usleep(1000);
	}
	printf("{\"sent\": %llu, \"seconds\": %.2f}\n", (unsigned long long)sent,
	       (double)(now_ns() - start) / 1e9);
	close(f.fd);
	return 0;
}
