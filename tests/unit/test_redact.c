/* Unit tests for lib/redact, lib/redact_policy and lib/redact_event: what is found in written
 * and spoken forms, across turns, what is left alone, the placeholders, the policy files and
 * the metadata an event carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "redact.h"
#include "redact_event.h"
#include "redact_int.h"
#include "redact_policy.h"
#include "unit.h"
#include "xalloc.h"

#define U 0 /* the caller */
#define A 1 /* the agent */

static struct redactor *rx, *rx_bytes; /* rx_bytes: without the scan's fast path */
static unsigned counts[REDACT_NKINDS];
static char outs[8][1024];

/* Redacts up to 8 turns "U:text" / "A:text" with kinds; outs[i] the results, which the scan
 * without its fast path (redact_set_bytewise) must give too. */
static size_t run(unsigned kinds, const char *const *turns, size_t n)
{
	struct redact_turn t[8] = { 0 };
	UNIT_REQUIRE(n <= 8);
	for (size_t i = 0; i < n; i++)
		t[i] = (struct redact_turn){ turns[i][0] == 'A' ? A : U, turns[i] + 2,
			                     strlen(turns[i] + 2) };
	if (rx == NULL) {
		rx = redact_new();
		rx_bytes = redact_new();
		redact_set_bytewise(rx_bytes, true);
	}
	size_t found = redact_run(rx, kinds, t, n, counts);
	CHECK(redact_run(rx_bytes, kinds, t, n, NULL) == found);
	for (size_t i = 0; i < n; i++) {
		size_t len, blen;
		const char *s = redact_text(rx, i, &len, NULL),
		           *b = redact_text(rx_bytes, i, &blen, NULL);
		CHECK(len == blen && memcmp(s, b, len) == 0);
		snprintf(outs[i], sizeof(outs[i]), "%.*s", (int)len, s);
		if (kinds & (1u << REDACT_CARD)) /* the guarantee, on every output */
			CHECK(!redact_holds_card(outs[i], strlen(outs[i])));
	}
	return found;
}

static const char *one(unsigned kinds, const char *turn)
{
	const char *t[1] = { turn };
	run(kinds, t, 1);
	return outs[0];
}

#define DEF REDACT_DEFAULT_KINDS

