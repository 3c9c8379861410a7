/*
 * redact: finds payment cards, CVVs, expiry dates, social-security, bank account and routing
 * numbers and IBANs in a call's turns (and, when a tenant opts in, e-mail addresses, phone
 * numbers, dates of birth and street addresses) and replaces each with a typed placeholder:
 * "[CARD ••••1111]", "[CVV]", "[EXPIRY]", "[SSN]", "[BANK ACCOUNT]", "[ROUTING]", "[IBAN]",
 * "[EMAIL]", "[PHONE]", "[DOB]", "[ADDRESS]" (docs/redaction.md).
 *
 * One pass over the turns in order, carrying its state from turn to turn: digits written
 * ("4111 1111-1111"), spoken ("four one one one", "oh" for zero, "double five", "twenty six")
 * or both are joined into one run across separators, fillers ("uh", "dash") and consecutive
 * turns of the same speaker (another speaker's short acknowledgement, "okay", "go on", does
 * not break it). A run is cut into cards first (13-19 digits passing Luhn, with a card
 * network's prefix or a card word nearby), then what is left is typed by the nearest cue
 * word before it ("security code", "expires", "social", "routing", "checking account") and
 * its own checks (SSA ranges, the ABA checksum, a month). IBANs (mod-97) and the opt-in
 * written forms are found by pattern in each turn first. A value split across turns is
 * replaced in each turn and counted once.
 *
 * Guarantee (tests/fuzz/fuzz_redact.c asserts it on every input): in the output, no whole
 * groups of written digits joined by spaces and - . , / ( ) + make a Luhn-valid 13-19 digit
 * sequence with a card network's prefix (redact_holds_card), and a placeholder's digits (the
 * card's last four, between "•" and "]") never join a neighbouring run.
 *
 * Allocation-light: a struct redactor keeps its buffers from call to call; one per thread.
 * Never logs, and nothing it returns quotes a redacted value (the last four of a card aside).
 * Not here: which kinds a tenant wants (redact_policy.h), events and metadata (redact_event.h).
 */
#ifndef AIMEM_REDACT_H
#define AIMEM_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

enum redact_kind {
	REDACT_CARD,
	REDACT_CVV,
	REDACT_EXPIRY,
	REDACT_SSN,
	REDACT_BANK_ACCOUNT,
	REDACT_ROUTING,
	REDACT_IBAN,
	REDACT_EMAIL,   /* opt-in */
	REDACT_PHONE,   /* opt-in */
	REDACT_DOB,     /* opt-in */
	REDACT_ADDRESS, /* opt-in */
	REDACT_NKINDS
};

/* The kinds redacted unless a policy says otherwise (card .. iban). */
#define REDACT_DEFAULT_KINDS ((1u << REDACT_EMAIL) - 1u)
#define REDACT_ALL_KINDS ((1u << REDACT_NKINDS) - 1u)

/* Bumped whenever what is found changes; part of every policy version. */
#define REDACT_RULES_VERSION "1"

/* The redact.* section of a program's settings (the programs that produce events and those
 * that send text to a model): embed struct redact_settings and list
 * REDACT_CFG_ITEMS(offsetof(struct its_settings, redact)) in the table. The policy it
 * describes is built by redact_policy_load (redact_policy.h). */
struct redact_settings {
	char *kinds;      /* comma-separated kind names, or "none" */
	char *tenant_dir; /* NULL: every tenant gets kinds */
};

/* clang-format off */
#define REDACT_S_(base, field) ((base) + offsetof(struct redact_settings, field))
#define REDACT_CFG_ITEMS(base) \
	{ .key = "redact.kinds", .type = CFG_STRING, \
	  .def = "card,cvv,expiry,ssn,bank_account,routing,iban", .offset = REDACT_S_(base, kinds), \
	  .help = "what is replaced in every call's turns before it is produced, stored or sent to a " \
	          "model: a comma-separated list of card, cvv, expiry, ssn, bank_account, routing, " \
	          "iban, email, phone, dob, address, or none (docs/redaction.md); read again on " \
	          "SIGHUP" }, \
	{ .key = "redact.tenant_dir", .type = CFG_STRING, .flags = CFG_PATH, \
	  .offset = REDACT_S_(base, tenant_dir), \
	  .help = "folder of tenants' policies, <customer_id>.conf with lines \"<kind> on|off\" " \
	          "adding to or removing from redact.kinds; read at start and on SIGHUP " \
	          "(docs/redaction.md); unset: redact.kinds for every tenant" }
/* clang-format on */

/* "card", "cvv", "expiry", "ssn", "bank_account", "routing", "iban", "email", "phone", "dob",
 * "address": the names in policies, metadata and the metric's kind label. */
const char *redact_kind_name(enum redact_kind k);
/* The kind named by s[0..len), or -1. */
int redact_kind_parse(const char *s, size_t len);

/* One turn to read: speaker is any small integer (the event's role), text valid UTF-8. */
struct redact_turn {
	int speaker;
	const char *text;
	size_t len;
};

struct redactor;

struct redactor *redact_new(void);
void redact_free(struct redactor **r);

/*
 * Reads turns[0..n) (borrowed for the call only) and finds the kinds in the mask. Returns how
 * many values were replaced; counts[k] (may be NULL) receives the number per kind. Afterwards
 * redact_text gives each turn's text. Not thread-safe per redactor; never fails (memory
 * aborts).
 */
size_t redact_run(struct redactor *r, unsigned kinds, const struct redact_turn *turns, size_t n,
                  unsigned counts[REDACT_NKINDS]);
/* Turn i's text after the last redact_run, and whether it changed. When unchanged it is the
 * caller's own text; otherwise it is owned by r until its next run. */
const char *redact_text(const struct redactor *r, size_t i, size_t *len, bool *changed);

/* The guarantee's own check, deliberately simpler than the scanner: true when text holds a
 * card (redact_is_card) made of whole groups of written digits joined only by spaces and
 * - . , / ( ) + ("4111 1111-1111 1111"; not 16 digits inside a longer group, as in a
 * tracking number). The fuzz target and the tests hold every output to it. */
bool redact_holds_card(const char *text, size_t len);

/* The Luhn check over digits[0..n) ('0'..'9'); the ABA routing checksum of 9 digits. */
bool redact_luhn(const char *digits, size_t n);
bool redact_aba(const char *digits);
/* A 13-19 digit sequence a card network issues (Visa, Mastercard, Amex, Discover, JCB,
 * Diners, UnionPay prefixes) that passes Luhn. */
bool redact_is_card(const char *digits, size_t n);

#endif
