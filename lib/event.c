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

/* A string field of min..max bytes; *out stays NULL when absent (or null, if allowed). */
static int ev_string(struct ev_ctx *c, json_t *obj, const char *field, const char *label,
                     unsigned opts, size_t min, size_t max, const char **out)
{
	json_t *v = json_object_get(obj, field);
	*out = NULL;
	if (v == NULL)
		return (opts & EV_REQUIRED) ? ev_fail(c, EVENT_MISSING_FIELD, "%s: required", label)
		                            : EVENT_OK;
	if (json_is_null(v) && (opts & EV_NULLABLE))
		return EVENT_OK;
	if (!json_is_string(v))
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be a string%s", label,
		               (opts & EV_NULLABLE) ? " or null" : "");
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (len < min)
		return ev_fail(c, EVENT_TOO_SHORT, "%s: must not be empty", label);
	if (len > max)
		return ev_fail(c, EVENT_TOO_LONG, "%s: %zu bytes, at most %zu", label, len, max);
	if (opts & EV_NO_CONTROL)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return ev_fail(c, EVENT_BAD_VALUE,
				               "%s: control characters are not allowed", label);
	*out = s;
	return EVENT_OK;
}

/* An integer field (a JSON integer: 1.0 is not one) in [min, max]. */
static int ev_int(struct ev_ctx *c, json_t *obj, const char *field, unsigned opts, long long min,
                  long long max, long long *out, bool *present)
{
	json_t *v = json_object_get(obj, field);
	*present = false;
	if (v == NULL)
		return (opts & EV_REQUIRED) ? ev_fail(c, EVENT_MISSING_FIELD, "%s: required", field)
		                            : EVENT_OK;
	if (json_is_null(v) && (opts & EV_NULLABLE))
		return EVENT_OK;
	if (!json_is_integer(v))
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be an integer", field);
	json_int_t n = json_integer_value(v);
	if (n < min || n > max)
		return ev_fail(c, EVENT_BAD_VALUE, "%s: must be between %lld and %lld", field, min,
		               max);
	*out = n;
	*present = true;
	return EVENT_OK;
}

static int ev_time(struct ev_ctx *c, json_t *obj, const char *field, const char *label,
                   unsigned opts, const char **out)
{
	int rc = ev_string(c, obj, field, label, opts, 1, 64, out);
	if (rc == EVENT_TOO_SHORT || rc == EVENT_TOO_LONG ||
	    (rc == EVENT_OK && *out && event_parse_time(*out, NULL) != 0))
		return ev_fail(c, EVENT_BAD_VALUE,
		               "%s: must be an RFC 3339 date-time like 2026-11-20T15:04:05Z",
		               label);
	return rc;
}

static int ev_uuid(struct ev_ctx *c, json_t *obj, const char *field, const char **out)
{
	int rc = ev_string(c, obj, field, field, EV_REQUIRED, 0, 64, out);
	if (rc == EVENT_TOO_LONG || (rc == EVENT_OK && !event_is_uuid(*out)))
		return ev_fail(c, EVENT_BAD_VALUE, "%s: must be a UUID (8-4-4-4-12 hex)", field);
	return rc;
}

