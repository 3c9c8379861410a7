/*
 * query_sql: prints the context read of aimem-query (query-api/query_sql.h), so bench/query.sh can
 * run the very same statement with pgbench.
 */
#include <stdio.h>

#include "query_sql.h"

int main(void)
{
	puts(QUERY_SQL_CONTEXT);
	return 0;
}
