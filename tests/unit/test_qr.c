/*
 * QR codes: the modules libqrencode gives (finder patterns where the
 * standard puts them), the terminal drawing read back glyph by glyph into
 * modules (line count, width, quiet zone, light drawn as blocks), the PNG
 * read back with libpng (8-bit grayscale, 8 px per module, quiet zone 4),
 * its file mode, and the limits. Decoding with a real scanner is
 * test_qr_decode.sh.
 */
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qr.h"
#include "testlib.h"

static const char config_text[] =
    "# meshgate device phone, hub home\n"
    "[Interface]\n"
    "PrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n"
    "Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\n"
    "MTU = 1280\n"
    "\n"
    "[Peer]\n"
    "PublicKey = 3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=\n"
    "Endpoint = 203.0.113.2:41641\n"
    "AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24, 0.0.0.0/0, ::/0\n"
    "PersistentKeepalive = 25\n";

/* The 7x7 finder pattern whose top left corner is at (x0, y0). */
static bool finder_at(const struct qr *qr, int x0, int y0)
{
	for (int y = 0; y < 7; y++)
		for (int x = 0; x < 7; x++) {
			bool ring = x == 0 || y == 0 || x == 6 || y == 6;
			bool core = x >= 2 && x <= 4 && y >= 2 && y <= 4;
			if (qr_is_dark(qr, x0 + x, y0 + y) != (ring || core))
				return false;
		}
	return true;
}

static void test_encode(void)
{
	struct qr qr;

	CHECK_EQ_INT(qr_encode(&qr, "hello"), 0);
	CHECK_EQ_INT(qr.size, 21);
	CHECK(finder_at(&qr, 0, 0) && finder_at(&qr, 14, 0) && finder_at(&qr, 0, 14));
	CHECK(!qr_is_dark(&qr, -1, 0) && !qr_is_dark(&qr, 0, 21) && !qr_is_dark(&qr, 21, 0));
	qr_free(&qr);
	CHECK(qr.dark == NULL && qr.size == 0);
	qr_free(&qr);
	qr_free(NULL);

	/* A device's whole configuration; size = 4 * version + 17. */
	CHECK_EQ_INT(qr_encode(&qr, config_text), 0);
	CHECK(qr.size >= 21 && qr.size <= 177 && (qr.size - 17) % 4 == 0);
	CHECK(finder_at(&qr, 0, 0) && finder_at(&qr, qr.size - 7, 0) &&
	      finder_at(&qr, 0, qr.size - 7));
	qr_free(&qr);
}

static void test_limits(void)
{
	char *text = malloc(4000);
	struct qr qr;

	if (!CHECK(text != NULL))
		return;
	CHECK_EQ_INT(qr_encode(&qr, ""), -EINVAL);
	CHECK_EQ_INT(qr_encode(&qr, NULL), -EINVAL);
	/* 2500 bytes fit only at level L (M holds 2331 in 8-bit mode, version 40). */
	memset(text, 'x', 3999);
	for (int i = 0; i < 3999; i += 7)
		text[i] = (char)('a' + i % 26);
	text[2500] = '\0';
	CHECK_EQ_INT(qr_encode(&qr, text), 0);
	CHECK(qr.size > 150 && qr.size <= 177);
	qr_free(&qr);
	text[2500] = 'x';
	text[3999] = '\0';
	CHECK_EQ_INT(qr_encode(&qr, text), -EMSGSIZE);
	CHECK(qr.dark == NULL);
	free(text);
}

/* The drawing of qr with quiet, read back into modules and compared. */
static void check_terminal(const struct qr *qr, unsigned quiet)
{
	static const char *const glyphs[4] = { " ", "\xe2\x96\x84", "\xe2\x96\x80",
					       "\xe2\x96\x88" }; /* index: top << 1 | bottom */
	int total = qr->size + 2 * (int)quiet, lines = 0, bad = 0;
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!CHECK(out != NULL))
		return;
	CHECK_EQ_INT(qr_write_terminal(qr, quiet, out), 0);
	fclose(out);
	p = buf;
	for (int row = 0; *p; row += 2, lines++) {
		for (int col = 0; col < total; col++) {
			bool top = !qr_is_dark(qr, col - (int)quiet, row - (int)quiet);
			bool bottom = row + 1 < total &&
				      !qr_is_dark(qr, col - (int)quiet, row + 1 - (int)quiet);
			const char *want = glyphs[top << 1 | bottom];
			if (strncmp(p, want, strlen(want))) {
				bad++;
				break;
			}
			p += strlen(want);
		}
		if (*p != '\n') {
			bad++;
			break;
		}
		p++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(lines, (total + 1) / 2);
	/* The quiet zone is light, so the first line is full blocks. */
	CHECK(quiet < 2 || strncmp(buf, "\xe2\x96\x88\xe2\x96\x88", 6) == 0);
	free(buf);
}

