/*
 * The hub's side of stock WireGuard devices, through the node itself
 * (node_set_mesh) in a private network namespace: an attached device
 * becomes an engine peer whose allowed IPs are its addresses, with no
 * endpoint and no keepalive; a device of another hub does not; the owned
 * nftables table gains the dev and devexit sets and IPv4/IPv6 forwarding is
 * on; a device that leaves the view loses its engine peer at once while
 * the one that stays keeps its peer (and so its session). The view's
 * access policy filter: the node keeps its own copy (for the plan and
 * status) and drops it with a view that has none.
 *
 * Needs root; everything happens in a namespace made by unshare() before
 * the node opens anything. The UAPI socket is named after the interface,
 * which carries the PID, and goes with node_stop().
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "nft.h"
#include "testlib.h"

struct hub {
	char dir[64];
	struct loop *loop;
	struct node node;
	uint8_t home[32], phone[32], tablet[32], pixel[32];
	struct prefix addrs[2];
	struct prefix home_ips[2];
	struct mesh_peer peers[1];
	struct mesh_device devices[3];
};

static struct prefix pfx(const char *text)
{
	struct prefix p;

	if (prefix_parse(&p, text) < 0)
		abort();
	return p;
}

static void random_public(uint8_t pub[32])
{
	uint8_t priv[32];

	randombytes_buf(priv, sizeof(priv));
	crypto_scalarmult_base(pub, priv);
}

static struct mesh_device device(const char *name, const char *hub, bool attached,
				 const uint8_t key[32], const char *a4, const char *a6, bool exit)
{
	struct mesh_device d = { .attached = attached, .exit_node = exit };

	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.hub, sizeof(d.hub), "%s", hub);
	if (attached)
		memcpy(d.public_key, key, 32);
	d.addresses[d.n_addresses++] = pfx(a4);
	if (a6)
		d.addresses[d.n_addresses++] = pfx(a6);
	return d;
}

/* "hub": serves its exit (wan eth9, a name only); home is a mesh peer that
 * hubs pixel; this node hubs phone (with the exit) and tablet. */
static bool hub_start(struct hub *h)
{
	char conf[1024], err[1024];
	struct mg_config cfg;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/mg-node-dev-XXXXXX");
	if (!mkdtemp(h->dir))
		return false;
	snprintf(
	    conf, sizeof(conf),
	    "interface = \"mghub%u\";\nlisten_port = 0;\nprivate_key_file = \"%s/key\";\n"
	    "state_dir = \"%s\";\nexit_node = { enabled = true; wan_interface = \"eth9\"; };\n",
	    (unsigned)getpid() % 100000, h->dir, h->dir);
	if (!CHECK_EQ_INT(config_load_string(conf, "hub.conf", &cfg, err, sizeof(err)), 0)) {
		fprintf(stderr, "  config: %s\n", err);
		return false;
	}
	h->loop = loop_new();
	if (!CHECK_EQ_INT(node_start(&h->node, h->loop, &cfg, NULL, err, sizeof(err)), 0)) {
		fprintf(stderr, "  node_start: %s\n", err);
		return false;
	}
	random_public(h->home);
	random_public(h->phone);
	random_public(h->tablet);
	random_public(h->pixel);
	h->addrs[0] = pfx("100.64.0.3/10");
	h->addrs[1] = pfx("fd7a:6d67:7465::3/48");
	h->home_ips[0] = pfx("100.64.0.1/32");
	h->home_ips[1] = pfx("100.64.0.20/32"); /* pixel, reached through home */
	snprintf(h->peers[0].name, sizeof(h->peers[0].name), "home");
	memcpy(h->peers[0].public_key, h->home, 32);
	h->peers[0].allowed_ips = h->home_ips;
	h->peers[0].n_allowed_ips = 2;
	h->devices[0] =
	    device("phone", "hub", true, h->phone, "100.64.0.7/32", "fd7a:6d67:7465::7/128", true);
	h->devices[1] = device("tablet", "hub", true, h->tablet, "100.64.0.10/32",
			       "fd7a:6d67:7465::a/128", false);
	h->devices[2] = device("pixel", "home", false, NULL, "100.64.0.20/32", NULL, true);
	return true;
}

