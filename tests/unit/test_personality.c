/*
 * Unit tests for the built-in personality scorer (calls/personality.c): every fixture in
 * tests/fixtures/personality/ against its .expect.json (the expected direction of the
 * relevant scores, with the exact list of known misses), then focused tests: short callers
 * stay near 50 with low confidence, confidence grows with text, only the caller's turns
 * count, negation, clamping, and the per-call CPU time of a 5,000-word transcript.
 *
 *   AIMEM_PERS_REPORT=1 build/tests/run-unit personality_fixtures   every score
 *   AIMEM_PERS_BENCH=1  build/tests/run-unit personality_bench      microseconds per call
 */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "file.h"
#include "personality.h"
#include "personality_model.h"
#include "proc.h"
#include "unit.h"

#define LEXDIR "workers/lexicons"
#define FIXDIR "tests/fixtures/personality"

/* "fixture:score:level" expectations the scorer misses today. The fixture test fails on any
 * other miss and on any of these that starts passing: update the list either way. */
static const char *const pers_known_misses[] = {
	NULL,
};

static struct proc_lexicons *pers_lexicons(void)
{
	char err[512];
	struct proc_lexicons *lx = proc_lexicons_load(LEXDIR, err, sizeof(err));
	if (lx == NULL)
		unit_fail(__FILE__, __LINE__, "lexicons: %s", err);
	UNIT_REQUIRE(lx != NULL);
	return lx;
}

/* ---- a call from (role, text) pairs: 'u' user, 'a' assistant, 's' system ---- */

struct pers_call {
	struct event_call call;
	struct event_turn turns[16];
};

static void pers_call_init(struct pers_call *pc, const char *roles, const char *const *texts)
{
	memset(pc, 0, sizeof(*pc));
	size_t n = strlen(roles);
	for (size_t i = 0; i < n && i < 16; i++) {
		enum event_role r = roles[i] == 'u'   ? EVENT_ROLE_USER
		                    : roles[i] == 'a' ? EVENT_ROLE_ASSISTANT
		                                      : EVENT_ROLE_SYSTEM;
		pc->turns[i] = (struct event_turn){ r, texts[i], strlen(texts[i]), NULL };
	}
	pc->call.call_id = "CAtest";
	pc->call.user_id = "9495551234";
	pc->call.turns = pc->turns;
	pc->call.nturns = n;
}

static struct personality_result pers_run(const struct proc_lexicons *lx, const char *roles,
                                          const char *const *texts)
{
	struct pers_call pc;
	struct personality_result r;
	char err[256];
	pers_call_init(&pc, roles, texts);
	int rc = personality_score(lx, &pc.call, &r, err, sizeof(err));
	CHECK_INT(rc, 0);
	return r;
}

static int pers_index(const char *name)
{
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		if (strcmp(personality_score_names[s], name) == 0)
			return s;
	return -1;
}

/* The levels an .expect.json may ask for. */
static bool pers_level_ok(const char *level, double v, bool *known)
{
	*known = true;
	if (strcmp(level, "high") == 0)
		return v >= 60;
	if (strcmp(level, "low") == 0)
		return v <= 40;
	if (strcmp(level, "above") == 0)
		return v > 52;
	if (strcmp(level, "below") == 0)
		return v < 48;
	if (strcmp(level, "neutral") == 0)
		return v >= 42 && v <= 58;
	*known = false;
	return false;
}

static bool pers_conf_ok(const char *level, double c, bool *known)
{
	*known = true;
	if (strcmp(level, "low") == 0)
		return c < 0.25;
	if (strcmp(level, "high") == 0)
		return c >= 0.6;
	*known = false;
	return false;
}

struct pers_tally {
	unsigned checked, met;
	struct buf misses; /* "fixture:score:level\n" */
};

static void pers_check_fixture(const struct personality_result *r, const json_t *exp,
                               const char *fx, struct pers_tally *t)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)exp, key, v)
	{
		const char *level = json_string_value(v);
		bool known = false, ok;
		if (level == NULL) {
			unit_fail(__FILE__, __LINE__, "%s: %s: level must be a string", fx, key);
			continue;
		}
		if (strcmp(key, "confidence") == 0) {
			ok = pers_conf_ok(level, r->confidence, &known);
		} else {
			int s = pers_index(key);
			if (s < 0) {
				unit_fail(__FILE__, __LINE__, "%s: unknown score %s", fx, key);
				continue;
			}
			ok = pers_level_ok(level, r->score[s], &known);
		}
		if (!known) {
			unit_fail(__FILE__, __LINE__, "%s: unknown level %s", fx, level);
			continue;
		}
		t->checked++;
		t->met += ok;
		if (!ok)
			buf_appendf(&t->misses, "%s:%s:%s\n", fx, key, level);
	}
}

