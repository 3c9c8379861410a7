/*
 * Unit tests for lib/text and the built-in processors (calls/proc*.c): every fixture in
 * tests/fixtures/transcripts/ against its .expect.json (with the exact list of known misses,
 * so regressions and improvements both show), then focused tests per heuristic, the
 * embedder, lexicon loading errors, thread safety and the work bound on a 1 MiB event.
 *
 *   AIMEM_PROC_REPORT=1 build/tests/run-unit proc_fixtures   per-heuristic accuracy
 *   AIMEM_PROC_BENCH=1  build/tests/run-unit proc_bench      microseconds per call
 */
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "proc.h"
#include "proc_tenant.h"
#include "text.h"
#include "unit.h"

#define LEXDIR "workers/lexicons"
#define FIXDIR "tests/fixtures/transcripts"

/* Expectations the heuristics miss today, as "fixture:check:detail". The fixture test fails
 * on any other miss and on any of these that starts passing: update the list either way. */
static const char *const proc_known_misses[] = {
	/* mixed calls: a complaint that ends in thanks, a shaken but calm caller */
	"01_billing_increase_named:sentiment:positive",
	"02_auto_claim_rear_ended:sentiment:neutral",
	/* "Okay, good. Thank you." from a stranded caller reads as positive */
	"08_roadside_flat_no_name:sentiment:neutral",
	/* "the square footage is definitely wrong" is about a record, not the service */
	"11_callback_underwriting:sentiment:positive",
	/* held out (written after the heuristics were tuned, never tuned on): */
	"39_holdout_premium_question_no_name:sentiment:neutral",   /* "makes sense, thanks" */
	"40_holdout_spouse_adds_name_later:topics:policy_change",  /* "add our daughter" */
	"41_holdout_escalation_refused_refund:sentiment:negative", /* "Unbelievable." alone */
	"42_holdout_tow_spanish_short:resolution:resolved",        /* few Spanish cues */
	NULL,
};

static double proc_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static struct proc_lexicons *proc_test_lexicons(void)
{
	char err[512];
	struct proc_lexicons *lx = proc_lexicons_load(LEXDIR, err, sizeof(err));
	if (lx == NULL)
		unit_fail(__FILE__, __LINE__, "lexicons: %s", err);
	UNIT_REQUIRE(lx != NULL);
	return lx;
}

/* ---- a call built from (role, text) pairs ---- */

struct proc_test_call {
	struct event_call call;
	struct event_turn turns[64];
};

/* roles: 'u' user, 'a' assistant, 's' system, 't' tool; one per text */
static void proc_call_init(struct proc_test_call *tc, const char *roles, const char *const *texts)
{
	memset(tc, 0, sizeof(*tc));
	size_t n = strlen(roles);
	for (size_t i = 0; i < n && i < 64; i++) {
		enum event_role r = roles[i] == 'u'   ? EVENT_ROLE_USER
		                    : roles[i] == 'a' ? EVENT_ROLE_ASSISTANT
		                    : roles[i] == 's' ? EVENT_ROLE_SYSTEM
		                                      : EVENT_ROLE_TOOL;
		tc->turns[i] = (struct event_turn){ r, texts[i], strlen(texts[i]), NULL };
	}
	tc->call.call_id = "CAtest";
	tc->call.user_id = "9495551234";
	tc->call.turns = tc->turns;
	tc->call.nturns = n;
}

static void proc_run_texts(const struct proc_lexicons *lx, const char *roles,
                           const char *const *texts, struct proc_result *r)
{
	struct proc_test_call tc;
	char err[256];
	proc_call_init(&tc, roles, texts);
	int rc = proc_run(lx, &tc.call, r, err, sizeof(err));
	CHECK_INT(rc, 0);
}

/* True when the JSON array key of obj holds the string want. */
static bool proc_json_has(const json_t *obj, const char *key, const char *want)
{
	json_t *arr = key ? json_object_get(obj, key) : (json_t *)obj;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (s && strcmp(s, want) == 0)
			return true;
	}
	return false;
}

/* ---- fixtures ---- */

enum proc_check_kind {
	PC_NAME,
	PC_TOPIC,
	PC_SENTIMENT,
	PC_RESOLUTION,
	PC_VARIABLE,
	PC_SUMMARY,
	PC_N
};
static const char *const proc_check_names[PC_N] = { "caller_name", "topics",    "sentiment",
	                                            "resolution",  "variables", "summary" };

struct proc_tally {
	unsigned checked[PC_N], met[PC_N];
	unsigned hchecked[PC_N], hmet[PC_N]; /* the held-out fixtures (NN_holdout_*) alone */
	char misses[8192];
	size_t mlen;
};

static void proc_tally(struct proc_tally *t, enum proc_check_kind k, bool ok, const char *fixture,
                       const char *detail)
{
	bool held_out = strstr(fixture, "_holdout_") != NULL;
	t->checked[k]++;
	t->hchecked[k] += held_out;
	if (ok) {
		t->met[k]++;
		t->hmet[k] += held_out;
		return;
	}
	int n = snprintf(t->misses + t->mlen, sizeof(t->misses) - t->mlen, "%s:%s:%s\n", fixture,
	                 proc_check_names[k], detail);
	if (n > 0 && t->mlen + (size_t)n < sizeof(t->misses))
		t->mlen += (size_t)n;
}

static bool proc_icontains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

/* Properties every result has, whatever the call. */
static void proc_check_invariants(const struct proc_result *r, const struct event_call *call,
                                  const char *label)
{
	static const char *const sentiments[] = { "positive", "neutral", "negative", "frustrated" };
	static const char *const resolutions[] = { "resolved",  "unresolved",  "escalated",
		                                   "follow_up", "transferred", "unknown" };
	bool s_ok = false, r_ok = false;
	for (size_t i = 0; i < 4; i++)
		s_ok = s_ok || (r->sentiment && strcmp(r->sentiment, sentiments[i]) == 0);
	for (size_t i = 0; i < 6; i++)
		r_ok = r_ok || (r->resolution && strcmp(r->resolution, resolutions[i]) == 0);
	if (!s_ok || !r_ok || r->summary == NULL || r->summary[0] == '\0' ||
	    strlen(r->summary) > PROC_SUMMARY_MAX ||
	    !text_utf8_valid(r->summary, strlen(r->summary)) || !json_is_array(r->key_topics) ||
	    json_array_size(r->key_topics) > 5 || !json_is_object(r->key_variables) ||
	    r->sentiment_score < -1 || r->sentiment_score > 1)
		unit_fail(__FILE__, __LINE__, "%s: result breaks an invariant", label);
	double norm = 0;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++)
		norm += (double)r->embedding[i] * r->embedding[i];
	if (fabs(norm - 1.0) > 1e-4)
		unit_fail(__FILE__, __LINE__, "%s: embedding norm^2 %f", label, norm);
	/* never the raw transcript truncated: whole sentences (rewritten) may be quoted, but the
	 * summary is not a turn's text cut short */
	size_t slen = strlen(r->summary);
	for (size_t t = 0; t < call->nturns; t++)
		if (slen > 40 && call->turns[t].text_len > slen &&
		    strncmp(r->summary, call->turns[t].text, slen - 1) == 0)
			unit_fail(__FILE__, __LINE__, "%s: summary is a transcript prefix", label);
}

static void proc_check_fixture(const struct proc_result *r, const json_t *exp, const char *fx,
                               struct proc_tally *t)
{
	char detail[256];
	const json_t *name = json_object_get(exp, "caller_name");
	if (name) {
		const char *want = json_string_value(name);
		bool ok = want ? (r->caller_name && strcmp(r->caller_name, want) == 0)
		               : r->caller_name == NULL;
		snprintf(detail, sizeof(detail), "%s", want ? want : "null");
		proc_tally(t, PC_NAME, ok, fx, detail);
	}
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(exp, "topics_include"), i, v)
	{
		proc_tally(t, PC_TOPIC, proc_json_has(r->key_topics, NULL, json_string_value(v)),
		           fx, json_string_value(v));
	}
	const char *s = json_string_value(json_object_get(exp, "sentiment"));
	if (s)
		proc_tally(t, PC_SENTIMENT, strcmp(r->sentiment, s) == 0, fx, s);
	s = json_string_value(json_object_get(exp, "resolution"));
	if (s)
		proc_tally(t, PC_RESOLUTION, strcmp(r->resolution, s) == 0, fx, s);
	const char *key;
	const json_t *vals;
	json_object_foreach((json_t *)json_object_get(exp, "variables_include"), key, vals)
	{
		json_array_foreach(vals, i, v)
		{
			snprintf(detail, sizeof(detail), "%s=%s", key, json_string_value(v));
			proc_tally(t, PC_VARIABLE,
			           proc_json_has(r->key_variables, key, json_string_value(v)), fx,
			           detail);
		}
	}
	json_array_foreach(json_object_get(exp, "summary_mentions"), i, v)
	{
		proc_tally(t, PC_SUMMARY, proc_icontains(r->summary, json_string_value(v)), fx,
		           json_string_value(v));
	}
}

