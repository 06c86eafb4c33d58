/* The preferences of `meshgate set`; see prefs.h. */
#include "prefs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"

static const char *const key_names[PREFS_N] = {
	[PREFS_EXIT_NODE] = "exit_node",
	[PREFS_ACCEPT_ROUTES] = "accept_routes",
	[PREFS_ADVERTISE_ROUTES] = "advertise_routes",
	[PREFS_ADVERTISE_EXIT] = "advertise_exit",
};

const char *prefs_key_name(enum prefs_key key)
{
	return key_names[key];
}

void prefs_free(struct prefs *p)
{
	if (!p)
		return;
	free(p->advertise_routes.v);
	*p = (struct prefs){ 0 };
}

static int routes_copy(struct prefix_list *dst, const struct prefix_list *src)
{
	*dst = (struct prefix_list){ 0 };
	if (!src->n)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = src->n;
	return 0;
}

int prefs_copy(struct prefs *dst, const struct prefs *src)
{
	*dst = *src;
	return routes_copy(&dst->advertise_routes, &src->advertise_routes);
}

int prefs_of_config(const struct mg_config *cfg, struct prefs *out)
{
	*out = (struct prefs){ .exit_mode = PREFS_EXIT_PEER,
			       .accept_routes = cfg->accept_routes,
			       .advertise_exit = cfg->exit_node.enabled };
	for (size_t i = 0; i < PREFS_N; i++)
		out->set[i] = true;
	snprintf(out->exit_peer, sizeof(out->exit_peer), "%s", cfg->use_exit_node.peer);
	return routes_copy(&out->advertise_routes, &cfg->subnet_router.routes);
}

bool prefs_any(const struct prefs *p)
{
	for (size_t i = 0; i < PREFS_N; i++)
		if (p->set[i])
			return true;
	return false;
}

/* ---- the JSON form ---- */

/* What use_exit_node.peer takes (config.c parse_node), "none" or "auto". */
static int exit_from_json(const json_t *v, struct prefs *out, char *errbuf, size_t errlen)
{
	const char *text = json_string_value(v);
	struct prefix addr;

	if (!text) {
		snprintf(errbuf, errlen, "exit_node must be a string");
		return -EINVAL;
	}
	if (!strcmp(text, "none") || !strcmp(text, "auto")) {
		out->exit_mode = text[0] == 'n' ? PREFS_EXIT_NONE : PREFS_EXIT_AUTO;
		return 0;
	}
	if (!config_name_valid(text) && (strchr(text, '/') || prefix_parse(&addr, text) < 0)) {
		snprintf(errbuf, errlen,
			 "exit_node: '%.80s' is neither a peer name nor an IP address", text);
		return -EINVAL;
	}
	out->exit_mode = PREFS_EXIT_PEER;
	snprintf(out->exit_peer, sizeof(out->exit_peer), "%s", text);
	return 0;
}

/* One prefix as subnet_router.routes takes it (config.c parse_prefix_value
 * with F_NETWORK, the same words). */
static int prefix_from_text(const char *text, struct prefix *out, char *errbuf, size_t errlen)
{
	char network[PREFIX_STR_LEN];
	struct prefix masked;

	if (prefix_parse(out, text) < 0) {
		snprintf(errbuf, errlen,
			 "advertise_routes: '%.80s' is not an IP prefix (ADDRESS/LENGTH)", text);
		return -EINVAL;
	}
	if (!prefix_is_network(out)) {
		masked = *out;
		prefix_mask(&masked);
		prefix_format(&masked, network, sizeof(network));
		snprintf(errbuf, errlen,
			 "advertise_routes: '%.80s' has host bits set; did you mean '%s'?", text,
			 network);
		return -EINVAL;
	}
	return 0;
}

static bool listed(const struct prefix_list *l, const struct prefix *p)
{
	for (size_t i = 0; i < l->n; i++)
		if (prefix_equal(&l->v[i], p))
			return true;
	return false;
}

