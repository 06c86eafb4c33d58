/* Prometheus text from the status document; see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	FILE *f;
	char *buf;
	size_t len;
};

/* Label values escape backslash, double quote and newline. */
static void put_label(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static long long num(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/* name{peer="..",public_key=".."} value, for every peer. */
static void peer_series(FILE *f, const json_t *peers, const char *name, const char *field)
{
	size_t i;
	json_t *p;

	json_array_foreach(peers, i, p)
	{
		if (!json_is_integer(json_object_get(p, field)))
			continue;
		fprintf(f, "%s{peer=\"", name);
		put_label(f, str(p, "name"));
		fputs("\",public_key=\"", f);
		put_label(f, str(p, "public_key"));
		fprintf(f, "\"} %lld\n", num(p, field));
	}
}

static void peer_labels(FILE *f, const char *name, const json_t *p)
{
	fprintf(f, "%s{peer=\"", name);
	put_label(f, str(p, "name"));
	fputs("\",public_key=\"", f);
	put_label(f, str(p, "public_key"));
	fputc('"', f);
}

static void peers_metrics(FILE *f, const json_t *peers, time_t now)
{
	size_t i, online = 0;
	json_t *p;

	json_array_foreach(peers, i, p)
	{
		online += json_is_true(json_object_get(p, "online"));
	}
	family(f, "meshgate_peers", "gauge", "Peers configured or given by the mesh.");
	fprintf(f, "meshgate_peers %zu\n", json_array_size(peers));
	family(f, "meshgate_peers_online", "gauge", "Peers with a recent handshake.");
	fprintf(f, "meshgate_peers_online %zu\n", online);

	family(f, "meshgate_peer_rx_bytes_total", "counter", "Bytes received from the peer.");
	peer_series(f, peers, "meshgate_peer_rx_bytes_total", "rx_bytes");
	family(f, "meshgate_peer_tx_bytes_total", "counter", "Bytes sent to the peer.");
	peer_series(f, peers, "meshgate_peer_tx_bytes_total", "tx_bytes");
	family(f, "meshgate_peer_last_handshake_seconds", "gauge",
	       "Unix time of the last handshake (0: never).");
	peer_series(f, peers, "meshgate_peer_last_handshake_seconds", "last_handshake");
	family(f, "meshgate_peer_handshake_age_seconds", "gauge",
	       "Seconds since the last handshake; absent when there was none.");
	json_array_foreach(peers, i, p)
	{
		long long last = num(p, "last_handshake");
		if (last <= 0)
			continue;
		peer_labels(f, "meshgate_peer_handshake_age_seconds", p);
		fprintf(f, "} %lld\n", (long long)now > last ? (long long)now - last : 0);
	}
	family(f, "meshgate_peer_online", "gauge", "1 when the peer had a recent handshake.");
	json_array_foreach(peers, i, p)
	{
		peer_labels(f, "meshgate_peer_online", p);
		fprintf(f, "} %d\n", json_is_true(json_object_get(p, "online")));
	}
	family(f, "meshgate_peer_path", "gauge", "1 for the path in use: direct, relay or none.");
	json_array_foreach(peers, i, p)
	{
		peer_labels(f, "meshgate_peer_path", p);
		fputs(",path=\"", f);
		put_label(f, str(p, "path"));
		fputs("\"} 1\n", f);
	}
	family(f, "meshgate_peer_routes", "gauge", "Routed prefixes the peer serves.");
	json_array_foreach(peers, i, p)
	{
		peer_labels(f, "meshgate_peer_routes", p);
		fprintf(f, "} %zu\n", json_array_size(json_object_get(p, "routes")));
	}
	family(f, "meshgate_peer_exit_node_offered", "gauge",
	       "1 when the peer's exit offer is approved (it could be picked).");
	json_array_foreach(peers, i, p)
	{
		peer_labels(f, "meshgate_peer_exit_node_offered", p);
		fprintf(f, "} %d\n", json_is_true(json_object_get(p, "exit_node_offered")));
	}
}

/* name{device=".."} value for every device this node hubs (the others'
 * facts are their hubs'); a device is labelled by name alone, never a key.
 * A boolean field counts as 0 or 1. */
static void device_series(FILE *f, const json_t *devices, const char *name, const char *field)
{
	size_t i;
	json_t *d;

	json_array_foreach(devices, i, d)
	{
		const json_t *v = json_object_get(d, field);
		if (!json_is_true(json_object_get(d, "attached")) ||
		    !(json_is_integer(v) || json_is_boolean(v)))
			continue;
		fprintf(f, "%s{device=\"", name);
		put_label(f, str(d, "name"));
		fprintf(f, "\"} %lld\n",
			json_is_boolean(v) ? json_is_true(v) : json_integer_value(v));
	}
}

static void devices_metrics(FILE *f, const json_t *devices)
{
	size_t i, attached = 0, online = 0;
	json_t *d;

	json_array_foreach(devices, i, d)
	{
		bool here = json_is_true(json_object_get(d, "attached"));
		attached += here;
		online += here && json_is_true(json_object_get(d, "online"));
	}
	family(f, "meshgate_devices", "gauge", "Stock WireGuard devices in the mesh.");
	fprintf(f, "meshgate_devices %zu\n", json_array_size(devices));
	family(f, "meshgate_devices_attached", "gauge", "Devices this node is the hub of.");
	fprintf(f, "meshgate_devices_attached %zu\n", attached);
	family(f, "meshgate_devices_online", "gauge",
	       "Devices this node hubs with a recent handshake.");
	fprintf(f, "meshgate_devices_online %zu\n", online);
	family(f, "meshgate_device_rx_bytes_total", "counter", "Bytes received from the device.");
	device_series(f, devices, "meshgate_device_rx_bytes_total", "rx_bytes");
	family(f, "meshgate_device_tx_bytes_total", "counter", "Bytes sent to the device.");
	device_series(f, devices, "meshgate_device_tx_bytes_total", "tx_bytes");
	family(f, "meshgate_device_last_handshake_seconds", "gauge",
	       "Unix time of the device's last handshake (0: never).");
	device_series(f, devices, "meshgate_device_last_handshake_seconds", "last_handshake");
	family(f, "meshgate_device_online", "gauge", "1 when the device had a recent handshake.");
	device_series(f, devices, "meshgate_device_online", "online");
}

/* One counter per (label value, document field). */
struct counter_map {
	const char *label;
	const char *field;
};

static void counters(FILE *f, const json_t *d, const char *name, const struct counter_map *map,
		     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!json_is_integer(json_object_get(d, map[i].field)))
			continue;
		fprintf(f, "%s{%s} %lld\n", name, map[i].label, num(d, map[i].field));
	}
}

