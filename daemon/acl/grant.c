/* What a rule's destination grants (acl/grant.h). */
#include <strings.h>

#include "acl/grant.h"

const struct acl_member *acl_member_find(const struct acl_mesh *mesh, const char *name)
{
	for (size_t i = 0; name && i < mesh->n_members; i++)
		if (!strcasecmp(mesh->members[i].name, name))
			return &mesh->members[i];
	return NULL;
}

const struct acl_group *acl_group_find(const struct acl_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (!strcasecmp(p->groups[i].name, name))
			return &p->groups[i];
	return NULL;
}

bool acl_target_names(const struct acl_policy *p, const struct acl_target *t,
		      const struct acl_member *m)
{
	const struct acl_group *g;

	if (t->kind == ACL_NAME)
		return !strcasecmp(t->name, m->name);
	if (t->kind != ACL_GROUP || !(g = acl_group_find(p, t->name)))
		return false;
	for (size_t i = 0; i < g->n_members; i++)
		if (!strcasecmp(g->members[i], m->name))
			return true;
	return false;
}

bool acl_rule_from(const struct acl_policy *p, const struct acl_rule *r, const struct acl_member *m)
{
	for (size_t i = 0; i < r->n_from; i++)
		if (r->from[i].kind == ACL_ANY || acl_target_names(p, &r->from[i], m))
			return true;
	return false;
}

struct acl_grant acl_grant_main(const struct acl_rule *r, const struct acl_target *t)
{
	uint8_t protocols = r->protocols;

	if (!protocols && t->n_ports)
		protocols = ACL_PROTO_TCP | ACL_PROTO_UDP;
	return (
	    struct acl_grant){ .protocols = protocols, .ports = t->ports, .n_ports = t->n_ports };
}

bool acl_grant_dns(const struct acl_rule *r, struct acl_grant *out)
{
	static const struct acl_port_range dns = { ACL_DNS_PORT, ACL_DNS_PORT };
	uint8_t protocols = r->protocols ? r->protocols : ACL_PROTO_TCP | ACL_PROTO_UDP;

	*out = (struct acl_grant){ .protocols = protocols & (ACL_PROTO_TCP | ACL_PROTO_UDP),
				   .ports = &dns,
				   .n_ports = 1 };
	return out->protocols != 0;
}

bool acl_any_has_dns(const struct acl_target *t)
{
	for (size_t i = 0; i < t->n_ports; i++)
		if (t->ports[i].lo <= ACL_DNS_PORT && ACL_DNS_PORT <= t->ports[i].hi)
			return true;
	return t->n_ports == 0;
}

bool acl_grant_matches(uint8_t protocols, const struct acl_port_range *ports, size_t n_ports,
		       uint8_t protocol, uint16_t port)
{
	if (protocols && protocol && !(protocols & protocol))
		return false;
	if (protocol == ACL_PROTO_ICMP || !port)
		return true;
	/* A port is TCP's or UDP's. */
	if (protocols && !(protocols & (ACL_PROTO_TCP | ACL_PROTO_UDP)))
		return false;
	for (size_t i = 0; i < n_ports; i++)
		if (ports[i].lo <= port && port <= ports[i].hi)
			return true;
	return n_ports == 0;
}
