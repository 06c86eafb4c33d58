/*
 * Prometheus text from the status document (webui/metrics.h): every line a
 * comment or "name{labels} value", label values escaped, the per-peer and
 * daemon series present, missing fields left out; devices by name alone.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "webui/metrics.h"

static const char doc_text[] =
    "{\"self\": {\"name\": \"home\", \"public_key\": \"AAAA\", \"coordinator\": true,"
    "  \"advertised_routes\": [\"192.168.1.0/24\"], \"exit_node_offered\": true},"
    " \"peers\": ["
    "  {\"name\": \"lap\\\"top\\\\\\n\", \"public_key\": \"BBBB\", \"path\": \"direct\","
    "   \"last_handshake\": 1000, \"rx_bytes\": 123, \"tx_bytes\": 456,"
    "   \"routes\": [\"10.1.0.0/16\", \"10.2.0.0/16\"], \"online\": true},"
    "  {\"name\": \"phone\", \"public_key\": \"CCCC\", \"path\": \"none\","
    "   \"last_handshake\": 0, \"rx_bytes\": 0, \"tx_bytes\": 0, \"routes\": [],"
    "   \"online\": false, \"exit_node_offered\": true}],"
    " \"devices\": ["
    "  {\"name\": \"pix\\\"el\", \"addresses\": [\"100.64.0.7/32\"], \"hub\": \"home\","
    "   \"attached\": true, \"exit_node\": true, \"last_handshake\": 1020, \"rx_bytes\": 77,"
    "   \"tx_bytes\": 88, \"online\": true, \"endpoint\": \"198.51.100.7:4500\"},"
    "  {\"name\": \"tablet\", \"addresses\": [\"100.64.0.9/32\"], \"hub\": \"office\","
    "   \"attached\": false, \"exit_node\": false, \"last_handshake\": 0, \"rx_bytes\": 0,"
    "   \"tx_bytes\": 0, \"online\": false, \"endpoint\": null}],"
    " \"daemon\": {\"version\": \"0.1.0\", \"interface\": \"mg0\", \"started_at\": 900,"
    "  \"drops\": {\"rx_bad_mac\": 7, \"rx_replay\": 2},"
    "  \"handshake_initiations_rx\": 3, \"handshake_initiations_tx\": 4,"
    "  \"handshake_responses_rx\": 5, \"handshake_responses_tx\": 6,"
    "  \"cookie_replies_rx\": 0, \"cookie_replies_tx\": 1, \"sessions_established\": 9,"
    "  \"routes_installed\": 3, \"mesh_control\": {\"updates_deferred\": 1995,"
    "  \"reconnects_refused\": 46, \"rebuilds\": 14}},"
    " \"preflight\": [{\"check\": \"tun\", \"ok\": true}, {\"check\": \"forwarding\","
    "  \"ok\": false}, {\"check\": \"udp_port\", \"ok\": null}]}";

/* A metric name, optional {labels} with quoted values, a space, a number. */
static bool valid_sample(const char *line)
{
	const char *p = line;

	if (!isalpha((unsigned char)*p) && *p != '_')
		return false;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (*p++ != '=' || *p++ != '"')
				return false;
			while (*p && *p != '"')
				p += *p == '\\' ? 2 : 1;
			if (*p++ != '"')
				return false;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	char *end;
	strtod(p, &end);
	return end != p && *end == '\0';
}

static char *render(void)
{
	json_error_t err;
	json_t *doc = json_loads(doc_text, 0, &err);
	char *text;

	CHECK(doc != NULL);
	text = metrics_render(doc, 1030);
	json_decref(doc);
	return text;
}

static void test_lines_parse(void)
{
	char *text = render(), *save = NULL;
	unsigned samples = 0;

	CHECK(text && text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			CHECK(!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7));
			continue;
		}
		if (!CHECK(valid_sample(line)))
			printf("  bad line: %s\n", line);
		samples++;
	}
	CHECK(samples > 20);
	free(text);
}

static bool has(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	return strstr(text, want) != NULL;
}

