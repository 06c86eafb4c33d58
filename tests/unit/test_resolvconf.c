/*
 * The OS resolver's pieces without the OS: resolv.conf taken over, updated
 * and put back on temporary files (in place: the inode stays), another
 * program's edit left alone at update and restore, a restart after a crash
 * keeping the real original, a symbolic link refused, the search domains
 * carried over; and the per-link settings systemd-resolved is given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/resolvconf.h"
#include "dns/resolved.h"
#include "testlib.h"

#define ORIGINAL                                                                                   \
	"# the cafe's\n"                                                                           \
	"nameserver 192.0.2.53\n"                                                                  \
	"search lan.example\n"

static char dir[64], path[128], saved[128];

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Whether p holds exactly want. */
static bool file_is(const char *p, const char *want)
{
	size_t len = 0;
	char *got = test_read_file(p, &len);
	bool same = got && len == strlen(want) && memcmp(got, want, len) == 0;

	if (!same)
		fprintf(stderr, "  %s:\n%s\n  want:\n%s\n", p, got ? got : "(missing)", want);
	free(got);
	return same;
}

static ino_t inode(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_ino : 0;
}

static void setup(const char *original)
{
	unlink(path);
	unlink(saved);
	write_file(path, original);
}

static int apply(bool v6, bool takeover)
{
	struct resolvconf_want w = { .domain = "mesh.internal", .v6 = v6 };
	char err[512] = "";
	int ret = resolvconf_apply(path, saved, &w, takeover, err, sizeof(err));

	if (ret < 0)
		fprintf(stderr, "  (apply: %s)\n", err);
	return ret;
}

static int restore(void)
{
	char err[512] = "";

	return resolvconf_restore(path, saved, err, sizeof(err));
}

static char *ours(bool v6, const char *search)
{
	char *text = NULL;

	if (asprintf(&text,
		     "# written by meshgated; the original is kept in %s\n"
		     "# and put back when meshgated stops (or by meshgated --cleanup).\n"
		     "nameserver 100.100.100.100\n%s"
		     "search %s\n"
		     "options edns0\n",
		     saved, v6 ? "nameserver fd7a:6d67:7465::53\n" : "", search) < 0)
		return NULL;
	return text;
}

static void test_take_update_restore(void)
{
	char *v4 = ours(false, "mesh.internal lan.example"),
	     *v6 = ours(true, "mesh.internal lan.example");
	ino_t ino;

	setup(ORIGINAL);
	ino = inode(path);
	CHECK_EQ_INT(apply(false, true), 0);
	CHECK(file_is(path, v4));
	CHECK(file_is(saved, ORIGINAL));
	CHECK(inode(path) == ino);
	/* The same again writes the same; an update adds the v6 resolver. */
	CHECK_EQ_INT(apply(false, false), 0);
	CHECK(file_is(path, v4));
	CHECK_EQ_INT(apply(true, false), 0);
	CHECK(file_is(path, v6));
	CHECK(file_is(saved, ORIGINAL));
	CHECK_EQ_INT(restore(), RESOLVCONF_RESTORED);
	CHECK(file_is(path, ORIGINAL));
	CHECK(inode(path) == ino);
	CHECK(access(saved, F_OK) < 0 && errno == ENOENT);
	/* Nothing left to undo: a second restore (cleanup) changes nothing. */
	CHECK_EQ_INT(restore(), RESOLVCONF_NOTHING);
	CHECK(file_is(path, ORIGINAL));
	free(v4);
	free(v6);
}

static void test_changed_by_another(void)
{
	static const char admin[] = "nameserver 198.51.100.1\n";

	setup(ORIGINAL);
	CHECK_EQ_INT(apply(false, true), 0);
	write_file(path, admin);
	/* An update does not overwrite it, nor does the restore. */
	CHECK_EQ_INT(apply(true, false), -EBUSY);
	CHECK(file_is(path, admin));
	CHECK_EQ_INT(restore(), RESOLVCONF_LEFT_ALONE);
	CHECK(file_is(path, admin));
	CHECK(file_is(saved, ORIGINAL));
	/* Removed meanwhile: left alone too, not created. */
	unlink(path);
	CHECK_EQ_INT(restore(), RESOLVCONF_LEFT_ALONE);
	CHECK(access(path, F_OK) < 0);
	/* The next start takes the admin's file as the original. */
	write_file(path, admin);
	CHECK_EQ_INT(apply(false, true), 0);
	CHECK(file_is(saved, admin));
	CHECK_EQ_INT(restore(), RESOLVCONF_RESTORED);
	CHECK(file_is(path, admin));
}

/* A start after a crash finds its own file: the saved original stays. */
static void test_restart_after_crash(void)
{
	char *v4 = ours(false, "mesh.internal lan.example");
	char where[256];

	setup(ORIGINAL);
	CHECK_EQ_INT(apply(false, true), 0);
	resolvconf_original_path(path, saved, where, sizeof(where));
	CHECK(strcmp(where, saved) == 0);
	CHECK_EQ_INT(apply(false, true), 0);
	CHECK(file_is(saved, ORIGINAL));
	CHECK(file_is(path, v4));
	CHECK_EQ_INT(restore(), RESOLVCONF_RESTORED);
	CHECK(file_is(path, ORIGINAL));
	resolvconf_original_path(path, saved, where, sizeof(where));
	CHECK(strcmp(where, path) == 0);
	/* Ours without the saved copy: refused, nothing written. */
	CHECK_EQ_INT(apply(false, true), 0);
	unlink(saved);
	CHECK(apply(false, true) < 0);
	CHECK(file_is(path, v4));
	CHECK_EQ_INT(restore(), RESOLVCONF_NOTHING);
	free(v4);
}

