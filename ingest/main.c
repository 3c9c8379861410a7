/*
 * aimem-ingest: the authenticated write gateway. Validates call-end events and memory writes
 * and produces them to Kafka with the idempotent producer; answers only after the broker
 * acknowledged. This file is the start-up and shutdown story; the work is in routes.c
 * (requests → events) and gateway.c (producer, delivery reports).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_keys.h"
#include "cfg.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "metrics.h"
#include "prog.h"
#include "routes.h"
#include "sig.h"
#include "xalloc.h"

struct ingest_settings {
	char *http_bind;
	long long http_port, http_threads, http_conn_timeout_ms, http_max_conns;
	long long http_max_conns_per_ip, http_max_body, http_max_header;
	struct auth_keys_settings auth; /* the auth.* section (lib/auth_keys.h) */
	char *topic_calls, *topic_memories;
	long long produce_timeout_ms, produce_linger_ms, drain_ms;
	long long event_max_bytes, event_max_turns, event_max_text;
	char *log_level;
};

#define S(field) offsetof(struct ingest_settings, field)
static const struct cfg_item ingest_items[] = {
	{ "http.bind", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0, S(http_bind),
	  "address to listen on" },
	{ "http.port", CFG_INT, "8101", 0, 65535, NULL, 0, S(http_port),
	  "TCP port (0: any free port)" },
	{ "http.threads", CFG_INT, "4", 2, 256, NULL, 0, S(http_threads), "HTTP worker threads" },
	{ "http.connection_timeout", CFG_DURATION, "30s", 1000, 3600000, NULL, 0,
	  S(http_conn_timeout_ms), "idle connection timeout" },
	{ "http.max_connections", CFG_INT, "1024", 1, 100000, NULL, 0, S(http_max_conns),
	  "open connections at most" },
	{ "http.max_connections_per_ip", CFG_INT, "0", 0, 100000, NULL, 0, S(http_max_conns_per_ip),
	  "open connections per client address (0: no limit)" },
	{ "http.max_body", CFG_SIZE, "1MiB", 1024, 64LL << 20, NULL, 0, S(http_max_body),
	  "largest request body (413 beyond)" },
	{ "http.max_header", CFG_SIZE, "32KiB", 4096, 1LL << 20, NULL, 0, S(http_max_header),
	  "memory for the request line and headers" },
	AUTH_KEYS_CFG_ITEMS(S(auth)),
	{ "topics.calls", CFG_STRING, "aimem.calls.v1", 0, 0, NULL, 0, S(topic_calls),
	  "call.ended topic" },
	{ "topics.memories", CFG_STRING, "aimem.memories.v1", 0, 0, NULL, 0, S(topic_memories),
	  "memory.put/delete topic" },
	{ "produce.timeout", CFG_DURATION, "5s", 100, 300000, NULL, 0, S(produce_timeout_ms),
	  "how long an event may wait for the broker before the request gets 503" },
	{ "produce.linger", CFG_DURATION, "0", 0, 1000, NULL, 0, S(produce_linger_ms),
	  "producer batching delay (linger.ms); each request waits for its ack, so 0: at 64 "
	  "concurrent requests it doubled throughput over librdkafka's 5 ms" },
	{ "shutdown.drain", CFG_DURATION, "10s", 0, 300000, NULL, 0, S(drain_ms),
	  "how long SIGTERM waits for in-flight requests" },
	{ "event.max_bytes", CFG_SIZE, "1MiB", 1024, 64LL << 20, NULL, 0, S(event_max_bytes),
	  "largest event" },
	{ "event.max_turns", CFG_INT, "5000", 1, 1000000, NULL, 0, S(event_max_turns),
	  "most turns per call" },
	{ "event.max_text_bytes", CFG_SIZE, "32KiB", 16, 16LL << 20, NULL, 0, S(event_max_text),
	  "longest turn text" },
	{ "log.level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", 0, S(log_level),
	  "lowest level logged" },
};
#undef S

static const char ingest_usage[] =
    "Usage: aimem-ingest [options]\n"
    "\n"
    "The ai-memory write gateway: authenticated HTTP writes produced to Kafka.\n"
    "Native routes answer 202 once the broker acknowledged the event:\n"
    "  POST /v3/calls, POST /v3/memories, DELETE /v3/memories/{memory_id}\n"
    "ChatStack-compatible routes answer 200 with the previous service's JSON:\n"
    "  POST /v2/process-call, POST /v1/memories, POST /v1/memories/user?user_id=,\n"
    "  POST /v1/memories/shared, DELETE /v1/memories/{id}, POST /memory/store\n"
    "Also GET /healthz, /readyz (broker reachable), /metrics.\n"
    "Signals: SIGTERM/SIGINT stop accepting, finish in-flight requests, flush, exit 0;\n"
    "a second one exits at once. SIGHUP reads the settings again: log.level and the JWT\n"
    "keys (auth.jwt_secret_file or auth.public_key_file, a file or a folder of several,\n"
    "each named by its file: the kid) change live; the rest needs a restart.\n"
    "Under systemd (Type=notify) it reports READY=1 once /readyz answers 200,\n"
    "STOPPING=1 and WATCHDOG=1.\n";

