/*
 * personality_cpu: the CPU ceiling of aimem-personality's own work, for bench/personality.sh.
 *
 *   personality_cpu LEXDIR FIXTURE.json... 
 *
 * Decodes each fixture event (lib/event) and scores it (calls/personality) in a loop on one
 * thread for about two seconds, and prints calls/s per core for decode + score and for score
 * alone; then the CPU time of one call with 5,000 caller words. No Kafka, no database: what
 * the worker could reach if they cost nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "event.h"
#include "file.h"
#include "personality.h"
#include "proc.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct fixture {
	char *data;
	size_t len;
	struct event ev;
};

static void run_decode_score(const struct proc_lexicons *lx, struct fixture *fx, size_t n)
{
	char err[256];
	struct personality_result r;
	size_t calls = 0;
	double t0 = cpu_s(), t;
	do {
		for (size_t i = 0; i < n; i++, calls++) {
			struct event ev;
			if (event_decode(fx[i].data, fx[i].len, NULL, 0, NULL, &ev, err,
			                 sizeof(err)) != EVENT_OK ||
			    personality_score(lx, &ev.call, &r, err, sizeof(err)) != 0) {
				fprintf(stderr, "personality_cpu: %s\n", err);
				exit(1);
			}
			event_release(&ev);
		}
	} while ((t = cpu_s() - t0) < 2.0);
	printf("decode+score: %.0f calls/s per core (%.1f us/call, %zu fixtures)\n", calls / t,
	       t / calls * 1e6, n);
	calls = 0;
	t0 = cpu_s();
	do {
		for (size_t i = 0; i < n; i++, calls++)
			if (personality_score(lx, &fx[i].ev.call, &r, err, sizeof(err)) != 0)
				exit(1);
	} while ((t = cpu_s() - t0) < 2.0);
	printf("score only: %.0f calls/s per core (%.1f us/call)\n", calls / t, t / calls * 1e6);
}

/* 100 caller turns of 50 words (5,000 words) between 100 agent turns. */
static void run_big(const struct proc_lexicons *lx)
{
	static const char *const words[] = { "well",    "I",        "was",     "wondering",
		                             "exactly", "how",      "the",     "deductible",
		                             "works",   "because",  "premium", "went",
		                             "up",      "honestly", "that's",  "frustrating,",
		                             "could",   "you",      "please",  "explain?" };
	struct buf b = BUF_INIT;
	for (int w = 0; w < 50; w++) {
		buf_append_str(&b, words[w % 20]);
		buf_putc(&b, ' ');
	}
	struct event_turn turns[200];
	for (int t = 0; t < 200; t++)
		turns[t] = (struct event_turn){ t % 2 ? EVENT_ROLE_USER : EVENT_ROLE_ASSISTANT,
			                        t % 2 ? buf_str(&b) : "Let me check that for you.",
			                        t % 2 ? b.len : 26, NULL };
	struct event_call call;
	memset(&call, 0, sizeof(call));
	call.call_id = "CAbig";
	call.user_id = "1";
	call.turns = turns;
	call.nturns = 200;
	struct personality_result r;
	char err[128];
	int iters = 0;
	double t0 = cpu_s(), t;
	do {
		if (personality_score(lx, &call, &r, err, sizeof(err)) != 0)
			exit(1);
		iters++;
	} while ((t = cpu_s() - t0) < 1.0);
	printf("5000-word call: %.0f us CPU per call (%zu caller words, confidence %.2f)\n",
	       t / iters * 1e6, r.caller_words, r.confidence);
	buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: personality_cpu LEXDIR FIXTURE.json...\n");
		return 2;
	}
	char err[512];
	struct proc_lexicons *lx = proc_lexicons_load(argv[1], err, sizeof(err));
	if (lx == NULL) {
		fprintf(stderr, "personality_cpu: %s\n", err);
		return 1;
	}
	size_t n = (size_t)(argc - 2);
	struct fixture *fx = calloc(n, sizeof(*fx));
	for (size_t i = 0; i < n; i++) {
		fx[i].data = file_read(argv[i + 2], 2u << 20, &fx[i].len, err, sizeof(err));
		if (fx[i].data == NULL || event_decode(fx[i].data, fx[i].len, NULL, 0, NULL,
		                                       &fx[i].ev, err, sizeof(err)) != EVENT_OK) {
			fprintf(stderr, "personality_cpu: %s: %s\n", argv[i + 2], err);
			return 1;
		}
	}
	run_decode_score(lx, fx, n);
	run_big(lx);
	for (size_t i = 0; i < n; i++) {
		event_release(&fx[i].ev);
		free(fx[i].data);
	}
	free(fx);
	proc_lexicons_free(&lx);
	return 0;
}