static int hub_view_policy(struct hub *h, const struct mesh_device *devices, size_t n,
			   const struct acl_filter *policy)
{
	const struct mesh_approved approved = { .exit_node = true };
	const struct mesh_view view = { .policy = policy,
					.peers = h->peers,
					.n_peers = 1,
					.addresses = h->addrs,
					.n_addresses = 2,
					.approved = &approved,
					.devices = devices,
					.n_devices = n };
	char err[512] = "";
	int ret = node_set_mesh(&h->node, &view, err, sizeof(err));

	if (ret < 0)
		fprintf(stderr, "  node_set_mesh: %s\n", err);
	return ret;
}

static int hub_view(struct hub *h, const struct mesh_device *devices, size_t n)
{
	return hub_view_policy(h, devices, n, NULL);
}

static void hub_stop(struct hub *h)
{
	char path[128];

	node_stop(&h->node);
	if (h->loop)
		loop_free(h->loop);
	snprintf(path, sizeof(path), "%s/key", h->dir);
	unlink(path);
	/* Whatever else the node kept there (sysctl state). */
	snprintf(path, sizeof(path), "rm -rf '%s'", h->dir);
	if (system(path) != 0)
		fprintf(stderr, "  cannot remove %s\n", h->dir);
}

static struct wg_peer *lookup(const struct hub *h, const char *addr)
{
	struct prefix p = pfx(addr);

	return allowedips_lookup(&h->node.dev->allowedips, p.family, p.addr);
}

static void test_devices_on_the_hub(void)
{
	struct wg_peer *phone, *tablet;
	struct hub h;
	char *out;

	if (!hub_start(&h))
		goto out;
	CHECK_EQ_INT(hub_view(&h, h.devices, 3), 0);
	CHECK(h.node.apply_error[0] == '\0');
	CHECK_EQ_INT(h.node.n_mesh_devices, 3);
	phone = wg_device_find_peer(h.node.dev, h.phone);
	tablet = wg_device_find_peer(h.node.dev, h.tablet);
	if (!CHECK(phone && tablet))
		goto out;
	CHECK(!strcmp(phone->name, "phone") && !strcmp(tablet->name, "tablet"));
	CHECK(!phone->has_endpoint && phone->candidate_count == 0);
	CHECK_EQ_INT(phone->persistent_keepalive_interval, 0);
	CHECK(lookup(&h, "100.64.0.7") == phone);
	CHECK(lookup(&h, "fd7a:6d67:7465::7") == phone);
	CHECK(lookup(&h, "100.64.0.10") == tablet);
	CHECK(lookup(&h, "100.64.0.20") == wg_device_find_peer(h.node.dev, h.home));
	CHECK(lookup(&h, "100.64.0.8") == NULL);
	CHECK(wg_device_find_peer(h.node.dev, h.pixel) == NULL);

	out = test_run("nft list table inet meshgate 2>&1", NULL);
	if (getenv("MG_TEST_VERBOSE") && out)
		printf("%s", out);
	CHECK(test_has(out, "set dev4 {"));
	CHECK(test_has(out, "elements = { 100.64.0.7, 100.64.0.10 }"));
	CHECK(test_has(out, "set devexit6 {"));
	CHECK(test_has(out, "elements = { fd7a:6d67:7465::7 }"));
	CHECK(test_has(out, "ip saddr @dev4 ip daddr @meshnet4 accept"));
	CHECK(test_has(out, "elements = { 100.64.0.0/10 }"));
	CHECK(test_has(out, "ip saddr @devexit4 oifname \"eth9\""));
	CHECK(test_lacks(out, "100.64.0.20"));
	free(out);
	out = test_run("cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding",
		       NULL);
	CHECK(out && !strcmp(out, "1\n1\n"));
	free(out);

	/* tablet removed: its peer goes at once; phone's peer is the same. */
	phone->last_handshake.tv_sec = 4242;
	h.devices[1] = h.devices[2];
	CHECK_EQ_INT(hub_view(&h, h.devices, 2), 0);
	CHECK(wg_device_find_peer(h.node.dev, h.tablet) == NULL);
	CHECK(lookup(&h, "100.64.0.10") == NULL);
	CHECK(wg_device_find_peer(h.node.dev, h.phone) == phone);
	CHECK_EQ_INT(phone->last_handshake.tv_sec, 4242);
	out = test_run("nft list set inet meshgate dev4 2>&1", NULL);
	CHECK(test_has(out, "elements = { 100.64.0.7 }"));
	free(out);

	/* No device at all: no engine peer but home, no device sets. */
	CHECK_EQ_INT(hub_view(&h, NULL, 0), 0);
	CHECK(wg_device_find_peer(h.node.dev, h.phone) == NULL);
	CHECK_EQ_INT(h.node.dev->peer_count, 1);
	out = test_run("nft list table inet meshgate 2>&1", NULL);
	CHECK(test_lacks(out, "dev4"));
	CHECK(test_lacks(out, "devexit"));
	free(out);
out:
	hub_stop(&h);
}

