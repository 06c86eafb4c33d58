/* The OS resolver pointed at the mesh's and put back; see osresolver.h. */
#include "dns/osresolver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns/resolvconf.h"
#include "log.h"

const char *osresolver_method_name(enum osresolver_method m)
{
	return m == OSRESOLVER_RESOLVED      ? "resolved"
	       : m == OSRESOLVER_RESOLV_CONF ? "resolv.conf"
					     : NULL;
}

void osresolver_init(struct osresolver *r, const char *state_dir, int ifindex)
{
	*r = (struct osresolver){ .ifindex = ifindex };
	snprintf(r->resolv_conf, sizeof(r->resolv_conf), "%s", RESOLVCONF_PATH);
	snprintf(r->saved, sizeof(r->saved), "%s/%s", state_dir, RESOLVCONF_SAVED);
}

/* Keeps err as the failure; logs it when it is new. */
static void fail(struct osresolver *r, const char *err)
{
	if (strcmp(r->error, err) != 0)
		log_err("dns.manage_resolv_conf: %s", err);
	snprintf(r->error, sizeof(r->error), "%s", err);
}

static bool link_equal(const struct resolved_link *a, const struct resolved_link *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void set_resolved(struct osresolver *r, const struct resolved_want *want)
{
	struct resolved_link link;
	char err[512];

	resolved_link_make(want, &link);
	if (r->managed && link_equal(&link, &r->link))
		return;
	if (resolved_apply(r->bus, r->ifindex, &link, err, sizeof(err)) < 0) {
		fail(r, err);
		return;
	}
	if (!r->managed)
		log_info("systemd-resolved sends the queries of %s%s to the mesh resolver",
			 want->exit_node ? "every name" : "the mesh domain ",
			 want->exit_node ? "" : link.domains[0].name);
	r->link = link;
	r->managed = true;
	r->error[0] = '\0';
}

static void set_resolv_conf(struct osresolver *r, const struct resolved_want *want)
{
	struct resolvconf_want w = { .domain = want->domain, .v6 = want->v6 };
	char err[512];
	int ret = resolvconf_apply(r->resolv_conf, r->saved, &w, !r->managed, err, sizeof(err));

	if (ret == -EBUSY) {
		/* Another program's file now: not ours to write or put back. */
		r->managed = false;
		r->given_up = true;
	}
	if (ret < 0) {
		fail(r, err);
		return;
	}
	if (!r->managed)
		log_info("%s points at the mesh resolver (the original is in %s)", r->resolv_conf,
			 r->saved);
	r->managed = true;
	r->error[0] = '\0';
}

/* Picks the method when management starts. */
static void choose(struct osresolver *r)
{
	if (r->method != OSRESOLVER_NONE)
		return;
	r->bus = resolved_connect();
	r->method = r->bus ? OSRESOLVER_RESOLVED : OSRESOLVER_RESOLV_CONF;
}

static void put_back(struct osresolver *r)
{
	char err[512] = "";
	int ret;

	if (r->managed && r->method == OSRESOLVER_RESOLVED) {
		if (resolved_revert(r->bus, r->ifindex, err, sizeof(err)) < 0)
			log_err("dns.manage_resolv_conf: %s", err);
	} else if (r->managed && r->method == OSRESOLVER_RESOLV_CONF) {
		ret = resolvconf_restore(r->resolv_conf, r->saved, err, sizeof(err));
		if (ret == RESOLVCONF_RESTORED)
			log_info("%s put back as it was before meshgated", r->resolv_conf);
		else if (ret < 0 || ret == RESOLVCONF_LEFT_ALONE)
			log_err("dns.manage_resolv_conf: %s", err);
	}
	r->managed = false;
	r->given_up = false;
	r->error[0] = '\0';
	resolved_disconnect(r->bus);
	r->bus = NULL;
	r->method = OSRESOLVER_NONE;
}

void osresolver_set(struct osresolver *r, const struct resolved_want *want)
{
	if (!want) {
		put_back(r);
		return;
	}
	if (r->given_up)
		return;
	choose(r);
	if (r->method == OSRESOLVER_RESOLVED)
		set_resolved(r, want);
	else
		set_resolv_conf(r, want);
}

void osresolver_stop(struct osresolver *r)
{
	put_back(r);
}

int osresolver_cleanup(const char *state_dir)
{
	char saved[PATH_MAX], err[512] = "";
	int ret;

	snprintf(saved, sizeof(saved), "%s/%s", state_dir, RESOLVCONF_SAVED);
	ret = resolvconf_restore(RESOLVCONF_PATH, saved, err, sizeof(err));
	if (ret == RESOLVCONF_RESTORED)
		fprintf(stderr, "meshgated: %s put back as it was before meshgated\n",
			RESOLVCONF_PATH);
	if (ret == RESOLVCONF_LEFT_ALONE || ret < 0)
		fprintf(stderr, "meshgated: %s\n", err);
	return ret < 0 ? ret : 0;
}

void osresolver_original_path(const char *state_dir, char *out, size_t len)
{
	char saved[PATH_MAX];

	snprintf(saved, sizeof(saved), "%s/%s", state_dir, RESOLVCONF_SAVED);
	resolvconf_original_path(RESOLVCONF_PATH, saved, out, len);
}
