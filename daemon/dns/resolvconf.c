/* resolv.conf pointed at the mesh resolver and put back; see resolvconf.h. */
#include "dns/resolvconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "dns/zone.h"

struct buf {
	char *data;
	size_t len;
};

static void __attribute__((format(printf, 3, 4)))
say(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

bool resolvconf_is_ours(const char *data, size_t len)
{
	size_t n = strlen(RESOLVCONF_MARKER);

	return data && len >= n && memcmp(data, RESOLVCONF_MARKER, n) == 0;
}

/* Reads a whole file into b (NUL-terminated); -ENOENT when missing. */
static int read_file(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ret = 0;
	ssize_t n;

	*b = (struct buf){ 0 };
	if (fd < 0)
		return -errno;
	b->data = malloc(RESOLVCONF_SIZE_MAX + 1);
	if (!b->data) {
		ret = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, b->data + b->len, RESOLVCONF_SIZE_MAX + 1 - b->len)) > 0)
		if ((b->len += (size_t)n) > RESOLVCONF_SIZE_MAX)
			break;
	if (n < 0)
		ret = -errno;
	else if (b->len > RESOLVCONF_SIZE_MAX)
		ret = -EFBIG;
	else
		b->data[b->len] = '\0';
out:
	close(fd);
	if (ret < 0) {
		free(b->data);
		*b = (struct buf){ 0 };
	}
	return ret;
}

/* Writes data over path in place: the inode (a bind mount's) stays. */
static int write_in_place(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW), ret = 0;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		ret = -errno;
out:
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

/* Adds the search domains of one "search"/"domain" line's rest. */
static size_t add_domains(const char **v, size_t n, size_t *lens, char *rest)
{
	char *save = NULL;

	/* The last search or domain line wins, as in resolv.conf(5). */
	n = 0;
	for (char *t = strtok_r(rest, " \t", &save); t && n < RESOLVCONF_SEARCH_MAX;
	     t = strtok_r(NULL, " \t", &save)) {
		if (*t == '#' || *t == ';')
			break;
		v[n] = t;
		lens[n++] = strlen(t);
	}
	return n;
}

/* The original's search domains (pointers into copy, which is modified). */
static size_t original_domains(char *copy, const char **v, size_t *lens)
{
	size_t n = 0;
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "search", 6) == 0 && (line[6] == ' ' || line[6] == '\t'))
			n = add_domains(v, n, lens, line + 6);
		else if (strncmp(line, "domain", 6) == 0 && (line[6] == ' ' || line[6] == '\t'))
			n = add_domains(v, n, lens, line + 6);
	}
	return n;
}

static bool same_domain(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	while (alen && a[alen - 1] == '.')
		alen--;
	return alen == blen && strncasecmp(a, b, blen) == 0;
}

/* Writes the search line: the mesh domain, then the original's that are
 * DNS names, each once, RESOLVCONF_SEARCH_MAX in all. */
static void put_search(FILE *f, const char *domain, const char *original, size_t original_len)
{
	const char *v[RESOLVCONF_SEARCH_MAX];
	size_t lens[RESOLVCONF_SEARCH_MAX], n = 0, written = 1;
	char *copy = original ? strndup(original, original_len) : NULL;

	if (copy)
		n = original_domains(copy, v, lens);
	fprintf(f, "search %s", domain);
	for (size_t i = 0; i < n && written < RESOLVCONF_SEARCH_MAX; i++) {
		char name[DNS_DOMAIN_MAX + 2];
		if (same_domain(v[i], lens[i], domain) || lens[i] >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)lens[i], v[i]);
		if (!dns_domain_valid(name))
			continue;
		fprintf(f, " %s", name);
		written++;
	}
	fputc('\n', f);
	free(copy);
}

