/*
 * summarize_cpu: the CPU ceiling of `aimem summarize` with the built-in processors, for
 * bench/summarize.sh.
 *
 *   summarize_cpu LEXDIR EVENTS.jsonl
 *
 * Reads the events into memory, then decodes each (lib/event) and runs the summary
 * processors (calls/proc) and the personality scorer (calls/personality) in a loop on one
 * thread for about two seconds, and prints calls/s per core. No file reading, no JSON output:
 * what the command could reach if its input and output cost nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "personality.h"
#include "proc.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct line {
	char *data;
	size_t len;
};

static size_t read_lines(const char *path, struct line **out)
{
	FILE *in = fopen(path, "r");
	if (in == NULL)
		return 0;
	size_t n = 0, cap = 0;
	char *text = NULL;
	size_t tcap = 0;
	ssize_t len;
	*out = NULL;
	while ((len = getline(&text, &tcap, in)) > 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			*out = realloc(*out, cap * sizeof(**out));
			if (*out == NULL)
				abort();
		}
		(*out)[n].data = strndup(text, (size_t)len - 1);
		(*out)[n++].len = (size_t)len - 1;
	}
	free(text);
	fclose(in);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: summarize_cpu LEXDIR EVENTS.jsonl\n");
		return 2;
	}
	char err[512];
	struct proc_lexicons *lx = proc_lexicons_load(argv[1], err, sizeof(err));
	struct line *lines = NULL;
	size_t n = lx ? read_lines(argv[2], &lines) : 0;
	if (lx == NULL || n == 0) {
		fprintf(stderr, "summarize_cpu: %s\n", lx ? "no events" : err);
		return 1;
	}
	size_t calls = 0;
	double t0 = cpu_s(), t;
	do {
		for (size_t i = 0; i < n; i++, calls++) {
			struct event ev;
			struct proc_result r;
			struct personality_result p;
			if (event_decode(lines[i].data, lines[i].len, NULL, 0, NULL, &ev, err,
			                 sizeof(err)) != EVENT_OK ||
			    proc_run(lx, &ev.call, &r, err, sizeof(err)) != 0 ||
			    personality_score(lx, &ev.call, &p, err, sizeof(err)) != 0) {
				fprintf(stderr, "summarize_cpu: line %zu: %s\n", i + 1, err);
				return 1;
			}
			proc_result_release(&r);
			event_release(&ev);
		}
	} while ((t = cpu_s() - t0) < 2.0);
	printf("decode + summary + personality, no I/O: %.0f calls/s per core (%.1f us/call)\n",
	       calls / t, t / calls * 1e6);
	for (size_t i = 0; i < n; i++)
		free(lines[i].data);
	free(lines);
	proc_lexicons_free(&lx);
	return 0;
}
