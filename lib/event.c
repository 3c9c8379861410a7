/*
 * event: decoding, validation and encoding of the DESIGN §3 events (see event.h).
 *
 * Validation order is fixed (type, version, event_id, customer_id, key, occurred_at, then the
 * type's own fields in schema order), so an event with several faults always reports the
 * same one. The JSON Schemas in schemas/ express the same rules; a test keeps them agreeing.
 */
#include "event.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "jscan.h"
#include "num.h"
#include "xalloc.h"

const struct event_limits event_default_limits = {
	.max_event_bytes = 1 << 20,
	.max_turns = 5000,
	.max_text_bytes = 32 << 10,
};

#define EVENT_ID_MAX 128  /* call_id, user_id, thread_id */
#define EVENT_KEY_MAX 512 /* memory key */
#define EVENT_SOURCE_MAX 128
#define EVENT_TTL_MAX 36500

static const char *const event_roles[] = { "user", "assistant", "system", "tool" };

struct ev_ctx {
	char *err;
	size_t errlen;
	long turn; /* >= 0 while inside turns[turn]: messages get that prefix */
	const struct jscan_doc *d;
};

static int ev_fail(struct ev_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ev_fail(struct ev_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->errlen) {
		/* the prefix is formatted only on failure: labels cost nothing on the hot path */
		int n = c->turn >= 0 ? snprintf(c->err, c->errlen, "turns[%ld].", c->turn) : 0;
		if (n >= 0 && (size_t)n < c->errlen)
			vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	}
	va_end(ap);
	return code;
}

/* ---- time and identifiers ---------------------------------------------------------- */

static int ev_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long long ev_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int ev_days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

int event_parse_time(const char *s, long long *out_ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	if (strlen(s) < 20 || ev_digits(s, 4, &y) || s[4] != '-' || ev_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || ev_digits(s + 8, 2, &d) || s[10] != 'T' || ev_digits(s + 11, 2, &h) ||
	    s[13] != ':' || ev_digits(s + 14, 2, &mi) || s[16] != ':' || ev_digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > ev_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	const char *p = s + 19;
	int ms = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0 || n > 9)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	int sign = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (ev_digits(p + 1, 2, &oh) || p[3] != ':' || ev_digits(p + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (out_ms) {
		long long t = ev_days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL +
		              (sec == 60 ? 59 : sec);
		t -= sign * (oh * 3600LL + om * 60LL);
		*out_ms = t * 1000 + ms;
	}
	return 0;
}

bool event_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		             (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[36] == '\0';
}

void event_new_uuid(char out[37])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort(); /* the kernel's CSPRNG is gone: nothing sane left to do */
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 15];
	}
	out[o] = '\0';
}

/* ---- field readers ------------------------------------------------------------------ */

enum ev_opt { EV_REQUIRED = 1 << 0, EV_NULLABLE = 1 << 1, EV_NO_CONTROL = 1 << 2 };

static const struct jscan_token *ev_tok(const struct ev_ctx *c, size_t t)
{
	return &c->d->tok[t];
}

/* A string field of min..max bytes; *out stays NULL when absent (or null, if allowed). */
static int ev_string(struct ev_ctx *c, size_t obj, const char *field, unsigned opts, size_t min,
                     size_t max, const char **out)
{
	size_t v = jscan_get(c->d, obj, field);
	*out = NULL;
	if (v == 0)
		return (opts & EV_REQUIRED) ? ev_fail(c, EVENT_MISSING_FIELD, "%s: required", field)
		                            : EVENT_OK;
	if (ev_tok(c, v)->type == JSCAN_NULL && (opts & EV_NULLABLE))
		return EVENT_OK;
	if (ev_tok(c, v)->type != JSCAN_STRING)
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be a string%s", field,
		               (opts & EV_NULLABLE) ? " or null" : "");
	size_t len = ev_tok(c, v)->count;
	const char *s = jscan_str(c->d, v);
	if (len < min)
		return ev_fail(c, EVENT_TOO_SHORT, "%s: must not be empty", field);
	if (len > max)
		return ev_fail(c, EVENT_TOO_LONG, "%s: %zu bytes, at most %zu", field, len, max);
	if (opts & EV_NO_CONTROL)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return ev_fail(c, EVENT_BAD_VALUE,
				               "%s: control characters are not allowed", field);
	*out = s;
	return EVENT_OK;
}

