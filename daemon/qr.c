/* QR codes in a terminal and as PNG images; see qr.h. */
#include "qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"

enum { PNG_MAX_WIDTH = 16384 };

int qr_encode(struct qr *qr, const char *text)
{
	static const QRecLevel levels[] = { QR_ECLEVEL_M, QR_ECLEVEL_L };
	QRcode *code = NULL;
	size_t n;

	memset(qr, 0, sizeof(*qr));
	if (!text || !text[0])
		return -EINVAL;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		errno = 0;
		/* Version 0: the smallest that holds the text at this level. */
		code = QRcode_encodeString(text, 0, levels[i], QR_MODE_8, 1);
		if (code || errno != ERANGE)
			break;
	}
	if (!code)
		return errno == ERANGE ? -EMSGSIZE : errno == ENOMEM ? -ENOMEM : -EINVAL;
	n = (size_t)code->width * (size_t)code->width;
	qr->dark = malloc(n);
	if (qr->dark) {
		qr->size = code->width;
		/* libqrencode: bit 0 of each byte is the module's colour. */
		for (size_t i = 0; i < n; i++)
			qr->dark[i] = code->data[i] & 1;
	}
	sodium_memzero(code->data, n);
	QRcode_free(code);
	return qr->dark ? 0 : -ENOMEM;
}

void qr_free(struct qr *qr)
{
	if (!qr)
		return;
	if (qr->dark)
		sodium_memzero(qr->dark, (size_t)qr->size * (size_t)qr->size);
	free(qr->dark);
	qr->dark = NULL;
	qr->size = 0;
}

bool qr_is_dark(const struct qr *qr, int x, int y)
{
	return x >= 0 && y >= 0 && x < qr->size && y < qr->size &&
	       qr->dark[(size_t)y * (size_t)qr->size + (size_t)x];
}

/* ---- terminal ---- */

/*
 * One character for two rows of modules; a light module is a lit half
 * (the terminal's foreground), a dark one is left as background.
 */
static const char *half_block(bool top_light, bool bottom_light)
{
	if (top_light && bottom_light)
		return "\xe2\x96\x88"; /* U+2588 FULL BLOCK */
	if (top_light)
		return "\xe2\x96\x80"; /* U+2580 UPPER HALF BLOCK */
	if (bottom_light)
		return "\xe2\x96\x84"; /* U+2584 LOWER HALF BLOCK */
	return " ";
}

int qr_write_terminal(const struct qr *qr, unsigned quiet, FILE *out)
{
	int q = (int)quiet, total = qr->size + 2 * q;

	for (int row = 0; row < total; row += 2) {
		for (int col = 0; col < total; col++) {
			bool top = !qr_is_dark(qr, col - q, row - q);
			/* Past the last row (an odd total): the terminal's background. */
			bool bottom = row + 1 < total && !qr_is_dark(qr, col - q, row + 1 - q);
			fputs(half_block(top, bottom), out);
		}
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

/* ---- PNG ---- */

/* libpng's output, kept in memory; grown without realloc, so no copy of the
 * image is left behind unwiped. */
struct membuf {
	uint8_t *data;
	size_t len, cap;
};

static void png_fail(png_structp png, png_const_charp msg)
{
	png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
}

static void membuf_write(png_structp png, png_bytep data, size_t n)
{
	struct membuf *m = png_get_io_ptr(png);
	size_t cap = m->cap ? m->cap : 4096;
	uint8_t *bigger;

	if (n <= m->cap - m->len) {
		memcpy(m->data + m->len, data, n);
		m->len += n;
		return;
	}
	while (cap - m->len < n && cap < SIZE_MAX / 2)
		cap *= 2;
	bigger = cap - m->len >= n ? malloc(cap) : NULL;
	if (!bigger)
		png_error(png, "out of memory");
	if (m->len)
		memcpy(bigger, m->data, m->len);
	qr_png_free(m->data, m->len);
	m->data = bigger;
	m->cap = cap;
	membuf_write(png, data, n);
}

static void membuf_flush(png_structp png)
{
}

static void fill_row(const struct qr *qr, unsigned scale, unsigned quiet, unsigned y, uint8_t *row,
		     unsigned width)
{
	int my = (int)(y / scale) - (int)quiet;

	for (unsigned x = 0; x < width; x++)
		row[x] = qr_is_dark(qr, (int)(x / scale) - (int)quiet, my) ? 0x00 : 0xff;
}

static int png_encode(const struct qr *qr, unsigned scale, unsigned quiet, unsigned width,
		      uint8_t *row, struct membuf *m)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_warn);
	png_infop info = png ? png_create_info_struct(png) : NULL;

	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	/* Every libpng error here is a failed allocation (the input is ours). */
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -ENOMEM;
	}
	png_set_write_fn(png, m, membuf_write, membuf_flush);
	png_set_IHDR(png, info, width, width, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (unsigned y = 0; y < width; y++) {
		fill_row(qr, scale, quiet, y, row, width);
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int qr_png(const struct qr *qr, unsigned scale, unsigned quiet, uint8_t **png, size_t *len)
{
	struct membuf m = { 0 };
	unsigned long width = ((unsigned long)qr->size + 2ul * quiet) * scale;
	uint8_t *row;
	int ret;

	*png = NULL;
	*len = 0;
	if (!qr->dark || !scale || quiet > PNG_MAX_WIDTH || width > PNG_MAX_WIDTH)
		return -EINVAL;
	row = malloc(width);
	if (!row)
		return -ENOMEM;
	ret = png_encode(qr, scale, quiet, (unsigned)width, row, &m);
	sodium_memzero(row, width);
	free(row);
	if (ret < 0) {
		qr_png_free(m.data, m.len);
		return ret;
	}
	*png = m.data;
	*len = m.len;
	return 0;
}

void qr_png_free(uint8_t *png, size_t len)
{
	if (!png)
		return;
	sodium_memzero(png, len);
	free(png);
}

int qr_write_png(const struct qr *qr, const char *path)
{
	uint8_t *png;
	size_t len;
	int ret = qr_png(qr, QR_PNG_SCALE, QR_PNG_QUIET, &png, &len);

	if (ret < 0)
		return ret;
	ret = atomicfile_write(path, png, len, 0600, 0);
	qr_png_free(png, len);
	return ret;
}
