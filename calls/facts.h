/*
 * facts: the typed caller facts of one call (issue 13 item 6), the per-call half of the
 * caller_facts table: what the call said about the caller that is worth remembering across
 * calls (name, e-mail, address, contact preference, phone numbers, policy/claim/account/order
 * numbers, vehicles, family members, appointments and promised follow-ups).
 *
 * Two sources, merged: the key_variables a processor produced (the built-in extractor's or a
 * model answer's: caller_name, phone_numbers, emails, policy_numbers, claim_numbers, vehicles;
 * amounts and bare dates are no facts on their own and are left out), and the cheap transcript
 * scanners of facts_scan.h for what no processor extracts. Precision over recall throughout: a
 * single-valued kind (name, email, address, contact_preference) said with two different values
 * in one call is dropped for that call rather than guessed.
 *
 * The result is the call's facts as stored on its call_summaries row (column facts); the
 * summarizer folds every call of a caller into caller_facts (first/last seen, count of distinct
 * calls, the newest value of a single-valued kind superseding the older ones). Nothing here
 * touches a database or logs. Pure, thread-safe, bounded: at most FACTS_MAX facts per call.
 */
#ifndef AIMEM_FACTS_H
#define AIMEM_FACTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "event.h"

#define FACTS_MAX 24        /* facts kept per call */
#define FACTS_VALUE_MAX 128 /* bytes per value (longer values are not taken) */

enum facts_kind {
	/* single-valued: a newer call's value replaces the older one */
	FACTS_NAME,
	FACTS_EMAIL,
	FACTS_ADDRESS,
	FACTS_CONTACT_PREFERENCE,
	/* multi-valued: every value accumulates */
	FACTS_PHONE,
	FACTS_POLICY_NUMBER,
	FACTS_CLAIM_NUMBER,
	FACTS_ACCOUNT_NUMBER,
	FACTS_ORDER_NUMBER,
	FACTS_VEHICLE,
	FACTS_FAMILY_MEMBER,
	FACTS_APPOINTMENT,
	FACTS_FOLLOW_UP,
	FACTS_KIND_COUNT
};

struct facts_item {
	enum facts_kind kind;
	bool dropped; /* a single-valued kind seen with another value in the same call */
	char value[FACTS_VALUE_MAX + 1];
	char key[FACTS_VALUE_MAX + 1]; /* the identity: folded, punctuation-free value */
};

struct facts {
	size_t n;
	struct facts_item item[FACTS_MAX];
	unsigned asked; /* facts_scan's state between turns: what the agent just asked for */
};

/* The stored name of a kind ("name", "email", "address", "contact_preference", "phone",
 * "policy_number", "claim_number", "account_number", "order_number", "vehicle",
 * "family_member", "appointment", "follow_up"). */
const char *facts_kind_name(enum facts_kind kind);
/* True for the kinds a newer value replaces. */
bool facts_kind_single(enum facts_kind kind);

void facts_init(struct facts *f);
/*
 * Adds value[0..len) (trimmed; must be valid UTF-8, 1..FACTS_VALUE_MAX bytes) unless its key
 * is already there or the list is full. A second, different value of a single-valued kind
 * drops both. Returns true when the value is (now or already) present.
 */
bool facts_add(struct facts *f, enum facts_kind kind, const char *value, size_t len);

/*
 * The facts of one call: key_variables (borrowed; an object or NULL) mapped, then every caller
 * and agent turn of call (borrowed) scanned. Returns a new JSON array (owned by the caller) of
 * {"kind", "value", "key", "single"} objects in order of discovery; [] when nothing was found.
 */
json_t *facts_from_call(const struct event_call *call, const json_t *key_variables);

/* The JSON array of f (see facts_from_call); a new reference. */
json_t *facts_json(const struct facts *f);

#endif
