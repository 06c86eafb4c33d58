/*
 * The node's front end: the control socket (the CLI's) and the status
 * page. The daemon starts them after the node is up and stops them before
 * the node goes, so the node never calls its views: it tells whoever
 * watches it that something changed (node_set_observer), and the views
 * publish a new status document then. This keeps the include graph one way:
 * main -> frontend -> control, node_web -> node_status -> node.
 */
#ifndef MESHGATE_FRONTEND_H
#define MESHGATE_FRONTEND_H

#include <stddef.h>

struct control_server;
struct node;

struct frontend {
	struct node *node;
	struct control_server *control;
};

/* Opens the control socket (the node's and the mesh roles' commands) and
 * the status page. 0, or -errno with errbuf saying what failed. */
int frontend_start(struct frontend *v, struct node *node, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Closes both; safe after a failed or no start. */
void frontend_stop(struct frontend *v);

#endif
