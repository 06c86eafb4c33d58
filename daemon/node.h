/*
 * The running node: configuration applied to the engine, the data plane and
 * the kernel, plus the local control interfaces (control socket, UAPI).
 * One node per daemon; it lives in the event loop's thread.
 */
#ifndef MESHGATE_NODE_H
#define MESHGATE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dataplane.h"
#include "loop.h"
#include "plan.h"
#include "router.h"
#include "wg/device.h"

struct control_server;
struct uapi_server;
struct nl_sock;

struct node {
	struct mg_config cfg;
	char *config_path; /* NULL: running on built-in defaults */
	struct loop *loop;
	struct wg_device *dev;
	struct dataplane dp;
	struct nl_sock *rtnl;
	struct route_plan plan; /* what the kernel holds for this config */
	struct router router;
	struct control_server *control;
	struct uapi_server *uapi;
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint64_t started_at; /* wall clock, unix seconds */
};

/*
 * Brings the node up from cfg (ownership of cfg moves into the node, even on
 * failure): private key, TUN, UDP socket, addresses, peers, control socket
 * and UAPI. On failure everything already set up is torn down again and
 * errbuf says what went wrong and, where there is one, how to fix it.
 */
int node_start(struct node *node, struct loop *loop, struct mg_config *cfg, const char *config_path,
	       char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Re-reads the config file and applies the difference; on a bad file the
 * running configuration stays and the error is logged. */
int node_reload(struct node *node);

/* Tears everything down; the kernel is left as it was before node_start(). */
void node_stop(struct node *node);

/* Runtime changes (UAPI `wg set`): applied to the engine and the data plane. */
int node_set_private_key(struct node *node, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
int node_set_listen_port(struct node *node, uint16_t port);
int node_set_fwmark(struct node *node, uint32_t fwmark);
uint16_t node_listen_port(const struct node *node);
uint32_t node_fwmark(const struct node *node);

#endif
