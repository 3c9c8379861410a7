/*
 * aimem-embedder: call.ended events from aimem.calls.v1 → call_chunks (each call's transcript in
 * overlapping passages, with full text and an embedding), exactly once (lib/worker), in its own
 * consumer group, off the summarizer's path. This file is the settings and the start-up and
 * shutdown story; passages.c is the work.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "chunk.h"
#include "db.h"
#include "embed.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "passages.h"
#include "prog.h"
#include "redact_event.h"
#include "worker.h"
#include "worker_settings.h"

struct embedder_settings {
	struct worker_settings worker; /* the worker section (lib/worker_settings.h) */
	long long chunk_words, chunk_overlap, chunk_max, chunk_bytes;
	struct embed_settings embed;     /* the embed.* section (lib/embed.h) */
	struct metrics_settings metrics; /* /healthz, /readyz, /metrics (lib/metrics.h) */
	struct redact_settings redact;   /* the redact.* section (lib/redact.h) */
	char *log_level;
};

#define S(field) offsetof(struct embedder_settings, field)
static const struct cfg_item embedder_items[] = {
	WORKER_CFG_ITEMS(S(worker), "aimem-embedder"),
	KAFKA_TOPICS_CALLS_CFG_ITEM(S(worker.topic), "call.ended topic"),
	WORKER_BATCH_CFG_ITEMS(
	    S(worker), "200", "100ms",
	    "events per transaction at most (their passages are embedded together)",
	    "first backoff after a database error or an embedding failure"),
	{ .key = "chunk.words",
	  .type = CFG_INT,
	  .def = "200",
	  .min = 8,
	  .max = 2000,
	  .offset = S(chunk_words),
	  .help = "words per passage (MiniLM reads 256 word pieces: about 180-200 words)" },
	{ .key = "chunk.overlap",
	  .type = CFG_INT,
	  .def = "40",
	  .min = 0,
	  .max = 999,
	  .offset = S(chunk_overlap),
	  .help = "words shared by consecutive passages (less than half of chunk.words)" },
	{ .key = "chunk.max_per_call",
	  .type = CFG_INT,
	  .def = "128",
	  .min = 1,
	  .max = 10000,
	  .offset = S(chunk_max),
	  .help =
	      "passages per call at most (the rest of a longer call is not indexed, and counted)" },
	{ .key = "chunk.max_bytes",
	  .type = CFG_SIZE,
	  .def = "8KiB",
	  .min = 256,
	  .max = 16384,
	  .offset = S(chunk_bytes),
	  .help = "bytes per passage at most" },
	EMBED_CFG_ITEMS(S(embed)),
	REDACT_CFG_ITEMS(S(redact)),
	WORKER_READYZ_CFG_ITEM(S(worker)),
	METRICS_CFG_ITEMS(S(metrics), "9106"),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static const char embedder_usage[] =
    "Usage: aimem-embedder [options]\n"
    "\n"
    "Cuts each call.ended event's transcript into overlapping passages, embeds them\n"
    "(embed.provider) and stores them in call_chunks for search, exactly once: offsets are\n"
    "stored with the rows in one transaction; bad events go to dead_letters. Re-embedding\n"
    "after a model change is a replay of this group.\n"
    "Card, bank and social-security numbers in the turns are replaced by placeholders\n"
    "before anything is stored or sent to a model (redact.*, docs/redaction.md; SIGHUP\n"
    "reads the policy again too).\n" WORKER_USAGE_TAIL("embedder");

/* The vector column must have the configured dimension: refuse to start otherwise. A database
 * that cannot be reached now is weather: the worker's own connection retries. */
static int embedder_check_dim(const struct embedder_settings *s, char *err, size_t errlen)
{
	char derr[256];
	PGconn *conn = db_connect(s->worker.db_url, 10000, derr, sizeof(derr));
	if (conn == NULL) {
		log_warn("cannot check call_chunks.embedding's dimension now error=\"%s\"", derr);
		return 0;
	}
	unsigned dim = 0;
	int rc = passages_column_dim(conn, &dim, err, errlen);
	PQfinish(conn);
	if (rc == 0 && dim != (unsigned)s->embed.dimensions) {
		snprintf(err, errlen,
		         "embed.dimensions is %lld but call_chunks.embedding is vector(%u): change "
		         "one (a migration altering the column and its index, then a replay)",
		         s->embed.dimensions, dim);
		return -1;
	}
	return rc;
}

/* prog_info.check (--check-config): the provider opened as start-up opens it (the built-in
 * model's files loaded and checked, an openai provider's settings), and the chunk sizes. */
static int embedder_check(const void *settings, char *err, size_t errlen)
{
	const struct embedder_settings *s = settings;
	if (s->chunk_overlap * 2 >= s->chunk_words) {
		snprintf(err, errlen, "chunk.overlap must be less than half of chunk.words");
		return -1;
	}
	if (redact_settings_check(&s->redact, err, errlen) != 0)
		return -1;
	struct metrics *m = metrics_new();
	struct embedder *emb = embed_open(&s->embed, m, err, errlen);
	int rc = emb != NULL ? 0 : -1;
	embed_close(&emb);
	metrics_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct embedder_settings s = { 0 };
	const struct prog_info info = {
		.name = "aimem-embedder",
		.usage = embedder_usage,
		.items = embedder_items,
		.nitems = sizeof(embedder_items) / sizeof(embedder_items[0]),
		.settings = &s,
		.passthrough = KAFKA_CFG_PASSTHROUGH,
		.check = embedder_check,
	};
	struct worker_prog wp;
	if (worker_prog_start(&wp, &info, argc, argv) != PROG_RUN)
		return wp.exit_code;
	const struct chunk_limits lim = { .words = (unsigned)s.chunk_words,
		                          .overlap = (unsigned)s.chunk_overlap,
		                          .max_chunks = (unsigned)s.chunk_max,
		                          .max_bytes = (size_t)s.chunk_bytes };
	if (s.chunk_overlap * 2 >= s.chunk_words) {
		fprintf(stderr,
		        "aimem-embedder: chunk.overlap must be less than half of chunk.words\n");
		worker_prog_end(&wp);
		return 2;
	}

	char err[512];
	int exit_code = 2;
	struct passages *p = NULL;
	struct redact_edge *redact = NULL;
	struct embedder *emb = embed_open(&s.embed, wp.metrics, err, sizeof(err));
	if (emb == NULL || embedder_check_dim(&s, err, sizeof(err)) != 0 ||
	    (redact = redact_edge_start(&s.redact, offsetof(struct embedder_settings, redact),
	                                wp.metrics, err, sizeof(err))) == NULL) {
		fprintf(stderr, "aimem-embedder: %s\n", err);
		goto out;
	}
	p = passages_new(emb, &lim, wp.metrics);
	const struct worker_ops ops = { .accept_types = 1u << EVENT_CALL_ENDED,
		                        .ctx = p,
		                        .prepare = passages_prepare,
		                        .release = passages_release,
		                        .apply_batch = passages_apply_batch,
		                        .tables = passages_tables,
		                        .redact = redact };
	log_info("provider=%s model=%s dimensions=%u chunk_words=%lld overlap=%lld",
	         s.embed.provider, embed_model_id(emb), embed_dim(emb), s.chunk_words,
	         s.chunk_overlap);
	exit_code = worker_prog_run(&wp, &s.worker, &s.metrics, &ops);
out:
	passages_free(&p);
	redact_edge_free(&redact);
	embed_close(&emb);
	worker_prog_end(&wp);
	return exit_code;
}
