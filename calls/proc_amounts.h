/*
 * proc_amounts: money amounts and dates, in digits and in words.
 *
 * Amounts: "$212.00", "$1,250", "212 dollars", "forty dollars", "two hundred and twelve
 * dollars" (and "bucks", "dólares"); written back as "$212.00" (two decimals, no commas).
 * Dates: "11/20/2026", "11/20", "2026-11-20", "November 20th", "Nov. 20, 2026", "the 20th
 * of November", "20 de noviembre", ordinal words ("November twenty-fifth") and "on/by the
 * 15th"; written back as said (the year is often unknown, so no normal form is invented).
 *
 * Not here: relative dates ("next Tuesday", "tomorrow"), times of day, ranges.
 */
#ifndef AIMEM_PROC_AMOUNTS_H
#define AIMEM_PROC_AMOUNTS_H

#include <stddef.h>

#include "proc_extract.h"

void proc_amounts_turn(struct proc_extract *x, const char *text, size_t len,
                       const struct proc_tok *toks, size_t ntoks);

#endif
