/*
 * Unit tests for the settings sections (docs/DESIGN.md §2): a table made of the sections the
 * way a program's is loads into the embedded structs, and each section's constructor hands the
 * loaded values on to its module's config unchanged (worker_settings_config,
 * http_settings_config, llm_model_check).
 */
#include <stddef.h>
#include <string.h>

#include "cfg.h"
#include "http.h"
#include "kafka.h"
#include "llm_settings.h"
#include "metrics.h"
#include "prog.h"
#include "unit.h"
#include "worker_settings.h"

struct t_worker_settings {
	struct worker_settings worker;
	struct metrics_settings metrics;
	struct http_settings http;
	struct llm_settings llm;
	char *processor;
	char *log_level;
};

#define S(field) offsetof(struct t_worker_settings, field)
static const struct cfg_item t_items[] = {
	WORKER_CFG_ITEMS(S(worker), "aimem-test"),
	KAFKA_TOPICS_CALLS_CFG_ITEM(S(worker.topic), "call.ended topic"),
	WORKER_BATCH_CFG_ITEMS(S(worker), "200", "100ms", "events per transaction at most",
	                       "first backoff after a database error"),
	LLM_PROCESSOR_CFG_ITEM(S(processor), "the built-in processors"),
	LLM_CFG_ITEMS(S(llm), "workers/summarizer/prompts/summarize.v2.txt", "built-in summary"),
	WORKER_READYZ_CFG_ITEM(S(worker)),
	HTTP_CFG_ITEMS(S(http), "8101", "1MiB", 64LL << 20, "largest request body"),
	HTTP_DRAIN_CFG_ITEM(S(http)),
	METRICS_CFG_ITEMS(S(metrics), "9103"),
	PROG_LOG_CFG_ITEM(S(log_level)),
};
#undef S

static struct cfg *t_load(struct t_worker_settings *s, const char *text)
{
	memset(s, 0, sizeof(*s));
	struct cfg *c =
	    cfg_new(t_items, sizeof(t_items) / sizeof(t_items[0]), s, KAFKA_CFG_PASSTHROUGH);
	char err[256] = "";
	int rc = cfg_load_text(c, text, strlen(text), "test.conf", err, sizeof(err));
	CHECK_INT(rc, 0);
	CHECK_STR(err, "");
	return c;
}

UNIT_TEST(settings_sections_defaults)
{
	struct t_worker_settings s;
	struct cfg *c = t_load(&s, "db.url = postgresql://x\n");
	CHECK_STR(s.worker.group, "aimem-test");
	CHECK_STR(s.worker.topic, KAFKA_TOPIC_CALLS);
	CHECK_INT(s.worker.batch_max, 200);
	CHECK_INT(s.worker.batch_ms, 100);
	CHECK_INT(s.worker.retry_base_ms, 100);
	CHECK_INT(s.worker.retry_cap_ms, 10000);
	CHECK_INT(s.worker.event_max_bytes, 1 << 20);
	CHECK_INT(s.worker.stall_ms, 5 * 60 * 1000);
	CHECK_STR(s.metrics.bind, "127.0.0.1");
	CHECK_INT(s.metrics.port, 9103);
	CHECK_INT(s.http.port, 8101);
	CHECK_INT(s.http.max_body, 1 << 20);
	CHECK_INT(s.http.drain_ms, 10000);
	CHECK_STR(s.processor, "builtin");
	CHECK_STR(s.llm.policy, "fallback");
	CHECK(s.llm.json_mode);
	CHECK_STR(s.log_level, "info");
	cfg_free(&c);
}