/* Runs one fixture file; false when it could not be read or decoded. */
static bool proc_run_fixture(const struct proc_lexicons *lx, const char *expect_path,
                             struct proc_tally *t)
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
	struct proc_result r, again;
	UNIT_REQUIRE(proc_run(lx, &ev.call, &r, err, sizeof(err)) == 0);
	UNIT_REQUIRE(proc_run(lx, &ev.call, &again, err, sizeof(err)) == 0);
	proc_check_invariants(&r, &ev.call, fx);
	if (strcmp(r.summary, again.summary) != 0 ||
	    memcmp(r.embedding, again.embedding, sizeof(r.embedding)) != 0 ||
	    !json_equal(r.key_variables, again.key_variables))
		unit_fail(__FILE__, __LINE__, "%s: not deterministic", fx);
	proc_check_fixture(&r, exp, fx, t);
	if (getenv("AIMEM_PROC_REPORT")) {
		char *tp = json_dumps(r.key_topics, JSON_COMPACT);
		char *kv = json_dumps(r.key_variables, JSON_COMPACT);
		fprintf(stderr, "%s\n  %s | %s (%.2f) | %s | %s\n  %s\n  %s\n", fx,
		        r.caller_name ? r.caller_name : "-", r.sentiment, r.sentiment_score,
		        r.resolution, tp, kv, r.summary);
		free(tp);
		free(kv);
	}
	proc_result_release(&r);
	proc_result_release(&again);
	event_release(&ev);
	json_decref(exp);
	free(data);
	return true;
}

/* Compares the misses (one per line) with proc_known_misses, both ways. */
static void proc_compare_misses(const struct proc_tally *t)
{
	size_t known = 0;
	while (proc_known_misses[known])
		known++;
	const char *p = t->misses;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		bool listed = false;
		for (size_t i = 0; i < known; i++)
			listed = listed || (strlen(proc_known_misses[i]) == n &&
			                    memcmp(proc_known_misses[i], p, n) == 0);
		if (!listed)
			unit_fail(__FILE__, __LINE__, "new miss: \"%.*s\"", (int)n, p);
		p = nl + 1;
	}
	for (size_t i = 0; i < known; i++) {
		char line[300];
		snprintf(line, sizeof(line), "%s\n", proc_known_misses[i]);
		bool missed =
		    strncmp(t->misses, line, strlen(line)) == 0 || strstr(t->misses, line);
		if (!missed)
			unit_fail(__FILE__, __LINE__,
			          "now met, remove from the known misses: \"%s\"",
			          proc_known_misses[i]);
	}
}

UNIT_TEST(proc_fixtures)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	glob_t g;
	UNIT_REQUIRE(glob(FIXDIR "/*.expect.json", 0, NULL, &g) == 0);
	CHECK(g.gl_pathc >= 30);
	struct proc_tally *t = calloc(1, sizeof(*t));
	UNIT_REQUIRE(t != NULL);
	for (size_t i = 0; i < g.gl_pathc; i++)
		(void)proc_run_fixture(lx, g.gl_pathv[i], t);
	unsigned checked = 0, met = 0, hchecked = 0, hmet = 0;
	bool report = getenv("AIMEM_PROC_REPORT") != NULL;
	if (report)
		fprintf(stderr, "%-12s %-18s %s\n", "", "all fixtures", "held out");
	for (size_t k = 0; k < PC_N; k++) {
		checked += t->checked[k], met += t->met[k];
		hchecked += t->hchecked[k], hmet += t->hmet[k];
		if (report)
			fprintf(stderr, "%-12s %3u/%3u %5.1f%%   %2u/%2u\n", proc_check_names[k],
			        t->met[k], t->checked[k],
			        t->checked[k] ? 100.0 * t->met[k] / t->checked[k] : 0, t->hmet[k],
			        t->hchecked[k]);
	}
	if (report)
		fprintf(stderr,
		        "all          %3u/%3u %5.1f%%   %2u/%2u over %zu fixtures\nmisses:\n%s",
		        met, checked, 100.0 * met / checked, hmet, hchecked, g.gl_pathc, t->misses);
	CHECK(met * 10 >= checked * 9); /* at least 90% */
	proc_compare_misses(t);
	free(t);
	globfree(&g);
	proc_lexicons_free(&lx);
}

/* ---- lib/text ---- */

static void proc_expect_sentences(const char *text, const char *const *want, size_t nwant)
{
	size_t pos = 0, n = 0;
	struct text_span sp;
	while (text_next_sentence(text, strlen(text), &pos, &sp)) {
		if (n < nwant &&
		    (strlen(want[n]) != sp.len || memcmp(want[n], text + sp.off, sp.len)))
			unit_fail(__FILE__, __LINE__, "sentence %zu is \"%.*s\", expected \"%s\"",
			          n, (int)sp.len, text + sp.off, want[n]);
		n++;
	}
	if (n != nwant)
		unit_fail(__FILE__, __LINE__, "\"%s\": %zu sentences, expected %zu", text, n,
		          nwant);
}

UNIT_TEST(proc_text_sentences)
{
	const char *a[] = { "Hi, this is Dr. Reyes.",
		            "My bill is $212.00 and my email is a.b@c.com!", "Is it right?",
		            "Yes." };
	proc_expect_sentences(
	    "  Hi, this is Dr. Reyes. My bill is $212.00 and my email is a.b@c.com! "
	    "Is it right?   Yes.",
	    a, 4);
	const char *b[] = { "Call me at 10 a.m. tomorrow, or at 949.555.1234.", "Thanks" };
	proc_expect_sentences("Call me at 10 a.m. tomorrow, or at 949.555.1234.\nThanks", b, 2);
	const char *c[] = { "He said \xe2\x80\x9c"
		            "fine.\xe2\x80\x9d",
		            "Then left...", "Nov. 20 works." };
	proc_expect_sentences("He said \xe2\x80\x9c"
	                      "fine.\xe2\x80\x9d Then left... Nov. 20 works.",
	                      c, 3);
	const char *d[] = { "\xc2\xbf"
		            "C\xc3\xb3mo est\xc3\xa1?",
		            "Bien!!" };
	proc_expect_sentences("\xc2\xbf"
	                      "C\xc3\xb3mo est\xc3\xa1? Bien!!",
	                      d, 2);
	proc_expect_sentences(" \n \n ", NULL, 0);
	const char *e[] = { "no punctuation at all" };
	proc_expect_sentences("no punctuation at all", e, 1);
}

UNIT_TEST(proc_text_words)
{
	const char *s = "Don\xe2\x80\x99t call O'Brien at 949-555-1234, OK? \xc2\xbf"
	                "C\xc3\xb3mo? "
	                "Kelly's F-150 \xf0\x9f\x98\x80 caf\xc3\xa9";
	struct {
		const char *w;
		unsigned flags;
	} want[] = {
		{ "Don\xe2\x80\x99t", TEXT_W_CAP | TEXT_W_NT },
		{ "call", 0 },
		{ "O'Brien", TEXT_W_CAP },
		{ "at", 0 },
		{ "949", TEXT_W_DIGIT | TEXT_W_NUMBER },
		{ "555", TEXT_W_DIGIT | TEXT_W_NUMBER },
		{ "1234", TEXT_W_DIGIT | TEXT_W_NUMBER },
		{ "OK", TEXT_W_CAP | TEXT_W_UPPER | TEXT_W_BREAK },
		{ "C\xc3\xb3mo", TEXT_W_CAP | TEXT_W_BREAK },
		{ "Kelly's", TEXT_W_CAP | TEXT_W_POSS | TEXT_W_BREAK },
		{ "F", TEXT_W_CAP },
		{ "150", TEXT_W_DIGIT | TEXT_W_NUMBER },
		{ "caf\xc3\xa9", 0 },
	};
	size_t pos = 0, n = 0;
	struct text_word w;
	while (text_next_word(s, strlen(s), &pos, &w)) {
		UNIT_REQUIRE(n < sizeof(want) / sizeof(want[0]));
		if (strlen(want[n].w) != w.len || memcmp(want[n].w, s + w.off, w.len) != 0 ||
		    w.flags != want[n].flags)
			unit_fail(__FILE__, __LINE__,
			          "word %zu is \"%.*s\" flags %#x, expected \"%s\" %#x", n,
			          (int)w.len, s + w.off, w.flags, want[n].w, want[n].flags);
		n++;
	}
	CHECK_INT(n, sizeof(want) / sizeof(want[0]));
	/* invalid bytes separate words and never stop the iterator */
	const char *bad = "ab\xff\xfe"
	                  "cd\xc3";
	pos = n = 0;
	while (text_next_word(bad, strlen(bad), &pos, &w))
		n++;
	CHECK_INT(n, 2);
}

