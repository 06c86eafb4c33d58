/*
 * qrpng FILE: writes the text on standard input (up to 8 KiB) as a QR code
 * PNG, as `meshgate device add --qr-png FILE` does (qr.h), for
 * test_qr_decode.sh to read back with a scanner.
 */
#include <stdio.h>
#include <string.h>

#include "qr.h"

int main(int argc, char **argv)
{
	static char text[8192 + 1];
	struct qr qr;
	size_t n;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: qrpng FILE <text\n");
		return 2;
	}
	n = fread(text, 1, sizeof(text) - 1, stdin);
	text[n] = '\0';
	ret = qr_encode(&qr, text);
	if (ret == 0)
		ret = qr_write_png(&qr, argv[1]);
	qr_free(&qr);
	if (ret < 0) {
		fprintf(stderr, "qrpng: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
