/*
 * Unit tests for calls/chunk: window sizes and overlap, speaker labels, the per-call and
 * per-passage bounds, calls without words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chunk.h"
#include "text.h"
#include "unit.h"

/* n words "w0 w1 ..." spread over turns of per_turn words, alternating caller and agent */
static struct event_call chunk_test_call(size_t n, size_t per_turn, struct event_turn *turns,
                                         struct buf *texts)
{
	size_t nturns = (n + per_turn - 1) / per_turn;
	size_t *offs = calloc(nturns + 1, sizeof(*offs));
	for (size_t t = 0; t < nturns; t++) {
		offs[t] = texts[0].len;
		for (size_t i = t * per_turn; i < n && i < (t + 1) * per_turn; i++)
			buf_appendf(&texts[0], "%sw%zu", i > t * per_turn ? "  " : "", i);
	}
	offs[nturns] = texts[0].len;
	for (size_t t = 0; t < nturns; t++)
		turns[t] =
		    (struct event_turn){ t % 2 ? EVENT_ROLE_ASSISTANT : EVENT_ROLE_USER,
			                 texts[0].data + offs[t], offs[t + 1] - offs[t], NULL };
	free(offs);
	return (struct event_call){
		.call_id = "CA1", .user_id = "1", .turns = turns, .nturns = nturns
	};
}

UNIT_TEST(chunk_windows_overlap_and_cover_the_call)
{
	static struct event_turn turns[100];
	struct buf text = BUF_INIT;
	buf_reserve(&text, 1 << 16); /* the turns point into it: no move while filling */
	struct event_call call = chunk_test_call(500, 10, turns, &text);
	const struct chunk_limits lim = {
		.words = 200, .overlap = 40, .max_chunks = 16, .max_bytes = 8192
	};
	struct chunk *c;
	bool cut;
	size_t n = chunk_call(&call, &lim, &c, &cut);
	/* windows start at 0, 160, 320; the third ends at the last word */
	CHECK_INT(n, 3);
	CHECK(!cut);
	CHECK_INT(c[0].words, 200);
	CHECK_INT(c[1].words, 200);
	CHECK_INT(c[2].words, 180);
	CHECK(strncmp(c[0].text, "Caller: w0 w1 w2", 16) == 0); /* blanks collapsed */
	CHECK(strstr(c[0].text, "\nAgent: w10 w11") != NULL);
	CHECK(strstr(c[0].text, "w199") != NULL && strstr(c[0].text, "w200") == NULL);
	/* the second starts at w160, a caller turn's first word; overlap w160..w199 */
	CHECK(strncmp(c[1].text, "Caller: w160 ", 13) == 0);
	CHECK(strstr(c[2].text, "w499") != NULL);
	CHECK_INT(strlen(c[0].text), c[0].len);
	chunk_free(&c, n);
	CHECK(c == NULL);
	buf_free(&text);
}

UNIT_TEST(chunk_mid_turn_start_keeps_the_label)
{
	static struct event_turn turns[10];
	struct buf text = BUF_INIT;
	buf_reserve(&text, 4096);
	struct event_call call = chunk_test_call(30, 25, turns, &text);
	const struct chunk_limits lim = {
		.words = 20, .overlap = 5, .max_chunks = 16, .max_bytes = 8192
	};
	struct chunk *c;
	bool cut;
	size_t n = chunk_call(&call, &lim, &c, &cut);
	CHECK_INT(n, 2);
	/* w15 is inside the caller's first turn: the passage still says who speaks */
	CHECK(strncmp(c[1].text, "Caller: w15 ", 12) == 0);
	CHECK(strstr(c[1].text, "\nAgent: w25") != NULL);
	chunk_free(&c, n);
	buf_free(&text);
}

UNIT_TEST(chunk_short_call_is_one_passage)
{
	struct event_turn turns[2] = {
		{ EVENT_ROLE_ASSISTANT, "Thanks for calling, this is Sam.", 32, NULL },
		{ EVENT_ROLE_USER, "  My windshield\tcracked.  ", 26, NULL },
	};
	struct event_call call = { .call_id = "CA1", .user_id = "1", .turns = turns, .nturns = 2 };
	const struct chunk_limits lim = CHUNK_LIMITS_DEFAULT;
	struct chunk *c;
	bool cut;
	size_t n = chunk_call(&call, &lim, &c, &cut);
	CHECK_INT(n, 1);
	CHECK_STR(c[0].text,
	          "Agent: Thanks for calling, this is Sam.\nCaller: My windshield cracked.");
	CHECK_INT(c[0].words, 9);
	chunk_free(&c, n);
}

UNIT_TEST(chunk_no_words_no_passage)
{
	struct event_turn turns[2] = { { EVENT_ROLE_USER, "   ", 3, NULL },
		                       { EVENT_ROLE_TOOL, "", 0, NULL } };
	struct event_call call = { .call_id = "CA1", .user_id = "1", .turns = turns, .nturns = 2 };
	const struct chunk_limits lim = CHUNK_LIMITS_DEFAULT;
	struct chunk *c = (struct chunk *)&call; /* overwritten */
	bool cut = true;
	CHECK_INT(chunk_call(&call, &lim, &c, &cut), 0);
	CHECK(c == NULL && !cut);
	chunk_free(&c, 0);
}

UNIT_TEST(chunk_bounds_per_call_and_per_passage)
{
	static struct event_turn turns[1000];
	struct buf text = BUF_INIT;
	buf_reserve(&text, 1 << 16);
	struct event_call call = chunk_test_call(5000, 5, turns, &text);
	const struct chunk_limits lim = {
		.words = 100, .overlap = 20, .max_chunks = 4, .max_bytes = 8192
	};
	struct chunk *c;
	bool cut;
	size_t n = chunk_call(&call, &lim, &c, &cut);
	CHECK_INT(n, 4);
	CHECK(cut);
	chunk_free(&c, n);
	buf_free(&text);

	/* one 20 KB "word" of multibyte characters: cut at a UTF-8 boundary within max_bytes */
	struct buf big = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_append_str(&big, "\xc3\xa9");
	struct event_turn one[1] = { { EVENT_ROLE_USER, big.data, big.len, NULL } };
	struct event_call bc = { .call_id = "CA1", .user_id = "1", .turns = one, .nturns = 1 };
	const struct chunk_limits small = {
		.words = 200, .overlap = 40, .max_chunks = 16, .max_bytes = 1001
	};
	n = chunk_call(&bc, &small, &c, &cut);
	CHECK_INT(n, 1);
	CHECK(c[0].len <= 1001 && c[0].len >= 990);
	CHECK(text_utf8_valid(c[0].text, c[0].len));
	CHECK_INT(c[0].words, 1);
	chunk_free(&c, n);
	buf_free(&big);
}
