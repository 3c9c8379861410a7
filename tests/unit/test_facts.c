/*
 * Unit tests for calls/facts and calls/facts_scan: the mapping of key_variables (built-in or
 * model) to typed facts, the keys, the single-valued rule, and each transcript scanner on what
 * it must take and, as much, on what it must leave alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "facts.h"
#include "unit.h"

struct facts_test_call {
	struct event_call call;
	struct event_turn turns[16];
};

/* The facts of a call as "kind=value;kind=value" (single-valued kinds marked with '!'). vars:
 * key_variables JSON text or NULL; roles 'u' caller, 'a' agent, 's' system. */
static char *facts_test(const char *vars, const char *roles, const char *const *texts)
{
	struct facts_test_call tc;
	memset(&tc, 0, sizeof(tc));
	size_t n = roles ? strlen(roles) : 0;
	for (size_t i = 0; i < n && i < 16; i++) {
		enum event_role r = roles[i] == 'u'   ? EVENT_ROLE_USER
		                    : roles[i] == 'a' ? EVENT_ROLE_ASSISTANT
		                                      : EVENT_ROLE_SYSTEM;
		tc.turns[i] = (struct event_turn){ r, texts[i], strlen(texts[i]), NULL };
	}
	tc.call.call_id = "CAfacts";
	tc.call.user_id = "9495551234";
	tc.call.turns = tc.turns;
	tc.call.nturns = n;
	json_t *kv = vars ? json_loads(vars, 0, NULL) : NULL;
	json_t *arr = facts_from_call(&tc.call, kv);
	json_decref(kv);
	struct buf out = BUF_INIT;
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
	{
		buf_appendf(&out, "%s%s%s=%s", i ? ";" : "",
		            json_string_value(json_object_get(o, "kind")),
		            json_is_true(json_object_get(o, "single")) ? "!" : "",
		            json_string_value(json_object_get(o, "value")));
	}
	json_decref(arr);
	char *s = strdup(buf_str(&out));
	buf_free(&out);
	return s;
}

