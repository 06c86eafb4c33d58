/* Preflight checks; see preflight.h. */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"
#include "mesh/roles.h"
#include "plan.h"
#include "sysctl.h"

unsigned long preflight_system_runs;

enum { TUN_MAJOR = 10, TUN_MINOR = 200, WG_OVERHEAD_V6 = 80, MIN_YEAR = 2024, MAX_YEAR = 2100 };

static const char lxc_tun_fix[] =
    "In an LXC container, give it the TUN device. On Proxmox 8.1 and later:\n"
    "  pct set <ID> -dev0 /dev/net/tun\n"
    "or (any version, and Proxmox 7 and 8.0) add these two lines to "
    "/etc/pve/lxc/<ID>.conf and restart it:\n"
    "  lxc.cgroup2.devices.allow: c 10:200 rwm\n"
    "  lxc.mount.entry: /dev/net/tun dev/net/tun none bind,create=file\n"
    "On a plain host: modprobe tun";

/* EPERM: a device cgroup refuses it; EACCES: the file's mode does. */
static const char tun_access_fix[] =
    "In an LXC container, allow the device. On Proxmox 8.1 and later:\n"
    "  pct set <ID> -dev0 /dev/net/tun\n"
    "or (any version, and Proxmox 7 and 8.0) add this line to /etc/pve/lxc/<ID>.conf "
    "and restart it:\n"
    "  lxc.cgroup2.devices.allow: c 10:200 rwm\n"
    "An unprivileged container also needs the host's /dev/net/tun at mode 0666, "
    "as udev makes it (on the host: chmod 0666 /dev/net/tun)";

const char *preflight_tun_fix(int err)
{
	return err == -EPERM || err == -EACCES ? tun_access_fix : lxc_tun_fix;
}

static void set(struct preflight_result *r, const char *check, enum preflight_state state)
{
	memset(r, 0, sizeof(*r));
	r->check = check;
	r->state = state;
}

static void check_tun(const struct preflight_facts *f, struct preflight_result *r)
{
	if (f->tun_open && f->daemon_running) {
		set(r, "tun", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message), "%s is up", f->tun_name);
		return;
	}
	if (f->tun_open) {
		set(r, "tun", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message),
			 "/dev/net/tun opens; meshgated creates %s when it starts (checked "
			 "without the daemon)",
			 f->tun_name);
		return;
	}
	set(r, "tun", PREFLIGHT_FAIL);
	if (f->dev_tun) {
		snprintf(r->message, sizeof(r->message), "/dev/net/tun: %s",
			 f->dev_tun == -ENODEV ? "not the TUN device (10:200)"
					       : strerror(-f->dev_tun));
		snprintf(r->fix, sizeof(r->fix), "%s", lxc_tun_fix);
	} else if (f->tun_err == -EPERM || f->tun_err == -EACCES) {
		snprintf(r->message, sizeof(r->message), "cannot open /dev/net/tun: %s",
			 strerror(-f->tun_err));
		snprintf(r->fix, sizeof(r->fix),
			 "run meshgated as root (it needs CAP_NET_ADMIN).\n%s",
			 preflight_tun_fix(f->tun_err));
	} else {
		snprintf(r->message, sizeof(r->message), "the TUN device is not open%s%s",
			 f->tun_err ? ": " : "", f->tun_err ? strerror(-f->tun_err) : "");
		snprintf(r->fix, sizeof(r->fix), "%s", lxc_tun_fix);
	}
}

/* "net/ipv4/ip_forward" -> "net.ipv4.ip_forward" */
static void dotted(char *out, size_t len, const char *path)
{
	snprintf(out, len, "%s", path);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '.';
}

/* Whether meshgated, about to start, will set s itself. */
static bool set_at_start(const struct preflight_facts *f, const struct preflight_sysctl *s)
{
	return !f->daemon_running && !s->err && s->settable;
}

static void forwarding_fix(const struct preflight_facts *f, struct preflight_result *r,
			   bool read_only)
{
	size_t n = 0;

	/* No sysctl -w: meshgated sets these itself, at start and on reload. */
	if (f->daemon_running)
		n = (size_t)snprintf(r->fix, sizeof(r->fix),
				     "meshgated set these when it started, and something changed "
				     "them since (a sysctl.d file, another network tool): stop "
				     "that, then reload meshgated (systemctl reload meshgated)\n");
	if (read_only && n < sizeof(r->fix))
		snprintf(r->fix + n, sizeof(r->fix) - n,
			 "/proc/sys is read-only here: in an LXC container add "
			 "lxc.sysctl.<name> = <value> lines to /etc/pve/lxc/<ID>.conf and "
			 "restart it");
	else if (n < sizeof(r->fix))
		snprintf(r->fix + n, sizeof(r->fix) - n,
			 "(in a container with a read-only /proc/sys, add lxc.sysctl.<name> = "
			 "<value> lines to /etc/pve/lxc/<ID>.conf)");
}