static void pers_report(const char *fx, const struct personality_result *r)
{
	fprintf(stderr, "%-40s conf %.3f words %zu\n ", fx, r->confidence, r->caller_words);
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		fprintf(stderr, " %.4s=%.0f", personality_score_names[s], r->score[s]);
	fprintf(stderr, "\n");
}

static bool pers_run_fixture(const struct proc_lexicons *lx, const char *expect_path,
                             struct pers_tally *t)
{
	char path[512], fx[128], err[512];
	size_t n = strlen(expect_path) - strlen(".expect.json");
	snprintf(path, sizeof(path), "%.*s.json", (int)n, expect_path);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(fx, sizeof(fx), "%.*s", (int)(strlen(base) - 5), base);
	size_t len;
	char *data = file_read(path, 2u << 20, &len, err, sizeof(err));
	json_t *exp = json_load_file(expect_path, 0, NULL);
	struct event ev;
	if (data == NULL || exp == NULL ||
	    event_decode(data, len, "7", 1, NULL, &ev, err, sizeof(err)) != EVENT_OK) {
		unit_fail(__FILE__, __LINE__, "%s: cannot load: %s", fx, err);
		free(data);
		json_decref(exp);
		return false;
	}
	struct personality_result r, again;
	UNIT_REQUIRE(personality_score(lx, &ev.call, &r, err, sizeof(err)) == 0);
	UNIT_REQUIRE(personality_score(lx, &ev.call, &again, err, sizeof(err)) == 0);
	if (memcmp(&r, &again, sizeof(r)) != 0)
		unit_fail(__FILE__, __LINE__, "%s: not deterministic", fx);
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		if (!(r.score[s] >= 0 && r.score[s] <= 100))
			unit_fail(__FILE__, __LINE__, "%s: %s out of range", fx,
			          personality_score_names[s]);
	if (!(r.confidence >= 0 && r.confidence <= 0.95))
		unit_fail(__FILE__, __LINE__, "%s: confidence out of range", fx);
	pers_check_fixture(&r, exp, fx, t);
	if (getenv("AIMEM_PERS_REPORT"))
		pers_report(fx, &r);
	event_release(&ev);
	json_decref(exp);
	free(data);
	return true;
}

static void pers_compare_misses(const struct pers_tally *t)
{
	const char *all = buf_str(&t->misses);
	for (const char *p = all; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		bool listed = false;
		for (size_t i = 0; pers_known_misses[i]; i++)
			listed = listed || (strlen(pers_known_misses[i]) == n &&
			                    memcmp(pers_known_misses[i], p, n) == 0);
		if (!listed)
			unit_fail(__FILE__, __LINE__, "new miss: \"%.*s\"", (int)n, p);
		p = nl + 1;
	}
	for (size_t i = 0; pers_known_misses[i]; i++) {
		char line[300];
		snprintf(line, sizeof(line), "%s\n", pers_known_misses[i]);
		if (strstr(all, line) == NULL)
			unit_fail(__FILE__, __LINE__,
			          "now met, remove from the known misses: \"%s\"",
			          pers_known_misses[i]);
	}
}

UNIT_TEST(personality_fixtures)
{
	struct proc_lexicons *lx = pers_lexicons();
	glob_t g;
	UNIT_REQUIRE(glob(FIXDIR "/*.expect.json", 0, NULL, &g) == 0);
	CHECK(g.gl_pathc >= 30);
	struct pers_tally t = { 0, 0, BUF_INIT };
	for (size_t i = 0; i < g.gl_pathc; i++)
		pers_run_fixture(lx, g.gl_pathv[i], &t);
	if (getenv("AIMEM_PERS_REPORT"))
		fprintf(stderr, "personality fixtures: %u/%u expectations met\n%s", t.met,
		        t.checked, buf_str(&t.misses));
	CHECK(t.checked >= 100);
	CHECK(t.met * 10 >= t.checked * 9); /* 90% overall, whatever the known misses */
	pers_compare_misses(&t);
	buf_free(&t.misses);
	globfree(&g);
	proc_lexicons_free(&lx);
}

/* ---- focused tests ---- */

UNIT_TEST(personality_short_caller_is_neutral)
{
	struct proc_lexicons *lx = pers_lexicons();
	static const char *const two[] = { "Peterson Insurance, this is Sam.", "Hi, yes." };
	struct personality_result r = pers_run(lx, "au", two);
	CHECK(r.confidence < 0.05);
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		if (fabs(r.score[s] - 50) > 8)
			unit_fail(__FILE__, __LINE__, "%s = %.1f for a two-word caller",
			          personality_score_names[s], r.score[s]);
	/* even strong cues barely move a two-word caller */
	static const char *const angry[] = { "Hello?", "Ridiculous. Unacceptable." };
	r = pers_run(lx, "au", angry);
	CHECK(r.score[PERSONALITY_FRUSTRATION_LEVEL] > 50);
	CHECK(r.score[PERSONALITY_FRUSTRATION_LEVEL] < 70);
	CHECK(r.confidence < 0.05);
	/* no caller words at all: 50s and zero confidence */
	static const char *const none[] = { "Hello? Anyone there? I'm so sorry, urgent!" };
	r = pers_run(lx, "a", none);
	CHECK(r.confidence == 0);
	CHECK(r.caller_words == 0);
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		CHECK(r.score[s] == 50);
	proc_lexicons_free(&lx);
}

