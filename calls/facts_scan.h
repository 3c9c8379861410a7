/*
 * facts_scan: cheap transcript scanners for the caller facts no processor extracts: contact
 * preference, postal address, family members, account and order numbers, appointments and
 * promised follow-ups with their dates. Conservative by design (precision over recall): each
 * needs a cue word in the same sentence, skips questions and negated sentences, and takes
 * nothing it has to guess at. The patterns are documented in docs/facts.md.
 *
 * Word by word over text_next_sentence / text_next_word, no lexicon files and no regular
 * expressions: a turn is read a constant number of times. Pure, thread-safe.
 *
 * Not here: names, phones, e-mails, policy/claim numbers, vehicles (the key_variables of the
 * built-in extractor or the model, mapped in facts.c).
 */
#ifndef AIMEM_FACTS_SCAN_H
#define AIMEM_FACTS_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "facts.h"

/* Scans one turn's text[0..len) (borrowed) into f; caller: said by the caller (the user
 * role), else by the agent. */
void facts_scan_turn(struct facts *f, const char *text, size_t len, bool caller);
/* After the last turn: drops a family relation mentioned bare ("my son") when the same call
 * also named it ("my son Tom"). */
void facts_scan_finish(struct facts *f);

#endif
