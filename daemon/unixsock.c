/* Listening Unix sockets; see unixsock.h. */
#include "unixsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int make_addr(const char *path, struct sockaddr_un *addr)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

bool unixsock_in_use(const char *path)
{
	struct sockaddr_un addr;
	int fd;
	bool live;

	if (make_addr(path, &addr) < 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0 ||
	       errno == EAGAIN; /* a full backlog is a live listener too */
	close(fd);
	return live;
}

/* Removes a stale socket at the path; refuses a live one or a non-socket. */
static int clear_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (unixsock_in_use(path))
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int unixsock_listen(const char *path, struct unixsock_id *id)
{
	struct sockaddr_un addr;
	struct stat st;
	mode_t old_mask;
	int fd, ret;

	ret = make_addr(path, &addr);
	if (ret == 0)
		ret = clear_path(path);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Created 0600 from the start: no window in which another user
	 * could connect. */
	old_mask = umask(0077);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (chmod(path, 0600) < 0 || lstat(path, &st) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		unlink(path);
		close(fd);
		return ret;
	}
	*id = (struct unixsock_id){ st.st_dev, st.st_ino };
	return fd;
}

void unixsock_unlink(const char *path, const struct unixsock_id *id)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino)
		unlink(path);
}

int unixsock_share(const char *path, const struct unixsock_id *id, gid_t group)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (st.st_dev != id->dev || st.st_ino != id->ino)
		return -ESTALE;
	if (chown(path, (uid_t)-1, group) < 0 || chmod(path, 0660) < 0)
		return -errno;
	return 0;
}

/* The peer's supplementary groups as they were at connect(). */
static bool peer_in_group(int fd, gid_t group)
{
	gid_t small[64], *v = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0) {
		if (errno != ERANGE || !(v = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(*v) && !found; i++)
		found = v[i] == group;
	if (v != small)
		free(v);
	return found;
}

bool unixsock_peer_allowed(int fd, gid_t group, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (uid)
		*uid = cred.uid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	return group != UNIXSOCK_NO_GROUP && (cred.gid == group || peer_in_group(fd, group));
}
