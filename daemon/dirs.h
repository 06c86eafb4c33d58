/*
 * Directories for the daemon's files: state_dir, the key's and the control
 * socket's parents, created with the mode asked for the last component
 * (0755 for the ones above it); an existing directory is left as it is.
 */
#ifndef MESHGATE_DIRS_H
#define MESHGATE_DIRS_H

#include <sys/types.h>

/* Creates dir and its parents. 0, -ENAMETOOLONG or another -errno. */
int dirs_make(const char *dir, mode_t mode) __attribute__((warn_unused_result));

/* Creates the directory that holds file, and its parents. */
int dirs_make_parent(const char *file, mode_t mode) __attribute__((warn_unused_result));

#endif
