/* `meshgate set` on the node; see node_prefs.h. */
#include "node_prefs.h"

#include <string.h>

#include "node.h"
#include "prefs.h"

/* The file's exit_node: its peer, null for none. */
static json_t *value_json(const struct prefs *p, enum prefs_key key, bool from_file)
{
	if (from_file && key == PREFS_EXIT_NODE && !p->exit_peer[0])
		return json_null();
	return prefs_value_json(p, key);
}

json_t *node_prefs_json(const struct node *node)
{
	json_t *doc = json_object();

	for (size_t k = 0; doc && k < PREFS_N; k++) {
		bool set = node->prefs.set[k];
		const struct prefs *p = set ? &node->prefs : &node->file_prefs;
		json_t *v = json_pack("{s:o, s:s}", "value", value_json(p, (enum prefs_key)k, !set),
				      "origin", set ? "meshgate set" : "config");
		if (json_object_set_new(doc, prefs_key_name((enum prefs_key)k), v) < 0) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

/* Whether the request changes anything: reset, or a preference. */
static bool changes(const json_t *req)
{
	if (json_object_get(req, "reset"))
		return true;
	for (size_t k = 0; k < PREFS_N; k++)
		if (json_object_get(req, prefs_key_name((enum prefs_key)k)))
			return true;
	return false;
}

json_t *node_prefs_set(struct node *node, const json_t *req, const char **error)
{
	struct prefs p;
	int ret;

	*error = node->set_error;
	if (changes(req)) {
		if (prefs_copy(&p, &node->prefs) < 0) {
			*error = "out of memory";
			return NULL;
		}
		ret = prefs_update(&p, req, node->set_error, sizeof(node->set_error));
		if (ret == 0)
			ret = node_set_prefs(node, &p, node->set_error, sizeof(node->set_error));
		prefs_free(&p);
		if (ret < 0)
			return NULL;
	}
	return json_pack("{s:o, s:o, s:o}", "overrides", prefs_to_json(&node->prefs), "preferences",
			 node_prefs_json(node), "error",
			 node->prefs_error[0] ? json_string(node->prefs_error) : json_null());
}