/* An integer field (a JSON integer: 1.0 is not one) in [min, max]. */
static int ev_int(struct ev_ctx *c, size_t obj, const char *field, unsigned opts, long long min,
                  long long max, long long *out)
{
	size_t v = jscan_get(c->d, obj, field);
	if (v == 0)
		return (opts & EV_REQUIRED) ? ev_fail(c, EVENT_MISSING_FIELD, "%s: required", field)
		                            : EVENT_OK;
	if (ev_tok(c, v)->type == JSCAN_NULL && (opts & EV_NULLABLE))
		return EVENT_OK;
	if (ev_tok(c, v)->type != JSCAN_INTEGER)
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be an integer", field);
	long long n = ev_tok(c, v)->ival;
	if (n < min || n > max)
		return ev_fail(c, EVENT_BAD_VALUE, "%s: must be between %lld and %lld", field, min,
		               max);
	*out = n;
	return EVENT_OK;
}

static int ev_time(struct ev_ctx *c, size_t obj, const char *field, unsigned opts, const char **out)
{
	int rc = ev_string(c, obj, field, opts, 1, 64, out);
	if (rc == EVENT_TOO_SHORT || rc == EVENT_TOO_LONG ||
	    (rc == EVENT_OK && *out && event_parse_time(*out, NULL) != 0))
		return ev_fail(c, EVENT_BAD_VALUE,
		               "%s: must be an RFC 3339 date-time like 2026-11-20T15:04:05Z",
		               field);
	return rc;
}

static int ev_uuid(struct ev_ctx *c, size_t obj, const char *field, const char **out)
{
	int rc = ev_string(c, obj, field, EV_REQUIRED, 0, 64, out);
	if (rc == EVENT_TOO_LONG || (rc == EVENT_OK && !event_is_uuid(*out)))
		return ev_fail(c, EVENT_BAD_VALUE, "%s: must be a UUID (8-4-4-4-12 hex)", field);
	return rc;
}

/* The raw text of token t inside the event's copy. */
static struct event_json ev_slice(const struct ev_ctx *c, size_t t)
{
	return (struct event_json){ c->d->src + ev_tok(c, t)->start, ev_tok(c, t)->len };
}

/* An optional object field (agent, metadata). */
static int ev_object(struct ev_ctx *c, size_t obj, const char *field, struct event_json *out)
{
	size_t v = jscan_get(c->d, obj, field);
	*out = (struct event_json){ NULL, 0 };
	if (v == 0)
		return EVENT_OK;
	if (ev_tok(c, v)->type != JSCAN_OBJECT)
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be an object", field);
	*out = ev_slice(c, v);
	return EVENT_OK;
}

static bool ev_call_id_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == ':' || *s == '-'))
			return false;
	return true;
}

