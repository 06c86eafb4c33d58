/* The saved mesh state (state_dir/mesh.json): what joining gave this node; see client_state.h. */
#include "mesh/client_state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "mesh/hello.h"
#include "mesh/client_role.h"

/* ---- saved state ---- */

static json_t *key_json(const uint8_t *key)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	return json_string(b64);
}

/* {"home.example.net:41641": "198.51.100.10:41641"}: what each of the
 * coordinator's endpoint names resolved to last (client_ddns.h). */
static json_t *names_json(const struct mesh_client *mc)
{
	char name[ENDPOINT_STR_LEN], addr[SOCKADDR_STR_LEN];
	json_t *obj = json_object();

	for (size_t i = 0; obj && i < mc->n_coord_eps; i++) {
		const struct client_name *cn = &mc->coord_names[i];
		if (!cn->used || !cn->dn.known)
			continue;
		ddns_name_format(&cn->dn, name, sizeof(name));
		sockaddr_format(&cn->dn.addr, addr, sizeof(addr));
		json_object_set_new(obj, name, json_string(addr));
	}
	return obj;
}

/* The coordinator's names to follow, with the addresses saved for them. */
static void names_load(struct mesh_client *mc, const json_t *obj)
{
	char name[ENDPOINT_STR_LEN];
	union sockaddr_inet sa;

	for (size_t i = 0; i < INVITE_MAX_ENDPOINTS; i++) {
		struct client_name *cn = &mc->coord_names[i];
		*cn = (struct client_name){ .mc = mc };
		if (i >= mc->n_coord_eps || mc->coord_eps[i].numeric)
			continue;
		cn->used = true;
		ddns_init(&cn->dn, &mc->coord_eps[i]);
		ddns_name_format(&cn->dn, name, sizeof(name));
		if (sockaddr_parse(&sa, json_string_value(json_object_get(obj, name)) ?: "") == 0) {
			cn->dn.addr = sa;
			cn->dn.known = true;
		}
	}
}

int client_state_save(struct mesh_client *mc)
{
	char path[4096], relay[SOCKADDR_STR_LEN], *text;
	json_t *doc;
	int ret;

	sockaddr_format(&mc->relay_addr, relay, sizeof(relay));
	doc =
	    json_pack("{s:o, s:o, s:I, s:s, s:o, s:o, s:o, s:s, s:o}", "coordinator_key",
		      key_json(mc->coord_key), "sign_key", key_json(mc->sign_key), "node_id",
		      (json_int_t)mc->self_id, "name", mc->name, "addresses",
		      mesh_prefixes_json(mc->addrs, mc->n_addrs), "coordinator_addresses",
		      mesh_prefixes_json(mc->coord_addrs, mc->n_coord_addrs),
		      "coordinator_endpoints", mesh_endpoints_json(mc->coord_eps, mc->n_coord_eps),
		      "relay", relay, "coordinator_endpoint_addresses", names_json(mc));
	state_path(mc, MESH_STATE_FILE, path, sizeof(path));
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	ret = atomicfile_write(path, text, strlen(text), 0600, 0);
	free(text);
	return ret;
}

int client_prefixes_load(const json_t *arr, struct prefix *out, size_t max, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	json_array_foreach(arr, i, v)
	{
		if (*n == max || !json_is_string(v) || prefix_parse(&out[*n], json_string_value(v)))
			return -EINVAL;
		(*n)++;
	}
	return *n ? 0 : -EINVAL;
}

int client_state_load(struct mesh_client *mc)
{
	char path[4096];
	json_t *doc, *eps, *v;
	size_t i;
	int ret = -EINVAL;

	state_path(mc, MESH_STATE_FILE, path, sizeof(path));
	doc = json_load_file(path, 0, NULL);
	if (!doc)
		return -ENOENT;
	if (!key_from_base64(mc->coord_key,
			     json_string_value(json_object_get(doc, "coordinator_key")) ?: "") ||
	    !key_from_base64(mc->sign_key,
			     json_string_value(json_object_get(doc, "sign_key")) ?: "") ||
	    client_prefixes_load(json_object_get(doc, "addresses"), mc->addrs, 2, &mc->n_addrs) <
		0 ||
	    client_prefixes_load(json_object_get(doc, "coordinator_addresses"), mc->coord_addrs, 2,
				 &mc->n_coord_addrs) < 0 ||
	    sockaddr_parse(&mc->relay_addr,
			   json_string_value(json_object_get(doc, "relay")) ?: "") < 0)
		goto out;
	mc->self_id = (uint32_t)json_integer_value(json_object_get(doc, "node_id"));
	snprintf(mc->name, sizeof(mc->name), "%s",
		 json_string_value(json_object_get(doc, "name")) ?: "");
	eps = json_object_get(doc, "coordinator_endpoints");
	mc->n_coord_eps = 0;
	json_array_foreach(eps, i, v)
	{
		if (mc->n_coord_eps < INVITE_MAX_ENDPOINTS && json_is_string(v) &&
		    endpoint_parse(&mc->coord_eps[mc->n_coord_eps], json_string_value(v)) == 0)
			mc->n_coord_eps++;
	}
	names_load(mc, json_object_get(doc, "coordinator_endpoint_addresses"));
	ret = mc->self_id ? 0 : -EINVAL;
out:
	json_decref(doc);
	return ret;
}
