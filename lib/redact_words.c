/*
 * redact_words: the table of redact_words.h, hashed into an open-addressing array on first
 * use (pthread_once), then read-only.
 */
#include "redact_words.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

struct rw_entry {
	const char *w;
	struct redact_word v;
};

/* clang-format off */
#define D(w, n) { w, { RW_DIGIT, n, RC_NONE } }
#define K(w, n) { w, { RW_WEAK, n, RC_NONE } }
#define T(w, n) { w, { RW_TEEN, n, RC_NONE } }
#define X(w, n) { w, { RW_TENS, n, RC_NONE } }
#define M(w, n) { w, { RW_MONTH, n, RC_NONE } }
#define F(w) { w, { RW_FILLER, 0, RC_NONE } }
#define C(w, c) { w, { RW_OTHER, 0, c } }
/* clang-format on */

static const struct rw_entry rw_table[] = {
	D("zero", 0),
	D("one", 1),
	D("two", 2),
	D("three", 3),
	D("four", 4),
	D("five", 5),
	D("six", 6),
	D("seven", 7),
	D("eight", 8),
	D("nine", 9),
	D("niner", 9),
	/* ASR's homophones and "oh" for zero: digits only between digits */
	K("oh", 0),
	K("o", 0),
	K("won", 1),
	K("to", 2),
	K("too", 2),
	K("for", 4),
	K("fore", 4),
	K("ate", 8),
	T("ten", 10),
	T("eleven", 11),
	T("twelve", 12),
	T("thirteen", 13),
	T("fourteen", 14),
	T("fifteen", 15),
	T("sixteen", 16),
	T("seventeen", 17),
	T("eighteen", 18),
	T("nineteen", 19),
	/* ordinals, for dates: "march fourteenth", "the twenty first" */
	K("first", 1),
	K("second", 2),
	D("third", 3),
	D("fourth", 4),
	D("fifth", 5),
	D("sixth", 6),
	D("seventh", 7),
	D("eighth", 8),
	D("ninth", 9),
	T("tenth", 10),
	T("eleventh", 11),
	T("twelfth", 12),
	T("thirteenth", 13),
	T("fourteenth", 14),
	T("fifteenth", 15),
	T("sixteenth", 16),
	T("seventeenth", 17),
	T("eighteenth", 18),
	T("nineteenth", 19),
	X("twentieth", 2),
	X("thirtieth", 3),
	X("twenty", 2),
	X("thirty", 3),
	X("forty", 4),
	X("fourty", 4),
	X("fifty", 5),
	X("sixty", 6),
	X("seventy", 7),
	X("eighty", 8),
	X("ninety", 9),
	{ "hundred", { RW_HUNDRED, 0, RC_NONE } },
	{ "double", { RW_MULT, 2, RC_NONE } },
	{ "triple", { RW_MULT, 3, RC_NONE } },
	F("uh"),
	F("um"),
	F("uhm"),
	F("er"),
	F("erm"),
	F("ah"),
	F("hmm"),
	F("mm"),
	F("and"),
	F("dash"),
	F("hyphen"),
	F("space"),
	F("then"),
	F("st"),
	F("nd"),
	F("rd"),
	F("th"),
	/* "may" too, but as a weak month (redact.c) */
	M("january", 1),
	M("jan", 1),
	M("february", 2),
	M("feb", 2),
	M("march", 3),
	M("april", 4),
	M("may", 5),
	M("apr", 4),
	M("june", 6),
	M("jun", 6),
	M("july", 7),
	M("jul", 7),
	M("august", 8),
	M("aug", 8),
	M("september", 9),
	M("sept", 9),
	M("sep", 9),
	M("october", 10),
	M("oct", 10),
	M("november", 11),
	M("nov", 11),
	M("december", 12),
	M("dec", 12),
	C("card", RC_CARD),
	C("visa", RC_CARD),
	C("mastercard", RC_CARD),
	C("amex", RC_CARD),
	C("discover", RC_CARD),
	C("credit", RC_CARD),
	C("debit", RC_CARD),
	C("cardholder", RC_CARD),
	C("cvv", RC_CVV),
	C("cvc", RC_CVV),
	C("cvv2", RC_CVV),
	C("cid", RC_CVV),
	C("security", RC_CVV),
	C("verification", RC_CVV),
	C("digits", RC_CODE),
	C("expires", RC_EXPIRY),
	C("expiry", RC_EXPIRY),
	C("expiration", RC_EXPIRY),
	C("exp", RC_EXPIRY),
	C("expire", RC_EXPIRY),
	C("expiring", RC_EXPIRY),
	C("expired", RC_EXPIRY),
	C("thru", RC_EXPIRY),
	C("social", RC_SSN),
	C("ssn", RC_SSN),
	C("routing", RC_ROUTING),
	C("aba", RC_ROUTING),
	C("transit", RC_ROUTING),
	C("bank", RC_BANK),
	C("checking", RC_BANK),
	C("savings", RC_BANK),
	C("account", RC_ACCOUNT),
	C("acct", RC_ACCOUNT),
	C("code", RC_CODE),
	C("birth", RC_DOB),
	C("born", RC_DOB),
	C("birthday", RC_DOB),
	C("dob", RC_DOB),
	C("birthdate", RC_DOB),
	C("phone", RC_PHONE),
	C("cell", RC_PHONE),
	C("mobile", RC_PHONE),
	C("telephone", RC_PHONE),
	C("callback", RC_PHONE),
	C("order", RC_NEG),
	C("policy", RC_NEG),
	C("confirmation", RC_NEG),
	C("reference", RC_NEG),
	C("ref", RC_NEG),
	C("tracking", RC_NEG),
	C("invoice", RC_NEG),
	C("claim", RC_NEG),
	C("member", RC_NEG),
	C("membership", RC_NEG),
	C("ticket", RC_NEG),
	C("case", RC_NEG),
	C("extension", RC_NEG),
	C("zip", RC_NEG),
	C("dollars", RC_NEG),
	C("bucks", RC_NEG),
	C("cents", RC_NEG),
	C("total", RC_NEG),
	C("balance", RC_NEG),
	C("amount", RC_NEG),
	C("price", RC_NEG),
	C("percent", RC_NEG),
	C("serial", RC_NEG),
	C("model", RC_NEG),
	C("booking", RC_NEG),
	C("reservation", RC_NEG),
	C("receipt", RC_NEG),
	C("area", RC_NEG),
	C("promo", RC_NEG),
	C("postal", RC_NEG),
	C("discount", RC_NEG),
	C("coupon", RC_NEG),
};

