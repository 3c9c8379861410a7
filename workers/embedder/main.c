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
#include "log.h"
#include "metrics.h"
#include "passages.h"
#include "prog.h"
#include "sig.h"
#include "worker.h"

struct embedder_settings {
	char *db_url, *group, *topic, *log_level, *http_bind;
	long long batch_max, batch_ms, retry_base_ms, retry_cap_ms, http_port, event_max_bytes,
	    stall_ms;
	long long chunk_words, chunk_overlap, chunk_max, chunk_bytes;
	struct embed_settings embed; /* the embed.* section (lib/embed.h) */
};

#define S(field) offsetof(struct embedder_settings, field)
static const struct cfg_item embedder_items[] = {
	{ "db.url", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET | CFG_REQUIRED, S(db_url),
	  "libpq connection string as aimem_worker" },
	{ "consumer.group", CFG_STRING, "aimem-embedder", 0, 0, NULL, 0, S(group),
	  "consumer group (and its key in consumer_offsets)" },
	{ "topics.calls", CFG_STRING, "aimem.calls.v1", 0, 0, NULL, 0, S(topic),
	  "call.ended topic" },
	{ "batch.max_events", CFG_INT, "200", 1, 100000, NULL, 0, S(batch_max),
	  "events per transaction at most (their passages are embedded together)" },
	{ "batch.max_wait", CFG_DURATION, "100ms", 1, 60000, NULL, 0, S(batch_ms),
	  "longest wait to fill a batch" },
	{ "retry.base", CFG_DURATION, "100ms", 1, 60000, NULL, 0, S(retry_base_ms),
	  "first backoff after a database error or an embedding failure" },
	{ "retry.cap", CFG_DURATION, "10s", 1, 600000, NULL, 0, S(retry_cap_ms),
	  "longest backoff" },
	{ "event.max_bytes", CFG_SIZE, "1MiB", 1024, 64LL << 20, NULL, 0, S(event_max_bytes),
	  "largest event accepted" },
	{ "chunk.words", CFG_INT, "200", 8, 2000, NULL, 0, S(chunk_words),
	  "words per passage (MiniLM reads 256 word pieces: about 180-200 words)" },
	{ "chunk.overlap", CFG_INT, "40", 0, 999, NULL, 0, S(chunk_overlap),
	  "words shared by consecutive passages (less than half of chunk.words)" },
	{ "chunk.max_per_call", CFG_INT, "128", 1, 10000, NULL, 0, S(chunk_max),
	  "passages per call at most (the rest of a longer call is not indexed, and counted)" },
	{ "chunk.max_bytes", CFG_SIZE, "8KiB", 256, 16384, NULL, 0, S(chunk_bytes),
	  "bytes per passage at most" },
	EMBED_CFG_ITEMS(S(embed)),
	WORKER_READYZ_CFG_ITEM(S(stall_ms)),
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address of /healthz, /readyz and /metrics" },
	{ "http.port", CFG_INT, "9106", 0, 65535, NULL, 0, S(http_port),
	  "port of /healthz, /readyz and /metrics (0: any free port)" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
};
#undef S

static const char embedder_usage[] =
    "Usage: aimem-embedder [options]\n"
    "\n"
    "Cuts each call.ended event's transcript into overlapping passages, embeds them\n"
    "(embed.provider) and stores them in call_chunks for search, exactly once: offsets are\n"
    "stored with the rows in one transaction; bad events go to dead_letters. Re-embedding\n"
    "after a model change is a replay of this group.\n"
    "Signals: SIGTERM/SIGINT finish the batch, commit, leave the group, exit 0; SIGHUP\n"
    "reads log.level again. Under systemd (Type=notify): READY=1 once subscribed,\n"
    "STOPPING=1, WATCHDOG=1.\n"
    "\n"
    "  replay --from <RFC 3339|earliest> [--to <RFC 3339>] [--customer N] [--dry-run]\n"
    "      reprocess a time range of the topic with a temporary consumer beside the live\n"
    "      group (its stored offsets untouched), up to the end offsets at start; prints a\n"
    "      report (aimem replay --group embedder runs this)\n";

/* The vector column must have the configured dimension: refuse to start otherwise. A database
 * that cannot be reached now is weather: the worker's own connection retries. */
static int embedder_check_dim(const struct embedder_settings *s, char *err, size_t errlen)
{
	char derr[256];
	PGconn *conn = db_connect(s->db_url, 10000, derr, sizeof(derr));
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
	const struct prog_info info = { "aimem-embedder",
		                        embedder_usage,
		                        embedder_items,
		                        sizeof(embedder_items) / sizeof(embedder_items[0]),
		                        &s,
		                        "kafka.",
		                        embedder_check };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup(); /* before librdkafka, curl and MHD start threads */
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;
	char err[512];
	struct worker_replay replay;
	int replaying = worker_replay_args(argc, argv, argi, &replay, err, sizeof(err));
	const struct chunk_limits lim = { (unsigned)s.chunk_words, (unsigned)s.chunk_overlap,
		                          (unsigned)s.chunk_max, (size_t)s.chunk_bytes };
	if (replaying >= 0 && s.chunk_overlap * 2 >= s.chunk_words) {
		snprintf(err, sizeof(err), "chunk.overlap must be less than half of chunk.words");
		replaying = -1;
	}
	if (replaying < 0) {
		fprintf(stderr, "aimem-embedder: %s\n", err);
		cfg_free(&cfg);
		return 2;
	}

	int exit_code = 2;
	struct metrics *m = metrics_new();
	struct passages *p = NULL;
	struct worker *w = NULL;
	struct embedder *emb = embed_open(&s.embed, m, err, sizeof(err));
	if (emb == NULL || embedder_check_dim(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, "aimem-embedder: %s\n", err);
		goto out;
	}
	p = passages_new(emb, &lim, m);
	const struct worker_config wc = { s.group,
		                          s.topic,
		                          s.db_url,
		                          (size_t)s.batch_max,
		                          s.batch_ms,
		                          s.retry_base_ms,
		                          s.retry_cap_ms,
		                          { (size_t)s.event_max_bytes, 5000, 32 << 10 },
		                          replaying ? &replay : NULL,
		                          s.stall_ms };
	const struct worker_ops ops = {
		1u << EVENT_CALL_ENDED, NULL, p, passages_prepare, passages_release,
		passages_apply_batch
	};
	w = worker_new(&wc, &ops, cfg, m, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "aimem-embedder: %s\n", err);
		goto out;
	}
	log_info("provider=%s model=%s dimensions=%u chunk_words=%lld overlap=%lld",
	         s.embed.provider, embed_model_id(emb), embed_dim(emb), s.chunk_words,
	         s.chunk_overlap);
	exit_code = worker_serve(w, "aimem-embedder", s.http_bind, (int)s.http_port) == 0 ? 0 : 1;
	log_info("stopped");
out:
	worker_free(&w); /* before the passages: dropping a batch releases them */
	passages_free(&p);
	embed_close(&emb);
	metrics_free(&m);
	cfg_free(&cfg);
	return exit_code;
}