/* Whether the WAN's accept_ra is set to 2 for forwarding (not left at 0). */
static bool ra_note(const struct preflight_facts *f)
{
	for (size_t i = 0; i < f->n_sysctls; i++) {
		size_t len = strlen(f->sysctls[i].path);
		if (len > 10 && !strcmp(f->sysctls[i].path + len - 10, "/accept_ra") &&
		    !strcmp(f->sysctls[i].want, "2"))
			return true;
	}
	return false;
}

static void check_forwarding(const struct preflight_facts *f, struct preflight_result *r)
{
	size_t used = 0, later = 0;
	bool read_only = false;

	set(r, "forwarding", PREFLIGHT_OK);
	if (f->n_sysctls == 0) {
		snprintf(r->message, sizeof(r->message),
			 "not needed: nothing to forward (no subnet routes or exit node served, "
			 "none used; in a mesh they are served once approved)");
		return;
	}
	for (size_t i = 0; i < f->n_sysctls; i++) {
		const struct preflight_sysctl *s = &f->sysctls[i];
		char name[sizeof(s->path)];
		bool mine = set_at_start(f, s);
		if (!s->err && !strcmp(s->have, s->want))
			continue;
		dotted(name, sizeof(name), s->path);
		later += mine;
		read_only |= !f->daemon_running && !mine;
		if (!mine)
			r->state = PREFLIGHT_FAIL;
		if (used < sizeof(r->message))
			used += (size_t)snprintf(r->message + used, sizeof(r->message) - used,
						 "%s%s is %s, %s %s", used ? "; " : "", name,
						 s->err ? "unreadable" : s->have,
						 mine ? "meshgated sets it to" : "needs", s->want);
	}
	if (r->state == PREFLIGHT_FAIL)
		forwarding_fix(f, r, read_only);
	else if (!later)
		used = (size_t)snprintf(r->message, sizeof(r->message),
					"%zu sysctl(s) as the route plan needs", f->n_sysctls);
	else if (used < sizeof(r->message))
		used += (size_t)snprintf(r->message + used, sizeof(r->message) - used,
					 " when it starts");
	if (r->state != PREFLIGHT_FAIL && ra_note(f) && used < sizeof(r->message))
		snprintf(r->message + used, sizeof(r->message) - used,
			 " (accept_ra 2 on the WAN: a forwarding host takes router "
			 "advertisements only then, so an IPv6 default route from SLAAC stays)");
}

static void check_rp_filter(const struct preflight_facts *f, struct preflight_result *r)
{
	int eff = f->rp_filter_all > f->rp_filter_tun ? f->rp_filter_all : f->rp_filter_tun;

	if (eff < 0) {
		set(r, "rp_filter", PREFLIGHT_UNKNOWN);
		snprintf(r->message, sizeof(r->message), "cannot read rp_filter");
		return;
	}
	if (eff == 1 && f->peer_routes_unused) {
		set(r, "rp_filter", PREFLIGHT_FAIL);
		snprintf(r->message, sizeof(r->message),
			 "strict reverse-path filtering drops traffic from peer routes this "
			 "node does not install (accept_routes = false)");
		snprintf(r->fix, sizeof(r->fix),
			 "sysctl -w net.ipv4.conf.all.rp_filter=2\nsysctl -w "
			 "net.ipv4.conf.%s.rp_filter=2",
			 f->tun_name[0] ? f->tun_name : "<interface>");
		return;
	}
	set(r, "rp_filter", PREFLIGHT_OK);
	snprintf(r->message, sizeof(r->message), "%s (%d)%s",
		 eff == 0   ? "off"
		 : eff == 1 ? "strict"
			    : "loose",
		 eff, eff == 1 ? ": mesh sources route back through the TUN" : "");
}