UNIT_TEST(proc_text_hash_fold)
{
	uint64_t stem, h;
	h = text_word_hash("Bills", 5, &stem);
	CHECK(stem == text_word_hash("bill", 4, NULL));
	CHECK(h == text_word_hash("BILLS", 5, NULL));
	text_word_hash("policies", 8, &stem);
	CHECK(stem == text_word_hash("policy", 6, NULL));
	text_word_hash("Kelly's", 7, &stem);
	CHECK(stem == text_word_hash("kelly", 5, NULL));
	h = text_word_hash("class", 5, &stem);
	CHECK(stem == h);
	h = text_word_hash("bus", 3, &stem);
	CHECK(stem == h);
	CHECK(text_word_hash("don\xe2\x80\x99t", 7, NULL) == text_word_hash("don't", 5, NULL));
	CHECK(text_ieq("HeLLo", 5, "hello"));
	CHECK(!text_ieq("hell", 4, "hello"));
	CHECK(!text_ieq("hello!", 6, "hello"));
	CHECK(text_lower('Q') == 'q' && text_lower('1') == '1' &&
	      text_lower((char)0xc3) == (char)0xc3);
}

UNIT_TEST(proc_text_utf8)
{
	CHECK(text_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
	CHECK(!text_utf8_valid("\xc0\xaf", 2));         /* overlong */
	CHECK(!text_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!text_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	CHECK(!text_utf8_valid("\xe2\x82", 2));         /* truncated */
	CHECK_INT(text_utf8_cut("h\xc3\xa9llo", 6, 2), 1);
	CHECK_INT(text_utf8_cut("h\xc3\xa9llo", 6, 3), 3);
	CHECK_INT(text_utf8_cut("\xf0\x9f\x98\x80!", 5, 3), 0);
	CHECK_INT(text_utf8_cut("abc", 3, 10), 3);
}

/* Writes a file; returns its path in out. */
static void proc_write(const char *dir, const char *name, const char *text, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", dir, name);
	FILE *f = fopen(out, "w");
	UNIT_REQUIRE(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* Removes a flat temporary folder and its files. */
static void proc_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	UNIT_REQUIRE(d != NULL);
	struct dirent *de;
	char path[512];
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CHECK_INT(unlink(path), 0);
	}
	closedir(d);
	CHECK_INT(rmdir(dir), 0);
}

struct proc_lines {
	char all[512];
	unsigned last;
};

static int proc_collect(void *arg, const char *line, size_t len, unsigned lineno, char *err,
                        size_t errlen)
{
	struct proc_lines *pl = arg;
	if (len == 4 && memcmp(line, "FAIL", 4) == 0) {
		snprintf(err, errlen, "told to fail");
		return -1;
	}
	size_t n = strlen(pl->all);
	snprintf(pl->all + n, sizeof(pl->all) - n, "%.*s|", (int)len, line);
	pl->last = lineno;
	return 0;
}

UNIT_TEST(proc_text_list_load)
{
	char dir[] = "/tmp/aimem-proc-XXXXXX", path[256], err[256];
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	struct proc_lines pl;
	memset(&pl, 0, sizeof(pl));
	proc_write(dir, "ok.txt", "# comment\n\n  alpha  \r\nbeta = 2 # trailing\n\t\ngamma", path,
	           sizeof(path));
	CHECK_INT(text_list_load(path, proc_collect, &pl, err, sizeof(err)), 0);
	CHECK_STR(pl.all, "alpha|beta = 2|gamma|");
	CHECK_INT(pl.last, 6);
	proc_write(dir, "bad.txt", "one\ntwo\nth\xffree\n", path, sizeof(path));
	CHECK_INT(text_list_load(path, proc_collect, &pl, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "bad.txt:3: invalid UTF-8");
	proc_write(dir, "fail.txt", "one\n# two\nFAIL\n", path, sizeof(path));
	CHECK_INT(text_list_load(path, proc_collect, &pl, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "fail.txt:3: told to fail");
	snprintf(path, sizeof(path), "%s/missing.txt", dir);
	CHECK_INT(text_list_load(path, proc_collect, &pl, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "missing.txt: cannot open");
	proc_rmdir(dir);
}

/* ---- lexicon loading ---- */

static const char *const proc_lex_files[] = {
	"topics.txt",     "sentiment.txt", "negators.txt", "intensifiers.txt", "frustration.txt",
	"resolution.txt", "summary.txt",   "vehicles.txt", "names.txt",        "personality.txt"
};

/* A copy of the real lexicons in a temporary folder (dir: 64 bytes), with append added to
 * the file called name. */
static void proc_lex_copy(char *dir, const char *name, const char *append)
{
	char err[256], path[512];
	snprintf(dir, 64, "/tmp/aimem-lex-XXXXXX");
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(proc_lex_files) / sizeof(proc_lex_files[0]); i++) {
		size_t len;
		snprintf(path, sizeof(path), LEXDIR "/%s", proc_lex_files[i]);
		char *data = file_read(path, 1 << 20, &len, err, sizeof(err));
		UNIT_REQUIRE(data != NULL);
		struct buf b = BUF_INIT;
		buf_append(&b, data, len);
		if (name && strcmp(name, proc_lex_files[i]) == 0)
			buf_append_str(&b, append);
		proc_write(dir, proc_lex_files[i], buf_str(&b), path, sizeof(path));
		buf_free(&b);
		free(data);
	}
}

UNIT_TEST(proc_lexicons_load_errors)
{
	static const struct {
		const char *file, *append, *want;
	} cases[] = {
		{ "topics.txt", "\n[billing]\nbill\n", "topics.txt:" },
		{ "topics.txt", "\nlots of money = plenty\n", "weight must be a number" },
		{ "topics.txt", "\nbill = 7\n", "weight must be a number from 0 to 5" },
		{ "topics.txt", "\n[Bad-Name]\n", "topic names use a-z and _ only" },
		{ "sentiment.txt", "\nmeh\n", "missing \"= weight\"" },
		{ "sentiment.txt", "\nterrible = -3\n", "duplicate of line" },
		{ "resolution.txt", "\n[agent:maybe]\n", "unknown section" },
		{ "vehicles.txt", "\nyugo = 2\n", "entries take no weight" },
		{ "names.txt", "\n[intro]\nthis, is\n", "punctuation inside a phrase" },
		{ "summary.txt", "\n[request]\none two three four five six seven\n",
		  "more than 6 words" },
		{ "negators.txt", "\n= 1\n", "no words in the entry" },
		{ "frustration.txt", "\n[frustration]\n",
		  "unknown section (frustration.txt has no sections)" },
		{ "personality.txt", "\n[charisma]\n", "unknown section" },
		{ "personality.txt", "\n[polite]\nkindly = 2\n", "duplicate of line" },
	};
	char dir[64], err[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		proc_lex_copy(dir, cases[i].file, cases[i].append);
		struct proc_lexicons *lx = proc_lexicons_load(dir, err, sizeof(err));
		CHECK(lx == NULL);
		CHECK_CONTAINS(err, cases[i].file);
		CHECK_CONTAINS(err, cases[i].want);
		/* errors name the line: "dir/file.txt:NN: ..." */
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "%s/%s:", dir, cases[i].file);
		CHECK_CONTAINS(err, prefix);
		proc_lexicons_free(&lx);
		proc_rmdir(dir);
	}
	proc_lex_copy(dir, NULL, NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/names.txt", dir);
	CHECK_INT(unlink(path), 0);
	struct proc_lexicons *lx = proc_lexicons_load(dir, err, sizeof(err));
	CHECK(lx == NULL);
	CHECK_CONTAINS(err, "names.txt: cannot open");
	proc_rmdir(dir);
	lx = proc_lexicons_load(LEXDIR, err, sizeof(err));
	CHECK(lx != NULL);
	proc_lexicons_free(&lx);
	CHECK(lx == NULL);
	proc_lexicons_free(&lx); /* NULL is fine */
}

/* ---- caller name ---- */

struct proc_name_case {
	const char *roles;
	const char *texts[4];
	const char *agent; /* JSON of the agent object or NULL */
	const char *want;  /* NULL: no name */
};

UNIT_TEST(proc_caller_name)
{
	static const struct proc_name_case cases[] = {
		{ "au",
		  { "Peterson Insurance, this is Sam.",
		    "Hi, this is Kelly Nguyen, my auto bill looks wrong." },
		  NULL,
		  "Kelly Nguyen" },
		{ "u",
		  { "hi my name is jorge ramirez and i need help with my bill" },
		  NULL,
		  "Jorge Ramirez" },
		{ "au",
		  { "Thanks for calling, this is Sam.",
		    "Hi Sam, I have a question about my bill." },
		  NULL,
		  NULL },
		{ "u",
		  { "I'm calling about my wife's claim, her name is Maria Lopez." },
		  NULL,
		  NULL },
		{ "u", { "Hi, this is Kelly's husband. She asked me to call." }, NULL, NULL },
		{ "u", { "My husband David was driving. His name is David Ortiz." }, NULL, NULL },
		{ "aua",
		  { "May I have your name?", "Sure, it's Priya Raman.", "Thanks." },
		  NULL,
		  "Priya Raman" },
		{ "au",
		  { "Who am I speaking with?", "Yes, I'm calling about my policy." },
		  NULL,
		  NULL },
		{ "au", { "What's the name on the policy?", "Maria Lopez, my wife." }, NULL, NULL },
		{ "u", { "Good morning. This is Dr. Alan Reyes." }, NULL, "Alan Reyes" },
		{ "u",
		  { "Good morning, this is Mrs. Patterson calling." },
		  NULL,
		  "Mrs. Patterson" },
		{ "u", { "This is ridiculous. This is the third time." }, NULL, NULL },
		{ "au", { "Hi, I'm Sam.", "This is Sam, hi." }, "{\"name\":\"Sam\"}", NULL },
		{ "uu",
		  { "This is Kelly.", "Sorry, my name is Kelly Nguyen." },
		  NULL,
		  "Kelly Nguyen" },
		{ "u",
		  { "Hola, me llamo Rosa Mart\xc3\xadnez y tuve un accidente." },
		  NULL,
		  "Rosa Mart\xc3\xadnez" },
		{ "u", { "I'm Calling about my bill." }, NULL, NULL },
		{ "a", { "Hi, this is Kelly from Peterson." }, NULL, NULL },
		/* never question words, nationalities, roles, organisations */
		{ "au", { "What's your name?", "What? Sorry, I can't hear you." }, NULL, NULL },
		{ "u", { "Hi. I'm American, I just moved here." }, NULL, NULL },
		{ "u", { "Hello, this is Acme Travel calling about your trip." }, NULL, NULL },
		{ "u", { "Hi, I'm Doctor at the clinic." }, NULL, NULL },
		{ "au", { "Can I have your name?", "Monday works. Why?" }, NULL, NULL },
		/* an all-capitals answer is written as a name */
		{ "au", { "Your name, please?", "BASIL, Basil Grant." }, NULL, "Basil" },
		/* a third speaker's introduction is the agent side's, never the caller's */
		{ "aau",
		  { "This is Dana from billing.", "Hi, I'm Lee, her colleague.", "Okay." },
		  NULL,
		  NULL },
	};
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_test_call tc;
		struct proc_result r;
		char err[256];
		proc_call_init(&tc, cases[i].roles, cases[i].texts);
		if (cases[i].agent)
			tc.call.agent =
			    (struct event_json){ cases[i].agent, strlen(cases[i].agent) };
		UNIT_REQUIRE(proc_run(lx, &tc.call, &r, err, sizeof(err)) == 0);
		bool ok = cases[i].want
		              ? (r.caller_name && strcmp(r.caller_name, cases[i].want) == 0)
		              : r.caller_name == NULL;
		if (!ok)
			unit_fail(__FILE__, __LINE__, "case %zu: name \"%s\", expected \"%s\"", i,
			          r.caller_name ? r.caller_name : "(null)",
			          cases[i].want ? cases[i].want : "(null)");
		json_t *kv = json_object_get(r.key_variables, "caller_name");
		CHECK((kv != NULL) == (cases[i].want != NULL));
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

/* ---- key variables ---- */

struct proc_var_case {
	const char *text;
	const char *key;  /* key_variables list */
	const char *want; /* NULL: the list must be absent */
};

static void proc_var_cases(const struct proc_var_case *cases, size_t n)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < n; i++) {
		const char *texts[1] = { cases[i].text };
		struct proc_result r;
		proc_run_texts(lx, "u", texts, &r);
		bool ok = cases[i].want
		              ? proc_json_has(r.key_variables, cases[i].key, cases[i].want)
		              : json_object_get(r.key_variables, cases[i].key) == NULL;
		if (!ok) {
			char *kv = json_dumps(r.key_variables, JSON_COMPACT);
			unit_fail(__FILE__, __LINE__, "\"%s\": %s lacks %s=%s", cases[i].text, kv,
			          cases[i].key, cases[i].want ? cases[i].want : "(absent)");
			free(kv);
		}
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_vars_phones_emails)
{
	static const struct proc_var_case cases[] = {
		{ "Call me at (949) 555-1234 please.", "phone_numbers", "949-555-1234" },
		{ "It's 949.555.1234.", "phone_numbers", "949-555-1234" },
		{ "Work is +1 714 555 0199, thanks", "phone_numbers", "714-555-0199" },
		{ "Dial 1-800-555-0100 for claims.", "phone_numbers", "800-555-0100" },
		{ "my cell is 9495551234", "phone_numbers", "949-555-1234" },
		{ "my number is 19495551234", "phone_numbers", "949-555-1234" },
		{ "my policy number is 9495551234", "phone_numbers", NULL },
		{ "my policy number is 9495551234", "policy_numbers", "9495551234" },
		{ "the code is 9495551234", "phone_numbers", NULL },
		{ "Call 555-1234 now", "phone_numbers", NULL },
		{ "Call 123-456-7890 now", "phone_numbers", NULL },
		{ "It's 949-555-1234-5 though", "phone_numbers", NULL },
		{ "Email kelly.nguyen@example.com.", "emails", "kelly.nguyen@example.com" },
		{ "It's K.Nguyen@Example.COM", "emails", "k.nguyen@example.com" },
		{ "it's kelly dot nguyen at gmail dot com", "emails", "kelly.nguyen@gmail.com" },
		{ "I'm at home dot depot", "emails", NULL },
		{ "me@localhost and @@@ and a@b.c1", "emails", NULL },
	};
	proc_var_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

UNIT_TEST(proc_vars_ids)
{
	static const struct proc_var_case cases[] = {
		{ "My policy is AP-449120.", "policy_numbers", "AP-449120" },
		{ "It's POL123456", "policy_numbers", "POL123456" },
		{ "policy number is 4491 2033", "policy_numbers", "44912033" },
		{ "my policy number is ap-449120", "policy_numbers", "AP-449120" },
		{ "He's with Coastline, policy number CLA 5529031.", "policy_numbers",
		  "CLA 5529031" },
		{ "Claim CL-2026-88213 was approved", "claim_numbers", "CL-2026-88213" },
		{ "Your claim number is 55120331.", "claim_numbers", "55120331" },
		{ "It's CLM-884213", "claim_numbers", "CLM-884213" },
		{ "The reference is CLM-884213", "claim_numbers", NULL },
		{ "I have HO-7723114 for the house", "policy_numbers", "HO-7723114" },
		{ "VIN 1HGCM82633A004352", "policy_numbers", NULL },
		{ "My F-150 and a CR-V", "policy_numbers", NULL },
		{ "report number 26-118842", "claim_numbers", NULL },
		{ "report number 26-118842", "policy_numbers", NULL },
		{ "ZIP 92618", "policy_numbers", NULL },
		{ "since COVID-19 in 2020", "policy_numbers", NULL },
	};
	proc_var_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

UNIT_TEST(proc_vars_amounts_dates)
{
	static const struct proc_var_case cases[] = {
		{ "It was $212.00 last month", "amounts", "$212.00" },
		{ "about $1,250 total", "amounts", "$1250.00" },
		{ "only $ 40", "amounts", "$40.00" },
		{ "it went up forty dollars", "amounts", "$40.00" },
		{ "two hundred and twelve dollars", "amounts", "$212.00" },
		{ "maybe twenty thousand dollars?", "amounts", "$20000.00" },
		{ "it's 212.50 dollars", "amounts", "$212.50" },
		{ "a hundred bucks", "amounts", "$100.00" },
		{ "worth $5k", "amounts", NULL },
		{ "about 1.234 dollars", "amounts", NULL },
		{ "Due 11/20/2026 please", "dates", "11/20/2026" },
		{ "by 11/20.", "dates", "11/20" },
		{ "on 2026-11-20", "dates", "2026-11-20" },
		{ "on 11-20-2026", "dates", "11-20-2026" },
		{ "It renews November 20th.", "dates", "November 20th" },
		{ "Nov. 20, 2026 works", "dates", "Nov. 20, 2026" },
		{ "the 20th of November", "dates", "20th of November" },
		{ "el 20 de noviembre", "dates", "20 de noviembre" },
		{ "on November twenty-fifth", "dates", "November twenty-fifth" },
		{ "I paid on the 15th, so", "dates", "the 15th" },
		{ "this is the third time", "dates", NULL },
		{ "we're open 24/7", "dates", NULL },
		{ "May I ask a question", "dates", NULL },
		{ "about 3-5 days", "dates", NULL },
	};
	proc_var_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

UNIT_TEST(proc_vars_vehicles)
{
	static const struct proc_var_case cases[] = {
		{ "My 2019 Honda Civic got hit.", "vehicles", "2019 Honda Civic" },
		{ "a 2019 silver Honda Civic", "vehicles", "2019 Honda Civic" },
		{ "my Ford F-150 is fine", "vehicles", "Ford F-150" },
		{ "the 2022 Tesla Model 3", "vehicles", "2022 Tesla Model 3" },
		{ "our 2016 Land Rover Discovery", "vehicles", "2016 Land Rover Discovery" },
		{ "a 2018 Toyota", "vehicles", "2018 Toyota" },
		{ "I went to the Honda dealership", "vehicles", NULL },
		{ "the loan is with Ford Credit", "vehicles", NULL },
		{ "Honda. Civic", "vehicles", NULL },
	};
	proc_var_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

UNIT_TEST(proc_vars_limits)
{
	/* lists are de-duplicated and capped */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 40; i++)
		buf_appendf(&b, "Call (949) 555-%04d or (949) 555-%04d. ", 1000 + i, 1000 + i);
	const char *texts[1] = { buf_str(&b) };
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_result r;
	proc_run_texts(lx, "u", texts, &r);
	CHECK_INT(json_array_size(json_object_get(r.key_variables, "phone_numbers")), 10);
	CHECK(proc_json_has(r.key_variables, "phone_numbers", "949-555-1000"));
	proc_result_release(&r);
	proc_lexicons_free(&lx);
	buf_free(&b);
}

/* ---- sentiment, resolution, topics, summary ---- */

struct proc_label_case {
	const char *roles;
	const char *texts[6];
	const char *want;
};

static void proc_label_cases(const struct proc_label_case *cases, size_t n, bool sentiment)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < n; i++) {
		struct proc_result r;
		proc_run_texts(lx, cases[i].roles, cases[i].texts, &r);
		const char *got = sentiment ? r.sentiment : r.resolution;
		if (strcmp(got, cases[i].want) != 0)
			unit_fail(__FILE__, __LINE__, "case %zu: %s (%.2f), expected %s", i, got,
			          r.sentiment_score, cases[i].want);
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_sentiment_negation)
{
	static const struct proc_label_case cases[] = {
		{ "u", { "I'm not happy with this at all." }, "negative" },
		{ "u", { "I am not very happy about this bill." }, "negative" },
		{ "u", { "That's great, you've been so helpful, thank you so much!" }, "positive" },
		{ "u", { "No, that's great, thank you so much." }, "positive" },
		{ "u", { "You have no idea how relieved I am, thank you." }, "positive" },
		{ "u", { "no that's all thanks i appreciate it" }, "positive" },
		{ "u", { "I need to update my address." }, "neutral" },
		{ "u", { "This was terrible and your agent was rude." }, "negative" },
		{ "au", { "Great news, it's all fixed and wonderful!", "Okay." }, "neutral" },
	};
	proc_label_cases(cases, sizeof(cases) / sizeof(cases[0]), true);
	/* "not bad" is mildly positive, "bad" negative */
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_result a, b;
	const char *ta[1] = { "Honestly the service was not bad." };
	const char *tb[1] = { "Honestly the service was bad." };
	proc_run_texts(lx, "u", ta, &a);
	proc_run_texts(lx, "u", tb, &b);
	CHECK(a.sentiment_score > 0);
	CHECK(b.sentiment_score < 0);
	proc_result_release(&a);
	proc_result_release(&b);
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_sentiment_frustration)
{
	static const struct proc_label_case cases[] = {
		{ "uaua",
		  { "This is the third time I'm calling about the double charge. It's ridiculous.",
		    "I'm sorry.", "I already told you the double charge is wrong. Unacceptable.",
		    "Let me check." },
		  "frustrated" },
		{ "u",
		  { "I have been on hold FOREVER and NOBODY called me back. This is a joke!!" },
		  "frustrated" },
		{ "u", { "I'm a bit disappointed the premium went up." }, "negative" },
	};
	proc_label_cases(cases, sizeof(cases) / sizeof(cases[0]), true);
}

UNIT_TEST(proc_resolution_labels)
{
	static const struct proc_label_case cases[] = {
		{ "uaua",
		  { "My address changed.", "I've updated your address. Anything else?",
		    "No, thanks!", "Have a great day." },
		  "resolved" },
		{ "uau",
		  { "Where's my claim?", "An adjuster will call you back within 24 hours.",
		    "Okay, thank you." },
		  "follow_up" },
		{ "uau",
		  { "I want a supervisor.", "Let me transfer you to my supervisor now.", "Fine." },
		  "escalated" },
		{ "uaua",
		  { "Can you waive it?", "Unfortunately we can't, there's nothing I can do.",
		    "That doesn't help. I'll call back.", "Okay." },
		  "unresolved" },
		{ "u", { "Hello?" }, "unknown" },
		{ "uauaua",
		  { "I want a manager.", "I'll escalate this, transferring you to my supervisor.",
		    "Okay.",
		    "This is Dana, the supervisor. I've waived the fee and I've reversed the charge.",
		    "Thank you!", "You're all set." },
		  "resolved" },
		{ "uau",
		  { "Any update?",
		    "Someone will call you back tomorrow. I've also updated your phone number.",
		    "Thanks." },
		  "follow_up" },
		/* beyond insurance */
		{ "auau",
		  { "What can I get you?", "A large coffee and a muffin, please.",
		    "Here you are. Your total is $6.50.", "Thanks." },
		  "resolved" },
		{ "uaua",
		  { "Do you have a double room for Friday?",
		    "Yes, I've booked it for you, you're booked for two nights.", "Great, thanks.",
		    "Enjoy your stay." },
		  "resolved" },
		{ "uaua",
		  { "I'd like these boots in a size nine.",
		    "I'm afraid we're sold out in that size.", "Oh, that's too bad. Never mind.",
		    "Sorry about that." },
		  "unresolved" },
		{ "uau",
		  { "My printer is still broken.",
		    "I'll send a technician and we'll call you back to confirm the time.",
		    "Okay." },
		  "follow_up" },
		{ "uau",
		  { "I have a question about my invoice.",
		    "Sure, let me put you through to our billing department.", "Okay." },
		  "transferred" },
		{ "uu",
		  { "Did you see the game last night?",
		    "Yes, what a match, we should go sometime." },
		  "unknown" },
	};
	proc_label_cases(cases, sizeof(cases) / sizeof(cases[0]), false);
}

UNIT_TEST(proc_topics_rank)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	const char *t1[2] = { "I was in a car accident and need to file a claim. The adjuster? "
		              "Also my bill is wrong, the bill doubled.",
		              "I've opened the claim." };
	struct proc_result r;
	proc_run_texts(lx, "ua", t1, &r);
	CHECK_STR(json_string_value(json_array_get(r.key_topics, 0)), "claims");
	CHECK(proc_json_has(r.key_topics, NULL, "billing"));
	proc_result_release(&r);
	/* a second topic resting on one passing mention is dropped */
	const char *t1b[2] = { "I need to file a claim for the accident, the adjuster never "
		               "called. Also my bill.",
		               "I've opened the claim." };
	proc_run_texts(lx, "ua", t1b, &r);
	CHECK_INT(json_array_size(r.key_topics), 1);
	proc_result_release(&r);
	/* every topic mentioned twice: at most five come out, each a lexicon topic */
	const char *t2[1] = {
		"bill payment claim accident auto policy homeowners quote new address "
		"cancel coverage tow truck id card complaint renewal discount supervisor "
		"add a driver. bill payment claim accident auto policy homeowners quote new "
		"address cancel coverage tow truck id card complaint renewal discount "
		"supervisor add a driver"
	};
	proc_run_texts(lx, "u", t2, &r);
	CHECK_INT(json_array_size(r.key_topics), 5);
	proc_result_release(&r);
	/* agent-only mentions count half: one "billing" from the agent is not a topic */
	const char *t3[2] = { "Anything about billing today?", "No." };
	proc_run_texts(lx, "au", t3, &r);
	CHECK_INT(json_array_size(r.key_topics), 0);
	proc_result_release(&r);
	proc_lexicons_free(&lx);
}

struct proc_topic_case {
	const char *roles;
	const char *texts[6];
	const char *want; /* the first topic, or NULL: no topic at all */
};

/* The general taxonomy and its word-sense guards (docs/processors.md, "Topics"). */
UNIT_TEST(proc_topics_general)
{
	static const struct proc_topic_case cases[] = {
		/* service intents beyond insurance */
		{ "ua",
		  { "Hi, I'd like to book a table for two tonight.", "Sure, what time?" },
		  "booking" },
		{ "ua",
		  { "My order never arrived, the tracking number shows nothing.", "Let me look." },
		  "order" },
		{ "ua",
		  { "These shoes are the wrong size, can I return them?", "Of course." },
		  "returns" },
		{ "ua", { "Where is my refund? I want my money back.", "I'm sorry." }, "refund" },
		{ "ua",
		  { "I forgot my password and now I can't log in.", "Let me reset it." },
		  "account_access" },
		{ "ua",
		  { "My router stopped working, the internet is down.", "Let me check." },
		  "technical_support" },
		{ "ua",
		  { "What are your opening hours on Sunday?", "We open at ten." },
		  "information_request" },
		/* subjects */
		{ "ua",
		  { "I've had a fever and a sore throat since Monday.", "Let's take a look." },
		  "health" },
		{ "ua",
		  { "I'd like to exchange some money, what's the exchange rate?", "Sure." },
		  "banking" },
		{ "ua",
		  { "The landlord wants the rent by Friday, and the apartment sink leaks.", "Hm." },
		  "housing" },
		{ "ua",
		  { "How do I get to the bus station from here?", "Turn left." },
		  "transportation" },
		/* word-sense guards: no topic from these */
		{ "u", { "He hit a home run, then we went home." }, "leisure" },
		{ "u", { "We painted the kitchen and the basement." }, NULL },
		{ "u", { "Of course I will, of course." }, NULL },
		{ "u", { "Good afternoon, this is John Cruise speaking. Thanks, Cruise." }, NULL },
		{ "u", { "She is in charge of the team, in charge of everything." }, NULL },
		{ "u", { "I drove my car to the office." }, NULL },
	};
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_result r;
		proc_run_texts(lx, cases[i].roles, cases[i].texts, &r);
		const char *first = json_string_value(json_array_get(r.key_topics, 0));
		bool ok =
		    cases[i].want ? first && strcmp(first, cases[i].want) == 0 : first == NULL;
		if (!ok) {
			char *tp = json_dumps(r.key_topics, JSON_COMPACT);
			unit_fail(__FILE__, __LINE__, "case %zu: topics %s, expected %s first", i,
			          tp, cases[i].want ? cases[i].want : "none");
			free(tp);
		}
		CHECK(!proc_json_has(r.key_topics, NULL, "home_policy"));
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

/* In a conversation, the subject the talk keeps coming back to comes first when it scores
 * close to the heaviest one (PROC_TOPIC_SPREAD_REL); a subject far lighter does not. */
UNIT_TEST(proc_topics_spread_subject)
{
	static const struct proc_topic_case cases[] = {
		{ "uauau",
		  { "Ever since I was a child I dreamed of the flight attendants at the airport, the "
		    "flights, the plane, travelling the world on every trip abroad.",
		    "What work experience do you have?",
		    "I worked as a nurse, so I have experience with people.", "And why this job?",
		    "It fits my training, and my last employer praised my work." },
		  "employment" },
		{ "uauau",
		  { "My doctor says the fever and the flu need antibiotics and medicine.",
		    "How is work?",
		    "Work is fine, but the doctor wants a blood test and the fever medicine makes "
		    "me sleepy.",
		    "Take a break from work.", "My boss agrees, work can wait." },
		  "health" },
	};
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_result r;
		proc_run_texts(lx, cases[i].roles, cases[i].texts, &r);
		const char *first = json_string_value(json_array_get(r.key_topics, 0));
		if (!first || strcmp(first, cases[i].want) != 0) {
			char *tp = json_dumps(r.key_topics, JSON_COMPACT);
			unit_fail(__FILE__, __LINE__, "case %zu: topics %s, expected %s first", i,
			          tp, cases[i].want);
			free(tp);
		}
		CHECK_INT(json_array_size(r.key_topics), 1); /* a conversation lists one */
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

/* A service word the caller said once in the opening does not make a conversation a service
 * call when a subject outscores it; a service the call deals with (said again, or alone) stays
 * first. Words in another sense move to that sense (docs/processors.md, "Topics"). */
UNIT_TEST(proc_topics_passing_request)
{
	static const struct proc_topic_case cases[] = {
		{ "uaua",
		  { "Sorry I'm late, I had to cancel my dentist visit. Did you watch the football "
		    "match?",
		    "Yes, the soccer final was great.",
		    "The football season has been amazing, and that goal in the final!",
		    "I loved that match." },
		  "leisure" },
		{ "ua",
		  { "Hi, I'd like to cancel my gym membership.", "Sure, I can do that." },
		  "cancellation" },
		{ "uaua",
		  { "I need to cancel my subscription. Did you watch the football match?",
		    "Yes, the soccer final was great.",
		    "Great. Anyway, please cancel it today, the football season is over.",
		    "Done, it's cancelled." },
		  "cancellation" },
		/* senses: a job, one's way, weight; a boss; someone else complaining; a class */
		{ "uaua",
		  { "I lost my job last week.", "Oh no, what happened at work?",
		    "My boss said the company is cutting staff, so I need a new job.",
		    "You'll find one." },
		  "employment" },
		{ "ua",
		  { "Excuse me, I lost my way. How do I get to the bus station?",
		    "Turn left at the corner." },
		  "transportation" },
		{ "u", { "I lost my temper again, I lost my temper with everyone." }, NULL },
		{ "uaua",
		  { "Your manager seems nice.", "He is.", "Your manager is always smiling.",
		    "Yes." },
		  NULL },
		{ "uaua",
		  { "My neighbours always complain.", "Really?", "They keep complaining about us.",
		    "How odd." },
		  NULL },
		{ "u",
		  { "I missed the registration for my course at the university, is registration "
		    "closed?" },
		  "education" },
		/* a symptom, a hotel's service, a former employer */
		{ "u", { "I feel chilly. I still feel chilly today." }, "health" },
		{ "au",
		  { "Front desk, how can I help?",
		    "We ordered room service an hour ago, where is our room service?" },
		  "travel" },
		{ "ua", { "I was employed there for years.", "I see." }, "employment" },
		/* renting skis, undressing for an X-ray */
		{ "uaua",
		  { "Can we rent skis here? I'd like to rent boots too.", "Yes, at the counter.",
		    "Great, I can't wait to go skiing.", "Enjoy the slopes." },
		  "leisure" },
		{ "uaua",
		  { "Should I take off my clothes now?",
		    "Yes, take your clothes off and put on this gown.",
		    "Okay, so I take my clothes off here?", "Yes, then the x-ray." },
		  NULL },
	};
	struct proc_lexicons *lx = proc_test_lexicons();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_result r;
		proc_run_texts(lx, cases[i].roles, cases[i].texts, &r);
		const char *first = json_string_value(json_array_get(r.key_topics, 0));
		bool ok =
		    cases[i].want ? first && strcmp(first, cases[i].want) == 0 : first == NULL;
		if (!ok) {
			char *tp = json_dumps(r.key_topics, JSON_COMPACT);
			unit_fail(__FILE__, __LINE__, "case %zu: topics %s, expected %s first", i,
			          tp, cases[i].want ? cases[i].want : "none");
			free(tp);
		}
		/* the passing service word is not listed after the subject either */
		CHECK(i != 0 || json_array_size(r.key_topics) == 1);
		CHECK(!proc_json_has(r.key_topics, NULL, "lost_or_stolen"));
		CHECK(!proc_json_has(r.key_topics, NULL, "escalation"));
		CHECK(!proc_json_has(r.key_topics, NULL, "complaint"));
		CHECK(!proc_json_has(r.key_topics, NULL, "account_access"));
		CHECK(!proc_json_has(r.key_topics, NULL, "housing"));
		CHECK(!proc_json_has(r.key_topics, NULL, "shopping"));
		proc_result_release(&r);
	}
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_summary_shape)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_result r;
	const char *t1[4] = { "Thanks for calling, this is Sam. How can I help?",
		              "Hi, this is Kelly Nguyen. My auto bill looks wrong this month.",
		              "I've re-applied your discount, so the bill is back to $212.00.",
		              "Thank you!" };
	proc_run_texts(lx, "auau", t1, &r);
	/* third person, the caller by name, what was asked and what was done; no template */
	CHECK_STR(r.summary, "Kelly Nguyen's auto bill looks wrong this month. The agent has "
	                     "re-applied Kelly Nguyen's discount, so the bill is back to $212.00.");
	proc_result_release(&r);
	/* both sides, the agent's promise from the end of the call; no greeting, no thanks */
	const char *t5[6] = { "Good morning, how can I help you?",
		              "I need to move my dentist appointment to next week.",
		              "Sure, let me check the calendar for you.",
		              "Thursday afternoon would work best for me.",
		              "I'll book you for Thursday at 3 pm and send you a text reminder.",
		              "Great, thank you so much." };
	proc_run_texts(lx, "auauau", t5, &r);
	CHECK_CONTAINS(r.summary, "The caller needs to move their dentist appointment");
	CHECK_CONTAINS(r.summary, "The agent will book the caller for Thursday at 3 pm");
	CHECK(strstr(r.summary, "Good morning") == NULL && strstr(r.summary, "thank") == NULL);
	CHECK(strstr(r.summary, "Request") == NULL && strstr(r.summary, "Outcome") == NULL);
	proc_result_release(&r);
	/* a one-word hang-up */
	const char *t2[1] = { "Hello?" };
	proc_run_texts(lx, "u", t2, &r);
	CHECK_STR(r.summary, "The caller hung up before saying what they wanted.");
	proc_result_release(&r);
	/* long sentences are cut at a word boundary, multi-byte text stays valid */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "I need help with my bill because ");
	for (int i = 0; i < 60; i++)
		buf_append_str(&b, "se\xc3\xb1or ");
	buf_append_str(&b, "end.");
	const char *t3[1] = { buf_str(&b) };
	proc_run_texts(lx, "u", t3, &r);
	CHECK(strlen(r.summary) <= PROC_SUMMARY_MAX);
	CHECK(text_utf8_valid(r.summary, strlen(r.summary)));
	CHECK_CONTAINS(r.summary, "The caller needs help with their bill because se\xc3\xb1or");
	CHECK(strstr(r.summary, "end.") == NULL);
	proc_result_release(&r);
	buf_free(&b);
	/* system and tool turns never reach the summary */
	const char *t4[3] = { "SECRET CRM NOTE about the caller", "{\"tool\":\"SECRET\"}",
		              "I want to cancel my policy please." };
	proc_run_texts(lx, "stu", t4, &r);
	CHECK(strstr(r.summary, "SECRET") == NULL);
	CHECK_CONTAINS(r.summary, "wants to cancel their policy");
	proc_result_release(&r);
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_run_arguments)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_result r;
	char err[128] = "";
	struct event_call empty;
	memset(&empty, 0, sizeof(empty));
	CHECK_INT(proc_run(lx, &empty, &r, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "no turns");
	CHECK(r.summary == NULL && r.key_topics == NULL);
	CHECK_INT(proc_run(NULL, &empty, &r, err, sizeof(err)), -1);
	proc_result_release(&r); /* zeroed: fine */
	proc_result_release(NULL);
	/* an empty text and a turn with a NULL text */
	struct proc_test_call tc;
	const char *texts[2] = { "", "" };
	proc_call_init(&tc, "au", texts);
	tc.turns[1].text = NULL;
	tc.turns[1].text_len = 0;
	CHECK_INT(proc_run(lx, &tc.call, &r, err, sizeof(err)), 0);
	proc_check_invariants(&r, &tc.call, "empty");
	proc_result_release(&r);
	proc_lexicons_free(&lx);
}

/* ---- embedding ---- */

UNIT_TEST(proc_embed_similarity)
{
	float a[PROC_EMBED_DIM], b[PROC_EMBED_DIM], c[PROC_EMBED_DIM], d[PROC_EMBED_DIM];
	proc_embed_text("bill is wrong", 13, a);
	proc_embed_text("billing error", 13, b);
	proc_embed_text("car accident claim", 18, c);
	CHECK(proc_embed_cosine(a, b) > proc_embed_cosine(a, c));
	CHECK(proc_embed_cosine(b, a) > proc_embed_cosine(b, c));
	proc_embed_text("My bill is WRONG!", 17, d); /* case, stop words, punctuation */
	CHECK(proc_embed_cosine(a, d) > 0.99);
	const char *s1 = "Kelly Nguyen called about billing. Request: my auto bill went up.";
	const char *s2 = "Caller asked why the auto bill went up this month (billing).";
	const char *s3 = "Marcus Bell was rear-ended; the adjuster will call about the claim.";
	proc_embed_text(s1, strlen(s1), a);
	proc_embed_text(s2, strlen(s2), b);
	proc_embed_text(s3, strlen(s3), c);
	CHECK(proc_embed_cosine(a, b) > proc_embed_cosine(a, c) + 0.1);
	/* deterministic, unit length */
	proc_embed_text(s1, strlen(s1), d);
	CHECK(memcmp(a, d, sizeof(a)) == 0);
	double norm = 0;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++)
		norm += (double)a[i] * a[i];
	CHECK(fabs(norm - 1) < 1e-5);
	/* nothing to embed: e0, never the zero vector */
	proc_embed_text("the and of ?!", 13, a);
	CHECK(a[0] == 1.0f && a[1] == 0.0f);
	proc_embed_text(NULL, 0, a);
	CHECK(a[0] == 1.0f);
}

UNIT_TEST(proc_embed_pgvector_text)
{
	float v[PROC_EMBED_DIM];
	memset(v, 0, sizeof(v));
	v[0] = 0.5f;
	v[1] = -0.25f;
	v[2] = 1.0f;
	v[3] = 0.0123456f;
	v[4] = -0.0000004f; /* rounds to 0 */
	v[5] = NAN;
	v[6] = 3.0f;
	struct buf b = BUF_INIT;
	buf_append_str(&b, "x");
	proc_embedding_text(v, &b);
	const char *head = "x[0.5,-0.25,1,0.012346,0,0,3,0,";
	CHECK(strncmp(b.data, head, strlen(head)) == 0);
	CHECK(b.data[b.len - 1] == ']');
	size_t commas = 0;
	for (size_t i = 0; i < b.len; i++)
		commas += b.data[i] == ',';
	CHECK_INT(commas, PROC_EMBED_DIM - 1);
	/* a real embedding round-trips within the printed precision */
	float e[PROC_EMBED_DIM];
	proc_embed_text("flat tire on the freeway", 24, e);
	buf_reset(&b);
	proc_embedding_text(e, &b);
	char *p = b.data + 1;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++) {
		char *end;
		double x = strtod(p, &end);
		CHECK(end != p && fabs(x - e[i]) < 1e-6);
		p = end + 1;
	}
	buf_free(&b);
}

/* ---- threads, work bound, hostile input, speed ---- */

struct proc_thread_arg {
	const struct proc_lexicons *lx;
	const struct event_call *call;
	const char *summary; /* expected */
	int failures;
};

static void *proc_thread(void *p)
{
	struct proc_thread_arg *a = p;
	for (int i = 0; i < 200; i++) {
		struct proc_result r;
		char err[128];
		if (proc_run(a->lx, a->call, &r, err, sizeof(err)) != 0 ||
		    strcmp(r.summary, a->summary) != 0)
			a->failures++;
		proc_result_release(&r);
	}
	return NULL;
}

UNIT_TEST(proc_threads_share_lexicons)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	const char *texts[3] = {
		"Hi, this is Kelly Nguyen. My auto bill looks wrong, it's $252.00.",
		"I've re-applied your discount; you're all set.", "Thanks so much!"
	};
	struct proc_test_call tc;
	struct proc_result ref;
	char err[128];
	proc_call_init(&tc, "uau", texts);
	UNIT_REQUIRE(proc_run(lx, &tc.call, &ref, err, sizeof(err)) == 0);
	struct proc_thread_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct proc_thread_arg){ lx, &tc.call, ref.summary, 0 };
		UNIT_REQUIRE(pthread_create(&th[i], NULL, proc_thread, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].failures, 0);
	}
	proc_result_release(&ref);
	proc_lexicons_free(&lx);
}