UNIT_TEST(redact_checksums)
{
	CHECK(redact_luhn("4111111111111111", 16));
	CHECK(!redact_luhn("4111111111111112", 16));
	CHECK(redact_is_card("378282246310005", 15));   /* Amex */
	CHECK(redact_is_card("5555555555554444", 16));  /* Mastercard */
	CHECK(redact_is_card("6011111111111117", 16));  /* Discover */
	CHECK(!redact_is_card("9111111111111115", 16)); /* Luhn, but no network's prefix */
	CHECK(redact_aba("021000021"));
	CHECK(!redact_aba("021000022"));
	CHECK(redact_holds_card("x 4111-1111 1111.1111 y", 23));
	CHECK(!redact_holds_card("[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	                         "1111] 111111111111",
	                         strlen("[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	                                "1111] 111111111111")));
}

UNIT_TEST(redact_written_cards)
{
	CHECK_STR(one(DEF, "U:card 4111 1111 1111 1111 thanks"),
	          "card [CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	          "1111] thanks");
	CHECK_INT(counts[REDACT_CARD], 1);
	CHECK_STR(one(DEF, "U:it is 3782-822463-10005."),
	          "it is [CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	          "0005].");
	/* 16 card-like digits inside a longer group (a tracking number) are not a card */
	CHECK_STR(one(DEF, "U:tracking 1Z4514637654605972"), "tracking 1Z4514637654605972");
	/* glued to a number word is no identifier: the word may become a placeholder */
	CHECK_CONTAINS(one(DEF, "U:twenty5555555555554444"), "[CARD");
	CHECK_STR(one(DEF, "U:ref AB5555555555554444"), "ref AB5555555555554444");
	/* "double"/"triple" repeat a spoken digit, not a written one (fuzz_redact found the card
	 * missed when its first digit was tripled) */
	CHECK_STR(one(DEF, "U:triple 5555555555554444"),
	          "triple [CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	          "4444]");
	CHECK_CONTAINS(one(DEF, "U:card four double one 1 1111 1111 1111"), "[CARD");
	/* Luhn-invalid 16 digits: an order number stays */
	CHECK_STR(one(DEF, "U:order 4111111111111112 please"), "order 4111111111111112 please");
	CHECK_INT(counts[REDACT_CARD], 0);
	/* a phone number, an amount, a short policy number: nothing by default */
	CHECK_STR(one(DEF, "U:call 415-555-0132 about $1,234.56, policy 88812345"),
	          "call 415-555-0132 about $1,234.56, policy 88812345");
}

UNIT_TEST(redact_spoken_card_across_turns)
{
	const char *t[] = {
		"U:sure it's four one one one, one one one one",
		"A:mm-hmm",
		"U:one one one one double one one one",
	};
	CHECK_INT(run(DEF, t, 3), 1);
	CHECK_INT(counts[REDACT_CARD], 1);
	CHECK_STR(outs[0], "sure it's [CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	                   "1111]");
	CHECK_STR(outs[1], "mm-hmm");
	CHECK_STR(outs[2], "[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	                   "1111]");
	/* "oh" for zero and ASR's "for": 6011 0009 9013 9424 */
	CHECK_INT(run(DEF,
	              (const char *[]){ "U:six oh one one oh oh oh nine nine oh one three nine "
	                                "for two four" },
	              1),
	          1);
	CHECK_CONTAINS(outs[0], "9424]");
	/* another speaker saying more than an acknowledgement ends the number */
	const char *u[] = { "U:four one one one one one one one", "A:sorry, could you repeat that",
		            "U:one one one one one one one one" };
	CHECK_INT(run(DEF, u, 3), 0);
}

UNIT_TEST(redact_cvv_expiry_after_the_agent_asks)
{
	const char *t[] = {
		"U:5555 5555 5555 4444",  "A:and the expiration date?",
		"U:oh four twenty seven", "A:the three digits on the back?",
		"U:seven three seven",
	};
	CHECK_INT(run(DEF, t, 5), 3);
	CHECK_STR(outs[2], "[EXPIRY]");
	CHECK_STR(outs[4], "[CVV]");
	CHECK_INT(counts[REDACT_EXPIRY], 1);
	CHECK_INT(counts[REDACT_CVV], 1);
	CHECK_STR(one(DEF, "U:4111111111111111 12/26 123"),
	          "[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
	          "1111] [EXPIRY] [CVV]");
	const char *h[] = { "A:what's the CVV?", "U:four hundred twelve" };
	CHECK_INT(run(DEF, h, 2), 1);
	CHECK_STR(outs[1], "[CVV]");
	/* an amount said after the code was given stays */
	const char *m[] = { "A:the security code?", "U:318", "A:thanks",
		            "U:I paid four hundred twelve dollars" };
	run(DEF, m, 4);
	CHECK_STR(outs[3], "I paid four hundred twelve dollars");
	/* no card, no cue: three digits are three digits */
	CHECK_STR(one(DEF, "U:room 737 on floor 12"), "room 737 on floor 12");
}

UNIT_TEST(redact_ssn_bank_routing_iban)
{
	CHECK_STR(one(DEF, "U:my social is 123 45 6789"), "my social is [SSN]");
	CHECK_STR(one(DEF, "U:ssn 123-45-6789, ok"), "ssn [SSN], ok");
	CHECK_STR(one(DEF, "U:it's 219-09-9999"), "it's [SSN]");
	/* the SSA never issues area 666 or 9xx, group 00, serial 0000 */
	CHECK_STR(one(DEF, "U:my social is 666 45 6789"), "my social is 666 45 6789");
	CHECK_STR(one(DEF, "U:id 912-45-6789"), "id 912-45-6789");
	CHECK_STR(one(DEF, "U:the last four of my social are 6789"),
	          "the last four of my social are [SSN]");
	CHECK_STR(one(DEF, "U:routing 021000021 and checking account 12345678"),
	          "routing [ROUTING] and checking account [BANK ACCOUNT]");
	CHECK_STR(one(DEF, "U:routing 021000022"), "routing 021000022"); /* not ABA-valid */
	/* "account" alone is no bank account: a utility's customer number stays */
	CHECK_STR(one(DEF, "U:my account number is 5532178"), "my account number is 5532178");
	CHECK_STR(one(DEF, "U:IBAN GB82 WEST 1234 5698 7654 32 thanks"), "IBAN [IBAN] thanks");
	CHECK_STR(one(DEF, "U:IBAN GB82 WEST 1234 5698 7654 33 thanks"),
	          "IBAN GB82 WEST 1234 5698 7654 33 thanks");
}

UNIT_TEST(redact_opt_in_kinds)
{
	const char *t = "U:mail john.doe@example.com, call 415 555 0132, I live at 221 Baker "
	                "Street, born march fourteenth 1985";
	CHECK_STR(one(DEF, t), t + 2);
	CHECK_STR(one(REDACT_ALL_KINDS, t),
	          "mail [EMAIL], call [PHONE], I live at [ADDRESS], born [DOB]");
	CHECK_INT(counts[REDACT_EMAIL] + counts[REDACT_PHONE] + counts[REDACT_ADDRESS] +
	              counts[REDACT_DOB],
	          4);
	/* a kind turned off stays */
	CHECK_STR(one(DEF & ~(1u << REDACT_CARD), "U:4111 1111 1111 1111"), "4111 1111 1111 1111");
	CHECK_STR(one(0, "U:4111 1111 1111 1111"), "4111 1111 1111 1111");
}

UNIT_TEST(redact_placeholder_never_makes_a_card)
{
	/* digits around a card: its last four must never join them into a Luhn-valid run */
	static const char *const t[] = {
		"U:4111111111111111 111111111",
		"U:5555555555554444 1111111111",
		"U:4111 1111 1111 1111 4111 1111 1111 1111",
		"U:1111 4111 1111 1111 1111 1111",
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		one(DEF, t[i]);
		CHECK(counts[REDACT_CARD] >= 1);
		CHECK(!redact_holds_card(outs[0], strlen(outs[0])));
		/* and a second pass finds no card in the first's output */
		char again[sizeof(outs[0]) + 2];
		snprintf(again, sizeof(again), "U:%s", outs[0]);
		one(DEF, again);
		CHECK_INT(counts[REDACT_CARD], 0);
	}
	redact_free(&rx);
	redact_free(&rx_bytes);
}

/* The scan's fast path (64 bytes at a time while no number is open) against the byte-at-a-time
 * scan, on long pseudo-random turns: words across block edges, words of 64 letters and more,
 * number words, cues, digits, glued identifiers, UTF-8, e-mail and IBAN patterns. */
UNIT_TEST(redact_fast_path_matches_bytewise)
{
	/* clang-format off */
	static const char *const pieces[] = {
		"the", "calling", "four", "one", "oh", "to", "for", "double", "twenty", "hundred", "uh",
		"and", "may", "march", "card", "security", "code", "zip", "social", "bank", "account",
		"1234", "4111", "07", "-", ",", ".", "(", "\xc3\xa9", "\xc2\xa0", "@", "a@b.co", "14th",
		"PN4471", "twenty5", "GB82 WEST 1234 5698 7654 32", "221 Baker Street", "Card", "FOUR",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	/* clang-format on */
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	static char text[6][2048];
	struct redactor *fast = redact_new(), *bytes = redact_new();
	redact_set_bytewise(bytes, true);
	uint32_t seed = 12345;
	for (int call = 0; call < 400; call++) {
		struct redact_turn t[6];
		for (int i = 0; i < 6; i++) {
			size_t len = 0, target = (seed = seed * 1103515245u + 12345u) >> 16 & 1023;
			while (len + 80 < sizeof(text[i]) && len < target) {
				seed = seed * 1103515245u + 12345u;
				const char *w = pieces[(seed >> 16) % np];
				len += (size_t)snprintf(text[i] + len, sizeof(text[i]) - len,
				                        "%s%s", w, (seed >> 8 & 7) == 0 ? "" : " ");
			}
			t[i] = (struct redact_turn){ (int)(seed >> 4 & 1), text[i], len };
		}
		unsigned kinds = call % 2 ? REDACT_ALL_KINDS : DEF;
		size_t found = redact_run(fast, kinds, t, 6, NULL);
		CHECK(redact_run(bytes, kinds, t, 6, NULL) == found);
		for (size_t i = 0; i < 6; i++) {
			size_t len, blen;
			const char *a = redact_text(fast, i, &len, NULL),
			           *b = redact_text(bytes, i, &blen, NULL);
			CHECK(len == blen && memcmp(a, b, len) == 0);
		}
	}
	redact_free(&fast);
	redact_free(&bytes);
}

/* A folder with 42.conf holding text; returns the folder (static). */
static const char *policy_dir(const char *name, const char *text)
{
	static char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/aimem-redact-XXXXXX");
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	UNIT_REQUIRE(f != NULL);
	fputs(text, f);
	fclose(f);
	return dir;
}

UNIT_TEST(redact_policy_files)
{
	char err[256], v[REDACT_VERSION_MAX];
	struct redact_settings s = { "card,cvv,expiry,ssn,bank_account,routing,iban", NULL };
	struct redact_policy *p = redact_policy_load(&s, err, sizeof(err));
	UNIT_REQUIRE(p != NULL);
	CHECK_INT(redact_policy_kinds(p, 42, v), REDACT_DEFAULT_KINDS);
	CHECK_STR(v, "1/default-7f");
	s.tenant_dir = (char *)policy_dir("42.conf", "# tenant 42\nemail on\niban off\n\n");
	CHECK_INT(redact_policy_reload(p, &s, err, sizeof(err)), 0);
	unsigned k = redact_policy_kinds(p, 42, v);
	CHECK(k & (1u << REDACT_EMAIL));
	CHECK(!(k & (1u << REDACT_IBAN)));
	CHECK(strncmp(v, "1/t", 3) == 0);
	CHECK_INT(redact_policy_kinds(p, 43, NULL), REDACT_DEFAULT_KINDS);
	CHECK_INT(redact_policy_tenants(p), 1);
	/* a bad file keeps the policy in use and names file and line */
	struct redact_settings bad = { s.kinds, (char *)policy_dir("7.conf", "card on\nfax on\n") };
	CHECK_INT(redact_policy_reload(p, &bad, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "7.conf:2:");
	CHECK(redact_policy_kinds(p, 42, NULL) & (1u << REDACT_EMAIL));
	bad.tenant_dir = (char *)policy_dir("x.conf", "card on\n");
	CHECK(redact_policy_load(&bad, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "<customer_id>.conf");
	bad = (struct redact_settings){ "card,fax", NULL };
	CHECK(redact_policy_load(&bad, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "unknown kind \"fax\"");
	bad = (struct redact_settings){ "none", NULL };
	struct redact_policy *none = redact_policy_load(&bad, err, sizeof(err));
	UNIT_REQUIRE(none != NULL);
	CHECK_INT(redact_policy_kinds(none, 1, v), 0);
	CHECK_STR(v, "1/service-0");
	redact_policy_free(&none);
	redact_policy_free(&p);
	CHECK(p == NULL);
}

UNIT_TEST(redact_event_records_metadata)
{
	char err[256];
	struct redact_settings s = { "card,cvv,expiry,ssn,bank_account,routing,iban", NULL };
	struct redact_edge *e = redact_edge_new(&s, NULL, err, sizeof(err));
	UNIT_REQUIRE(e != NULL);
	static const char ev_text[] =
	    "{\"type\":\"call.ended\",\"version\":1,\"event_id\":"
	    "\"7d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\",\"customer_id\":7,\"occurred_at\":"
	    "\"2026-11-20T15:04:05Z\",\"call_id\":\"c1\",\"user_id\":\"u1\",\"turns\":[{\"role\":"
	    "\"user\",\"text\":\"card four one one one one one one one\"},{\"role\":\"user\","
	    "\"text\":\"one one one one one one one one\"},{\"role\":\"assistant\",\"text\":"
	    "\"thanks\"}],\"metadata\":{\"x\":1,\"redaction\":\"mine\",\"y\":[2]}}";
	struct event ev;
	UNIT_REQUIRE(event_decode(ev_text, strlen(ev_text), NULL, 0, NULL, &ev, err, sizeof(err)) ==
	             EVENT_OK);
	unsigned c[REDACT_NKINDS];
	CHECK_INT(redact_edge_event(e, &ev, true, c), 1);
	CHECK_INT(c[REDACT_CARD], 1);
	CHECK(strstr(ev.raw, "four one") == NULL);
	CHECK_CONTAINS(ev.raw, "\"metadata\":{\"redaction\":{\"policy\":\"1/default-7f\","
	                       "\"counts\":{\"card\":1}},\"x\":1,\"y\":[2]}");
	CHECK_STR(ev.call.turns[2].text, "thanks");
	CHECK_CONTAINS(ev.call.turns[0].text, "[CARD");
	/* the text produced decodes to the same event */
	struct event again;
	CHECK_INT(event_decode(ev.raw, ev.raw_len, NULL, 0, NULL, &again, err, sizeof(err)),
	          EVENT_OK);
	event_release(&again);
	event_release(&ev);
	/* no metadata and nothing found: the version is still recorded */
	static const char plain[] =
	    "{\"type\":\"call.ended\",\"version\":1,\"event_id\":"
	    "\"7d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\",\"customer_id\":7,\"occurred_at\":"
	    "\"2026-11-20T15:04:05Z\",\"call_id\":\"c1\",\"user_id\":\"u1\",\"turns\":[{\"role\":"
	    "\"user\",\"text\":\"hello\"}]}";
	UNIT_REQUIRE(event_decode(plain, strlen(plain), NULL, 0, NULL, &ev, err, sizeof(err)) ==
	             EVENT_OK);
	CHECK_INT(redact_edge_event(e, &ev, true, NULL), 0);
	CHECK_CONTAINS(ev.raw, "\"metadata\":{\"redaction\":{\"policy\":\"1/default-7f\","
	                       "\"counts\":{}}}");
	event_release(&ev);
	/* nothing found: the metadata is spliced into the text; agent after it still reads right */
	static const char spliced[] =
	    "{\"type\":\"call.ended\",\"version\":1,\"event_id\":"
	    "\"7d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\",\"customer_id\":7,\"occurred_at\":"
	    "\"2026-11-20T15:04:05Z\",\"call_id\":\"c1\",\"user_id\":\"u1\",\"metadata\": {\"a\":1},"
	    "\"turns\":[{\"role\":\"user\",\"text\":\"hi\"}],\"agent\":{\"name\":\"Sam\"}}  ";
	UNIT_REQUIRE(event_decode(spliced, strlen(spliced), NULL, 0, NULL, &ev, err, sizeof(err)) ==
	             EVENT_OK);
	CHECK_INT(redact_edge_event(e, &ev, true, NULL), 0);
	CHECK_CONTAINS(ev.raw, "\"metadata\": {\"redaction\":{\"policy\":\"1/default-7f\","
	                       "\"counts\":{}},\"a\":1},");
	CHECK(ev.call.agent.len == strlen("{\"name\":\"Sam\"}") &&
	      memcmp(ev.call.agent.ptr, "{\"name\":\"Sam\"}", ev.call.agent.len) == 0);
	CHECK_INT(event_decode(ev.raw, ev.raw_len, NULL, 0, NULL, &again, err, sizeof(err)),
	          EVENT_OK);
	CHECK(again.call.metadata.len == ev.call.metadata.len);
	event_release(&again);
	event_release(&ev);
	redact_edge_free(&e);
}

/* A memory.put's value: every string in it redacted on its own (keys, numbers and the rest
 * kept), the event encoded again with record; in place (ev->rewritten) without. */
UNIT_TEST(redact_event_memory_put_values)
{
	char err[256];
	struct redact_settings s = { "card,cvv,expiry,ssn,bank_account,routing,iban", NULL };
	struct redact_edge *e = redact_edge_new(&s, NULL, err, sizeof(err));
	UNIT_REQUIRE(e != NULL);
	static const char put[] =
	    "{\"type\":\"memory.put\",\"version\":1,\"event_id\":"
	    "\"7d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\",\"customer_id\":7,\"occurred_at\":"
	    "\"2026-11-20T15:04:05Z\",\"memory_id\":\"6d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\","
	    "\"user_id\":\"u1\",\"scope\":\"user\",\"mtype\":\"message\",\"key\":\"k1\","
	    "\"value\":{\"role\":\"user\",\"content\":\"my card is 4111 1111 1111 1111, "
	    "thanks\",\"n\":[1,\"social 123-45-6789\",null,5425233430109903],"
	    "\"4111111111111111\":true}}";
	for (int record = 1; record >= 0; record--) {
		struct event ev;
		UNIT_REQUIRE(event_decode(put, strlen(put), NULL, 0, NULL, &ev, err, sizeof(err)) ==
		             EVENT_OK);
		unsigned c[REDACT_NKINDS];
		CHECK_INT(redact_edge_event(e, &ev, record, c), 3);
		CHECK_INT(c[REDACT_CARD], 2);
		CHECK_INT(c[REDACT_SSN], 1);
		char *value = xmemdup0(ev.mem.value.ptr, ev.mem.value.len);
		CHECK_STR(value, "{\"role\":\"user\",\"content\":\"my card is "
		                 "[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
		                 "1111], thanks\",\"n\":[1,\"social [SSN]\",null,"
		                 "\"[CARD \xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
		                 "9903]\"],"
		                 "\"4111111111111111\":true}");
		free(value);
		if (record) { /* the text produced: redacted, and it decodes */
			CHECK(strstr(ev.raw, "4111 1111") == NULL);
			CHECK(strstr(ev.raw, "6789") == NULL);
			struct event again;
			CHECK_INT(event_decode(ev.raw, ev.raw_len, NULL, 0, NULL, &again, err,
			                       sizeof(err)),
			          EVENT_OK);
			CHECK_STR(again.mem.key, "k1");
			event_release(&again);
		}
		event_release(&ev);
	}
	/* nothing to replace: the event stays byte for byte */
	static const char plain[] =
	    "{\"type\":\"memory.put\",\"version\":1,\"event_id\":"
	    "\"7d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\",\"customer_id\":7,\"occurred_at\":"
	    "\"2026-11-20T15:04:05Z\",\"memory_id\":\"6d0f3c1e-4b1a-4e8e-9a52-0c7f1d2e3a4b\","
	    "\"user_id\":\"u1\",\"scope\":\"user\",\"mtype\":\"fact\",\"key\":\"k1\","
	    "\"value\":\"policy AP-449120, renews on the first\"}";
	struct event ev;
	UNIT_REQUIRE(event_decode(plain, strlen(plain), NULL, 0, NULL, &ev, err, sizeof(err)) ==
	             EVENT_OK);
	CHECK_INT(redact_edge_event(e, &ev, true, NULL), 0);
	CHECK_STR(ev.raw, plain);
	event_release(&ev);
	redact_edge_free(&e);
}
