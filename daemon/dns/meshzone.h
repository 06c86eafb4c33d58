/*
 * The zone of a node's mesh view: what the node's resolver answers once
 * the node hands it each reconfigure (mesh/host.h).
 */
#ifndef MESHGATE_DNS_MESHZONE_H
#define MESHGATE_DNS_MESHZONE_H

#include "dns/zone.h"

struct mesh_view;

/*
 * As dns_zone_build() from a node's mesh view: self (self_name and the
 * view's addresses, whose networks are the mesh's), every peer with its
 * own mesh addresses (the first n_addresses of its allowed IPs), every
 * device, then records, in that order for caps; duplicates as zone.h
 * says, by the view's ids (self_id, the peers' ids; devices have none). domain
 * NULL: DNS_DEFAULT_DOMAIN; serial: e.g. the netmap's version.
 */
int dns_zone_from_view(const char *domain, uint32_t serial, const char *self_name,
		       const struct mesh_view *view, const struct dns_record *records,
		       size_t n_records, struct dns_zone **out, struct dns_zone_stats *stats)
    __attribute__((warn_unused_result));

#endif
