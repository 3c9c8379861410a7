/*
 * facts_scan: the transcript scanners of facts_scan.h. Each sentence of a turn is read once
 * into an array of words; every scanner then looks for its cue word and reads a few words
 * around it. Word tables are small and written here (not lexicon files): they are the
 * definition of each pattern, documented in docs/facts.md.
 */
#include "facts_scan.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

#define FS_WORDS 96        /* words read per sentence (the rest of a longer one is ignored) */
#define FS_DATE_SPAN 10    /* words in a date phrase */
#define FS_PROMISE_GAP 12  /* words from the promised verb to its date */
#define FS_PROMISE_TRIES 4 /* promises looked at per sentence */

/* What the agent's last turn asked for: the caller's answer needs no cue word of its own
 * ("What's the new address?" "It's 1420 Seabreeze Lane, ..."). */
enum fs_asked { FS_ASKED_ADDRESS = 1u << 0, FS_ASKED_CONTACT = 1u << 1 };

struct fs_sent {
	const char *s; /* the turn's text (not NUL-terminated) */
	size_t len;
	bool caller;
	unsigned asked; /* enum fs_asked: the agent's previous turn (caller turns only) */
	unsigned asks;  /* enum fs_asked: this agent turn's questions */
	bool question;  /* ends with '?' */
	bool negated;   /* not, no, never, n't */
	size_t n;
	struct text_word w[FS_WORDS];
	unsigned char dc[FS_WORDS]; /* enum fs_date of each word, computed once per sentence */
};

enum fs_date {
	FD_NONE,
	FD_CONN,    /* at, on, the, of, in, by, around */
	FD_WEEKDAY, /* anchors on their own */
	FD_DAYWORD,
	FD_MONTH,
	FD_NUM, /* 1..31, ordinals */
	FD_BIGNUM,
	FD_NUMWORD,
	FD_AMPM,
	FD_OCLOCK,
	FD_PART, /* morning, week, hours, ... */
	FD_REL,  /* next, this, within, end, ... */
};

typedef const char *const fs_list[];

static fs_list fs_weekdays = { "monday", "tuesday",  "wednesday", "thursday",
	                       "friday", "saturday", "sunday",    NULL };
static fs_list fs_daywords = { "tomorrow", "today", "tonight", "noon", "midnight", NULL };
static fs_list fs_months = { "january",  "february", "march",     "april", "june",
	                     "july",     "august",   "september", "sept",  "october",
	                     "november", "december", NULL }; /* "may" is too often a verb */
static fs_list fs_numwords = { "one",   "two",  "three", "four",   "five",   "six", "seven",
	                       "eight", "nine", "ten",   "twelve", "couple", NULL };
static fs_list fs_parts = { "morning", "afternoon", "evening",  "night",   "week",
	                    "weekend", "month",     "day",      "days",    "hours",
	                    "hour",    "weeks",     "business", "minutes", NULL };
static fs_list fs_rels = { "next",      "this",  "within", "end", "coming",
	                   "following", "early", "late",   NULL };
static fs_list fs_conns = { "at", "on", "the", "of", "in", "by", "around", "a", NULL };
static fs_list fs_negs = { "not", "no", "never", "cannot", NULL };

/* ---- words ---------------------------------------------------------------------------- */

static bool fs_is(const struct fs_sent *x, size_t i, const char *lit)
{
	return i < x->n && text_ieq(x->s + x->w[i].off, x->w[i].len, lit);
}

/* The index of word i in list, or -1. A possessive ("son's") matches its stem. */
static int fs_in(const struct fs_sent *x, size_t i, const char *const *list)
{
	if (i >= x->n)
		return -1;
	size_t len = x->w[i].len;
	if ((x->w[i].flags & TEXT_W_POSS) && len > 2)
		len -= 2;
	for (int k = 0; list[k] != NULL; k++)
		if (text_ieq(x->s + x->w[i].off, len, list[k]))
			return k;
	return -1;
}

static bool fs_any(const struct fs_sent *x, const char *const *list)
{
	for (size_t i = 0; i < x->n; i++)
		if (fs_in(x, i, list) >= 0)
			return true;
	return false;
}

static size_t fs_end(const struct fs_sent *x, size_t i)
{
	return x->w[i].off + x->w[i].len;
}

