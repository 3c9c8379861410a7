/*
 * wordpiece: the BERT WordPiece tokenizer (see wordpiece.h).
 *
 * The vocabulary is an open-addressing hash table over one string pool; continuation pieces
 * ("##ing") are stored without their prefix and flagged, so a lookup never builds a string.
 * Encoding streams the text once: code point -> normalised code points -> the current word
 * (at most max_input_chars_per_word + 1 characters are kept; a longer word is [UNK] anyway)
 * -> word pieces, with everything on the stack.
 */
#include "wordpiece.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "text.h"
#include "wordpiece_unicode.h"
#include "xalloc.h"

#define WP_VOCAB_MAX (1u << 20)
#define WP_TOKEN_MAX 256u  /* bytes of one vocabulary entry */
#define WP_WORD_CHARS 200u /* max_input_chars_per_word is refused above this */
#define WP_ADDED_MAX 64u

struct wp_slot {
	uint32_t off; /* into pool */
	uint16_t len;
	uint8_t cont; /* a "##" continuation piece (stored without the prefix) */
	uint8_t used;
	int32_t id;
};

struct wp_added {
	char text[WP_TOKEN_MAX];
	size_t len;
	int32_t id;
};

struct wordpiece {
	struct wp_slot *slots;
	size_t mask; /* slot count - 1 (a power of two) */
	char *pool;
	size_t pool_len;
	size_t vocab_size;
	int32_t cls, sep, unk;
	size_t max_word; /* max_input_chars_per_word */
	struct wp_added added[WP_ADDED_MAX];
	size_t n_added;
};

