/* Human status output; see status_format.h. */
#include "status_format.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { CELL_LEN = 128, PEER_COLUMNS = 7, DEVICE_COLUMNS = 8, EXIT_COLUMNS = 8, MAX_COLUMNS = 8 };

void status_format_age(char *out, size_t len, time_t then, time_t now)
{
	static const struct {
		long secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	long age = then > now ? 0 : (long)(now - then);

	if (then == 0) {
		snprintf(out, len, "never");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (age >= units[i].secs || units[i].secs == 1) {
			snprintf(out, len, "%ld%c ago", age / units[i].secs, units[i].unit);
			return;
		}
	}
}

void status_format_bytes(char *out, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t i = 0;

	if (bytes < 1024) {
		snprintf(out, len, "%u B", (unsigned)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && i + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.1f %s", v, units[i]);
}

static const char *get_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && s[0] ? s : "-";
}

static bool get_bool(const json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

static uint64_t get_uint(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));
	return v > 0 ? (uint64_t)v : 0;
}

/* Appends the array's strings to out as "a, b, c", dropping "/len" if bare. */
static void join_list(char *out, size_t len, const json_t *arr, bool bare)
{
	size_t used = strlen(out), i;
	json_t *item;

	json_array_foreach(arr, i, item)
	{
		const char *s = json_string_value(item);
		int n = bare && s && strchr(s, '/') ? (int)(strchr(s, '/') - s)
			: s                         ? (int)strlen(s)
						    : 0;
		if (!s || used + 1 >= len)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? ", " : "", n, s);
		if (used >= len)
			used = len - 1;
	}
}

/* The first n characters of a base64 key and "…". */
static void short_key(char *out, size_t len, const char *key)
{
	snprintf(out, len, strcmp(key, "-") ? "%.8s\xe2\x80\xa6" : "%s", key);
}

/* The preference key of self.preferences when `meshgate set` overrides
 * it; NULL when the config decides. */
static const json_t * override(const json_t *self, const char *key)
{
	const json_t *p = json_object_get(json_object_get(self, "preferences"), key);
	const char *origin = json_string_value(json_object_get(p, "origin"));

	return origin && !strcmp(origin, "meshgate set") ? json_object_get(p, "value") : NULL;
}

/* " (meshgate set)" after what an override decided; "" otherwise. */
static const char *set_note(const json_t *self, const char *key)
{
	return override(self, key) ? " (meshgate set)" : "";
}

/* The overrides that turned something off, which the line would not show. */
static void print_overridden_off(FILE *out, const json_t *self)
{
	const json_t *v;

	v = override(self, "exit_node");
	if (v && !strcmp(json_string_value(v) ? json_string_value(v) : "", "none"))
		fprintf(out, "  exit node: none (meshgate set)");
	v = override(self, "advertise_routes");
	if (v && json_array_size(v) == 0)
		fprintf(out, "  routes: none (meshgate set)");
	if (json_is_false(override(self, "advertise_exit")))
		fprintf(out, "  offers no exit node (meshgate set)");
	v = override(self, "accept_routes");
	if (v)
		fprintf(out, "  accept routes: %s (meshgate set)", json_is_true(v) ? "yes" : "no");
}