static void test_series(void)
{
	char *text = render();

	CHECK(has(text, "meshgate_info{version=\"0.1.0\",interface=\"mg0\",name=\"home\","
			"coordinator=\"true\"} 1"));
	CHECK(has(text, "meshgate_peers 2"));
	CHECK(has(text, "meshgate_peers_online 1"));
	/* The hostile name comes out escaped. */
	CHECK(has(text, "meshgate_peer_rx_bytes_total{peer=\"lap\\\"top\\\\\\n\","
			"public_key=\"BBBB\"} 123"));
	CHECK(has(text, "meshgate_peer_tx_bytes_total{peer=\"phone\",public_key=\"CCCC\"} 0"));
	CHECK(has(text, "meshgate_peer_handshake_age_seconds{peer=\"lap\\\"top\\\\\\n\","
			"public_key=\"BBBB\"} 30"));
	/* No handshake: no age at all rather than a made-up one. */
	CHECK(!strstr(text, "meshgate_peer_handshake_age_seconds{peer=\"phone\""));
	CHECK(has(text, "meshgate_peer_path{peer=\"phone\",public_key=\"CCCC\",path=\"none\"} 1"));
	CHECK(has(text, "meshgate_peer_online{peer=\"phone\",public_key=\"CCCC\"} 0"));
	CHECK(has(text, "meshgate_dropped_packets_total{reason=\"rx_bad_mac\"} 7"));
	CHECK(has(text, "meshgate_handshakes_total{type=\"response\",direction=\"tx\"} 6"));
	CHECK(has(text, "meshgate_cookie_replies_total{direction=\"tx\"} 1"));
	CHECK(has(text, "meshgate_sessions_established_total 9"));
	CHECK(has(text, "meshgate_mesh_control_total{event=\"updates_deferred\"} 1995"));
	CHECK(has(text, "meshgate_mesh_control_total{event=\"reconnects_refused\"} 46"));
	CHECK(has(text, "meshgate_mesh_control_total{event=\"rebuilds\"} 14"));
	CHECK(has(text, "# TYPE meshgate_mesh_control_total counter"));
	CHECK(has(text, "meshgate_routes{kind=\"advertised\"} 1"));
	CHECK(has(text, "meshgate_routes{kind=\"peers\"} 2"));
	CHECK(has(text, "meshgate_routes{kind=\"installed\"} 3"));
	CHECK(has(text, "meshgate_preflight_ok{check=\"forwarding\"} 0"));
	CHECK(!strstr(text, "check=\"udp_port\""));
	CHECK(has(text, "# TYPE meshgate_peer_rx_bytes_total counter"));
	CHECK(has(text, "meshgate_peer_exit_node_offered{peer=\"phone\",public_key=\"CCCC\"} 1"));
	CHECK(has(text, "meshgate_peer_exit_node_offered{peer=\"lap\\\"top\\\\\\n\","
			"public_key=\"BBBB\"} 0"));
	free(text);
}

/* Devices by name, never a key; per-device series only for the devices
 * this node hubs. */
static void test_devices(void)
{
	char *text = render();

	CHECK(has(text, "meshgate_devices 2"));
	CHECK(has(text, "meshgate_devices_attached 1"));
	CHECK(has(text, "meshgate_devices_online 1"));
	CHECK(has(text, "# TYPE meshgate_device_rx_bytes_total counter"));
	CHECK(has(text, "meshgate_device_rx_bytes_total{device=\"pix\\\"el\"} 77"));
	CHECK(has(text, "meshgate_device_tx_bytes_total{device=\"pix\\\"el\"} 88"));
	CHECK(has(text, "meshgate_device_last_handshake_seconds{device=\"pix\\\"el\"} 1020"));
	CHECK(has(text, "meshgate_device_online{device=\"pix\\\"el\"} 1"));
	CHECK(!strstr(text, "device=\"tablet\""));
	free(text);
}

/* 1 while the chosen exit cannot carry internet traffic, else 0. */
static void test_exit_blocked(void)
{
	static const char *const states[] = { "blocked", "in_use", "off" };

	for (size_t i = 0; i < 3; i++) {
		json_t *doc = json_pack("{s:{s:{s:s}}}", "self", "exit_node", "state", states[i]);
		char *text = metrics_render(doc, 0);

		CHECK(text && has(text, "# TYPE meshgate_exit_node_blocked gauge"));
		CHECK(text && has(text, i == 0 ? "meshgate_exit_node_blocked 1"
					       : "meshgate_exit_node_blocked 0"));
		free(text);
		json_decref(doc);
	}
}

/* The resolver's counters from the status document's "dns"; none when it
 * does not run. */