/* The coordinator's control-channel counters (status "mesh_control"). */
static void mesh_control_metrics(FILE *f, const json_t *mc)
{
	const char *event;
	json_t *v;

	if (!json_is_object(mc))
		return;
	family(f, "meshgate_mesh_control_total", "counter",
	       "Coordinator: control channel events (updates deferred, endpoint changes "
	       "debounced, reconnects refused, writes skipped, rebuilds, netmaps pushed, "
	       "lines ignored).");
	json_object_foreach((json_t *)mc, event, v)
	{
		fputs("meshgate_mesh_control_total{event=\"", f);
		put_label(f, event);
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
	}
}

/* The coordinator's STUN datagrams (status "coordinator"."stun"). */
static void stun_metrics(FILE *f, const json_t *stun)
{
	static const char *const events[] = { "requests", "responses", "dropped" };

	if (!json_is_object(stun))
		return;
	family(f, "meshgate_stun_total", "counter",
	       "Coordinator: STUN Binding requests sent, responses taken, STUN datagrams dropped "
	       "(malformed or answering no request).");
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		fprintf(f, "meshgate_stun_total{event=\"%s\"} %lld\n", events[i],
			(long long)json_integer_value(json_object_get(stun, events[i])));
}

static void daemon_metrics(FILE *f, const json_t *self, const json_t *d)
{
	static const struct counter_map hs[] = {
		{ "type=\"initiation\",direction=\"rx\"", "handshake_initiations_rx" },
		{ "type=\"initiation\",direction=\"tx\"", "handshake_initiations_tx" },
		{ "type=\"response\",direction=\"rx\"", "handshake_responses_rx" },
		{ "type=\"response\",direction=\"tx\"", "handshake_responses_tx" },
	};
	static const struct counter_map cookies[] = {
		{ "direction=\"rx\"", "cookie_replies_rx" },
		{ "direction=\"tx\"", "cookie_replies_tx" },
	};
	const json_t *drops = json_object_get(d, "drops");
	const char *reason;
	json_t *v;

	family(f, "meshgate_info", "gauge", "Daemon version, interface and node name.");
	fputs("meshgate_info{version=\"", f);
	put_label(f, str(d, "version"));
	fputs("\",interface=\"", f);
	put_label(f, str(d, "interface"));
	fputs("\",name=\"", f);
	put_label(f, str(self, "name"));
	fprintf(f, "\",coordinator=\"%s\"} 1\n",
		json_is_true(json_object_get(self, "coordinator")) ? "true" : "false");
	if (json_is_integer(json_object_get(d, "started_at"))) {
		family(f, "meshgate_start_time_seconds", "gauge", "Unix time the daemon started.");
		fprintf(f, "meshgate_start_time_seconds %lld\n", num(d, "started_at"));
	}
	family(f, "meshgate_dropped_packets_total", "counter", "Packets dropped, by reason.");
	json_object_foreach((json_t *)drops, reason, v)
	{
		fputs("meshgate_dropped_packets_total{reason=\"", f);
		put_label(f, reason);
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
	}
	family(f, "meshgate_handshakes_total", "counter",
	       "Handshake messages, by type and direction.");
	counters(f, d, "meshgate_handshakes_total", hs, sizeof(hs) / sizeof(hs[0]));
	family(f, "meshgate_cookie_replies_total", "counter", "Cookie replies, by direction.");
	counters(f, d, "meshgate_cookie_replies_total", cookies,
		 sizeof(cookies) / sizeof(cookies[0]));
	mesh_control_metrics(f, json_object_get(d, "mesh_control"));
	if (json_is_integer(json_object_get(d, "sessions_established"))) {
		family(f, "meshgate_sessions_established_total", "counter",
		       "Sessions (keypairs) established.");
		fprintf(f, "meshgate_sessions_established_total %lld\n",
			num(d, "sessions_established"));
	}
}

