/*
 * embed_text: the built-in 384-dim embedding (lib/proc_embed) of each stdin line, printed
 * one pgvector text per line, so the integration tests can store the vectors the
 * summarizer would store and search them with aimem-query's query embedding.
 *
 *   printf 'billing question\n' | embed_text
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proc_embed.h"

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		float v[PROC_EMBED_DIM];
		proc_embed_text(line, len, v);
		struct buf out = BUF_INIT;
		proc_embedding_text(v, &out);
		printf("%s\n", buf_str(&out));
		buf_free(&out);
	}
	free(line);
	return 0;
}
