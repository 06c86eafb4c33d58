/*
 * resolved_fake: a stand-in for systemd-resolved on the bus that
 * DBUS_SYSTEM_BUS_ADDRESS names (a private dbus-daemon of the test). It owns
 * org.freedesktop.resolve1 and writes each per-link call it gets as one line
 * on stdout:
 *
 *   SetLinkDNS 7 100.100.100.100 fd7a:6d67:7465::53
 *   SetLinkDomains 7 mesh.internal ~home.lan ~.      ('~': routing only)
 *   SetLinkDefaultRoute 7 yes
 *   RevertLink 7
 *
 * Link 99 does not exist: every call for it fails as resolved's would.
 * Prints "ready" on stderr once it owns the name; exits after 60 s.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

enum { MISSING_LINK = 99, LIFETIME_S = 60 };

static int read_dns(sd_bus_message *m)
{
	int ret = sd_bus_message_enter_container(m, 'a', "(iay)");

	while (ret >= 0 && (ret = sd_bus_message_enter_container(m, 'r', "iay")) > 0) {
		char text[INET6_ADDRSTRLEN] = "?";
		const void *addr;
		size_t len;
		int family;

		ret = sd_bus_message_read(m, "i", &family);
		if (ret >= 0)
			ret = sd_bus_message_read_array(m, 'y', &addr, &len);
		if (ret >= 0 && len == (family == AF_INET ? 4u : 16u))
			inet_ntop(family, addr, text, sizeof(text));
		printf(" %s", text);
		if (ret >= 0)
			ret = sd_bus_message_exit_container(m);
	}
	return ret < 0 ? ret : sd_bus_message_exit_container(m);
}

static int read_domains(sd_bus_message *m)
{
	int ret = sd_bus_message_enter_container(m, 'a', "(sb)");
	const char *name;
	int routing_only;

	while (ret >= 0 && (ret = sd_bus_message_read(m, "(sb)", &name, &routing_only)) > 0)
		printf(" %s%s", routing_only ? "~" : "", name);
	return ret < 0 ? ret : sd_bus_message_exit_container(m);
}

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	const char *member = sd_bus_message_get_member(m);
	int32_t ifindex;
	int ret = sd_bus_message_read(m, "i", &ifindex), yes;

	if (ret < 0)
		return ret;
	if (ifindex == MISSING_LINK)
		return sd_bus_error_setf(err, "org.freedesktop.resolve1.NoSuchLink",
					 "Link %d not known", ifindex);
	printf("%s %d", member, ifindex);
	if (strcmp(member, "SetLinkDNS") == 0)
		ret = read_dns(m);
	else if (strcmp(member, "SetLinkDomains") == 0)
		ret = read_domains(m);
	else if (strcmp(member, "SetLinkDefaultRoute") == 0 &&
		 (ret = sd_bus_message_read(m, "b", &yes)) >= 0)
		printf(" %s", yes ? "yes" : "no");
	printf("\n");
	fflush(stdout);
	return ret < 0 ? ret : sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("SetLinkDNS", "ia(iay)", "", on_call, 0),
	SD_BUS_METHOD("SetLinkDomains", "ia(sb)", "", on_call, 0),
	SD_BUS_METHOD("SetLinkDefaultRoute", "ib", "", on_call, 0),
	SD_BUS_METHOD("RevertLink", "i", "", on_call, 0),
	SD_BUS_VTABLE_END,
};

int main(void)
{
	time_t end = time(NULL) + LIFETIME_S;
	sd_bus *bus = NULL;
	int ret = sd_bus_open_system(&bus);

	if (ret >= 0)
		ret = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/resolve1",
					       "org.freedesktop.resolve1.Manager", manager, NULL);
	if (ret >= 0)
		ret = sd_bus_request_name(bus, "org.freedesktop.resolve1", 0);
	if (ret < 0) {
		fprintf(stderr, "resolved_fake: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(stderr, "ready\n");
	while (time(NULL) < end) {
		ret = sd_bus_process(bus, NULL);
		if (ret < 0)
			break;
		if (ret == 0)
			sd_bus_wait(bus, 1000000);
	}
	sd_bus_flush_close_unref(bus);
	return 0;
}
