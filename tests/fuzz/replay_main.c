/*
 * Stand-in for libFuzzer's main() in non-fuzzing builds: feeds every file in
 * the given directories (or the files themselves) to LLVMFuzzerTestOneInput,
 * so the harnesses and their seed corpora run in the ordinary test suite.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	size_t len = 0;
	char *buf = test_read_file(path, &len);
	if (!buf) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "cannot stat %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *dir = opendir(path);
	struct dirent *de;
	int ret = 0;
	while (dir && (de = readdir(dir))) {
		char child[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (run_path(child, count) < 0)
			ret = -1;
	}
	if (dir)
		closedir(dir);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int ret = 0;

	/* The empty input and a few fixed shapes, whatever the corpus holds. */
	static const uint8_t zeros[256];
	for (size_t n = 0; n <= sizeof(zeros); n += 37)
		LLVMFuzzerTestOneInput(zeros, n);
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			ret = 1;
	printf("replayed %u inputs\n", count);
	return ret;
}
