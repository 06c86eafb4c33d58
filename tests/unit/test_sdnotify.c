/* sd_notify without libsystemd (daemon/sdnotify.c): path and abstract sockets. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "testlib.h"

/* Binds a datagram socket at name ("/path" or "@abstract"); returns the fd. */
static int listener(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	else
		addrlen++;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, addrlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Receives one datagram without blocking; "" when there is none. */
static void receive(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
}

static void test_path_socket(void)
{
	char dir[] = "/tmp/mg-sdnotify-XXXXXX", path[64], buf[256];
	int fd;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	if (CHECK(fd >= 0)) {
		CHECK_EQ_INT(sdnotify_send_to(path, "READY=1"), 1);
		receive(fd, buf, sizeof(buf));
		CHECK(strcmp(buf, "READY=1") == 0);

		setenv("NOTIFY_SOCKET", path, 1);
		CHECK_EQ_INT(sdnotify_send("STOPPING=1"), 1);
		receive(fd, buf, sizeof(buf));
		CHECK(strcmp(buf, "STOPPING=1") == 0);

		CHECK_EQ_INT(sdnotify_reloading(), 1);
		receive(fd, buf, sizeof(buf));
		CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
		CHECK(strtoull(buf + 27, NULL, 10) > 0);
		unsetenv("NOTIFY_SOCKET");
		close(fd);
	}
	unlink(path);
	rmdir(dir);
}

static void test_abstract_socket(void)
{
	char name[64], buf[256];
	int fd;

	snprintf(name, sizeof(name), "@mg-sdnotify-test-%d", (int)getpid());
	fd = listener(name);
	if (!CHECK(fd >= 0))
		return;
	CHECK_EQ_INT(sdnotify_send_to(name, "READY=1"), 1);
	receive(fd, buf, sizeof(buf));
	CHECK(strcmp(buf, "READY=1") == 0);
	close(fd);
}

static void test_not_under_systemd(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(sdnotify_send("READY=1"), 0);
	CHECK_EQ_INT(sdnotify_send_to("", "READY=1"), 0);
	CHECK_EQ_INT(sdnotify_send_to(NULL, "READY=1"), 0);
}

static void test_bad_addresses(void)
{
	char longname[200];

	CHECK_EQ_INT(sdnotify_send_to("relative/path", "READY=1"), -EINVAL);
	CHECK_EQ_INT(sdnotify_send_to("@", "READY=1"), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_INT(sdnotify_send_to(longname, "READY=1"), -EINVAL);
	/* Nobody listening: an error, never a crash or a hang. */
	CHECK(sdnotify_send_to("/nonexistent/meshgate-notify", "READY=1") < 0);
}

int main(void)
{
	RUN(test_path_socket);
	RUN(test_abstract_socket);
	RUN(test_not_under_systemd);
	RUN(test_bad_addresses);
	return test_summary();
}
