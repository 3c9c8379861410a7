/* Unit tests for lib/event: every DESIGN §3 rule, precise codes, encode round trip, times. */
#include <stdio.h>
#include <stdlib.h>

#include "event.h"
#include "unit.h"

#define HDR_CALL                                                                                       \
	"\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\"," \
	"\"customer_id\":7,\"occurred_at\":\"2026-11-20T15:09:41Z\""
#define CALL_REST "\"call_id\":\"CA8f3e\",\"user_id\":\"9495551234\""
#define TURNS "\"turns\":[{\"role\":\"user\",\"text\":\"hi\"}]"
#define HDR_PUT                                                                                        \
	"\"type\":\"memory.put\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\"," \
	"\"customer_id\":7,\"occurred_at\":\"2026-11-20T15:09:41Z\","                                  \
	"\"memory_id\":\"11111111-2222-4333-8444-555555555555\""

struct ev_case {
	const char *json;
	int want;
	const char *msg; /* a fragment of the message */
};

static const struct ev_case ev_cases[] = {
	{ "{" HDR_CALL "," CALL_REST "," TURNS "}", EVENT_OK, "" },
	{ "{" HDR_CALL "," CALL_REST "," TURNS ",\"future_field\":[1,2]}", EVENT_OK, "" },
	{ "[1]", EVENT_NOT_OBJECT, "JSON object" },
	{ "{\"a\":1,\"a\":2}", EVENT_BAD_JSON, "duplicate" },
	{ "{\"type\":\"call.ended\"", EVENT_BAD_JSON, "invalid JSON" },
	{ "{\"type\":\"x\\u0000y\"}", EVENT_BAD_JSON, "" },
	{ "{\"version\":1}", EVENT_MISSING_FIELD, "type: required" },
	{ "{\"type\":7}", EVENT_WRONG_TYPE, "type: must be a string" },
	{ "{\"type\":\"call.started\",\"version\":1}", EVENT_UNKNOWN_TYPE, "type:" },
	{ "{\"type\":\"call.ended\"}", EVENT_MISSING_FIELD, "version: required" },
	{ "{\"type\":\"call.ended\",\"version\":1.0}", EVENT_WRONG_TYPE,
	  "version: must be an integer" },
	{ "{\"type\":\"call.ended\",\"version\":\"1\"}", EVENT_WRONG_TYPE, "version" },
	{ "{\"type\":\"call.ended\",\"version\":2}", EVENT_BAD_VERSION, "v2 is not supported" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"nope\"}", EVENT_BAD_VALUE,
	  "event_id: must be a UUID" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":\"7\"}",
	  EVENT_WRONG_TYPE, "customer_id: must be an integer" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":7.5}",
	  EVENT_WRONG_TYPE, "customer_id" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":0}",
	  EVENT_BAD_VALUE, "between 1 and 2147483647" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":2147483648}",
	  EVENT_BAD_VALUE, "customer_id" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":7,\"occurred_at\":\"2026-11-20 15:09:41\"}",
	  EVENT_BAD_VALUE, "occurred_at: must be an RFC 3339" },
	{ "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":7,\"occurred_at\":\"2026-02-30T15:09:41Z\"}",
	  EVENT_BAD_VALUE, "occurred_at" },
	{ "{" HDR_CALL "," TURNS "}", EVENT_MISSING_FIELD, "call_id: required" },
	{ "{" HDR_CALL ",\"call_id\":\"CA 1\",\"user_id\":\"u\"," TURNS "}", EVENT_BAD_VALUE,
	  "call_id: only" },
	{ "{" HDR_CALL ",\"call_id\":\"\",\"user_id\":\"u\"," TURNS "}", EVENT_TOO_SHORT,
	  "call_id: must not be empty" },
	{ "{" HDR_CALL ",\"call_id\":\"CA1\",\"user_id\":\"a\\nb\"," TURNS "}", EVENT_BAD_VALUE,
	  "user_id: control" },
	{ "{" HDR_CALL ",\"call_id\":\"CA1\"," TURNS "}", EVENT_MISSING_FIELD,
	  "user_id: required" },
	{ "{" HDR_CALL "," CALL_REST ",\"thread_id\":null," TURNS "}", EVENT_OK, "" },
	{ "{" HDR_CALL "," CALL_REST ",\"started_at\":\"yesterday\"," TURNS "}", EVENT_BAD_VALUE,
	  "started_at" },
	{ "{" HDR_CALL "," CALL_REST "}", EVENT_MISSING_FIELD, "turns: required" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":{}}", EVENT_WRONG_TYPE,
	  "turns: must be an array" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":[]}", EVENT_TOO_SHORT, "turns: at least one" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"user\",\"text\":\"a\"},7]}",
	  EVENT_WRONG_TYPE, "turns[1]: must be an object" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"caller\",\"text\":\"a\"}]}",
	  EVENT_BAD_VALUE, "turns[0].role: must be one of" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"user\"}]}", EVENT_MISSING_FIELD,
	  "turns[0].text: required" },
	{ "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"user\",\"text\":5}]}",
	  EVENT_WRONG_TYPE, "turns[0].text: must be a string" },
	{ "{" HDR_CALL "," CALL_REST
	  ",\"turns\":[{\"role\":\"user\",\"text\":\"\",\"at\":\"2026-11-20T15:09:41.123+02:00\"}]}",
	  EVENT_OK, "" },
	{ "{" HDR_CALL "," CALL_REST "," TURNS ",\"agent\":\"Sam\"}", EVENT_WRONG_TYPE,
	  "agent: must be an object" },
	{ "{" HDR_PUT
	  ",\"scope\":\"shared\",\"mtype\":\"admin_setting\",\"key\":\"greeting\",\"value\":{\"v\":1}}",
	  EVENT_OK, "" },
	{ "{" HDR_PUT
	  ",\"scope\":\"user\",\"user_id\":\"9495551234\",\"mtype\":\"person\",\"key\":\"name\",\"value\":null,\"ttl_days\":365,\"source\":null}",
	  EVENT_OK, "" },
	{ "{" HDR_PUT ",\"scope\":\"user\",\"mtype\":\"person\",\"key\":\"name\",\"value\":1}",
	  EVENT_MISSING_FIELD, "user_id: required when scope" },
	{ "{" HDR_PUT
	  ",\"scope\":\"shared\",\"user_id\":\"x\",\"mtype\":\"person\",\"key\":\"name\",\"value\":1}",
	  EVENT_BAD_VALUE, "must be null when scope" },
	{ "{" HDR_PUT ",\"scope\":\"team\",\"mtype\":\"person\",\"key\":\"name\",\"value\":1}",
	  EVENT_BAD_VALUE, "scope: must be" },
	{ "{" HDR_PUT ",\"scope\":\"shared\",\"mtype\":\"Person\",\"key\":\"name\",\"value\":1}",
	  EVENT_BAD_VALUE, "mtype:" },
	{ "{" HDR_PUT ",\"scope\":\"shared\",\"mtype\":\"person\",\"key\":\"\",\"value\":1}",
	  EVENT_TOO_SHORT, "key: must not be empty" },
	{ "{" HDR_PUT ",\"scope\":\"shared\",\"mtype\":\"person\",\"key\":\"k\"}",
	  EVENT_MISSING_FIELD, "value: required" },
	{ "{" HDR_PUT
	  ",\"scope\":\"shared\",\"mtype\":\"person\",\"key\":\"k\",\"value\":1,\"ttl_days\":0}",
	  EVENT_BAD_VALUE, "ttl_days" },
	{ "{\"type\":\"memory.delete\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":7,\"occurred_at\":\"2026-11-20T15:09:41Z\",\"memory_id\":\"11111111-2222-4333-8444-555555555555\"}",
	  EVENT_OK, "" },
	{ "{\"type\":\"memory.delete\",\"version\":1,\"event_id\":\"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
	  "\"customer_id\":7,\"occurred_at\":\"2026-11-20T15:09:41Z\"}",
	  EVENT_MISSING_FIELD, "memory_id: required" },
};

