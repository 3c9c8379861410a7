/*
 * Unit tests for calls/summary_model: the summarizer's LLM user message and the strict parsing,
 * clamping and defaulting of the model's answer.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "proc_embed.h"
#include "summary_model.h"
#include "unit.h"

static int parse(const char *answer, struct proc_result *r)
{
	char err[256];
	int rc = summary_model_parse(answer, strlen(answer), r, err, sizeof(err));
	if (rc != 0)
		CHECK(err[0] != '\0');
	return rc;
}

UNIT_TEST(summary_model_good_answer)
{
	struct proc_result r;
	UNIT_REQUIRE(parse("{\"summary\":\" Kelly asked why her bill rose. \","
	                   "\"key_topics\":[\"Billing\",\"discount\",\"billing\",7],"
	                   "\"caller_name\":\"Kelly Nguyen\","
	                   "\"key_variables\":{\"policy_numbers\":[\"AP-1\"],\"amounts\":\"$5\","
	                   "\"dates\":[],\"customer_id\":99,\"user_id\":\"x\"},"
	                   "\"sentiment\":\"Positive\",\"resolution_status\":\"follow_up\"}",
	                   &r) == 0);
	CHECK_STR(r.summary, "Kelly asked why her bill rose.");
	char *topics = json_dumps(r.key_topics, JSON_COMPACT);
	CHECK_STR(topics, "[\"billing\",\"discount\"]");
	free(topics);
	char *vars = json_dumps(r.key_variables, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(vars, "{\"amounts\":[\"$5\"],\"caller_name\":\"Kelly Nguyen\","
	                "\"policy_numbers\":[\"AP-1\"]}");
	free(vars);
	CHECK_STR(r.caller_name, "Kelly Nguyen");
	CHECK_STR(r.sentiment, "positive");
	CHECK(r.sentiment_score > 0);
	CHECK_STR(r.resolution, "follow_up");
	/* the embedding is the built-in embedder's over summary + topics */
	float want[PROC_EMBED_DIM];
	const char text[] = "Kelly asked why her bill rose. billing discount";
	proc_embed_text(text, strlen(text), want);
	CHECK(proc_embed_cosine(want, r.embedding) > 0.9999);
	proc_result_release(&r);
}

UNIT_TEST(summary_model_fenced_and_defaults)
{
	struct proc_result r;
	UNIT_REQUIRE(
	    parse("Sure!\n```json\n{\"summary\":\"Address change.\",\"sentiment\":\"ecstatic\","
	          "\"key_variables\":[1,2]}\n```\n",
	          &r) == 0);
	CHECK_STR(r.summary, "Address change.");
	CHECK_INT(json_array_size(r.key_topics), 0);
	CHECK_INT(json_object_size(r.key_variables), 0);
	CHECK(r.caller_name == NULL);
	CHECK_STR(r.sentiment, "neutral");
	CHECK_STR(r.resolution, "unknown");
	proc_result_release(&r);
	/* the name may come inside key_variables only */
	UNIT_REQUIRE(parse("{\"summary\":\"x\",\"key_variables\":{\"caller_name\":\"Ana\"}}", &r) ==
	             0);
	CHECK_STR(r.caller_name, "Ana");
	proc_result_release(&r);
}

UNIT_TEST(summary_model_unusable_answers)
{
	struct proc_result r;
	const char *bad[] = {
		"",
		"I cannot help with that.",
		"[{\"summary\":\"x\"}]",
		"{\"summary\":\"\"}",
		"{\"summary\":\"   \"}",
		"{\"summary\":42}",
		"{\"key_topics\":[\"billing\"]}",
		"{\"summary\":\"a\\u0000b\"}", /* jsonb refuses NUL */
		"{\"summary\":\"x\",\"summary\":\"y\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CHECK(parse(bad[i], &r) == -1);
		CHECK(r.summary == NULL && r.key_topics == NULL && r.key_variables == NULL);
	}
}

