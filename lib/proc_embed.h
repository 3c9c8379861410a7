/*
 * proc_embed: the deterministic hashed n-gram embedder (384 dimensions) used for call
 * summaries and for search queries, and the pgvector text form of a vector.
 *
 * Feature hashing, not a language model: word unigrams, word bigrams and character
 * 3-grams of each word are hashed (FNV-1a, then a 64-bit mixer) into 384 signed buckets,
 * bucket sums are log-scaled and the vector is L2-normalised. Texts that share words or
 * word pieces ("bill" / "billing") get a high cosine; synonyms with no shared letters
 * ("car" / "vehicle") do not. The same text always gives the same vector, on every
 * machine and in every process, so stored vectors stay comparable until PROC_BUILTIN_NAME
 * changes.
 *
 * Not here: stop-word lists beyond a small built-in English one, IDF weighting, anything
 * that needs a corpus.
 */
#ifndef AIMEM_PROC_EMBED_H
#define AIMEM_PROC_EMBED_H

#include <stddef.h>

#include "buf.h"

#define PROC_EMBED_DIM 384

/*
 * Embeds text[0..len) (UTF-8; ASCII case-folded) into out, L2-normalised. A text with no
 * usable word gets the unit vector e0 (never the zero vector: its cosine is undefined).
 * Pure, thread-safe, no allocation; linear in len.
 */
void proc_embed_text(const char *text, size_t len, float out[PROC_EMBED_DIM]);

/* Appends the pgvector text form "[0.012345,-0.2,...]" (6 decimals, trailing zeros
 * dropped; non-finite values written as 0) to out, for a bind parameter. */
void proc_embedding_text(const float v[PROC_EMBED_DIM], struct buf *out);

/* Cosine similarity of two vectors (0 when either is zero). */
double proc_embed_cosine(const float a[PROC_EMBED_DIM], const float b[PROC_EMBED_DIM]);

#endif
