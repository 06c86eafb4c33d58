/* Control socket client; see control_client.h. */
#include "control_client.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Refused by the socket's mode: who may use it, from the file itself. */
static int denied(const char *path, int ret, char *err, size_t errlen)
{
	struct group *gr;
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 0060) == 0060 && (gr = getgrgid(st.st_gid)))
		return fail(err, errlen, ret,
			    "permission denied on %s: add yourself to group %s "
			    "(adduser USER %s, then log in again), or run as root",
			    path, gr->gr_name, gr->gr_name);
	return fail(err, errlen, ret,
		    "permission denied on %s: only root may use it (the daemon has no operator "
		    "group: control_group in meshgate.conf(5))",
		    path);
}

static int control_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_SEC };
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(err, errlen, -ENAMETOOLONG, "cannot reach meshgated at %s: %s", path,
			    strerror(ENAMETOOLONG));
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		if (ret == -EACCES || ret == -EPERM)
			return denied(path, ret, err, errlen);
		return fail(err, errlen, ret, "cannot reach meshgated at %s: %s (is it running?)",
			    path, strerror(-ret));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends the request as one line, then ends our side of the stream. */
static int send_request(int fd, json_t *request)
{
	char *line = json_dumps(request, JSON_COMPACT);
	int ret;

	if (!line)
		return -ENOMEM;
	ret = send_all(fd, line, strlen(line));
	if (ret == 0)
		ret = send_all(fd, "\n", 1);
	free(line);
	if (ret == 0 && shutdown(fd, SHUT_WR) < 0)
		ret = -errno;
	return ret;
}

/* Reads until the daemon closes; *out is malloc'ed, *len its length. */
static int read_answer(int fd, char **out, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap), *bigger;

	while (buf) {
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int ret = n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : 0;
			if (ret < 0)
				free(buf);
			*out = ret < 0 ? NULL : buf;
			*len = used;
			return ret;
		}
		used += (size_t)n;
		if (used == cap) {
			if (cap >= CONTROL_MAX_ANSWER) {
				free(buf);
				return -EMSGSIZE;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	return -ENOMEM;
}

/* Unpacks {"ok": true, "result": ...} or {"ok": false, "error": "..."}. */
static int parse_answer(const char *buf, size_t len, json_t **result, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(buf, len, 0, &jerr), *ok, *res;
	int ret = 0;

	if (!doc)
		return fail(err, errlen, -EPROTO, "invalid answer from meshgated: %s", jerr.text);
	ok = json_object_get(doc, "ok");
	if (!json_is_boolean(ok)) {
		ret = fail(err, errlen, -EPROTO, "invalid answer from meshgated: no \"ok\"");
	} else if (json_is_false(ok)) {
		const char *msg = json_string_value(json_object_get(doc, "error"));
		ret = fail(err, errlen, -EREMOTEIO, "%s", msg ? msg : "request failed");
	} else {
		res = json_object_get(doc, "result");
		*result = res ? json_incref(res) : json_null();
	}
	json_decref(doc);
	return ret;
}

int control_request(const char *socket_path, json_t *request, json_t **result, char *err,
		    size_t errlen)
{
	char *answer = NULL;
	size_t len = 0;
	int fd, ret;

	*result = NULL;
	fd = control_connect(socket_path, err, errlen);
	if (fd < 0)
		return fd;
	ret = send_request(fd, request);
	if (ret < 0) {
		fail(err, errlen, ret, "cannot send to meshgated at %s: %s", socket_path,
		     strerror(-ret));
		goto out;
	}
	ret = read_answer(fd, &answer, &len);
	if (ret == -ETIMEDOUT)
		fail(err, errlen, ret, "meshgated did not answer within %d s", CONTROL_TIMEOUT_SEC);
	else if (ret < 0)
		fail(err, errlen, ret, "cannot read from meshgated at %s: %s", socket_path,
		     strerror(-ret));
	else
		ret = parse_answer(answer, len, result, err, errlen);
out:
	free(answer);
	close(fd);
	return ret;
}