static void check_nftables(const struct preflight_facts *f, struct preflight_result *r)
{
	static const char fix[] = "load nf_tables on the host (modprobe nf_tables) and install "
				  "nftables; containers share the host's kernel modules";

	if (f->nft_needed && !f->nft_present) {
		set(r, "nftables", PREFLIGHT_FAIL);
		snprintf(r->message, sizeof(r->message),
			 "the plan needs table inet meshgate, and it is not in place");
		snprintf(r->fix, sizeof(r->fix), "%s", fix);
	} else if (f->nft_needed) {
		set(r, "nftables", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message), "table inet meshgate in place");
	} else if (!f->nft_netlink) {
		set(r, "nftables", PREFLIGHT_FAIL);
		snprintf(r->message, sizeof(r->message),
			 "nf_tables does not answer (needed for subnet routes and exit nodes)");
		snprintf(r->fix, sizeof(r->fix), "%s", fix);
	} else if (!f->daemon_running) {
		/* The plan always has the table; only the daemon makes it. */
		set(r, "nftables", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message),
			 "nf_tables answers; meshgated creates table inet meshgate when it starts "
			 "(checked without the daemon)");
	} else {
		set(r, "nftables", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message), "usable (no table needed)");
	}
}

static void check_mtu(const struct preflight_facts *f, struct preflight_result *r)
{
	const char *clamp;

	set(r, "mtu", PREFLIGHT_OK);
	if (f->uplink_mtu && f->tun_mtu + WG_OVERHEAD_V6 > f->uplink_mtu) {
		r->state = PREFLIGHT_FAIL;
		snprintf(r->message, sizeof(r->message),
			 "TUN MTU %u does not fit %s's MTU %u with %u bytes of tunnel overhead",
			 f->tun_mtu, f->uplink, f->uplink_mtu, WG_OVERHEAD_V6);
		snprintf(r->fix, sizeof(r->fix), "set mtu = %u; in the config",
			 f->uplink_mtu > WG_OVERHEAD_V6 + 576 ? f->uplink_mtu - WG_OVERHEAD_V6
							      : 576);
		return;
	}
	if (f->forwards && !f->mss_clamp) {
		r->state = PREFLIGHT_FAIL;
		snprintf(r->message, sizeof(r->message),
			 "the node forwards but TCP MSS is not clamped to MTU %u", f->tun_mtu);
		snprintf(r->fix, sizeof(r->fix), "make nftables usable (see the nftables check)");
		return;
	}
	clamp = !f->forwards        ? ""
		: f->daemon_running ? "; TCP MSS clamped"
				    : "; meshgated clamps TCP MSS when it starts";
	if (f->uplink_mtu)
		snprintf(r->message, sizeof(r->message), "TUN MTU %u fits %s (MTU %u)%s",
			 f->tun_mtu, f->uplink, f->uplink_mtu, clamp);
	else
		snprintf(r->message, sizeof(r->message), "TUN MTU %u (no default route)%s",
			 f->tun_mtu, clamp);
}

static void check_udp_port(const struct preflight_facts *f, struct preflight_result *r)
{
	if (!f->daemon_running) {
		set(r, "udp_port", PREFLIGHT_UNKNOWN);
		if (f->port)
			snprintf(r->message, sizeof(r->message),
				 "listen_port %u: neither bound nor tested (checked without the "
				 "daemon)",
				 f->port);
		else
			snprintf(r->message, sizeof(r->message),
				 "listen_port 0: meshgated binds a random port when it starts");
		return;
	}
	if (f->port == 0) {
		set(r, "udp_port", PREFLIGHT_FAIL);
		snprintf(r->message, sizeof(r->message), "no UDP port bound");
		snprintf(r->fix, sizeof(r->fix), "free listen_port or choose another one");
		return;
	}
	if (f->role == PREFLIGHT_STATIC) {
		set(r, "udp_port", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message),
			 "UDP port %u (static peers: no coordinator to test it)", f->port);
	} else if (f->port_reachable == 1 && f->role == PREFLIGHT_COORDINATOR) {
		set(r, "udp_port", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message), "UDP %u is reached by %u node%s", f->port,
			 f->port_reached_by, f->port_reached_by == 1 ? "" : "s");
	} else if (f->port_reachable == 1) {
		set(r, "udp_port", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message),
			 "UDP %u is reachable by the coordinator%s%s%s", f->port,
			 f->port_seen_as[0] ? " (seen as " : "", f->port_seen_as,
			 f->port_seen_as[0] ? ")" : "");
	} else if (f->port_reachable == 0) {
		set(r, "udp_port", PREFLIGHT_FAIL);
		snprintf(r->message, sizeof(r->message),
			 "the coordinator cannot reach UDP %u%s%s%s; peers use direct paths "
			 "only where NAT traversal works, else the relay",
			 f->port, f->port_seen_as[0] ? " (seen as " : "", f->port_seen_as,
			 f->port_seen_as[0] ? ")" : "");
		snprintf(r->fix, sizeof(r->fix),
			 "forward UDP %u to this node on the router in front of it", f->port);
	} else {
		set(r, "udp_port", PREFLIGHT_UNKNOWN);
		snprintf(r->message, sizeof(r->message),
			 "listening on UDP %u; whether the %s reaches it is not known yet", f->port,
			 f->role == PREFLIGHT_COORDINATOR ? "rest of the mesh" : "coordinator");
	}
}

