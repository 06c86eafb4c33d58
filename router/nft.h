/*
 * The daemon's nftables table, "inet meshgate", over nfnetlink (libmnl +
 * libnftnl). The content is rendered from struct plan_nft (nft_render.h
 * shows it in nft syntax) and every change is one atomic batch that
 * replaces the whole table: nobody, not even a packet, sees half of it.
 *
 * Ownership: the table is created with NFT_TABLE_F_OWNER (Linux 5.12+). It
 * then belongs to the netlink socket inside struct nft_ctx: other processes
 * can list it but neither change nor delete it (EPERM; `nft flush ruleset`
 * passes over it), and the kernel deletes it when that socket closes, so a
 * daemon killed with SIGKILL leaves no table behind. On kernels that refuse
 * the flag the table is created without it (nft_owned() says which); then
 * it outlives the daemon until `meshgated --cleanup` (nft_cleanup_table())
 * and others may change it, which the monitor reports.
 */
#ifndef MESHGATE_ROUTER_NFT_H
#define MESHGATE_ROUTER_NFT_H

#include <stdbool.h>

#include "plan_types.h"

struct nft_ctx;

/*
 * Opens the socket the table will be owned by and checks that nf_tables
 * answers. Returns 0, -EPROTONOSUPPORT (no nfnetlink / nf_tables in this
 * kernel), -EPERM (no CAP_NET_ADMIN in this network namespace): both mean
 * "nftables unavailable". Free with nft_close().
 */
int nft_open(struct nft_ctx **out) __attribute__((warn_unused_result));

/*
 * Closes the sockets. An owned table goes with them (the kernel deletes
 * it); a table made without the owner flag stays, so a graceful stop calls
 * nft_remove() first. NULL-safe.
 */
void nft_close(struct nft_ctx *ctx);

/* Whether tables are made with the owner flag: true until the kernel
 * refuses the flag or nft_set_owner(ctx, false) (tests use it to stand in
 * for kernels before 5.12). */
bool nft_owned(const struct nft_ctx *ctx);
void nft_set_owner(struct nft_ctx *ctx, bool owner);

/*
 * Replaces the table with the plan's content in one batch: [add table;
 * delete table] (so a missing table is no error) + add table + sets +
 * chains + rules. plan->present false: only the delete. If the kernel
 * refuses the owner flag, retries once without it and remembers. Returns
 * 0, -EBUSY when another live process owns the table, or -errno.
 */
int nft_apply(struct nft_ctx *ctx, const struct plan_nft *plan) __attribute__((warn_unused_result));

/* Deletes our table if it exists; idempotent. 0, -EBUSY or -errno. */
int nft_remove(struct nft_ctx *ctx) __attribute__((warn_unused_result));

/*
 * For `meshgated --cleanup`, from a process that is not the daemon: deletes
 * a table "inet meshgate" left without owner. Returns 0 when there is no
 * such table afterwards (also when there was none), -EBUSY when a live
 * daemon owns it (it cannot be deleted by anyone else and will go with
 * that daemon), -EPROTONOSUPPORT/-EPERM as nft_open(), or -errno.
 */
int nft_cleanup_table(void) __attribute__((warn_unused_result));

/*
 * Watching for changes made by others: opens a socket on the
 * NFNLGRP_NFTABLES multicast group and gives its fd (non-blocking) for the
 * daemon's loop (EPOLLIN). Open it before the first nft_apply(); closed by
 * nft_close(). 0 or -errno.
 */
int nft_monitor_open(struct nft_ctx *ctx, int *fd) __attribute__((warn_unused_result));

/*
 * Drains the monitor socket. True when any event touched table "inet
 * meshgate" and did not come from ctx's own socket (a delete, a flush, a
 * rule added by hand): the caller then re-applies its plan. Events name
 * their table in attribute 1 of every object kind. When events were lost
 * (ENOBUFS: applying large sets sends one event per element), true if the
 * ruleset generation moved since ctx's last change.
 */
bool nft_monitor_read(struct nft_ctx *ctx);

/* One counter of the access policy's chains (nft_render.h). */
struct nft_policy_counter {
	enum acl_hook hook;
	bool deny;     /* the chain's default deny; rule is 0 */
	uint32_t rule; /* the policy rule ("policy rule N"), summed over its rules */
	uint64_t packets;
};

/*
 * Reads the policy chains' counters of table inet meshgate back from the
 * kernel: one NFT_MSG_GETRULE dump of the table, each counter found by its
 * rule's comment and summed per hook and policy rule (a rule has one
 * nftables rule per family and protocol), the default deny per hook.
 * *out (free() it) holds *n counters sorted by hook, the rules in order,
 * the deny last. No table or no policy: 0 with *n 0. 0, -ENOMEM or -errno.
 */
int nft_policy_counters(struct nft_ctx *ctx, struct nft_policy_counter **out, size_t *n)
    __attribute__((warn_unused_result));

#endif
