/*
 * Unit tests for lib/llm: the client against fake OpenAI-compatible servers inside the test
 * process, on 127.0.0.1 with ephemeral ports (no real network).
 *
 * Two fakes: lib/http (scripted status, body, Retry-After and delay per call; slow answers
 * are deferred and sent by a replier thread), and a raw-socket server thread for what a
 * well-behaved HTTP server cannot do: reset or cut the connection mid-body, stream 10 MB,
 * drip one byte a second. Timing checks bound from below exactly and from above loosely
 * (valgrind and the sanitizers slow everything down).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "http.h"
#include "llm.h"
#include "llm_json.h"
#include "log.h"
#include "metrics.h"
#include "unit.h"
#include "xalloc.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define LT_WAIT_MS 20000 /* whole-test ceiling for a run; the unit runner kills at 30 s */
#define LT_SLACK_MS 2500 /* upper-bound slack for timing checks (valgrind) */
#define LT_MAX_STEPS 8
#define LT_MAX_LATER 256

static const char lt_answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"{\\\"summary\\\":\\\"asked about a claim\\\"}\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}";
static const char lt_error[] = "{\"error\":{\"message\":\"echo: PROMPT-SECRET\","
                               "\"type\":\"invalid_request_error\",\"code\":null}}";

/* ---- the lib/http fake ---- */

struct lt_step {
	int status;
	const char *body;
	int delay_ms;            /* > 0: deferred, answered by the replier thread */
	const char *retry_after; /* header value or NULL */
};

struct lt_later {
	struct http_exchange *ex;
	long long due_ms;
	const struct lt_step *step;
};

struct lt_fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lt_step steps[LT_MAX_STEPS];
	int nsteps;
	int calls;
	long long call_ms[16];
	int with_auth;
	char auth[256];
	char api_key[256];    /* the last "api-key" header */
	char api_version[64]; /* the last ?api-version= */
	char *body;           /* the last request body (owned) */
	struct lt_later later[LT_MAX_LATER];
	int nlater;
	bool stop;
	pthread_t replier;
	struct http_server *srv;
	struct metrics *m;
	int port;
	int log_fd;
};

static void lt_reply(struct http_exchange *ex, const struct lt_step *st)
{
	if (st->retry_after != NULL)
		http_add_header(ex, "Retry-After", st->retry_after);
	http_reply(ex, st->status, "application/json", st->body, strlen(st->body));
}

/* POST /v1/chat/completions: records the request, then answers by the script. */
static enum http_outcome lt_chat(struct http_exchange *ex, void *ctx)
{
	struct lt_fake *f = ctx;
	size_t len;
	const char *body = http_body(ex, &len);
	const char *auth = http_header(ex, "Authorization");
	pthread_mutex_lock(&f->mu);
	int n = f->calls++;
	if (n < 16)
		f->call_ms[n] = backoff_now_ms();
	if (auth != NULL) {
		f->with_auth++;
		snprintf(f->auth, sizeof(f->auth), "%s", auth);
	}
	const char *key = http_header(ex, "api-key"), *version = http_query(ex, "api-version");
	snprintf(f->api_key, sizeof(f->api_key), "%s", key ? key : "");
	snprintf(f->api_version, sizeof(f->api_version), "%s", version ? version : "");
	free(f->body);
	f->body = xmemdup0(body, len);
	const struct lt_step *st = &f->steps[n < f->nsteps ? n : f->nsteps - 1];
	if (st->delay_ms > 0 && f->nlater < LT_MAX_LATER) {
		f->later[f->nlater++] =
		    (struct lt_later){ ex, backoff_now_ms() + st->delay_ms, st };
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		return HTTP_DEFERRED;
	}
	pthread_mutex_unlock(&f->mu);
	lt_reply(ex, st);
	return HTTP_DONE;
}