static bool fs_letters(const struct fs_sent *x, size_t i)
{
	for (size_t k = 0; k < x->w[i].len; k++) {
		char c = text_lower(x->s[x->w[i].off + k]);
		if (c < 'a' || c > 'z')
			return false;
	}
	return true;
}

/* ---- dates ---------------------------------------------------------------------------- */

static enum fs_date fs_date_word(const struct fs_sent *x, size_t i)
{
	const struct text_word *w = &x->w[i];
	const char *p = x->s + w->off;
	if (w->flags & TEXT_W_NUMBER) {
		long v = 0;
		for (size_t k = 0; k < w->len && k < 6; k++)
			v = v * 10 + (p[k] - '0');
		return w->len <= 2 && v >= 1 && v <= 31 ? FD_NUM
		       : w->len <= 3                    ? FD_BIGNUM
		                                        : FD_NONE;
	}
	if ((w->flags & TEXT_W_DIGIT) && w->len >= 3 && w->len <= 4 &&
	    (text_ieq(p + w->len - 2, 2, "st") || text_ieq(p + w->len - 2, 2, "nd") ||
	     text_ieq(p + w->len - 2, 2, "rd") || text_ieq(p + w->len - 2, 2, "th")))
		return FD_NUM;
	if (fs_in(x, i, fs_weekdays) >= 0)
		return FD_WEEKDAY;
	if (fs_in(x, i, fs_daywords) >= 0)
		return FD_DAYWORD;
	if (fs_in(x, i, fs_months) >= 0)
		return FD_MONTH;
	if (fs_is(x, i, "am") || fs_is(x, i, "pm") ||
	    (w->len == 1 &&
	     (text_lower(*p) == 'a' || text_lower(*p) == 'p' || text_lower(*p) == 'm') &&
	     ((w->off + 2 < x->len && p[1] == '.' && text_lower(p[2]) == 'm' &&
	       text_lower(*p) != 'm') ||
	      (text_lower(*p) == 'm' && w->off > 0 && p[-1] == '.'))))
		return FD_AMPM;
	if (fs_is(x, i, "o'clock"))
		return FD_OCLOCK;
	if (fs_in(x, i, fs_numwords) >= 0)
		return FD_NUMWORD;
	if (fs_in(x, i, fs_parts) >= 0)
		return FD_PART;
	if (fs_in(x, i, fs_rels) >= 0)
		return FD_REL;
	if (fs_in(x, i, fs_conns) >= 0)
		return FD_CONN;
	return FD_NONE;
}

/* The class of word i (FD_NONE past the end), from the sentence's table. */
static enum fs_date fs_date_class(const struct fs_sent *x, size_t i)
{
	return i < x->n ? (enum fs_date)x->dc[i] : FD_NONE;
}

static bool fs_number(enum fs_date c)
{
	return c == FD_NUM || c == FD_BIGNUM || c == FD_NUMWORD;
}

/* True when words [a, b) say a date or time on their own. */
static bool fs_date_anchored(const struct fs_sent *x, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++) {
		enum fs_date c = fs_date_class(x, i),
		             d = i + 1 < b ? fs_date_class(x, i + 1) : FD_NONE;
		if (c == FD_WEEKDAY || c == FD_DAYWORD)
			return true;
		if (c == FD_MONTH && (d == FD_NUM || (i > a && fs_date_class(x, i - 1) == FD_NUM)))
			return true;
		if ((c == FD_NUM || c == FD_BIGNUM) && (d == FD_AMPM || d == FD_OCLOCK))
			return true;
		if (c == FD_NUM && d == FD_BIGNUM && x->s[x->w[i + 1].off - 1] == ':')
			return true; /* 3:30 */
		if (c == FD_REL && d == FD_PART && !fs_is(x, i, "within") && !fs_is(x, i, "end"))
			return true; /* next week, this afternoon */
		if (fs_is(x, i, "within") && fs_number(d))
			return true; /* within 24 hours, within two business days */
		if (fs_is(x, i, "end") && fs_is(x, i + 1, "of"))
			return true; /* end of the day */
	}
	return false;
}

/* The first anchored date phrase starting in words [from, to): words [*a, *b). Linear in
 * to - from (k only moves forward). */
