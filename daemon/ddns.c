/* Following an endpoint's DNS name; see ddns.h. */
#include "ddns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum { NS_PER_S = 1000000000 };

void ddns_init(struct ddns_name *n, const struct endpoint *ep)
{
	*n = (struct ddns_name){ .ep = *ep };
}

bool ddns_due(const struct ddns_name *n, uint64_t now, bool peer_failed)
{
	uint64_t wait = (uint64_t)(peer_failed ? DDNS_RETRY_S : DDNS_INTERVAL_S) * NS_PER_S;

	return !n->asked_at || now - n->asked_at >= wait;
}

void ddns_asked(struct ddns_name *n, uint64_t now)
{
	/* 0 means never. */
	n->asked_at = now ? now : 1;
}

void ddns_name_format(const struct ddns_name *n, char *out, size_t len)
{
	endpoint_format(&n->ep, out, len);
}

static const char *lookup_error(int err)
{
	if (err == -ENOENT)
		return "no such name";
	if (err == -EAGAIN)
		return "no DNS server answered";
	return strerror(-err);
}

static bool answer_holds(const struct resolver_result *res, const union sockaddr_inet *addr)
{
	for (size_t i = 0; i < res->n; i++)
		if (sockaddr_equal(&res->addrs[i], addr))
			return true;
	return false;
}

static enum ddns_outcome take_failure(struct ddns_name *n, const struct resolver_result *res,
				      const char *who)
{
	char name[ENDPOINT_STR_LEN], addr[SOCKADDR_STR_LEN] = "none";

	if (!n->failing) {
		ddns_name_format(n, name, sizeof(name));
		if (n->known)
			sockaddr_format(&n->addr, addr, sizeof(addr));
		log_warn("%s: cannot resolve endpoint name %s: %s; keeping the last address (%s)",
			 who, name, lookup_error(res->err ? res->err : -ENOENT), addr);
	}
	n->failing = true;
	return DDNS_FAILED;
}

enum ddns_outcome ddns_take(struct ddns_name *n, const struct resolver_result *res, time_t wall,
			    const char *who, union sockaddr_inet *was)
{
	char name[ENDPOINT_STR_LEN], now_s[SOCKADDR_STR_LEN], was_s[SOCKADDR_STR_LEN];

	if (res->err || res->n == 0)
		return take_failure(n, res, who);
	ddns_name_format(n, name, sizeof(name));
	if (n->failing)
		log_info("%s: endpoint name %s resolves again", who, name);
	n->failing = false;
	n->resolved_at = wall;
	if (n->known && answer_holds(res, &n->addr))
		return DDNS_SAME;
	if (was) {
		memset(was, 0, sizeof(*was));
		if (n->known)
			*was = n->addr;
	}
	sockaddr_format(&res->addrs[0], now_s, sizeof(now_s));
	if (n->known) {
		sockaddr_format(&n->addr, was_s, sizeof(was_s));
		log_info("%s: endpoint name %s resolves to %s now (was %s)", who, name, now_s,
			 was_s);
	} else {
		log_info("%s: endpoint name %s resolves to %s", who, name, now_s);
	}
	n->addr = res->addrs[0];
	n->known = true;
	return DDNS_NEW;
}
