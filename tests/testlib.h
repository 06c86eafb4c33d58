/*
 * A very small test harness shared by the unit and in-process tests.
 *
 * CHECK() records a failure and carries on, so one run reports every broken
 * expectation; test_summary() prints "N passed, N failed" and gives the exit
 * status for main().
 */
#ifndef MESHGATE_TESTLIB_H
#define MESHGATE_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct test_counts {
	unsigned passed;
	unsigned failed;
};
extern struct test_counts test_counts;

bool test_check(bool ok, const char *expr, const char *file, int line);
bool test_check_mem(const void *got, const void *want, size_t len, const char *expr,
		    const char *file, int line);

#define CHECK(cond)               test_check((cond), #cond, __FILE__, __LINE__)
#define CHECK_MEM(got, want, len) test_check_mem((got), (want), (len), #got, __FILE__, __LINE__)
#define CHECK_EQ_INT(a, b)                                                                         \
	test_check_int((long long)(a), (long long)(b), #a " == " #b, __FILE__, __LINE__)

bool test_check_int(long long got, long long want, const char *expr, const char *file, int line);

/* status_format_human() of the status document doc_text at time now is
 * exactly want; both texts go to stderr when not. */
#define CHECK_STATUS_TEXT(doc_text, now, want)                                                     \
	test_check_status_text((doc_text), (now), (want), __FILE__, __LINE__)

bool test_check_status_text(const char *doc_text, time_t now, const char *want, const char *file,
			    int line);

/* Runs one named test function and reports it. */
#define RUN(fn)                                                                                    \
	do {                                                                                       \
		unsigned failed_before = test_counts.failed;                                       \
		fn();                                                                              \
		printf("%s %s\n", test_counts.failed == failed_before ? "ok  " : "FAIL", #fn);     \
	} while (0)

/* Prints the summary line; returns the process exit status. */
int test_summary(void);

/* Decodes hex into out (at most cap bytes); returns the length or -1. */
int test_unhex(const char *hex, uint8_t *out, size_t cap);

/* Reads a whole file into a NUL-terminated buffer (free() it); NULL on error. */
char *test_read_file(const char *path, size_t *len);

/* The standard output of `sh -c cmd`, whole and NUL-terminated (free() it),
 * or NULL when it cannot run; its wait status in *status when not NULL. */
char *test_run(const char *cmd, int *status);

/* Whether text (may be NULL) holds needle; if not, says so on stderr. */
bool test_has(const char *text, const char *needle);

/* Whether text (not NULL) lacks needle; if not, says so on stderr. */
bool test_lacks(const char *text, const char *needle);

/* A deterministic pseudo-random generator for randomized tests (xorshift). */
struct test_rng {
	uint64_t state;
};
uint64_t test_rng_next(struct test_rng *rng);
void test_rng_bytes(struct test_rng *rng, void *buf, size_t len);

/*
 * For tests that touch kernel network state: checks for root and moves the
 * process into a private network namespace of its own, so nothing it does
 * reaches the host's. Returns 0, or 77 (the runner's "skipped") after saying
 * why it cannot.
 */
int test_enter_private_netns(void);

struct ifreq;

/* ioctl(req) with ifr on a throwaway AF_INET datagram socket, for the
 * SIOC[GS]IF* requests. Returns 0, or -1 with errno set. */
int test_ifreq_ioctl(unsigned long req, struct ifreq *ifr);

/* Sets the link name up; adds addr with its netmask (dotted quads). 0, or
 * -1 with errno set. */
int test_link_up(const char *name);
int test_addr_set4(const char *name, const char *addr, const char *mask);

/* Seed from MG_TEST_SEED when set, else from the clock; printed for replay. */
uint64_t test_seed(void);

#endif
