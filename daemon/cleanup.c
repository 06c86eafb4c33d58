/* `meshgated --cleanup`; see cleanup.h. */
#include "cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dns/osresolver.h"
#include "link.h"
#include "router.h"
#include "unixsock.h"

static int remove_socket(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "meshgated: cannot remove %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int cleanup_run(const struct mg_config *cfg)
{
	char uapi_path[108];
	struct nl_sock *sk;
	int ret = 0;

	snprintf(uapi_path, sizeof(uapi_path), "/var/run/wireguard/%s.sock", cfg->interface);
	if (unixsock_in_use(cfg->control_socket) || unixsock_in_use(uapi_path)) {
		fprintf(stderr,
			"meshgated: a daemon is running for %s; stop it first (it cleans up "
			"after itself)\n",
			cfg->interface);
		return -EBUSY;
	}
	sk = rtnl_open();
	if (!sk) {
		fprintf(stderr, "meshgated: cannot open rtnetlink: %s\n", strerror(errno));
		return -errno;
	}
	ret = link_delete(sk, cfg->interface);
	if (ret < 0)
		fprintf(stderr, "meshgated: cannot delete %s: %s\n", cfg->interface,
			strerror(-ret));
	rtnl_close(sk);
	if (router_cleanup(cfg->state_dir) < 0)
		ret = -EIO;
	if (remove_socket(cfg->control_socket) < 0 || remove_socket(uapi_path) < 0)
		ret = -EIO;
	/* Whatever dns.manage_resolv_conf says now: it may have been on then.
	 * systemd-resolved forgot the TUN's settings with the TUN. */
	if (osresolver_cleanup(cfg->state_dir) < 0)
		ret = -EIO;
	return ret;
}
