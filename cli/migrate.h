/*
 * migrate: the schema migration runner behind "aimem migrate".
 *
 * Applies the numbered SQL files of a folder (NNN_name.sql) in order, each in its own
 * transaction together with its row in schema_migrations (version, name, SHA-256 of the
 * file, time taken). Already-applied files are skipped when their checksum matches and are
 * an error when the file was edited since. A session advisory lock serialises concurrent
 * runners. Migration files are trusted repository content and run as written (simple
 * query protocol, several statements per file); they must not contain BEGIN/COMMIT.
 */
#ifndef AIMEM_MIGRATE_H
#define AIMEM_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

struct migrate_opts {
	const char *dir;  /* folder with NNN_name.sql files (borrowed) */
	bool status_only; /* list applied/pending, change nothing */
	FILE *out;        /* progress and the report */
};

/* Returns 0 when the schema is up to date afterwards (or, with status_only, always unless
 * an error occurred); -1 with err set otherwise. Blocks. */
int migrate_run(PGconn *conn, const struct migrate_opts *opts, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
