/*
 * replay: a main() for a libFuzzer target built without libFuzzer, so the ordinary build
 * (and `make test`, plain and under SANITIZE=) runs the target's seeds and every crasher
 * kept in tests/fuzz/regressions/<target>/:
 *
 *   replay FILE|DIR...
 *
 * Each file is one input, passed to LLVMFuzzerTestOneInput in an exact-size heap buffer (so
 * ASan sees reads past its end). A crash or abort is the failure; prints "N inputs" on success.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as with libFuzzer: targets that need set-up define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, n = 0;
	uint8_t *data = malloc(cap);
	size_t r;
	while (data && (r = fread(data + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			data = realloc(data, cap *= 2);
	}
	fclose(f);
	if (data == NULL)
		abort();
	uint8_t *exact = malloc(n ? n : 1);
	if (exact == NULL)
		abort();
	memcpy(exact, data, n);
	free(data);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of dir, sorted, skipping dot files (README and the like are named README*). */
static int replay_dir(const char *dir, int *count)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0; /* no regressions for this target yet */
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				rc = -1;
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int count = 0, rc = 0;
	if (LLVMFuzzerInitialize != NULL && LLVMFuzzerInitialize(&argc, &argv) != 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				rc = 1;
		} else if (stat(argv[i], &st) == 0) {
			if (replay_file(argv[i]) != 0)
				rc = 1;
			count++;
		}
	}
	printf("%d inputs\n", count);
	return rc;
}
