/*
 * chunk: a call's transcript cut into overlapping passages for search (call_chunks, written by
 * aimem-embedder).
 *
 * Words are runs of non-blank bytes. A window of `words` words starts every `words - overlap`
 * words, so a sentence cut by one window's end is whole in the next; the last window ends at
 * the call's last word. A passage's text keeps who spoke: each turn's words in the window are
 * one line "Caller: ...", "Agent: ...", "System: ..." or "Tool: ...", words joined by one
 * space. Bounds: at most max_chunks passages per call (the rest of a very long call is not
 * indexed: *truncated says so) and max_bytes per passage (a window of overlong "words" is cut
 * at a UTF-8 boundary).
 *
 * Not here: the summary (it lives in call_summaries), tokenising for a model (the embedder
 * truncates what it cannot take), language detection.
 */
#ifndef AIMEM_CHUNK_H
#define AIMEM_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"

struct chunk_limits {
	unsigned words;      /* words per passage (>= 8) */
	unsigned overlap;    /* words shared by consecutive passages (< words / 2) */
	unsigned max_chunks; /* passages per call at most (>= 1) */
	size_t max_bytes;    /* bytes per passage text at most (>= 256) */
};

#define CHUNK_LIMITS_DEFAULT                                                                       \
	{                                                                                          \
		200, 40, 128, 8192                                                                 \
	}

struct chunk {
	char *text; /* owned, NUL-terminated, valid UTF-8 when the turns are */
	size_t len;
	unsigned words; /* the passage's words, labels not counted (>= 1) */
};

/*
 * Cuts call's turns into passages. Returns their number (0 for a call without any word) and
 * *out (owned: chunk_free), and sets *truncated when max_chunks cut the call short. Pure,
 * thread-safe; time and memory linear in the transcript.
 */
size_t chunk_call(const struct event_call *call, const struct chunk_limits *lim, struct chunk **out,
                  bool *truncated);
/* Frees n passages and the array; accepts NULL and clears the pointer. */
void chunk_free(struct chunk **c, size_t n);

#endif