/* Sends deferred replies when due; when stopping, sends all that remain at once. */
static void *lt_replier_main(void *arg)
{
	struct lt_fake *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		int best = -1;
		for (int i = 0; i < f->nlater; i++)
			if (best < 0 || f->later[i].due_ms < f->later[best].due_ms)
				best = i;
		if (best < 0 && f->stop)
			break;
		long long now = backoff_now_ms();
		if (best >= 0 && (f->stop || f->later[best].due_ms <= now)) {
			struct lt_later l = f->later[best];
			f->later[best] = f->later[--f->nlater];
			pthread_mutex_unlock(&f->mu);
			lt_reply(l.ex, l.step);
			pthread_mutex_lock(&f->mu);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		long long wait = best >= 0 ? f->later[best].due_ms - now : 1000;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static const struct http_route lt_routes[] = {
	{ "POST", "/v1/chat/completions", "chat", lt_chat },
};

/* Logs go to a temp file (lt_log reads it back); no proxy may catch 127.0.0.1. */
static int lt_log_start(void)
{
	char path[] = "/tmp/aimem-test-llm-XXXXXX";
	int fd = mkstemp(path);
	UNIT_REQUIRE(fd >= 0);
	unlink(path);
	log_init("test-llm");
	log_set_fd(fd);
	log_set_level(LOG_LEVEL_INFO);
	const char *proxies[] = { "http_proxy",  "https_proxy", "HTTP_PROXY",
		                  "HTTPS_PROXY", "ALL_PROXY",   "all_proxy" };
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	return fd;
}

static const char *lt_log(int fd)
{
	static char text[1 << 17];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

static void lt_fake_start(struct lt_fake *f, const struct lt_step *steps, int nsteps)
{
	memset(f, 0, sizeof(*f));
	UNIT_REQUIRE(nsteps >= 1 && nsteps <= LT_MAX_STEPS);
	memcpy(f->steps, steps, sizeof(*steps) * (size_t)nsteps);
	f->nsteps = nsteps;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	f->log_fd = lt_log_start();
	f->m = metrics_new();
	struct http_config cfg = { .bind = "127.0.0.1",
		                   .threads = 4,
		                   .conn_timeout_s = 20,
		                   .max_body = 1 << 20,
		                   .program = "fake-llm" };
	char err[256] = "";
	f->srv = http_server_start(&cfg, lt_routes, 1, f, NULL, f->m, err, sizeof(err));
	if (f->srv == NULL)
		fprintf(stderr, "    fake: %s\n", err);
	UNIT_REQUIRE(f->srv != NULL);
	f->port = http_server_port(f->srv);
	UNIT_REQUIRE(pthread_create(&f->replier, NULL, lt_replier_main, f) == 0);
}

static int lt_calls(struct lt_fake *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->calls;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void lt_fake_stop(struct lt_fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->replier, NULL);
	http_server_stop(&f->srv, 1000);
	metrics_free(&f->m);
	free(f->body);
	log_set_fd(2);
	close(f->log_fd);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

/* ---- the raw-socket fake: one request per connection, served in turn ---- */

enum lt_raw_mode {
	LT_RAW_GOOD,       /* a complete answer */
	LT_RAW_RESET,      /* head + part of the body, then RST */
	LT_RAW_TRUNCATED,  /* head + part of the body, then FIN */
	LT_RAW_HUGE_CL,    /* 10 MB announced by Content-Length */
	LT_RAW_HUGE_CLOSE, /* 10 MB delimited by the connection's close */
	LT_RAW_DRIP,       /* head, then one body byte a second */
	LT_RAW_HUGE_503,   /* a 10 MB error page */
};

struct lt_raw {
	int lfd;
	int port;
	enum lt_raw_mode modes[4];
	int nmodes;
	atomic_int conns;
	atomic_llong sent; /* body bytes written */
	atomic_bool stop;
	pthread_t thread;
};

#define LT_HUGE (10LL * 1024 * 1024)

static bool lt_raw_send(struct lt_raw *r, int fd, const char *p, size_t n, bool body)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		if (body)
			atomic_fetch_add(&r->sent, w);
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads the request head and its Content-Length body; false on EOF or timeout. */
static bool lt_raw_read_request(int fd)
{
	char buf[1 << 16];
	size_t len = 0;
	char *end = NULL;
	while (end == NULL) {
		if (len == sizeof(buf))
			return false;
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		end = memmem(buf, len, "\r\n\r\n", 4);
	}
	size_t head = (size_t)(end - buf) + 4;
	const char *cl = memmem(buf, head, "Content-Length: ", 16);
	size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;
	while (len - head < want) {
		char sink[4096];
		ssize_t n = recv(fd, sink, sizeof(sink), 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
	}
	return true;
}

/* Waits up to ms for the peer to close; true if it did. */
static bool lt_raw_peer_closed(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, ms) <= 0)
		return false;
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void lt_raw_serve(struct lt_raw *r, int fd, enum lt_raw_mode mode)
{
	struct buf head = BUF_INIT;
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof(chunk));
	size_t blen = sizeof(lt_answer) - 1;
	switch (mode) {
	case LT_RAW_GOOD:
		buf_appendf(&head,
		            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		            blen, lt_answer);
		lt_raw_send(r, fd, head.data, head.len, false);
		break;
	case LT_RAW_RESET:
	case LT_RAW_TRUNCATED:
		buf_appendf(&head,
		            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		            "Content-Length: %zu\r\n\r\n",
		            blen);
		buf_append(&head, lt_answer, 40);
		lt_raw_send(r, fd, head.data, head.len, false);
		if (mode == LT_RAW_RESET) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		break;
	case LT_RAW_HUGE_CL:
	case LT_RAW_HUGE_CLOSE:
	case LT_RAW_HUGE_503:
		if (mode == LT_RAW_HUGE_503)
			buf_append_str(&head, "HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\n");
		else if (mode == LT_RAW_HUGE_CL)
			buf_appendf(&head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n",
			            LT_HUGE);
		else
			buf_append_str(&head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		if (!lt_raw_send(r, fd, head.data, head.len, false))
			break;
		for (long long left = LT_HUGE; left > 0 && !atomic_load(&r->stop);
		     left -= (long long)sizeof(chunk))
			if (!lt_raw_send(r, fd, chunk, sizeof(chunk), true))
				break;
		break;
	case LT_RAW_DRIP:
		buf_append_str(&head, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
		lt_raw_send(r, fd, head.data, head.len, false);
		for (int i = 0; i < 1000 && !atomic_load(&r->stop); i++)
			if (!lt_raw_send(r, fd, "x", 1, true) || lt_raw_peer_closed(fd, 1000))
				break;
		break;
	}
	buf_free(&head);
}

static void *lt_raw_main(void *arg)
{
	struct lt_raw *r = arg;
	while (!atomic_load(&r->stop)) {
		struct pollfd p = { .fd = r->lfd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(r->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int n = atomic_fetch_add(&r->conns, 1);
		if (lt_raw_read_request(fd))
			lt_raw_serve(r, fd, r->modes[n < r->nmodes ? n : r->nmodes - 1]);
		close(fd);
	}
	return NULL;
}

/* A socket bound to 127.0.0.1 on an ephemeral port; listening if listen_too. */
static int lt_bind(bool listen_too, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	UNIT_REQUIRE(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	UNIT_REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	UNIT_REQUIRE(!listen_too || listen(fd, 16) == 0);
	socklen_t sl = sizeof(sa);
	UNIT_REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void lt_raw_start(struct lt_raw *r, const enum lt_raw_mode *modes, int nmodes)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->modes, modes, sizeof(*modes) * (size_t)nmodes);
	r->nmodes = nmodes;
	r->lfd = lt_bind(true, &r->port);
	UNIT_REQUIRE(pthread_create(&r->thread, NULL, lt_raw_main, r) == 0);
}

static void lt_raw_stop(struct lt_raw *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->lfd);
}

/* ---- the client side ---- */

struct lt_result {
	bool done;
	int status;
	char content[4096];
	size_t len;
	char err[512];
	long long at_ms;
	struct llm_client *c; /* for callbacks that submit */
	struct lt_result *next;
	int submit_rc;
};

static void lt_done(void *opaque, int status, const char *content, size_t len, const char *err)
{
	struct lt_result *r = opaque;
	CHECK(!r->done);
	r->done = true;
	r->status = status;
	r->at_ms = backoff_now_ms();
	if (status == LLM_OK) {
		CHECK(content != NULL && err == NULL);
		UNIT_REQUIRE(len < sizeof(r->content));
		memcpy(r->content, content, len);
		r->len = len;
	} else {
		CHECK(content == NULL && len == 0 && err != NULL);
		snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	}
}

static struct llm_config lt_cfg(char *url, size_t urllen, int port)
{
	snprintf(url, urllen, "http://127.0.0.1:%d/v1/", port); /* trailing slash on purpose */
	return (struct llm_config){ .base_url = url,
		                    .model = "test-model",
		                    .timeout_ms = 5000,
		                    .connect_timeout_ms = 2000,
		                    .max_in_flight = 4,
		                    .max_attempts = 3,
		                    .backoff_base_ms = 20,
		                    .backoff_cap_ms = 100,
		                    .retry_after_cap_ms = 5000,
		                    .max_response_bytes = 64 * 1024,
		                    .temperature = 0.2,
		                    .json_mode = true };
}

static struct llm_client *lt_client(const struct llm_config *cfg, struct metrics *m)
{
	char err[256] = "";
	struct llm_client *c = llm_new(cfg, m, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "    llm_new: %s\n", err);
	UNIT_REQUIRE(c != NULL);
	return c;
}

/* Polls until nothing is pending; returns the elapsed milliseconds. */
static long long lt_run(struct llm_client *c)
{
	long long t0 = backoff_now_ms();
	while (llm_pending(c) > 0) {
		UNIT_REQUIRE(backoff_now_ms() - t0 < LT_WAIT_MS);
		CHECK(llm_poll(c, 100) >= 0);
	}
	return backoff_now_ms() - t0;
}

/* One request on a fresh client; the result in *r, the elapsed time returned. */
static long long lt_one(const struct llm_config *cfg, struct metrics *m, struct lt_result *r,
                        struct llm_stats *st)
{
	memset(r, 0, sizeof(*r));
	struct llm_client *c = lt_client(cfg, m);
	UNIT_REQUIRE(llm_submit(c, "You summarise calls.", "Caller: hello", lt_done, r) == 0);
	CHECK_INT(llm_pending(c), 1);
	long long ms = lt_run(c);
	CHECK(r->done);
	if (st != NULL)
		llm_stats(c, st);
	llm_free(&c);
	CHECK(c == NULL);
	return ms;
}

static bool lt_metric(struct metrics *m, const char *line)
{
	struct buf b = BUF_INIT;
	metrics_render(m, &b);
	bool found = strstr(buf_str(&b), line) != NULL;
	if (!found)
		fprintf(stderr, "    metrics lack \"%s\":\n%s", line, buf_str(&b));
	buf_free(&b);
	return found;
}

/* Tests end with _exit in a forked child, where LeakSanitizer's exit check never runs. */
static void lt_no_leaks(void)
{
#ifdef __SANITIZE_ADDRESS__
	CHECK_INT(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* ---- answers ---- */

UNIT_TEST(llm_good_answer_and_request_body)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.api_key = "sk-test-123";
	struct metrics *m = metrics_new();
	struct lt_result r;
	struct llm_stats st;
	lt_one(&cfg, m, &r, &st);
	CHECK_INT(r.status, LLM_OK);
	CHECK_STR(r.content, "{\"summary\":\"asked about a claim\"}");
	CHECK_INT(r.len, strlen(r.content));
	CHECK_INT(lt_calls(&f), 1);
	CHECK_INT(f.with_auth, 1);
	CHECK_STR(f.auth, "Bearer sk-test-123");
	CHECK_INT(st.attempts, 1);
	CHECK_INT(st.connects, 1);

	json_error_t jerr;
	json_t *body = json_loads(f.body, 0, &jerr);
	UNIT_REQUIRE(body != NULL);
	CHECK_STR(json_string_value(json_object_get(body, "model")), "test-model");
	json_t *msgs = json_object_get(body, "messages");
	CHECK_INT(json_array_size(msgs), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
	CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
	          "You summarise calls.");
	CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "role")), "user");
	CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
	          "Caller: hello");
	CHECK(json_real_value(json_object_get(body, "temperature")) == 0.2);
	CHECK_STR(
	    json_string_value(json_object_get(json_object_get(body, "response_format"), "type")),
	    "json_object");
	json_decref(body);

	CHECK(lt_metric(m, "aimem_llm_requests_total{status=\"ok\"} 1\n"));
	CHECK(lt_metric(m, "aimem_llm_request_seconds_count 1\n"));
	CHECK(lt_metric(m, "aimem_llm_retries_total 0\n"));
	CHECK(lt_metric(m, "aimem_llm_in_flight 0\n"));
	metrics_free(&m);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_no_key_no_authorization_and_plain_mode)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.json_mode = false;
	const char *keys[] = { NULL, "" };
	for (int i = 0; i < 2; i++) {
		cfg.api_key = keys[i];
		struct lt_result r;
		memset(&r, 0, sizeof(r));
		struct llm_client *c = lt_client(&cfg, NULL);
		/* no system message; bytes that are not UTF-8 become U+FFFD */
		UNIT_REQUIRE(llm_submit(c, NULL, "caf\xc3\xa9 \xff\"q\"\n", lt_done, &r) == 0);
		lt_run(c);
		llm_free(&c);
		CHECK_INT(r.status, LLM_OK);
	}
	CHECK_INT(lt_calls(&f), 2);
	CHECK_INT(f.with_auth, 0);
	json_t *body = json_loads(f.body, 0, NULL);
	UNIT_REQUIRE(body != NULL);
	json_t *msgs = json_object_get(body, "messages");
	CHECK_INT(json_array_size(msgs), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
	          "caf\xc3\xa9 \xef\xbf\xbd\"q\"\n");
	CHECK(json_object_get(body, "response_format") == NULL);
	json_decref(body);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_azure_style_key_header_and_query)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/?api-version=2024-10-21", f.port);
	cfg.api_key = "azure-key-1";
	cfg.api_key_header = "api-key";
	struct lt_result r;
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK);
	CHECK_INT(f.with_auth, 0);
	CHECK_STR(f.api_key, "azure-key-1");
	CHECK_STR(f.api_version, "2024-10-21");
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_keepalive_reuses_one_connection)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct llm_client *c = lt_client(&cfg, NULL);
	for (int i = 0; i < 5; i++) {
		struct lt_result r;
		memset(&r, 0, sizeof(r));
		UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done, &r) == 0);
		lt_run(c);
		CHECK_INT(r.status, LLM_OK);
	}
	struct llm_stats st;
	llm_stats(c, &st);
	CHECK_INT(st.attempts, 5);
	CHECK_INT(st.connects, 1);
	llm_free(&c);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_garbage_and_fenced_content)
{
	struct lt_fake f;
	const struct lt_step steps[] = {
		{ 200,
		  "{\"choices\":[{\"message\":{\"content\":\"I'm sorry, I cannot do that.\"}}]}", 0,
		  NULL },
		{ 200,
		  "{\"choices\":[{\"message\":{\"content\":\"Sure! Here it is:\\n```json\\n"
		  "{\\\"summary\\\": \\\"a {brace} inside\\\", \\\"tags\\\": [\\\"a\\\",],}\\n"
		  "```\\nAnything else?\"}}]}",
		  0, NULL },
	};
	lt_fake_start(&f, steps, 2);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct lt_result r;
	char err[256] = "";
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK); /* the envelope is fine; the content is not JSON */
	CHECK(llm_parse_json(r.content, r.len, err, sizeof(err)) == NULL);
	CHECK_STR(err, "no JSON object in the answer");
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK);
	json_t *obj = llm_parse_json(r.content, r.len, err, sizeof(err));
	UNIT_REQUIRE(obj != NULL);
	CHECK_STR(json_string_value(json_object_get(obj, "summary")), "a {brace} inside");
	CHECK_INT(json_array_size(json_object_get(obj, "tags")), 1);
	json_decref(obj);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_bad_envelopes_are_not_retried)
{
	static const struct {
		const char *body;
		int status;
		const char *err;
	} cases[] = {
		{ "<html>bad gateway</html>", LLM_ERR_BAD_RESPONSE, "envelope is not JSON" },
		{ "[1,2]", LLM_ERR_BAD_RESPONSE, "not an object" },
		{ "{\"choices\":[]}", LLM_ERR_BAD_RESPONSE, "no choices" },
		{ "{\"choices\":[{\"text\":\"legacy\"}]}", LLM_ERR_BAD_RESPONSE, "no message" },
		{ "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"}}]}",
		  LLM_ERR_BAD_RESPONSE, "refused" },
		{ "{\"choices\":[{\"message\":{\"content\":7}}]}", LLM_ERR_BAD_RESPONSE,
		  "not a string" },
		{ "{\"error\":{\"code\":\"server_busy\",\"message\":\"PROMPT-SECRET\"}}",
		  LLM_ERR_BAD_RESPONSE, "error object in a 2xx answer (server_busy)" },
		/* the minimum an Ollama/llama.cpp-like server must send */
		{ "{\"choices\":[{\"message\":{\"content\":\"{}\"}}]}", LLM_OK, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lt_fake f;
		const struct lt_step steps[] = { { 200, cases[i].body, 0, NULL } };
		lt_fake_start(&f, steps, 1);
		char url[128];
		struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
		struct lt_result r;
		lt_one(&cfg, NULL, &r, NULL);
		CHECK_INT(r.status, cases[i].status);
		if (cases[i].err != NULL)
			CHECK_CONTAINS(r.err, cases[i].err);
		CHECK(strstr(r.err, "PROMPT-SECRET") == NULL);
		CHECK_INT(lt_calls(&f), 1);
		lt_fake_stop(&f);
	}
	lt_no_leaks();
}