/* A 5,000-turn event just under 1 MiB, as JSON through the real decoder. */
static char *proc_big_event(size_t *len)
{
	static const char *const lines[] = {
		"Hi, this is Kelly Nguyen, my auto bill looks wrong, it went up forty dollars.",
		"I'm sorry about that. Can you confirm your policy number, please?",
		"Sure, it's AP-449120, and my cell is (949) 555-1234 or kelly.nguyen@example.com.",
		"I've re-applied the multi-car discount, so your premium is back to $212.00 on November 20th.",
		"This is the third time I'm calling, it's ridiculous, I want a supervisor!",
		"Let me transfer you to my supervisor; someone will call you back within 24 hours.",
	};
	struct buf b = BUF_INIT;
	buf_append_str(&b,
	               "{\"type\":\"call.ended\",\"version\":1,"
	               "\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\",\"customer_id\":7,"
	               "\"occurred_at\":\"2026-11-20T15:09:41Z\",\"call_id\":\"CAbig\","
	               "\"user_id\":\"9495551234\",\"agent\":{\"name\":\"Sam\"},\"turns\":[");
	for (int i = 0; i < 5000; i++) {
		const char *l = lines[i % 6];
		buf_appendf(&b, "%s{\"role\":\"%s\",\"text\":\"%s %s\"}", i ? "," : "",
		            i % 2 ? "assistant" : "user", l, lines[(i * 7 + 3) % 6]);
		if (b.len > 1040000)
			break;
	}
	buf_append_str(&b, "]}");
	*len = b.len;
	return buf_detach(&b);
}