static void print_self(FILE *out, const json_t *self)
{
	char addrs[CELL_LEN * 2] = "", key[16], extra[CELL_LEN * 2] = "";
	const json_t *port = json_object_get(self, "listen_port");
	const char *exit_peer = json_string_value(json_object_get(self, "exit_node_in_use"));
	const json_t *exit = json_object_get(self, "exit_node");

	join_list(addrs, sizeof(addrs), json_object_get(self, "addresses"), true);
	short_key(key, sizeof(key), get_str(self, "public_key"));
	fprintf(out, "%s (this node)  %s  key %s", get_str(self, "name"), addrs[0] ? addrs : "-",
		key);
	if (json_is_integer(port))
		fprintf(out, "  port %lld", (long long)json_integer_value(port));
	if (get_bool(self, "coordinator"))
		fprintf(out, "  coordinator");
	if (get_bool(self, "coordinator") && json_is_string(json_object_get(self, "role_origin")))
		fprintf(out, " (%s)", get_str(self, "role_origin"));
	if (get_bool(self, "exit_node_offered"))
		fprintf(out, "  offers exit node%s", set_note(self, "advertise_exit"));
	if (!exit_peer && !strcmp(get_str(exit, "state"), "blocked"))
		exit_peer = get_str(exit, "wanted");
	if (exit_peer)
		fprintf(out, "  exit node: %s%s%s", exit_peer,
			!strcmp(get_str(exit, "state"), "blocked") ? " (blocked)" : "",
			json_is_string(override(self, "exit_node")) &&
				!strcmp(json_string_value(override(self, "exit_node")), "auto")
			    ? " (auto, meshgate set)"
			    : set_note(self, "exit_node"));
	join_list(extra, sizeof(extra), json_object_get(self, "advertised_routes"), false);
	if (extra[0])
		fprintf(out, "  routes: %s%s", extra, set_note(self, "advertise_routes"));
	print_overridden_off(out, self);
	fputc('\n', out);
	if (json_is_string(json_object_get(self, "preferences_error")))
		fprintf(out, "preferences: %s\n", get_str(self, "preferences_error"));
}

struct row {
	char cell[MAX_COLUMNS][CELL_LEN * 2];
};

/* Appends "; note" (or "note" to an empty cell). */
static void add_note(char *notes, size_t len, const char *note)
{
	size_t used = strlen(notes);
	snprintf(notes + used, len - used, "%s%s", used ? "; " : "", note);
}

/* The first address without its length, or "-". */
static void first_address(char *out, size_t len, const json_t *obj)
{
	const char *first = json_string_value(json_array_get(json_object_get(obj, "addresses"), 0));

	first = first && first[0] ? first : "-";
	snprintf(out, len, "%.*s", (int)strcspn(first, "/"), first);
}

static void traffic_cells(struct row *r, int col, const json_t *obj, time_t now)
{
	char size[32];

	status_format_age(r->cell[col], sizeof(r->cell[col]),
			  (time_t)get_uint(obj, "last_handshake"), now);
	status_format_bytes(size, sizeof(size), get_uint(obj, "rx_bytes"));
	snprintf(r->cell[col + 1], sizeof(r->cell[col + 1]), "rx %s", size);
	status_format_bytes(size, sizeof(size), get_uint(obj, "tx_bytes"));
	snprintf(r->cell[col + 2], sizeof(r->cell[col + 2]), "tx %s", size);
}

/* "dns NAME" when the DNS name is not the name under the domain
 * (my_laptop is my-laptop.mesh.internal). */
static void dns_note(char *notes, size_t len, const json_t *obj)
{
	const char *dns = json_string_value(json_object_get(obj, "dns_name"));
	const char *name = get_str(obj, "name");
	size_t n = strlen(name);
	char note[CELL_LEN];

	if (!dns || (!strncmp(dns, name, n) && dns[n] == '.'))
		return;
	snprintf(note, sizeof(note), "dns %s", dns);
	add_note(notes, len, note);
}

/* Address, name, path and endpoint (with its name), handshake, rx, tx,
 * notes: "exit node" for the exit in use, "offers exit node" for one this
 * node could pick, "dns NAME" for a DNS name that is not the name. */
