/*
 * redact_text: lib/redact over calls given as JSON Lines, for the corpus scorer
 * (tests/redact/score.py) and by hand.
 *
 *   redact_text [KINDS] < calls.jsonl > redacted.jsonl
 *
 * Each input line is {"turns": [{"role": "user", "text": "..."}, ...]} (other members
 * ignored); each output line is {"turns": ["...", ...], "counts": {"card": 1, ...}} in the
 * same order. KINDS is redact.kinds' syntax ("card,cvv,email", "all"; default: the default
 * kinds). The last line on stderr is the CPU time spent in redact_run per call.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redact.h"

static unsigned parse_kinds(const char *s)
{
	if (strcmp(s, "all") == 0)
		return REDACT_ALL_KINDS;
	unsigned kinds = 0;
	for (const char *p = s; *p;) {
		size_t len = strcspn(p, ",");
		int k = redact_kind_parse(p, len);
		if (k < 0) {
			fprintf(stderr, "redact_text: unknown kind \"%.*s\"\n", (int)len, p);
			exit(2);
		}
		kinds |= 1u << k;
		p += len + (p[len] == ',');
	}
	return kinds;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned kinds = argc > 1 ? parse_kinds(argv[1]) : REDACT_DEFAULT_KINDS;
	struct redactor *r = redact_new();
	char *line = NULL;
	size_t cap = 0, calls = 0;
	ssize_t n;
	double spent = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue; /* blank lines are not calls */
		json_error_t jerr;
		json_t *call = json_loadb(line, (size_t)n, 0, &jerr);
		json_t *turns = json_object_get(call, "turns");
		if (!json_is_array(turns)) {
			fprintf(stderr, "redact_text: line %zu: no turns array\n", calls + 1);
			return 2;
		}
		size_t nt = json_array_size(turns);
		struct redact_turn *t = calloc(nt ? nt : 1, sizeof(*t));
		for (size_t i = 0; i < nt; i++) {
			json_t *turn = json_array_get(turns, i);
			const char *role = json_string_value(json_object_get(turn, "role"));
			json_t *text = json_object_get(turn, "text");
			t[i] = (struct redact_turn){ role && strcmp(role, "user") == 0 ? 0 : 1,
				                     json_string_value(text),
				                     json_string_length(text) };
			if (t[i].text == NULL)
				t[i].text = "";
		}
		unsigned counts[REDACT_NKINDS];
		double t0 = now_ns();
		redact_run(r, kinds, t, nt, counts);
		spent += now_ns() - t0;
		json_t *out = json_object(), *texts = json_array(), *cj = json_object();
		for (size_t i = 0; i < nt; i++) {
			size_t len;
			const char *s = redact_text(r, i, &len, NULL);
			json_array_append_new(texts, json_stringn(s, len));
		}
		for (int k = 0; k < REDACT_NKINDS; k++)
			if (counts[k])
				json_object_set_new(cj, redact_kind_name((enum redact_kind)k),
				                    json_integer(counts[k]));
		json_object_set_new(out, "turns", texts);
		json_object_set_new(out, "counts", cj);
		char *dump = json_dumps(out, JSON_COMPACT);
		printf("%s\n", dump);
		free(dump);
		json_decref(out);
		json_decref(call);
		free(t);
		calls++;
	}
	free(line);
	redact_free(&r);
	fprintf(stderr, "redact_text: %zu calls, %.1f us CPU per call in redact_run\n", calls,
	        calls ? spent / (double)calls / 1000.0 : 0.0);
	return 0;
}
