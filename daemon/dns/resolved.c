/* systemd-resolved's per-link DNS through D-Bus; see resolved.h. */
#include "dns/resolved.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#define RESOLVE1      "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MGR  "org.freedesktop.resolve1.Manager"

/* The calls run on the event loop: a resolved that hangs must not hold it
 * for sd-bus's default 25 s. */
enum { CALL_TIMEOUT_US = 2 * 1000 * 1000 };

static void add_domain(struct resolved_link *l, const char *name, bool routing_only)
{
	struct resolved_domain *d;

	if (l->n_domains >= RESOLVED_DOMAINS_MAX)
		return;
	for (size_t i = 0; i < l->n_domains; i++)
		if (strcasecmp(l->domains[i].name, name) == 0)
			return;
	d = &l->domains[l->n_domains++];
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->routing_only = routing_only;
}

static struct prefix resolver_address(int family, const char *text)
{
	struct prefix p = { .family = family, .len = family == AF_INET ? 32 : 128 };

	inet_pton(family, text, p.addr);
	return p;
}

void resolved_link_make(const struct resolved_want *want, struct resolved_link *out)
{
	*out = (struct resolved_link){ .default_route = want->exit_node };
	out->dns[out->n_dns++] = resolver_address(AF_INET, DNS_RESOLVER_V4);
	if (want->v6)
		out->dns[out->n_dns++] = resolver_address(AF_INET6, DNS_RESOLVER_V6);
	add_domain(out, want->domain ? want->domain : DNS_DEFAULT_DOMAIN, false);
	for (size_t i = 0; i < want->n_split_domains; i++)
		if (want->split_domains[i] && dns_domain_valid(want->split_domains[i]))
			add_domain(out, want->split_domains[i], true);
	/* "~." in resolvectl's words: resolved's route for every name. */
	if (want->exit_node)
		add_domain(out, ".", true);
}

/* Whether pid's network namespace is this process's: per-link settings
 * name links by ifindex, which only mean the same in the same namespace. */
static bool same_netns(pid_t pid)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return stat("/proc/self/ns/net", &self) == 0 && stat(path, &other) == 0 &&
	       self.st_dev == other.st_dev && self.st_ino == other.st_ino;
}

/* The pid of resolve1's owner, 0 when unknown. */
static pid_t owner_pid(sd_bus *bus)
{
	sd_bus_creds *creds = NULL;
	pid_t pid = 0;

	if (sd_bus_get_name_creds(bus, RESOLVE1, SD_BUS_CREDS_PID, &creds) >= 0 &&
	    sd_bus_creds_get_pid(creds, &pid) < 0)
		pid = 0;
	sd_bus_creds_unref(creds);
	return pid;
}

struct sd_bus *resolved_connect(void)
{
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	int has = 0;

	if (sd_bus_open_system(&bus) < 0)
		return NULL;
	if (sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_US) < 0 ||
	    sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
			       RESOLVE1) < 0 ||
	    sd_bus_message_read(reply, "b", &has) < 0)
		has = 0;
	sd_bus_message_unref(reply);
	if (has && same_netns(owner_pid(bus)))
		return bus;
	sd_bus_flush_close_unref(bus);
	return NULL;
}

static int call_error(int ret, const char *what, sd_bus_error *e, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "systemd-resolved %s: %s", what,
		 e->message ? e->message : strerror(-ret));
	sd_bus_error_free(e);
	return ret;
}

/* A message to the resolve1 manager. */
static int new_call(sd_bus *bus, const char *member, int ifindex, sd_bus_message **m)
{
	int ret =
	    sd_bus_message_new_method_call(bus, m, RESOLVE1, RESOLVE1_PATH, RESOLVE1_MGR, member);
	if (ret >= 0)
		ret = sd_bus_message_append(*m, "i", ifindex);
	return ret;
}

/* a(iay): family and address bytes. */
static int append_dns(sd_bus_message *m, const struct resolved_link *l)
{
	int ret = sd_bus_message_open_container(m, 'a', "(iay)");

	for (size_t i = 0; ret >= 0 && i < l->n_dns; i++) {
		const struct prefix *p = &l->dns[i];
		ret = sd_bus_message_open_container(m, 'r', "iay");
		if (ret >= 0)
			ret = sd_bus_message_append(m, "i", p->family);
		if (ret >= 0)
			ret = sd_bus_message_append_array(m, 'y', p->addr, addr_len(p->family));
		if (ret >= 0)
			ret = sd_bus_message_close_container(m);
	}
	return ret >= 0 ? sd_bus_message_close_container(m) : ret;
}

/* a(sb): domain and routing only. */
static int append_domains(sd_bus_message *m, const struct resolved_link *l)
{
	int ret = sd_bus_message_open_container(m, 'a', "(sb)");

	for (size_t i = 0; ret >= 0 && i < l->n_domains; i++)
		ret = sd_bus_message_append(m, "(sb)", l->domains[i].name,
					    (int)l->domains[i].routing_only);
	return ret >= 0 ? sd_bus_message_close_container(m) : ret;
}

static int call(sd_bus *bus, sd_bus_message *m, const char *what, char *errbuf, size_t errlen)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int ret = sd_bus_call(bus, m, 0, &e, NULL);

	sd_bus_message_unref(m);
	return ret < 0 ? call_error(ret, what, &e, errbuf, errlen) : 0;
}

int resolved_apply(sd_bus *bus, int ifindex, const struct resolved_link *link, char *errbuf,
		   size_t errlen)
{
	sd_bus_message *m = NULL;
	int ret = new_call(bus, "SetLinkDNS", ifindex, &m);

	if (ret >= 0)
		ret = append_dns(m, link);
	if (ret < 0)
		goto build_error;
	ret = call(bus, m, "SetLinkDNS", errbuf, errlen);
	if (ret < 0)
		return ret;
	m = NULL;
	ret = new_call(bus, "SetLinkDomains", ifindex, &m);
	if (ret >= 0)
		ret = append_domains(m, link);
	if (ret < 0)
		goto build_error;
	ret = call(bus, m, "SetLinkDomains", errbuf, errlen);
	if (ret < 0)
		return ret;
	m = NULL;
	ret = new_call(bus, "SetLinkDefaultRoute", ifindex, &m);
	if (ret >= 0)
		ret = sd_bus_message_append(m, "b", (int)link->default_route);
	if (ret < 0)
		goto build_error;
	return call(bus, m, "SetLinkDefaultRoute", errbuf, errlen);
build_error:
	sd_bus_message_unref(m);
	snprintf(errbuf, errlen, "systemd-resolved: cannot build a message: %s", strerror(-ret));
	return ret;
}

int resolved_revert(sd_bus *bus, int ifindex, char *errbuf, size_t errlen)
{
	sd_bus_message *m = NULL;
	int ret = new_call(bus, "RevertLink", ifindex, &m);

	if (ret < 0) {
		sd_bus_message_unref(m);
		snprintf(errbuf, errlen, "systemd-resolved: cannot build a message: %s",
			 strerror(-ret));
		return ret;
	}
	return call(bus, m, "RevertLink", errbuf, errlen);
}