UNIT_TEST(summary_model_limits)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "{\"summary\":\"");
	for (int i = 0; i < 1500; i++)
		buf_append_str(&b, "\xc3\xa9"); /* é: a cut must not split it */
	buf_append_str(&b, "\",\"key_topics\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"],"
	                   "\"key_variables\":{\"emails\":[");
	for (int i = 0; i < 40; i++)
		buf_appendf(&b, "%s\"e%d@x.com\"", i ? "," : "", i);
	buf_append_str(&b, "]}}");
	struct proc_result r;
	UNIT_REQUIRE(parse(buf_str(&b), &r) == 0);
	CHECK(strlen(r.summary) <= SUMMARY_MODEL_MAX_SUMMARY);
	CHECK(strlen(r.summary) % 2 == 0);
	CHECK_INT(json_array_size(r.key_topics), SUMMARY_MODEL_MAX_TOPICS);
	CHECK_INT(json_array_size(json_object_get(r.key_variables, "emails")),
	          SUMMARY_MODEL_MAX_ITEMS);
	proc_result_release(&r);
	buf_free(&b);
}

UNIT_TEST(summary_model_prompt_lines_and_cut)
{
	struct event_turn turns[] = {
		{ EVENT_ROLE_SYSTEM, "You are Sam.", 12, NULL },
		{ EVENT_ROLE_ASSISTANT, "Peterson Insurance, Sam speaking.", 33, NULL },
		{ EVENT_ROLE_USER, "My bill is wrong.", 17, NULL },
		{ EVENT_ROLE_TOOL, "{\"balance\":1}", 13, NULL },
		{ EVENT_ROLE_USER, "Can you check?", 14, NULL },
	};
	struct event_call call = { .call_id = "CA1", .user_id = "1", .turns = turns, .nturns = 5 };
	struct buf b = BUF_INIT;
	summary_model_prompt(&call, 4096, &b);
	CHECK_STR(buf_str(&b), "Agent: Peterson Insurance, Sam speaking.\n"
	                       "Caller: My bill is wrong.\n"
	                       "Caller: Can you check?\n");
	buf_reset(&b);
	summary_model_prompt(&call, 70, &b); /* room for two lines */
	CHECK_STR(buf_str(&b), "Agent: Peterson Insurance, Sam speaking.\n"
	                       "Caller: My bill is wrong.\n"
	                       "[transcript cut]\n");
	buf_reset(&b);
	summary_model_prompt(&call, 20, &b); /* the first turn alone is too long */
	CHECK_STR(buf_str(&b), "Agent: Peterson Ins\n[transcript cut]\n");
	buf_free(&b);
}

/* The built-in result fills what the answer leaves empty; what the answer says wins. */
UNIT_TEST(summary_model_answer_filled_by_builtin)
{
	struct proc_result b;
	memset(&b, 0, sizeof(b));
	b.summary = strdup("built-in summary");
	b.key_topics = json_pack("[s,s]", "billing", "payment");
	b.key_variables =
	    json_pack("{s:s,s:[s],s:[s],s:[s]}", "caller_name", "Kelly Nguyen", "amounts", "$40.00",
	              "dates", "November 20th", "policy_numbers", "AP-449120");
	b.caller_name = strdup("Kelly Nguyen");
	b.sentiment = "frustrated";
	b.sentiment_score = -0.6;
	b.resolution = "follow_up";
	const char *answer = "{\"summary\":\"The caller asked about the bill.\",\"key_topics\":[],"
	                     "\"caller_name\":\"\",\"key_variables\":{\"amounts\":[\"$212.00\"]},"
	                     "\"sentiment\":\"puzzled\",\"resolution_status\":\"resolved\"}";
	struct proc_result r;
	char err[256];
	UNIT_REQUIRE(summary_model_answer(answer, strlen(answer), &b, &r, err, sizeof(err)) == 0);
	CHECK_STR(r.summary, "The caller asked about the bill.");
	char *topics = json_dumps(r.key_topics, JSON_COMPACT);
	CHECK_STR(topics, "[\"billing\",\"payment\"]");
	free(topics);
	char *vars = json_dumps(r.key_variables, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(vars, "{\"amounts\":[\"$212.00\"],\"caller_name\":\"Kelly Nguyen\","
	                "\"dates\":[\"November 20th\"],\"policy_numbers\":[\"AP-449120\"]}");
	free(vars);
	CHECK_STR(r.caller_name, "Kelly Nguyen");
	CHECK_STR(r.sentiment, "frustrated"); /* "puzzled" is no label: the built-in one */
	CHECK(r.sentiment_score < -0.5);
	CHECK_STR(r.resolution, "resolved"); /* the model's own label wins */
	proc_result_release(&r);
	/* no summary: unusable whatever the built-in result holds */
	CHECK(summary_model_answer("{\"key_topics\":[\"x\"]}", 20, &b, &r, err, sizeof(err)) != 0);
	proc_result_release(&b);
}