UNIT_TEST(event_rules_table)
{
	for (size_t i = 0; i < sizeof(ev_cases) / sizeof(ev_cases[0]); i++) {
		struct event ev;
		char err[256] = "";
		const char *j = ev_cases[i].json;
		int rc = event_decode(j, strlen(j), NULL, 0, NULL, &ev, err, sizeof(err));
		if (rc != ev_cases[i].want)
			fprintf(stderr, "    case %zu: got %s (%s)\n", i, event_status_code(rc),
			        err);
		CHECK_INT(rc, ev_cases[i].want);
		if (rc != EVENT_OK)
			CHECK_CONTAINS(err, ev_cases[i].msg);
		else
			event_release(&ev);
	}
}

UNIT_TEST(event_key_must_match_customer_id)
{
	static const char j[] = "{" HDR_CALL "," CALL_REST "," TURNS "}";
	struct event ev;
	char err[256];
	CHECK_INT(event_decode(j, strlen(j), "7", 1, NULL, &ev, err, sizeof(err)), EVENT_OK);
	event_release(&ev);
	CHECK_INT(event_decode(j, strlen(j), "8", 1, NULL, &ev, err, sizeof(err)),
	          EVENT_KEY_MISMATCH);
	CHECK_INT(event_decode(j, strlen(j), "07x", 3, NULL, &ev, err, sizeof(err)),
	          EVENT_KEY_MISMATCH);
	CHECK_INT(event_decode(j, strlen(j), "", 0, NULL, &ev, err, sizeof(err)),
	          EVENT_KEY_MISMATCH);
}

