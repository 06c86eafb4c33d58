/*
 * The preferences of `meshgate set` (daemon/prefs.c): state_dir/prefs.json
 * read and written (bad JSON, unknown keys, wrong types and values), a set
 * request merged into the overrides (reset first, then what it gives), the
 * effective config (the file's values, the overrides on top), and the exit
 * `auto` chooses, against a naive reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "prefs.h"
#include "testlib.h"

static char dir[] = "/tmp/mg-prefs-XXXXXX";

static void prefs_file(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, PREFS_FILE);
	if (!text) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	if (!CHECK(f != NULL))
		return;
	fputs(text, f);
	fclose(f);
}

/* Loads text as prefs.json; 0 and *p, or the error in err. */
static int load(const char *text, struct prefs *p, char *err, size_t len)
{
	prefs_file(text);
	err[0] = '\0';
	return prefs_load(dir, p, err, len);
}

static void test_load(void)
{
	struct prefs p;
	char err[512], text[64];

	CHECK_EQ_INT(load(NULL, &p, err, sizeof(err)), 0);
	CHECK(!prefs_any(&p));
	CHECK_EQ_INT(load("{\"exit_node\": \"home\", \"accept_routes\": false, "
			  "\"advertise_routes\": [\"192.168.77.0/24\", \"fd00:1::/64\", "
			  "\"192.168.77.0/24\"], \"advertise_exit\": true}",
			  &p, err, sizeof(err)),
		     0);
	CHECK(p.set[PREFS_EXIT_NODE] && p.exit_mode == PREFS_EXIT_PEER);
	CHECK(!strcmp(p.exit_peer, "home"));
	CHECK(p.set[PREFS_ACCEPT_ROUTES] && !p.accept_routes);
	CHECK(p.set[PREFS_ADVERTISE_ROUTES]);
	CHECK_EQ_INT(p.advertise_routes.n, 2); /* the repeat dropped */
	prefix_format(&p.advertise_routes.v[1], text, sizeof(text));
	CHECK(!strcmp(text, "fd00:1::/64"));
	CHECK(p.set[PREFS_ADVERTISE_EXIT] && p.advertise_exit);
	prefs_free(&p);

	/* One key: only that one is an override; unknown keys are ignored. */
	CHECK_EQ_INT(
	    load("{\"exit_node\": \"auto\", \"from_the_future\": 1}", &p, err, sizeof(err)), 0);
	CHECK(p.set[PREFS_EXIT_NODE] && p.exit_mode == PREFS_EXIT_AUTO);
	CHECK(!p.set[PREFS_ACCEPT_ROUTES] && !p.set[PREFS_ADVERTISE_ROUTES] &&
	      !p.set[PREFS_ADVERTISE_EXIT]);
	prefs_free(&p);
	CHECK_EQ_INT(
	    load("{\"exit_node\": \"none\", \"advertise_routes\": []}", &p, err, sizeof(err)), 0);
	CHECK(p.exit_mode == PREFS_EXIT_NONE && p.set[PREFS_ADVERTISE_ROUTES]);
	CHECK_EQ_INT(p.advertise_routes.n, 0);
	prefs_free(&p);
	CHECK_EQ_INT(load("{\"exit_node\": \"100.64.0.2\"}", &p, err, sizeof(err)), 0);
	CHECK(!strcmp(p.exit_peer, "100.64.0.2"));
	prefs_free(&p);
}

/* A file refused as a whole, its reason naming the file and what. */
static void check_refused(const char *text, const char *why)
{
	struct prefs p;
	char err[512];

	CHECK(load(text, &p, err, sizeof(err)) < 0);
	CHECK(!prefs_any(&p));
	if (!CHECK(strstr(err, PREFS_FILE) && strstr(err, why)))
		fprintf(stderr, "  %s: got '%s', want '%s'\n", text, err, why);
}