static void route_metrics(FILE *f, const json_t *doc)
{
	const json_t *self = json_object_get(doc, "self"), *peers = json_object_get(doc, "peers");
	const json_t *d = json_object_get(doc, "daemon");
	size_t served = 0, i;
	json_t *p;

	json_array_foreach(peers, i, p)
	{
		served += json_array_size(json_object_get(p, "routes"));
	}
	family(f, "meshgate_routes", "gauge",
	       "Routes: advertised by this node, served by peers, installed in the kernel.");
	fprintf(f, "meshgate_routes{kind=\"advertised\"} %zu\n",
		json_array_size(json_object_get(self, "advertised_routes")));
	fprintf(f, "meshgate_routes{kind=\"peers\"} %zu\n", served);
	if (json_is_integer(json_object_get(d, "routes_installed")))
		fprintf(f, "meshgate_routes{kind=\"installed\"} %lld\n",
			num(d, "routes_installed"));
	family(f, "meshgate_exit_node_offered", "gauge", "1 when this node offers an exit node.");
	fprintf(f, "meshgate_exit_node_offered %d\n",
		json_is_true(json_object_get(self, "exit_node_offered")));
	family(f, "meshgate_exit_node_blocked", "gauge",
	       "1 when use_exit_node names an exit that cannot carry internet traffic now "
	       "(dropped, never sent outside the mesh).");
	fprintf(
	    f, "meshgate_exit_node_blocked %d\n",
	    !strcmp(json_string_value(json_object_get(json_object_get(self, "exit_node"), "state"))
			?: "",
		    "blocked"));
}