/* ---- retries ---- */

UNIT_TEST(llm_500_then_success_is_retried)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 500, "{}", 0, NULL }, { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 2);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct metrics *m = metrics_new();
	struct lt_result r;
	struct llm_stats st;
	lt_one(&cfg, m, &r, &st);
	CHECK_INT(r.status, LLM_OK);
	CHECK_INT(lt_calls(&f), 2);
	CHECK_INT(st.attempts, 2);
	CHECK_INT(st.retries, 1);
	CHECK(lt_metric(m, "aimem_llm_retries_total 1\n"));
	CHECK(lt_metric(m, "aimem_llm_requests_total{status=\"ok\"} 1\n"));
	CHECK(lt_metric(m, "aimem_llm_request_seconds_count 2\n"));
	metrics_free(&m);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_each_retryable_5xx_is_retried)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 502, "bad gateway", 0, NULL },
		                         { 503, "{}", 0, NULL },
		                         { 504, "{}", 0, NULL },
		                         { 429, "{}", 0, NULL },
		                         { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 5);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.max_attempts = 5;
	struct lt_result r;
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK);
	CHECK_INT(lt_calls(&f), 5);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_500_until_attempts_run_out)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 500, "{\"error\":{\"type\":\"server_error\"}}", 0,
		                           NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct metrics *m = metrics_new();
	struct lt_result r;
	lt_one(&cfg, m, &r, NULL);
	CHECK_INT(r.status, LLM_ERR_UNAVAILABLE);
	CHECK_STR(r.err, "HTTP 500 server_error after 3 attempts");
	CHECK_INT(lt_calls(&f), 3);
	CHECK(lt_metric(m, "aimem_llm_requests_total{status=\"unavailable\"} 1\n"));
	CHECK(lt_metric(m, "aimem_llm_retries_total 2\n"));
	metrics_free(&m);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_429_waits_for_retry_after)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 429, "{}", 0, "1" }, { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 2);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct lt_result r;
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK);
	UNIT_REQUIRE(lt_calls(&f) == 2);
	long long gap = f.call_ms[1] - f.call_ms[0];
	fprintf(stderr, "    429 Retry-After: 1 -> retried after %lld ms\n", gap);
	CHECK(gap >= 950);
	CHECK(gap <= 1000 + LT_SLACK_MS);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_retry_after_is_capped)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 503, "{}", 0, "3600" }, { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 2);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.retry_after_cap_ms = 300;
	struct lt_result r;
	lt_one(&cfg, NULL, &r, NULL);
	CHECK_INT(r.status, LLM_OK);
	UNIT_REQUIRE(lt_calls(&f) == 2);
	long long gap = f.call_ms[1] - f.call_ms[0];
	CHECK(gap >= 280);
	CHECK(gap <= 300 + LT_SLACK_MS);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_4xx_is_final)
{
	static const int codes[] = { 400, 401, 403, 404, 422, 501, 302 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct lt_fake f;
		const struct lt_step steps[] = { { codes[i], lt_error, 0, NULL } };
		lt_fake_start(&f, steps, 1);
		char url[128];
		struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
		struct metrics *m = metrics_new();
		struct lt_result r;
		lt_one(&cfg, m, &r, NULL);
		CHECK_INT(r.status, LLM_ERR_HTTP);
		char want[64];
		snprintf(want, sizeof(want), "HTTP %d invalid_request_error", codes[i]);
		CHECK_STR(r.err, want);
		CHECK_INT(lt_calls(&f), 1);
		CHECK(lt_metric(m, "aimem_llm_requests_total{status=\"http_error\"} 1\n"));
		metrics_free(&m);
		lt_fake_stop(&f);
	}
	lt_no_leaks();
}