char *resolvconf_text(const struct resolvconf_want *w, const char *saved, const char *original,
		      size_t original_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"%s the original is kept in %s\n"
		"# and put back when meshgated stops (or by meshgated --cleanup).\n"
		"nameserver " DNS_RESOLVER_V4 "\n",
		RESOLVCONF_MARKER, saved);
	if (w->v6)
		fputs("nameserver " DNS_RESOLVER_V6 "\n", f);
	put_search(f, w->domain ? w->domain : DNS_DEFAULT_DOMAIN, original, original_len);
	fputs("options edns0\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* 0 when path is a regular file (not a link); else why not in errbuf. */
static int check_kind(const char *path, char *errbuf, size_t errlen)
{
	struct stat st;
	char target[256];
	ssize_t n;

	if (lstat(path, &st) < 0) {
		say(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		say(errbuf, errlen,
		    "%s is a symbolic link to %s: another program manages it "
		    "(systemd-resolved, resolvconf, NetworkManager); left as it is",
		    path, target);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode)) {
		say(errbuf, errlen, "%s is not a regular file; left as it is", path);
		return -EINVAL;
	}
	return 0;
}

/* The bytes of the file before meshgated into orig: the saved copy after a
 * crash, else cur, which is then saved. */
static int keep_original(const char *saved, const struct buf *cur, struct buf *orig, char *errbuf,
			 size_t errlen)
{
	int ret;

	if (resolvconf_is_ours(cur->data, cur->len)) {
		ret = read_file(saved, orig);
		if (ret == 0)
			return 0;
		/* Ours without a copy: the original is lost; keep writing ours,
		 * and a restore finds nothing to put back. */
		say(errbuf, errlen, "%s: %s (meshgated's file without the original)", saved,
		    strerror(-ret));
		return ret;
	}
	ret = atomicfile_write(saved, cur->data, cur->len, 0600, 0);
	if (ret < 0) {
		say(errbuf, errlen, "cannot save the original to %s: %s", saved, strerror(-ret));
		return ret;
	}
	orig->data = strndup(cur->data, cur->len);
	orig->len = cur->len;
	return orig->data ? 0 : -ENOMEM;
}

int resolvconf_apply(const char *path, const char *saved, const struct resolvconf_want *w,
		     bool takeover, char *errbuf, size_t errlen)
{
	struct buf cur = { 0 }, orig = { 0 };
	char *text = NULL;
	int ret = check_kind(path, errbuf, errlen);

	if (ret < 0)
		return ret;
	ret = read_file(path, &cur);
	if (ret < 0) {
		say(errbuf, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (!takeover && !resolvconf_is_ours(cur.data, cur.len)) {
		say(errbuf, errlen, "%s was changed by another program; left as it is", path);
		ret = -EBUSY;
		goto out;
	}
	ret = keep_original(saved, &cur, &orig, errbuf, errlen);
	if (ret < 0)
		goto out;
	text = resolvconf_text(w, saved, orig.data, orig.len);
	if (!text) {
		ret = -ENOMEM;
		say(errbuf, errlen, "out of memory");
		goto out;
	}
	if (cur.len == strlen(text) && memcmp(cur.data, text, cur.len) == 0)
		goto out;
	ret = write_in_place(path, text, strlen(text));
	if (ret < 0)
		say(errbuf, errlen, "cannot write %s: %s", path, strerror(-ret));
out:
	free(text);
	free(orig.data);
	free(cur.data);
	return ret;
}

int resolvconf_restore(const char *path, const char *saved, char *errbuf, size_t errlen)
{
	struct buf orig = { 0 }, cur = { 0 };
	int ret = read_file(saved, &orig);

	if (ret == -ENOENT)
		return RESOLVCONF_NOTHING;
	if (ret < 0) {
		say(errbuf, errlen, "%s: %s", saved, strerror(-ret));
		return ret;
	}
	ret = read_file(path, &cur);
	/* Gone, now a link, or another's text: not ours to overwrite. */
	if ((ret == 0 && !resolvconf_is_ours(cur.data, cur.len)) || ret == -ENOENT || ret == -ELOOP)
		ret = RESOLVCONF_LEFT_ALONE;
	if (ret == RESOLVCONF_LEFT_ALONE) {
		say(errbuf, errlen,
		    "%s was changed by another program since meshgated wrote it; left as it is "
		    "(the file from before meshgated is in %s)",
		    path, saved);
		goto out;
	}
	if (ret < 0) {
		say(errbuf, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	ret = write_in_place(path, orig.data, orig.len);
	if (ret < 0) {
		say(errbuf, errlen, "cannot write %s: %s", path, strerror(-ret));
		goto out;
	}
	if (unlink(saved) < 0 && errno != ENOENT)
		say(errbuf, errlen, "%s restored; cannot remove %s: %s", path, saved,
		    strerror(errno));
	ret = RESOLVCONF_RESTORED;
out:
	free(orig.data);
	free(cur.data);
	return ret;
}

void resolvconf_original_path(const char *path, const char *saved, char *out, size_t len)
{
	struct buf cur;
	bool ours = read_file(path, &cur) == 0 && resolvconf_is_ours(cur.data, cur.len);

	free(cur.data);
	snprintf(out, len, "%s", ours && access(saved, R_OK) == 0 ? saved : path);
}