#define CHECK_FACTS(vars, roles, texts, want)                                                      \
	do {                                                                                       \
		char *got_ = facts_test(vars, roles, texts);                                       \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

UNIT_TEST(facts_from_key_variables)
{
	/* the built-in extractor's and a model answer's key_variables map the same way; amounts
	 * and bare dates are no facts */
	const char *kv = "{\"caller_name\":\"Kelly Nguyen\",\"phone_numbers\":[\"949-555-1234\","
	                 "\"714-555-0000\"],\"emails\":[\"kelly@example.com\"],"
	                 "\"policy_numbers\":[\"AP-449120\"],\"claim_numbers\":[\"CL-2026-88213\"],"
	                 "\"vehicles\":[\"2019 Honda Civic\"],\"amounts\":[\"$212.00\"],"
	                 "\"dates\":[\"November 20\"]}";
	CHECK_FACTS(kv, NULL, NULL,
	            "name!=Kelly Nguyen;email!=kelly@example.com;phone=949-555-1234;"
	            "phone=714-555-0000;policy_number=AP-449120;claim_number=CL-2026-88213;"
	            "vehicle=2019 Honda Civic");
	/* two e-mails in one call: which is the caller's is a guess, so neither */
	CHECK_FACTS("{\"emails\":[\"a@x.com\",\"b@y.com\"],\"vehicles\":[\"Honda Civic\","
	            "\"honda  civic\"]}",
	            NULL, NULL, "vehicle=Honda Civic");
	/* wrong types and empty values are ignored, not fatal */
	CHECK_FACTS("{\"caller_name\":7,\"emails\":\"x@y.com\",\"phone_numbers\":[1,\"\",\" \"]}",
	            NULL, NULL, "");
	CHECK_FACTS("[1,2]", NULL, NULL, "");
}

UNIT_TEST(facts_keys_and_limits)
{
	struct facts f;
	facts_init(&f);
	CHECK(facts_add(&f, FACTS_ADDRESS, "12 Oak St., Apt 4", 17));
	CHECK(facts_add(&f, FACTS_ADDRESS, "12 oak street apartment 4", 25)); /* same key */
	CHECK_INT(f.n, 1);
	CHECK_STR(f.item[0].key, "12 oak street apartment 4");
	CHECK_STR(f.item[0].value, "12 Oak St., Apt 4");
	CHECK(!facts_add(&f, FACTS_ADDRESS, "9 Elm Road", 10)); /* a second address: both out */
	CHECK(!facts_add(&f, FACTS_ADDRESS, "12 Oak Street Apt 4", 19));
	json_t *j = facts_json(&f);
	CHECK_INT(json_array_size(j), 0);
	json_decref(j);
	CHECK(!facts_add(&f, FACTS_PHONE, "", 0));
	CHECK(!facts_add(&f, FACTS_PHONE, "\xff\xfe", 2));
	CHECK(!facts_add(&f, FACTS_PHONE, "---", 3)); /* no key */
	char big[FACTS_VALUE_MAX + 2];
	memset(big, 'a', sizeof(big));
	CHECK(!facts_add(&f, FACTS_VEHICLE, big, sizeof(big)));
	CHECK(!facts_add(&f, FACTS_KIND_COUNT, "x", 1));
	facts_init(&f);
	char v[16];
	for (int i = 0; i < FACTS_MAX + 5; i++) {
		int n = snprintf(v, sizeof(v), "AB%05d", i);
		facts_add(&f, FACTS_POLICY_NUMBER, v, (size_t)n);
	}
	CHECK_INT(f.n, FACTS_MAX);
	CHECK_STR(facts_kind_name(FACTS_CONTACT_PREFERENCE), "contact_preference");
	CHECK(facts_kind_single(FACTS_EMAIL) && !facts_kind_single(FACTS_PHONE));
}

UNIT_TEST(facts_contact_preference)
{
	const char *t1[] = { "Sure. I prefer email, it's easier for me." };
	CHECK_FACTS(NULL, "u", t1, "contact_preference!=email");
	const char *t2[] = { "The best way to reach me is by text." };
	CHECK_FACTS(NULL, "u", t2, "contact_preference!=text message");
	const char *t3[] = { "Please contact me by phone after five." };
	CHECK_FACTS(NULL, "u", t3, "contact_preference!=phone call");
	/* the agent's question, a negated sentence, a question, no cue: nothing */
	const char *t4[] = { "Do you prefer email or text?", "I don't want email, honestly.",
		             "Would you rather I text you?", "Can you email me the quote?" };
	CHECK_FACTS(NULL, "auuu", t4, "");
	/* the agent asked: the answer needs no cue of its own (but only the next caller turn) */
	const char *t6[] = { "How would you prefer we contact you?", "Text, please." };
	CHECK_FACTS(NULL, "au", t6, "contact_preference!=text message");
	const char *t7[] = { "How would you prefer we contact you?", "Hmm.", "Okay.",
		             "I'll text my wife." };
	CHECK_FACTS(NULL, "auau", t7, "family_member=wife");
	/* two channels in two sentences: ambiguous, dropped */
	const char *t5[] = { "I prefer email.", "Actually I'd rather get a text." };
	CHECK_FACTS(NULL, "uu", t5, "");
}

UNIT_TEST(facts_address)
{
	const char *t1[] = { "What's the new address?",
		             "My new address is 45 Elm Avenue, Apt 3B, Irvine, CA 92618." };
	CHECK_FACTS(NULL, "au", t1, "address!=45 Elm Avenue, Apt 3B, Irvine, CA 92618");
	const char *t2[] = { "I moved from 12 Oak Street to 9 Pine Road last week." };
	CHECK_FACTS(NULL, "u", t2, "address!=9 Pine Road");
	const char *t3[] = { "I live at 1200 North Main St. in Tustin." };
	CHECK_FACTS(NULL, "u", t3, "address!=1200 North Main St");
	/* the answer to the agent's question (tests/fixtures/transcripts/04_address_change) */
	const char *t5[] = { "Thank you, Priya. What's the new address?",
		             "It's 1420 Seabreeze Lane, Unit 3, Newport Beach, California 92660.",
		             "Is that also where your car is parked?", "Yes, 12 Main Street too." };
	CHECK_FACTS(NULL, "auau", t5,
	            "address!=1420 Seabreeze Lane, Unit 3, Newport Beach, California 92660");
	/* no cue word, an amount, the agent's office, a question: nothing */
	const char *t4[] = { "The accident was at 500 Main Street.", "It cost $300 Street fees.",
		             "Our office address is 100 Spectrum Drive.",
		             "Is your address 4 Elm Street?" };
	CHECK_FACTS(NULL, "uuau", t4, "");
}

UNIT_TEST(facts_family)
{
	const char *t1[] = { "I want to add my daughter Emma to the policy.",
		             "My daughter just got her license, and my husband's car is old." };
	CHECK_FACTS(NULL, "uu", t1, "family_member=Emma (daughter);family_member=husband");
	const char *t2[] = { "My wife And I are moving.", "My son, he drives the Civic.",
		             "Is that your son?" };
	CHECK_FACTS(NULL, "uua", t2, "family_member=wife;family_member=son");
	const char *t3[] = { "My mom Tuesday called." }; /* a day is no name */
	CHECK_FACTS(NULL, "u", t3, "family_member=mother");
}

UNIT_TEST(facts_account_and_order_numbers)
{
	const char *t1[] = { "My account number is 4471-2290.", "And the order #a55821 never came.",
		             "Your order number is 77812." };
	CHECK_FACTS(NULL, "uua", t1,
	            "account_number=4471-2290;order_number=A55821;order_number=77812");
	const char *t2[] = { "I'd like to order 2 pizzas.", "The account has $1500 in it.",
		             "My account balance is 12000." };
	CHECK_FACTS(NULL, "uuu", t2, "");
}

UNIT_TEST(facts_appointments)
{
	const char *t1[] = { "Okay, your appointment is Tuesday at 3:30 p.m. with Dr. Lee." };
	CHECK_FACTS(NULL, "a", t1, "appointment=Tuesday at 3:30 p.m.");
	const char *t2[] = { "I've booked you for next Friday the 12th at 10 am." };
	CHECK_FACTS(NULL, "a", t2, "appointment=next Friday the 12th at 10 am");
	const char *t3[] = { "I have a reservation on March 4." };
	CHECK_FACTS(NULL, "u", t3, "appointment=March 4");
	/* a cancellation, a question, no date, a payment "scheduled" for Friday: nothing */
	const char *t4[] = { "I need to cancel my appointment on Tuesday.",
		             "Do you have an appointment tomorrow?",
		             "I'd like to book an appointment.",
		             "Your payment is scheduled for Friday." };
	CHECK_FACTS(NULL, "uaua", t4, "");
}

UNIT_TEST(facts_follow_ups)
{
	const char *t1[] = { "I'll call you back tomorrow morning with the numbers." };
	CHECK_FACTS(NULL, "a", t1, "follow_up=Agent will call the caller back tomorrow morning");
	const char *t2[] = { "Okay, I will send you my pay stub by Friday." };
	CHECK_FACTS(NULL, "u", t2, "follow_up=Caller will send the agent their pay stub by Friday");
	const char *t3[] = { "An adjuster will contact you within two business days." };
	CHECK_FACTS(NULL, "a", t3,
	            "follow_up=Agent will contact the caller within two business days");
	/* no date, negated, a question, "get" without "back": nothing */
	const char *t4[] = { "I'll send you the form.", "We won't call you tomorrow.",
		             "Will you call me tomorrow?", "I'll get the manager tomorrow." };
	CHECK_FACTS(NULL, "aaua", t4, "");
}

UNIT_TEST(facts_whole_call)
{
	const char *texts[] = {
		"Thanks for calling Acme Insurance, this is Sam.",
		"Hi, this is Kelly Nguyen. I moved, my new address is 45 Elm Avenue.",
		"Got it. Anything else?",
		"Yes, please contact me by email from now on. My son Jake is on the policy.",
		"Done. I'll email you the new declarations page by Friday.",
		"[system] summary requested",
	};
	const char *kv = "{\"caller_name\":\"Kelly Nguyen\",\"emails\":[\"kelly@example.com\"]}";
	CHECK_FACTS(kv, "auauas", texts,
	            "name!=Kelly Nguyen;email!=kelly@example.com;address!=45 Elm Avenue;"
	            "contact_preference!=email;family_member=Jake (son);"
	            "follow_up=Agent will email the caller the new declarations page by Friday");
}

/* A 1 MiB turn made of what the scanners look for (promises, date words, relations, cue
 * words) keeps at most FACTS_MAX facts. Its speed is not timed here (no timed unit tests):
 * bench/summarize.sh measures the processors' calls/s. */
UNIT_TEST(facts_big_turn_bounded)
{
	static const char unit[] =
	    "I'll call 5 5 next I'll send 4 4 4 4 4 4 4 4 4 4 we'll call 3 3 "
	    "3 3 3 3 3 3 3 3 my son Tom order 12345 appointment at 3 prefer "
	    "12 Oak Street address I'll call 5 5 5 5 5 5 5 5 5 5 5 5. ";
	size_t len = 1 << 20, n = strlen(unit);
	char *text = malloc(len + 1);
	UNIT_REQUIRE(text != NULL);
	for (size_t i = 0; i < len; i++)
		text[i] = unit[i % n];
	text[len] = '\0';
	const char *texts[] = { text };
	char *got = facts_test(NULL, "u", texts);
	UNIT_REQUIRE(got != NULL);
	CHECK(strlen(got) < FACTS_MAX * (FACTS_VALUE_MAX + 32));
	free(got);
	free(text);
}
