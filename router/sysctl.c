/* Kernel parameters under /proc/sys with a record to undo them; see sysctl.h. */
#include "sysctl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"

#define SYSCTL_ROOT "/proc/sys/"

enum { SYSCTL_PATH_MAX = 256 };

/* One recorded original value. */
struct saved {
	char path[SYSCTL_PATH_MAX];
	char value[SYSCTL_VALUE_MAX];
};

struct saved_list {
	struct saved *v;
	size_t n, cap;
};

/* A path under /proc/sys that cannot escape it or break the record. */
static bool path_valid(const char *path)
{
	size_t len = strlen(path);

	return len > 0 && len < SYSCTL_PATH_MAX && path[0] != '/' && !strstr(path, "..") &&
	       !strpbrk(path, "=\n");
}

static int full_path(const char *path, char *out, size_t len)
{
	if (!path_valid(path))
		return -EINVAL;
	snprintf(out, len, SYSCTL_ROOT "%s", path);
	return 0;
}

int sysctl_read(const char *path, char *value, size_t len)
{
	char full[sizeof(SYSCTL_ROOT) + SYSCTL_PATH_MAX];
	ssize_t n;
	int fd, ret = full_path(path, full, sizeof(full));

	if (ret < 0 || len == 0)
		return ret < 0 ? ret : -EINVAL;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, value, len);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret < 0)
		return ret;
	if ((size_t)n == len)
		return -EOVERFLOW;
	while (n > 0 && value[n - 1] == '\n')
		n--;
	value[n] = '\0';
	return 0;
}

static int sysctl_write(const char *path, const char *value)
{
	char full[sizeof(SYSCTL_ROOT) + SYSCTL_PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd, ret = full_path(path, full, sizeof(full));

	if (ret < 0)
		return ret;
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	ret = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	close(fd);
	return ret;
}

/* Values compare with runs of blanks as one ("32768\t60999" = "32768 60999"). */
static bool value_equal(const char *a, const char *b)
{
	for (;;) {
		bool blank_a = isspace((unsigned char)*a), blank_b = isspace((unsigned char)*b);
		if (blank_a != blank_b)
			return false;
		while (blank_a && isspace((unsigned char)*a))
			a++;
		while (blank_b && isspace((unsigned char)*b))
			b++;
		if (blank_a)
			continue;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++, b++;
	}
}

/* Sets path to value unless it holds it already (a read-only /proc/sys
 * already set from outside is then no error) or holds unless (may be NULL). */
static int sysctl_set(const char *path, const char *value, const char *unless)
{
	char cur[SYSCTL_VALUE_MAX];
	int ret = sysctl_read(path, cur, sizeof(cur));

	if (ret == 0 && (value_equal(cur, value) || (unless && value_equal(cur, unless))))
		return 0;
	if (ret == -ENOENT && unless)
		return 0; /* conditional, and its interface is not there */
	return sysctl_write(path, value);
}

/* ---- the state file ---- */

static const struct saved *saved_find(const struct saved_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return &l->v[i];
	return NULL;
}

static int saved_add(struct saved_list *l, const char *path, const char *value)
{
	if (strlen(path) >= sizeof(l->v->path) || strlen(value) >= sizeof(l->v->value) ||
	    strchr(value, '\n'))
		return -EINVAL;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct saved *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].path, sizeof(l->v->path), "%s", path);
	snprintf(l->v[l->n].value, sizeof(l->v->value), "%s", value);
	l->n++;
	return 0;
}

/* Reads the record; a missing file is an empty one. Lines that do not parse
 * are skipped (first value wins for a repeated path). */
static int saved_load(const char *file, struct saved_list *l)
{
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	*l = (struct saved_list){ 0 };
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (ret == 0 && (n = getline(&line, &cap, f)) >= 0) {
		char *eq = strchr(line, '=');
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!eq)
			continue;
		*eq = '\0';
		if (path_valid(line) && !saved_find(l, line))
			ret = saved_add(l, line, eq + 1);
	}
	free(line);
	fclose(f);
	return ret;
}

/* Replaces the record atomically: a crash leaves the old or the new one. */
static int saved_store(const char *file, const struct saved_list *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f)
		return -errno;
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s=%s\n", l->v[i].path, l->v[i].value);
	ret = fclose(f) == 0 ? atomicfile_write(file, text, len, 0644, 0) : -ENOMEM;
	free(text);
	return ret;
}

