/*
 * `meshgate status` for people (daemon/status_format.h): peers that offer
 * an exit are marked apart from the exit in use, and the mesh's devices
 * follow the peers in a "devices:" table, with engine facts for those this
 * node hubs. Exact text, known answers.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_format.h"
#include "testlib.h"

static const char self_json[] =
    "\"self\": {\"name\": \"home\", \"addresses\": [\"100.64.0.1/10\"], \"public_key\": "
    "\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\", \"exit_node_offered\": true}";
static const char self_line[] = "home (this node)  100.64.0.1  key hSDwCYkw\xe2\x80\xa6  "
				"offers exit node\n";

/* "exit node" is the exit in use; "offers exit node" one the node could
 * pick; a peer whose offer is not approved has neither. */
static void test_exit_offers(void)
{
	static const char doc[] =
	    "{%s, \"peers\": ["
	    "{\"name\": \"office\", \"addresses\": [\"100.64.0.2/32\"], \"path\": \"direct\", "
	    "\"endpoint\": \"192.0.2.2:41641\", \"last_handshake\": 990, \"online\": true, "
	    "\"exit_node\": false, \"exit_node_offered\": true},"
	    "{\"name\": \"cloud\", \"addresses\": [\"100.64.0.3/32\"], \"path\": \"relay\", "
	    "\"endpoint\": \"192.0.2.3:41641\", \"last_handshake\": 995, \"online\": true, "
	    "\"exit_node\": true, \"exit_node_offered\": true},"
	    "{\"name\": \"lap\", \"addresses\": [\"100.64.0.4/32\"], \"path\": \"none\", "
	    "\"endpoint\": null, \"last_handshake\": 0, \"online\": false, "
	    "\"exit_node\": false, \"exit_node_offered\": false}]}";
	char text[2048];

	snprintf(text, sizeof(text), doc, self_json);
	CHECK_STATUS_TEXT(text, 1000,
			  "home (this node)  100.64.0.1  key hSDwCYkw\xe2\x80\xa6  "
			  "offers exit node\n"
			  "100.64.0.2  office  direct 192.0.2.2:41641  10s ago  rx 0 B  "
			  "tx 0 B  offers exit node\n"
			  "100.64.0.3  cloud   relay 192.0.2.3:41641   5s ago   rx 0 B  "
			  "tx 0 B  exit node\n"
			  "100.64.0.4  lap     none                    never    rx 0 B  "
			  "tx 0 B  offline\n");
}

/* A DNS name that is not the name (my_laptop is my-laptop.<domain>) is a
 * note; one that is, or none, is not. */
static void test_dns_name(void)
{
	static const char doc[] =
	    "{%s, \"peers\": ["
	    "{\"name\": \"my_laptop\", \"addresses\": [\"100.64.0.2/32\"], \"path\": \"direct\", "
	    "\"endpoint\": null, \"last_handshake\": 990, \"online\": true, "
	    "\"dns_name\": \"my-laptop.mesh.internal\"},"
	    "{\"name\": \"cloud\", \"addresses\": [\"100.64.0.3/32\"], \"path\": \"direct\", "
	    "\"endpoint\": null, \"last_handshake\": 990, \"online\": true, "
	    "\"dns_name\": \"cloud.mesh.internal\"},"
	    "{\"name\": \"My.Laptop\", \"addresses\": [\"100.64.0.4/32\"], \"path\": \"direct\", "
	    "\"endpoint\": null, \"last_handshake\": 990, \"online\": true, "
	    "\"dns_name\": null}]}";
	char text[2048];

	snprintf(text, sizeof(text), doc, self_json);
	CHECK_STATUS_TEXT(text, 1000,
			  "home (this node)  100.64.0.1  key hSDwCYkw\xe2\x80\xa6  "
			  "offers exit node\n"
			  "100.64.0.2  my_laptop  direct  10s ago  rx 0 B  tx 0 B  "
			  "dns my-laptop.mesh.internal\n"
			  "100.64.0.3  cloud      direct  10s ago  rx 0 B  tx 0 B\n"
			  "100.64.0.4  My.Laptop  direct  10s ago  rx 0 B  tx 0 B\n");
}

