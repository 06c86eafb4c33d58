/* The checks of meshgated --check past the parser; see confcheck.h. */
#include "confcheck.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "keys.h"
#include "mesh/client.h"
#include "mesh/client_state.h"
#include "mesh/roles.h"
#include "plan.h"

enum { SETTING_LEN = 96 };

static void vappend(char *buf, size_t len, const struct mg_config *cfg, const char *setting,
		    const char *kind, const char *fmt, va_list ap)
{
	size_t used = strnlen(buf, len);
	unsigned line = config_line(cfg, setting);
	int n;

	if (used + 1 >= len)
		return;
	if (used)
		buf[used++] = '\n';
	n = line ? snprintf(buf + used, len - used, "%s:%u: %s", cfg->source, line, kind)
		 : snprintf(buf + used, len - used, "%s: %s", cfg->source, kind);
	if (n > 0 && (size_t)n < len - used)
		vsnprintf(buf + used + (size_t)n, len - used - (size_t)n, fmt, ap);
	buf[len - 1] = '\0';
}

/* An error about setting, at its line. */
static void __attribute__((format(printf, 4, 5)))
error_at(struct confcheck_out *o, const struct mg_config *cfg, const char *setting, const char *fmt,
	 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(o->err, o->errlen, cfg, setting, "", fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
warn_at(struct confcheck_out *o, const struct mg_config *cfg, const char *setting, const char *fmt,
	...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(o->warn, o->warnlen, cfg, setting, "warning: ", fmt, ap);
	va_end(ap);
}

/* ---- the route plan ---- */

/* The setting a plan message starts with ("subnet_router.routes: ..."). */
static void leading_setting(const char *msg, char out[SETTING_LEN])
{
	size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyz_.");

	snprintf(out, SETTING_LEN, "%.*s", (int)(n < SETTING_LEN ? n : SETTING_LEN - 1), msg);
}

static void check_plan(const struct mg_config *cfg, bool coordinator, struct confcheck_out *o)
{
	bool member = coordinator || mesh_client_wanted(cfg);
	struct plan_peer *peers = calloc(cfg->n_peers + 1, sizeof(*peers));
	struct mg_config alone = *cfg;
	struct prefix_list addrs = { calloc(cfg->addresses.n + 2, sizeof(*addrs.v)), 0 };
	struct plan_host host = { .tun_name = cfg->interface,
				  .mtu = cfg->mtu,
				  .mesh_member = member };
	struct route_plan plan;
	char why[512], setting[SETTING_LEN];

	if (!peers || !addrs.v) {
		error_at(o, cfg, "", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->n_peers; i++)
		peers[i] = (struct plan_peer){ .name = cfg->peers[i].name,
					       .allowed_ips = cfg->peers[i].allowed_ips.v,
					       .n_allowed_ips = cfg->peers[i].allowed_ips.n };
	for (size_t i = 0; i < cfg->addresses.n; i++)
		addrs.v[addrs.n++] = cfg->addresses.v[i];
	/* The coordinator's own addresses lie in its pool, at the pool's length. */
	if (coordinator) {
		addrs.v[addrs.n++] = cfg->coordinator.prefix4;
		addrs.v[addrs.n++] = cfg->coordinator.prefix6;
	}
	alone.addresses = addrs;
	/* The uplink is the host's (preflight's) matter: a stand-in keeps the
	 * plan from refusing an exit node for the lack of one here. */
	snprintf(host.wan_ifname, sizeof(host.wan_ifname), "%s",
		 strcmp(cfg->interface, "uplink") ? "uplink" : "uplink0");
	if (route_plan_compute(&alone, peers, cfg->n_peers, &host, &plan, why, sizeof(why)) < 0) {
		leading_setting(why, setting);
		error_at(o, cfg, setting, "%s", why);
	}
	route_plan_free(&plan);
out:
	free(addrs.v);
	free(peers);
}

/* ---- the role ---- */

/* The role start-up would run, as out->role says; a join it would leave
 * unread is refused there, and here. */
static bool check_role(const struct mg_config *cfg, struct confcheck_out *o)
{
	enum mesh_role_origin origin;
	bool coordinator = mesh_roles_coordinator_wanted(cfg, &origin);
	char from[300], why[512];

	mesh_roles_origin_describe(cfg, origin, from, sizeof(from));
	if (coordinator)
		snprintf(o->role, sizeof(o->role), "coordinator (%s)", from);
	else if (origin != MESH_ROLE_CONFIG)
		snprintf(o->role, sizeof(o->role), "member (%s)", from);
	else if (cfg->join)
		snprintf(o->role, sizeof(o->role), "member (join)");
	else if (mesh_client_wanted(cfg))
		snprintf(o->role, sizeof(o->role), "member (%.200s/%s)", cfg->state_dir,
			 MESH_STATE_FILE);
	else
		snprintf(o->role, sizeof(o->role), "none (no coordinator.enabled, join or %s)",
			 MESH_ROLE_FILE);
	if (mesh_roles_check_join(cfg, why, sizeof(why)) < 0)
		error_at(o, cfg, "join", "%s", why);
	return coordinator;
}

/* ---- files ---- */

/* Whether this process may judge a file it may not read: root can. */
static bool denied_here(int err)
{
	return (err == -EACCES || err == -EPERM) && geteuid() != 0;
}

/* Whether path, missing, can be created: its first existing ancestor is a
 * directory this process may write. 0 or -errno. */
static int creatable(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	int ret;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	do {
		const char *up = dirname(dir); /* in dir, or a static "." or "/" */
		memmove(dir, up, strlen(up) + 1);
		ret = stat(dir, &st) < 0 ? -errno : 0;
	} while (ret == -ENOENT && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0);
	if (ret < 0)
		return ret;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
}

static void file_problem(struct confcheck_out *o, const struct mg_config *cfg, const char *setting,
			 const char *path, int err, const char *why)
{
	if (denied_here(err))
		warn_at(o, cfg, setting, "%s %s: not checked: %s (meshgated runs as root)", setting,
			path, strerror(-err));
	else
		error_at(o, cfg, setting, "%s %s: %s", setting, path, why ? why : strerror(-err));
}

static void check_private_key(const struct mg_config *cfg, struct confcheck_out *o)
{
	uint8_t key[KEY_LEN], pub[KEY_LEN];
	const char *why = NULL;
	char own[512];
	int ret = key_file_load(cfg->private_key_file, key, false, &why);

	if (ret == -ENOENT || ret == -ENOTDIR) {
		/* Start-up creates it, and its directory. */
		ret = creatable(cfg->private_key_file);
		if (ret < 0)
			file_problem(o, cfg, "private_key_file", cfg->private_key_file, ret,
				     ret == -ENOTDIR ? "cannot be created: a parent is not a "
						       "directory"
						     : NULL);
	} else if (ret < 0) {
		file_problem(o, cfg, "private_key_file", cfg->private_key_file, ret, why);
	} else if (!key_public_from_private(pub, key)) {
		error_at(o, cfg, "private_key_file",
			 "private_key_file %s: not a usable private key", cfg->private_key_file);
	} else if (config_check_own_key(cfg, pub, own, sizeof(own)) < 0) {
		/* Already "FILE:LINE: ...". */
		size_t used = strnlen(o->err, o->errlen);
		snprintf(o->err + used, o->errlen - used, "%s%s", used ? "\n" : "", own);
	}
	sodium_memzero(key, sizeof(key));
}

static void check_preshared_keys(const struct mg_config *cfg, struct confcheck_out *o)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const char *path = cfg->peers[i].preshared_key_file, *why = NULL;
		char setting[SETTING_LEN];
		uint8_t psk[KEY_LEN];
		int ret;

		if (!path)
			continue;
		ret = key_file_load(path, psk, false, &why);
		sodium_memzero(psk, sizeof(psk));
		snprintf(setting, sizeof(setting), "peers[%zu].preshared_key_file", i);
		if (ret < 0)
			file_problem(o, cfg, setting, path, ret, why);
	}
}

static void check_state_dir(const struct mg_config *cfg, struct confcheck_out *o)
{
	struct stat st;
	int ret = 0;

	if (stat(cfg->state_dir, &st) == 0)
		ret = S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	else if (errno == ENOENT)
		ret = creatable(cfg->state_dir);
	else
		ret = -errno;
	if (ret < 0)
		file_problem(o, cfg, "state_dir", cfg->state_dir, ret, NULL);
}

/* ---- facts of the running host ---- */

static void check_wan(const struct mg_config *cfg, struct confcheck_out *o)
{
	const char *wan = cfg->exit_node.wan_interface;

	if (cfg->exit_node.enabled && wan[0] && if_nametoindex(wan) == 0)
		warn_at(o, cfg, "exit_node.wan_interface",
			"exit_node.wan_interface '%s' is not an interface of this host "
			"now (a fact of the kernel, not of the file): the exit node forwards "
			"nothing until it exists",
			wan);
}

/* Members take their share of the policy from the coordinator's netmap. */
static void check_policy_role(const struct mg_config *cfg, bool coordinator,
			      struct confcheck_out *o)
{
	if (cfg->policy_present && !coordinator)
		warn_at(o, cfg, "policy",
			"policy counts only on the coordinator: this node enforces the "
			"coordinator's policy and ignores its own");
}

int confcheck_run(const struct mg_config *cfg, struct confcheck_out *out)
{
	bool coordinator;

	if (out->errlen)
		out->err[0] = '\0';
	if (out->warnlen)
		out->warn[0] = '\0';
	coordinator = check_role(cfg, out);
	check_plan(cfg, coordinator, out);
	check_policy_role(cfg, coordinator, out);
	check_private_key(cfg, out);
	check_preshared_keys(cfg, out);
	check_state_dir(cfg, out);
	check_wan(cfg, out);
	return out->errlen && out->err[0] ? -EINVAL : 0;
}