UNIT_TEST(proc_big_event_bounded)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	size_t len;
	char *json = proc_big_event(&len);
	struct event ev;
	char err[256];
	UNIT_REQUIRE(len <= (1u << 20));
	int rc = event_decode(json, len, "7", 1, NULL, &ev, err, sizeof(err));
	if (rc != EVENT_OK)
		unit_fail(__FILE__, __LINE__, "decode: %s", err);
	UNIT_REQUIRE(rc == EVENT_OK);
	CHECK(ev.call.nturns >= 4900);
	struct proc_result r;
	UNIT_REQUIRE(proc_run(lx, &ev.call, &r, err, sizeof(err)) == 0);
	proc_check_invariants(&r, &ev.call, "big");
	CHECK_STR(r.caller_name, "Kelly Nguyen");
	CHECK_INT(json_array_size(json_object_get(r.key_variables, "policy_numbers")), 1);
	proc_result_release(&r);
	/* its speed is bench/summarize.sh's business: no timing in unit tests */
	event_release(&ev);
	free(json);
	proc_lexicons_free(&lx);
}

UNIT_TEST(proc_hostile_text)
{
	struct proc_lexicons *lx = proc_test_lexicons();
	static const char *const patterns[] = {
		"1",           "@",    "$",      "a ",  "9",    "-",
		".",           "'",    "(949) ", "11/", "AP-",  "\xe2\x80\x99",
		"\xc3",        "\xff", "dot ",   "at ", "the ", "my name is ",
		"2019 Honda ", "not ", "!",
	};
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		struct buf b = BUF_INIT;
		while (b.len < 32768 - 16)
			buf_append_str(&b, patterns[p]);
		const char *texts[2] = { buf_str(&b), buf_str(&b) };
		struct proc_test_call tc;
		struct proc_result r;
		char err[128];
		proc_call_init(&tc, "ua", texts);
		UNIT_REQUIRE(proc_run(lx, &tc.call, &r, err, sizeof(err)) == 0);
		CHECK(r.summary != NULL && strlen(r.summary) <= PROC_SUMMARY_MAX);
		proc_result_release(&r);
		buf_free(&b);
	}
	proc_lexicons_free(&lx);
}