UNIT_TEST(llm_slow_server_times_out_then_gives_up)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 3000, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.timeout_ms = 300;
	struct lt_result r;
	long long ms = lt_one(&cfg, NULL, &r, NULL);
	fprintf(stderr, "    3 attempts of 300 ms: gave up after %lld ms\n", ms);
	CHECK_INT(r.status, LLM_ERR_UNAVAILABLE);
	CHECK_CONTAINS(r.err, "Timeout was reached after 3 attempts");
	CHECK_INT(lt_calls(&f), 3);
	CHECK(ms >= 900);
	CHECK(ms <= 900 + 2 * 100 + LT_SLACK_MS);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_connection_refused)
{
	int port;
	int fd = lt_bind(false, &port); /* bound, never listening: connect() is refused */
	int log_fd = lt_log_start();
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), port);
	struct lt_result r;
	struct llm_stats st;
	long long ms = lt_one(&cfg, NULL, &r, &st);
	CHECK_INT(r.status, LLM_ERR_UNAVAILABLE);
	CHECK_CONTAINS(r.err, "after 3 attempts");
	CHECK_INT(st.attempts, 3);
	CHECK_INT(st.connects, 0);
	CHECK(ms < 2 * 100 + LT_SLACK_MS);
	close(fd);
	close(log_fd);
	lt_no_leaks();
}

