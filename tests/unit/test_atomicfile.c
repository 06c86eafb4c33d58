/*
 * The state-file writer (daemon/atomicfile.c): a new file gets the given
 * mode whatever the umask; a replacement leaves no temporary file; with
 * NOREPLACE an existing file stays; a write that fails (file size limit) and
 * a process killed in the middle of its write (SIGXFSZ) both leave the old
 * file whole, and the next write succeeds.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "testlib.h"

static const char old_text[] = "old contents\n";

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static bool has_text(const char *path, const char *want)
{
	size_t len;
	char *got = test_read_file(path, &len);
	bool ok = got && len == strlen(want) && !memcmp(got, want, len);

	free(got);
	return ok;
}

static void remove_all(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void test_write_replace(void)
{
	char dir[] = "/tmp/mg-atomicfile-XXXXXX", path[128];
	mode_t old_mask = umask(0077);
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/state", dir);
	CHECK_EQ_INT(atomicfile_write(path, old_text, strlen(old_text), 0644, 0), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK(has_text(path, old_text));
	CHECK_EQ_INT(atomicfile_write(path, "new\n", 4, 0600, 0), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(has_text(path, "new\n"));
	CHECK_EQ_INT(count_entries(dir), 1);
	/* NOREPLACE: the existing file stays, nothing is left behind. */
	CHECK_EQ_INT(atomicfile_write(path, "other\n", 6, 0600, ATOMICFILE_NOREPLACE), -EEXIST);
	CHECK(has_text(path, "new\n"));
	CHECK_EQ_INT(count_entries(dir), 1);
	unlink(path);
	CHECK_EQ_INT(atomicfile_write(path, "key\n", 4, 0600, ATOMICFILE_NOREPLACE), 0);
	CHECK(has_text(path, "key\n"));
	CHECK_EQ_INT(count_entries(dir), 1);
	/* A missing directory is an error, not a file elsewhere. */
	snprintf(path, sizeof(path), "%s/missing/state", dir);
	CHECK_EQ_INT(atomicfile_write(path, "x", 1, 0600, 0), -ENOENT);
	umask(old_mask);
	remove_all(dir);
}

/*
 * Writes `size` bytes over path in a child limited to files of 16 bytes;
 * with the signal ignored the write fails (EFBIG) and the child exits with
 * the writer's result, else SIGXFSZ kills it in the middle of the write.
 * Returns the child's wait status.
 */
static int write_limited(const char *path, size_t size, bool ignore_signal)
{
	struct rlimit fsize = { 16, 16 }, core = { 0, 0 };
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		char *big = malloc(size);
		int ret;

		if (!big)
			_exit(100);
		memset(big, 'n', size);
		signal(SIGXFSZ, ignore_signal ? SIG_IGN : SIG_DFL);
		setrlimit(RLIMIT_CORE, &core);
		setrlimit(RLIMIT_FSIZE, &fsize);
		ret = atomicfile_write(path, big, size, 0600, 0);
		_exit(ret == -EFBIG ? 0 : 101);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	return status;
}

static void test_failures_keep_old(void)
{
	char dir[] = "/tmp/mg-atomicfile-XXXXXX", path[128];
	int status;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/state", dir);
	CHECK_EQ_INT(atomicfile_write(path, old_text, strlen(old_text), 0600, 0), 0);

	/* A failed write: reported, old file whole, temporary file removed. */
	status = write_limited(path, 4096, true);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(has_text(path, old_text));
	CHECK_EQ_INT(count_entries(dir), 1);

	/* A crash between write and rename: the old file is whole, only a
	 * temporary file is left beside it. */
	status = write_limited(path, 4096, false);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
	CHECK(has_text(path, old_text));
	CHECK_EQ_INT(count_entries(dir), 2);
	CHECK_EQ_INT(atomicfile_write(path, "new\n", 4, 0600, 0), 0);
	CHECK(has_text(path, "new\n"));
	remove_all(dir);
}

int main(void)
{
	RUN(test_write_replace);
	RUN(test_failures_keep_old);
	return test_summary();
}
