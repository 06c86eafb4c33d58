/* The audit log's actors and entries; see audit.h. */
#include "mesh/audit.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void audit_user_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found && found->pw_name[0])
		snprintf(out, len, "%s", found->pw_name);
	else
		snprintf(out, len, "uid %lu", (unsigned long)uid);
}

void audit_actor_from_request(const json_t *req, struct audit_actor *out)
{
	const json_t *caller = json_object_get(req, "caller");
	const char *user = json_string_value(json_object_get(caller, "user"));
	const json_t *uid = json_object_get(caller, "uid");

	snprintf(out->name, sizeof(out->name), "%s", user && user[0] ? user : "daemon");
	out->uid = user && json_is_integer(uid) ? json_integer_value(uid) : -1;
}

void audit_actor_node(const char *node, struct audit_actor *out)
{
	snprintf(out->name, sizeof(out->name), "node:%s", node);
	out->uid = -1;
}

int audit_add(struct registry *reg, const struct audit_actor *who, const char *action,
	      const char *subject, const char *detail, ...)
{
	char text[REGISTRY_AUDIT_TEXT_MAX + 1] = "";
	va_list ap;

	if (detail) {
		va_start(ap, detail);
		vsnprintf(text, sizeof(text), detail, ap);
		va_end(ap);
	}
	return registry_audit_add(reg, (int64_t)time(NULL), who ? who->name : "daemon",
				  who ? who->uid : -1, action, subject, text);
}

json_t *audit_json(const struct registry_audit *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(
		    arr, json_pack("{s:I, s:I, s:s, s:o, s:s, s:s, s:s}", "id", (json_int_t)v[i].id,
				   "time", (json_int_t)v[i].time, "actor", v[i].actor, "uid",
				   v[i].uid >= 0 ? json_integer(v[i].uid) : json_null(), "action",
				   v[i].action, "subject", v[i].subject, "detail", v[i].detail));
	return arr;
}
