/*
 * query_sql: prints aimem-query's context SQL (query-api/query_sql.h) so bench/query.sh can run
 * the very same statements with pgbench:
 *
 *   query_sql          the old per-read derivation (calls/context_sql.h CONTEXT_SQL_DOC)
 *   query_sql stored   the read of the stored context (caller_context), as the routes run it
 *   query_sql pk       a bare primary-key lookup of the same row (the physical limit)
 */
#include <stdio.h>
#include <string.h>

#include "query_sql.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "stored") == 0)
		puts(QUERY_SQL_CONTEXT_READ(""));
	else if (argc > 1 && strcmp(argv[1], "pk") == 0)
		puts(QUERY_SQL_CONTEXT_PK);
	else
		puts(QUERY_SQL_CONTEXT);
	return 0;
}