static const char devices_json[] =
    "\"devices\": ["
    "{\"name\": \"phone\", \"addresses\": [\"100.64.0.7/32\", \"fd7a:6d67:7465::7/128\"], "
    "\"hub\": \"home\", \"attached\": true, \"exit_node\": true, \"last_handshake\": 995, "
    "\"rx_bytes\": 1536, \"tx_bytes\": 20, \"online\": true, \"endpoint\": "
    "\"198.51.100.7:4500\"},"
    "{\"name\": \"win-laptop\", \"addresses\": [\"100.64.0.8/32\"], \"hub\": \"home\", "
    "\"attached\": true, \"exit_node\": false, \"last_handshake\": 0, \"rx_bytes\": 0, "
    "\"tx_bytes\": 0, \"online\": false, \"endpoint\": null},"
    "{\"name\": \"tablet\", \"addresses\": [\"100.64.0.9/32\"], \"hub\": \"office\", "
    "\"attached\": false, \"exit_node\": false, \"last_handshake\": 0, \"rx_bytes\": 0, "
    "\"tx_bytes\": 0, \"online\": false, \"endpoint\": null}]";

static const char devices_text[] =
    "devices:\n"
    "100.64.0.7  phone       hub home    198.51.100.7:4500  5s ago  rx 1.5 KiB  tx 20 B  "
    "exit allowed\n"
    "100.64.0.8  win-laptop  hub home    -                  never   rx 0 B      tx 0 B   "
    "offline\n"
    "100.64.0.9  tablet      hub office\n";

/* Devices after the peers: the attached ones with endpoint, handshake and
 * traffic, the others with their hub alone. */
static void test_devices(void)
{
	char text[4096], want[2048];

	snprintf(
	    text, sizeof(text),
	    "{%s, \"peers\": [{\"name\": \"office\", \"addresses\": [\"100.64.0.2/32\"], "
	    "\"path\": \"direct\", \"endpoint\": \"192.0.2.2:41641\", \"last_handshake\": 990, "
	    "\"online\": true}], %s}",
	    self_json, devices_json);
	snprintf(want, sizeof(want),
		 "%s100.64.0.2  office  direct 192.0.2.2:41641  10s ago  rx 0 B  tx 0 B\n%s",
		 self_line, devices_text);
	CHECK_STATUS_TEXT(text, 1000, want);

	/* No peers: the devices all the same. */
	snprintf(text, sizeof(text), "{%s, \"peers\": [], %s}", self_json, devices_json);
	snprintf(want, sizeof(want), "%sno peers\n%s", self_line, devices_text);
	CHECK_STATUS_TEXT(text, 1000, want);

	/* Devices of other hubs alone: no empty columns for the engine's facts. */
	CHECK_STATUS_TEXT(
	    "{\"peers\": [], \"devices\": [{\"name\": \"tablet\", \"addresses\": "
	    "[\"100.64.0.9/32\"], \"hub\": \"office\", \"exit_node\": true}, {\"name\": "
	    "\"pad\", \"addresses\": [\"100.64.0.10/32\"], \"hub\": \"office\"}]}",
	    0,
	    "- (this node)  -  key -\n"
	    "no peers\n"
	    "devices:\n"
	    "100.64.0.9   tablet  hub office  exit allowed\n"
	    "100.64.0.10  pad     hub office\n");

	/* No devices, or an empty list: no section (older daemons have none). */
	snprintf(text, sizeof(text), "{%s, \"peers\": [], \"devices\": []}", self_json);
	snprintf(want, sizeof(want), "%sno peers\n", self_line);
	CHECK_STATUS_TEXT(text, 1000, want);
}

/* Wrong types print as "-" or zero, never crash. */
static void test_devices_mistyped(void)
{
	CHECK_STATUS_TEXT(
	    "{\"devices\": [1, {\"name\": 5, \"addresses\": \"x\", \"attached\": true, "
	    "\"rx_bytes\": -5, \"endpoint\": 7}]}",
	    0,
	    "- (this node)  -  key -\n"
	    "no peers\n"
	    "devices:\n"
	    "-  -  hub -\n"
	    "-  -  hub -  -  never  rx 0 B  tx 0 B  offline\n");
}

/* An override of `meshgate set` is noted where it decides; one that
 * turns something off says so; the config's go unmarked. */