UNIT_TEST(settings_worker_config_carries_the_loaded_values)
{
	struct t_worker_settings s;
	struct cfg *c = t_load(&s, "db.url = postgresql://w\n"
	                           "consumer.group = g1\n"
	                           "topics.calls = t1\n"
	                           "batch.max_events = 7\n"
	                           "batch.max_wait = 3s\n"
	                           "retry.base = 20ms\n"
	                           "retry.cap = 2s\n"
	                           "event.max_bytes = 4KiB\n"
	                           "readyz.stall_timeout = 0\n");
	struct worker_replay replay = { .from_ms = 5, .to_ms = -1 };
	struct worker_config live = worker_settings_config(&s.worker, NULL);
	CHECK_STR(live.group, "g1");
	CHECK_STR(live.topic, "t1");
	CHECK_STR(live.db_url, "postgresql://w");
	CHECK_INT(live.batch_max, 7);
	CHECK_INT(live.batch_ms, 3000);
	CHECK_INT(live.retry_base_ms, 20);
	CHECK_INT(live.retry_cap_ms, 2000);
	CHECK_INT(live.limits.max_event_bytes, 4096);
	CHECK_INT(live.limits.max_turns, event_default_limits.max_turns);
	CHECK_INT(live.limits.max_text_bytes, event_default_limits.max_text_bytes);
	CHECK_INT(live.stall_ms, 0);
	CHECK(live.replay == NULL);
	struct worker_config rp = worker_settings_config(&s.worker, &replay);
	CHECK(rp.replay == &replay);
	cfg_free(&c);
}

UNIT_TEST(settings_http_config_carries_the_loaded_values)
{
	struct t_worker_settings s;
	struct cfg *c = t_load(&s, "db.url = x\n"
	                           "http.bind = ::\n"
	                           "http.port = 0\n"
	                           "http.threads = 3\n"
	                           "http.connection_timeout = 45s\n"
	                           "http.max_connections = 9\n"
	                           "http.max_connections_per_ip = 2\n"
	                           "http.max_body = 2MiB\n"
	                           "http.max_header = 8KiB\n");
	struct http_config hc = http_settings_config(&s.http, "aimem-test", "{}");
	CHECK_STR(hc.bind, "::");
	CHECK_INT(hc.port, 0);
	CHECK_INT(hc.threads, 3);
	CHECK_INT(hc.conn_timeout_s, 45);
	CHECK_INT(hc.max_conns, 9);
	CHECK_INT(hc.max_conns_per_ip, 2);
	CHECK_INT(hc.max_body, 2 << 20);
	CHECK_INT(hc.max_header, 8192);
	CHECK_STR(hc.program, "aimem-test");
	CHECK_STR(hc.openapi_json, "{}");
	cfg_free(&c);
}

UNIT_TEST(settings_section_bounds_are_the_sections)
{
	struct t_worker_settings s;
	memset(&s, 0, sizeof(s));
	struct cfg *c =
	    cfg_new(t_items, sizeof(t_items) / sizeof(t_items[0]), &s, KAFKA_CFG_PASSTHROUGH);
	char err[256];
	CHECK_INT(cfg_set(c, "batch.max_events", "0", "test", err, sizeof(err)), -1);
	CHECK_INT(cfg_set(c, "http.threads", "1", "test", err, sizeof(err)), -1);
	CHECK_INT(cfg_set(c, "http.max_body", "128MiB", "test", err, sizeof(err)), -1);
	CHECK_INT(cfg_set(c, "llm.policy", "later", "test", err, sizeof(err)), -1);
	CHECK_INT(cfg_set(c, "processor", "llm", "test", err, sizeof(err)), 0);
	/* db.url is required: a table without it set does not check */
	CHECK_INT(cfg_check(c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "db.url");
	cfg_free(&c);
}

UNIT_TEST(settings_llm_model_check)
{
	struct t_worker_settings s;
	char err[256] = "";
	struct cfg *c = t_load(&s, "db.url = x\n");
	/* builtin: only the policy is checked, no model settings needed */
	CHECK_INT(llm_model_check(&s.llm, false, err, sizeof(err)), 0);
	/* llm without a URL is what start-up refuses */
	CHECK_INT(llm_model_check(&s.llm, true, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "llm.base_url");
	cfg_free(&c);
	c = t_load(&s, "db.url = x\nllm.base_url = http://127.0.0.1:9/v1\nllm.model = m\n"
	               "llm.temperature = hot\n");
	CHECK_INT(llm_model_check(&s.llm, true, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "llm.temperature");
	cfg_free(&c);
}