/* ---- faults the raw server makes ---- */

static void lt_raw_case(const enum lt_raw_mode *modes, int nmodes, struct llm_config *cfg_in,
                        struct lt_result *r, struct llm_stats *st, struct lt_raw *raw,
                        long long *ms)
{
	int log_fd = lt_log_start();
	lt_raw_start(raw, modes, nmodes);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), raw->port);
	if (cfg_in != NULL) {
		cfg.timeout_ms = cfg_in->timeout_ms;
		cfg.max_attempts = cfg_in->max_attempts;
	}
	*ms = lt_one(&cfg, NULL, r, st);
	lt_raw_stop(raw);
	close(log_fd);
}

UNIT_TEST(llm_reset_mid_body_is_retried)
{
	const enum lt_raw_mode modes[] = { LT_RAW_RESET, LT_RAW_GOOD };
	struct lt_result r;
	struct llm_stats st;
	struct lt_raw raw;
	long long ms;
	lt_raw_case(modes, 2, NULL, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_OK);
	CHECK_STR(r.content, "{\"summary\":\"asked about a claim\"}");
	CHECK_INT(st.attempts, 2);
	CHECK_INT(atomic_load(&raw.conns), 2);
	lt_no_leaks();
}

UNIT_TEST(llm_truncated_body_is_retried)
{
	const enum lt_raw_mode modes[] = { LT_RAW_TRUNCATED, LT_RAW_TRUNCATED, LT_RAW_GOOD };
	struct lt_result r;
	struct llm_stats st;
	struct lt_raw raw;
	long long ms;
	lt_raw_case(modes, 3, NULL, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_OK);
	CHECK_INT(st.attempts, 3);
	/* and with one attempt only, the short body is the final answer */
	struct llm_config one = { .timeout_ms = 5000, .max_attempts = 1 };
	lt_raw_case(modes, 1, &one, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_ERR_UNAVAILABLE);
	CHECK_CONTAINS(r.err, "after 1 attempts");
	lt_no_leaks();
}

static long lt_maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

UNIT_TEST(llm_huge_body_is_capped)
{
	const enum lt_raw_mode announced[] = { LT_RAW_HUGE_CL };
	const enum lt_raw_mode streamed[] = { LT_RAW_HUGE_CLOSE };
	struct lt_result r;
	struct llm_stats st;
	struct lt_raw raw;
	long long ms;
	/* announced by Content-Length: refused before a body byte is read */
	lt_raw_case(announced, 1, NULL, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_ERR_BAD_RESPONSE);
	CHECK_STR(r.err, "answer larger than 65536 bytes");
	CHECK_INT(st.attempts, 1);
	CHECK_INT(st.body_bytes, 0);
	long rss0 = lt_maxrss_kb(); /* curl and OpenSSL are loaded by now */
	/* no length: cut in the write callback, one curl buffer (16 KiB) past the cap at most */
	lt_raw_case(streamed, 1, NULL, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_ERR_BAD_RESPONSE);
	CHECK_STR(r.err, "answer larger than 65536 bytes");
	CHECK_INT(st.attempts, 1);
	CHECK(st.body_bytes > 64 * 1024);
	CHECK(st.body_bytes <= 64 * 1024 + CURL_MAX_WRITE_SIZE);
	fprintf(stderr,
	        "    10 MB answer: %llu body bytes taken, server wrote %lld, peak RSS +%ld KiB\n",
	        st.body_bytes, (long long)atomic_load(&raw.sent), lt_maxrss_kb() - rss0);
	CHECK(lt_maxrss_kb() - rss0 < 4 * 1024);
	lt_no_leaks();
}

UNIT_TEST(llm_huge_error_page_is_cut_and_retried)
{
	const enum lt_raw_mode modes[] = { LT_RAW_HUGE_503, LT_RAW_GOOD };
	struct lt_result r;
	struct llm_stats st;
	struct lt_raw raw;
	long long ms;
	lt_raw_case(modes, 2, NULL, &r, &st, &raw, &ms);
	CHECK_INT(r.status, LLM_OK); /* the 503 counts as a 503, not as a bad answer */
	CHECK_INT(st.attempts, 2);
	CHECK(st.body_bytes <= 64 * 1024 + CURL_MAX_WRITE_SIZE + sizeof(lt_answer));
	lt_no_leaks();
}

UNIT_TEST(llm_dripping_server_times_out)
{
	const enum lt_raw_mode modes[] = { LT_RAW_DRIP };
	struct llm_config cfg = { .timeout_ms = 500, .max_attempts = 2 };
	struct lt_result r;
	struct llm_stats st;
	struct lt_raw raw;
	long long ms;
	lt_raw_case(modes, 1, &cfg, &r, &st, &raw, &ms);
	fprintf(stderr, "    1 byte/s, 2 attempts of 500 ms: gave up after %lld ms\n", ms);
	CHECK_INT(r.status, LLM_ERR_UNAVAILABLE);
	CHECK_CONTAINS(r.err, "Timeout was reached after 2 attempts");
	CHECK_INT(st.attempts, 2);
	CHECK(ms >= 1000);
	CHECK(ms <= 1000 + 100 + LT_SLACK_MS);
	lt_no_leaks();
}

/* ---- concurrency, cancellation, callbacks ---- */