static void test_terminal(void)
{
	struct qr qr;

	CHECK_EQ_INT(qr_encode(&qr, config_text), 0);
	check_terminal(&qr, QR_TERMINAL_QUIET);
	check_terminal(&qr, 3);
	check_terminal(&qr, 4);
	check_terminal(&qr, 0);
	qr_free(&qr);
	CHECK_EQ_INT(qr_encode(&qr, "hello"), 0);
	check_terminal(&qr, QR_TERMINAL_QUIET);
	qr_free(&qr);
}

/* Decodes png with libpng's simplified API into gray bytes; checks the
 * header says 8-bit grayscale. */
static uint8_t *png_read_gray(const uint8_t *png, size_t len, unsigned *width, unsigned *height)
{
	png_image img = { .version = PNG_IMAGE_VERSION };
	uint8_t *pixels;

	/* IHDR: bit depth 8 (byte 24), colour type 0, grey (byte 25). */
	if (!CHECK(len > 26 && png[24] == 8 && png[25] == 0))
		return NULL;
	if (!CHECK(png_image_begin_read_from_memory(&img, png, len)))
		return NULL;
	img.format = PNG_FORMAT_GRAY;
	pixels = malloc(PNG_IMAGE_SIZE(img));
	if (!CHECK(pixels && png_image_finish_read(&img, NULL, pixels, 0, NULL))) {
		free(pixels);
		png_image_free(&img);
		return NULL;
	}
	*width = img.width;
	*height = img.height;
	return pixels;
}

static void test_png(void)
{
	struct qr qr;
	uint8_t *png = NULL, *pixels;
	size_t len = 0;
	unsigned w = 0, h = 0, side, bad = 0;

	CHECK_EQ_INT(qr_encode(&qr, config_text), 0);
	CHECK_EQ_INT(qr_png(&qr, QR_PNG_SCALE, QR_PNG_QUIET, &png, &len), 0);
	pixels = png ? png_read_gray(png, len, &w, &h) : NULL;
	side = (unsigned)(qr.size + 2 * QR_PNG_QUIET) * QR_PNG_SCALE;
	CHECK_EQ_INT(w, side);
	CHECK_EQ_INT(h, side);
	for (unsigned y = 0; pixels && w == side && y < side; y++)
		for (unsigned x = 0; x < side; x++) {
			bool dark = qr_is_dark(&qr, (int)(x / QR_PNG_SCALE) - QR_PNG_QUIET,
					       (int)(y / QR_PNG_SCALE) - QR_PNG_QUIET);
			bad += pixels[(size_t)y * side + x] != (dark ? 0 : 255);
		}
	CHECK_EQ_INT(bad, 0);
	free(pixels);
	qr_png_free(png, len);

	CHECK_EQ_INT(qr_png(&qr, 0, 4, &png, &len), -EINVAL);
	CHECK_EQ_INT(qr_png(&qr, 400, 4, &png, &len), -EINVAL); /* over 16384 px wide */
	CHECK(png == NULL && len == 0);
	qr_free(&qr);
	CHECK_EQ_INT(qr_png(&qr, 8, 4, &png, &len), -EINVAL);
}

/* The file holds the key: mode 0600 whatever the umask, replaced whole. */
static void test_png_file(void)
{
	char dir[] = "/tmp/meshgate-qr-XXXXXX", path[64];
	struct qr qr;
	struct stat st;
	uint8_t *png = NULL;
	size_t len = 0, file_len = 0;
	char *file;
	mode_t old = umask(0);

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/phone.png", dir);
	CHECK_EQ_INT(qr_encode(&qr, config_text), 0);
	CHECK_EQ_INT(qr_write_png(&qr, path), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(qr_png(&qr, QR_PNG_SCALE, QR_PNG_QUIET, &png, &len), 0);
	file = test_read_file(path, &file_len);
	CHECK(file && file_len == len && memcmp(file, png, len) == 0);
	free(file);
	qr_png_free(png, len);
	snprintf(path, sizeof(path), "%s/missing/phone.png", dir);
	CHECK_EQ_INT(qr_write_png(&qr, path), -ENOENT);
	qr_free(&qr);
	snprintf(path, sizeof(path), "%s/phone.png", dir);
	unlink(path);
	rmdir(dir);
	umask(old);
}

int main(void)
{
	RUN(test_encode);
	RUN(test_limits);
	RUN(test_terminal);
	RUN(test_png);
	RUN(test_png_file);
	return test_summary();
}