static bool fs_date_find(const struct fs_sent *x, size_t from, size_t to, size_t *a, size_t *b)
{
	size_t k = from;
	while (k < to && k < x->n) {
		enum fs_date c = fs_date_class(x, k);
		if (c == FD_NONE || c == FD_CONN || c == FD_PART) {
			k++;
			continue;
		}
		size_t e = k + 1;
		while (e < x->n && e - k < FS_DATE_SPAN) {
			enum fs_date d = fs_date_class(x, e);
			if (d == FD_NONE)
				break;
			if ((x->w[e].flags & TEXT_W_BREAK) && d != FD_MONTH && d != FD_NUM &&
			    d != FD_BIGNUM && d != FD_WEEKDAY && d != FD_AMPM)
				break;
			e++;
		}
		while (e > k + 1 && fs_date_class(x, e - 1) == FD_CONN)
			e--;
		if (fs_date_anchored(x, k, e)) {
			*a = k, *b = e;
			return true;
		}
		k = e;
	}
	return false;
}

/* The raw text end of the phrase ending with word b - 1 ("p.m." keeps its last dot). */
static size_t fs_date_end(const struct fs_sent *x, size_t b)
{
	size_t end = fs_end(x, b - 1);
	if (fs_date_class(x, b - 1) == FD_AMPM && x->w[b - 1].len == 1 && end < x->len &&
	    x->s[end] == '.')
		end++;
	return end;
}

/* ---- scanners ------------------------------------------------------------------------- */

static fs_list fs_appt_nouns = { "appointment",  "appointments", "appt", "reservation",
	                         "consultation", "booking",      NULL };
static fs_list fs_appt_verbs = { "booked", "scheduled", "rescheduled", NULL };
static fs_list fs_cancel = { "cancel",    "cancelled",    "canceled", "cancelling",
	                     "canceling", "cancellation", NULL };

/* "your appointment is Tuesday at 3 pm", "I've booked you for Friday the 12th". */
static void fs_appointment(struct facts *f, const struct fs_sent *x)
{
	bool cue = fs_any(x, fs_appt_nouns);
	for (size_t i = 0; !cue && i < x->n; i++)
		if (fs_in(x, i, fs_appt_verbs) >= 0)
			for (size_t k = i > 2 ? i - 2 : 0; k < i + 3 && k < x->n; k++)
				cue = cue || fs_is(x, k, "you") || fs_is(x, k, "you're");
	size_t a, b;
	if (!cue || fs_any(x, fs_cancel) || !fs_date_find(x, 0, x->n, &a, &b))
		return;
	size_t off = x->w[a].off;
	facts_add(f, FACTS_APPOINTMENT, x->s + off, fs_date_end(x, b) - off);
}

static fs_list fs_promisers = { "i",     "we",   "someone",    "somebody",
	                        "they",  "he",   "she",        "adjuster",
	                        "agent", "team", "technician", "representative",
	                        NULL };
static fs_list fs_promise_ll = { "i'll", "we'll", "they'll", "he'll", "she'll", NULL };
static fs_list fs_promise_verbs = { "call",    "send",   "email",  "text",    "mail",
	                            "follow",  "get",    "reach",  "contact", "ring",
	                            "forward", "update", "review", "process", "schedule",
	                            "drop",    "bring",  "pay",    NULL };
static fs_list fs_promise_skip = { "be",   "also", "personally", "just", "definitely",
	                           "then", "make", "sure",       "to",   NULL };

/* Person words rewritten to the third person in a follow-up (who says "you" and "my"). */
static const char *fs_third_person(const struct fs_sent *x, size_t i)
{
	static const char *const agent[][2] = { { "you", "the caller" },
		                                { "your", "the caller's" },
		                                { "yours", "the caller's" } };
	static const char *const caller[][2] = {
		{ "i", "they" },           { "me", "them" },       { "my", "their" },
		{ "mine", "theirs" },      { "you", "the agent" }, { "your", "the agency's" },
		{ "myself", "themselves" }
	};
	size_t n =
	    x->caller ? sizeof(caller) / sizeof(caller[0]) : sizeof(agent) / sizeof(agent[0]);
	for (size_t k = 0; k < n; k++) {
		const char *const *pair = x->caller ? caller[k] : agent[k];
		if (fs_is(x, i, pair[0]))
			return pair[1];
	}
	return NULL;
}

