/*
 * The node's choice of split domains (daemon/node_dns.c) from a view's
 * offers and its own config: one per domain, this node's own first while
 * approved, a usable offer over an unusable one, the first listed among
 * usable ones (lowest id), counted for the status warning; states ok,
 * offline and routes_not_accepted; the status's dns.split. The resolver
 * runs in a private network namespace.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "loop.h"
#include "mesh/host.h"
#include "node_dns.h"
#include "testlib.h"

static struct mesh_split_dns offer(const char *domain, const char *server, const char *via,
				   bool usable)
{
	struct mesh_split_dns o = { .usable = usable };

	snprintf(o.dns.domain, sizeof(o.dns.domain), "%s", domain);
	snprintf(o.via, sizeof(o.via), "%s", via);
	if (!split_dns_server_parse(server, &o.dns.server))
		abort();
	return o;
}

static const struct node_dns_split *find(const struct node_dns *d, const char *domain)
{
	for (size_t i = 0; i < d->n_splits; i++)
		if (!strcmp(d->splits[i].domain, domain))
			return &d->splits[i];
	return NULL;
}

/* "via state" of domain in the status document's dns.split; "" if none. */
static const char *status_of(const struct node_dns *d, const char *domain, char *out, size_t len)
{
	json_t *doc = node_dns_json(d), *e;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(doc, "split"), i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "domain")), domain))
			continue;
		snprintf(out, len, "%s %s%s", json_string_value(json_object_get(e, "via")),
			 json_string_value(json_object_get(e, "state")),
			 json_object_get(e, "warning") ? " warned" : "");
	}
	json_decref(doc);
	return out;
}

static void view_sync(struct node_dns *d, struct loop *loop, const struct mg_config *cfg,
		      const struct mesh_view *view)
{
	CHECK_EQ_INT(node_dns_take_names(d, view), 0);
	node_dns_sync(d, loop, cfg, true, view, NULL, "lo");
	CHECK(d->server != NULL);
}

static void test_choice(void)
{
	struct mesh_split_dns offers[4];
	struct prefix lan;
	struct mesh_approved approved = { .routes = &lan, .n_routes = 1 };
	struct mesh_view view = { .split_dns = offers, .n_split_dns = 4 };
	struct node_dns d = { 0 };
	struct mg_config cfg;
	struct loop *loop = loop_new();
	const struct node_dns_split *s;
	const char *domains[4];
	char text[128], dir[] = "/tmp/test_node_dns.XXXXXX";

	if (!loop || config_defaults(&cfg) < 0 || !mkdtemp(dir) ||
	    prefix_parse(&lan, "10.9.0.0/16"))
		abort();
	free(cfg.state_dir);
	cfg.state_dir = strdup(dir);
	cfg.dns.enabled = true;
	offers[0] = offer("home.lan", "192.168.77.53", "router1", false);
	offers[1] = offer("home.lan", "192.168.77.54", "router2", true);
	offers[2] = offer("home.lan", "192.168.77.55", "router3", true);
	offers[3] = offer("lab.lan", "10.2.0.53:5353", "lab", false);
	view_sync(&d, loop, &cfg, &view);
	CHECK_EQ_INT(d.n_splits, 2);
	s = find(&d, "home.lan");
	if (CHECK(s != NULL)) {
		CHECK(!strcmp(s->via, "router2") && s->state == NODE_DNS_SPLIT_OK);
		CHECK_EQ_INT(s->offers, 3);
	}
	s = find(&d, "lab.lan");
	CHECK(s && s->state == NODE_DNS_SPLIT_OFFLINE && s->offers == 1);
	CHECK(!strcmp(status_of(&d, "home.lan", text, sizeof(text)), "router2 ok warned"));
	CHECK(!strcmp(status_of(&d, "lab.lan", text, sizeof(text)), "lab offline"));
	CHECK_EQ_INT(node_dns_split_domains(&d, domains, 4), 2);

	/* Without accept_routes no peer's server is reachable. */
	cfg.accept_routes = false;
	view_sync(&d, loop, &cfg, &view);
	CHECK(!strcmp(status_of(&d, "home.lan", text, sizeof(text)),
		      "router2 routes_not_accepted warned"));

	/* This node's own offer wins while its route is approved. */
	cfg.accept_routes = true;
	snprintf(cfg.subnet_router.dns.domain, sizeof(cfg.subnet_router.dns.domain), "lab.lan");
	if (!split_dns_server_parse("10.9.0.53", &cfg.subnet_router.dns.server))
		abort();
	view_sync(&d, loop, &cfg, &view);
	CHECK(!strcmp(status_of(&d, "lab.lan", text, sizeof(text)), "lab offline"));
	view.approved = &approved;
	view_sync(&d, loop, &cfg, &view);
	s = find(&d, "lab.lan");
	if (CHECK(s != NULL)) {
		CHECK(s->state == NODE_DNS_SPLIT_OK && s->offers == 2);
		CHECK(!strcmp(s->via, cfg.hostname));
	}

	/* The offers withdrawn: nothing left (the names go upstream again). */
	view.n_split_dns = 0;
	cfg.subnet_router.dns.domain[0] = '\0';
	view_sync(&d, loop, &cfg, &view);
	CHECK_EQ_INT(d.n_splits, 0);
	CHECK_EQ_INT(node_dns_split_domains(&d, domains, 4), 0);

	node_dns_stop(&d);
	config_free(&cfg);
	loop_free(loop);
	rmdir(dir);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	RUN(test_choice);
	return test_summary();
}
