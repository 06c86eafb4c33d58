/*
 * router/sysctl against the real /proc/sys: values set, originals recorded
 * once, restored, the record removed; restore without a record is a no-op.
 *
 * Needs root; runs in a private network namespace (unshare(CLONE_NEWNET)),
 * whose net.* sysctls are its own, so the host's values are untouched.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysctl.h"
#include "testlib.h"

#define FORWARD    "net/ipv4/ip_forward"
#define VALID_MARK "net/ipv4/conf/all/src_valid_mark"

static char dir[] = "/tmp/mg-test-sysctl-XXXXXX";
static char state[sizeof(dir) + 16];
static char errbuf[512];

static void set(const char *path, const char *value)
{
	char full[128];
	FILE *f;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	f = fopen(full, "w");
	CHECK(f && fputs(value, f) >= 0);
	if (f)
		fclose(f);
}

static bool value_is(const char *path, const char *want)
{
	char v[SYSCTL_VALUE_MAX];

	return sysctl_read(path, v, sizeof(v)) == 0 && strcmp(v, want) == 0;
}

static void test_read(void)
{
	char v[SYSCTL_VALUE_MAX], small[1];

	CHECK_EQ_INT(sysctl_read(FORWARD, v, sizeof(v)), 0);
	CHECK(strcmp(v, "0") == 0);
	CHECK_EQ_INT(sysctl_read(FORWARD, small, sizeof(small)), -EOVERFLOW);
	CHECK_EQ_INT(sysctl_read("net/ipv4/no_such_thing", v, sizeof(v)), -ENOENT);
	CHECK_EQ_INT(sysctl_read("../etc/passwd", v, sizeof(v)), -EINVAL);
	CHECK_EQ_INT(sysctl_read("/net/ipv4/ip_forward", v, sizeof(v)), -EINVAL);
}

static void test_apply_restore(void)
{
	const struct plan_sysctl want[] = { { FORWARD, "1", NULL }, { VALID_MARK, "1", NULL } };
	char *text;

	set(FORWARD, "0");
	set(VALID_MARK, "0");
	CHECK_EQ_INT(sysctl_apply(want, 2, state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(FORWARD, "1"));
	CHECK(value_is(VALID_MARK, "1"));
	text = test_read_file(state, NULL);
	CHECK(text && strcmp(text, FORWARD "=0\n" VALID_MARK "=0\n") == 0);
	free(text);

	/* Applying again keeps the first originals, even after a change. */
	set(VALID_MARK, "0");
	CHECK_EQ_INT(sysctl_apply(want, 2, state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(VALID_MARK, "1"));
	text = test_read_file(state, NULL);
	CHECK(text && strcmp(text, FORWARD "=0\n" VALID_MARK "=0\n") == 0);
	free(text);

	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(FORWARD, "0"));
	CHECK(value_is(VALID_MARK, "0"));
	CHECK(access(state, F_OK) < 0 && errno == ENOENT);
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(FORWARD, "0"));
}

/* A value that is already right is neither written nor recorded. */
static void test_already_set(void)
{
	const struct plan_sysctl want[] = { { FORWARD, "1", NULL } };

	set(FORWARD, "1");
	CHECK_EQ_INT(sysctl_apply(want, 1, state, errbuf, sizeof(errbuf)), 0);
	CHECK(access(state, F_OK) < 0);
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(FORWARD, "1"));
	set(FORWARD, "0");
}

static void test_errors(void)
{
	const struct plan_sysctl missing[] = { { FORWARD, "1", NULL },
					       { "net/ipv4/no_such", "1", NULL } };
	const struct plan_sysctl bad[] = { { FORWARD, "yes", NULL } };
	char *text;

	/* Nothing changes when a path cannot even be read. */
	CHECK_EQ_INT(sysctl_apply(missing, 2, state, errbuf, sizeof(errbuf)), -ENOENT);
	CHECK(strstr(errbuf, "net/ipv4/no_such") != NULL);
	CHECK(value_is(FORWARD, "0"));
	CHECK(access(state, F_OK) < 0);

	/* A value the kernel refuses: the original is on record first. */
	CHECK_EQ_INT(sysctl_apply(bad, 1, state, errbuf, sizeof(errbuf)), -EINVAL);
	CHECK(strstr(errbuf, "cannot set " FORWARD " to yes") != NULL);
	text = test_read_file(state, NULL);
	CHECK(text && strcmp(text, FORWARD "=0\n") == 0);
	free(text);
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);

	/* A record naming a sysctl that is gone (its link was removed). */
	FILE *f = fopen(state, "w");
	if (f) {
		fputs("net/ipv4/conf/gone0/forwarding=1\n" FORWARD "=0\ngarbage\n", f);
		fclose(f);
	}
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(access(state, F_OK) < 0);
}

/* A value with unless: set from another value and restored, left alone
 * (and not recorded) while it holds unless, as accept_ra 0 on a WAN, or
 * while it does not exist. */
static void test_unless(void)
{
	const struct plan_sysctl want[] = { { "net/ipv6/conf/lo/accept_ra", "2", "0" } };
	const struct plan_sysctl absent[] = { { "net/ipv6/conf/eth9/accept_ra", "2", "0" } };

	set(want[0].path, "1");
	CHECK_EQ_INT(sysctl_apply(want, 1, state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(want[0].path, "2"));
	CHECK_EQ_INT(sysctl_apply(want, 1, state, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(want[0].path, "1"));
	set(want[0].path, "0");
	CHECK_EQ_INT(sysctl_apply(want, 1, state, errbuf, sizeof(errbuf)), 0);
	CHECK(value_is(want[0].path, "0"));
	CHECK(access(state, F_OK) < 0);
	set(want[0].path, "1");
	/* Its interface is not there: nothing to do, no error. */
	CHECK_EQ_INT(sysctl_apply(absent, 1, state, errbuf, sizeof(errbuf)), 0);
	CHECK(access(state, F_OK) < 0);
}

/* A container's read-only /proc/sys (a read-only bind mount in a private
 * mount namespace): the message says where to set the value instead. */
static void test_read_only(void)
{
	const struct plan_sysctl want[] = { { FORWARD, "1", NULL } };

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("/proc/sys", "/proc/sys", NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		printf("  skipped: cannot make /proc/sys read-only: %s\n", strerror(errno));
		return;
	}
	CHECK_EQ_INT(sysctl_apply(want, 1, state, errbuf, sizeof(errbuf)), -EROFS);
	printf("  %s\n", errbuf);
	CHECK(strstr(errbuf, "lxc.sysctl.net.ipv4.ip_forward = 1") != NULL);
	CHECK(strstr(errbuf, "--sysctl net.ipv4.ip_forward=1") != NULL);
	/* The original is on record and still in place: restoring writes
	 * nothing, so the read-only mount does not stop it. */
	CHECK_EQ_INT(sysctl_restore(state, errbuf, sizeof(errbuf)), 0);
	CHECK(access(state, F_OK) < 0);
}

int main(void)
{
	int skip = test_enter_private_netns();

	if (skip)
		return skip;
	if (!mkdtemp(dir)) {
		printf("mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(state, sizeof(state), "%s/sysctl", dir);
	set(FORWARD, "0");
	RUN(test_read);
	RUN(test_apply_restore);
	RUN(test_already_set);
	RUN(test_errors);
	RUN(test_unless);
	RUN(test_read_only);
	unlink(state);
	rmdir(dir);
	return test_summary();
}