/* name{label="key"} value for every integer member of obj. */
static void labeled(FILE *f, const json_t *obj, const char *name, const char *label)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		if (!json_is_integer(v))
			continue;
		fprintf(f, "%s{%s=\"", name, label);
		put_label(f, key);
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
	}
}

/* The resolver's forwarder and cache (status "dns.forward"). */
static void dns_forward_metrics(FILE *f, const json_t *fw)
{
	static const struct counter_map sent[] = {
		{ "transport=\"udp\"", "sent" },
		{ "transport=\"tcp\"", "tcp_fallbacks" },
	};
	static const struct counter_map failures[] = {
		{ "reason=\"timeout\"", "timeouts" },
		{ "reason=\"upstream_error\"", "upstream_errors" },
		{ "reason=\"mismatched\"", "mismatched" },
		{ "reason=\"servfail_built\"", "servfail_built" },
		{ "reason=\"busy\"", "busy" },
	};
	static const struct counter_map cache[] = {
		{ "result=\"hit\"", "hits" },
		{ "result=\"miss\"", "misses" },
		{ "result=\"eviction\"", "evictions" },
		{ "result=\"expired\"", "expired" },
	};
	const json_t *c = json_object_get(fw, "cache");

	if (!json_is_object(fw))
		return;
	family(f, "meshgate_dns_forward_upstreams", "gauge",
	       "Upstream resolvers the forwarder uses now (the exit node's while one is in use).");
	fprintf(f, "meshgate_dns_forward_upstreams %zu\n",
		json_array_size(json_object_get(fw, "upstreams")));
	family(f, "meshgate_dns_forward_queries_total", "counter",
	       "DNS queries the forwarder took (from the cache or an upstream).");
	fprintf(f, "meshgate_dns_forward_queries_total %lld\n", num(fw, "queries"));
	family(f, "meshgate_dns_forward_sent_total", "counter",
	       "Tries sent to an upstream, over UDP and again over TCP after a truncation.");
	counters(f, fw, "meshgate_dns_forward_sent_total", sent, sizeof(sent) / sizeof(sent[0]));
	family(f, "meshgate_dns_forward_failures_total", "counter",
	       "Forwarder tries or queries that failed, by reason.");
	counters(f, fw, "meshgate_dns_forward_failures_total", failures,
		 sizeof(failures) / sizeof(failures[0]));
	family(f, "meshgate_dns_split_forwarded_total", "counter",
	       "Queries of a subnet router's split DNS domain sent to its server.");
	fprintf(f, "meshgate_dns_split_forwarded_total %lld\n", num(fw, "split_forwarded"));
	family(f, "meshgate_dns_split_refused_total", "counter",
	       "Queries of an offered split DNS domain answered SERVFAIL while no offer is usable "
	       "(router offline), never asked elsewhere.");
	fprintf(f, "meshgate_dns_split_refused_total %lld\n", num(fw, "split_refused"));
	family(f, "meshgate_dns_forward_inflight", "gauge", "Queries waiting for an upstream.");
	fprintf(f, "meshgate_dns_forward_inflight %lld\n", num(fw, "inflight"));
	if (!json_is_object(c))
		return;
	family(f, "meshgate_dns_cache_total", "counter", "DNS cache lookups and removals.");
	counters(f, c, "meshgate_dns_cache_total", cache, sizeof(cache) / sizeof(cache[0]));
	family(f, "meshgate_dns_cache_entries", "gauge", "Responses in the DNS cache.");
	fprintf(f, "meshgate_dns_cache_entries %lld\n", num(c, "entries"));
	family(f, "meshgate_dns_cache_bytes", "gauge", "Bytes of responses in the DNS cache.");
	fprintf(f, "meshgate_dns_cache_bytes %lld\n", num(c, "bytes"));
}

