/* ICMP echo probes; see ping.h. */
#include "ping.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PAYLOAD_LEN = 32 };

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The Internet checksum (RFC 1071); IPv6's is filled in by the kernel. */
static uint16_t inet_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

int pinger_open(struct pinger *p, const struct prefix *dst)
{
	*p = (struct pinger){ .fd = -1, .family = dst->family };
	if (dst->family == AF_INET) {
		p->dst.in = (struct sockaddr_in){ .sin_family = AF_INET };
		memcpy(&p->dst.in.sin_addr, dst->addr, 4);
		p->fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	} else {
		p->dst.in6 = (struct sockaddr_in6){ .sin6_family = AF_INET6 };
		memcpy(&p->dst.in6.sin6_addr, dst->addr, 16);
		p->fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	}
	if (p->fd < 0)
		return -errno;
	randombytes_buf(&p->id, sizeof(p->id));
	return 0;
}

void pinger_close(struct pinger *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int send_echo(struct pinger *p, uint16_t seq)
{
	uint8_t pkt[sizeof(struct icmphdr) + PAYLOAD_LEN] = { 0 };
	struct icmphdr *h = (struct icmphdr *)pkt;

	h->type = p->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	h->un.echo.id = htons(p->id);
	h->un.echo.sequence = htons(seq);
	memcpy(pkt + sizeof(*h), "meshgate ping", 13);
	if (p->family == AF_INET)
		h->checksum = inet_checksum(pkt, sizeof(pkt));
	if (sendto(p->fd, pkt, sizeof(pkt), 0, &p->dst.sa, sockaddr_len(&p->dst)) < 0)
		return -errno;
	return 0;
}

/* True if buf holds our echo reply for seq. IPv4 raw sockets deliver the IP
 * header too; IPv6 ones do not. */
static bool is_our_reply(const struct pinger *p, const uint8_t *buf, size_t len, uint16_t seq)
{
	const struct icmphdr *h;
	size_t off = 0;

	if (p->family == AF_INET) {
		if (len < sizeof(struct iphdr))
			return false;
		off = (size_t)(buf[0] & 0x0f) * 4;
	}
	if (len < off + sizeof(*h))
		return false;
	h = (const struct icmphdr *)(buf + off);
	return h->type == (p->family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY) &&
	       ntohs(h->un.echo.id) == p->id && ntohs(h->un.echo.sequence) == seq;
}

int pinger_probe(struct pinger *p, uint16_t seq, int timeout_ms, uint64_t *rtt_us)
{
	uint64_t start = now_us(), deadline = start + (uint64_t)timeout_ms * 1000;
	uint8_t buf[1500];
	int ret = send_echo(p, seq);

	while (ret == 0) {
		uint64_t now = now_us();
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
		ret = 0;
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 && is_our_reply(p, buf, (size_t)n, seq)) {
			*rtt_us = now_us() - start;
			return 0;
		}
	}
	return ret;
}
