/* sd_notify without libsystemd; see sdnotify.h. */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int sdnotify_send_to(const char *path, const char *state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t addrlen;
	ssize_t n;
	int fd, err;

	if (!path || !path[0])
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len > sizeof(addr.sun_path) - 1 ||
	    (path[0] == '@' && len < 2))
		return -EINVAL;
	memcpy(addr.sun_path, path, len);
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract: the name is not NUL-terminated */
	else
		addrlen++;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addrlen);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	return (size_t)n == strlen(state) ? 1 : -EMSGSIZE;
}

int sdnotify_send(const char *state)
{
	return sdnotify_send_to(getenv("NOTIFY_SOCKET"), state);
}

int sdnotify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000);
	return sdnotify_send(msg);
}
