/*
 * datadir: finds the read-only data the programs ship with (lexicons, prompts, migrations)
 * from its path in the source tree ("workers/lexicons"), wherever the program was started.
 *
 * A relative name is looked up, in order:
 *   <exe dir>/../share/ai-memory/<rel>        an install (make install PREFIX=...)
 *   <exe dir>/../<rel> ... <exe dir>/../../../<rel>
 *                                             the source tree (build/bin, build/san/bin,
 *                                             build/tests/fuzz)
 *   <rel>                                     the working directory
 * where <exe dir> is the folder of /proc/self/exe. It does not decide precedence: an explicit
 * setting (config file, AIMEM_* variable, --dir) always wins, and cfg only hands it the
 * defaults of CFG_DATA items. Keeps no state, so any thread may call it.
 */
#ifndef AIMEM_DATADIR_H
#define AIMEM_DATADIR_H

#include <stddef.h>

/* The install layout's data folder below the prefix: <prefix>/share/ai-memory. */
#define DATADIR_SHARE "share/ai-memory"

/*
 * Writes into out the first existing candidate for rel (canonical, absolute) and returns 0;
 * when none exists (or rel is absolute or empty) writes rel itself and returns -1, so the
 * caller's later open names the path it tried. exe_dir: the folder to look around, or NULL
 * for the running program's (/proc/self/exe). Blocks on a few stat(2) calls.
 */
int datadir_find(const char *exe_dir, const char *rel, char *out, size_t outlen)
    __attribute__((warn_unused_result));

/* The running program's folder (canonical) into out; -1 when /proc/self/exe cannot be read. */
int datadir_exe_dir(char *out, size_t outlen) __attribute__((warn_unused_result));

#endif