/* Not a pass/fail test: prints microseconds per call (AIMEM_PROC_BENCH=1). */
UNIT_TEST(proc_bench)
{
	if (!getenv("AIMEM_PROC_BENCH"))
		return;
	struct proc_lexicons *lx = proc_test_lexicons();
	glob_t g;
	UNIT_REQUIRE(glob(FIXDIR "/[0-9]*_*[a-z].json", 0, NULL, &g) == 0);
	double total_us = 0, total_kb = 0;
	size_t calls = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (strstr(g.gl_pathv[i], ".expect.json"))
			continue;
		char err[256];
		size_t len;
		char *data = file_read(g.gl_pathv[i], 2u << 20, &len, err, sizeof(err));
		struct event ev;
		UNIT_REQUIRE(data &&
		             event_decode(data, len, "7", 1, NULL, &ev, err, sizeof(err)) == 0);
		size_t text = 0;
		for (size_t t = 0; t < ev.call.nturns; t++)
			text += ev.call.turns[t].text_len;
		double t0 = proc_now_us();
		int reps = 2000;
		for (int k = 0; k < reps; k++) {
			struct proc_result r;
			UNIT_REQUIRE(proc_run(lx, &ev.call, &r, err, sizeof(err)) == 0);
			proc_result_release(&r);
		}
		double us = (proc_now_us() - t0) / reps;
		fprintf(stderr, "%-40s %6zu B text %3zu turns %7.1f us\n",
		        strrchr(g.gl_pathv[i], '/') + 1, text, ev.call.nturns, us);
		total_us += us;
		total_kb += text / 1024.0;
		calls++;
		event_release(&ev);
		free(data);
	}
	fprintf(stderr, "mean %.1f us per call, %.1f us per KiB of transcript text\n",
	        total_us / calls, total_us / total_kb);
	globfree(&g);
	proc_lexicons_free(&lx);
}

