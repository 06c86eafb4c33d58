/*
 * Fuzzes the decoder of a node's filter (acl_filter_from_json), the
 * netmap's "policy" member: the input is JSON text.
 *
 * Invariants beyond memory safety: a failure leaves the filter empty and
 * says why; what decodes encodes again, and that encoding decodes to the
 * same filter (the same text once more).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text_of(const struct acl_filter *f)
{
	json_t *doc = acl_filter_to_json(f);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL), *again = NULL;
	struct acl_filter f, g;
	char err[256], *first = NULL, *second = NULL;

	if (!doc)
		return 0;
	if (acl_filter_from_json(doc, &f, err, sizeof(err)) < 0) {
		if (f.present || f.entries || f.n_entries || !err[0])
			abort();
		goto out;
	}
	first = text_of(&f);
	again = first ? json_loads(first, 0, NULL) : NULL;
	if (!again || acl_filter_from_json(again, &g, err, sizeof(err)) < 0)
		abort();
	second = text_of(&g);
	if (!second || strcmp(first, second) || g.n_entries != f.n_entries || g.deny != f.deny ||
	    g.revision != f.revision)
		abort();
	acl_filter_free(&g);
	acl_filter_free(&f);
out:
	free(first);
	free(second);
	json_decref(again);
	json_decref(doc);
	return 0;
}
