/*
 * Renders struct plan_nft as the messages that build table "inet meshgate"
 * (sets, chains, rules) into an nftables batch. Pure apart from memory: no
 * socket is touched. The content, in nft syntax (TUN, WAN from the plan;
 * rules appear only when the plan asks for them):
 *
 *   set self4/self6     { flags interval }  plan->self
 *   set lan4/lan6       { flags interval }  plan->lan_routes
 *   set guarded4/6      { flags interval }  plan->guarded
 *   set dev4/dev6       { flags interval }  plan->devices (attached devices)
 *   set devexit4/6      { flags interval }  plan->devices_exit (exit node only)
 *   set meshnet4/6      { flags interval }  plan->mesh_routes (with devices)
 *   chain forward       hook forward, filter, policy accept
 *     oifname TUN tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu
 *     iifname TUN tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu
 *     iifname TUN jump from_mesh
 *     oifname TUN ct state established,related accept
 *     oifname TUN ip saddr @lan4 accept          (and ip6 @lan6; drop with snat:
 *                                                  then only the replies above)
 *   chain from_mesh
 *     ct state invalid,untracked drop             (snat or exit node)
 *     oifname WAN jump policy_exit                (policy, exit node)
 *     [oifname != WAN] jump policy_forward        (policy)
 *     oifname TUN ip saddr @dev4 ip daddr @meshnet4 accept   (devices, v6 too:
 *     oifname TUN ip saddr @meshnet4 ip daddr @dev4 accept    TUN -> TUN only
 *                                                  between a device and the mesh)
 *     ip daddr @lan4 [meta mark set mark & ~MASK | MESH_SNAT] accept   (v6 too)
 *     ip daddr @guarded4 drop                     (exit node, v6 too)
 *     ip saddr @devexit4 oifname WAN meta mark set ... MESH_SNAT accept  (exit node)
 *     ip saddr @dev4 drop                         (exit node: other devices' WAN)
 *     oifname WAN meta mark set mark & ~MASK | MESH_SNAT accept
 *     drop                                       (TUN ingress ends here, always)
 *   chain input         hook input, filter
 *     iifname != TUN iifname != lo ip daddr @self4 drop   (v6 too: no page for LANs)
 *     iifname TUN jump policy_input               (policy)
 *     (exit node without allow_private:)
 *     iifname TUN fib daddr . iif type local accept
 *     iifname TUN ip daddr @lan4 accept ; iifname TUN ip daddr @guarded4 drop
 *   chain postrouting   nat, hook postrouting, srcnat
 *     meta mark & MASK == MESH_SNAT masquerade
 *   chain premangle     hook prerouting, mangle (exit-node client)
 *     meta l4proto udp ct mark & MASK == BYPASS meta mark set mark & ~MASK | BYPASS
 *   chain postmangle    hook postrouting, mangle
 *     meta l4proto udp meta mark & MASK == BYPASS ct mark set ct mark & ~MASK | BYPASS
 *
 *
 * The access policy (plan->acl.deny; none of it otherwise), for entry I of
 * plan->acl and each family (4, 6) its entry has addresses of:
 *   set pI_src4, pI_dst4  { flags interval }  its sources, destinations
 *                                             (none when "any" or no dst)
 *   set pI_ports          { type inet_service; flags interval }
 *   chain policy_input / policy_forward / policy_exit (exit node only)
 *     ct state established,related return
 *     ip saddr @pI_src4 ip daddr @pI_dst4 tcp dport @pI_ports counter return
 *                           comment "policy rule N" (one rule per family and
 *                           protocol; rule 0: "policy rule 0: mesh control")
 *     counter drop          comment "policy default deny"
 *
 * Why return, not accept: the policy only narrows. A flow the policy lets
 * through goes back to the calling chain and meets every check it met
 * before policies existed (served prefixes only, the exit guard, the
 * device rules, the masquerade mark; in input the guard of the host's
 * private addresses), so no guarantee of the table depends on the policy
 * being right, and no mark is needed to carry the decision. Replies and
 * related ICMP errors return before the entries: a policy decides who may
 * open a flow, and an allowed flow's packets are not counted per rule.
 * The jumps come first in from_mesh and input (after the drops that need
 * no decision), so nothing is accepted before the policy saw it. Input
 * jumps for everything the TUN delivers to this host, not only to self:
 * the host's LAN or WAN address reached from the mesh is the node itself,
 * allowed by an input entry that names it, never by a forward entry for
 * its LAN.
 *
 * Marks are only ever changed within FWMARK_MASK, so other users of the
 * mark keep their bits.
 */
#ifndef MESHGATE_ROUTER_NFT_RENDER_H
#define MESHGATE_ROUTER_NFT_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "plan_types.h"

struct nft_batch;

#define NFT_TABLE_NAME "meshgate"

/* The comments that name a policy chain's rules, for reading their
 * counters back (nft_policy_counters()). */
#define NFT_ACL_RULE_COMMENT "policy rule " /* followed by the rule's number */
#define NFT_ACL_DENY_COMMENT "policy default deny"

/*
 * Appends "make sure the table exists, then delete it" (the usual way to
 * delete what may not be there inside one transaction): an add without
 * flags is a no-op on an existing table of ours, owned or not. Returns the
 * sequence number of that add (the message the kernel refuses with EPERM
 * when another socket owns the table), 0 once the batch is in error.
 */
uint32_t nft_render_delete(struct nft_batch *b);

/*
 * Appends the table itself (NFT_TABLE_F_OWNER when owner) and all of the
 * plan's content. Returns the sequence number of the table message (to
 * recognise a refused owner flag), 0 once the batch is in error.
 */
uint32_t nft_render_table(struct nft_batch *b, const struct plan_nft *plan, bool owner);

#endif
