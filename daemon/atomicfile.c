/* Crash-safe replacement of a state file; see atomicfile.h. */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Makes a rename in path's directory durable. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int install(const char *tmp, const char *path, unsigned flags)
{
	if (!(flags & ATOMICFILE_NOREPLACE))
		return rename(tmp, path) < 0 ? -errno : 0;
	/* link() refuses an existing name, as O_EXCL would. */
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fchmod(fd, mode) < 0 ? -errno : 0;
	if (ret == 0)
		ret = write_all(fd, data, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0)
		ret = install(tmp, path, flags);
	if (ret < 0) {
		unlink(tmp);
		return ret;
	}
	/* The file is in place; a failed directory sync only weakens durability. */
	sync_dir(path);
	return 0;
}