/* ---- apply and restore ---- */

static void set_error(const char *path, const char *value, int err, char *errbuf, size_t errlen)
{
	char dotted[SYSCTL_PATH_MAX];
	bool in_container = err == -EROFS || ((err == -EACCES || err == -EPERM) && geteuid() == 0);

	snprintf(dotted, sizeof(dotted), "%s", path);
	for (char *p = dotted; *p; p++)
		*p = *p == '/' ? '.' : *p;
	if (in_container && strncmp(path, "net/", 4) == 0)
		snprintf(errbuf, errlen,
			 "cannot set %s to %s: /proc/sys is read-only here (a container?); net.* "
			 "settings belong to the container's own network namespace, so set it in "
			 "the container's configuration (LXC: lxc.sysctl.%s = %s; Docker/Podman: "
			 "--sysctl %s=%s), not on the host",
			 path, value, dotted, value, dotted, value);
	else if (in_container)
		snprintf(errbuf, errlen,
			 "cannot set %s to %s: /proc/sys is read-only here (a container?); set "
			 "%s = %s on the host",
			 path, value, dotted, value);
	else if (err == -EACCES || err == -EPERM)
		snprintf(errbuf, errlen, "cannot set %s to %s: %s (meshgated needs root)", path,
			 value, strerror(-err));
	else
		snprintf(errbuf, errlen, "cannot set %s to %s: %s", path, value, strerror(-err));
}

/* Adds the current value of each sysctl not yet recorded; *added counts. */
static int record_originals(const struct plan_sysctl *s, size_t n, struct saved_list *l,
			    size_t *added, char *errbuf, size_t errlen)
{
	char cur[SYSCTL_VALUE_MAX];

	for (size_t i = 0; i < n; i++) {
		int ret = path_valid(s[i].path) ? 0 : -EINVAL;
		if (ret == 0 && saved_find(l, s[i].path))
			continue;
		if (ret == 0)
			ret = sysctl_read(s[i].path, cur, sizeof(cur));
		if (ret == -ENOENT && s[i].unless)
			continue; /* its interface is not there: nothing to set */
		if (ret == 0 && (value_equal(cur, s[i].value) ||
				 (s[i].unless && value_equal(cur, s[i].unless))))
			continue; /* nothing to change, nothing to undo */
		if (ret == 0)
			ret = saved_add(l, s[i].path, cur);
		if (ret < 0) {
			snprintf(errbuf, errlen, "cannot read %s: %s", s[i].path, strerror(-ret));
			return ret;
		}
		(*added)++;
	}
	return 0;
}

int sysctl_apply(const struct plan_sysctl *s, size_t n, const char *state_file, char *errbuf,
		 size_t errlen)
{
	struct saved_list l;
	size_t added = 0;
	int ret = saved_load(state_file, &l);

	if (ret < 0) {
		snprintf(errbuf, errlen, "%s: %s", state_file, strerror(-ret));
		goto out;
	}
	ret = record_originals(s, n, &l, &added, errbuf, errlen);
	if (ret == 0 && added && (ret = saved_store(state_file, &l)) < 0)
		snprintf(errbuf, errlen, "cannot record sysctl values in %s: %s", state_file,
			 strerror(-ret));
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = sysctl_set(s[i].path, s[i].value, s[i].unless);
		if (ret < 0)
			set_error(s[i].path, s[i].value, ret, errbuf, errlen);
	}
out:
	free(l.v);
	return ret;
}

int sysctl_restore(const char *state_file, char *errbuf, size_t errlen)
{
	struct saved_list l;
	int ret = saved_load(state_file, &l);

	if (ret < 0) {
		snprintf(errbuf, errlen, "%s: %s", state_file, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < l.n; i++) {
		int r = sysctl_set(l.v[i].path, l.v[i].value, NULL);
		if (r < 0 && r != -ENOENT && ret == 0) {
			ret = r;
			snprintf(errbuf, errlen, "cannot restore %s to %s: %s", l.v[i].path,
				 l.v[i].value, strerror(-r));
		}
	}
	free(l.v);
	if (ret == 0 && unlink(state_file) < 0 && errno != ENOENT) {
		ret = -errno;
		snprintf(errbuf, errlen, "%s: %s", state_file, strerror(errno));
	}
	return ret;
}
