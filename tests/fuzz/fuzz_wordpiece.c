/*
 * fuzz_wordpiece: libFuzzer target for the BERT WordPiece tokenizer (lib/wordpiece and its
 * Unicode tables). The first byte picks the mode:
 *   even  the rest is text, encoded with a small built-in vocabulary (ASCII letters and
 *         "##" pieces, accented and CJK entries, the special tokens) into at most
 *         2 + byte % 300 ids: the ids are [CLS] ... [SEP], in the vocabulary, within max;
 *   odd   the rest is a tokenizer.json, loaded and, when accepted, used on a fixed text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char fz_tokenizer[] =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\"},{\"id\":100,\"content\":\"[UNK]\"},"
    "{\"id\":101,\"content\":\"[CLS]\"},{\"id\":102,\"content\":\"[SEP]\"},"
    "{\"id\":103,\"content\":\"[MASK]\"}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,"
    "\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":"
    "\"##\",\"max_input_chars_per_word\":100,\"vocab\":{\"[PAD]\":0,\"[UNK]\":100,"
    "\"[CLS]\":101,\"[SEP]\":102,\"[MASK]\":103,\"a\":1,\"b\":2,\"c\":3,\"e\":4,\"##a\":5,"
    "\"##b\":6,\"##c\":7,\"##e\":8,\"cafe\":9,\"##s\":10,\"the\":11,\",\":12,\".\":13,"
    "\"!\":14,\"中\":15,\"文\":16,\"ᄒ\":17,\"##ᅡ\":18,\"##ᆫ\":19,\"ß\":20,\"1\":21,"
    "\"##1\":22,\"'\":23,\"##ab\":24,\"abc\":25}}}";

static struct wordpiece *fz_wp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[256];
	fz_wp = wordpiece_new(fz_tokenizer, strlen(fz_tokenizer), err, sizeof(err));
	return fz_wp == NULL;
}

static void fz_encode(const struct wordpiece *wp, const char *text, size_t len, size_t max)
{
	int32_t *ids = malloc(max * sizeof(*ids));
	size_t n = wordpiece_encode(wp, text, len, ids, max);
	if (n < 2 || n > max || ids[0] != wordpiece_id(wp, "[CLS]", 5) ||
	    ids[n - 1] != wordpiece_id(wp, "[SEP]", 5))
		abort();
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= wordpiece_vocab_size(wp))
			abort();
	free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *rest = (const char *)data + 1;
	if ((data[0] & 1) == 0) {
		fz_encode(fz_wp, rest, size - 1, 2 + data[0] % 300u);
		return 0;
	}
	char err[256];
	struct wordpiece *wp = wordpiece_new(rest, size - 1, err, sizeof(err));
	if (wp != NULL)
		fz_encode(wp, "Caf\xc3\xa9 [SEP] \xe4\xb8\xad abc's!", 20, 64);
	wordpiece_free(&wp);
	return 0;
}