UNIT_TEST(llm_many_in_flight)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 200, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.max_in_flight = 64;
	struct llm_client *c = lt_client(&cfg, NULL);
	static struct lt_result r[64];
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 64; i++)
		UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done, &r[i]) == 0);
	CHECK_INT(llm_pending(c), 64);
	long long ms = lt_run(c);
	struct llm_stats st;
	llm_stats(c, &st);
	fprintf(stderr, "    64 requests, 200 ms each, 64 in flight: %lld ms (serial: 12800)\n",
	        ms);
	for (int i = 0; i < 64; i++)
		CHECK_INT(r[i].status, LLM_OK);
	CHECK_INT(st.peak_in_flight, 64);
	CHECK_INT(lt_calls(&f), 64);
	CHECK(ms >= 200);
	CHECK(ms < 3000);
	/* the next wave reuses the 64 connections */
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 64; i++)
		UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done, &r[i]) == 0);
	lt_run(c);
	struct llm_stats st2;
	llm_stats(c, &st2);
	CHECK_INT(st2.connects, st.connects);
	llm_free(&c);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_max_in_flight_is_respected)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 100, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.max_in_flight = 4;
	struct llm_client *c = lt_client(&cfg, NULL);
	struct lt_result r[12];
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 12; i++)
		UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done, &r[i]) == 0);
	long long ms = lt_run(c);
	struct llm_stats st;
	llm_stats(c, &st);
	for (int i = 0; i < 12; i++)
		CHECK_INT(r[i].status, LLM_OK);
	CHECK_INT(st.peak_in_flight, 4);
	CHECK_INT(st.connects, 4);
	CHECK(ms >= 300); /* three waves of 100 ms */
	llm_free(&c);
	lt_fake_stop(&f);
	lt_no_leaks();
}

static void lt_done_resubmit(void *opaque, int status, const char *content, size_t len,
                             const char *err)
{
	struct lt_result *r = opaque;
	lt_done(opaque, status, content, len, err);
	if (r->next != NULL)
		r->submit_rc = llm_submit(r->c, "s", "again", lt_done, r->next);
}

UNIT_TEST(llm_free_cancels_everything_pending)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 503, "{}", 0, "10" }, { 200, lt_answer, 5000, NULL } };
	lt_fake_start(&f, steps, 2);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.max_in_flight = 2;
	struct metrics *m = metrics_new();
	struct llm_client *c = lt_client(&cfg, m);
	struct lt_result r[5];
	memset(r, 0, sizeof(r));
	UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done, &r[0]) == 0); /* 503: waits 5 s */
	struct metrics_counter *retries = metrics_counter(m, "aimem_llm_retries_total", "", "");
	long long t0 = backoff_now_ms();
	while (metrics_counter_value(retries) < 1) {
		UNIT_REQUIRE(backoff_now_ms() - t0 < LT_WAIT_MS);
		CHECK_INT(llm_poll(c, 10), 0);
	}
	for (int i = 1; i < 4; i++) /* two in flight (held), one queued */
		UNIT_REQUIRE(llm_submit(c, "s", "u", i == 3 ? lt_done_resubmit : lt_done, &r[i]) ==
		             0);
	r[3].c = c;
	r[3].next = &r[4];
	while (lt_calls(&f) < 3) {
		UNIT_REQUIRE(backoff_now_ms() - t0 < LT_WAIT_MS);
		CHECK_INT(llm_poll(c, 10), 0);
	}
	CHECK_INT(llm_pending(c), 4);
	CHECK(lt_metric(m, "aimem_llm_in_flight 2\n"));
	llm_free(&c);
	for (int i = 0; i < 4; i++) {
		CHECK(r[i].done);
		CHECK_INT(r[i].status, LLM_ERR_CANCELLED);
	}
	CHECK_INT(r[3].submit_rc, -1); /* no submitting into a closing client */
	CHECK(!r[4].done);
	CHECK(lt_metric(m, "aimem_llm_in_flight 0\n"));
	CHECK(lt_metric(m, "aimem_llm_requests_total{status=\"cancelled\"} 4\n"));
	metrics_free(&m);
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_callback_may_submit)
{
	struct lt_fake f;
	const struct lt_step steps[] = { { 200, lt_answer, 0, NULL } };
	lt_fake_start(&f, steps, 1);
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	struct llm_client *c = lt_client(&cfg, NULL);
	struct lt_result r[2];
	memset(r, 0, sizeof(r));
	r[0].c = c;
	r[0].next = &r[1];
	UNIT_REQUIRE(llm_submit(c, "s", "u", lt_done_resubmit, &r[0]) == 0);
	lt_run(c);
	CHECK_INT(r[0].submit_rc, 0);
	CHECK_INT(r[0].status, LLM_OK);
	CHECK_INT(r[1].status, LLM_OK);
	CHECK_INT(lt_calls(&f), 2);
	CHECK(llm_submit(NULL, "s", "u", lt_done, &r[0]) == -1);
	CHECK(llm_submit(c, "s", NULL, lt_done, &r[0]) == -1);
	CHECK_INT(llm_poll(c, 1000), 0); /* nothing pending: returns at once */
	llm_free(&c);
	llm_free(&c); /* NULL is fine */
	lt_fake_stop(&f);
	lt_no_leaks();
}

UNIT_TEST(llm_logs_carry_no_secrets)
{
	struct lt_fake f;
	const struct lt_step steps[] = {
		{ 500, lt_error, 0, NULL },
		{ 200, "{\"choices\":[{\"message\":{\"content\":\"ANSWER-SECRET\"}}]}", 0, NULL },
	};
	lt_fake_start(&f, steps, 2);
	log_set_level(LOG_LEVEL_DEBUG); /* curl's verbose text goes through the log too */
	char url[128];
	struct llm_config cfg = lt_cfg(url, sizeof(url), f.port);
	cfg.api_key = "sk-KEY-SECRET";
	struct llm_client *c = lt_client(&cfg, NULL);
	struct lt_result r;
	memset(&r, 0, sizeof(r));
	UNIT_REQUIRE(llm_submit(c, "SYSTEM-SECRET", "Caller PROMPT-SECRET", lt_done, &r) == 0);
	lt_run(c);
	llm_free(&c);
	CHECK_INT(r.status, LLM_OK);
	const char *log = lt_log(f.log_fd);
	CHECK_CONTAINS(log, "lib=curl");
	CHECK_CONTAINS(log, "will retry");
	const char *secrets[] = { "SECRET", "Authorization", "Bearer" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(log, secrets[i]) != NULL)
			unit_fail(__FILE__, __LINE__, "the log holds \"%s\":\n%s", secrets[i], log);
	lt_fake_stop(&f);
	lt_no_leaks();
}