/* Word i starts a promise: "I'll", "we will", "an adjuster will" (not "will not"). Returns the
 * index of the verb after it, or 0. */
static size_t fs_promise_at(const struct fs_sent *x, size_t i)
{
	size_t v;
	if (fs_in(x, i, fs_promise_ll) >= 0)
		v = i + 1;
	else if (fs_is(x, i, "will") && i > 0 && fs_in(x, i - 1, fs_promisers) >= 0)
		v = i + 1;
	else
		return 0;
	while (v < x->n && v < i + 4 && fs_in(x, v, fs_promise_skip) >= 0)
		v++;
	if (fs_in(x, v, fs_promise_verbs) < 0)
		return 0;
	if (fs_is(x, v, "get") && !fs_is(x, v + 1, "back"))
		return 0;
	return v;
}

/* "I'll call you back tomorrow morning" -> "Agent will call the caller back tomorrow morning". */
static void fs_follow_up(struct facts *f, const struct fs_sent *x)
{
	int tries = 0; /* bounds the work on a sentence of nothing but promises */
	for (size_t i = 0; i < x->n && tries < FS_PROMISE_TRIES; i++) {
		size_t v = fs_promise_at(x, i), a, b;
		if (v == 0)
			continue;
		tries++;
		if (!fs_date_find(x, v + 1, v + 1 + FS_PROMISE_GAP, &a, &b))
			continue;
		char out[FACTS_VALUE_MAX + 1];
		size_t o =
		    (size_t)snprintf(out, sizeof(out), "%s will", x->caller ? "Caller" : "Agent");
		for (size_t k = v; k < a && o < sizeof(out); k++) {
			const char *sub = fs_third_person(x, k);
			size_t n = sub ? strlen(sub) : x->w[k].len;
			if (o + 1 + n >= sizeof(out))
				return;
			out[o++] = ' ';
			memcpy(out + o, sub ? sub : x->s + x->w[k].off, n);
			o += n;
		}
		size_t off = x->w[a].off, n = fs_date_end(x, b) - off;
		if (o + 1 + n >= sizeof(out))
			return; /* too long to be one promise: not taken */
		out[o++] = ' ';
		memcpy(out + o, x->s + off, n);
		facts_add(f, FACTS_FOLLOW_UP, out, o + n);
		return;
	}
}

static fs_list fs_channel_cues = { "prefer", "preferred", "prefers",   "rather",  "best",
	                           "reach",  "contact",   "contacted", "reached", NULL };

/* The channel named by word i ("email", "e-mail", "text", "phone"), or NULL. */
static const char *fs_channel(const struct fs_sent *x, size_t i)
{
	if (fs_is(x, i, "email") || fs_is(x, i, "emails") ||
	    (fs_is(x, i, "e") && fs_is(x, i + 1, "mail")))
		return "email";
	if (fs_is(x, i, "text") || fs_is(x, i, "texts") || fs_is(x, i, "texting") ||
	    fs_is(x, i, "sms"))
		return "text message";
	if (fs_is(x, i, "phone") ||
	    (fs_is(x, i, "call") && (fs_is(x, i + 1, "me") || fs_is(x, i - 1, "a"))))
		return "phone call";
	if (fs_is(x, i, "mail") && !fs_is(x, i - 1, "e") && !fs_is(x, i - 1, "voice"))
		return "postal mail";
	return NULL;
}

/* "I prefer email", "the best way to reach me is by text", "please contact me by phone". */
static void fs_contact(struct facts *f, struct fs_sent *x)
{
	if (!x->caller) {
		if (x->question && fs_any(x, fs_channel_cues))
			x->asks |= FS_ASKED_CONTACT;
		return;
	}
	if (x->question || x->negated)
		return;
	for (size_t i = 0; i < x->n; i++) {
		if (fs_in(x, i, fs_channel_cues) < 0 && !(i == 0 && (x->asked & FS_ASKED_CONTACT)))
			continue;
		if (fs_is(x, i, "best") && !fs_is(x, i + 1, "way") && !fs_is(x, i + 1, "to"))
			continue;
		if ((fs_is(x, i, "reach") || fs_is(x, i, "contact")) && !fs_is(x, i + 1, "me"))
			continue;
		for (size_t k = fs_in(x, i, fs_channel_cues) < 0 ? i : i + 1;
		     k < x->n && k <= i + 6; k++) {
			const char *ch = fs_channel(x, k);
			if (ch != NULL) {
				facts_add(f, FACTS_CONTACT_PREFERENCE, ch, strlen(ch));
				return;
			}
		}
	}
}

