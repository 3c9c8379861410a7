/*
 * redact_check: the kinds' names, and the checks that tell a value of a kind from other
 * digits: Luhn and the card networks' prefixes, the ABA routing checksum, the SSA's SSN ranges,
 * expiry dates, and the written patterns (IBAN with its mod-97 check, e-mail, street address).
 * See redact_int.h; the scans' byte classes live here too.
 */
#include <string.h>

#include "redact_int.h"

static const char *const kind_names[REDACT_NKINDS] = {
	"card", "cvv",   "expiry", "ssn", "bank_account", "routing",
	"iban", "email", "phone",  "dob", "address",
};

const char *redact_kind_name(enum redact_kind k)
{
	return (unsigned)k < REDACT_NKINDS ? kind_names[k] : "unknown";
}

int redact_kind_parse(const char *s, size_t len)
{
	for (int k = 0; k < REDACT_NKINDS; k++)
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
			return k;
	return -1;
}

/* ---- checksums ---------------------------------------------------------------------- */

bool redact_luhn(const char *digits, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');
		if (i & 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

bool redact_aba(const char *d)
{
	unsigned sum = 0;
	static const unsigned w[3] = { 3, 7, 1 };
	for (int i = 0; i < 9; i++)
		sum += w[i % 3] * (unsigned)(d[i] - '0');
	return sum % 10 == 0 && !(d[0] == '0' && d[1] == '0');
}

/* One look-up per byte in the scans (redact_int.h: CL_ALPHA, CL_DIGIT, CL_SEP). */
/* clang-format off */
const uint8_t redact_byte_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

bool redact_holds_card(const char *text, size_t len)
{
	char run[64];
	bool group_start[64];
	size_t n = 0;
	for (size_t p = 0; p < len;) {
		unsigned char c = (unsigned char)text[p];
		if (c < '0' || c > '9') {
			if (!is_sep(c))
				n = 0;
			p++;
			continue;
		}
		size_t q = p;
		while (q < len && text[q] >= '0' && text[q] <= '9')
			q++;
		if ((p > 0 && is_alpha((unsigned char)text[p - 1])) ||
		    (q < len && is_alpha((unsigned char)text[q]))) {
			n = 0; /* glued to letters: an identifier ("1Z999..."), not a card's group */
			p = q;
			continue;
		}
		for (size_t i = p; i < q; i++) {
			if (n == sizeof(run)) { /* keep the last 18: a card is at most 19 */
				memmove(run, run + n - 18, 18);
				memmove(group_start, group_start + n - 18, 18);
				n = 18;
			}
			group_start[n] = i == p;
			run[n++] = text[i];
		}
		for (size_t l = 13; l <= 19 && l <= n; l++)
			if (group_start[n - l] && redact_is_card(run + n - l, l))
				return true;
		p = q;
	}
	return false;
}

static unsigned num_of(const char *d, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/* The issuer prefixes of the networks that issue 13-19 digit cards. */
bool redact_card_prefix(const char *d, size_t n)
{
	unsigned p2 = num_of(d, 2), p3 = num_of(d, 3), p4 = num_of(d, 4);
	switch (d[0]) {
	case '4': /* Visa: 13, 16, 19 */
		return n == 13 || n == 16 || n == 19;
	case '5': /* Mastercard 51-55 */
		return p2 >= 51 && p2 <= 55 && n == 16;
	case '2': /* Mastercard 2221-2720 */
		return p4 >= 2221 && p4 <= 2720 && n == 16;
	case '3': /* Amex 34/37 (15), JCB 3528-3589, Diners 300-305/36/38 */
		if (p2 == 34 || p2 == 37)
			return n == 15;
		if (p4 >= 3528 && p4 <= 3589)
			return n >= 16;
		return (p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38;
	case '6': /* Discover 6011/644-649/65, UnionPay 62 */
		return (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || p2 == 62) && n >= 16;
	default:
		return false;
	}
}

bool redact_is_card(const char *digits, size_t n)
{
	return n >= 13 && n <= 19 && redact_card_prefix(digits, n) && redact_luhn(digits, n);
}

bool redact_ssn_valid(const char *d)
{
	unsigned area = num_of(d, 3), group = num_of(d + 3, 2), serial = num_of(d + 5, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* M/YY, MM/YY, M/YYYY, MM/YYYY as digits. */
bool redact_expiry_valid(const char *d, size_t n)
{
	unsigned m;
	switch (n) {
	case 3:
	case 5:
		m = num_of(d, 1);
		return m >= 1 && (n == 3 || num_of(d + 1, 2) == 20);
	case 4:
	case 6:
		m = num_of(d, 2);
		return m >= 1 && m <= 12 && (n == 4 || num_of(d + 2, 2) == 20);
	default:
		return false;
	}
}

static bool iban_mod97(const char *s, size_t n)
{
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];
		if (is_digit((unsigned char)c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/* An IBAN at p ("GB82 WEST 1234 5698 7654 32"): its end, or 0. */
size_t redact_iban_at(const char *t, size_t len, size_t p)
{
	char s[34];
	size_t endof[34], n = 0, q = p;
	while (q < len && n < 34) {
		unsigned char c = (unsigned char)t[q];
		if (is_digit(c) || (c >= 'A' && c <= 'Z')) {
			s[n] = (char)c;
			endof[n++] = ++q;
		} else if ((c == ' ' || c == '-') && n > 0 && q + 1 < len &&
		           (is_digit((unsigned char)t[q + 1]) ||
		            (t[q + 1] >= 'A' && t[q + 1] <= 'Z'))) {
			q++;
		} else {
			break;
		}
	}
	for (; n >= 15; n--)
		if (iban_mod97(s, n))
			return endof[n - 1];
	return 0;
}

static bool email_local(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	       c == '-';
}

/* An e-mail address around the '@' at p: [*start, end), or end 0. */
size_t redact_email_at(const char *t, size_t len, size_t p, size_t *start)
{
	size_t a = p;
	while (a > 0 && email_local((unsigned char)t[a - 1]))
		a--;
	size_t q = p + 1, dot = 0;
	while (q < len &&
	       (is_alpha((unsigned char)t[q]) || is_digit((unsigned char)t[q]) || t[q] == '-' ||
	        (t[q] == '.' && q + 1 < len && is_alpha((unsigned char)t[q + 1])))) {
		if (t[q] == '.')
			dot = q;
		q++;
	}
	if (a == p || dot == 0 || q - dot < 3)
		return 0;
	*start = a;
	return q;
}

static const char *const street_words[] = {
	"street", "st",      "avenue", "ave",     "road",    "rd",   "boulevard", "blvd",
	"lane",   "ln",      "drive",  "dr",      "court",   "ct",   "way",       "place",
	"pl",     "terrace", "circle", "highway", "parkway", "pkwy", "square",    "trail",
};

static bool street_word(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof(street_words) / sizeof(street_words[0]); i++) {
		const char *s = street_words[i];
		size_t k = 0;
		while (k < n && s[k] != '\0' && (w[k] | 0x20) == s[k])
			k++;
		if (k == n && s[k] == '\0')
			return true;
	}
	return false;
}

/* "221 Baker Street": a house number (1-6 digits), one to four words, a street word. */
size_t redact_address_at(const char *t, size_t len, size_t p)
{
	size_t q = p;
	while (q < len && is_digit((unsigned char)t[q]))
		q++;
	if (q - p > 6 || q >= len || t[q] != ' ')
		return 0;
	for (int words = 0; words < 5; words++) {
		while (q < len && t[q] == ' ')
			q++;
		size_t w = q;
		while (q < len && (is_alpha((unsigned char)t[q]) || is_digit((unsigned char)t[q])))
			q++;
		if (q == w)
			return 0;
		if (words > 0 && street_word(t + w, q - w))
			return q < len && t[q] == '.' ? q + 1 : q;
	}
	return 0;
}
