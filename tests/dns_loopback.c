/*
 * dns_answer_local() on a loopback port, for dig (unit/test_dns_dig.sh):
 * binds UDP and TCP on 127.0.0.1 at one free port, prints the port, and
 * answers from the fixture zone (dns_testlib.h: home and laptop, the record
 * switch, big with 32 IPv6 addresses; the default domain and mesh networks) until killed or
 * for 60 s. Forwarded queries get no answer. Not the daemon's server: one
 * query at a time, TCP connections served one by one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dns/answer.h"
#include "dns_testlib.h"

static void serve_udp(int fd, const struct dns_zone *z)
{
	static uint8_t in[DNS_ANSWER_TCP_MAX], out[DNS_ANSWER_EDNS_SIZE];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	struct dns_reply r;
	ssize_t n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);

	if (n > 0 &&
	    dns_answer_local(z, in, (size_t)n, DNS_UDP, out, sizeof(out), &r) == DNS_ANSWER_REPLY)
		sendto(fd, out, r.len, 0, (struct sockaddr *)&from, flen);
}

static bool read_all(int fd, uint8_t *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* One message per connection: length, query; length, response. */
static void serve_tcp(int lfd, const struct dns_zone *z)
{
	static uint8_t in[DNS_ANSWER_TCP_MAX], out[2 + DNS_ANSWER_TCP_MAX];
	struct timeval tv = { .tv_sec = 5 };
	struct dns_reply r;
	uint8_t len[2];
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_all(fd, len, 2) && read_all(fd, in, (size_t)(len[0] << 8 | len[1])) &&
	    dns_answer_local(z, in, (size_t)(len[0] << 8 | len[1]), DNS_TCP, out + 2,
			     sizeof(out) - 2, &r) == DNS_ANSWER_REPLY) {
		out[0] = (uint8_t)(r.len >> 8);
		out[1] = (uint8_t)r.len;
		if (write(fd, out, r.len + 2) < 0)
			perror("write");
	}
	close(fd);
}

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sa);
	struct dns_zone *z = dns_test_zone(1);
	int udp = socket(AF_INET, SOCK_DGRAM, 0), tcp = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (!z || udp < 0 || tcp < 0 || bind(udp, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(udp, (struct sockaddr *)&sa, &slen) < 0 ||
	    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(tcp, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(tcp, 8) < 0) {
		perror("dns_loopback");
		return 1;
	}
	printf("%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	alarm(60);
	for (;;) {
		struct pollfd p[2] = { { .fd = udp, .events = POLLIN },
				       { .fd = tcp, .events = POLLIN } };

		if (poll(p, 2, -1) < 0)
			break;
		if (p[0].revents & POLLIN)
			serve_udp(udp, z);
		if (p[1].revents & POLLIN)
			serve_tcp(tcp, z);
	}
	dns_zone_free(z);
	return 0;
}