static bool ev_mtype_ok(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* ---- event bodies ------------------------------------------------------------------- */

static int ev_turn(struct ev_ctx *c, size_t item, size_t i, const struct event_limits *lim,
                   struct event_turn *t)
{
	if (ev_tok(c, item)->type != JSCAN_OBJECT)
		return ev_fail(c, EVENT_WRONG_TYPE, "turns[%zu]: must be an object", i);
	c->turn = (long)i;
	const char *role;
	int rc = ev_string(c, item, "role", EV_REQUIRED, 0, 16, &role);
	if (rc != EVENT_OK && rc != EVENT_TOO_LONG)
		return rc;
	size_t r = 0;
	while (rc == EVENT_OK && r < sizeof(event_roles) / sizeof(event_roles[0]) &&
	       strcmp(role, event_roles[r]) != 0)
		r++;
	if (rc == EVENT_TOO_LONG || r == sizeof(event_roles) / sizeof(event_roles[0]))
		return ev_fail(c, EVENT_BAD_VALUE,
		               "role: must be one of user|assistant|system|tool");
	t->role = (enum event_role)r;
	rc = ev_string(c, item, "text", EV_REQUIRED, 0, lim->max_text_bytes, &t->text);
	if (rc != EVENT_OK)
		return rc;
	t->text_len = strlen(t->text); /* no NUL inside: jscan refuses \u0000 */
	rc = ev_time(c, item, "at", 0, &t->at);
	c->turn = -1;
	return rc;
}

static int ev_call(struct ev_ctx *c, const struct event_limits *lim, struct event_call *call)
{
	int rc = ev_string(c, 0, "call_id", EV_REQUIRED, 1, EVENT_ID_MAX, &call->call_id);
	if (rc == EVENT_OK && !ev_call_id_ok(call->call_id))
		rc = ev_fail(c, EVENT_BAD_VALUE, "call_id: only letters, digits and . _ : -");
	if (rc == EVENT_OK)
		rc = ev_string(c, 0, "user_id", EV_REQUIRED | EV_NO_CONTROL, 1, EVENT_ID_MAX,
		               &call->user_id);
	if (rc == EVENT_OK)
		rc = ev_string(c, 0, "thread_id", EV_NULLABLE | EV_NO_CONTROL, 1, EVENT_ID_MAX,
		               &call->thread_id);
	if (rc == EVENT_OK)
		rc = ev_time(c, 0, "started_at", 0, &call->started_at);
	if (rc == EVENT_OK)
		rc = ev_time(c, 0, "ended_at", 0, &call->ended_at);
	if (rc != EVENT_OK)
		return rc;
	size_t turns = jscan_get(c->d, 0, "turns");
	if (turns == 0)
		return ev_fail(c, EVENT_MISSING_FIELD, "turns: required");
	if (ev_tok(c, turns)->type != JSCAN_ARRAY)
		return ev_fail(c, EVENT_WRONG_TYPE, "turns: must be an array");
	size_t n = ev_tok(c, turns)->count;
	if (n == 0)
		return ev_fail(c, EVENT_TOO_SHORT, "turns: at least one turn is required");
	if (n > lim->max_turns)
		return ev_fail(c, EVENT_TOO_LONG, "turns: %zu turns, at most %zu", n,
		               lim->max_turns);
	call->turns = xcalloc(n, sizeof(*call->turns));
	call->nturns = n;
	size_t item = turns + 1;
	for (size_t i = 0; i < n && rc == EVENT_OK; i++, item = ev_tok(c, item)->next)
		rc = ev_turn(c, item, i, lim, &call->turns[i]);
	if (rc == EVENT_OK)
		rc = ev_object(c, 0, "agent", &call->agent);
	if (rc == EVENT_OK)
		rc = ev_object(c, 0, "metadata", &call->metadata);
	return rc;
}

static int ev_scope(struct ev_ctx *c, bool required, const char **scope)
{
	int rc = ev_string(c, 0, "scope", required ? EV_REQUIRED : 0, 0, 16, scope);
	if (rc == EVENT_TOO_LONG || (rc == EVENT_OK && *scope && strcmp(*scope, "user") != 0 &&
	                             strcmp(*scope, "shared") != 0))
		return ev_fail(c, EVENT_BAD_VALUE, "scope: must be \"user\" or \"shared\"");
	return rc;
}

static int ev_memory(struct ev_ctx *c, bool put, struct event_memory *m)
{
	int rc = ev_uuid(c, 0, "memory_id", &m->memory_id);
	if (rc == EVENT_OK)
		rc = ev_scope(c, put, &m->scope);
	if (rc == EVENT_OK)
		rc = ev_string(c, 0, "user_id", EV_NULLABLE | EV_NO_CONTROL, 1, EVENT_ID_MAX,
		               &m->user_id);
	if (rc != EVENT_OK || !put)
		return rc;
	if (strcmp(m->scope, "user") == 0 && m->user_id == NULL)
		return ev_fail(c, EVENT_MISSING_FIELD, "user_id: required when scope is \"user\"");
	if (strcmp(m->scope, "shared") == 0 && m->user_id != NULL)
		return ev_fail(c, EVENT_BAD_VALUE,
		               "user_id: must be null when scope is \"shared\"");
	rc = ev_string(c, 0, "mtype", EV_REQUIRED, 1, 64, &m->mtype);
	if (rc == EVENT_OK && !ev_mtype_ok(m->mtype))
		rc = ev_fail(c, EVENT_BAD_VALUE,
		             "mtype: lowercase letters, digits and _, starting with a letter");
	if (rc == EVENT_OK)
		rc = ev_string(c, 0, "key", EV_REQUIRED | EV_NO_CONTROL, 1, EVENT_KEY_MAX, &m->key);
	if (rc != EVENT_OK)
		return rc;
	size_t value = jscan_get(c->d, 0, "value");
	if (value == 0)
		return ev_fail(c, EVENT_MISSING_FIELD, "value: required (null is allowed)");
	m->value = ev_slice(c, value);
	rc = ev_int(c, 0, "ttl_days", EV_NULLABLE, 1, EVENT_TTL_MAX, &m->ttl_days);
	if (rc == EVENT_OK)
		rc = ev_string(c, 0, "source", EV_NULLABLE, 0, EVENT_SOURCE_MAX, &m->source);
	return rc;
}

/* type, version, event_id, customer_id (and the key), occurred_at. */
static int ev_header(struct ev_ctx *c, const char *key, size_t key_len, struct event *ev)
{
	static const char *const names[] = { NULL, "call.ended", "memory.put", "memory.delete" };
	const char *type;
	int rc = ev_string(c, 0, "type", EV_REQUIRED, 0, 64, &type);
	if (rc == EVENT_TOO_LONG)
		return ev_fail(c, EVENT_UNKNOWN_TYPE, "type: unknown event type");
	if (rc != EVENT_OK)
		return rc;
	for (int t = 1; t <= 3; t++)
		if (strcmp(type, names[t]) == 0)
			ev->type = (enum event_type)t;
	if (ev->type == 0)
		return ev_fail(c, EVENT_UNKNOWN_TYPE,
		               "type: must be call.ended, memory.put or memory.delete");
	size_t v = jscan_get(c->d, 0, "version");
	if (v == 0)
		return ev_fail(c, EVENT_MISSING_FIELD, "version: required");
	if (ev_tok(c, v)->type != JSCAN_INTEGER)
		return ev_fail(c, EVENT_WRONG_TYPE, "version: must be an integer");
	ev->version = ev_tok(c, v)->ival;
	if (ev->version != 1)
		return ev_fail(c, EVENT_BAD_VERSION, "version: %s v%lld is not supported (only 1)",
		               type, ev->version);
	rc = ev_uuid(c, 0, "event_id", &ev->event_id);
	if (rc == EVENT_OK)
		rc = ev_int(c, 0, "customer_id", EV_REQUIRED, 1, 2147483647, &ev->customer_id);
	if (rc != EVENT_OK)
		return rc;
	long long k;
	if (key != NULL &&
	    (num_parse_intn(key, key_len, 1, 2147483647, &k) != NUM_OK || k != ev->customer_id))
		return ev_fail(c, EVENT_KEY_MISMATCH,
		               "customer_id: does not match the message key");
	return ev_time(c, 0, "occurred_at", EV_REQUIRED, &ev->occurred_at);
}

int event_decode(const char *buf, size_t len, const char *key, size_t key_len,
                 const struct event_limits *lim, struct event *ev, char *err, size_t errlen)
{
	struct ev_ctx c = { err, errlen, -1, &ev->doc };
	memset(ev, 0, sizeof(*ev));
	if (lim == NULL)
		lim = &event_default_limits;
	if (len > lim->max_event_bytes)
		return ev_fail(&c, EVENT_TOO_LARGE, "event: %zu bytes, at most %zu", len,
		               lim->max_event_bytes);
	/* our own copy: the event outlives the Kafka message or HTTP body it came from */
	ev->raw = xmemdup0(buf, len);
	ev->raw_len = len;
	char why[160];
	int rc = EVENT_OK;
	if (jscan_parse(&ev->doc, ev->raw, len, why, sizeof(why)) != 0)
		rc = ev_fail(&c, EVENT_BAD_JSON, "invalid JSON at %s", why);
	else if (ev->doc.tok[0].type != JSCAN_OBJECT)
		rc = ev_fail(&c, EVENT_NOT_OBJECT, "the event must be a JSON object");
	if (rc == EVENT_OK)
		rc = ev_header(&c, key, key_len, ev);
	if (rc == EVENT_OK && ev->type == EVENT_CALL_ENDED)
		rc = ev_call(&c, lim, &ev->call);
	else if (rc == EVENT_OK)
		rc = ev_memory(&c, ev->type == EVENT_MEMORY_PUT, &ev->mem);
	if (rc != EVENT_OK)
		event_release(ev);
	return rc;
}

int event_decode_json(json_t *root, const char *key, size_t key_len, const struct event_limits *lim,
                      struct event *ev, char *err, size_t errlen)
{
	struct ev_ctx c = { err, errlen, -1, NULL };
	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(root))
		return ev_fail(&c, EVENT_NOT_OBJECT, "the event must be a JSON object");
	char *text = json_dumps(root, JSON_COMPACT);
	if (text == NULL) /* only a string that is not UTF-8 makes jansson refuse */
		return ev_fail(&c, EVENT_BAD_JSON, "the event cannot be serialised as JSON");
	int rc = event_decode(text, strlen(text), key, key_len, lim, ev, err, errlen);
	free(text);
	return rc;
}