static void test_dns(void)
{
	json_t *doc = json_loads(
	    "{\"dns\": {\"enabled\": true, \"domain\": \"mesh.internal\", \"names\": 4,"
	    " \"listen\": [\"100.100.100.100:53\"], \"queries\": {\"udp\": 7, \"tcp\": 2},"
	    " \"answers\": {\"NOERROR\": 5, \"NXDOMAIN\": 1, \"REFUSED\": 2},"
	    " \"dropped\": {\"rate_limit\": 3, \"malformed\": 1}, \"local\": 6,"
	    " \"forwarded\": 2, \"truncated\": 1, \"tcp_refused\": 0,"
	    " \"forward\": {\"upstreams\": [\"100.64.0.1:53\"], \"queries\": 9, \"sent\": 4,"
	    " \"tcp_fallbacks\": 1, \"timeouts\": 2, \"upstream_errors\": 1,"
	    " \"mismatched\": 0, \"servfail_built\": 1, \"busy\": 0, \"inflight\": 1,"
	    " \"cache\": {\"hits\": 5, \"misses\": 4, \"evictions\": 0, \"expired\": 1,"
	    " \"entries\": 3, \"bytes\": 600}}}}",
	    0, NULL);
	char *text = metrics_render(doc, 0);

	CHECK(text && has(text, "meshgate_dns_names 4"));
	CHECK(text && has(text, "# TYPE meshgate_dns_queries_total counter"));
	CHECK(text && has(text, "meshgate_dns_queries_total{transport=\"udp\"} 7"));
	CHECK(text && has(text, "meshgate_dns_queries_total{transport=\"tcp\"} 2"));
	CHECK(text && has(text, "meshgate_dns_answers_total{rcode=\"NXDOMAIN\"} 1"));
	CHECK(text && has(text, "meshgate_dns_dropped_total{reason=\"rate_limit\"} 3"));
	CHECK(text && has(text, "meshgate_dns_resolved_total{where=\"local\"} 6"));
	CHECK(text && has(text, "meshgate_dns_resolved_total{where=\"forwarded\"} 2"));
	CHECK(text && has(text, "meshgate_dns_truncated_total 1"));
	CHECK(text && has(text, "meshgate_dns_forward_queries_total 9"));
	CHECK(text && has(text, "meshgate_dns_forward_sent_total{transport=\"udp\"} 4"));
	CHECK(text && has(text, "meshgate_dns_forward_sent_total{transport=\"tcp\"} 1"));
	CHECK(text && has(text, "meshgate_dns_forward_failures_total{reason=\"timeout\"} 2"));
	CHECK(text && has(text, "meshgate_dns_forward_upstreams 1"));
	CHECK(text && has(text, "meshgate_dns_forward_inflight 1"));
	CHECK(text && has(text, "meshgate_dns_cache_total{result=\"hit\"} 5"));
	CHECK(text && has(text, "meshgate_dns_cache_entries 3"));
	CHECK(text && has(text, "meshgate_dns_cache_bytes 600"));
	free(text);
	json_decref(doc);
	doc = json_loads("{\"dns\": {\"enabled\": false, \"names\": 0, \"listen\": []}}", 0, NULL);
	text = metrics_render(doc, 0);
	CHECK(text && !strstr(text, "meshgate_dns_"));
	free(text);
	json_decref(doc);
}

/* The access policy's counters from "policy.counters": accepted per rule
 * and hook, denied per hook; none without them. */
static void test_policy(void)
{
	json_t *doc = json_loads("{\"policy\": {\"counters\": {\"accepted\": ["
				 "{\"rule\": 0, \"hook\": \"input\", \"packets\": 3},"
				 "{\"rule\": 2, \"hook\": \"forward\", \"packets\": 12},"
				 "{\"rule\": 3, \"hook\": \"exit\", \"packets\": 0}],"
				 "\"denied\": {\"input\": 1, \"forward\": 7, \"exit\": 0}}}}",
				 0, NULL);
	char *text = metrics_render(doc, 1000);

	CHECK(text && has(text, "# TYPE meshgate_policy_accepted_packets_total counter"));
	CHECK(text &&
	      has(text, "meshgate_policy_accepted_packets_total{rule=\"0\",hook=\"input\"} 3"));
	CHECK(text &&
	      has(text, "meshgate_policy_accepted_packets_total{rule=\"2\",hook=\"forward\"} 12"));
	CHECK(text &&
	      has(text, "meshgate_policy_accepted_packets_total{rule=\"3\",hook=\"exit\"} 0"));
	CHECK(text && has(text, "# TYPE meshgate_policy_denied_packets_total counter"));
	CHECK(text && has(text, "meshgate_policy_denied_packets_total{hook=\"input\"} 1"));
	CHECK(text && has(text, "meshgate_policy_denied_packets_total{hook=\"forward\"} 7"));
	CHECK(text && has(text, "meshgate_policy_denied_packets_total{hook=\"exit\"} 0"));
	free(text);
	json_decref(doc);

	doc = json_loads("{\"policy\": {\"revision\": 3}}", 0, NULL);
	text = metrics_render(doc, 1000);
	CHECK(text && !strstr(text, "meshgate_policy_"));
	free(text);
	json_decref(doc);
}

static void test_empty_document(void)
{
	json_t *doc = json_object();
	char *text = metrics_render(doc, 0);

	CHECK(text != NULL);
	CHECK(text && has(text, "meshgate_peers 0"));
	CHECK(text && !strstr(text, "meshgate_sessions_established_total "));
	CHECK(text && !strstr(text, "meshgate_mesh_control_total"));
	CHECK(text && has(text, "meshgate_devices 0"));
	CHECK(text && has(text, "meshgate_exit_node_blocked 0"));
	free(text);
	json_decref(doc);
}

int main(void)
{
	RUN(test_lines_parse);
	RUN(test_series);
	RUN(test_devices);
	RUN(test_exit_blocked);
	RUN(test_dns);
	RUN(test_policy);
	RUN(test_empty_document);
	return test_summary();
}