/* A list of prefixes, repeats dropped as the loader drops them. */
static int routes_from_json(const json_t *v, struct prefix_list *out, char *errbuf, size_t errlen)
{
	size_t i;
	json_t *item;
	int ret = 0;

	if (!json_is_array(v)) {
		snprintf(errbuf, errlen, "advertise_routes must be a list of prefixes");
		return -EINVAL;
	}
	out->v = calloc(json_array_size(v) + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	json_array_foreach(v, i, item)
	{
		struct prefix p;
		if (!json_is_string(item)) {
			snprintf(errbuf, errlen, "advertise_routes[%zu] must be a string", i);
			ret = -EINVAL;
		} else {
			ret = prefix_from_text(json_string_value(item), &p, errbuf, errlen);
		}
		if (ret < 0)
			break;
		if (!listed(out, &p))
			out->v[out->n++] = p;
	}
	return ret;
}

static int bool_from_json(const json_t *v, enum prefs_key key, bool *out, char *errbuf,
			  size_t errlen)
{
	if (!json_is_boolean(v)) {
		snprintf(errbuf, errlen, "%s must be true or false", key_names[key]);
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int key_from_json(const json_t *v, enum prefs_key key, struct prefs *out, char *errbuf,
			 size_t errlen)
{
	switch (key) {
	case PREFS_EXIT_NODE:
		return exit_from_json(v, out, errbuf, errlen);
	case PREFS_ACCEPT_ROUTES:
		return bool_from_json(v, key, &out->accept_routes, errbuf, errlen);
	case PREFS_ADVERTISE_ROUTES:
		return routes_from_json(v, &out->advertise_routes, errbuf, errlen);
	case PREFS_ADVERTISE_EXIT:
		return bool_from_json(v, key, &out->advertise_exit, errbuf, errlen);
	default:
		return -EINVAL;
	}
}

int prefs_from_json(const json_t *doc, struct prefs *out, char *errbuf, size_t errlen)
{
	int ret = 0;

	*out = (struct prefs){ 0 };
	if (!json_is_object(doc)) {
		snprintf(errbuf, errlen, "not a JSON object");
		return -EINVAL;
	}
	for (size_t k = 0; k < PREFS_N && ret == 0; k++) {
		const json_t *v = json_object_get(doc, key_names[k]);
		if (!v)
			continue;
		ret = key_from_json(v, (enum prefs_key)k, out, errbuf, errlen);
		out->set[k] = true;
	}
	if (ret < 0)
		prefs_free(out);
	return ret;
}

json_t *prefs_value_json(const struct prefs *p, enum prefs_key key)
{
	json_t *arr;

	switch (key) {
	case PREFS_EXIT_NODE:
		return json_string(p->exit_mode == PREFS_EXIT_AUTO   ? "auto"
				   : p->exit_mode == PREFS_EXIT_NONE ? "none"
								     : p->exit_peer);
	case PREFS_ACCEPT_ROUTES:
		return json_boolean(p->accept_routes);
	case PREFS_ADVERTISE_ROUTES:
		arr = json_array();
		for (size_t i = 0; arr && i < p->advertise_routes.n; i++) {
			char text[PREFIX_STR_LEN];
			prefix_format(&p->advertise_routes.v[i], text, sizeof(text));
			json_array_append_new(arr, json_string(text));
		}
		return arr;
	case PREFS_ADVERTISE_EXIT:
		return json_boolean(p->advertise_exit);
	default:
		return NULL;
	}
}

json_t *prefs_to_json(const struct prefs *p)
{
	json_t *doc = json_object();

	for (size_t k = 0; doc && k < PREFS_N; k++)
		if (p->set[k] && json_object_set_new(doc, key_names[k],
						     prefs_value_json(p, (enum prefs_key)k)) < 0) {
			json_decref(doc);
			return NULL;
		}
	return doc;
}

/* ---- the file ---- */

static void prefs_path(const char *state_dir, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", state_dir, PREFS_FILE);
}

int prefs_load(const char *state_dir, struct prefs *out, char *errbuf, size_t errlen)
{
	char path[4096], why[256];
	json_error_t jerr;
	json_t *doc;
	int ret;

	*out = (struct prefs){ 0 };
	prefs_path(state_dir, path, sizeof(path));
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(errbuf, errlen, "%.200s: %s", path,
			 json_error_code(&jerr) == json_error_cannot_open_file ? strerror(errno)
									       : jerr.text);
		return -EINVAL;
	}
	ret = prefs_from_json(doc, out, why, sizeof(why));
	if (ret < 0)
		snprintf(errbuf, errlen, "%.200s: %s", path, why);
	json_decref(doc);
	return ret;
}

int prefs_save(const char *state_dir, const struct prefs *p, char *errbuf, size_t errlen)
{
	char path[4096];
	json_t *doc;
	char *text;
	int ret;

	prefs_path(state_dir, path, sizeof(path));
	if (!prefs_any(p)) {
		ret = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
		goto out;
	}
	doc = prefs_to_json(p);
	text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	ret = atomicfile_write(path, text, strlen(text), 0644, 0);
	free(text);
out:
	if (ret < 0)
		snprintf(errbuf, errlen, "cannot write %.200s: %s", path, strerror(-ret));
	return ret;
}

int prefs_update(struct prefs *p, const json_t *req, char *errbuf, size_t errlen)
{
	struct prefs given, out;
	const json_t *reset = json_object_get(req, "reset");
	int ret;

	if (reset && !json_is_boolean(reset)) {
		snprintf(errbuf, errlen, "reset must be true or false");
		return -EINVAL;
	}
	ret = prefs_from_json(req, &given, errbuf, errlen);
	if (ret < 0)
		return ret;
	if (json_is_true(reset))
		out = (struct prefs){ 0 };
	else if (prefs_copy(&out, p) < 0) {
		prefs_free(&given);
		return -ENOMEM;
	}
	if (given.set[PREFS_EXIT_NODE]) {
		out.exit_mode = given.exit_mode;
		memcpy(out.exit_peer, given.exit_peer, sizeof(out.exit_peer));
	}
	if (given.set[PREFS_ACCEPT_ROUTES])
		out.accept_routes = given.accept_routes;
	if (given.set[PREFS_ADVERTISE_ROUTES]) {
		free(out.advertise_routes.v);
		out.advertise_routes = given.advertise_routes;
		given.advertise_routes = (struct prefix_list){ 0 };
	}
	if (given.set[PREFS_ADVERTISE_EXIT])
		out.advertise_exit = given.advertise_exit;
	for (size_t k = 0; k < PREFS_N; k++)
		out.set[k] |= given.set[k];
	prefs_free(&given);
	prefs_free(p);
	*p = out;
	return 0;
}

/* ---- the effective configuration ---- */

/* The preference of key: over's when it holds it, else the file's. */
static const struct prefs *pick(const struct prefs *file, const struct prefs *over,
				enum prefs_key key)
{
	return over && over->set[key] ? over : file;
}

int prefs_effective(const struct prefs *file, const struct prefs *over, const char *auto_pick,
		    struct mg_config *cfg, struct prefix_list *routes, char *errbuf, size_t errlen)
{
	const struct prefs *e = pick(file, over, PREFS_EXIT_NODE);
	const char *peer = e->exit_mode == PREFS_EXIT_PEER   ? e->exit_peer
			   : e->exit_mode == PREFS_EXIT_NONE ? ""
			   : auto_pick && auto_pick[0]       ? auto_pick
							     : "auto";

	if (routes_copy(routes, &pick(file, over, PREFS_ADVERTISE_ROUTES)->advertise_routes) < 0) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(cfg->use_exit_node.peer, sizeof(cfg->use_exit_node.peer), "%s", peer);
	cfg->accept_routes = pick(file, over, PREFS_ACCEPT_ROUTES)->accept_routes;
	cfg->subnet_router.routes = *routes;
	cfg->exit_node.enabled = pick(file, over, PREFS_ADVERTISE_EXIT)->advertise_exit;
	if (cfg->exit_node.enabled && cfg->use_exit_node.peer[0]) {
		snprintf(errbuf, errlen,
			 "use_exit_node and exit_node.enabled exclude each other (an exit node "
			 "cannot send its own traffic through another): meshgate set "
			 "--exit-node none, or --advertise-exit=false");
		return -EINVAL;
	}
	return 0;
}

/* ---- exit node auto ---- */

static bool fresh(const struct prefs_exit_candidate *c, int64_t now, int64_t fresh_s)
{
	return c->last_handshake > 0 && now - c->last_handshake <= fresh_s;
}

/* Whether a is a better choice than b (both offered). */
static bool better(const struct prefs_exit_candidate *a, const struct prefs_exit_candidate *b,
		   int64_t now, int64_t fresh_s)
{
	bool fa = fresh(a, now, fresh_s), fb = fresh(b, now, fresh_s);

	if (fa != fb)
		return fa;
	if (fa && a->last_handshake != b->last_handshake)
		return a->last_handshake > b->last_handshake;
	return strcmp(a->name, b->name) < 0;
}

long prefs_exit_auto(const struct prefs_exit_candidate *c, size_t n, const char *current,
		     int64_t now, int64_t fresh_s)
{
	long best = -1;

	for (size_t i = 0; i < n; i++)
		if (c[i].offered && current && current[0] && !strcmp(c[i].name, current))
			return (long)i;
	for (size_t i = 0; i < n; i++)
		if (c[i].offered && (best < 0 || better(&c[i], &c[best], now, fresh_s)))
			best = (long)i;
	return best;
}