/* An optional object field (agent, metadata). */
static int ev_object(struct ev_ctx *c, json_t *obj, const char *field, json_t **out)
{
	json_t *v = json_object_get(obj, field);
	*out = NULL;
	if (v == NULL)
		return EVENT_OK;
	if (!json_is_object(v))
		return ev_fail(c, EVENT_WRONG_TYPE, "%s: must be an object", field);
	*out = v;
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

static int ev_turn(struct ev_ctx *c, json_t *item, size_t i, const struct event_limits *lim,
                   struct event_turn *t)
{
	if (!json_is_object(item))
		return ev_fail(c, EVENT_WRONG_TYPE, "turns[%zu]: must be an object", i);
	c->turn = (long)i;
	const char *role;
	int rc = ev_string(c, item, "role", "role", EV_REQUIRED, 0, 16, &role);
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
	rc = ev_string(c, item, "text", "text", EV_REQUIRED, 0, lim->max_text_bytes, &t->text);
	if (rc != EVENT_OK)
		return rc;
	t->text_len = strlen(t->text);
	rc = ev_time(c, item, "at", "at", 0, &t->at);
	c->turn = -1;
	return rc;
}

static int ev_call(struct ev_ctx *c, json_t *root, const struct event_limits *lim,
                   struct event_call *call)
{
	int rc =
	    ev_string(c, root, "call_id", "call_id", EV_REQUIRED, 1, EVENT_ID_MAX, &call->call_id);
	if (rc == EVENT_OK && !ev_call_id_ok(call->call_id))
		rc = ev_fail(c, EVENT_BAD_VALUE, "call_id: only letters, digits and . _ : -");
	if (rc == EVENT_OK)
		rc = ev_string(c, root, "user_id", "user_id", EV_REQUIRED | EV_NO_CONTROL, 1,
		               EVENT_ID_MAX, &call->user_id);
	if (rc == EVENT_OK)
		rc = ev_string(c, root, "thread_id", "thread_id", EV_NULLABLE | EV_NO_CONTROL, 1,
		               EVENT_ID_MAX, &call->thread_id);
	if (rc == EVENT_OK)
		rc = ev_time(c, root, "started_at", "started_at", 0, &call->started_at);
	if (rc == EVENT_OK)
		rc = ev_time(c, root, "ended_at", "ended_at", 0, &call->ended_at);
	if (rc != EVENT_OK)
		return rc;
	json_t *turns = json_object_get(root, "turns");
	if (turns == NULL)
		return ev_fail(c, EVENT_MISSING_FIELD, "turns: required");
	if (!json_is_array(turns))
		return ev_fail(c, EVENT_WRONG_TYPE, "turns: must be an array");
	size_t n = json_array_size(turns);
	if (n == 0)
		return ev_fail(c, EVENT_TOO_SHORT, "turns: at least one turn is required");
	if (n > lim->max_turns)
		return ev_fail(c, EVENT_TOO_LONG, "turns: %zu turns, at most %zu", n,
		               lim->max_turns);
	call->turns = xcalloc(n, sizeof(*call->turns));
	call->nturns = n;
	for (size_t i = 0; i < n && rc == EVENT_OK; i++)
		rc = ev_turn(c, json_array_get(turns, i), i, lim, &call->turns[i]);
	if (rc == EVENT_OK)
		rc = ev_object(c, root, "agent", &call->agent);
	if (rc == EVENT_OK)
		rc = ev_object(c, root, "metadata", &call->metadata);
	return rc;
}

static int ev_scope(struct ev_ctx *c, json_t *root, bool required, const char **scope)
{
	int rc = ev_string(c, root, "scope", "scope", required ? EV_REQUIRED : 0, 0, 16, scope);
	if (rc == EVENT_TOO_LONG || (rc == EVENT_OK && *scope && strcmp(*scope, "user") != 0 &&
	                             strcmp(*scope, "shared") != 0))
		return ev_fail(c, EVENT_BAD_VALUE, "scope: must be \"user\" or \"shared\"");
	return rc;
}

static int ev_memory(struct ev_ctx *c, json_t *root, bool put, struct event_memory *m)
{
	int rc = ev_uuid(c, root, "memory_id", &m->memory_id);
	if (rc == EVENT_OK)
		rc = ev_scope(c, root, put, &m->scope);
	if (rc == EVENT_OK)
		rc = ev_string(c, root, "user_id", "user_id", EV_NULLABLE | EV_NO_CONTROL, 1,
		               EVENT_ID_MAX, &m->user_id);
	if (rc != EVENT_OK || !put)
		return rc;
	if (strcmp(m->scope, "user") == 0 && m->user_id == NULL)
		return ev_fail(c, EVENT_MISSING_FIELD, "user_id: required when scope is \"user\"");
	if (strcmp(m->scope, "shared") == 0 && m->user_id != NULL)
		return ev_fail(c, EVENT_BAD_VALUE,
		               "user_id: must be null when scope is \"shared\"");
	rc = ev_string(c, root, "mtype", "mtype", EV_REQUIRED, 1, 64, &m->mtype);
	if (rc == EVENT_OK && !ev_mtype_ok(m->mtype))
		rc = ev_fail(c, EVENT_BAD_VALUE,
		             "mtype: lowercase letters, digits and _, "
		             "starting with a letter");
	if (rc == EVENT_OK)
		rc = ev_string(c, root, "key", "key", EV_REQUIRED | EV_NO_CONTROL, 1, EVENT_KEY_MAX,
		               &m->key);
	if (rc != EVENT_OK)
		return rc;
	m->value = json_object_get(root, "value");
	if (m->value == NULL)
		return ev_fail(c, EVENT_MISSING_FIELD, "value: required (null is allowed)");
	bool present;
	rc = ev_int(c, root, "ttl_days", EV_NULLABLE, 1, EVENT_TTL_MAX, &m->ttl_days, &present);
	if (rc == EVENT_OK)
		rc = ev_string(c, root, "source", "source", EV_NULLABLE, 0, EVENT_SOURCE_MAX,
		               &m->source);
	return rc;
}

/* type, version, event_id, customer_id (and the key), occurred_at. */
static int ev_header(struct ev_ctx *c, json_t *root, const char *key, size_t key_len,
                     struct event *ev)
{
	static const char *const names[] = { NULL, "call.ended", "memory.put", "memory.delete" };
	const char *type;
	int rc = ev_string(c, root, "type", "type", EV_REQUIRED, 0, 64, &type);
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
	json_t *v = json_object_get(root, "version");
	if (v == NULL)
		return ev_fail(c, EVENT_MISSING_FIELD, "version: required");
	if (!json_is_integer(v))
		return ev_fail(c, EVENT_WRONG_TYPE, "version: must be an integer");
	ev->version = json_integer_value(v);
	if (ev->version != 1)
		return ev_fail(c, EVENT_BAD_VERSION, "version: %s v%lld is not supported (only 1)",
		               type, ev->version);
	rc = ev_uuid(c, root, "event_id", &ev->event_id);
	bool present;
	if (rc == EVENT_OK)
		rc = ev_int(c, root, "customer_id", EV_REQUIRED, 1, 2147483647, &ev->customer_id,
		            &present);
	if (rc != EVENT_OK)
		return rc;
	long long k;
	if (key != NULL &&
	    (num_parse_intn(key, key_len, 1, 2147483647, &k) != NUM_OK || k != ev->customer_id))
		return ev_fail(c, EVENT_KEY_MISMATCH,
		               "customer_id: does not match the message key");
	return ev_time(c, root, "occurred_at", "occurred_at", EV_REQUIRED, &ev->occurred_at);
}

int event_decode_json(json_t *root, const char *key, size_t key_len, const struct event_limits *lim,
                      struct event *ev, char *err, size_t errlen)
{
	struct ev_ctx c = { err, errlen, -1 };
	memset(ev, 0, sizeof(*ev));
	if (lim == NULL)
		lim = &event_default_limits;
	if (!json_is_object(root))
		return ev_fail(&c, EVENT_NOT_OBJECT, "the event must be a JSON object");
	int rc = ev_header(&c, root, key, key_len, ev);
	if (rc == EVENT_OK && ev->type == EVENT_CALL_ENDED)
		rc = ev_call(&c, root, lim, &ev->call);
	else if (rc == EVENT_OK)
		rc = ev_memory(&c, root, ev->type == EVENT_MEMORY_PUT, &ev->mem);
	if (rc != EVENT_OK) {
		free(ev->call.turns);
		memset(ev, 0, sizeof(*ev));
		return rc;
	}
	ev->root = json_incref(root);
	return EVENT_OK;
}

int event_decode(const char *buf, size_t len, const char *key, size_t key_len,
                 const struct event_limits *lim, struct event *ev, char *err, size_t errlen)
{
	struct ev_ctx c = { err, errlen, -1 };
	memset(ev, 0, sizeof(*ev));
	if (lim == NULL)
		lim = &event_default_limits;
	if (len > lim->max_event_bytes)
		return ev_fail(&c, EVENT_TOO_LARGE, "event: %zu bytes, at most %zu", len,
		               lim->max_event_bytes);
	json_error_t jerr;
	/* duplicate keys are ambiguous (which one would a consumer see?): refuse them */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return ev_fail(&c, EVENT_BAD_JSON, "invalid JSON at line %d column %d: %s",
		               jerr.line, jerr.column, jerr.text);
	int rc = event_decode_json(root, key, key_len, lim, ev, err, errlen);
	json_decref(root);
	return rc;
}

void event_release(struct event *ev)
{
	free(ev->call.turns);
	json_decref(ev->root);
	memset(ev, 0, sizeof(*ev));
}

/* ---- encoding ----------------------------------------------------------------------- */

static void ev_set_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, k, json_string(v)); /* _new steals the new reference */
}

