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

/* Output of log_logfmt: never past cap; full once a byte did not fit. */
struct log_out {
	char *dst;
	size_t cap, len;
	bool full;
};

static void log_put(struct log_out *o, const char *s, size_t n)
{
	if (o->full || o->len + n > o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->dst + o->len, s, n);
	o->len += n;
}

/* One byte of text: control bytes as \n, \t, \r or \xNN; inside a quoted value also \" and
 * \\ (logfmt's quoted strings are Go's); outside one, a stray quote becomes ' (a bare key or
 * value cannot hold one). */
static void log_put_char(struct log_out *o, unsigned char c, bool quoted)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4] = { '\\', 0, 0, 0 };
	if (c == '\n' || c == '\t' || c == '\r') {
		esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		log_put(o, esc, 2);
	} else if (c < 0x20 || c == 0x7f) {
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 15];
		log_put(o, esc, 4);
	} else if (quoted && (c == '"' || c == '\\')) {
		esc[1] = (char)c;
		log_put(o, esc, 2);
	} else {
		char ch = !quoted && c == '"' ? '\'' : (char)c;
		log_put(o, &ch, 1);
	}
}

/* Does a "key=" (logfmt key characters, then '=') start at s? */
static bool log_key_at(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && s[i] != '=' && s[i] != ' ' && s[i] != '"' && (unsigned char)s[i] > ' ')
		i++;
	return i > 0 && i < len && s[i] == '=';
}

/* The closing quote of a value opened at src[open]: the first '"' followed by the end or by
 * " key=" (context follows the message, so a quote inside the value is never followed by
 * that); len when there is none (the value runs to the end). */
static size_t log_quote_end(const char *src, size_t len, size_t open)
{
	for (size_t j = open + 1; j < len; j++)
		if (src[j] == '"' &&
		    (j + 1 == len || (src[j + 1] == ' ' && log_key_at(src + j + 2, len - j - 2))))
			return j;
	return len;
}

/* Closes a quoted value with the byte log_logfmt keeps aside: a value cut short is still
 * closed (puts never go past cap, so len + 1 <= the real capacity). */
static void log_close_quote(struct log_out *o)
{
	o->dst[o->len++] = '"';
	if (o->len > o->cap)
		o->full = true;
}

/*
 * Copies the formatted text src into dst as logfmt that any parser reads (go-logfmt's rules):
 * a key="value" keeps its quotes, with the quotes and backslashes inside escaped (callers
 * write error=\"%s\" around text that may hold quotes); a bare key=value whose value holds
 * '=' or '"' is quoted; in bare words a '"' becomes ' and an '=' that starts no key
 * becomes ':'; control bytes are escaped everywhere, so no input forges a line. Returns the
 * bytes written; *cut is set when src did not fit.
 */
static size_t log_logfmt(char *dst, size_t cap, const char *src, size_t len, bool *cut)
{
	struct log_out o = { dst, cap > 0 ? cap - 1 : 0, 0, cap == 0 };
	size_t i = 0;
	while (i < len && !o.full) {
		if (src[i] == ' ') {
			log_put(&o, " ", 1);
			i++;
			continue;
		}
		size_t end = i; /* the token: up to the next space */
		while (end < len && src[end] != ' ')
			end++;
		size_t eq = i;
		while (eq < end && src[eq] != '=' && src[eq] != '"')
			eq++;
		bool keyed = eq > i && eq < end && src[eq] == '=';
		if (!keyed) { /* a word of the message */
			for (size_t j = i; j < end; j++)
				log_put_char(&o, (unsigned char)(src[j] == '=' ? ':' : src[j]),
				             false);
			i = end;
			continue;
		}
		bool quote = eq + 1 < len && src[eq + 1] == '"';
		size_t vstart = eq + 1, vend = end;
		if (quote) { /* key="...": its closing quote may lie past spaces */
			vstart = eq + 2;
			vend = log_quote_end(src, len, eq + 1);
			end = vend < len ? vend + 1 : len;
		}
		for (size_t j = vstart; !quote && j < vend; j++)
			quote = src[j] == '=' || src[j] == '"';
		for (size_t j = i; j < eq; j++)
			log_put_char(&o, (unsigned char)src[j], false);
		size_t before = o.len;
		log_put(&o, quote ? "=\"" : "=", quote ? 2 : 1);
		bool opened = quote && o.len > before;
		for (size_t j = vstart; j < vend && !o.full; j++)
			log_put_char(&o, (unsigned char)src[j], quote);
		if (opened)
			log_close_quote(&o);
		i = end;
	}
	*cut = i < len || o.full;
	return o.len;
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

	static const char cut_mark[] = " ...(truncated)";
	size_t o = log_prefix(line, LOG_LINE_MAX, level);
	size_t room = LOG_LINE_MAX - o;
	bool cut = false;
	o += log_logfmt(line + o, room, text, tlen, &cut);
	if (cut || (size_t)n >= sizeof(text)) {
		memcpy(line + o, cut_mark, sizeof(cut_mark) - 1);
		o += sizeof(cut_mark) - 1;
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
