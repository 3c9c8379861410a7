/*
 * event_check: runs the C event validator (lib/event) on one file.
 *
 *   event_check [--key KEY] FILE
 *
 * Prints "ok" (exit 0) or "invalid <code>: <message>" (exit 1); exit 2 on usage or I/O
 * errors. tests/integration/test_schemas.py compares it with a JSON Schema validator on
 * every example in schemas/examples.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "event.h"

int main(int argc, char **argv)
{
	const char *key = NULL, *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (path == NULL)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (f == NULL) {
		fprintf(stderr, "usage: event_check [--key KEY] FILE\n");
		return 2;
	}
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	struct event ev;
	char err[512];
	int rc = event_decode(b.data ? b.data : "", b.len, key, key ? strlen(key) : 0, NULL, &ev,
	                      err, sizeof(err));
	buf_free(&b);
	if (rc != EVENT_OK) {
		printf("invalid %s: %s\n", event_status_code(rc), err);
		return 1;
	}
	event_release(&ev);
	printf("ok\n");
	return 0;
}
