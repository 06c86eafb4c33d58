/*
 * Writing a state file so that a crash or a full disk leaves either the old
 * file or the new one, never a mix: a temporary file in the same directory,
 * written and fsync'ed, renamed over the target, then the directory fsync'ed
 * so that the rename itself survives a power loss.
 */
#ifndef MESHGATE_ATOMICFILE_H
#define MESHGATE_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

enum atomicfile_flags {
	ATOMICFILE_NOREPLACE = 1 << 0, /* fail with -EEXIST if path exists */
};

/*
 * Replaces path with the len bytes of data, the new file with mode (not
 * subject to the umask). On failure path is untouched and the temporary file
 * removed. Returns 0 or -errno.
 */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
    __attribute__((warn_unused_result));

#endif
