/*
 * /etc/resolv.conf pointed at the mesh resolver, and put back. The file is
 * rewritten in place (open with O_TRUNC, write): containers and `ip netns
 * exec` bind-mount it, so a rename() over it is impossible there. Before
 * the first write its bytes are kept in state_dir/RESOLVCONF_SAVED (written
 * atomically); ours starts with the marker line
 *
 *   # written by meshgated; the original is kept in STATE_DIR/resolv.conf.meshgate-saved
 *
 * then the resolver's addresses, `search <mesh domain> <the original's
 * search domains>` (6 at most, as older C libraries read no more) and
 * `options edns0` (answers up to 1,232 bytes over UDP; no trust-ad: the
 * mesh resolver does not validate DNSSEC, so its AD bit is not to be
 * trusted).
 *
 *   take over     file carries the marker and a saved copy exists (a
 *                 restart after a crash): the saved original stays, ours
 *                 is rewritten; else the file is saved, then ours written
 *   update        only while the file still carries the marker: another
 *                 program's edit is never overwritten
 *   restore       the saved bytes go back only when the file still carries
 *                 the marker; either way the result says what happened;
 *                 the saved copy is removed once restored, kept otherwise
 *
 * A symbolic link is refused: it means another program owns the file
 * (systemd-resolved's stub, resolvconf, NetworkManager), which would
 * rewrite its target behind us and which a replaced link would break.
 */
#ifndef MESHGATE_DNS_RESOLVCONF_H
#define MESHGATE_DNS_RESOLVCONF_H

#include <stdbool.h>
#include <stddef.h>

#define RESOLVCONF_PATH   "/etc/resolv.conf"
#define RESOLVCONF_SAVED  "resolv.conf.meshgate-saved"
#define RESOLVCONF_MARKER "# written by meshgated;"

enum {
	RESOLVCONF_SEARCH_MAX = 6,
	RESOLVCONF_SIZE_MAX = 64 * 1024, /* a larger file is refused */
};

/* What the file says. */
struct resolvconf_want {
	const char *domain; /* the mesh's: the first search domain */
	bool v6;            /* also the IPv6 resolver (the node has a v6 mesh address) */
};

enum resolvconf_restore {
	RESOLVCONF_RESTORED,  /* the original is back */
	RESOLVCONF_NOTHING,   /* no saved copy: nothing of ours to undo */
	RESOLVCONF_LEFT_ALONE /* changed by someone else since: left, copy kept */
};

/* Whether data (a file's bytes) is one meshgated wrote. */
bool resolvconf_is_ours(const char *data, size_t len);

/*
 * Our file's text for w, with the search domains of original (the bytes of
 * the file before meshgated; NULL: none) after the mesh's; saved is the
 * path the marker line names. A NUL-terminated string to free(), or NULL
 * out of memory.
 */
char *resolvconf_text(const struct resolvconf_want *w, const char *saved, const char *original,
		      size_t original_len);

/*
 * Points path at the mesh resolver. takeover: the first write of a run (see
 * above); else an update, refused with -EBUSY when the file no longer
 * carries the marker. Writes nothing when the file already says the same.
 * -ELOOP for a symbolic link, -EINVAL for anything not a regular file,
 * -EFBIG past RESOLVCONF_SIZE_MAX; errbuf says why in each case.
 */
int resolvconf_apply(const char *path, const char *saved, const struct resolvconf_want *w,
		     bool takeover, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Puts the saved original back (see above); a restore enum or -errno with
 * errbuf set. */
int resolvconf_restore(const char *path, const char *saved, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * The file whose nameservers are the host's own: saved when path carries
 * the marker and saved exists (the resolver's upstream must never be
 * itself), else path. Copies it to out (len bytes).
 */
void resolvconf_original_path(const char *path, const char *saved, char *out, size_t len);

#endif
