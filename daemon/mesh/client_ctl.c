/* The client's control channel to the coordinator; see client_ctl.h. */
#include "mesh/client_ctl.h"

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

#include "log.h"
#include "mesh/hello.h"
#include "mesh/client_devices.h"
#include "mesh/client_role.h"
#include "mesh/client_view.h"

/* ---- control channel ---- */

static void port_probe_reply(struct mesh_client *mc, const json_t *msg)
{
	struct portprobe_reply r;

	if (portprobe_reply_parse(msg, &r) < 0 || portprobe_reply(&mc->probe, &r) < 0)
		return;
	if (!r.sent)
		log_info("mesh: the coordinator did not probe UDP %u: %s", mc->probe.port,
			 r.error[0] ? r.error : "no reason given");
}

static void observed_take(struct mesh_client *mc, const json_t *msg)
{
	char observed[SOCKADDR_STR_LEN];

	if (portprobe_observed_parse(msg, observed) == 0)
		portprobe_observed(&mc->probe, observed);
}

/* Asks the coordinator to probe our UDP port with a fresh nonce. */
static void port_probe_ask(struct mesh_client *mc, uint16_t port)
{
	uint8_t nonce[MESH_PORT_PROBE_NONCE_LEN];
	json_t *msg;

	randombytes_buf(nonce, sizeof(nonce));
	msg = portprobe_request_create(nonce, port);
	if (msg && channel_send(mc->ch, msg) == 0)
		portprobe_asked(&mc->probe, nonce, port, now_ns());
	json_decref(msg);
}

bool client_on_msg(void *ctx, struct channel *ch, const json_t *msg)
{
	struct mesh_client *mc = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));

	mc->backoff = 0;
	if (type && !strcmp(type, "netmap"))
		return client_netmap_take(mc, msg, false);
	if (type && !strcmp(type, "port_probe_reply"))
		port_probe_reply(mc, msg);
	else if (type && !strcmp(type, "observed"))
		observed_take(mc, msg);
	else if (type && !strcmp(type, "device_reply"))
		client_devices_reply(mc, msg);
	return true; /* other types: from a newer coordinator, ignored */
}

void client_on_closed(void *ctx, struct channel *ch)
{
	struct mesh_client *mc = ctx;

	channel_free(ch);
	mc->ch = NULL;
	portprobe_lost(&mc->probe);
	client_devices_lost(mc);
	mc->backoff =
	    mc->backoff ? (mc->backoff * 2 > MAX_BACKOFF_S ? MAX_BACKOFF_S : mc->backoff * 2) : 1;
	mc->next_connect = now_ns() + (uint64_t)mc->backoff * NS;
	log_info("mesh: control connection closed; retrying in %u s", mc->backoff);
}

/* Our hello as it stands (config, local endpoints), as compact text. */
static char *hello_text(struct mesh_client *mc)
{
	json_t *hello = mesh_hello_create(mc->host.cfg, NULL, mc->host.tun_name, listen_port(mc));
	char *text = hello ? json_dumps(hello, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(hello);
	return text;
}

/* Sends a hello (type "hello" on a new connection, "update" after) when it
 * differs from the last one sent: a reload that changed the advertised
 * routes or exit offer, or a local address that came or went. */
static void send_hello(struct mesh_client *mc, const char *type)
{
	char *text = hello_text(mc);
	json_t *msg = text ? json_loads(text, 0, NULL) : NULL;

	if (!msg || (mc->hello_sent && !strcmp(type, "update") && !strcmp(text, mc->hello_sent))) {
		json_decref(msg);
		free(text);
		return;
	}
	json_object_set_new(msg, "type", json_string(type));
	if (channel_send(mc->ch, msg) == 0) {
		free(mc->hello_sent);
		mc->hello_sent = text;
		text = NULL;
		if (!strcmp(type, "update"))
			log_info("mesh: sent an update to the coordinator");
	}
	json_decref(msg);
	free(text);
}

static void connect_control(struct mesh_client *mc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MESH_CONTROL_PORT) };
	int fd;

	if (mc->n_coord_addrs == 0 || mc->coord_addrs[0].family != AF_INET)
		return;
	memcpy(&sin.sin_addr, mc->coord_addrs[0].addr, 4);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
		close(fd);
		mc->next_connect = now_ns() + NS;
		return;
	}
	mc->ch = channel_new(mc->host.loop, fd, true, client_on_msg, client_on_closed, mc);
	if (!mc->ch)
		return;
	mc->connect_started = now_ns();
	send_hello(mc, "hello");
	portprobe_want(&mc->probe);
}

void client_control_tick(struct mesh_client *mc)
{
	if (!mc->joined)
		return;
	if (mc->ch && mc->ch->connecting &&
	    now_ns() - mc->connect_started > (uint64_t)CONNECT_TIMEOUT_S * NS) {
		client_on_closed(mc, mc->ch);
		return;
	}
	portprobe_tick(&mc->probe, now_ns());
	if (!mc->ch && now_ns() >= mc->next_connect)
		connect_control(mc);
	else if (mc->ch && mc->ch->connected) {
		send_hello(mc, "update");
		if (portprobe_due(&mc->probe, listen_port(mc), now_ns()))
			port_probe_ask(mc, listen_port(mc));
	}
}
