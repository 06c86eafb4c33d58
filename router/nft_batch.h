/*
 * One nftables transaction. Messages are appended to a libnftnl multi-page
 * batch between NFNL_MSG_BATCH_BEGIN and _END and leave in a single
 * sendmsg(), so the kernel applies all of them or none (one generation).
 * Every message asks for an acknowledgement; nfnetlink processes a batch
 * synchronously inside sendmsg(), so all the answers are queued on the
 * socket when it returns.
 */
#ifndef MESHGATE_ROUTER_NFT_BATCH_H
#define MESHGATE_ROUTER_NFT_BATCH_H

#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;
struct nftnl_batch;
struct nftnl_chain;
struct nftnl_rule;
struct nftnl_set;
struct nftnl_table;

struct nft_batch {
	struct nftnl_batch *pages;
	uint32_t seq_begin;  /* the BEGIN message */
	uint32_t seq;        /* the next message */
	uint32_t n_msgs;     /* messages that expect an acknowledgement */
	int err;             /* first error while building (sticky), 0 */
	uint32_t failed_seq; /* after nft_batch_send(): the first refused message */
};

/* Starts a batch whose messages are numbered from seq. 0 or -ENOMEM. */
int nft_batch_init(struct nft_batch *b, uint32_t seq) __attribute__((warn_unused_result));
void nft_batch_deinit(struct nft_batch *b);

/*
 * Append one message built from the object (which the caller still owns).
 * type is NFT_MSG_NEW* or NFT_MSG_DEL*; "new" messages create without
 * NLM_F_EXCL, rules are appended. Each returns the message's sequence
 * number, or 0 once the batch is in error (see b->err).
 */
uint32_t nft_batch_table(struct nft_batch *b, uint16_t type, const struct nftnl_table *t);
uint32_t nft_batch_chain(struct nft_batch *b, const struct nftnl_chain *c);
uint32_t nft_batch_set(struct nft_batch *b, const struct nftnl_set *s);
uint32_t nft_batch_rule(struct nft_batch *b, const struct nftnl_rule *r);
/* The set's elements, in as many NFT_MSG_NEWSETELEM messages as they need. */
void nft_batch_set_elems(struct nft_batch *b, const struct nftnl_set *s);

/*
 * Ends the batch and sends it. Returns 0 when every message was
 * acknowledged and the transaction committed, else the first error the
 * kernel reported (b->failed_seq says which message, or the BEGIN message
 * for a failed commit), -EMSGSIZE/-ENOBUFS from the socket, or b->err.
 */
int nft_batch_send(struct nft_batch *b, struct mnl_socket *nl) __attribute__((warn_unused_result));

#endif