static fs_list fs_addr_cues = { "address", "live",   "lives",     "living",  "moved", "move",
	                        "moving",  "reside", "residence", "mailing", NULL };
static fs_list fs_street = { "street", "st",      "avenue", "ave",     "road",      "rd",
	                     "drive",  "dr",      "lane",   "ln",      "boulevard", "blvd",
	                     "court",  "ct",      "way",    "place",   "pl",        "terrace",
	                     "circle", "parkway", "pkwy",   "highway", "hwy",       "trail",
	                     "square", "plaza",   "loop",   NULL };
static fs_list fs_units = { "apt", "apartment", "unit", "suite", "ste", NULL };
static fs_list fs_addr_old = { "from", "old", "previous", "former", "used", NULL };

/* After the street at word e: a unit ("Apt 4B"), then ", City, ST 92618" when it has a state
 * (two capitals, or a name before a ZIP code) or a ZIP code. Returns the last word taken. */
static size_t fs_address_tail(const struct fs_sent *x, size_t e)
{
	if (fs_in(x, e + 1, fs_units) >= 0 && e + 2 < x->n && x->w[e + 2].len <= 5 &&
	    ((x->w[e + 2].flags & TEXT_W_DIGIT) || x->w[e + 2].len == 1))
		e += 2;
	size_t k = e + 1, city = 0;
	while (k < x->n && city < 3 && (x->w[k].flags & TEXT_W_CAP) &&
	       !(x->w[k].flags & TEXT_W_UPPER) && fs_letters(x, k) &&
	       (city == 0 || !(x->w[k].flags & TEXT_W_BREAK)))
		k++, city++;
	bool state = k < x->n && (((x->w[k].flags & TEXT_W_UPPER) && x->w[k].len == 2) ||
	                          ((x->w[k].flags & TEXT_W_CAP) && fs_letters(x, k) &&
	                           k + 1 < x->n && (x->w[k + 1].flags & TEXT_W_NUMBER) &&
	                           x->w[k + 1].len == 5)); /* "CA", "California 92660" */
	size_t z = k + (state ? 1 : 0);
	bool zip = z < x->n && (x->w[z].flags & TEXT_W_NUMBER) && x->w[z].len == 5;
	if (!state && !zip)
		return e;
	return zip ? z : k;
}

/* "my new address is 45 Elm Avenue, Apt 3, Irvine, CA 92618", "I live at 12 Oak Street". */
static void fs_address(struct facts *f, struct fs_sent *x)
{
	if (!x->caller && x->question && fs_is(x, x->n - 1, "address"))
		x->asks |= FS_ASKED_ADDRESS;
	if (!x->caller || x->question ||
	    (!(x->asked & FS_ASKED_ADDRESS) && !fs_any(x, fs_addr_cues)))
		return;
	for (size_t i = 0; i + 2 < x->n; i++) {
		if (!(x->w[i].flags & TEXT_W_NUMBER) || x->w[i].len > 6 ||
		    (x->w[i].off > 0 &&
		     (x->s[x->w[i].off - 1] == '$' || x->s[x->w[i].off - 1] == '#')))
			continue;
		if (fs_in(x, i - 1, fs_addr_old) >= 0 ||
		    (i >= 2 && fs_in(x, i - 2, fs_addr_old) >= 0))
			continue; /* "moved from 12 Oak Street": not the address now */
		size_t e = i + 1;
		while (e < x->n && e <= i + 4 && fs_in(x, e, fs_street) < 0 &&
		       !(x->w[e].flags & TEXT_W_BREAK) &&
		       (fs_letters(x, e) || fs_date_class(x, e) == FD_NUM))
			e++;
		if (e == i + 1 || e >= x->n || fs_in(x, e, fs_street) < 0 ||
		    (x->w[e].flags & TEXT_W_BREAK))
			continue;
		size_t last = fs_address_tail(x, e);
		size_t off = x->w[i].off;
		facts_add(f, FACTS_ADDRESS, x->s + off, fs_end(x, last) - off);
		return;
	}
}