static void test_load_refused(void)
{
	check_refused("not json", "prefs.json");
	check_refused("", "prefs.json");
	check_refused("[1, 2]", "not a JSON object");
	check_refused("{\"exit_node\": 1}", "exit_node must be a string");
	check_refused("{\"exit_node\": \"no/such\"}",
		      "exit_node: 'no/such' is neither a peer name nor an IP address");
	check_refused("{\"exit_node\": \"\"}", "neither a peer name nor an IP address");
	check_refused("{\"accept_routes\": \"no\"}", "accept_routes must be true or false");
	check_refused("{\"advertise_exit\": 1}", "advertise_exit must be true or false");
	check_refused("{\"advertise_routes\": \"10.0.0.0/8\"}",
		      "advertise_routes must be a list of prefixes");
	check_refused("{\"advertise_routes\": [7]}", "advertise_routes[0] must be a string");
	/* The config loader's words for subnet_router.routes. */
	check_refused("{\"advertise_routes\": [\"10.1.2.3/24\"]}",
		      "advertise_routes: '10.1.2.3/24' has host bits set; did you mean "
		      "'10.1.2.0/24'?");
	check_refused("{\"advertise_routes\": [\"lan\"]}",
		      "advertise_routes: 'lan' is not an IP prefix (ADDRESS/LENGTH)");
	check_refused("{\"exit_node\": \"a\", \"exit_node\": \"b\"}", "duplicate");
	prefs_file(NULL);
}

/* prefs_update() with the request as JSON text (a leak-free wrapper). */
static int update(struct prefs *p, const char *req, char *err, size_t len)
{
	json_t *doc = json_loads(req, 0, NULL);
	int ret = doc ? prefs_update(p, doc, err, len) : -1;

	json_decref(doc);
	return ret;
}

