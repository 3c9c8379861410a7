/*
 * wordpiece: the BERT WordPiece tokenizer of a Hugging Face tokenizer.json (the one
 * all-MiniLM-L6-v2 ships), in C, agreeing with the reference implementation id for id.
 *
 * The pipeline is BERT's: the special tokens of added_tokens ("[CLS]", "[SEP]", ...) are
 * matched in the raw text first; then BertNormalizer (controls and U+FFFD removed, white
 * space made ' ', CJK ideographs padded with spaces, accents stripped by canonical
 * decomposition, lower case: the per-code-point tables of lib/wordpiece_unicode), then
 * BertPreTokenizer (split at white space, every punctuation character a word of its own),
 * then greedy longest-match-first WordPiece with the "##" continuation prefix; a word longer
 * than max_input_chars_per_word or with a part not in the vocabulary is one [UNK]. The ids
 * are wrapped in [CLS] ... [SEP] and cut to the caller's maximum (the first pieces are kept).
 * Invalid UTF-8 bytes are dropped, as their U+FFFD replacement would be.
 *
 * Not here: other normalizers or models (loading refuses them), pairs of sequences, offsets,
 * padding, decoding ids back to text.
 */
#ifndef AIMEM_WORDPIECE_H
#define AIMEM_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

struct wordpiece;

/* tokenizer.json is refused above this size (the MiniLM one is 466 kB). */
#define WORDPIECE_FILE_MAX (16u << 20)

/*
 * Loads tokenizer.json at path. Returns the tokenizer (owned: wordpiece_free), or NULL with
 * err ("path: reason") when the file cannot be read, is not JSON, or describes anything but
 * a lower-casing, accent-stripping BERT WordPiece tokenizer with [CLS], [SEP] and [UNK].
 * Blocks on the file read.
 */
struct wordpiece *wordpiece_load(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same from the file's content json[0..len) (borrowed for the call). */
struct wordpiece *wordpiece_new(const char *json, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Frees *wp (NULL is fine) and clears the pointer. */
void wordpiece_free(struct wordpiece **wp);

/*
 * Tokenizes text[0..len) (UTF-8, not NUL-terminated) into ids: [CLS], the word pieces,
 * [SEP], at most max ids in all (max >= 2; the pieces past max - 2 are dropped and the text
 * after them is not read). Returns the number of ids written (2 for an empty text).
 * No allocation; the tokenizer is read-only after loading, so any number of threads may
 * encode with it at once.
 */
size_t wordpiece_encode(const struct wordpiece *wp, const char *text, size_t len, int32_t *ids,
                        size_t max);

/* The id of the vocabulary entry tok[0..len) ("##" prefix included), or -1. */
int32_t wordpiece_id(const struct wordpiece *wp, const char *tok, size_t len);

/* One more than the largest id in the vocabulary (and the added tokens). */
size_t wordpiece_vocab_size(const struct wordpiece *wp);

#endif