/* A view with a filter: the node keeps a deep copy, which outlives the
 * view's; a view without one drops it. */
static void test_policy_kept(void)
{
	struct prefix src = pfx("100.64.0.1/32"), dst = pfx("100.64.0.3/32");
	struct acl_port_range ssh = { 22, 22 };
	struct acl_entry entry = { .rule = 1,
				   .hook = ACL_HOOK_INPUT,
				   .src = &src,
				   .n_src = 1,
				   .dst = &dst,
				   .n_dst = 1,
				   .protocols = ACL_PROTO_TCP,
				   .ports = &ssh,
				   .n_ports = 1 };
	struct acl_filter f = {
		.present = true, .deny = true, .revision = 5, .entries = &entry, .n_entries = 1
	};
	char text[PREFIX_STR_LEN];
	struct hub h;

	if (!hub_start(&h))
		goto out;
	CHECK(!h.node.policy.present);
	CHECK_EQ_INT(hub_view_policy(&h, h.devices, 3, &f), 0);
	CHECK(h.node.policy.present && h.node.policy.deny && h.node.policy.revision == 5);
	if (CHECK_EQ_INT(h.node.policy.n_entries, 1)) {
		CHECK(h.node.policy.entries != &entry && h.node.policy.entries[0].src != &src);
		src = pfx("10.9.9.9/32"); /* the view's memory is the caller's */
		prefix_format(&h.node.policy.entries[0].src[0], text, sizeof(text));
		CHECK(strcmp(text, "100.64.0.1/32") == 0);
		CHECK(h.node.policy.entries[0].ports[0].lo == 22 &&
		      h.node.policy.entries[0].protocols == ACL_PROTO_TCP);
	}
	CHECK_EQ_INT(hub_view(&h, h.devices, 3), 0);
	CHECK(!h.node.policy.present && h.node.policy.entries == NULL);
out:
	hub_stop(&h);
}

int main(void)
{
	int skip;

	if (sodium_init() < 0)
		return 1;
	skip = test_enter_private_netns();
	if (skip)
		return skip;
	if (nft_cleanup_table() == -EPROTONOSUPPORT) {
		printf("skipped: no nftables in this kernel\n");
		return 77;
	}
	log_init(LOG_TO_STDERR, LOG_WARNING);
	RUN(test_devices_on_the_hub);
	RUN(test_policy_kept);
	return test_summary();
}
