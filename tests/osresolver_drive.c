/*
 * osresolver_drive DIR: the OS resolver's seam (dns/osresolver.h) through a
 * fixed sequence, for test_resolved_bus.sh. resolv.conf is DIR/resolv.conf
 * (never the host's) and the state directory DIR. Prints one line per step:
 * the status fields after it ("managed method error").
 *
 *   set      the mesh domain and a split domain, no exit node, IPv4 only
 *   same     the same again (nothing new to send)
 *   exit     with an exit node and an IPv6 mesh address
 *   split2   a second split domain offered (a router's offer approved)
 *   nosplit  no split domain (the offers withdrawn)
 *   stop     put back
 *   missing  link 99, which the stand-in does not know: the error kept
 */
#include <stdio.h>

#include "dns/osresolver.h"

static void show(const char *step, const struct osresolver *r)
{
	const char *method = osresolver_method_name(r->method);

	printf("%s managed=%d method=%s error=%s\n", step, r->managed, method ? method : "null",
	       r->error[0] ? r->error : "none");
}

static void start(struct osresolver *r, const char *dir, int ifindex)
{
	osresolver_init(r, dir, ifindex);
	snprintf(r->resolv_conf, sizeof(r->resolv_conf), "%s/resolv.conf", dir);
}

int main(int argc, char **argv)
{
	static const char *const split[] = { "home.lan", "office.lan" };
	struct resolved_want want = { .domain = "mesh.internal",
				      .split_domains = split,
				      .n_split_domains = 1 };
	struct osresolver r;

	if (argc != 2) {
		fprintf(stderr, "usage: osresolver_drive DIR\n");
		return 2;
	}
	start(&r, argv[1], 7);
	osresolver_set(&r, &want);
	show("set", &r);
	osresolver_set(&r, &want);
	show("same", &r);
	want.exit_node = want.v6 = true;
	osresolver_set(&r, &want);
	show("exit", &r);
	want.n_split_domains = 2;
	osresolver_set(&r, &want);
	show("split2", &r);
	want.n_split_domains = 0;
	osresolver_set(&r, &want);
	show("nosplit", &r);
	osresolver_stop(&r);
	show("stop", &r);
	start(&r, argv[1], 99);
	osresolver_set(&r, &want);
	show("missing", &r);
	osresolver_stop(&r);
	return 0;
}