/* ---- a tenant's own topics (proc_tenant.h) ---- */

static void proc_tenant_expect_error(const char *file, const char *text, const char *want)
{
	char dir[] = "/tmp/aimem-tenant-XXXXXX", path[512], err[512];
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	proc_write(dir, file, text, path, sizeof(path));
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_tenants *tn = proc_tenants_load(lx, dir, err, sizeof(err));
	CHECK(tn == NULL);
	CHECK_CONTAINS(err, path);
	CHECK_CONTAINS(err, want);
	proc_tenants_free(&tn);
	proc_lexicons_free(&lx);
	proc_rmdir(dir);
}

UNIT_TEST(proc_tenant_topics)
{
	char dir[] = "/tmp/aimem-tenant-XXXXXX", path[512], err[512];
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	proc_write(dir, "900.txt",
	           "# a pool company\n[pool_service]\npool cleaning = 3\nchlorine = 2\n"
	           "[billing]\nservice plan = 2.5\n",
	           path, sizeof(path));
	proc_write(dir, ".hidden", "ignored", path, sizeof(path));
	struct proc_lexicons *lx = proc_test_lexicons();
	struct proc_tenants *tn = proc_tenants_load(lx, dir, err, sizeof(err));
	if (tn == NULL)
		unit_fail(__FILE__, __LINE__, "tenants: %s", err);
	UNIT_REQUIRE(tn != NULL);
	CHECK_INT(proc_tenants_count(tn), 1);
	CHECK(proc_tenants_find(tn, 900) != NULL && proc_tenants_find(tn, 901) == NULL);
	const char *texts[2] = { "I'd like to book pool cleaning, the chlorine is off, and "
		                 "about my service plan, the chlorine again, the service plan.",
		                 "Sure." };
	struct proc_test_call tc;
	proc_call_init(&tc, "ua", texts);
	struct proc_result r;
	/* the tenant's call gets its own topic and its extra billing cue */
	UNIT_REQUIRE(proc_run_tenant(lx, tn, 900, &tc.call, &r, err, sizeof(err)) == 0);
	CHECK_STR(json_string_value(json_array_get(r.key_topics, 0)), "pool_service");
	CHECK(proc_json_has(r.key_topics, NULL, "billing"));
	proc_result_release(&r);
	/* another tenant's call, and a call without tenants, never see them */
	UNIT_REQUIRE(proc_run_tenant(lx, tn, 901, &tc.call, &r, err, sizeof(err)) == 0);
	CHECK(!proc_json_has(r.key_topics, NULL, "pool_service"));
	CHECK(!proc_json_has(r.key_topics, NULL, "billing"));
	proc_result_release(&r);
	UNIT_REQUIRE(proc_run(lx, &tc.call, &r, err, sizeof(err)) == 0);
	CHECK(!proc_json_has(r.key_topics, NULL, "pool_service"));
	proc_result_release(&r);
	proc_tenants_free(&tn);
	CHECK(tn == NULL);
	proc_tenants_free(&tn);
	proc_lexicons_free(&lx);
	proc_rmdir(dir);
	/* validation: names, format, duplicates, a missing folder */
	proc_tenant_expect_error("acme.txt", "[x]\ny\n", "named <customer_id>.txt");
	proc_tenant_expect_error("0900.txt", "[x]\ny\n", "named <customer_id>.txt");
	proc_tenant_expect_error("900.txt", "[pool]\nchlorine = 9\n", "900.txt:2: weight must be");
	proc_tenant_expect_error("900.txt", "chlorine\n", "900.txt:1: entry before the first");
	proc_tenant_expect_error("900.txt", "[pool]\na\n[pool]\nb\n", "defined twice");
	proc_tenant_expect_error("900.txt", "[pool]\nchlorine\nchlorine\n", "duplicate of line");
	lx = proc_test_lexicons();
	CHECK(proc_tenants_load(lx, "/nonexistent/aimem", err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "/nonexistent/aimem: cannot open");
	proc_lexicons_free(&lx);
}
