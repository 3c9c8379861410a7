/* Unit tests for lib/jscan: agreement with jansson on the edges fuzzing rarely reaches. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "jscan.h"
#include "unit.h"

/* jscan's verdict must be jansson's (JSON_REJECT_DUPLICATES). */
static bool js_agree(const char *s, size_t len, bool *accepted)
{
	struct jscan_doc d = JSCAN_DOC_INIT;
	char err[128];
	json_error_t jerr;
	int rc = jscan_parse(&d, s, len, err, sizeof(err));
	json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
	bool same = (rc == 0) == (j != NULL);
	*accepted = rc == 0;
	json_decref(j);
	jscan_doc_free(&d);
	return same;
}

static char *js_nest(size_t depth, const char *inner)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < depth; i++)
		buf_putc(&b, '[');
	buf_append_str(&b, inner);
	for (size_t i = 0; i < depth; i++)
		buf_putc(&b, ']');
	return buf_detach(&b);
}

UNIT_TEST(jscan_depth_limit_matches_jansson)
{
	static const struct {
		size_t depth;
		const char *inner;
		bool ok;
	} cases[] = { { 2047, "1", true },
		      { 2048, "1", false },
		      { 2048, "", true },
		      { 2049, "", false },
		      { 100000, "", false } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = js_nest(cases[i].depth, cases[i].inner);
		bool accepted;
		CHECK(js_agree(s, strlen(s), &accepted));
		CHECK_INT(accepted, cases[i].ok);
		free(s);
	}
}

UNIT_TEST(jscan_edge_cases_match_jansson)
{
	static const char *const docs[] = {
		"{}",
		"[]",
		" [ ] ",
		"1",
		"\"s\"",
		"true",
		"",
		"[",
		"[1,]",
		"{\"a\":1,}",
		"[01]",
		"[-0]",
		"[-]",
		"[1.]",
		"[.5]",
		"[1e]",
		"[1e+5]",
		"[1E-5]",
		"[9223372036854775807]",
		"[9223372036854775808]",
		"[-9223372036854775808]",
		"[-9223372036854775809]",
		"[1e400]",
		"[1e-400]",
		"[tru]",
		"[true]",
		"[nulll]",
		"{\"a\":1,\"a\":2}",
		"{\"a\":1,\"\\u0061\":2}",
		"[\"\\u0000\"]",
		"[\"\\ud83d\\ude00\"]",
		"[\"\\ud83d\"]",
		"[\"\\ude00\"]",
		"[\"\\x\"]",
		"[\"a\tb\"]",
		"[\"\x7f\"]",
		"[\"\xc3\xa9\"]",
		"[\"\xc0\xaf\"]",
		"[\"\xed\xa0\x80\"]",
		"[\"\xf4\x90\x80\x80\"]",
		"[\"\xf0\x9f\x98\x80\"]",
		"[1] x",
		"[1]\n",
		"\xef\xbb\xbf[]",
		"{\"a\" 1}",
		"{1:2}",
		"[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		bool accepted;
		if (!js_agree(docs[i], strlen(docs[i]), &accepted))
			fprintf(stderr, "    disagreement on case %zu\n", i);
		CHECK(js_agree(docs[i], strlen(docs[i]), &accepted));
	}
}

UNIT_TEST(jscan_duplicate_keys_in_large_objects)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '{');
	for (int i = 0; i < 100; i++)
		buf_appendf(&b, "\"k%d\":%d,", i, i);
	buf_append_str(&b, "\"k\\u0037\":1}"); /* "k7" again, escaped */
	bool accepted = true;
	CHECK(js_agree(b.data, b.len, &accepted));
	CHECK(!accepted);
	b.data[b.len - 5] = '8'; /* "k\u0038" -> "k8": still a duplicate */
	CHECK(js_agree(b.data, b.len, &accepted));
	CHECK(!accepted);
	buf_free(&b);
}

UNIT_TEST(jscan_raw_nul_is_refused)
{
	struct jscan_doc d = JSCAN_DOC_INIT;
	char err[128];
	CHECK_INT(jscan_parse(&d, "[1\0]", 4, err, sizeof(err)), -1);
	CHECK_INT(jscan_parse(&d, "[\"a\0\"]", 6, err, sizeof(err)), -1);
	jscan_doc_free(&d);
}

UNIT_TEST(jscan_tokens_and_lookups)
{
	static const char s[] = "{\"a\":[1,{\"b\":\"x\\ny\"},true],\"c\":null,\"d\":-12,\"e\":2.5}";
	struct jscan_doc d = JSCAN_DOC_INIT;
	char err[128];
	UNIT_REQUIRE(jscan_parse(&d, s, strlen(s), err, sizeof(err)) == 0);
	CHECK_INT(d.tok[0].type, JSCAN_OBJECT);
	CHECK_INT(d.tok[0].count, 4);
	size_t a = jscan_get(&d, 0, "a");
	CHECK_INT(d.tok[a].type, JSCAN_ARRAY);
	CHECK_INT(d.tok[a].count, 3);
	size_t obj = jscan_item(&d, a, 1);
	size_t b = jscan_get(&d, obj, "b");
	CHECK_STR(jscan_str(&d, b), "x\ny");
	CHECK_INT(d.tok[b].count, 3);
	CHECK_INT(d.tok[jscan_item(&d, a, 2)].type, JSCAN_TRUE);
	CHECK_INT(d.tok[jscan_get(&d, 0, "d")].ival, -12);
	CHECK_INT(d.tok[jscan_get(&d, 0, "e")].type, JSCAN_REAL);
	CHECK_INT(jscan_get(&d, 0, "zz"), 0);
	const struct jscan_token *at = &d.tok[a];
	CHECK_INT(memcmp(s + at->start, "[1,{\"b\":\"x\\ny\"},true]", at->len), 0);
	jscan_doc_free(&d);
}

UNIT_TEST(jscan_quote_round_trips)
{
	static const char raw[] = "he said \"hi\"\\\n\t\x01 caf\xc3\xa9";
	struct buf b = BUF_INIT;
	buf_putc(&b, '[');
	jscan_quote(&b, raw, sizeof(raw) - 1);
	buf_putc(&b, ']');
	struct jscan_doc d = JSCAN_DOC_INIT;
	char err[128];
	UNIT_REQUIRE(jscan_parse(&d, b.data, b.len, err, sizeof(err)) == 0);
	CHECK_STR(jscan_str(&d, 1), raw);
	jscan_doc_free(&d);
	buf_free(&b);
}