UNIT_TEST(event_limits_apply)
{
	struct event_limits lim = { .max_event_bytes = 300, .max_turns = 2, .max_text_bytes = 5 };
	static const char two[] =
	    "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"user\",\"text\":\"12345\"},"
	    "{\"role\":\"assistant\",\"text\":\"ok\"}]}";
	static const char three[] =
	    "{" HDR_CALL "," CALL_REST
	    ",\"turns\":[{\"role\":\"user\",\"text\":\"1\"},{\"role\":\"user\","
	    "\"text\":\"2\"},{\"role\":\"user\",\"text\":\"3\"}]}";
	static const char longtext[] =
	    "{" HDR_CALL "," CALL_REST ",\"turns\":[{\"role\":\"user\",\"text\":\"123456\"}]}";
	struct event ev;
	char err[256];
	CHECK_INT(event_decode(two, strlen(two), NULL, 0, &lim, &ev, err, sizeof(err)), EVENT_OK);
	CHECK_INT(ev.call.nturns, 2);
	CHECK_INT(ev.call.turns[1].role, EVENT_ROLE_ASSISTANT);
	event_release(&ev);
	CHECK_INT(event_decode(three, strlen(three), NULL, 0, &lim, &ev, err, sizeof(err)),
	          EVENT_TOO_LONG);
	CHECK_CONTAINS(err, "turns: 3 turns, at most 2");
	CHECK_INT(event_decode(longtext, strlen(longtext), NULL, 0, &lim, &ev, err, sizeof(err)),
	          EVENT_TOO_LONG);
	CHECK_CONTAINS(err, "turns[0].text: 6 bytes, at most 5");
	lim.max_event_bytes = 100;
	CHECK_INT(event_decode(two, strlen(two), NULL, 0, &lim, &ev, err, sizeof(err)),
	          EVENT_TOO_LARGE);
}

UNIT_TEST(event_poison_inputs_are_rejected_not_crashes)
{
	struct event ev;
	char err[256];
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	CHECK_INT(event_decode(deep, 2 * depth, NULL, 0, NULL, &ev, err, sizeof(err)),
	          EVENT_BAD_JSON);
	free(deep);
	char num[5100] = "{\"customer_id\":";
	size_t at = strlen(num);
	memset(num + at, '9', 5000);
	num[at + 5000] = '}';
	num[at + 5001] = '\0';
	CHECK(event_decode(num, strlen(num), NULL, 0, NULL, &ev, err, sizeof(err)) != EVENT_OK);
	static const char badutf8[] = "{\"type\":\"\xff\xfe\"}";
	CHECK_INT(event_decode(badutf8, strlen(badutf8), NULL, 0, NULL, &ev, err, sizeof(err)),
	          EVENT_BAD_JSON);
	CHECK_INT(event_decode("", 0, NULL, 0, NULL, &ev, err, sizeof(err)), EVENT_BAD_JSON);
	static const char nul[] = "{\"a\":1}\0{";
	CHECK_INT(event_decode(nul, sizeof(nul) - 1, NULL, 0, NULL, &ev, err, sizeof(err)),
	          EVENT_BAD_JSON);
}