UNIT_TEST(personality_confidence_grows_with_text)
{
	struct proc_lexicons *lx = pers_lexicons();
	struct buf b = BUF_INIT;
	double last = -1;
	for (int n = 1; n <= 64; n *= 2) {
		buf_reset(&b);
		for (int i = 0; i < n; i++)
			buf_append_str(&b, "I have a question about the bill for the car. ");
		const char *texts[] = { "Hello.", buf_str(&b) };
		struct personality_result r = pers_run(lx, "au", texts);
		CHECK(r.confidence > last);
		last = r.confidence;
	}
	CHECK(last >= 0.9 && last <= 0.95);
	buf_free(&b);
	proc_lexicons_free(&lx);
}

UNIT_TEST(personality_only_caller_turns)
{
	struct proc_lexicons *lx = pers_lexicons();
	static const char *const base[] = { "Hello.", "I'd like to check my balance please.",
		                            "It is $48.", "Okay, thank you." };
	static const char *const loud[] = {
		"URGENT! This is ridiculous, you people are incompetent, I'm so worried!",
		"I'd like to check my balance please.",
		"System note: caller is FURIOUS, asap, emergency, lawyer.", "Okay, thank you."
	};
	struct personality_result a = pers_run(lx, "auau", base);
	struct personality_result b = pers_run(lx, "ausu", loud);
	for (int s = 0; s < PERSONALITY_NSCORES; s++)
		if (a.score[s] != b.score[s])
			unit_fail(__FILE__, __LINE__, "%s moved with agent/system text",
			          personality_score_names[s]);
	CHECK(a.confidence == b.confidence);
	proc_lexicons_free(&lx);
}

UNIT_TEST(personality_negation)
{
	struct proc_lexicons *lx = pers_lexicons();
	static const char *const worried[] = {
		"Hi.", "I'm worried about my claim and I'm nervous about the repair bill coming up."
	};
	static const char *const fine[] = {
		"Hi.",
		"I'm not worried about my claim and I'm not nervous about the repair bill coming."
	};
	static const char *const urgent[] = {
		"Hi.", "It is urgent, I need the card today, it is an emergency for the loan."
	};
	static const char *const relaxed[] = {
		"Hi.", "It isn't urgent, I don't need the card today, it's not an emergency at all."
	};
	struct personality_result w = pers_run(lx, "au", worried), f = pers_run(lx, "au", fine);
	CHECK(w.score[PERSONALITY_NEUROTICISM] > 58);
	CHECK(f.score[PERSONALITY_NEUROTICISM] < 50);
	struct personality_result u = pers_run(lx, "au", urgent), r = pers_run(lx, "au", relaxed);
	CHECK(u.score[PERSONALITY_URGENCY_LEVEL] > 65);
	CHECK(r.score[PERSONALITY_URGENCY_LEVEL] < 45);
	proc_lexicons_free(&lx);
}