static void test_preferences(void)
{
	static const char doc[] =
	    "{\"self\": {\"name\": \"lap\", \"addresses\": [], \"exit_node_in_use\": %s, "
	    "\"exit_node_offered\": %s, \"advertised_routes\": %s, \"preferences\": {"
	    "\"exit_node\": {\"value\": %s, \"origin\": \"%s\"}, "
	    "\"accept_routes\": {\"value\": false, \"origin\": \"%s\"}, "
	    "\"advertise_routes\": {\"value\": %s, \"origin\": \"%s\"}, "
	    "\"advertise_exit\": {\"value\": %s, \"origin\": \"%s\"}}, "
	    "\"preferences_error\": %s}, \"peers\": []}";
	char text[2048];

	snprintf(text, sizeof(text), doc, "\"home\"", "false", "[\"10.1.0.0/16\"]", "\"home\"",
		 "meshgate set", "config", "[\"10.1.0.0/16\"]", "config", "false", "config",
		 "null");
	CHECK_STATUS_TEXT(text, 0,
			  "lap (this node)  -  key -  exit node: home (meshgate set)  "
			  "routes: 10.1.0.0/16\nno peers\n");
	snprintf(text, sizeof(text), doc, "\"ex2\"", "false", "[]", "\"auto\"", "meshgate set",
		 "meshgate set", "[]", "meshgate set", "false", "meshgate set", "null");
	CHECK_STATUS_TEXT(text, 0,
			  "lap (this node)  -  key -  exit node: ex2 (auto, meshgate set)  "
			  "routes: none (meshgate set)  offers no exit node (meshgate set)  "
			  "accept routes: no (meshgate set)\nno peers\n");
	snprintf(text, sizeof(text), doc, "null", "true", "[\"10.1.0.0/16\"]", "\"none\"",
		 "meshgate set", "config", "[\"10.1.0.0/16\"]", "meshgate set", "true",
		 "meshgate set", "\"/var/lib/meshgate/prefs.json ignored: bad\"");
	CHECK_STATUS_TEXT(text, 0,
			  "lap (this node)  -  key -  offers exit node (meshgate set)  "
			  "routes: 10.1.0.0/16 (meshgate set)  exit node: none (meshgate set)\n"
			  "preferences: /var/lib/meshgate/prefs.json ignored: bad\n"
			  "no peers\n");
}

/* A laptop whose chosen exit, office, waits for approval while cloud's
 * is approved; lap offers none. */
static const char exit_doc[] =
    "{\"self\": {\"name\": \"laptop\", \"addresses\": [\"100.64.0.5/10\"], "
    "\"public_key\": \"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\", "
    "\"exit_node_in_use\": %s, \"exit_node\": {\"wanted\": \"office\", \"state\": \"%s\", "
    "\"reason\": %s}}, \"peers\": ["
    "{\"name\": \"office\", \"addresses\": [\"100.64.0.2/32\"], \"path\": \"direct\", "
    "\"endpoint\": \"192.0.2.2:41641\", \"last_handshake\": 990, \"online\": true, "
    "\"exit_node\": %s, \"exit_node_offered\": %s, \"exit_offer\": \"%s\"},"
    "{\"name\": \"cloud\", \"addresses\": [\"100.64.0.3/32\"], \"path\": \"none\", "
    "\"endpoint\": null, \"last_handshake\": 0, \"online\": false, "
    "\"exit_node\": false, \"exit_node_offered\": false, \"exit_offer\": \"approved\"},"
    "{\"name\": \"lap\", \"addresses\": [\"100.64.0.4/32\"], \"path\": \"none\", "
    "\"endpoint\": null, \"last_handshake\": 0, \"online\": false, "
    "\"exit_node\": false, \"exit_node_offered\": false, \"exit_offer\": null}]}";

static const char pending_reason[] =
    "internet traffic is blocked: exit node 'office' is not approved (on the coordinator: "
    "meshgate routes approve office 0.0.0.0/0 ::/0)";

static json_t *exit_status(bool approved)
{
	char text[4096], reason[512];

	snprintf(reason, sizeof(reason), "\"%s\"", pending_reason);
	snprintf(text, sizeof(text), exit_doc, approved ? "\"office\"" : "null",
		 approved ? "in_use" : "blocked", approved ? "null" : reason,
		 approved ? "true" : "false", approved ? "true" : "false",
		 approved ? "approved" : "pending");
	return json_loads(text, 0, NULL);
}