#define RW_SLOTS 512 /* a power of two, over twice the table */
#define RW_MAXLEN REDACT_WORD_MAXLEN

/* A slot holds its word itself, lower-cased and zero-padded to 16 bytes as two integers, so a
 * probe is two compares (rw_key); v NULL: empty. */
struct rw_slot {
	uint64_t k0, k1;
	const struct redact_word *v;
};

static struct rw_slot rw_slot[RW_SLOTS];
uint32_t redact_word_shapes[REDACT_WORD_MAXLEN][26];
static pthread_once_t rw_once = PTHREAD_ONCE_INIT;

/* The bytes of x with A-Z lower-cased, all eight at once (a byte's high bit never carries). */
static uint64_t rw_lower(uint64_t x)
{
	const uint64_t high = 0x8080808080808080u, ones = 0x0101010101010101u;
	uint64_t low7 = x & ~high;
	uint64_t upper =
	    ((low7 + ones * (0x80 - 'A')) ^ (low7 + ones * (0x80 - 'Z' - 1))) & ~x & high;
	return x | upper >> 2;
}

/* The key of w[0..len) (len < RW_MAXLEN), of which readable bytes (>= len) may be read: byte i
 * of the word lower-cased (A-Z only) in bits 8i.. of k[0] (i < 8) or k[1], zero-padded, its
 * length in k[1]'s top byte. With 16 bytes readable on a little-endian machine, two loads
 * instead of a byte loop. */
static void rw_key(const char *w, size_t len, size_t readable, uint64_t k[2])
{
	uint64_t k0 = 0, k1 = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (readable >= 16) {
		memcpy(&k0, w, 8);
		memcpy(&k1, w + 8, 8);
		k0 &= len >= 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
		k1 &= len > 8 ? (1ULL << (8 * (len - 8))) - 1 : 0;
	} else
#endif
	{
		for (size_t i = 0; i < len && i < 8; i++)
			k0 |= (uint64_t)(unsigned char)w[i] << (8 * i);
		for (size_t i = 8; i < len; i++)
			k1 |= (uint64_t)(unsigned char)w[i] << (8 * (i - 8));
	}
	(void)readable;
	k[0] = rw_lower(k0);
	k[1] = rw_lower(k1) | (uint64_t)len << 56;
}

static uint32_t rw_hash(const uint64_t k[2])
{
	return (uint32_t)((k[0] * 0x9E3779B97F4A7C15u ^ k[1] * 0xC2B2AE3D27D4EB4Fu) >> 40) &
	       (RW_SLOTS - 1);
}

static bool rw_letter(char c)
{
	return c >= 'a' && c <= 'z';
}

static void rw_build(void)
{
	_Static_assert(sizeof(rw_table) / sizeof(rw_table[0]) * 2 < RW_SLOTS, "rw_slot too small");
	for (size_t i = 0; i < sizeof(rw_table) / sizeof(rw_table[0]); i++) {
		const char *w = rw_table[i].w;
		size_t len = strlen(w);
		uint64_t k[2];
		rw_key(w, len, len, k);
		uint32_t h = rw_hash(k);
		while (rw_slot[h].v != NULL)
			h = (h + 1) & (RW_SLOTS - 1);
		rw_slot[h] = (struct rw_slot){ k[0], k[1], &rw_table[i].v };
		if (len < RW_MAXLEN && rw_letter(w[0]) && rw_letter(w[len - 1]))
			redact_word_shapes[len][w[0] - 'a'] |= 1u << (w[len - 1] - 'a');
	}
}

void redact_words_init(void)
{
	pthread_once(&rw_once, rw_build);
}

const struct redact_word *redact_word_find(const char *word, size_t len)
{
	return redact_word_find_in(word, len, len);
}

const struct redact_word *redact_word_find_in(const char *word, size_t len, size_t readable)
{
	if (len == 0 || len >= RW_MAXLEN)
		return NULL;
	char first = (char)(word[0] | 0x20), last = (char)(word[len - 1] | 0x20);
	if (rw_letter(first) && rw_letter(last) &&
	    !(redact_word_shapes[len][first - 'a'] & (1u << (last - 'a'))))
		return NULL; /* the common case, decided before lower-casing the word */
	uint64_t k[2];
	rw_key(word, len, readable, k);
	for (uint32_t h = rw_hash(k); rw_slot[h].v != NULL; h = (h + 1) & (RW_SLOTS - 1))
		if (rw_slot[h].k0 == k[0] && rw_slot[h].k1 == k[1])
			return rw_slot[h].v;
	return NULL;
}
