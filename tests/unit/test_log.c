/* Unit tests for lib/log: line format, escaping, levels, truncation, library adapters. */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/* Captures what the logger writes through a pipe; returns the text (static buffer). */
static int log_pipe[2];

static void log_capture_begin(void)
{
	UNIT_REQUIRE(pipe(log_pipe) == 0);
	fcntl(log_pipe[0], F_SETFL, O_NONBLOCK);
	log_init("unit-test");
	log_set_fd(log_pipe[1]);
	log_set_level(LOG_LEVEL_DEBUG);
}

static const char *log_capture_end(void)
{
	static char text[3 * LOG_LINE_MAX];
	ssize_t n = read(log_pipe[0], text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	close(log_pipe[0]);
	close(log_pipe[1]);
	log_set_fd(2);
	return text;
}

static int log_count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

UNIT_TEST(log_line_format)
{
	log_capture_begin();
	log_info("listening port=%d", 8080);
	const char *out = log_capture_end();
	/* 2026-11-24T10:01:23.123Z info unit-test[123]: listening port=8080\n */
	CHECK_INT(log_count_lines(out), 1);
	CHECK(out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
	CHECK_CONTAINS(out, " info unit-test[");
	CHECK_CONTAINS(out, "]: listening port=8080\n");
}

UNIT_TEST(log_escapes_control_characters)
{
	log_capture_begin();
	log_warn("user said=%s", "hi\nfake 2026 error forged: x\x01\x7f");
	const char *out = log_capture_end();
	CHECK_INT(log_count_lines(out), 1);
	CHECK_CONTAINS(out, "hi\\nfake 2026 error forged: x\\x01\\x7f\n");
}

UNIT_TEST(log_levels_filter)
{
	log_capture_begin();
	log_set_level(LOG_LEVEL_WARN);
	log_debug("hidden debug");
	log_info("hidden info");
	log_warn("shown warn");
	log_error("shown error");
	CHECK(!log_enabled(LOG_LEVEL_INFO));
	CHECK(log_enabled(LOG_LEVEL_ERROR));
	const char *out = log_capture_end();
	CHECK_INT(log_count_lines(out), 2);
	CHECK(strstr(out, "hidden") == NULL);
	CHECK_CONTAINS(out, " warn unit-test");
	CHECK_CONTAINS(out, " error unit-test");
}

UNIT_TEST(log_truncates_long_lines_to_one_write)
{
	log_capture_begin();
	char *big = malloc(3 * LOG_LINE_MAX);
	memset(big, 'y', 3 * LOG_LINE_MAX - 1);
	big[3 * LOG_LINE_MAX - 1] = '\0';
	log_info("big=%s", big);
	free(big);
	const char *out = log_capture_end();
	CHECK_INT(log_count_lines(out), 1);
	CHECK(strlen(out) <= LOG_LINE_MAX + 32);
	CHECK_CONTAINS(out, "...(truncated)\n");
}

UNIT_TEST(log_level_names_round_trip)
{
	enum log_level l;
	CHECK_INT(log_level_parse("WARN", &l), 0);
	CHECK_INT(l, LOG_LEVEL_WARN);
	CHECK_INT(log_level_parse("warning", &l), 0);
	CHECK_INT(log_level_parse("debug", &l), 0);
	CHECK_STR(log_level_name(l), "debug");
	CHECK_INT(log_level_parse("verbose", &l), -1);
}

static void log_call_mhd(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_mhd_cb(NULL, fmt, ap);
	va_end(ap);
}

UNIT_TEST(log_library_adapters)
{
	log_capture_begin();
	log_rdkafka_cb(NULL, 3, "FAIL", "broker down");
	log_rdkafka_cb(NULL, 7, "PROTO", "debug chatter");
	log_call_mhd("Error accepting connection: %s\n", "Too many open files");
	char text[] = "Connected to 127.0.0.1\n";
	CHECK_INT(log_curl_debug_cb(NULL, 0 /* CURLINFO_TEXT */, text, strlen(text), NULL), 0);
	char header[] = "Authorization: Bearer secret-token\r\n";
	CHECK_INT(
	    log_curl_debug_cb(NULL, 2 /* CURLINFO_HEADER_OUT */, header, strlen(header), NULL), 0);
	const char *out = log_capture_end();
	CHECK_CONTAINS(out, " error unit-test");
	CHECK_CONTAINS(out, "broker down lib=rdkafka fac=FAIL");
	CHECK_CONTAINS(out, "debug chatter lib=rdkafka fac=PROTO");
	CHECK_CONTAINS(out, "Error accepting connection: Too many open files lib=microhttpd\n");
	CHECK_CONTAINS(out, "Connected to 127.0.0.1 lib=curl\n");
	CHECK(strstr(out, "secret-token") == NULL);
	CHECK_INT(log_count_lines(out), 4);
}

/*
 * A strict logfmt reader (go-logfmt's rules): space-separated keys of bytes > ' ' other than
 * '=' and '"', each optionally "=value"; a value is bare (the same bytes) or a Go-quoted
 * string that closes before a space or the end. Returns true when every line of text reads;
 * *pairs counts key=value pairs seen; when want_key is found, its value (unescaped) goes to
 * got.
 */
static bool log_logfmt_reads(const char *text, int *pairs, const char *want_key, char *got,
                             size_t gotlen)
{
	const char *p = text;
	*pairs = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\n') {
			p++;
			continue;
		}
		const char *k = p;
		while ((unsigned char)*p > ' ' && *p != '=' && *p != '"')
			p++;
		if (p == k)
			return false; /* '=' or '"' where a key starts */
		size_t klen = (size_t)(p - k);
		if (*p != '=') {
			if (*p != ' ' && *p != '\n' && *p != '\0')
				return false;
			continue;
		}
		p++;
		(*pairs)++;
		bool want = want_key && strlen(want_key) == klen && strncmp(k, want_key, klen) == 0;
		size_t o = 0;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n')
					return false; /* unterminated */
				char c = *p;
				if (c == '\\') {
					p++;
					if (strchr("\"\\nrt", *p) != NULL && *p != '\0')
						c = *p == 'n'   ? '\n'
						    : *p == 'r' ? '\r'
						    : *p == 't' ? '\t'
						                : *p;
					else if (*p == 'x' && isxdigit((unsigned char)p[1]) &&
					         isxdigit((unsigned char)p[2]))
						c = '?', p += 2;
					else
						return false;
				}
				if (want && o + 1 < gotlen)
					got[o++] = c;
			}
			p++;
		} else {
			for (; (unsigned char)*p > ' '; p++) {
				if (*p == '=' || *p == '"')
					return false;
				if (want && o + 1 < gotlen)
					got[o++] = *p;
			}
		}
		if (want)
			got[o] = '\0';
		if (*p != ' ' && *p != '\n' && *p != '\0')
			return false; /* something glued to a closed quote */
	}
	return true;
}

