/*
 * fuzz_proc: libFuzzer target for the built-in processors. The input is a call: its first
 * byte picks options (bit 0: an agent object naming "Sam"), then turns separated by 0x1e,
 * each a role byte (value % 4: user, assistant, system, tool) and the turn's text. Texts
 * may be any bytes except NUL (the event contract forbids it; NULs become spaces); when
 * every text is valid UTF-8 the outputs must be too. Every result must keep the documented
 * invariants, whatever the input, and so must the call's typed facts (calls/facts). Lexicons load once from workers/lexicons (run from the
 * repository root, as `make fuzz` does).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"
#include "proc.h"
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
		fprintf(stderr, "fuzz_proc: %s (run from the repository root)\n", err);
		abort();
	}
	return 0;
}

static void fuzz_check(const struct proc_result *r, bool utf8)
{
	static const char *const sentiments[] = { "positive", "neutral", "negative", "frustrated" };
	static const char *const resolutions[] = { "resolved",  "unresolved",  "escalated",
		                                   "follow_up", "transferred", "unknown" };
	bool s_ok = false, r_ok = false;
	for (size_t i = 0; i < 4; i++)
		s_ok = s_ok || strcmp(r->sentiment, sentiments[i]) == 0;
	for (size_t i = 0; i < 6; i++)
		r_ok = r_ok || strcmp(r->resolution, resolutions[i]) == 0;
	size_t slen = strlen(r->summary);
	if (!s_ok || !r_ok || slen == 0 || slen > PROC_SUMMARY_MAX || !(r->sentiment_score >= -1) ||
	    !(r->sentiment_score <= 1) || json_array_size(r->key_topics) > 5 ||
	    !json_is_object(r->key_variables))
		abort();
	if (utf8 && (!text_utf8_valid(r->summary, slen) ||
	             (r->caller_name && !text_utf8_valid(r->caller_name, strlen(r->caller_name)))))
		abort();
	double norm = 0;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++)
		norm += (double)r->embedding[i] * r->embedding[i];
	if (fabs(norm - 1) > 1e-3)
		abort();
	struct buf b = BUF_INIT;
	proc_embedding_text(r->embedding, &b);
	if (b.len < 2 * PROC_EMBED_DIM || b.data[0] != '[' || b.data[b.len - 1] != ']')
		abort();
	buf_free(&b);
}

/* The call's facts (calls/facts.h): bounded, typed, and UTF-8 when the turns were. */
static void fuzz_check_facts(json_t *facts, bool utf8)
{
	if (!json_is_array(facts) || json_array_size(facts) > FACTS_MAX)
		abort();
	size_t i;
	json_t *f;
	json_array_foreach(facts, i, f)
	{
		json_t *value = json_object_get(f, "value");
		if (!json_is_string(json_object_get(f, "kind")) || !json_is_string(value) ||
		    json_string_length(value) == 0 || json_string_length(value) > FACTS_VALUE_MAX)
			abort();
		if (utf8 && !text_utf8_valid(json_string_value(value), json_string_length(value)))
			abort();
	}
	json_decref(facts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	char *copy = malloc(size);
	memcpy(copy, data, size);
	for (size_t i = 0; i < size; i++)
		if (copy[i] == '\0')
			copy[i] = ' ';
	struct event_turn turns[FUZZ_TURNS];
	struct event_call call;
	memset(&call, 0, sizeof(call));
	size_t n = 0, start = 1;
	bool utf8 = true;
	for (size_t i = 1; i <= size && n < FUZZ_TURNS; i++) {
		if (i < size && copy[i] != 0x1e)
			continue;
		if (i > start) {
			const char *text = copy + start + 1;
			size_t len = i - start - 1;
			turns[n] =
			    (struct event_turn){ (enum event_role)((unsigned char)copy[start] % 4),
				                 text, len, NULL };
			utf8 = utf8 && text_utf8_valid(text, len);
			n++;
		}
		start = i + 1;
	}
	if (n == 0) {
		free(copy);
		return 0;
	}
	static const char agent[] = "{\"name\":\"Sam\"}";
	call.call_id = "CAfuzz";
	call.user_id = "9495551234";
	call.turns = turns;
	call.nturns = n;
	if (data[0] & 1)
		call.agent = (struct event_json){ agent, sizeof(agent) - 1 };
	struct proc_result r;
	char err[128];
	if (proc_run(fuzz_lx, &call, &r, err, sizeof(err)) != 0)
		abort();
	fuzz_check(&r, utf8);
	fuzz_check_facts(facts_from_call(&call, r.key_variables), utf8);
	proc_result_release(&r);
	float v[PROC_EMBED_DIM];
	proc_embed_text(copy, size, v);
	free(copy);
	return 0;
}
