/*
 * What one destination of a rule grants, shared by the compiler (compile.c)
 * and the checker (check.c) so that the two read the policy alike:
 *   main grant   the target's ports, with the rule's protocols (TCP and UDP
 *                when ports are given and the rule names none)
 *   DNS grant    port 53 over the rule's TCP and UDP: "dns", the resolver
 *                that comes with "exit", and "*" when its ports take 53
 */
#ifndef MESHGATE_ACL_GRANT_H
#define MESHGATE_ACL_GRANT_H

#include "acl/acl.h"

enum { ACL_DNS_PORT = 53 };

struct acl_grant {
	uint8_t protocols; /* 0: every protocol */
	const struct acl_port_range *ports;
	size_t n_ports; /* 0: every port */
};

const struct acl_member *acl_member_find(const struct acl_mesh *mesh, const char *name);
const struct acl_group *acl_group_find(const struct acl_policy *p, const char *name);

/* Whether target t names member m (a name, or a group holding its name). */
bool acl_target_names(const struct acl_policy *p, const struct acl_target *t,
		      const struct acl_member *m);

/* Whether member m is among the rule's sources. */
bool acl_rule_from(const struct acl_policy *p, const struct acl_rule *r,
		   const struct acl_member *m);

struct acl_grant acl_grant_main(const struct acl_rule *r, const struct acl_target *t);

/* False when the rule's protocols leave neither TCP nor UDP. */
bool acl_grant_dns(const struct acl_rule *r, struct acl_grant *out);

/* Whether "*" with t's ports carries the DNS grant. */
bool acl_any_has_dns(const struct acl_target *t);

/* Whether a grant (or an entry with the same fields) lets protocol (one
 * ACL_PROTO_* bit, 0: any) to port (0: any) through. */
bool acl_grant_matches(uint8_t protocols, const struct acl_port_range *ports, size_t n_ports,
		       uint8_t protocol, uint16_t port);

#endif
