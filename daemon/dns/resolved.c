/* systemd-resolved's per-link DNS through D-Bus; see resolved.h. */
#include "dns/resolved.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#define RESOLVE1      "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MGR  "org.freedesktop.resolve1.Manager"

/* The calls run on the event loop: a resolved that hangs must not hold it
 * for sd-bus's default 25 s. */
enum { CALL_TIMEOUT_US = 2 * 1000 * 1000 };

/* libsystemd is loaded (dlopen) when resolved is first looked for, not
 * linked: most nodes never manage the OS resolver, and libsystemd with the
 * libraries it links (libgcrypt, libgpg-error, liblzma, libzstd, liblz4,
 * libcap) is about 0.9 MB of the daemon's RSS. RTLD_NODELETE: it stays
 * mapped once loaded, so nothing of it runs after an unload. */
#define SDBUS_LIBRARY "libsystemd.so.0"

/* The sd-bus calls this file makes, sd_bus_NAME as field NAME. */
struct sdbus {
	typeof(sd_bus_open_system) *open_system;
	typeof(sd_bus_set_method_call_timeout) *set_method_call_timeout;
	typeof(sd_bus_call_method) *call_method;
	typeof(sd_bus_call) *call;
	typeof(sd_bus_flush_close_unref) *flush_close_unref;
	typeof(sd_bus_get_name_creds) *get_name_creds;
	typeof(sd_bus_creds_get_pid) *creds_get_pid;
	typeof(sd_bus_creds_unref) *creds_unref;
	typeof(sd_bus_error_free) *error_free;
	typeof(sd_bus_message_new_method_call) *message_new_method_call;
	typeof(sd_bus_message_append) *message_append;
	typeof(sd_bus_message_append_array) *message_append_array;
	typeof(sd_bus_message_open_container) *message_open_container;
	typeof(sd_bus_message_close_container) *message_close_container;
	typeof(sd_bus_message_read) *message_read;
	typeof(sd_bus_message_unref) *message_unref;
};

#define SDBUS_SYM(f)                                                                               \
	{                                                                                          \
		"sd_bus_" #f, offsetof(struct sdbus, f)                                            \
	}
static const struct {
	const char *name;
	size_t offset;
} sdbus_syms[] = {
	SDBUS_SYM(open_system),
	SDBUS_SYM(set_method_call_timeout),
	SDBUS_SYM(call_method),
	SDBUS_SYM(call),
	SDBUS_SYM(flush_close_unref),
	SDBUS_SYM(get_name_creds),
	SDBUS_SYM(creds_get_pid),
	SDBUS_SYM(creds_unref),
	SDBUS_SYM(error_free),
	SDBUS_SYM(message_new_method_call),
	SDBUS_SYM(message_append),
	SDBUS_SYM(message_append_array),
	SDBUS_SYM(message_open_container),
	SDBUS_SYM(message_close_container),
	SDBUS_SYM(message_read),
	SDBUS_SYM(message_unref),
};

struct resolved_bus {
	void *lib; /* dlopen's handle of SDBUS_LIBRARY */
	struct sdbus sd;
	sd_bus *bus;
};

/* b's library and every call of struct sdbus; -ENOENT when either is missing. */
static int sdbus_load(struct resolved_bus *b)
{
	b->lib = dlopen(SDBUS_LIBRARY, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!b->lib)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(sdbus_syms) / sizeof(sdbus_syms[0]); i++) {
		void *f = dlsym(b->lib, sdbus_syms[i].name);

		if (!f)
			return -ENOENT;
		memcpy((char *)&b->sd + sdbus_syms[i].offset, &f, sizeof(f));
	}
	return 0;
}

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
static pid_t owner_pid(const struct resolved_bus *b)
{
	sd_bus_creds *creds = NULL;
	pid_t pid = 0;

	if (b->sd.get_name_creds(b->bus, RESOLVE1, SD_BUS_CREDS_PID, &creds) >= 0 &&
	    b->sd.creds_get_pid(creds, &pid) < 0)
		pid = 0;
	b->sd.creds_unref(creds);
	return pid;
}

struct resolved_bus *resolved_connect(void)
{
	struct resolved_bus *b = calloc(1, sizeof(*b));
	sd_bus_message *reply = NULL;
	int has = 0;

	if (!b || sdbus_load(b) < 0 || b->sd.open_system(&b->bus) < 0)
		goto none;
	if (b->sd.set_method_call_timeout(b->bus, CALL_TIMEOUT_US) < 0 ||
	    b->sd.call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			      "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
			      RESOLVE1) < 0 ||
	    b->sd.message_read(reply, "b", &has) < 0)
		has = 0;
	b->sd.message_unref(reply);
	if (has && same_netns(owner_pid(b)))
		return b;
