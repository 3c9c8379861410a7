/*
 * embed: the embedder interface of aimem-embedder (passages) and aimem-query (queries), and
 * its settings section (embed.*), so both programs read the same keys and make the same
 * vectors.
 *
 * A batch of UTF-8 texts in, L2-normalised float vectors of the configured dimension out.
 * Providers, chosen by embed.provider:
 *   hashed          lib/proc_embed: hashed word and character n-grams, 384 dimensions. Lexical,
 *                   not semantic ("car"/"vehicle" share nothing): the zero-dependency fallback.
 *   openai          any OpenAI-compatible POST {embed.base_url}/embeddings (OpenAI with
 *                   dimensions, Ollama, vLLM, llama.cpp server, TEI): texts in batches of
 *                   embed.batch_size, many requests in flight, timeouts, retries and response
 *                   caps through lib/llm's transfer engine; answers parsed by lib/embed_json.
 *   builtin-minilm  all-MiniLM-L6-v2 in process (lib/minilm, OpenBLAS): real sentence
 *                   embeddings, 384 dimensions, no network; the model files come from
 *                   scripts/deps.sh (embed.model_dir, default the cache it fills). A missing
 *                   or corrupt model is a start-up error naming the file.
 * Every row records the model id (embed_model_id), e.g. "hashed-ngram/1" or
 * "all-MiniLM-L6-v2/1", "openai:text-embedding-3-small/384": search compares only vectors of the current id.
 *
 * Not here: chunking (calls/chunk), storing, what to do when embedding fails (the worker
 * retries the batch).
 */
#ifndef AIMEM_EMBED_H
#define AIMEM_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "llm.h"
#include "metrics.h"

struct embed_settings {
	struct llm_transfer_settings transfer; /* embed.base_url ... embed.max_response (llm.h) */
	char *provider, *model_dir, *fallback;
	long long dimensions, batch_size, max_input_bytes;
	bool send_dimensions;
};

#define EMBED_PROVIDERS "builtin-minilm|openai|hashed"