/* Relations and the word stored for them. */
static const char *const fs_relations[][2] = {
	{ "wife", "wife" },
	{ "husband", "husband" },
	{ "hubby", "husband" },
	{ "spouse", "spouse" },
	{ "partner", "partner" },
	{ "son", "son" },
	{ "daughter", "daughter" },
	{ "mother", "mother" },
	{ "mom", "mother" },
	{ "mum", "mother" },
	{ "father", "father" },
	{ "dad", "father" },
	{ "brother", "brother" },
	{ "sister", "sister" },
	{ "fiance", "fiancé" },
	{ "fiancé", "fiancé" },
	{ "fiancee", "fiancée" },
	{ "fiancée", "fiancée" },
	{ "boyfriend", "boyfriend" },
	{ "girlfriend", "girlfriend" },
	{ "grandmother", "grandmother" },
	{ "grandma", "grandmother" },
	{ "grandfather", "grandfather" },
	{ "grandpa", "grandfather" },
	{ "grandson", "grandson" },
	{ "granddaughter", "granddaughter" },
	{ "stepson", "stepson" },
	{ "stepdaughter", "stepdaughter" },
	{ "aunt", "aunt" },
	{ "uncle", "uncle" },
	{ "niece", "niece" },
	{ "nephew", "nephew" },
	{ "cousin", "cousin" },
	{ "kids", "children" },
	{ "children", "children" },
	{ "parents", "parents" },
};

/* Capitalised words after a relation that are not a name ("my son And I", "my wife Said"). */
static fs_list fs_not_names = {
	"i",        "i'm",    "i'll", "i've", "i'd",   "and",    "but",     "the",    "he",
	"she",      "they",   "we",   "you",  "it",    "is",     "was",     "has",    "had",
	"will",     "would",  "just", "so",   "then",  "also",   "who",     "what",   "when",
	"where",    "why",    "how",  "said", "says",  "called", "calls",   "drives", "uses",
	"got",      "gets",   "did",  "does", "can",   "could",  "should",  "might",  "may",
	"oh",       "well",   "yes",  "no",   "ok",    "okay",   "please",  "thanks", "thank",
	"actually", "really", "too",  "as",   "at",    "in",     "on",      "for",    "of",
	"to",       "with",   "from", "by",   "or",    "if",     "because", "that",   "this",
	"there",    "here",   "now",  "sir",  "ma'am", "jr",     "sr",      NULL
};

/* "my son Tom" -> "Tom (son)"; "my wife" -> "wife". Caller turns only. */
static void fs_family(struct facts *f, const struct fs_sent *x)
{
	if (!x->caller)
		return;
	for (size_t i = 0; i + 1 < x->n; i++) {
		if (!fs_is(x, i, "my") && !fs_is(x, i, "our"))
			continue;
		const struct text_word *r = &x->w[i + 1];
		size_t rlen = (r->flags & TEXT_W_POSS) && r->len > 2 ? r->len - 2 : r->len;
		const char *rel = NULL;
		for (size_t k = 0; k < sizeof(fs_relations) / sizeof(fs_relations[0]); k++)
			if (text_ieq(x->s + r->off, rlen, fs_relations[k][0]))
				rel = fs_relations[k][1];
		if (rel == NULL)
			continue;
		char out[FACTS_VALUE_MAX + 1];
		size_t nm = i + 2;
		int n;
		if (!(r->flags & TEXT_W_POSS) && nm < x->n && (x->w[nm].flags & TEXT_W_CAP) &&
		    !(x->w[nm].flags & (TEXT_W_BREAK | TEXT_W_UPPER)) && x->w[nm].len >= 2 &&
		    x->w[nm].len <= 20 && fs_letters(x, nm) && fs_in(x, nm, fs_not_names) < 0 &&
		    fs_date_class(x, nm) == FD_NONE)
			n = snprintf(out, sizeof(out), "%.*s (%s)", (int)x->w[nm].len,
			             x->s + x->w[nm].off, rel);
		else
			n = snprintf(out, sizeof(out), "%s", rel);
		if (n > 0)
			facts_add(f, FACTS_FAMILY_MEMBER, out, (size_t)n);
	}
}