void event_release(struct event *ev)
{
	free(ev->call.turns);
	free(ev->raw);
	free(ev->rewritten);
	jscan_doc_free(&ev->doc);
	memset(ev, 0, sizeof(*ev));
}

/* ---- encoding ----------------------------------------------------------------------- */

static void ev_put_str(struct buf *out, const char *name, const char *v)
{
	if (v == NULL)
		return;
	buf_appendf(out, ",\"%s\":", name);
	jscan_quote(out, v, strlen(v));
}

static void ev_put_json(struct buf *out, const char *name, struct event_json v)
{
	if (v.ptr == NULL)
		return;
	buf_appendf(out, ",\"%s\":", name);
	buf_append(out, v.ptr, v.len);
}

static void ev_encode_call(const struct event_call *call, struct buf *out)
{
	ev_put_str(out, "call_id", call->call_id);
	ev_put_str(out, "user_id", call->user_id);
	ev_put_str(out, "thread_id", call->thread_id);
	ev_put_str(out, "started_at", call->started_at);
	ev_put_str(out, "ended_at", call->ended_at);
	buf_append_str(out, ",\"turns\":[");
	for (size_t i = 0; i < call->nturns; i++) {
		const struct event_turn *t = &call->turns[i];
		buf_appendf(out, "%s{\"role\":\"%s\",\"text\":", i ? "," : "",
		            event_roles[t->role]);
		jscan_quote(out, t->text, t->text_len);
		if (t->at != NULL) {
			buf_append_str(out, ",\"at\":");
			jscan_quote(out, t->at, strlen(t->at));
		}
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
	ev_put_json(out, "agent", call->agent);
	ev_put_json(out, "metadata", call->metadata);
}

void event_encode(const struct event *ev, struct buf *out)
{
	buf_appendf(out, "{\"type\":\"%s\",\"version\":%lld", event_type_name(ev->type),
	            ev->version);
	ev_put_str(out, "event_id", ev->event_id);
	buf_appendf(out, ",\"customer_id\":%lld", ev->customer_id);
	ev_put_str(out, "occurred_at", ev->occurred_at);
	if (ev->type == EVENT_CALL_ENDED) {
		ev_encode_call(&ev->call, out);
	} else {
		const struct event_memory *m = &ev->mem;
		ev_put_str(out, "memory_id", m->memory_id);
		ev_put_str(out, "scope", m->scope);
		if (m->user_id != NULL)
			ev_put_str(out, "user_id", m->user_id);
		else if (ev->type == EVENT_MEMORY_PUT)
			buf_append_str(out, ",\"user_id\":null");
		ev_put_str(out, "mtype", m->mtype);
		ev_put_str(out, "key", m->key);
		ev_put_json(out, "value", m->value);
		if (m->ttl_days > 0)
			buf_appendf(out, ",\"ttl_days\":%lld", m->ttl_days);
		ev_put_str(out, "source", m->source);
	}
	buf_putc(out, '}');
}

const char *event_status_code(int status)
{
	static const char *const codes[] = {
		"ok",         "bad_json",     "not_object",   "missing_field",
		"wrong_type", "bad_value",    "too_long",     "too_short",
		"too_large",  "key_mismatch", "unknown_type", "bad_version",
	};
	int i = -status;
	return i >= 0 && i < (int)(sizeof(codes) / sizeof(codes[0])) ? codes[i] : "unknown";
}

const char *event_type_name(enum event_type t)
{
	switch (t) {
	case EVENT_CALL_ENDED:
		return "call.ended";
	case EVENT_MEMORY_PUT:
		return "memory.put";
	case EVENT_MEMORY_DELETE:
		return "memory.delete";
	}
	return "unknown";
}

const char *event_role_name(enum event_role r)
{
	return event_roles[r];
}
