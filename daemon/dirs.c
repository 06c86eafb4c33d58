/* Directories for the daemon's files; see dirs.h. */
#include "dirs.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int dirs_make(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int dirs_make_parent(const char *file, mode_t mode)
{
	char copy[PATH_MAX];

	if (strlen(file) >= sizeof(copy))
		return -ENAMETOOLONG;
	strcpy(copy, file);
	return dirs_make(dirname(copy), mode);
}