static void peer_row(struct row *r, const json_t *peer, time_t now)
{
	char notes[CELL_LEN * 2] = "";

	memset(r, 0, sizeof(*r));
	first_address(r->cell[0], sizeof(r->cell[0]), peer);
	snprintf(r->cell[1], sizeof(r->cell[1]), "%s", get_str(peer, "name"));
	if (json_is_string(json_object_get(peer, "endpoint")))
		snprintf(r->cell[2], sizeof(r->cell[2]), "%s %s", get_str(peer, "path"),
			 get_str(peer, "endpoint"));
	else
		snprintf(r->cell[2], sizeof(r->cell[2]), "%s", get_str(peer, "path"));
	/* The endpoint's name (a static peer's, the coordinator's) beside it. */
	if (json_is_string(json_object_get(peer, "endpoint_name")))
		snprintf(r->cell[2] + strlen(r->cell[2]), sizeof(r->cell[2]) - strlen(r->cell[2]),
			 " (%s)", get_str(peer, "endpoint_name"));
	traffic_cells(r, 3, peer, now);
	if (!get_bool(peer, "online"))
		add_note(notes, sizeof(notes), "offline");
	if (get_bool(peer, "exit_node"))
		add_note(notes, sizeof(notes), "exit node");
	else if (get_bool(peer, "exit_node_offered"))
		add_note(notes, sizeof(notes), "offers exit node");
	else if (!strcmp(get_str(peer, "exit_offer"), "pending"))
		add_note(notes, sizeof(notes), "exit node pending approval");
	dns_note(notes, sizeof(notes), peer);
	if (json_array_size(json_object_get(peer, "routes"))) {
		char routes[CELL_LEN * 2 - 16] = "";
		join_list(routes, sizeof(routes), json_object_get(peer, "routes"), false);
		snprintf(notes + strlen(notes), sizeof(notes) - strlen(notes), "%sroutes: %s",
			 notes[0] ? "; " : "", routes);
	}
	snprintf(r->cell[6], sizeof(r->cell[6]), "%s", notes);
}

/* Address, name, hub, then for a device this node hubs: endpoint,
 * handshake, rx, tx; notes. */
