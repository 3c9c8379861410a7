/*
 * proc_embed: hashed word + character n-gram embedding (see proc_embed.h).
 *
 * Weights: a word unigram 1.0, a bigram of consecutive content words 0.7, each character
 * 3-gram of a word padded with ^ and $ 0.35 (so a four-letter word contributes about as
 * much through its pieces as through itself). Stop words (a small built-in list, including
 * the words of the summary template) are skipped: they would make every summary look
 * alike. Buckets are summed with a sign taken from the hash, so collisions cancel on
 * average instead of piling up; then v = sign(s) * log(1 + |s|) damps repeated words.
 */
#include "proc_embed.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define EMBED_WORD_MAX 48 /* longer "words" are folded and hashed on this prefix */
#define EMBED_W_UNI 1.0f
#define EMBED_W_BI 0.7f
#define EMBED_W_CHAR 0.35f
#define EMBED_SALT_UNI 0x9e3779b97f4a7c15ull
#define EMBED_SALT_BI 0xc2b2ae3d27d4eb4full
#define EMBED_SALT_CHAR 0x165667b19e3779f9ull

/* English function words and the summary template's own words, by length (1..7), each
 * run space-separated: a word is a stop word when it is one of its length's run. */
static const char *const embed_stop[8] = {
	"",
	"a i",
	"am an as at be by do he if in is it me my no of ok on or so to uh um us we",
	"all and any are but can did for had has her his i'm its not our she the was yes you",
	"also been call does from have here it's just okay that them they this were what "
	"will with yeah your",
	"about agent could their there would",
	"called caller",
	"calling outcome request",
};

static bool embed_is_stop(const char *folded, size_t n)
{
	if (n == 0 || n >= sizeof(embed_stop) / sizeof(embed_stop[0]))
		return false;
	for (const char *p = embed_stop[n]; *p; p += n + (p[n] == ' ')) {
		if (memcmp(p, folded, n) == 0)
			return true;
		if (p[n] == '\0')
			break;
	}
	return false;
}

/* log(1 + x) for x >= 0 to about 1e-5, without libm's cost: x + 1 = m * 2^e with m in
 * [1, 2), log(m) from a polynomial. Deterministic: integer and IEEE float operations only. */
static float embed_log1p(float x)
{
	union {
		float f;
		uint32_t u;
	} v = { x + 1.0f };
	int e = (int)((v.u >> 23) & 0xff) - 127;
	v.u = (v.u & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
	float t = (v.f - 1.0f) / (v.f + 1.0f);   /* log(m) = 2 atanh(t), t in [0, 1/3) */
	float t2 = t * t;
	float lm = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 / 9))));
	return (float)e * 0.69314718f + lm;
}

/* splitmix64's finaliser: spreads FNV's low-entropy high bits before bucketing. */
static uint64_t embed_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void embed_add(float acc[PROC_EMBED_DIM], uint64_t h, float w)
{
	uint64_t m = embed_mix(h);
	size_t bucket = (size_t)((m >> 32) % PROC_EMBED_DIM);
	acc[bucket] += (m & 1) ? -w : w;
}

/* Folds a word (ASCII lower case, U+2019 as ') into out; returns its length. */
static size_t embed_fold(const char *s, size_t len, char out[EMBED_WORD_MAX])
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < EMBED_WORD_MAX; i++) {
		if ((unsigned char)s[i] == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
		    (unsigned char)s[i + 2] == 0x99) {
			out[n++] = '\'';
			i += 2;
			continue;
		}
		out[n++] = text_lower(s[i]);
	}
	return n;
}

static void embed_chars(float acc[PROC_EMBED_DIM], const char *w, size_t n)
{
	char padded[EMBED_WORD_MAX + 2];
	padded[0] = '^';
	memcpy(padded + 1, w, n);
	padded[n + 1] = '$';
	for (size_t i = 0; i + 3 <= n + 2; i++)
		embed_add(acc, text_fnv(EMBED_SALT_CHAR, padded + i, 3), EMBED_W_CHAR);
}

void proc_embed_text(const char *text, size_t len, float out[PROC_EMBED_DIM])
{
	float acc[PROC_EMBED_DIM] = { 0 };
	size_t pos = 0, nwords = 0;
	uint64_t prev = 0;
	bool have_prev = false;
	struct text_word w;
	while (text != NULL && text_next_word(text, len, &pos, &w)) {
		char f[EMBED_WORD_MAX];
		size_t n = embed_fold(text + w.off, w.len, f);
		if (w.flags & TEXT_W_BREAK)
			have_prev = false;
		if (embed_is_stop(f, n))
			continue;
		uint64_t h = text_fnv(TEXT_FNV_OFFSET, f, n);
		embed_add(acc, h ^ EMBED_SALT_UNI, EMBED_W_UNI);
		if (have_prev)
			embed_add(acc, (prev * 31) ^ h ^ EMBED_SALT_BI, EMBED_W_BI);
		embed_chars(acc, f, n);
		prev = h;
		have_prev = true;
		nwords++;
	}
	double sum = 0;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++) {
		float a = acc[i];
		if (a == 0)
			continue;
		acc[i] = a < 0 ? -embed_log1p(-a) : embed_log1p(a);
		sum += (double)acc[i] * acc[i];
	}
	if (nwords == 0 || sum <= 0) {
		memset(out, 0, PROC_EMBED_DIM * sizeof(out[0]));
		out[0] = 1.0f;
		return;
	}
	float inv = (float)(1.0 / sqrt(sum));
	for (size_t i = 0; i < PROC_EMBED_DIM; i++)
		out[i] = acc[i] * inv;
}

/* "%.6f" without trailing zeros, for |v| < 1e9; much cheaper than snprintf per value. */
static size_t embed_fmt(char *p, float fv)
{
	double v = fv;
	size_t n = 0;
	if (!isfinite(v) || fabs(v) >= 1e9)
		v = isfinite(v) ? (v < 0 ? -1e9 : 1e9) : 0;
	long long q = llround(fabs(v) * 1e6);
	if (q == 0) {
		p[0] = '0';
		return 1;
	}
	if (v < 0)
		p[n++] = '-';
	long long ip = q / 1000000, frac = q % 1000000;
	char tmp[24];
	size_t t = 0;
	do {
		tmp[t++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip > 0);
	while (t > 0)
		p[n++] = tmp[--t];
	if (frac) {
		p[n++] = '.';
		char d[6];
		for (int i = 5; i >= 0; i--, frac /= 10)
			d[i] = (char)('0' + frac % 10);
		int last = 5;
		while (d[last] == '0')
			last--;
		for (int i = 0; i <= last; i++)
			p[n++] = d[i];
	}
	return n;
}

void proc_embedding_text(const float v[PROC_EMBED_DIM], struct buf *out)
{
	buf_reserve(out, PROC_EMBED_DIM * 20 + 2);
	char *p = out->data + out->len;
	size_t n = 0;
	p[n++] = '[';
	for (size_t i = 0; i < PROC_EMBED_DIM; i++) {
		if (i)
			p[n++] = ',';
		n += embed_fmt(p + n, v[i]);
	}
	p[n++] = ']';
	p[n] = '\0';
	out->len += n;
}

double proc_embed_cosine(const float a[PROC_EMBED_DIM], const float b[PROC_EMBED_DIM])
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < PROC_EMBED_DIM; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}