UNIT_TEST(event_messages_never_quote_values)
{
	static const char j[] =
	    "{" HDR_CALL ",\"call_id\":\"CA1\",\"user_id\":\"secret\\u0001name\"," TURNS "}";
	struct event ev;
	char err[256];
	CHECK_INT(event_decode(j, strlen(j), NULL, 0, NULL, &ev, err, sizeof(err)),
	          EVENT_BAD_VALUE);
	CHECK(strstr(err, "secret") == NULL);
}

UNIT_TEST(event_encode_round_trips)
{
	static const char *const inputs[] = {
		"{" HDR_CALL "," CALL_REST
		",\"thread_id\":\"T1\",\"started_at\":\"2026-11-20T15:04:05Z\","
		"\"turns\":[{\"role\":\"assistant\",\"text\":\"Thanks for calling\"},{\"role\":\"user\","
		"\"text\":\"Hi, this is Kelly \\u00e9\",\"at\":\"2026-11-20T15:04:09Z\"}],"
		"\"agent\":{\"name\":\"Sam\"},\"metadata\":{},\"ignored\":true}",
		"{" HDR_PUT
		",\"scope\":\"user\",\"user_id\":\"9495551234\",\"mtype\":\"person\",\"key\":\"name\","
		"\"value\":{\"first\":\"Kelly\"},\"ttl_days\":365,\"source\":\"chatstack\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		struct event a, b;
		char err[256];
		UNIT_REQUIRE(event_decode(inputs[i], strlen(inputs[i]), NULL, 0, NULL, &a, err,
		                          sizeof(err)) == EVENT_OK);
		struct buf out = BUF_INIT;
		event_encode(&a, &out);
		CHECK(strstr(buf_str(&out), "ignored") == NULL);
		UNIT_REQUIRE(event_decode(out.data, out.len, "7", 1, NULL, &b, err, sizeof(err)) ==
		             EVENT_OK);
		struct buf again = BUF_INIT;
		event_encode(&b, &again);
		CHECK_STR(buf_str(&again), buf_str(&out));
		CHECK_STR(b.event_id, a.event_id);
		CHECK_INT(b.customer_id, 7);
		if (a.type == EVENT_CALL_ENDED) {
			CHECK_INT(b.call.nturns, 2);
			CHECK_STR(b.call.turns[1].text, "Hi, this is Kelly \xc3\xa9");
			CHECK_STR(b.call.thread_id, "T1");
		} else {
			CHECK_INT(b.mem.ttl_days, 365);
			CHECK_STR(b.mem.source, "chatstack");
		}
		buf_free(&out);
		buf_free(&again);
		event_release(&a);
		event_release(&b);
	}
}

UNIT_TEST(event_time_parsing)
{
	long long ms = 0;
	CHECK_INT(event_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	CHECK_INT(ms, 0);
	CHECK_INT(event_parse_time("2026-11-20T15:09:41Z", &ms), 0);
	CHECK_INT(ms, 1795187381000LL);
	CHECK_INT(event_parse_time("2026-11-20T17:09:41.5+02:00", &ms), 0);
	CHECK_INT(ms, 1795187381500LL);
	CHECK_INT(event_parse_time("2024-02-29T00:00:00Z", NULL), 0);
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",
		"2026-11-20T15:09:41",
		"2026-11-20 15:09:41Z",
		"2026-13-01T00:00:00Z",
		"2026-11-20T24:00:00Z",
		"2026-11-20T15:09:41.Z",
		"2026-11-20T15:09:41.1234567890Z",
		"2026-11-20T15:09:41+0200",
		"2026-11-20T15:09:41z",
		"",
		"2026-11-20T15:09:41Zjunk",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(event_parse_time(bad[i], NULL), -1);
}

UNIT_TEST(event_uuids)
{
	char u[37];
	event_new_uuid(u);
	CHECK(event_is_uuid(u));
	CHECK_INT(u[14], '4');
	CHECK(strchr("89ab", u[19]) != NULL);
	char v[37];
	event_new_uuid(v);
	CHECK(strcmp(u, v) != 0);
	CHECK(!event_is_uuid("7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5"));
	CHECK(!event_is_uuid("7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5bb"));
	CHECK(!event_is_uuid("7d0c1a2b_3c4d-4e5f-8a9b-0c1d2e3f4a5b"));
	CHECK(event_is_uuid("7D0C1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B"));
}