static json_t *ev_encode_call(const struct event_call *call, json_t *o)
{
	ev_set_str(o, "call_id", call->call_id);
	ev_set_str(o, "user_id", call->user_id);
	ev_set_str(o, "thread_id", call->thread_id);
	ev_set_str(o, "started_at", call->started_at);
	ev_set_str(o, "ended_at", call->ended_at);
	json_t *turns = json_array();
	for (size_t i = 0; i < call->nturns; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "role", json_string(event_roles[call->turns[i].role]));
		json_object_set_new(t, "text",
		                    json_stringn(call->turns[i].text, call->turns[i].text_len));
		ev_set_str(t, "at", call->turns[i].at);
		json_array_append_new(turns, t);
	}
	json_object_set_new(o, "turns", turns);
	if (call->agent)
		json_object_set(o, "agent", call->agent); /* not _new: borrowed, takes a ref */
	if (call->metadata)
		json_object_set(o, "metadata", call->metadata);
	return o;
}

void event_encode(const struct event *ev, struct buf *out)
{
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(event_type_name(ev->type)));
	json_object_set_new(o, "version", json_integer(ev->version));
	ev_set_str(o, "event_id", ev->event_id);
	json_object_set_new(o, "customer_id", json_integer(ev->customer_id));
	ev_set_str(o, "occurred_at", ev->occurred_at);
	if (ev->type == EVENT_CALL_ENDED) {
		ev_encode_call(&ev->call, o);
	} else {
		const struct event_memory *m = &ev->mem;
		ev_set_str(o, "memory_id", m->memory_id);
		ev_set_str(o, "scope", m->scope);
		if (m->user_id || ev->type == EVENT_MEMORY_PUT)
			json_object_set_new(o, "user_id",
			                    m->user_id ? json_string(m->user_id) : json_null());
		ev_set_str(o, "mtype", m->mtype);
		ev_set_str(o, "key", m->key);
		if (m->value)
			json_object_set(o, "value", m->value);
		if (m->ttl_days > 0)
			json_object_set_new(o, "ttl_days", json_integer(m->ttl_days));
		ev_set_str(o, "source", m->source);
	}
	event_dump_json(o, out);
	json_decref(o);
}

/* json_dump_callback sink: appends to a struct buf. */
static int ev_dump_to_buf(const char *chunk, size_t size, void *data)
{
	buf_append(data, chunk, size);
	return 0;
}

void event_dump_json(const json_t *root, struct buf *out)
{
	/* one pass (json_dumpb would need a second one to size the output) */
	json_dump_callback(root, ev_dump_to_buf, out, JSON_COMPACT);
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
