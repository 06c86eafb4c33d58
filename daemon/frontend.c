/* The node's front end: control socket and status page; see frontend.h. */
#include "frontend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "dirs.h"
#include "mesh/roles.h"
#include "node.h"
#include "node_web.h"

static void on_node_changed(struct node *node, void *ctx)
{
	(void)ctx;
	node_web_sync(node);
}

int frontend_start(struct frontend *v, struct node *node, char *errbuf, size_t errlen)
{
	const char *path = node->cfg.control_socket;
	int ret = dirs_make_parent(path, 0755);

	*v = (struct frontend){ .node = node };
	if (ret == 0)
		ret = control_server_start(&v->control, node->loop, node, path);
	if (ret < 0) {
		snprintf(errbuf, errlen, "control socket %s: %s", path, strerror(-ret));
		return ret;
	}
	control_server_register(v->control, mesh_commands, mesh_n_commands, &node->roles);
	node_set_observer(node, on_node_changed, v);
	node_web_sync(node);
	return 0;
}

void frontend_stop(struct frontend *v)
{
	if (!v->node)
		return;
	node_set_observer(v->node, NULL, NULL);
	node_web_stop(v->node);
	control_server_stop(v->control);
	*v = (struct frontend){ 0 };
}