/* The mesh resolver (status "dns"), when it runs. */
static void dns_metrics(FILE *f, const json_t *dns)
{
	static const struct counter_map resolved[] = {
		{ "where=\"local\"", "local" },
		{ "where=\"forwarded\"", "forwarded" },
	};

	if (!json_is_object(json_object_get(dns, "queries")))
		return;
	family(f, "meshgate_dns_names", "gauge", "Names in the mesh resolver's zone.");
	fprintf(f, "meshgate_dns_names %lld\n", num(dns, "names"));
	family(f, "meshgate_dns_queries_total", "counter", "DNS queries received, by transport.");
	labeled(f, json_object_get(dns, "queries"), "meshgate_dns_queries_total", "transport");
	family(f, "meshgate_dns_answers_total", "counter", "DNS responses sent, by rcode.");
	labeled(f, json_object_get(dns, "answers"), "meshgate_dns_answers_total", "rcode");
	family(f, "meshgate_dns_dropped_total", "counter",
	       "DNS queries dropped unanswered, by reason.");
	labeled(f, json_object_get(dns, "dropped"), "meshgate_dns_dropped_total", "reason");
	family(f, "meshgate_dns_resolved_total", "counter",
	       "DNS queries answered from the mesh's names or handed to the forwarder.");
	counters(f, dns, "meshgate_dns_resolved_total", resolved,
		 sizeof(resolved) / sizeof(resolved[0]));
	family(f, "meshgate_dns_truncated_total", "counter", "UDP responses sent truncated (TC).");
	fprintf(f, "meshgate_dns_truncated_total %lld\n", num(dns, "truncated"));
	family(f, "meshgate_dns_tcp_refused_total", "counter",
	       "DNS TCP connections closed at once: too many open.");
	fprintf(f, "meshgate_dns_tcp_refused_total %lld\n", num(dns, "tcp_refused"));
	dns_forward_metrics(f, json_object_get(dns, "forward"));
}

/* The access policy's counters (status "policy.counters"), present only
 * while the node's table enforces a "deny" policy. */
static void policy_metrics(FILE *f, const json_t *counters)
{
	const json_t *accepted = json_object_get(counters, "accepted");
	const json_t *denied = json_object_get(counters, "denied");
	const json_t *c;
	size_t i;

	if (!json_is_array(accepted) || !json_is_object(denied))
		return;
	family(f, "meshgate_policy_accepted_packets_total", "counter",
	       "Packets that opened a flow through the access policy, by rule and hook "
	       "(rule 0: the mesh's control channel).");
	json_array_foreach(accepted, i, c)
	{
		if (!json_is_integer(json_object_get(c, "rule")) ||
		    !json_is_integer(json_object_get(c, "packets")))
			continue;
		fprintf(f, "meshgate_policy_accepted_packets_total{rule=\"%lld\",hook=\"",
			num(c, "rule"));
		put_label(f, str(c, "hook"));
		fprintf(f, "\"} %lld\n", num(c, "packets"));
	}
	family(f, "meshgate_policy_denied_packets_total", "counter",
	       "Packets from the mesh the access policy dropped (default deny), by hook.");
	labeled(f, denied, "meshgate_policy_denied_packets_total", "hook");
}

static void preflight_metrics(FILE *f, const json_t *checks)
{
	size_t i;
	json_t *c;

	if (!json_is_array(checks))
		return;
	family(f, "meshgate_preflight_ok", "gauge",
	       "Preflight checks: 1 passed, 0 failed, absent when unknown.");
	json_array_foreach(checks, i, c)
	{
		const json_t *ok = json_object_get(c, "ok");
		if (!json_is_boolean(ok))
			continue;
		fputs("meshgate_preflight_ok{check=\"", f);
		put_label(f, str(c, "check"));
		fprintf(f, "\"} %d\n", json_is_true(ok));
	}
}

char *metrics_render(const json_t *status, time_t now)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	daemon_metrics(f, json_object_get(status, "self"), json_object_get(status, "daemon"));
	peers_metrics(f, json_object_get(status, "peers"), now);
	devices_metrics(f, json_object_get(status, "devices"));
	route_metrics(f, status);
	preflight_metrics(f, json_object_get(status, "preflight"));
	stun_metrics(f, json_object_get(json_object_get(status, "coordinator"), "stun"));
	dns_metrics(f, json_object_get(status, "dns"));
	policy_metrics(f, json_object_get(json_object_get(status, "policy"), "counters"));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
