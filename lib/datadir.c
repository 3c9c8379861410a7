/*
 * datadir: the data folder search (see datadir.h). Candidates are checked for existence
 * only; whether a file or folder can actually be read is for the code that opens it (and
 * for --check-config, through cfg_check_paths).
 */
#include "datadir.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How many folders up from the executable the source tree may be (build/tests/fuzz: 3). */
#define DATADIR_UP_MAX 3

static int datadir_copy(const char *s, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s", s);
	return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

int datadir_exe_dir(char *out, size_t outlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	return datadir_copy(exe[0] ? exe : "/", out, outlen);
}

/* True when dir/rel exists; out gets its canonical path. */
static bool datadir_try(const char *dir, const char *rel, char *out, size_t outlen)
{
	char path[PATH_MAX], real[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	if (realpath(path, real) == NULL) /* also: it exists */
		return false;
	return datadir_copy(real, out, outlen) == 0;
}

/* Next to the executable: the install layout, then the source tree above the build folder. */
static bool datadir_near_exe(const char *exe_dir, const char *rel, char *out, size_t outlen)
{
	char dir[PATH_MAX];
	int n = snprintf(dir, sizeof(dir), "%s/../%s", exe_dir, DATADIR_SHARE);
	if (n > 0 && (size_t)n < sizeof(dir) && datadir_try(dir, rel, out, outlen))
		return true;
	size_t len = strlen(exe_dir);
	if (len >= sizeof(dir))
		return false;
	memcpy(dir, exe_dir, len + 1);
	for (int up = 1; up <= DATADIR_UP_MAX && len + 4 <= sizeof(dir); up++) {
		memcpy(dir + len, "/..", 4);
		len += 3;
		if (datadir_try(dir, rel, out, outlen))
			return true;
	}
	return false;
}

int datadir_find(const char *exe_dir, const char *rel, char *out, size_t outlen)
{
	if (rel == NULL || rel[0] == '\0' || rel[0] == '/') {
		if (datadir_copy(rel ? rel : "", out, outlen) != 0 && outlen)
			out[0] = '\0';
		return -1;
	}
	char own[PATH_MAX];
	if (exe_dir == NULL && datadir_exe_dir(own, sizeof(own)) == 0)
		exe_dir = own;
	if (exe_dir != NULL && datadir_near_exe(exe_dir, rel, out, outlen))
		return 0;
	if (datadir_try(".", rel, out, outlen))
		return 0;
	if (datadir_copy(rel, out, outlen) != 0 && outlen)
		out[0] = '\0';
	return -1;
}
