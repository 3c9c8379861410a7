/*
 * chunk: transcript passages (see chunk.h).
 */
#include "chunk.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"
#include "xalloc.h"

struct chunk_word {
	unsigned turn;
	const char *p;
	size_t len;
};

static bool chunk_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *chunk_label(enum event_role r)
{
	switch (r) {
	case EVENT_ROLE_USER:
		return "Caller: ";
	case EVENT_ROLE_ASSISTANT:
		return "Agent: ";
	case EVENT_ROLE_SYSTEM:
		return "System: ";
	case EVENT_ROLE_TOOL:
		return "Tool: ";
	}
	return "Other: ";
}

/* Every word of the call in order; *n their number. Owned array. */
static struct chunk_word *chunk_words(const struct event_call *call, size_t *n)
{
	size_t cap = 0, len = 0;
	struct chunk_word *w = NULL;
	for (size_t t = 0; t < call->nturns; t++) {
		const char *s = call->turns[t].text;
		size_t tl = call->turns[t].text_len;
		for (size_t i = 0; i < tl;) {
			while (i < tl && chunk_blank(s[i]))
				i++;
			size_t start = i;
			while (i < tl && !chunk_blank(s[i]))
				i++;
			if (i == start)
				continue;
			if (len == cap) {
				cap = cap ? cap * 2 : 256;
				w = xreallocarray(w, cap, sizeof(*w));
			}
			w[len++] = (struct chunk_word){ (unsigned)t, s + start, i - start };
		}
	}
	*n = len;
	return w;
}

/* The passage of words [from, to): one labelled line per turn, at most max_bytes. */
static void chunk_text(const struct event_call *call, const struct chunk_word *w, size_t from,
                       size_t to, size_t max_bytes, struct chunk *out)
{
	struct buf b = BUF_INIT;
	unsigned turn = 0, words = 0;
	for (size_t i = from; i < to; i++) {
		const char *label = NULL;
		if (i == from || w[i].turn != turn) {
			turn = w[i].turn;
			label = chunk_label(call->turns[turn].role);
		}
		size_t need = (label ? strlen(label) + (i > from) : 1) + w[i].len;
		if (b.len + need > max_bytes) {
			/* room for a piece of this word only (the first word of a passage) */
			if (words > 0 || b.len + need - w[i].len >= max_bytes)
				break;
		}
		if (label) {
			if (i > from)
				buf_putc(&b, '\n');
			buf_append_str(&b, label);
		} else {
			buf_putc(&b, ' ');
		}
		size_t room = max_bytes - b.len;
		buf_append(&b, w[i].p, text_utf8_cut(w[i].p, w[i].len, room));
		words++;
	}
	out->words = words;
	out->len = b.len;
	out->text = buf_detach(&b);
}

size_t chunk_call(const struct event_call *call, const struct chunk_limits *lim, struct chunk **out,
                  bool *truncated)
{
	assert(lim->words >= 8 && lim->overlap < lim->words / 2 && lim->max_chunks >= 1 &&
	       lim->max_bytes >= 256);
	size_t nw;
	struct chunk_word *w = chunk_words(call, &nw);
	size_t stride = lim->words - lim->overlap, n = 0;
	*out = NULL;
	*truncated = false;
	if (nw > 0) {
		size_t want = nw <= lim->words ? 1 : 1 + (nw - lim->words + stride - 1) / stride;
		if (want > lim->max_chunks) {
			want = lim->max_chunks;
			*truncated = true;
		}
		*out = xcalloc(want, sizeof(**out));
		for (size_t from = 0; n < want; from += stride) {
			size_t to = from + lim->words < nw ? from + lim->words : nw;
			chunk_text(call, w, from, to, lim->max_bytes, &(*out)[n++]);
			if (to == nw)
				break;
		}
	}
	free(w);
	return n;
}

void chunk_free(struct chunk **c, size_t n)
{
	if (c == NULL || *c == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*c)[i].text);
	free(*c);
	*c = NULL;
}