static void check_clock(const struct preflight_facts *f, struct preflight_result *r)
{
	struct tm tm;
	int year = gmtime_r(&f->now, &tm) ? tm.tm_year + 1900 : 0;

	if (year >= MIN_YEAR && year < MAX_YEAR) {
		set(r, "clock", PREFLIGHT_OK);
		snprintf(r->message, sizeof(r->message), "%04d-%02d-%02d UTC", year, tm.tm_mon + 1,
			 tm.tm_mday);
		return;
	}
	set(r, "clock", PREFLIGHT_FAIL);
	snprintf(r->message, sizeof(r->message),
		 "the clock says year %d: handshakes and invite expiry need the right time", year);
	snprintf(r->fix, sizeof(r->fix),
		 "set the time and keep it with NTP (timedatectl set-ntp true); a container "
		 "uses the host's clock, so fix it on the host");
}

void preflight_evaluate(const struct preflight_facts *f,
			struct preflight_result out[PREFLIGHT_CHECKS])
{
	check_tun(f, &out[0]);
	check_forwarding(f, &out[1]);
	check_rp_filter(f, &out[2]);
	check_nftables(f, &out[3]);
	check_mtu(f, &out[4]);
	check_udp_port(f, &out[5]);
	check_clock(f, &out[6]);
}

size_t preflight_not_checked(const struct preflight_facts *f, char *buf, size_t len)
{
	static const char why[] = "not checked, the daemon is not running";
	int n;

	if (len)
		buf[0] = '\0';
	if (f->daemon_running)
		return 0;
	n = snprintf(buf, len,
		     "interface: %s (meshgated creates %s, its addresses and routes when it "
		     "starts)\n"
		     "nftables: %s (table inet meshgate and its rules are made when it starts)\n"
		     "%s",
		     why, f->tun_name, why,
		     f->role == PREFLIGHT_STATIC
			 ? ""
			 : "mesh: not checked, the daemon is not running (what the coordinator "
			   "approves decides what this node forwards)\n");
	return n > 0 ? (size_t)n : 0;
}

/* ---- gathering ---- */

static int dev_tun_state(void)
{
	struct stat st;

	if (stat("/dev/net/tun", &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != TUN_MAJOR ||
	    minor(st.st_rdev) != TUN_MINOR)
		return -ENODEV;
	return 0;
}

static int read_int_sysctl(const char *path)
{
	char v[SYSCTL_VALUE_MAX];

	return sysctl_read(path, v, sizeof(v)) == 0 ? atoi(v) : -1;
}

static bool nft_netlink_answers(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The IPv4 default route's interface from /proc/net/route (main table). */
static void uplink(struct preflight_facts *f)
{
	char line[256], ifname[IFNAMSIZ + 1], path[64];
	unsigned long dst, gw, flags, mask;
	FILE *in = fopen("/proc/net/route", "r");

	f->uplink[0] = '\0';
	f->uplink_mtu = 0;
	while (in && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%16s %lx %lx %lx %*s %*s %*s %lx", ifname, &dst, &gw, &flags,
			   &mask) != 5 ||
		    dst != 0 || mask != 0 || !strcmp(ifname, f->tun_name))
			continue;
		snprintf(f->uplink, sizeof(f->uplink), "%.*s", IFNAMSIZ - 1, ifname);
		break;
	}
	if (in)
		fclose(in);
	if (!f->uplink[0])
		return;
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", f->uplink);
	in = fopen(path, "r");
	if (in && fscanf(in, "%u", &f->uplink_mtu) != 1)
		f->uplink_mtu = 0;
	if (in)
		fclose(in);
}

static bool forwards(const struct mg_config *cfg)
{
	return cfg->subnet_router.routes.n || cfg->exit_node.enabled || cfg->use_exit_node.peer[0];
}

/* Everything that does not need the node. */
static void gather_common(const struct mg_config *cfg, struct preflight_facts *f)
{
	char path[96];

	f->now = time(NULL);
	f->dev_tun = dev_tun_state();
	f->forwards = forwards(cfg);
	f->rp_filter_all = read_int_sysctl("net/ipv4/conf/all/rp_filter");
	snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", f->tun_name);
	f->rp_filter_tun = read_int_sysctl(path);
	f->nft_netlink = nft_netlink_answers();
	f->tun_mtu = cfg->mtu;
	uplink(f);
}