static void test_save_load(void)
{
	struct prefs p = { 0 }, back;
	char err[512], path[128];

	CHECK_EQ_INT(update(&p,
			    "{\"exit_node\": \"home\", \"advertise_exit\": false, "
			    "\"advertise_routes\": [\"192.168.77.0/24\"]}",
			    err, sizeof(err)),
		     0);
	CHECK_EQ_INT(prefs_save(dir, &p, err, sizeof(err)), 0);
	CHECK_EQ_INT(prefs_load(dir, &back, err, sizeof(err)), 0);
	CHECK(back.set[PREFS_EXIT_NODE] && !strcmp(back.exit_peer, "home"));
	CHECK(!back.set[PREFS_ACCEPT_ROUTES]);
	CHECK(back.set[PREFS_ADVERTISE_EXIT] && !back.advertise_exit);
	CHECK(back.set[PREFS_ADVERTISE_ROUTES] && back.advertise_routes.n == 1);
	prefs_free(&back);
	/* No override left: no file. */
	prefs_free(&p);
	CHECK_EQ_INT(prefs_save(dir, &p, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, PREFS_FILE);
	CHECK(access(path, F_OK) < 0);
	CHECK_EQ_INT(prefs_save(dir, &p, err, sizeof(err)), 0);
}

static void test_update(void)
{
	struct prefs p = { 0 };
	char err[512];

	CHECK_EQ_INT(update(&p, "{\"cmd\": \"set\", \"exit_node\": \"home\"}", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(update(&p, "{\"cmd\": \"set\", \"accept_routes\": false}", err, sizeof(err)),
		     0);
	/* One by one: the exit node stays. */
	CHECK(p.set[PREFS_EXIT_NODE] && !strcmp(p.exit_peer, "home"));
	CHECK(p.set[PREFS_ACCEPT_ROUTES] && !p.accept_routes);
	/* A bad request changes nothing. */
	CHECK(update(&p, "{\"exit_node\": \"none\", \"advertise_routes\": [\"0.0.0.1/0\"]}", err,
		     sizeof(err)) < 0);
	CHECK(strstr(err, "has host bits set") != NULL);
	CHECK(p.exit_mode == PREFS_EXIT_PEER && !p.set[PREFS_ADVERTISE_ROUTES]);
	CHECK(update(&p, "{\"reset\": 1}", err, sizeof(err)) < 0);
	CHECK(p.set[PREFS_EXIT_NODE]);
	/* Reset first, then what the request gives. */
	CHECK_EQ_INT(update(&p, "{\"reset\": true, \"advertise_exit\": true}", err, sizeof(err)),
		     0);
	CHECK(!p.set[PREFS_EXIT_NODE] && !p.set[PREFS_ACCEPT_ROUTES]);
	CHECK(p.set[PREFS_ADVERTISE_EXIT] && p.advertise_exit);
	CHECK_EQ_INT(update(&p, "{\"reset\": true}", err, sizeof(err)), 0);
	CHECK(!prefs_any(&p));
	prefs_free(&p);
}

/* A config as loaded: exit offered, routes, accept_routes. */
static int file_config(struct mg_config *cfg, const char *extra)
{
	char text[1024], err[1024];

	snprintf(text, sizeof(text),
		 "private_key_file = \"/nonexistent\";\nstate_dir = \"/tmp\";\n%s\n", extra);
	if (config_load_string(text, "test.conf", cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static void test_effective(void)
{
	struct mg_config cfg, eff;
	struct prefs file, over = { 0 };
	struct prefix_list routes;
	char err[512], text[64];

	if (!CHECK(file_config(&cfg, "accept_routes = false;\nexit_node = { enabled = true; };\n"
				     "subnet_router = { routes = [\"192.168.77.0/24\"]; snat = "
				     "true; };") == 0))
		return;
	CHECK_EQ_INT(prefs_of_config(&cfg, &file), 0);
	/* No override: the file. */
	eff = cfg;
	CHECK_EQ_INT(prefs_effective(&file, &over, "", &eff, &routes, err, sizeof(err)), 0);
	CHECK(!eff.accept_routes && eff.exit_node.enabled && !eff.use_exit_node.peer[0]);
	CHECK(eff.subnet_router.routes.n == 1 &&
	      eff.subnet_router.routes.v != cfg.subnet_router.routes.v);
	CHECK(eff.subnet_router.snat);
	free(routes.v);
	/* An exit in use while the file offers one: refused as the loader
	 * refuses it. */
	CHECK_EQ_INT(update(&over, "{\"exit_node\": \"home\"}", err, sizeof(err)), 0);
	eff = cfg;
	CHECK(prefs_effective(&file, &over, "", &eff, &routes, err, sizeof(err)) < 0);
	CHECK(strstr(err, "use_exit_node and exit_node.enabled exclude each other") != NULL);
	free(routes.v);
	/* With the offer off too, the exit is home; snat and the rest stay. */
	CHECK_EQ_INT(update(&over,
			    "{\"advertise_exit\": false, \"accept_routes\": true, "
			    "\"advertise_routes\": [\"10.9.0.0/16\"]}",
			    err, sizeof(err)),
		     0);
	eff = cfg;
	CHECK_EQ_INT(prefs_effective(&file, &over, "", &eff, &routes, err, sizeof(err)), 0);
	CHECK(!strcmp(eff.use_exit_node.peer, "home") && !eff.exit_node.enabled &&
	      eff.accept_routes && eff.subnet_router.snat);
	CHECK(eff.use_exit_node.allow_lan_access);
	prefix_format(&eff.subnet_router.routes.v[0], text, sizeof(text));
	CHECK(eff.subnet_router.routes.n == 1 && !strcmp(text, "10.9.0.0/16"));
	free(routes.v);
	/* auto: what was picked, "auto" (no peer) before anything is; none. */
	CHECK_EQ_INT(update(&over, "{\"exit_node\": \"auto\"}", err, sizeof(err)), 0);
	eff = cfg;
	CHECK_EQ_INT(prefs_effective(&file, &over, "ex2", &eff, &routes, err, sizeof(err)), 0);
	CHECK(!strcmp(eff.use_exit_node.peer, "ex2"));
	free(routes.v);
	eff = cfg;
	CHECK_EQ_INT(prefs_effective(&file, &over, "", &eff, &routes, err, sizeof(err)), 0);
	CHECK(!strcmp(eff.use_exit_node.peer, "auto"));
	free(routes.v);
	CHECK_EQ_INT(
	    update(&over, "{\"exit_node\": \"none\", \"advertise_routes\": []}", err, sizeof(err)),
	    0);
	eff = cfg;
	CHECK_EQ_INT(prefs_effective(&file, &over, "", &eff, &routes, err, sizeof(err)), 0);
	CHECK(!eff.use_exit_node.peer[0] && eff.subnet_router.routes.n == 0);
	free(routes.v);
	prefs_free(&over);
	prefs_free(&file);
	config_free(&cfg);
}

/* The naive reference: the current one if offered; else sort the offered
 * ones by (not fresh, older handshake, name) and take the first. */
static long auto_ref(const struct prefs_exit_candidate *c, size_t n, const char *current,
		     int64_t now, int64_t fresh_s)
{
	long best = -1;
	int64_t best_key[2] = { 0, 0 };

	for (size_t i = 0; i < n; i++)
		if (c[i].offered && !strcmp(c[i].name, current))
			return (long)i;
	for (size_t i = 0; i < n; i++) {
		bool fresh = c[i].last_handshake > 0 && now - c[i].last_handshake <= fresh_s;
		int64_t key[2] = { fresh ? 0 : 1, fresh ? -c[i].last_handshake : 0 };
		if (!c[i].offered)
			continue;
		if (best < 0 || key[0] < best_key[0] ||
		    (key[0] == best_key[0] &&
		     (key[1] < best_key[1] ||
		      (key[1] == best_key[1] && strcmp(c[i].name, c[best].name) < 0)))) {
			best = (long)i;
			best_key[0] = key[0];
			best_key[1] = key[1];
		}
	}
	return best;
}

static void test_exit_auto(void)
{
	static const char *const names[] = { "ex1", "ex2", "home", "lab", "" };
	struct prefs_exit_candidate c[4] = {
		{ "home", true, 990 },
		{ "ex2", true, 995 },
		{ "lab", false, 999 },
		{ "ex1", true, 0 },
	};
	struct test_rng rng = { 7 };

	/* Freshest handshake among the offered; the unoffered never. */
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "", 1000, 180), 1);
	/* The one in use stays while offered, even with an older handshake. */
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "home", 1000, 180), 0);
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "ex1", 1000, 180), 3);
	/* It goes when no longer offered; lab is not offered. */
	c[0].offered = false;
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "home", 1000, 180), 1);
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "lab", 1000, 180), 1);
	/* Nothing fresh: by name. */
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "", 5000, 180), 3);
	/* None offered: none. */
	c[1].offered = c[3].offered = false;
	CHECK_EQ_INT(prefs_exit_auto(c, 4, "ex2", 1000, 180), -1);
	CHECK_EQ_INT(prefs_exit_auto(c, 0, "", 1000, 180), -1);
	/* Random tables against the reference. */
	for (int round = 0; round < 2000; round++) {
		struct prefs_exit_candidate r[4];
		uint8_t b[16];
		const char *cur;

		test_rng_bytes(&rng, b, sizeof(b));
		for (size_t i = 0; i < 4; i++)
			r[i] = (struct prefs_exit_candidate){ names[b[i] % 4], b[4 + i] & 1,
							      b[8 + i] % 3 ? 800 + b[8 + i] : 0 };
		cur = names[b[12] % 5];
		if (!CHECK(prefs_exit_auto(r, 4, cur, 1000, 180) == auto_ref(r, 4, cur, 1000, 180)))
			break;
	}
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_load);
	RUN(test_load_refused);
	RUN(test_save_load);
	RUN(test_update);
	RUN(test_effective);
	RUN(test_exit_auto);
	rmdir(dir);
	return test_summary();
}