static void test_symlink_refused(void)
{
	char target[160];

	snprintf(target, sizeof(target), "%s/stub-resolv.conf", dir);
	unlink(path);
	unlink(saved);
	write_file(target, "nameserver 127.0.0.53\n");
	CHECK(symlink(target, path) == 0);
	CHECK_EQ_INT(apply(false, true), -ELOOP);
	CHECK(file_is(target, "nameserver 127.0.0.53\n"));
	CHECK(access(saved, F_OK) < 0);
	CHECK_EQ_INT(restore(), RESOLVCONF_NOTHING);
	unlink(path);
	unlink(target);
	/* Missing: refused, not created. */
	CHECK_EQ_INT(apply(false, true), -ENOENT);
	CHECK(access(path, F_OK) < 0);
}

static void check_search(const char *original, const char *want)
{
	struct resolvconf_want w = { .domain = "mesh.internal" };
	char *text = resolvconf_text(&w, saved, original, original ? strlen(original) : 0);
	char *line = text ? strstr(text, "\nsearch ") : NULL;
	char *end = line ? strchr(line + 1, '\n') : NULL;
	bool ok = end && (size_t)(end - line - 8) == strlen(want) &&
		  memcmp(line + 8, want, strlen(want)) == 0;

	if (!CHECK(ok))
		fprintf(stderr, "  got: %s  want: search %s\n", line ? line + 1 : "(none)", want);
	free(text);
}

static void test_search_domains(void)
{
	check_search(NULL, "mesh.internal");
	check_search("nameserver 192.0.2.1\n", "mesh.internal");
	/* The last search or domain line wins; ours is not repeated. */
	check_search("search a.example b.example\nsearch c.example MESH.internal.\n",
		     "mesh.internal c.example");
	check_search("domain corp.example\n", "mesh.internal corp.example");
	check_search("search a.example\ndomain corp.example # comment\n",
		     "mesh.internal corp.example");
	/* Six at most; what is not a domain is dropped. */
	check_search("search a.x b.x c.x d.x e.x f.x g.x\n", "mesh.internal a.x b.x c.x d.x e.x");
	check_search("search bad_name. ok.example -x.y\tt.example\n",
		     "mesh.internal ok.example t.example");
	CHECK(resolvconf_is_ours("# written by meshgated; x", 25));
	CHECK(!resolvconf_is_ours("nameserver 1.1.1.1\n# written by meshgated;", 43));
	CHECK(!resolvconf_is_ours(NULL, 0));
}

static void check_link(const struct resolved_link *l, size_t n_dns, const char *domains,
		       bool default_route)
{
	char got[512] = "", text[64];

	CHECK_EQ_INT(l->n_dns, n_dns);
	CHECK(l->dns[0].family == AF_INET && memcmp(l->dns[0].addr, "\x64\x64\x64\x64", 4) == 0);
	if (n_dns == 2) {
		prefix_format_addr(&l->dns[1], text, sizeof(text));
		CHECK(strcmp(text, "fd7a:6d67:7465::53") == 0);
	}
	for (size_t i = 0; i < l->n_domains; i++) {
		snprintf(text, sizeof(text), "%s%s%s", i ? " " : "",
			 l->domains[i].routing_only ? "~" : "", l->domains[i].name);
		strcat(got, text);
	}
	if (!CHECK(strcmp(got, domains) == 0))
		fprintf(stderr, "  domains: %s\n  want:    %s\n", got, domains);
	CHECK(l->default_route == default_route);
}

static void test_resolved_link(void)
{
	static const char *const split[] = { "home.lan", "MESH.internal", "bad_domain",
					     "office.example", "home.lan" };
	struct resolved_want w = { .domain = "mesh.internal" };
	struct resolved_link l;

	resolved_link_make(&w, &l);
	check_link(&l, 1, "mesh.internal", false);
	w.split_domains = split;
	w.n_split_domains = 5;
	resolved_link_make(&w, &l);
	check_link(&l, 1, "mesh.internal ~home.lan ~office.example", false);
	/* With an exit node every query goes to the mesh resolver. */
	w.exit_node = true;
	w.v6 = true;
	resolved_link_make(&w, &l);
	check_link(&l, 2, "mesh.internal ~home.lan ~office.example ~.", true);
	w = (struct resolved_want){ .exit_node = true };
	resolved_link_make(&w, &l);
	check_link(&l, 1, "mesh.internal ~.", true);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_resolvconf.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	snprintf(saved, sizeof(saved), "%s/%s", dir, RESOLVCONF_SAVED);
	RUN(test_take_update_restore);
	RUN(test_changed_by_another);
	RUN(test_restart_after_crash);
	RUN(test_symlink_refused);
	RUN(test_search_domains);
	RUN(test_resolved_link);
	unlink(path);
	unlink(saved);
	rmdir(dir);
	return test_summary();
}
