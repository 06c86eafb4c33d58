/*
 * meshgated --check past the parser: what start-up would refuse in a
 * loaded configuration, judged without the kernel.
 *
 *   role      the role start-up would run: the config and the role file
 *             (state_dir/role.json) as mesh/roles.h reads them; a join
 *             code on a coordinator by the role file is refused
 *   plan      the route plan's refusals (router/plan.h) for the config
 *             alone: a subnet route that is a default or lies in a mesh
 *             network (a coordinator's pool included), a use_exit_node.peer
 *             no static peer serves, the TUN named as the WAN
 *   files     private_key_file holds a key (and no peer has its public
 *             key), or can be created; each preshared_key_file holds a key;
 *             state_dir is a directory, or can be created
 *   kernel    facts of the running host are warnings only: a
 *             exit_node.wan_interface that does not exist now; a file this
 *             user may not read (meshgated runs as root)
 *
 * Messages are "FILE:LINE: what is wrong" (FILE: alone for a setting the
 * file leaves out), one per line, as config_load() writes them.
 */
#ifndef MESHGATE_CONFCHECK_H
#define MESHGATE_CONFCHECK_H

#include <stddef.h>

struct mg_config;

struct confcheck_out {
	char *err;
	size_t errlen;
	char *warn;
	size_t warnlen;
	char role[400]; /* "coordinator (meshgate init, STATE_DIR/role.json)", ... */
};

/* Runs every check on cfg. Returns 0, or -EINVAL with out->err filled;
 * out->warn is filled either way ("" when there is nothing to say). */
int confcheck_run(const struct mg_config *cfg, struct confcheck_out *out)
    __attribute__((warn_unused_result));

#endif
