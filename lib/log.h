/*
 * log: the one logger of every program.
 *
 * A line is "<UTC time> <level> <program>[<pid>]: <message> key=value ...": the message
 * first, then key=value context, written with a single write(2) so lines from librdkafka,
 * libmicrohttpd, curl and our own threads never interleave. Every line is logfmt that a
 * strict parser reads: write text that may hold spaces or quotes as key=\"%s\" and the
 * logger escapes the quotes and backslashes inside (its closing quote is the one followed by
 * the end or by " key="); a bare key=value whose value holds '=' or '"' is quoted; a '"' in
 * the message words becomes '. Control characters are escaped everywhere (\n, \xNN), so no
 * input can forge a line. Lines longer than LOG_LINE_MAX are cut and marked (a cut quoted
 * value is still closed). Callers must never pass transcript text, tokens or
 * Authorization headers (the logger cannot tell them apart from other text).
 *
 * Thread-safe after log_init(); log_init() itself runs once, before threads start.
 */
#ifndef AIMEM_LOG_H
#define AIMEM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

#define LOG_LINE_MAX 4096

/* program: copied (truncated to 63 bytes). Logs go to stderr at level info until changed. */
void log_init(const char *program);
void log_set_level(enum log_level level);
/* Redirects output (tests). fd is borrowed; it must stay open. */
void log_set_fd(int fd);
bool log_enabled(enum log_level level);
/* "debug" | "info" | "warn" | "error"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out) __attribute__((warn_unused_result));
const char *log_level_name(enum log_level level);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vwrite(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                  \
			log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                   \
	} while (0)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Adapters for the libraries' log callbacks; each routes into log_write with a lib=... key.
 *
 * log_rdkafka_cb: for rd_kafka_conf_set_log_cb(); runs on librdkafka's threads (or the
 *   polling thread with log.queue). Syslog levels map to ours (<=3 error, 4 warn, 5-6 info,
 *   7 debug).
 * log_mhd_cb: for MHD_OPTION_EXTERNAL_LOGGER (cls unused); runs on MHD's threads; warn.
 * log_curl_debug_cb: for CURLOPT_DEBUGFUNCTION (CURL is void and curl_infotype an int-sized
 *   enum, so the signature is compatible); runs on the thread driving the transfer. Only
 *   informational text is logged, at debug; headers and data are never logged since they
 *   carry API keys and transcripts. Always returns 0.
 */
struct rd_kafka_s;
void log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);
void log_mhd_cb(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int log_curl_debug_cb(void *handle, int type, char *data, size_t size, void *userp);

#endif
