/* The node's front end: control socket and status page; see frontend.h. */
#include "frontend.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "dirs.h"
#include "log.h"
#include "mesh/roles.h"
#include "node.h"
#include "node_web.h"

static void on_node_changed(struct node *node, void *ctx)
{
	(void)ctx;
	node_web_sync(node);
}

/* The operator group's members may use the control socket; without the
 * group, or when it cannot be given the socket, it stays root's. */
static void share_control(struct control_server *srv, const char *name)
{
	struct group *gr;
	int ret;

	if (!*name) {
		log_info("control socket: root only (control_group \"\")");
		return;
	}
	gr = getgrnam(name);
	if (!gr) {
		log_info("control socket: root only (no group %s)", name);
		return;
	}
	ret = control_server_share(srv, gr->gr_gid);
	if (ret == -EPERM)
		log_warn("control socket: cannot give it to group %s (the daemon needs to be "
			 "in the group, SupplementaryGroups=%s in its unit, or CAP_CHOWN); "
			 "root only",
			 name, name);
	else if (ret < 0)
		log_warn("control socket: group %s: %s; root only", name, strerror(-ret));
	else
		log_info("control socket: group %s may use it (mode 0660)", name);
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
	share_control(v->control, node->cfg.control_group);
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