/* clang-format off */
#define EMBED_S_(base, field) ((base) + offsetof(struct embed_settings, field))
/* The embed.* rows of a cfg table; base: the offset of the embedded struct embed_settings. */
#define EMBED_CFG_ITEMS(base) \
	{ .key = "embed.provider", .type = CFG_ENUM, .def = "builtin-minilm", .choices = EMBED_PROVIDERS, \
	  .offset = EMBED_S_(base, provider), \
	  .help = "builtin-minilm (all-MiniLM-L6-v2 in process) | openai (an OpenAI-compatible " \
	          "/embeddings server) | hashed (lexical word hashing, no model: the fallback)" }, \
	{ .key = "embed.model_dir", .type = CFG_STRING, .offset = EMBED_S_(base, model_dir), \
	  .help = "builtin-minilm: the model's folder; unset: $AIMEM_CACHE/all-minilm-l6-v2 (scripts/deps.sh)" }, \
	{ .key = "embed.fallback", .type = CFG_ENUM, .def = "none", .choices = "none|hashed", \
	  .offset = EMBED_S_(base, fallback), \
	  .help = "builtin-minilm: none (a missing or corrupt model refuses to start) | hashed (start with " \
	          "the lexical hashed provider instead: logged as an error, aimem_embed_fallback 1)" }, \
	{ .key = "embed.dimensions", .type = CFG_INT, .def = "384", .min = 1, .max = 2000, \
	  .offset = EMBED_S_(base, dimensions), \
	  .help = "vector dimension; must equal call_chunks.embedding's (checked at start)" }, \
	{ .key = "embed.base_url", .type = CFG_STRING, .offset = EMBED_S_(base, transfer.base_url), \
	  .help = "provider openai: API base, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1" }, \
	{ .key = "embed.model", .type = CFG_STRING, .offset = EMBED_S_(base, transfer.model), \
	  .help = "provider openai: model name; rows record openai:<model>/<dimensions>" }, \
	{ .key = "embed.api_key", .type = CFG_STRING, .flags = CFG_SECRET, .offset = EMBED_S_(base, transfer.api_key), \
	  .help = "provider openai: API key (use embed.api_key_file or AIMEM_EMBED_API_KEY_FILE)" }, \
	{ .key = "embed.api_key_header", .type = CFG_STRING, .offset = EMBED_S_(base, transfer.api_key_header), \
	  .help = "header carrying the bare key (e.g. api-key); unset: Authorization: Bearer" }, \
	{ .key = "embed.send_dimensions", .type = CFG_BOOL, .def = "false", \
	  .offset = EMBED_S_(base, send_dimensions), \
	  .help = "provider openai: send dimensions (OpenAI text-embedding-3 shortens its vectors)" }, \
	{ .key = "embed.batch_size", .type = CFG_INT, .def = "64", .min = 1, .max = 2048, \
	  .offset = EMBED_S_(base, batch_size), .help = "provider openai: texts per request" }, \
	{ .key = "embed.max_input_bytes", .type = CFG_SIZE, .def = "8KiB", .min = 256, .max = 1LL << 20, \
	  .offset = EMBED_S_(base, max_input_bytes), \
	  .help = "a longer text is cut (at a UTF-8 boundary) before it is embedded" }, \
	{ .key = "embed.timeout", .type = CFG_DURATION, .def = "30s", .min = 100, .max = 600000, \
	  .offset = EMBED_S_(base, transfer.timeout_ms), .help = "provider openai: per attempt, the whole transfer" }, \
	{ .key = "embed.connect_timeout", .type = CFG_DURATION, .def = "5s", .min = 100, .max = 60000, \
	  .offset = EMBED_S_(base, transfer.connect_timeout_ms), .help = "provider openai: per attempt" }, \
	{ .key = "embed.max_in_flight", .type = CFG_INT, .def = "8", .min = 1, .max = 1024, \
	  .offset = EMBED_S_(base, transfer.in_flight), .help = "provider openai: requests in flight at once" }, \
	{ .key = "embed.max_attempts", .type = CFG_INT, .def = "4", .min = 1, .max = 100, \
	  .offset = EMBED_S_(base, transfer.attempts), \
	  .help = "provider openai: attempts per request on 429/5xx/timeouts (1: no retry)" }, \
	{ .key = "embed.backoff.base", .type = CFG_DURATION, .def = "250ms", .min = 1, .max = 60000, \
	  .offset = EMBED_S_(base, transfer.backoff_base_ms), \
	  .help = "provider openai: first backoff between attempts" }, \
	{ .key = "embed.backoff.cap", .type = CFG_DURATION, .def = "10s", .min = 1, .max = 600000, \
	  .offset = EMBED_S_(base, transfer.backoff_cap_ms), \
	  .help = "provider openai: longest backoff between attempts" }, \
	{ .key = "embed.retry_after_cap", .type = CFG_DURATION, .def = "30s", .min = 0, .max = 600000, \
	  .offset = EMBED_S_(base, transfer.retry_after_cap_ms), \
	  .help = "provider openai: a longer Retry-After is cut to this" }, \
	{ .key = "embed.max_response", .type = CFG_SIZE, .def = "64MiB", .min = 1024, .max = 1LL << 30, \
	  .offset = EMBED_S_(base, transfer.max_response), \
	  .help = "provider openai: largest answer body accepted" }
/* clang-format on */

struct embedder;

/*
 * Checks the settings (copied) and opens the provider. m (borrowed, outlives the embedder)
 * receives aimem_embed_texts_total, aimem_embed_failures_total, aimem_embed_fallback and, for
 * openai, lib/llm's request metrics; NULL keeps them private. Returns the embedder (owned:
 * embed_close) or NULL with err ("embed.<key>: reason"). Does not connect anywhere.
 *
 * builtin-minilm with a model that cannot be loaded: NULL with the file and the fix in err,
 * unless embed.fallback is hashed: then the embedder is the hashed provider (model id
 * hashed-ngram/1, so its vectors are never compared with MiniLM's), the reason is logged at
 * error level and aimem_embed_fallback{provider="builtin-minilm"} is 1 (0 when the model
 * loaded), for an alert.
 */
struct embedder *embed_open(const struct embed_settings *s, struct metrics *m, char *err,
                            size_t errlen);
void embed_close(struct embedder **e);

/* The id rows record and search compares ("hashed-ngram/1", "openai:<model>/<dim>"). */
const char *embed_model_id(const struct embedder *e);
unsigned embed_dim(const struct embedder *e);

/*
 * Embeds n texts (texts[i]/lens[i], UTF-8) into out[n * dim], each vector L2-normalised (a text
 * without any word gets a fixed unit vector, never zeros). Blocks: CPU for hashed, the network
 * for openai (all batches in flight at once, with retries). Returns 0, or -1 with err when the
 * provider stays unavailable or answers wrongly (the caller retries later). Thread-safe:
 * concurrent calls on one openai embedder are serialised.
 */
int embed_texts(struct embedder *e, const char *const *texts, const size_t *lens, size_t n,
                float *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Scales v[0..dim) to unit length; a zero or non-finite vector becomes e0. */
void embed_normalise(float *v, unsigned dim);

#endif