static char *render_exit_nodes(const json_t *doc, time_t now)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	status_format_exit_nodes(f, doc, now);
	fclose(f);
	return buf;
}

static void check_text(const char *got, const char *want)
{
	if (!CHECK(strcmp(got, want) == 0))
		fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
}

/* The blocked sentence in status, under the node's line. */
static void test_exit_blocked_status(void)
{
	json_t *doc = exit_status(false);
	char *text = json_dumps(doc, 0), want[2048];

	snprintf(want, sizeof(want),
		 "laptop (this node)  100.64.0.5  key hSDwCYkw\xe2\x80\xa6  exit node: office "
		 "(blocked)\n%s\n"
		 "100.64.0.2  office  direct 192.0.2.2:41641  10s ago  rx 0 B  tx 0 B  exit node "
		 "pending approval\n"
		 "100.64.0.3  cloud   none                    never    rx 0 B  tx 0 B  offline\n"
		 "100.64.0.4  lap     none                    never    rx 0 B  tx 0 B  offline\n",
		 pending_reason);
	CHECK_STATUS_TEXT(text, 1000, want);
	free(text);
	json_decref(doc);
}

/* exit-node list: the offering peers (lap is not one), "*" on the one in
 * use, the reason when blocked; --json's view. */
static void test_exit_list(void)
{
	json_t *doc = exit_status(false), *list;
	char *text = render_exit_nodes(doc, 1000), want[2048];

	snprintf(want, sizeof(want),
		 "   NAME    ADDRESS     APPROVAL          STATE    PATH    HANDSHAKE  USE\n"
		 "   office  100.64.0.2  pending approval  online   direct  10s ago    chosen, "
		 "blocked\n"
		 "   cloud   100.64.0.3  approved          offline  none    never      -\n"
		 "%s\n",
		 pending_reason);
	check_text(text, want);
	free(text);
	list = status_exit_nodes(doc);
	CHECK_EQ_INT(json_array_size(list), 2);
	CHECK(!strcmp(json_string_value(json_object_get(json_array_get(list, 0), "state")),
		      "pending"));
	CHECK(json_is_true(json_object_get(json_array_get(list, 0), "wanted")));
	CHECK(json_is_false(json_object_get(json_array_get(list, 0), "in_use")));
	/* cloud's handshake is recent but the coordinator no longer offers its
	 * approved exit (it went offline): offline in the list. */
	json_object_set_new(json_array_get(json_object_get(doc, "peers"), 1), "online",
			    json_true());
	json_decref(list);
	list = status_exit_nodes(doc);
	CHECK(json_is_false(json_object_get(json_array_get(list, 1), "online")));
	json_decref(list);
	json_decref(doc);

	doc = exit_status(true);
	text = render_exit_nodes(doc, 1000);
	check_text(text, "   NAME    ADDRESS     APPROVAL  STATE    PATH    HANDSHAKE  USE\n"
			 "*  office  100.64.0.2  approved  online   direct  10s ago    in use\n"
			 "   cloud   100.64.0.3  approved  offline  none    never      -\n");
	free(text);
	list = status_exit_nodes(doc);
	CHECK(json_is_true(json_object_get(json_array_get(list, 0), "in_use")));
	CHECK(json_is_true(json_object_get(json_array_get(list, 0), "usable")));
	json_decref(list);
	json_decref(doc);
}

/* Nothing offered: how to offer one. */
static void test_exit_list_empty(void)
{
	json_t *doc = json_loads("{\"self\": {\"name\": \"laptop\"}, \"peers\": []}", 0, NULL);
	char *text = render_exit_nodes(doc, 1000);

	check_text(text, "No peer offers an exit node.\n"
			 "To offer one, set exit_node = { enabled = true; } in the config of the "
			 "node that should carry internet traffic and reload it: the "
			 "coordinator's own offer is approved by its config, a member's on the "
			 "coordinator with: meshgate routes approve NODE 0.0.0.0/0 ::/0\n");
	free(text);
	json_decref(doc);
}

int main(void)
{
	RUN(test_preferences);
	RUN(test_exit_blocked_status);
	RUN(test_exit_list);
	RUN(test_exit_list_empty);
	RUN(test_exit_offers);
	RUN(test_dns_name);
	RUN(test_devices);
	RUN(test_devices_mistyped);
	return test_summary();
}