static uint64_t wp_hash(const char *s, size_t len, bool cont)
{
	uint64_t h = text_fnv(TEXT_FNV_OFFSET, s, len) ^ (cont ? 0x9e3779b97f4a7c15ull : 0);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static const struct wp_slot *wp_find(const struct wordpiece *wp, const char *s, size_t len,
                                     bool cont)
{
	for (size_t i = wp_hash(s, len, cont) & wp->mask;; i = (i + 1) & wp->mask) {
		const struct wp_slot *e = &wp->slots[i];
		if (!e->used)
			return NULL;
		if (e->len == len && e->cont == cont && memcmp(wp->pool + e->off, s, len) == 0)
			return e;
	}
}

int32_t wordpiece_id(const struct wordpiece *wp, const char *tok, size_t len)
{
	bool cont = len > 2 && tok[0] == '#' && tok[1] == '#';
	const struct wp_slot *e =
	    cont ? wp_find(wp, tok + 2, len - 2, true) : wp_find(wp, tok, len, false);
	return e ? e->id : -1;
}

size_t wordpiece_vocab_size(const struct wordpiece *wp)
{
	return wp->vocab_size;
}

void wordpiece_free(struct wordpiece **wp)
{
	if (wp == NULL || *wp == NULL)
		return;
	free((*wp)->slots);
	free((*wp)->pool);
	free(*wp);
	*wp = NULL;
}

/* Adds tok -> id; -1 with err for a duplicate, an empty or an oversized entry. */
static int wp_add(struct wordpiece *wp, const char *tok, size_t len, int32_t id, char *err,
                  size_t errlen)
{
	bool cont = len > 2 && tok[0] == '#' && tok[1] == '#';
	const char *key = cont ? tok + 2 : tok;
	size_t klen = cont ? len - 2 : len;
	if (len == 0 || len > WP_TOKEN_MAX) {
		snprintf(err, errlen, "vocabulary entry %d is empty or longer than %u bytes", id,
		         WP_TOKEN_MAX);
		return -1;
	}
	size_t i = wp_hash(key, klen, cont) & wp->mask;
	for (; wp->slots[i].used; i = (i + 1) & wp->mask) {
		const struct wp_slot *e = &wp->slots[i];
		if (e->len == klen && e->cont == cont &&
		    memcmp(wp->pool + e->off, key, klen) == 0) {
			snprintf(err, errlen, "vocabulary entry %d is a duplicate", id);
			return -1;
		}
	}
	memcpy(wp->pool + wp->pool_len, key, klen);
	wp->slots[i] = (struct wp_slot){ .off = (uint32_t)wp->pool_len,
		                         .len = (uint16_t)klen,
		                         .cont = cont,
		                         .used = 1,
		                         .id = id };
	wp->pool_len += klen;
	if ((size_t)id + 1 > wp->vocab_size)
		wp->vocab_size = (size_t)id + 1;
	return 0;
}

static int wp_load_vocab(struct wordpiece *wp, json_t *vocab, char *err, size_t errlen)
{
	size_t n = json_object_size(vocab), bytes = 0;
	if (n == 0 || n > WP_VOCAB_MAX) {
		snprintf(err, errlen, "model.vocab has %zu entries (1 to %u)", n, WP_VOCAB_MAX);
		return -1;
	}
	const char *tok;
	json_t *v;
	json_object_foreach(vocab, tok, v) bytes += strlen(tok);
	size_t cap = 2;
	while (cap < 2 * n)
		cap *= 2;
	wp->slots = xcalloc(cap, sizeof(*wp->slots));
	wp->mask = cap - 1;
	wp->pool = xmalloc(bytes + 1);
	json_object_foreach(vocab, tok, v)
	{
		json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
		if (id < 0 || id >= (json_int_t)WP_VOCAB_MAX) {
			snprintf(err, errlen, "model.vocab: \"%.40s\" has no id in [0, %u)", tok,
			         WP_VOCAB_MAX);
			return -1;
		}
		if (wp_add(wp, tok, strlen(tok), (int32_t)id, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Special tokens matched in the raw text (added_tokens); -1 with err when malformed. */
static int wp_load_added(struct wordpiece *wp, json_t *added, char *err, size_t errlen)
{
	size_t i;
	json_t *a;
	if (added == NULL)
		return 0;
	if (!json_is_array(added) || json_array_size(added) > WP_ADDED_MAX) {
		snprintf(err, errlen, "added_tokens is not an array of at most %u", WP_ADDED_MAX);
		return -1;
	}
	json_array_foreach(added, i, a)
	{
		const char *content = json_string_value(json_object_get(a, "content"));
		json_t *id = json_object_get(a, "id");
		if (content == NULL || !json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) >= (json_int_t)WP_VOCAB_MAX || content[0] == '\0' ||
		    strlen(content) >= WP_TOKEN_MAX) {
			snprintf(err, errlen, "added_tokens[%zu] needs content and id", i);
			return -1;
		}
		struct wp_added *t = &wp->added[wp->n_added++];
		t->len = strlen(content);
		memcpy(t->text, content, t->len);
		t->id = (int32_t)json_integer_value(id);
		if ((size_t)t->id + 1 > wp->vocab_size)
			wp->vocab_size = (size_t)t->id + 1;
	}
	return 0;
}

static bool wp_str_is(json_t *o, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL && strcmp(s, want) == 0;
}

/* What the Unicode tables implement: refuse any other pipeline. */
static int wp_check_pipeline(json_t *root, char *err, size_t errlen)
{
	json_t *norm = json_object_get(root, "normalizer");
	json_t *strip = json_object_get(norm, "strip_accents");
	if (!wp_str_is(norm, "type", "BertNormalizer") ||
	    !json_is_true(json_object_get(norm, "lowercase")) ||
	    !json_is_true(json_object_get(norm, "clean_text")) ||
	    !json_is_true(json_object_get(norm, "handle_chinese_chars")) ||
	    !(strip == NULL || json_is_null(strip) || json_is_true(strip))) {
		snprintf(err, errlen,
		         "normalizer is not a lower-casing, accent-stripping "
		         "BertNormalizer");
		return -1;
	}
	if (!wp_str_is(json_object_get(root, "pre_tokenizer"), "type", "BertPreTokenizer")) {
		snprintf(err, errlen, "pre_tokenizer is not BertPreTokenizer");
		return -1;
	}
	json_t *model = json_object_get(root, "model");
	json_t *prefix = json_object_get(model, "continuing_subword_prefix");
	if (!wp_str_is(model, "type", "WordPiece") ||
	    !(prefix == NULL || wp_str_is(model, "continuing_subword_prefix", "##")) ||
	    !json_is_object(json_object_get(model, "vocab"))) {
		snprintf(err, errlen, "model is not WordPiece with a vocab and the \"##\" prefix");
		return -1;
	}
	return 0;
}

static int wp_build(struct wordpiece *wp, json_t *root, char *err, size_t errlen)
{
	if (wp_check_pipeline(root, err, errlen) != 0)
		return -1;
	json_t *model = json_object_get(root, "model");
	if (wp_load_vocab(wp, json_object_get(model, "vocab"), err, errlen) != 0 ||
	    wp_load_added(wp, json_object_get(root, "added_tokens"), err, errlen) != 0)
		return -1;
	json_t *max = json_object_get(model, "max_input_chars_per_word");
	wp->max_word = max ? (size_t)json_integer_value(max) : 100;
	if (max != NULL && (!json_is_integer(max) || json_integer_value(max) < 1 ||
	                    json_integer_value(max) > (json_int_t)WP_WORD_CHARS)) {
		snprintf(err, errlen, "model.max_input_chars_per_word is not in [1, %u]",
		         WP_WORD_CHARS);
		return -1;
	}
	const char *unk = json_string_value(json_object_get(model, "unk_token"));
	if (unk == NULL)
		unk = "[UNK]";
	wp->unk = wordpiece_id(wp, unk, strlen(unk));
	wp->cls = wordpiece_id(wp, "[CLS]", 5);
	wp->sep = wordpiece_id(wp, "[SEP]", 5);
	if (wp->unk < 0 || wp->cls < 0 || wp->sep < 0) {
		snprintf(err, errlen, "the vocabulary lacks %s, [CLS] or [SEP]", unk);
		return -1;
	}
	return 0;
}

struct wordpiece *wordpiece_new(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	struct wordpiece *wp = xcalloc(1, sizeof(*wp));
	if (wp_build(wp, root, err, errlen) != 0)
		wordpiece_free(&wp);
	json_decref(root);
	return wp;
}

struct wordpiece *wordpiece_load(const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *json = file_read(path, WORDPIECE_FILE_MAX, &len, err, errlen);
	if (json == NULL)
		return NULL;
	char why[256];
	struct wordpiece *wp = wordpiece_new(json, len, why, sizeof(why));
	if (wp == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	free(json);
	return wp;
}

/* ---- encoding ---- */

struct wp_enc {
	const struct wordpiece *wp;
	int32_t *ids;
	size_t n, max;
	bool full;
	/* the current word: its UTF-8 bytes and the byte offset of each character */
	char bytes[WP_WORD_CHARS * 4 + 4];
	uint16_t off[WP_WORD_CHARS + 2];
	size_t chars; /* characters seen, may exceed what is kept */
};

static void wp_emit(struct wp_enc *e, int32_t id)
{
	if (e->n + 1 < e->max) /* one slot stays for [SEP] */
		e->ids[e->n++] = id;
	else
		e->full = true;
}

/* Greedy longest-match-first over the current word (WordPiece). */
static void wp_flush(struct wp_enc *e)
{
	const struct wordpiece *wp = e->wp;
	size_t n = e->chars;
	e->chars = 0;
	if (n == 0)
		return;
	if (n > wp->max_word) {
		wp_emit(e, wp->unk);
		return;
	}
	int32_t pieces[WP_WORD_CHARS];
	size_t np = 0;
	for (size_t start = 0; start < n;) {
		const struct wp_slot *hit = NULL;
		size_t end = n;
		while (end > start) {
			hit = wp_find(wp, e->bytes + e->off[start], e->off[end] - e->off[start],
			              start > 0);
			if (hit != NULL)
				break;
			end--;
		}
		if (hit == NULL) {
			wp_emit(e, wp->unk);
			return;
		}
		pieces[np++] = hit->id;
		start = end;
	}
	for (size_t i = 0; i < np && !e->full; i++)
		wp_emit(e, pieces[i]);
}

/* Writes cp (<= U+10FFFF, no surrogate) as UTF-8 at p; returns the bytes written (1 to 4). */
static size_t wp_put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void wp_push(struct wp_enc *e, uint32_t cp)
{
	if (wpu_is_space(cp)) {
		wp_flush(e);
		return;
	}
	bool punct = wpu_is_punct(cp);
	if (punct)
		wp_flush(e);
	if (e->chars <= e->wp->max_word) { /* one more than the limit tells "too long" */
		size_t at = e->off[e->chars];
		e->off[e->chars + 1] = (uint16_t)(at + wp_put_utf8(e->bytes + at, cp));
	}
	e->chars++;
	if (punct)
		wp_flush(e);
}

/* One normalised input code point (BertNormalizer, see wordpiece_unicode.h). */
static void wp_normalise(struct wp_enc *e, uint32_t cp)
{
	uint32_t rep[3];
	size_t nrep = 0;
	switch (wpu_kind(cp, rep, &nrep)) {
	case WPU_KEEP:
		wp_push(e, cp);
		break;
	case WPU_DEL:
		break;
	case WPU_SPACE:
		wp_push(e, ' ');
		break;
	case WPU_PAD:
		wp_push(e, ' ');
		wp_push(e, rep[0]);
		wp_push(e, ' ');
		break;
	case WPU_MAP:
		for (size_t i = 0; i < nrep; i++)
			wp_push(e, rep[i]);
		break;
	}
}

/* Decodes one UTF-8 sequence at s[0..len) (len > 0): the code point, or U+FFFD for an
 * invalid byte (overlong, surrogate, truncated); *used gets the bytes consumed. */
static uint32_t wp_utf8(const unsigned char *s, size_t len, size_t *used)
{
	*used = 1;
	if (s[0] < 0x80)
		return s[0];
	size_t k = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (k == 0 || s[0] > 0xf4 || k > len)
		return 0xfffd;
	uint32_t cp = s[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0xfffd;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0xfffd;
	*used = k;
	return cp;
}

/* The added token (a special token such as "[SEP]") that text starts with, or NULL. */
static const struct wp_added *wp_added_at(const struct wordpiece *wp, const char *s, size_t len)
{
	const struct wp_added *best = NULL;
	for (size_t i = 0; i < wp->n_added; i++) {
		const struct wp_added *t = &wp->added[i];
		if (t->text[0] == s[0] && t->len <= len && memcmp(s, t->text, t->len) == 0 &&
		    (best == NULL || t->len > best->len))
			best = t;
	}
	return best;
}

size_t wordpiece_encode(const struct wordpiece *wp, const char *text, size_t len, int32_t *ids,
                        size_t max)
{
	if (max < 2)
		return 0;
	struct wp_enc e = { .wp = wp, .ids = ids, .max = max };
	e.ids[e.n++] = wp->cls;
	for (size_t pos = 0, used; pos < len && !e.full; pos += used) {
		const struct wp_added *t = wp_added_at(wp, text + pos, len - pos);
		if (t != NULL) {
			wp_flush(&e);
			wp_emit(&e, t->id);
			used = t->len;
			continue;
		}
		wp_normalise(&e, wp_utf8((const unsigned char *)text + pos, len - pos, &used));
	}
	if (!e.full)
		wp_flush(&e);
	e.ids[e.n++] = wp->sep;
	return e.n;
}
