/*
 * `meshgate status` for people (daemon/status_format.h): peers that offer
 * an exit are marked apart from the exit in use, and the mesh's devices
 * follow the peers in a "devices:" table, with engine facts for those this
 * node hubs. Exact text, known answers.
 */
#include <jansson.h>
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

int main(void)
{
	RUN(test_preferences);
	RUN(test_exit_offers);
	RUN(test_devices);
	RUN(test_devices_mistyped);
	return test_summary();
}
