/*
 * The coordinator's join service: a JOIN_REQUEST that passes the join gate
 * (joingate.h) is opened with the static key's DH, checked against the
 * invites and registers the node; the JOIN_RESPONSE (or a JOIN_COOKIE under
 * load) goes back to the source address.
 */
#ifndef MESHGATE_MESH_JOINSVC_H
#define MESHGATE_MESH_JOINSVC_H

struct coordinator;
struct pkt;
struct pkt_batch;

/* Answers into udp_out, from the packet handler. */
void coord_on_join(struct coordinator *c, struct pkt *pkt, struct pkt_batch *udp_out);

#endif