UNIT_TEST(personality_clamp_and_arguments)
{
	CHECK(personality_clamp_score(-3) == 0);
	CHECK(personality_clamp_score(250) == 100);
	CHECK(personality_clamp_score(NAN) == 50);
	CHECK(personality_clamp_score(62.345) == 62.3);
	CHECK(personality_clamp_confidence(1.7) == 1);
	CHECK(personality_clamp_confidence(-0.1) == 0);
	CHECK(personality_clamp_confidence(NAN) == 0);
	CHECK(personality_clamp_confidence(0.12345) == 0.123);
	CHECK_STR(personality_score_names[PERSONALITY_OPENNESS], "openness");
	CHECK_STR(personality_score_names[PERSONALITY_URGENCY_LEVEL], "urgency_level");
	struct proc_lexicons *lx = pers_lexicons();
	struct personality_result r;
	struct event_call empty;
	char err[128];
	memset(&empty, 0, sizeof(empty));
	CHECK_INT(personality_score(lx, &empty, &r, err, sizeof(err)), -1);
	CHECK_INT(personality_score(NULL, &empty, &r, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "no turns");
	proc_lexicons_free(&lx);
}

UNIT_TEST(personality_model_answers)
{
	static const struct {
		const char *answer;
		int rc;
		double openness, formality, confidence;
		const char *rationale;
	} cases[] = {
		{ "{\"openness\": 70, \"conscientiousness\": 1, \"extraversion\": 2, "
		  "\"agreeableness\": 3, \"neuroticism\": 4, \"formality\": 80.26, "
		  "\"directness\": 5, \"detail_orientation\": 6, \"patience\": 7, "
		  "\"technical_comfort\": 8, \"frustration_level\": 9, \"satisfaction_level\": 10, "
		  "\"urgency_level\": 11, \"confidence\": 0.8, \"rationale\": \" ok\\nfine \"}",
		  0, 70, 80.3, 0.8, "ok fine" },
		/* clamped, numeric strings, missing confidence takes the default, a few missing */
		{ "```json\n{\"scores\": {\"openness\": 170, \"formality\": \"-3\", "
		  "\"conscientiousness\": 1, \"extraversion\": 2, \"agreeableness\": 3, "
		  "\"neuroticism\": 4, \"directness\": 5, \"detail_orientation\": 6, "
		  "\"patience\": 7, \"technical_comfort\": 8}}\n```",
		  0, 100, 0, 0.25, "" },
		{ "{\"openness\": 70, \"formality\": 60}", -1, 0, 0, 0, "" }, /* 11 missing */
		{ "I can't do that.", -1, 0, 0, 0, "" },
		{ "[1, 2, 3]", -1, 0, 0, 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct personality_result r;
		char rationale[64], err[200];
		int rc = personality_model_parse(cases[i].answer, strlen(cases[i].answer), 0.25, &r,
		                                 rationale, sizeof(rationale), err, sizeof(err));
		CHECK_INT(rc, cases[i].rc);
		if (rc != 0)
			continue;
		CHECK(fabs(r.score[PERSONALITY_OPENNESS] - cases[i].openness) < 1e-9);
		CHECK(fabs(r.score[PERSONALITY_FORMALITY] - cases[i].formality) < 1e-9);
		CHECK(fabs(r.confidence - cases[i].confidence) < 1e-9);
		CHECK_STR(rationale, cases[i].rationale);
		if (i == 1) /* frustration/satisfaction/urgency were missing: 50 */
			CHECK(r.score[PERSONALITY_URGENCY_LEVEL] == 50);
	}
}

static double pers_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double pers_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* A 5,000-word caller transcript (100 caller turns of 50 words, agent turns between). */
static void pers_big_call(struct event_call *call, struct event_turn *turns, struct buf *text)
{
	static const char *const sentence =
	    "Well I was wondering exactly how the deductible works because my premium went up "
	    "again and honestly that is frustrating, could you please break it down for me? ";
	for (int i = 0; i < 4; i++)
		buf_append_str(text, sentence); /* 4 x ~25 words, cut below to 50 words a turn */
	memset(call, 0, sizeof(*call));
	for (size_t t = 0; t < 200; t++) {
		bool caller = t % 2 == 1;
		const char *s = caller ? buf_str(text) : "Let me check that for you.";
		size_t len = strlen(s);
		if (caller) { /* exactly 50 words */
			size_t words = 0, i = 0;
			for (; i < len && words < 50; i++)
				words += s[i] == ' ';
			len = i;
		}
		turns[t] = (struct event_turn){ caller ? EVENT_ROLE_USER : EVENT_ROLE_ASSISTANT, s,
			                        len, NULL };
	}
	call->call_id = "CAbig";
	call->user_id = "1";
	call->turns = turns;
	call->nturns = 200;
}

UNIT_TEST(personality_bench)
{
	struct proc_lexicons *lx = pers_lexicons();
	struct event_turn *turns = calloc(200, sizeof(*turns));
	struct event_call call;
	struct buf text = BUF_INIT;
	pers_big_call(&call, turns, &text);
	struct personality_result r;
	char err[128];
	UNIT_REQUIRE(personality_score(lx, &call, &r, err, sizeof(err)) == 0);
	CHECK(r.caller_words >= 4900 && r.caller_words <= 5100);
	CHECK(r.confidence >= 0.9);
	/* its speed is printed on request (AIMEM_PERS_BENCH=1), never asserted: no timed unit tests */
	if (getenv("AIMEM_PERS_BENCH")) {
		int iters = 200;
		double w0 = pers_now_us(), c0 = pers_cpu_us();
		for (int i = 0; i < iters; i++)
			UNIT_REQUIRE(personality_score(lx, &call, &r, err, sizeof(err)) == 0);
		double wall = (pers_now_us() - w0) / iters, cpu = (pers_cpu_us() - c0) / iters;
		printf("personality_score: %zu caller words: %.0f us CPU per call (%.0f us wall)\n",
		       r.caller_words, cpu, wall);
	}
	buf_free(&text);
	free(turns);
	proc_lexicons_free(&lx);
}
