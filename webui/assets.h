/*
 * The page's files, embedded at build time from webui/assets/ (see
 * webui/embed.cmake): the page needs nothing from outside the binary.
 */
#ifndef MESHGATE_WEBUI_ASSETS_H
#define MESHGATE_WEBUI_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path; /* URL path: "/", "/app.js", ... */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_n_assets;

#endif
