/*
 * The host the node gives the mesh roles (mesh/host.h): their only way to
 * the engine, the data plane and the kernel. Like node_uapi_ops for the
 * UAPI, these are thin calls into the node.
 */
#ifndef MESHGATE_NODE_MESH_H
#define MESHGATE_NODE_MESH_H

#include "mesh/host.h"

struct node;

/* The host for node's roles; valid while the node runs. */
void node_mesh_host(struct node *node, struct mesh_host *out);

/* Starts the control plane's role when the config or saved state asks for
 * one (else nothing): call after node_start(); node_stop() stops it. Its
 * commands reach the control socket through frontend.c. 0 or -errno with
 * errbuf saying why. */
int node_mesh_start(struct node *node, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

#endif