static void device_row(struct row *r, const json_t *dev, time_t now)
{
	char notes[CELL_LEN * 2] = "";
	bool attached = get_bool(dev, "attached");

	memset(r, 0, sizeof(*r));
	first_address(r->cell[0], sizeof(r->cell[0]), dev);
	snprintf(r->cell[1], sizeof(r->cell[1]), "%s", get_str(dev, "name"));
	snprintf(r->cell[2], sizeof(r->cell[2]), "hub %s", get_str(dev, "hub"));
	if (attached) {
		snprintf(r->cell[3], sizeof(r->cell[3]), "%s", get_str(dev, "endpoint"));
		traffic_cells(r, 4, dev, now);
		if (!get_bool(dev, "online"))
			add_note(notes, sizeof(notes), "offline");
	}
	if (get_bool(dev, "exit_node"))
		add_note(notes, sizeof(notes), "exit allowed");
	dns_note(notes, sizeof(notes), dev);
	snprintf(r->cell[7], sizeof(r->cell[7]), "%s", notes);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void print_row(FILE *out, const struct row *r, const size_t *width, int columns)
{
	int last = columns - 1;

	while (last > 0 && !r->cell[last][0])
		last--;
	for (int c = 0; c <= last; c++) {
		if (width[c] == 0 && c < last)
			continue; /* a column empty in every row */
		fputs(r->cell[c], out);
		if (c == last)
			break;
		for (size_t pad = text_width(r->cell[c]); pad < width[c] + 2; pad++)
			fputc(' ', out);
	}
	fputc('\n', out);
}

/* One aligned row per element of arr; false out of memory. */
static bool print_table(FILE *out, const json_t *arr, int columns,
			void (*fill)(struct row *r, const json_t *item, time_t now), time_t now)
{
	size_t n = json_array_size(arr), width[MAX_COLUMNS] = { 0 };
	struct row *rows = calloc(n, sizeof(*rows));

	if (!rows)
		return false;
	for (size_t i = 0; i < n; i++) {
		fill(&rows[i], json_array_get(arr, i), now);
		for (int c = 0; c < columns; c++)
			if (text_width(rows[i].cell[c]) > width[c])
				width[c] = text_width(rows[i].cell[c]);
	}
	for (size_t i = 0; i < n; i++)
		print_row(out, &rows[i], width, columns);
	free(rows);
	return true;
}

/* A line per failed preflight check, with its fix indented below. */
static void print_preflight(FILE *out, const json_t *checks)
{
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
	{
		const char *fix = json_string_value(json_object_get(c, "fix"));
		if (!json_is_false(json_object_get(c, "ok")))
			continue;
		fprintf(out, "preflight: %s: %s\n", get_str(c, "check"), get_str(c, "message"));
		for (const char *p = fix; p && *p;) {
			int n = (int)strcspn(p, "\n");
			fprintf(out, "  fix: %.*s\n", n, p);
			p += n + (p[n] == '\n');
		}
	}
}

/* The coordinator's public address by STUN, one line: what it is and how
 * it was learned, that STUN is off, or why it failed. */
static void print_stun(FILE *out, const json_t *coord, time_t now)
{
	const json_t *stun = json_object_get(coord, "stun");
	const char *pub = json_string_value(json_object_get(coord, "public_endpoint"));
	const char *error = json_string_value(json_object_get(stun, "error"));
	json_int_t servers = json_integer_value(json_object_get(stun, "servers"));
	char age[32];

	if (!json_is_object(stun))
		return;
	if (servers == 0 && !pub) {
		fprintf(out, "public address: STUN off (coordinator.stun = [])\n");
		return;
	}
	fprintf(out, "public address: %s", pub ? pub : "unknown");
	if (pub) {
		status_format_age(age, sizeof(age),
				  (time_t)json_integer_value(json_object_get(stun, "learned_at")),
				  now);
		fprintf(out, " by STUN %s, NAT %s", age, get_str(stun, "nat"));
		if (!strcmp(get_str(stun, "nat"), "symmetric"))
			fprintf(out, " (not usable in invites)");
	}
	if (error)
		fprintf(out, "%s%s", pub ? "; last round: " : " (", error);
	fprintf(out, "%s\n", error && !pub ? ")" : "");
}

/* The exit state's sentence when internet traffic is blocked. */
static void print_exit_blocked(FILE *out, const json_t *self)
{
	const json_t *exit = json_object_get(self, "exit_node");

	if (!strcmp(get_str(exit, "state"), "blocked"))
		fprintf(out, "%s\n", get_str(exit, "reason"));
}

/* "policy: deny by default, revision 4, 3 entries enforced here"; nothing
 * without a policy (an older daemon, or the mesh has none). */
static void print_policy(FILE *out, const json_t *policy)
{
	uint64_t entries = get_uint(policy, "entries");

	if (!json_is_object(policy) || get_uint(policy, "revision") == 0)
		return;
	fprintf(out, "policy: %s by default, revision %llu, %llu entr%s enforced here\n",
		get_str(policy, "default"), (unsigned long long)get_uint(policy, "revision"),
		(unsigned long long)entries, entries == 1 ? "y" : "ies");
}

void status_format_human(FILE *out, const json_t *doc, time_t now)
{
	const json_t *peers = json_object_get(doc, "peers");
	const json_t *devices = json_object_get(doc, "devices");

	print_self(out, json_object_get(doc, "self"));
	print_policy(out, json_object_get(doc, "policy"));
	print_exit_blocked(out, json_object_get(doc, "self"));
	print_stun(out, json_object_get(doc, "coordinator"), now);
	print_preflight(out, json_object_get(doc, "preflight"));
	if (json_array_size(peers) == 0)
		fprintf(out, "no peers\n");
	else if (!print_table(out, peers, PEER_COLUMNS, peer_row, now))
		fprintf(out, "(out of memory)\n");
	if (json_array_size(devices) == 0)
		return;
	fprintf(out, "devices:\n");
	if (!print_table(out, devices, DEVICE_COLUMNS, device_row, now))
		fprintf(out, "(out of memory)\n");
}

/* ---- meshgate exit-node list ---- */

/* A peer offers an exit: its "exit_offer", or an approved one as a daemon
 * without that member reports it. */
static const char *exit_offer_of(const json_t *peer)
{
	const char *offer = json_string_value(json_object_get(peer, "exit_offer"));

	if (offer)
		return offer;
	return get_bool(peer, "exit_node_offered") ? "approved" : NULL;
}

json_t *status_exit_nodes(const json_t *doc)
{
	const json_t *self = json_object_get(doc, "self");
	const char *in_use = json_string_value(json_object_get(self, "exit_node_in_use"));
	const char *wanted =
	    json_string_value(json_object_get(json_object_get(self, "exit_node"), "wanted"));
	json_t *arr = json_array(), *peer;
	size_t i;

	json_array_foreach(json_object_get(doc, "peers"), i, peer)
	{
		const char *offer = exit_offer_of(peer), *name = get_str(peer, "name");
		json_t *addrs = json_object_get(peer, "addresses");
		bool usable = get_bool(peer, "exit_node_offered");
		/* An approved offer is usable only while the coordinator sees
		 * the node online; a recent handshake alone does not say so. */
		bool online =
		    get_bool(peer, "online") && (usable || strcmp(offer ?: "", "approved"));

		if (!arr || !offer)
			continue;
		json_array_append_new(
		    arr, json_pack("{s:s, s:O, s:s, s:b, s:b, s:s, s:I, s:b, s:b}", "name", name,
				   "addresses", addrs ? addrs : json_null(), "state",
				   !strcmp(offer, "approved") ? "approved" : "pending", "usable",
				   usable, "online", online, "path", get_str(peer, "path"),
				   "last_handshake", (json_int_t)get_uint(peer, "last_handshake"),
				   "in_use", in_use && !strcmp(in_use, name), "wanted",
				   wanted && !strcmp(wanted, name)));
	}
	return arr;
}

/* Marker, name, address, approval, online, path, handshake, in use; the
 * column heads for {"header": true}. */
static void exit_row(struct row *r, const json_t *e, time_t now)
{
	static const char *const head[EXIT_COLUMNS] = { " ",     "NAME", "ADDRESS",   "APPROVAL",
							"STATE", "PATH", "HANDSHAKE", "USE" };
	bool approved = !strcmp(get_str(e, "state"), "approved");

	memset(r, 0, sizeof(*r));
	if (get_bool(e, "header")) {
		for (int c = 0; c < EXIT_COLUMNS; c++)
			snprintf(r->cell[c], sizeof(r->cell[c]), "%s", head[c]);
		return;
	}
	snprintf(r->cell[0], sizeof(r->cell[0]), "%s", get_bool(e, "in_use") ? "*" : " ");
	snprintf(r->cell[1], sizeof(r->cell[1]), "%s", get_str(e, "name"));
	first_address(r->cell[2], sizeof(r->cell[2]), e);
	snprintf(r->cell[3], sizeof(r->cell[3]), "%s", approved ? "approved" : "pending approval");
	snprintf(r->cell[4], sizeof(r->cell[4]), "%s",
		 get_bool(e, "online") ? "online" : "offline");
	snprintf(r->cell[5], sizeof(r->cell[5]), "%s", get_str(e, "path"));
	status_format_age(r->cell[6], sizeof(r->cell[6]), (time_t)get_uint(e, "last_handshake"),
			  now);
	snprintf(r->cell[7], sizeof(r->cell[7]), "%s",
		 get_bool(e, "in_use")   ? "in use"
		 : get_bool(e, "wanted") ? "chosen, blocked"
					 : "-");
}

void status_format_exit_nodes(FILE *out, const json_t *doc, time_t now)
{
	const json_t *self = json_object_get(doc, "self");
	json_t *list = status_exit_nodes(doc), *all = json_array();

	if (!list || !all) {
		fprintf(out, "(out of memory)\n");
	} else if (json_array_size(list) == 0) {
		fprintf(out, "No peer offers an exit node.\n"
			     "To offer one, set exit_node = { enabled = true; } in the config of "
			     "the node that should carry internet traffic and reload it: the "
			     "coordinator's own offer is approved by its config, a member's on the "
			     "coordinator with: meshgate routes approve NODE 0.0.0.0/0 ::/0\n");
	} else {
		json_array_append_new(all, json_pack("{s:b}", "header", 1));
		json_array_extend(all, list);
		if (!print_table(out, all, EXIT_COLUMNS, exit_row, now))
			fprintf(out, "(out of memory)\n");
	}
	print_exit_blocked(out, self);
	json_decref(list);
	json_decref(all);
}