/* ---- configuration ---- */

UNIT_TEST(llm_new_rejects_bad_config)
{
	char url[128];
	struct llm_config good = lt_cfg(url, sizeof(url), 9);
	struct {
		struct llm_config cfg;
		const char *err;
	} cases[] = {
		{ good, "llm.base_url" },     { good, "llm.base_url" },
		{ good, "llm.model" },        { good, "llm.api_key" },
		{ good, "llm.timeout_ms" },   { good, "llm.max_in_flight" },
		{ good, "llm.max_attempts" }, { good, "llm.backoff" },
		{ good, "llm.max_response" }, { good, "llm.temperature" },
		{ good, "llm.temperature" },  { good, "llm.api_key_header" },
	};
	cases[0].cfg.base_url = "ftp://x";
	cases[1].cfg.base_url = "http://a b";
	cases[2].cfg.model = "";
	cases[3].cfg.api_key = "sk\r\nX-Evil: 1";
	cases[4].cfg.timeout_ms = 0;
	cases[5].cfg.max_in_flight = 0;
	cases[6].cfg.max_attempts = 0;
	cases[7].cfg.backoff_cap_ms = 1;
	cases[8].cfg.max_response_bytes = 10;
	cases[9].cfg.temperature = 2.5;
	cases[10].cfg.temperature = NAN;
	cases[11].cfg.api_key_header = "api-key: x";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		struct llm_client *c = llm_new(&cases[i].cfg, NULL, err, sizeof(err));
		CHECK(c == NULL);
		CHECK_CONTAINS(err, cases[i].err);
		llm_free(&c);
	}
	char err[256] = "";
	struct llm_client *c = llm_new(&good, NULL, err, sizeof(err));
	CHECK(c != NULL);
	CHECK_INT(llm_pending(c), 0);
	llm_free(&c);
	lt_no_leaks();
}

UNIT_TEST(llm_status_and_policy_names)
{
	CHECK_STR(llm_status_name(LLM_OK), "ok");
	CHECK_STR(llm_status_name(LLM_ERR_CANCELLED), "cancelled");
	CHECK_STR(llm_status_name(7), "unknown");
	enum llm_policy p = LLM_POLICY_WAIT;
	CHECK_INT(llm_policy_parse("fallback", &p), 0);
	CHECK_INT(p, LLM_POLICY_FALLBACK);
	CHECK_INT(llm_policy_parse("wait", &p), 0);
	CHECK_INT(p, LLM_POLICY_WAIT);
	CHECK_INT(llm_policy_parse("dead-letter", &p), 0);
	CHECK_INT(p, LLM_POLICY_DEAD_LETTER);
	CHECK_STR(llm_policy_name(p), "dead-letter");
	CHECK_INT(llm_policy_parse("dead_letter", &p), -1);
	CHECK_INT(llm_policy_parse("Fallback", &p), -1);
	CHECK_INT(llm_policy_parse("", &p), -1);
	CHECK_INT(llm_policy_parse(NULL, &p), -1);
	CHECK_INT(p, LLM_POLICY_DEAD_LETTER);
	lt_no_leaks();
}

/* ---- pure parsers ---- */

UNIT_TEST(llm_parse_json_table)
{
	static const struct {
		const char *in;
		const char *want; /* compact dump of the object, or NULL */
		const char *err;  /* when want is NULL */
	} cases[] = {
		{ "{\"a\":1}", "{\"a\":1}", NULL },
		{ "  \n{\"a\":1}\n ", "{\"a\":1}", NULL },
		{ "\xef\xbb\xbf{\"a\":1}", "{\"a\":1}", NULL },
		{ "{\"s\":\"} { ]\\\" {\"}", "{\"s\":\"} { ]\\\" {\"}", NULL },
		{ "Here: {\"s\":\"}{\",\"n\":{\"m\":[1,{\"k\":2}]}} ok?",
		  "{\"s\":\"}{\",\"n\":{\"m\":[1,{\"k\":2}]}}", NULL },
		{ "```json\n{\"a\":1}\n```", "{\"a\":1}", NULL },
		{ "```JSON\r\n{\"a\":1}\r\n```\r\n", "{\"a\":1}", NULL },
		{ "```\n{\"a\":1}\n```", "{\"a\":1}", NULL },
		{ "```{\"a\":1}```", "{\"a\":1}", NULL },
		{ "Sure.\n```json\n{\"a\":[1,2,],}\n```\nBye {", "{\"a\":[1,2]}", NULL },
		{ "```json\n{\"a\":1}\n", "{\"a\":1}", NULL }, /* unclosed fence: the rest */
		{ "{\"a\":[1,2,],\"b\":{\"c\":3,},}", "{\"a\":[1,2],\"b\":{\"c\":3}}", NULL },
		{ "{\"a\":\"x,}\",}", "{\"a\":\"x,}\"}", NULL }, /* ",}" in a string stays */
		{ "{\"a\":1,\n  }", "{\"a\":1}", NULL },
		{ "The answer is {\"a\":true}.", "{\"a\":true}", NULL },
		{ "", NULL, "empty answer" },
		{ " \n\t ", NULL, "empty answer" },
		{ "```json\n```", NULL, "empty code fence" },
		{ "[{\"a\":1}]", NULL, "a JSON array, not an object" },
		{ "Result: [ {\"a\":1} ]", NULL, "a JSON array, not an object" },
		{ "```json\n[1]\n```", NULL, "a JSON array, not an object" },
		{ "\"{\\\"a\\\":1}\"", NULL, "a JSON scalar, not an object" }, /* a string */
		{ "42", NULL, "a JSON scalar, not an object" },
		{ "null", NULL, "a JSON scalar, not an object" },
		{ "{\"a\":1} {\"b\":2}", NULL, "more than one JSON object" },
		{ "{\"a\":1}\n{\"b\":2}", NULL, "more than one JSON object" },
		{ "{\"a\":1,\"a\":2}", NULL, "duplicate object key" },
		{ "{\"a\":", NULL, "unterminated JSON object" },
		{ "{\"a\" 1}", NULL, "invalid JSON in the answer (syntax error" },
		{ "{'a':1}", NULL, "invalid JSON in the answer (syntax error at line 1 column" },
		{ "{\"a\":\"\xff\"}", NULL, "invalid UTF-8" },
		{ "{\"a\":\"\\u0000\"}", NULL, "NUL character" },
		{ "no json here", NULL, "no JSON object in the answer" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		json_t *obj = llm_parse_json(cases[i].in, strlen(cases[i].in), err, sizeof(err));
		if (cases[i].want != NULL) {
			char *dump = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
			if (dump == NULL || strcmp(dump, cases[i].want) != 0)
				unit_fail(__FILE__, __LINE__, "case %zu: got %s (%s), want %s", i,
				          dump ? dump : "NULL", err, cases[i].want);
			free(dump);
		} else {
			if (obj != NULL || strstr(err, cases[i].err) == NULL)
				unit_fail(__FILE__, __LINE__, "case %zu: err \"%s\", want \"%s\"",
				          i, err, cases[i].err);
			CHECK(strstr(err, "'") == NULL); /* jansson's quoting never leaks */
		}
		json_decref(obj);
	}
	/* (ptr, len): bytes past len are not read; embedded NULs are rejected */
	char err[256] = "";
	json_t *obj = llm_parse_json("{\"a\":1}garbage", 7, err, sizeof(err));
	CHECK(obj != NULL);
	json_decref(obj);
	CHECK(llm_parse_json("{\"a\":1}\0{", 9, err, sizeof(err)) == NULL);
	CHECK(llm_parse_json(NULL, 5, err, sizeof(err)) == NULL);
	CHECK_STR(err, "empty answer");
	lt_no_leaks();
}

UNIT_TEST(llm_retry_after_values)
{
	time_t now = 1700000000;
	CHECK_INT(llm_retry_after_ms("1", 1, now), 1000);
	CHECK_INT(llm_retry_after_ms(" 2 \r\n", 5, now), 2000);
	CHECK_INT(llm_retry_after_ms("0", 1, now), 0);
	CHECK_INT(llm_retry_after_ms("120x", 3, now), 120000); /* (ptr, len) */
	CHECK_INT(llm_retry_after_ms("99999999999999999999", 20, now), 100000000LL * 1000);
	char date[64];
	time_t later = now + 30;
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&later, &tm));
	CHECK_INT(llm_retry_after_ms(date, strlen(date), now), 30000);
	time_t before = now - 30;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&before, &tm));
	CHECK_INT(llm_retry_after_ms(date, strlen(date), now), 0);
	CHECK_INT(llm_retry_after_ms("", 0, now), -1);
	CHECK_INT(llm_retry_after_ms("  ", 2, now), -1);
	CHECK_INT(llm_retry_after_ms("-1", 2, now), -1);
	CHECK_INT(llm_retry_after_ms("1.5", 3, now), -1);
	CHECK_INT(llm_retry_after_ms("soon", 4, now), -1);
	CHECK_INT(llm_retry_after_ms(NULL, 3, now), -1);
	lt_no_leaks();
}

