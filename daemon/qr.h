/*
 * A text as a QR code (libqrencode, ISO/IEC 18004), for a phone to scan: in
 * a terminal with UTF-8 half blocks, or as a PNG image (libpng).
 *
 * The terminal form packs two rows of modules into one line of text and
 * draws the LIGHT modules as blocks: on a dark terminal (light characters on
 * a dark background) the code reads dark-on-light, as scanners expect. The
 * quiet zone (light modules around the code) is drawn as well.
 *
 * The code may hold a secret (a private key): qr_free() wipes it.
 */
#ifndef MESHGATE_QR_H
#define MESHGATE_QR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	QR_TERMINAL_QUIET = 2, /* modules of quiet zone in a terminal */
	QR_PNG_QUIET = 4,      /* in an image, as the standard asks */
	QR_PNG_SCALE = 8,      /* pixels per module */
};

struct qr {
	int size;      /* modules per side: 21 (version 1) to 177 (version 40) */
	uint8_t *dark; /* size * size, row by row: 1 for a dark module */
};

/*
 * Encodes text (NUL-terminated, stored byte for byte) with error correction
 * level M, or L when M does not hold it. Returns 0, -EMSGSIZE when the text
 * is too long for any QR code (about 2900 bytes), -ENOMEM or -EINVAL.
 */
int qr_encode(struct qr *qr, const char *text) __attribute__((warn_unused_result));

/* Wipes and frees the modules; NULL-safe, and safe on a zeroed struct. */
void qr_free(struct qr *qr);

/* Whether the module at column x, row y is dark; false outside the code. */
bool qr_is_dark(const struct qr *qr, int x, int y);

/*
 * Draws the code with a quiet zone of quiet modules: (size + 2 * quiet + 1)
 * / 2 lines of size + 2 * quiet characters ("█", "▀", "▄" or a space), each
 * ended by '\n'. Returns 0 or -EIO when out fails.
 */
int qr_write_terminal(const struct qr *qr, unsigned quiet, FILE *out)
    __attribute__((warn_unused_result));

/*
 * The code as an 8-bit grayscale PNG, scale pixels per module and a quiet
 * zone of quiet modules, into a new buffer *png of *len bytes (release with
 * qr_png_free()). Returns 0, -ENOMEM, or -EINVAL (no code, a zero scale or an
 * image wider than 16384 pixels).
 */
int qr_png(const struct qr *qr, unsigned scale, unsigned quiet, uint8_t **png, size_t *len)
    __attribute__((warn_unused_result));

/* Wipes and frees a buffer from qr_png(); NULL-safe. */
void qr_png_free(uint8_t *png, size_t len);

/*
 * Writes the code as a PNG (QR_PNG_SCALE, QR_PNG_QUIET) to path, replacing
 * it in one step (atomicfile.h), with mode 0600 whatever the umask: the code
 * may hold a key. Returns 0 or -errno.
 */
int qr_write_png(const struct qr *qr, const char *path) __attribute__((warn_unused_result));

#endif