/* prog_info.check and prog_on_reload: the JWT keys (lib/auth_keys); log.level is prog's. */
static int ingest_check(const void *settings, char *err, size_t errlen)
{
	return auth_keys_check(&((const struct ingest_settings *)settings)->auth, err, errlen);
}

static int ingest_reload(const void *fresh, void *ctx, char *err, size_t errlen)
{
	return auth_keys_reload(&((const struct ingest_settings *)fresh)->auth, ctx, err, errlen);
}

int main(int argc, char **argv)
{
	struct ingest_settings s = { 0 };
	const struct prog_info info = { "aimem-ingest",
		                        ingest_usage,
		                        ingest_items,
		                        sizeof(ingest_items) / sizeof(ingest_items[0]),
		                        &s,
		                        "kafka.",
		                        ingest_check };
	struct cfg *cfg = NULL;
	int argi = 0;
	sig_setup(); /* before any library starts a thread */
	enum prog_action action = prog_start(&info, argc, argv, &cfg, &argi);
	if (action != PROG_RUN)
		return action == PROG_EXIT_OK ? 0 : 2;
	if (argi < argc) {
		fprintf(stderr, "aimem-ingest: unexpected argument \"%s\"\n", argv[argi]);
		cfg_free(&cfg);
		return 2;
	}

	char err[512];
	int rc = 1;
	struct metrics *m = metrics_new();
	struct ingest in = { .limits = { (size_t)s.event_max_bytes, (size_t)s.event_max_turns,
		                         (size_t)s.event_max_text } };
	struct auth_verifier *auth = auth_keys_verifier(&s.auth, err, sizeof(err));
	struct http_server *srv = NULL;
	if (auth == NULL) {
		fprintf(stderr, "aimem-ingest: %s\n", err);
		rc = 2; /* bad configuration: refuse to start */
		goto out;
	}
	in.auth = auth;
	prog_on_reload(ingest_reload, auth); /* SIGHUP: the keys read again */
	const struct gateway_config gc = { s.topic_calls, s.topic_memories, s.produce_timeout_ms,
		                           s.produce_linger_ms, 1 + s.produce_timeout_ms / 1000 };
	in.gw = gateway_new(&gc, cfg, m, err, sizeof(err));
	if (in.gw == NULL) {
		fprintf(stderr, "aimem-ingest: %s\n", err);
		rc = 2;
		goto out;
	}
	const struct http_config hc = { .bind = s.http_bind,
		                        .port = (int)s.http_port,
		                        .threads = (unsigned)s.http_threads,
		                        .conn_timeout_s = s.http_conn_timeout_ms / 1000,
		                        .max_conns = (unsigned)s.http_max_conns,
		                        .max_conns_per_ip = (unsigned)s.http_max_conns_per_ip,
		                        .max_body = (size_t)s.http_max_body,
		                        .max_header = (size_t)s.http_max_header,
		                        .program = "aimem-ingest",
		                        .openapi_json = aimem_openapi_json };
	srv = http_server_start(&hc, ingest_routes, ingest_nroutes, &in, ingest_ready, m, err,
	                        sizeof(err));
	if (srv == NULL) {
		log_error("cannot start the HTTP server: %s", err);
		goto out;
	}
	log_info("ready bind=%s port=%d threads=%lld topic_calls=%s topic_memories=%s", s.http_bind,
	         http_server_port(srv), s.http_threads, s.topic_calls, s.topic_memories);

	/* systemd (Type=notify): READY=1 once /readyz answers 200 (the broker reachable), which the
	 * units' curl probe used to wait for; sig_wait sends WATCHDOG=1; SIGHUP reloads */
	for (bool ready = false; !sig_stop_requested(); sig_wait(ready ? 1000 : 100)) {
		char why[256];
		if (!ready && (ready = ingest_ready(&in, why, sizeof(why))))
			notify_ready("serving");
	}
	notify_stopping();

	log_info("stopping: no new connections, draining in-flight requests drain_ms=%lld",
	         s.drain_ms);
	http_server_quiesce(srv);
	gateway_drain(in.gw, s.drain_ms); /* every waiting request gets its answer */
	http_server_stop(&srv, s.drain_ms);
	rc = 0;
out:
	http_server_stop(&srv, 0);
	gateway_free(&in.gw);
	prog_on_reload(NULL, NULL); /* before the keys it swaps go */
	auth_verifier_free(&auth);
	metrics_free(&m);
	cfg_free(&cfg);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
