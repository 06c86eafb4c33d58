/*
 * Routes and policy rules: reconciles the kernel to the plan over
 * rtnetlink. What is ours is found by its tags (plan_types.h): routes in
 * ROUTE_TABLE with protocol ROUTE_PROTOCOL, rules with a priority in
 * RULE_PRIORITY_FIRST .. RULE_PRIORITY_LAST. Everything else is left alone.
 *
 * Changes go out in batches (many requests per sendmsg(), answers collected
 * after), so ten thousand routes cost a few hundred system calls, not ten
 * thousand round trips. Routes are created exclusively: a route the kernel
 * already holds in ROUTE_TABLE under another protocol is a conflict, reported
 * by name, never replaced.
 */
#ifndef MESHGATE_ROUTER_ROUTE_H
#define MESHGATE_ROUTER_ROUTE_H

#include <stddef.h>

#include "plan_types.h"

struct nl_sock;

/*
 * Makes the kernel's routes in ROUTE_TABLE with protocol ROUTE_PROTOCOL
 * exactly `routes`, IPv4 and IPv6: PLAN_ROUTE_TUN through tun_ifindex,
 * PLAN_ROUTE_UNREACHABLE as type unreachable without a device. Routes
 * already right are not touched; unwanted ones are deleted before missing
 * ones are added. (IPv6 stores metric 0 as 1024, and so does the compare.)
 * 0 or -errno with errbuf naming the route that failed (-EEXIST: another
 * route holds its place in ROUTE_TABLE).
 */
int route_reconcile(struct nl_sock *sk, unsigned tun_ifindex, const struct plan_route *routes,
		    size_t n, char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/*
 * Makes the rules with a priority in our band exactly `rules`, compared by
 * every selector the kernel reports (a band rule with a selector the plan
 * does not have is someone else's mistake and goes). Added rules carry
 * protocol ROUTE_PROTOCOL. 0 or -errno with errbuf naming the rule; -EINVAL
 * for a planned rule outside the band.
 */
int rule_reconcile(struct nl_sock *sk, const struct plan_rule *rules, size_t n, char *errbuf,
		   size_t errlen) __attribute__((warn_unused_result));

/* Remove every route in ROUTE_TABLE with ROUTE_PROTOCOL, or every rule in
 * the band (stop and --cleanup). Idempotent. 0 or -errno. */
int route_remove_all(struct nl_sock *sk) __attribute__((warn_unused_result));
int rule_remove_all(struct nl_sock *sk) __attribute__((warn_unused_result));

/* Writes the rule in `ip rule` terms: "5310: not fwmark 0x4d0000/0xff0000
 * lookup 41641" (with "inet6" for IPv6). */
void rule_format(const struct plan_rule *r, char *out, size_t len);

#endif
