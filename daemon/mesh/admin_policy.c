/* The coordinator's policy commands; see admin.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl/acl.h"
#include "mesh/admin.h"
#include "mesh/apply.h"
#include "mesh/coordinator_role.h"
#include "mesh/views.h"

static json_t *refuse(struct coordinator *c, const char **error, const char *text)
{
	snprintf(c->err, sizeof(c->err), "%s", text);
	*error = c->err;
	return NULL;
}

/* "proto" (absent, "*", "tcp", "udp", "icmp") and "port" (absent, 0..65535)
 * of a policy_check request into q; false when either is off. */
static bool query_proto(const json_t *req, struct acl_query *q)
{
	const json_t *proto = json_object_get(req, "proto"), *port = json_object_get(req, "port");
	const char *name = json_string_value(proto);

	if (proto && !name)
		return false;
	if (name && !strcasecmp(name, "tcp"))
		q->protocol = ACL_PROTO_TCP;
	else if (name && !strcasecmp(name, "udp"))
		q->protocol = ACL_PROTO_UDP;
	else if (name && !strcasecmp(name, "icmp"))
		q->protocol = ACL_PROTO_ICMP;
	else if (name && strcmp(name, "*"))
		return false;
	if (!port)
		return true;
	if (!json_is_integer(port) || json_integer_value(port) < 0 ||
	    json_integer_value(port) > 65535)
		return false;
	q->port = (uint16_t)json_integer_value(port);
	return q->port == 0 || !(q->protocol & ACL_PROTO_ICMP);
}

json_t *coordinator_policy_check(struct coordinator *c, const json_t *req, const char **error)
{
	struct acl_query q = { .from = json_string_value(json_object_get(req, "from")),
			       .to = json_string_value(json_object_get(req, "to")) };
	struct acl_verdict v = { 0 };
	int ret;

	if (!q.from || !q.to)
		return refuse(c, error, "policy check: FROM and TO, please");
	if (!query_proto(req, &q))
		return refuse(c, error,
			      "policy check: PROTO:PORT is tcp:N, udp:N, icmp or N (1-65535)");
	ret = coord_policy_check(c, &q, &v);
	if (ret == -ENOENT)
		return refuse(c, error, v.reason);
	if (ret < 0)
		return refuse(c, error, "policy check: cannot read the registry");
	return json_pack("{s:b, s:I, s:I, s:s, s:s, s:I}", "allowed", v.allowed, "rule",
			 (json_int_t)v.rule, "line", (json_int_t)v.line, "reason", v.reason,
			 "default", c->policy.def == ACL_DEFAULT_DENY ? "deny" : "allow",
			 "revision", (json_int_t)c->policy_revision);
}

json_t *coordinator_policy_show(struct coordinator *c, const char **error)
{
	struct netmap nm;
	json_t *doc;

	coord_policy_sync(c);
	if (coord_self_netmap(c, &nm) < 0)
		return refuse(c, error, "policy show: cannot read the registry");
	doc = mesh_apply_policy_json(nm.policy.present ? &nm.policy : NULL);
	netmap_free(&nm);
	return doc;
}