/* A sysctl holding unless (may be NULL), or absent while unless is set, is
 * left as it is: wanted as it is. */
static void add_sysctl(struct preflight_facts *f, const char *path, const char *want,
		       const char *unless)
{
	struct preflight_sysctl *s = &f->sysctls[f->n_sysctls++];
	char have[SYSCTL_VALUE_MAX], file[sizeof(s->path) + 16];

	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->want, sizeof(s->want), "%s", want);
	s->err = sysctl_read(s->path, have, sizeof(have));
	snprintf(s->have, sizeof(s->have), "%.15s", s->err ? "" : have);
	if (unless && s->err == -ENOENT) /* its interface is not there */
		s->err = 0, snprintf(s->have, sizeof(s->have), "-");
	if (!s->err && unless && (!strcmp(s->have, unless) || !strcmp(s->have, "-")))
		memcpy(s->want, s->have, sizeof(s->want));
	snprintf(file, sizeof(file), "/proc/sys/%s", s->path);
	s->settable = access(file, W_OK) == 0;
}

/* Without a plan: the forwarding sysctls the config's roles will need. */
static void config_sysctls(const struct mg_config *cfg, struct preflight_facts *f)
{
	bool v4 = cfg->exit_node.enabled, v6 = cfg->exit_node.enabled;

	for (size_t i = 0; i < cfg->subnet_router.routes.n; i++) {
		v4 |= cfg->subnet_router.routes.v[i].family == AF_INET;
		v6 |= cfg->subnet_router.routes.v[i].family == AF_INET6;
	}
	char ra[64];
	const char *wan =
	    cfg->exit_node.wan_interface[0] ? cfg->exit_node.wan_interface : f->uplink;

	if (v4)
		add_sysctl(f, "net/ipv4/ip_forward", "1", NULL);
	if (v6)
		add_sysctl(f, "net/ipv6/conf/all/forwarding", "1", NULL);
	/* As the route plan: the WAN keeps taking router advertisements. */
	snprintf(ra, sizeof(ra), "net/ipv6/conf/%s/accept_ra", wan);
	if (v6 && wan[0])
		add_sysctl(f, ra, "2", "0");
}

void preflight_gather_host(const struct mg_config *cfg, struct preflight_facts *f)
{
	int fd;

	memset(f, 0, sizeof(*f));
	snprintf(f->tun_name, sizeof(f->tun_name), "%s", cfg->interface);
	gather_common(cfg, f);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	f->tun_open = fd >= 0;
	f->tun_err = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	f->role = mesh_roles_coordinator_wanted(cfg, NULL) ? PREFLIGHT_COORDINATOR
		  : cfg->join                              ? PREFLIGHT_MESH_CLIENT
							   : PREFLIGHT_STATIC;
	f->port = cfg->listen_port;
	f->port_reachable = -1;
	f->mss_clamp = f->nft_netlink;
	f->nft_needed = false;
	config_sysctls(cfg, f);
}

void preflight_gather_system(const struct mg_config *cfg, const char *tun_name,
			     const struct plan_sysctl *sysctls, size_t n, struct preflight_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->daemon_running = true;
	snprintf(f->tun_name, sizeof(f->tun_name), "%s", tun_name);
	gather_common(cfg, f);
	for (size_t i = 0; i < n && f->n_sysctls < PREFLIGHT_MAX_SYSCTLS; i++)
		add_sysctl(f, sysctls[i].path, sysctls[i].value, sysctls[i].unless);
	f->port_reachable = -1;
	preflight_system_runs++;
}

void preflight_set_node(struct preflight_facts *f, const struct preflight_node *n)
{
	f->tun_open = n->tun_open;
	f->peer_routes_unused = n->peer_routes_unused;
	f->nft_needed = n->nft_needed;
	f->nft_present = n->nft_present;
	f->mss_clamp = n->mss_clamp;
	f->role = n->role;
	f->port = n->port;
	f->port_reachable = n->port_reachable;
	snprintf(f->port_seen_as, sizeof(f->port_seen_as), "%s", n->port_seen_as);
	f->port_reached_by = n->port_reached_by;
}

json_t *preflight_json(const struct preflight_result *r, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_t *ok = r[i].state == PREFLIGHT_OK     ? json_true()
			     : r[i].state == PREFLIGHT_FAIL ? json_false()
							    : json_null();
		json_array_append_new(arr,
				      json_pack("{s:s, s:o, s:s, s:s}", "check", r[i].check, "ok",
						ok, "message", r[i].message, "fix", r[i].fix));
	}
	return arr;
}
