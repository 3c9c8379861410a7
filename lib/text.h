/*
 * text: byte-level helpers for transcript text (English, some Spanish): sentence splitting,
 * word tokenising, ASCII case folding, word hashing, UTF-8-safe cutting and a loader for
 * small word-list files.
 *
 * Everything works on (ptr, len) UTF-8 and allocates nothing, except the list loader, which
 * reads its file. Invalid UTF-8 never crashes anything: stray bytes count as separators.
 * Case folding is ASCII only ("É" stays "É"): cheap, locale-free and thread-safe.
 *
 * Not here: stemming beyond the plural rule of text_word_hash(), language detection,
 * anything that knows about insurance calls (that is proc_*).
 */
#ifndef AIMEM_TEXT_H
#define AIMEM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct text_span {
	size_t off;
	size_t len;
};

enum text_word_flag {
	TEXT_W_CAP = 1u << 0,    /* first byte is an ASCII capital */
	TEXT_W_UPPER = 1u << 1,  /* two or more letters, every letter an ASCII capital */
	TEXT_W_DIGIT = 1u << 2,  /* contains a digit */
	TEXT_W_NUMBER = 1u << 3, /* ASCII digits only */
	TEXT_W_BREAK = 1u << 4,  /* clause punctuation (, ; : . ! ? brackets quotes dashes) or a
	                            line break between the previous word and this one */
	TEXT_W_NT = 1u << 5,     /* ends in n't (don't, can't, isn't): a negation */
	TEXT_W_POSS = 1u << 6,   /* ends in 's (Kelly's, driver's) */
};

struct text_word {
	size_t off;
	size_t len;
	unsigned flags; /* enum text_word_flag */
};

/*
 * Word iterator: finds the next word at or after *pos, fills *w and moves *pos past it;
 * false at the end. A word is a run of ASCII letters and digits and non-ASCII letters, with
 * inner apostrophes (' or U+2019: don't, O'Brien). Hyphens, slashes, dots and '$' separate
 * words ("F-150" is "F" then "150"; callers that need the original shape use the spans).
 */
bool text_next_word(const char *s, size_t len, size_t *pos, struct text_word *w);

/*
 * Sentence iterator: the next sentence at or after *pos without surrounding white space,
 * terminal punctuation included. A sentence ends at . ! ? or … followed by white space or
 * the end, and at a line break. Not at "Mr." "Dr." "Nov." and other abbreviations, single
 * initials ("J.") or dots inside tokens ("$212.00", "949.555.1234", "a.b@c.com").
 */
bool text_next_sentence(const char *s, size_t len, size_t *pos, struct text_span *out);

/* ASCII case folding of one byte; other bytes unchanged. */
static inline char text_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* True when s (n bytes) equals the NUL-terminated lower-case literal lit, ASCII-folded. */
bool text_ieq(const char *s, size_t n, const char *lit);

/* The word's FNV-1a 64-bit hash after folding (ASCII lower case, U+2019 as '). *stem gets
 * the hash of its singular guess: "bills" "bill", "policies" "policy", "Kelly's" "kelly";
 * the word's own hash when no rule applies (-ss, -us, -is, words under four bytes). */
uint64_t text_word_hash(const char *s, size_t len, uint64_t *stem);
/* FNV-1a 64 of raw bytes, continuing from h (start with TEXT_FNV_OFFSET). */
#define TEXT_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t text_fnv(uint64_t h, const void *p, size_t len);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool text_utf8_valid(const char *s, size_t len);
/* The largest n <= max such that s[0..n) does not end inside a UTF-8 sequence. */
size_t text_utf8_cut(const char *s, size_t len, size_t max);

/*
 * Loads a word list: calls fn once per entry line (surrounding white space trimmed, '\r'
 * dropped, everything from '#' on is a comment, blank lines skipped). fn returns 0, or -1
 * after writing a reason into err; the loader then prefixes "path:line: ". Files over
 * 1 MiB, NUL bytes and invalid UTF-8 are refused with the line number. Returns 0 or -1.
 */
typedef int (*text_line_fn)(void *arg, const char *line, size_t len, unsigned lineno, char *err,
                            size_t errlen);
int text_list_load(const char *path, text_line_fn fn, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