UNIT_TEST(log_lines_are_logfmt_whatever_the_values)
{
	static const char *const values[] = {
		"relation \"call_summaries\" does not exist",
		"ends with a quote\"",
		"\" broker=forged",
		"back\\slash and \\\" both",
		"two\nlines\r\tand \x01 control",
		"",
		"a=b=c",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		log_capture_begin();
		log_warn("cannot store offsets error=\"%s\" topic=%s", values[i], "t1");
		log_warn("bare value name=%s partition=%d", values[i], 3);
		log_warn("a \"quoted\" message = with %s", values[i]);
		const char *out = log_capture_end();
		CHECK_INT(log_count_lines(out), 3);
		int pairs = 0;
		char got[256] = "";
		bool ok = log_logfmt_reads(out, &pairs, "topic", got, sizeof(got));
		if (!ok)
			fprintf(stderr, "not logfmt: %s", out);
		CHECK(ok);
		CHECK_STR(got, "t1"); /* the value's quotes did not swallow the next key */
		CHECK(pairs >= 4);
	}
	/* the value itself survives, unescaped by the reader */
	log_capture_begin();
	log_warn("x error=\"%s\" topic=t", "relation \"s\" missing");
	const char *out = log_capture_end();
	int pairs;
	char got[256] = "";
	CHECK(log_logfmt_reads(out, &pairs, "error", got, sizeof(got)));
	CHECK_STR(got, "relation \"s\" missing");
	CHECK_CONTAINS(out, "error=\"relation \\\"s\\\" missing\" topic=t\n");
}

UNIT_TEST(log_cut_quoted_value_is_closed)
{
	log_capture_begin();
	char *big = malloc(2 * LOG_LINE_MAX);
	memset(big, '"', 2 * LOG_LINE_MAX - 1);
	big[2 * LOG_LINE_MAX - 1] = '\0';
	log_info("big error=\"%s\"", big);
	free(big);
	const char *out = log_capture_end();
	int pairs;
	CHECK_INT(log_count_lines(out), 1);
	CHECK(log_logfmt_reads(out, &pairs, NULL, NULL, 0));
	CHECK_CONTAINS(out, "...(truncated)\n");
}
