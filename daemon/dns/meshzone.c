/* The name table of a node's mesh view; see meshzone.h. */
#include "dns/meshzone.h"

#include <errno.h>
#include <stdlib.h>

#include "mesh/host.h"

int dns_zone_from_view(const char *domain, uint32_t serial, const char *self_name,
		       const struct mesh_view *view, const struct dns_record *records,
		       size_t n_records, struct dns_zone **out, struct dns_zone_stats *stats)
{
	size_t n = 1 + view->n_peers + view->n_devices + n_records, k = 0;
	struct dns_zone_name *names = calloc(n, sizeof(*names));
	struct dns_zone_spec spec = { .domain = domain,
				      .mesh = view->addresses,
				      .n_mesh = view->n_addresses,
				      .serial = serial };
	int ret;

	*out = NULL;
	if (!names)
		return -ENOMEM;
	names[k++] = (struct dns_zone_name){ self_name, view->addresses, view->n_addresses, true,
					     view->self_id };
	for (size_t i = 0; i < view->n_peers; i++) {
		const struct mesh_peer *p = &view->peers[i];
		size_t n_addr =
		    p->n_addresses < p->n_allowed_ips ? p->n_addresses : p->n_allowed_ips;
		names[k++] = (struct dns_zone_name){ p->name, p->allowed_ips, n_addr, true, p->id };
	}
	for (size_t i = 0; i < view->n_devices; i++) {
		const struct mesh_device *d = &view->devices[i];
		names[k++] =
		    (struct dns_zone_name){ d->name, d->addresses, d->n_addresses, true, 0 };
	}
	for (size_t i = 0; i < n_records; i++)
		names[k++] =
		    (struct dns_zone_name){ records[i].name, &records[i].address, 1, false, 0 };
	ret = dns_zone_build(&spec, names, k, out, stats);
	free(names);
	return ret;
}