none:
	resolved_disconnect(b);
	return NULL;
}

void resolved_disconnect(struct resolved_bus *b)
{
	if (!b)
		return;
	if (b->bus)
		b->sd.flush_close_unref(b->bus);
	if (b->lib)
		dlclose(b->lib);
	free(b);
}

static int call_error(const struct resolved_bus *b, int ret, const char *what, sd_bus_error *e,
		      char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "systemd-resolved %s: %s", what,
		 e->message ? e->message : strerror(-ret));
	b->sd.error_free(e);
	return ret;
}

/* A message to the resolve1 manager. */
static int new_call(const struct resolved_bus *b, const char *member, int ifindex,
		    sd_bus_message **m)
{
	int ret =
	    b->sd.message_new_method_call(b->bus, m, RESOLVE1, RESOLVE1_PATH, RESOLVE1_MGR, member);
	if (ret >= 0)
		ret = b->sd.message_append(*m, "i", ifindex);
	return ret;
}

/* a(iay): family and address bytes. */
static int append_dns(const struct resolved_bus *b, sd_bus_message *m,
		      const struct resolved_link *l)
{
	int ret = b->sd.message_open_container(m, 'a', "(iay)");

	for (size_t i = 0; ret >= 0 && i < l->n_dns; i++) {
		const struct prefix *p = &l->dns[i];
		ret = b->sd.message_open_container(m, 'r', "iay");
		if (ret >= 0)
			ret = b->sd.message_append(m, "i", p->family);
		if (ret >= 0)
			ret = b->sd.message_append_array(m, 'y', p->addr, addr_len(p->family));
		if (ret >= 0)
			ret = b->sd.message_close_container(m);
	}
	return ret >= 0 ? b->sd.message_close_container(m) : ret;
}

/* a(sb): domain and routing only. */
static int append_domains(const struct resolved_bus *b, sd_bus_message *m,
			  const struct resolved_link *l)
{
	int ret = b->sd.message_open_container(m, 'a', "(sb)");

	for (size_t i = 0; ret >= 0 && i < l->n_domains; i++)
		ret = b->sd.message_append(m, "(sb)", l->domains[i].name,
					   (int)l->domains[i].routing_only);
	return ret >= 0 ? b->sd.message_close_container(m) : ret;
}

static int call(const struct resolved_bus *b, sd_bus_message *m, const char *what, char *errbuf,
		size_t errlen)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int ret = b->sd.call(b->bus, m, 0, &e, NULL);

	b->sd.message_unref(m);
	return ret < 0 ? call_error(b, ret, what, &e, errbuf, errlen) : 0;
}

int resolved_apply(const struct resolved_bus *b, int ifindex, const struct resolved_link *link,
		   char *errbuf, size_t errlen)
{
	sd_bus_message *m = NULL;
	int ret = new_call(b, "SetLinkDNS", ifindex, &m);

	if (ret >= 0)
		ret = append_dns(b, m, link);
	if (ret < 0)
		goto build_error;
	ret = call(b, m, "SetLinkDNS", errbuf, errlen);
	if (ret < 0)
		return ret;
	m = NULL;
	ret = new_call(b, "SetLinkDomains", ifindex, &m);
	if (ret >= 0)
		ret = append_domains(b, m, link);
	if (ret < 0)
		goto build_error;
	ret = call(b, m, "SetLinkDomains", errbuf, errlen);
	if (ret < 0)
		return ret;
	m = NULL;
	ret = new_call(b, "SetLinkDefaultRoute", ifindex, &m);
	if (ret >= 0)
		ret = b->sd.message_append(m, "b", (int)link->default_route);
	if (ret < 0)
		goto build_error;
	return call(b, m, "SetLinkDefaultRoute", errbuf, errlen);
build_error:
	b->sd.message_unref(m);
	snprintf(errbuf, errlen, "systemd-resolved: cannot build a message: %s", strerror(-ret));
	return ret;
}

int resolved_revert(const struct resolved_bus *b, int ifindex, char *errbuf, size_t errlen)
{
	sd_bus_message *m = NULL;
	int ret = new_call(b, "RevertLink", ifindex, &m);

	if (ret < 0) {
		b->sd.message_unref(m);
		snprintf(errbuf, errlen, "systemd-resolved: cannot build a message: %s",
			 strerror(-ret));
		return ret;
	}
	return call(b, m, "RevertLink", errbuf, errlen);
}