static fs_list fs_id_skip = { "number", "no", "num", "id", "is", "was", "it's", "its", NULL };

/* "account number 4471-2290", "order #A55821": an id with at least four digits shortly after
 * the cue word, upper-cased, dashes kept. */
static void fs_ids(struct facts *f, const struct fs_sent *x)
{
	for (size_t i = 0; i + 1 < x->n; i++) {
		enum facts_kind kind;
		if (fs_is(x, i, "account") || fs_is(x, i, "acct"))
			kind = FACTS_ACCOUNT_NUMBER;
		else if (fs_is(x, i, "order"))
			kind = FACTS_ORDER_NUMBER;
		else
			continue;
		size_t j = i + 1;
		while (j < x->n && j <= i + 3 && fs_in(x, j, fs_id_skip) >= 0)
			j++;
		if (j >= x->n || !(x->w[j].flags & TEXT_W_DIGIT) ||
		    (x->w[j].off > 0 && x->s[x->w[j].off - 1] == '$'))
			continue;
		char out[32];
		size_t o = 0, digits = 0, p = x->w[j].off;
		while (p < x->len && o < sizeof(out) - 1) {
			char c = x->s[p];
			bool dash = c == '-' && o > 0 && p + 1 < x->len &&
			            (text_lower(x->s[p + 1]) != x->s[p + 1] ||
			             (x->s[p + 1] >= '0' && x->s[p + 1] <= '9'));
			bool alnum = (c >= '0' && c <= '9') ||
			             (text_lower(c) >= 'a' && text_lower(c) <= 'z');
			if (!alnum && !dash)
				break;
			digits += c >= '0' && c <= '9';
			out[o++] = alnum && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
			p++;
		}
		if (digits >= 4 && o <= 24)
			facts_add(f, kind, out, o);
	}
}

/* ---- turns ---------------------------------------------------------------------------- */

static void fs_sentence(struct facts *f, struct fs_sent *x, const char *text, struct text_span sp)
{
	size_t pos = sp.off, end = sp.off + sp.len;
	x->n = 0;
	while (x->n < FS_WORDS && text_next_word(text, end, &pos, &x->w[x->n]))
		x->n++;
	for (size_t i = 0; i < x->n; i++)
		x->dc[i] = (unsigned char)fs_date_word(x, i);
	x->question = sp.len > 0 && text[end - 1] == '?';
	x->negated = false;
	for (size_t i = 0; i < x->n && !x->negated; i++)
		x->negated = (x->w[i].flags & TEXT_W_NT) || fs_in(x, i, fs_negs) >= 0;
	if (x->n == 0)
		return;
	fs_ids(f, x);
	fs_contact(f, x);
	fs_address(f, x);
	fs_family(f, x);
	if (x->question || x->negated)
		return;
	fs_appointment(f, x);
	fs_follow_up(f, x);
}

void facts_scan_turn(struct facts *f, const char *text, size_t len, bool caller)
{
	struct fs_sent x;
	x.s = text;
	x.len = len;
	x.caller = caller;
	x.asked = caller ? f->asked : 0;
	x.asks = 0;
	size_t pos = 0;
	struct text_span sp;
	while (text_next_sentence(text, len, &pos, &sp))
		fs_sentence(f, &x, text, sp);
	f->asked = x.asks; /* a caller turn answers (clears) what was asked */
}

void facts_scan_finish(struct facts *f)
{
	size_t o = 0;
	for (size_t i = 0; i < f->n; i++) {
		const struct facts_item *it = &f->item[i];
		bool bare_named = false;
		if (it->kind == FACTS_FAMILY_MEMBER && strchr(it->value, '(') == NULL) {
			size_t rl = strlen(it->value);
			for (size_t k = 0; k < f->n && !bare_named; k++) {
				const char *v = f->item[k].value;
				size_t vl = strlen(v);
				bare_named = f->item[k].kind == FACTS_FAMILY_MEMBER &&
				             vl > rl + 3 && v[vl - 1] == ')' &&
				             v[vl - rl - 2] == '(' &&
				             memcmp(v + vl - rl - 1, it->value, rl) == 0;
			}
		}
		if (!bare_named)
			f->item[o++] = *it;
	}
	f->n = o;
}
