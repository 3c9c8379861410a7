/*
 * fuzz_personality: libFuzzer target for the personality scorer and the model-answer parser.
 * The first byte picks the mode: even, the rest is a model answer for personality_model_parse
 * (results must be clamped 0..100 / 0..1, the rationale valid UTF-8 within its cap); odd, the
 * rest is turns separated by 0x1e, each a role byte (value % 4) and its text (NULs become
 * spaces), for personality_score (scores 0..100, confidence 0..0.95, deterministic). Lexicons
 * load once from workers/lexicons (run from the repository root, as `make fuzz` does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "personality.h"
#include "personality_model.h"
#include "text.h"

#define FUZZ_TURNS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proc_lexicons *fuzz_lx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	(void)argc;
	(void)argv;
	fuzz_lx = proc_lexicons_load("workers/lexicons", err, sizeof(err));
	if (fuzz_lx == NULL) {
		fprintf(stderr, "fuzz_personality: %s (run from the repository root)\n", err);
		abort();
	}
	return 0;
}

static void fuzz_check(const struct personality_result *r, double conf_max)
{
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		if (!(r->score[s] >= 0 && r->score[s] <= 100))
			abort();
	if (!(r->confidence >= 0 && r->confidence <= conf_max))
		abort();
}

static void fuzz_model(const char *text, size_t len)
{
	struct personality_result r;
	char rationale[PERSONALITY_MODEL_RATIONALE_MAX + 1], err[200];
	if (personality_model_parse(text, len, 0.5, &r, rationale, sizeof(rationale), err,
	                            sizeof(err)) != 0)
		return;
	fuzz_check(&r, 1.0);
	size_t rl = strlen(rationale);
	if (rl > PERSONALITY_MODEL_RATIONALE_MAX || !text_utf8_valid(rationale, rl) ||
	    strchr(rationale, '\n'))
		abort();
}

static void fuzz_score(char *text, size_t len)
{
	struct event_turn turns[FUZZ_TURNS];
	struct event_call call;
	memset(&call, 0, sizeof(call));
	size_t n = 0;
	for (size_t i = 0; i < len && n < FUZZ_TURNS;) {
		char *end = memchr(text + i, 0x1e, len - i);
		size_t tlen = end ? (size_t)(end - (text + i)) : len - i;
		if (tlen > 0)
			turns[n++] =
			    (struct event_turn){ (enum event_role)((unsigned char)text[i] % 4),
				                 text + i + 1, tlen - 1, NULL };
		i += tlen + 1;
	}
	if (n == 0)
		return;
	call.turns = turns;
	call.nturns = n;
	struct personality_result r, again;
	char err[200];
	if (personality_score(fuzz_lx, &call, &r, err, sizeof(err)) != 0 ||
	    personality_score(fuzz_lx, &call, &again, err, sizeof(err)) != 0)
		abort();
	fuzz_check(&r, 0.95);
	if (memcmp(&r, &again, sizeof(r)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0) {
		fuzz_model(copy, size - 1);
	} else {
		for (size_t i = 0; i + 1 < size; i++)
			if (copy[i] == '\0')
				copy[i] = ' ';
		fuzz_score(copy, size - 1);
	}
	free(copy);
	return 0;
}