UNIT_TEST(llm_error_hints_are_tokens_only)
{
	char hint[80];
	const char *b1 =
	    "{\"error\":{\"message\":\"PROMPT\",\"type\":\"t\",\"code\":\"rate_limit\"}}";
	llm_json_error_hint(b1, strlen(b1), hint, sizeof(hint));
	CHECK_STR(hint, "rate_limit");
	const char *b2 = "{\"object\":\"error\",\"message\":\"x\",\"type\":\"BadRequestError\"}";
	llm_json_error_hint(b2, strlen(b2), hint, sizeof(hint));
	CHECK_STR(hint, "BadRequestError");
	const char *b3 = "{\"error\":\"model \\\"x\\\" not found, try pulling it first\"}";
	llm_json_error_hint(b3, strlen(b3), hint, sizeof(hint));
	CHECK_STR(hint, "");
	llm_json_error_hint("<html>", 6, hint, sizeof(hint));
	CHECK_STR(hint, "");
	lt_no_leaks();
}

UNIT_TEST(llm_load_prompt_files)
{
	char dir[] = "/tmp/aimem-test-llm-prompt-XXXXXX";
	UNIT_REQUIRE(mkdtemp(dir) != NULL);
	static const struct {
		const char *name;
		const char *text;
		size_t len;
		const char *err; /* NULL: loads */
	} cases[] = {
		{ "summarize.v1.txt", "Summarise the call.\nAnswer in JSON.\n", 35, NULL },
		{ "persona.v12.txt", "caf\xc3\xa9", 5, NULL },
		{ "summarize.txt", "x", 1, "carries no version" },
		{ "summarize.vx.txt", "x", 1, "carries no version" },
		{ "nul.v1.txt", "a\0b", 3, "NUL byte" },
		{ "bad.v1.txt", "caf\xe9", 4, "not valid UTF-8" },
		{ "blank.v1.txt", " \n\t\n", 4, "is empty" },
	};
	char path[256], err[256], version[16];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		FILE *fp = fopen(path, "wb");
		UNIT_REQUIRE(fp != NULL);
		fwrite(cases[i].text, 1, cases[i].len, fp);
		fclose(fp);
		err[0] = '\0';
		char *text = llm_load_prompt(path, err, sizeof(err));
		if (cases[i].err == NULL) {
			CHECK(text != NULL && memcmp(text, cases[i].text, cases[i].len) == 0);
		} else {
			CHECK(text == NULL);
			CHECK_CONTAINS(err, cases[i].err);
		}
		free(text);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/missing.v1.txt", dir);
	CHECK(llm_load_prompt(path, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "missing.v1.txt");
	snprintf(path, sizeof(path), "%s/big.v2.txt", dir);
	FILE *fp = fopen(path, "wb");
	UNIT_REQUIRE(fp != NULL);
	for (int i = 0; i < 300; i++)
		fprintf(fp, "%01023d\n", i);
	fclose(fp);
	CHECK(llm_load_prompt(path, err, sizeof(err)) == NULL);
	unlink(path);
	rmdir(dir);

	CHECK_INT(llm_prompt_version("workers/prompts/summarize.v1.txt", version, sizeof(version)),
	          0);
	CHECK_STR(version, "v1");
	CHECK_INT(llm_prompt_version("a.b/persona.v23.txt", version, sizeof(version)), 0);
	CHECK_STR(version, "v23");
	CHECK_INT(llm_prompt_version("v1/summarize.txt", version, sizeof(version)), -1);
	CHECK_INT(llm_prompt_version("v1.txt", version, sizeof(version)), -1);
	CHECK_INT(llm_prompt_version("x.v123456.txt", version, 4), -1);
	lt_no_leaks();
}
