/*
 * log: line logger (see log.h). Formats into a stack buffer and writes it with one
 * write(2); no locks, no allocation, no buffering in stdio. It does not rotate files, ship
 * to syslog or rate-limit: stderr goes to journald or the container runtime, which do that.
 */
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(curl_infotype) == sizeof(int), "curl_infotype must be int-sized");

static char log_program[64] = "aimem";
static atomic_int log_min_level = LOG_LEVEL_INFO;
static atomic_int log_fd = STDERR_FILENO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *program)
{
	snprintf(log_program, sizeof(log_program), "%s", program);
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_min_level, (int)level);
}

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&log_min_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < 0 || (size_t)level >= sizeof(log_names) / sizeof(log_names[0]))
		return "?";
	return log_names[level];
}

/* Copies src into dst escaping control bytes; returns bytes written (never past cap). */
static size_t log_escape(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 > cap)
				break;
			dst[o++] = (char)c;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			if (o + 2 > cap)
				break;
			dst[o++] = '\\';
			dst[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else {
			if (o + 4 > cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	return o;
}

static size_t log_prefix(char *line, size_t cap, enum log_level level)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(
	    line, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld]: ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
	    log_level_name(level), log_program, (long)getpid());
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved_errno = errno;
	char text[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 32];
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		n = 0;
	size_t tlen = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;

	static const char cut[] = " ...(truncated)";
	size_t o = log_prefix(line, LOG_LINE_MAX, level);
	size_t room = LOG_LINE_MAX - o;
	size_t w = log_escape(line + o, room, text, tlen);
	o += w;
	if (w == room || (size_t)n >= sizeof(text)) {
		memcpy(line + o, cut, sizeof(cut) - 1);
		o += sizeof(cut) - 1;
	}
	line[o++] = '\n';

	int fd = atomic_load(&log_fd);
	const char *p = line;
	while (o > 0) {
		ssize_t rc = write(fd, p, o);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break; /* nowhere left to report it */
		p += rc;
		o -= (size_t)rc;
	}
	errno = saved_errno;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

void log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	enum log_level l = level <= 3   ? LOG_LEVEL_ERROR
	                   : level == 4 ? LOG_LEVEL_WARN
	                   : level <= 6 ? LOG_LEVEL_INFO
	                                : LOG_LEVEL_DEBUG;
	log_write(l, "%s lib=rdkafka fac=%s", buf, fac);
}

void log_mhd_cb(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char text[1024];
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		return;
	size_t len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	log_write(LOG_LEVEL_WARN, "%s lib=microhttpd", text);
}

int log_curl_debug_cb(void *handle, int type, char *data, size_t size, void *userp)
{
	(void)handle;
	(void)userp;
	if (type != CURLINFO_TEXT || !log_enabled(LOG_LEVEL_DEBUG))
		return 0;
	while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	if (size > 512)
		size = 512;
	log_write(LOG_LEVEL_DEBUG, "%.*s lib=curl", (int)size, data);
	return 0;
}
