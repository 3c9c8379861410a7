/*
 * event: the Kafka event contracts of DESIGN §3 in C: decode (ptr, len) JSON into structs,
 * validate every rule, and encode back to JSON.
 *
 * One decoder for every path that accepts events (the ingest gateway, `aimem publish`, the
 * workers), so a message the gateway accepted is one the workers accept. Each failure has a
 * stable machine code (for dead letters, metrics, HTTP errors) and a precise message naming
 * the field ("turns[3].role: must be one of user|assistant|system|tool"). Messages never
 * quote field values: they could be transcript text.
 *
 * Decoding runs on lib/jscan (one strict pass, no tree): the event keeps its own copy of the
 * JSON text (raw) and every string and value points into that copy or the scanner's arena,
 * so a decoded event is self-contained and its raw text is exactly what was validated.
 *
 * Not here: where events come from (HTTP, files, Kafka), the tenant policy (the caller
 * passes the message key or the token's tenant to compare), and anything about processing.
 */
#ifndef AIMEM_EVENT_H
#define AIMEM_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "jscan.h"

enum event_type {
	EVENT_CALL_ENDED = 1,
	EVENT_MEMORY_PUT = 2,
	EVENT_MEMORY_DELETE = 3,
};

enum event_status {
	EVENT_OK = 0,
	EVENT_BAD_JSON = -1,      /* not JSON, invalid UTF-8, NUL, duplicate keys, too deep */
	EVENT_NOT_OBJECT = -2,    /* top level is not an object */
	EVENT_MISSING_FIELD = -3, /* a required field is absent */
	EVENT_WRONG_TYPE = -4,    /* a field has the wrong JSON type (1.0 for an integer too) */
	EVENT_BAD_VALUE = -5,     /* pattern, enum, format or range violated */
	EVENT_TOO_LONG = -6,      /* a string or array over its maximum */
	EVENT_TOO_SHORT = -7,     /* an empty string or array where one item is required */
	EVENT_TOO_LARGE = -8,     /* the whole event over the size cap */
	EVENT_KEY_MISMATCH = -9,  /* message key (or token tenant) != customer_id */
	EVENT_UNKNOWN_TYPE = -10, /* type is not one we know */
	EVENT_BAD_VERSION = -11,  /* version is an integer we do not speak */
};

struct event_limits {
	size_t max_event_bytes; /* default 1 MiB */
	size_t max_turns;       /* default 5000 */
	size_t max_text_bytes;  /* default 32 KiB */
};

/* The defaults of DESIGN §3. */
extern const struct event_limits event_default_limits;

enum event_role { EVENT_ROLE_USER, EVENT_ROLE_ASSISTANT, EVENT_ROLE_SYSTEM, EVENT_ROLE_TOOL };

/* A JSON value as text inside the event's raw copy (valid JSON); ptr NULL when absent. */
struct event_json {
	const char *ptr;
	size_t len;
};

struct event_turn {
	enum event_role role;
	const char *text; /* borrowed from the event's JSON; valid UTF-8, no NUL */
	size_t text_len;
	const char *at; /* RFC 3339 or NULL */
};

struct event_call {
	const char *call_id;
	const char *user_id;
	const char *thread_id;    /* NULL when absent or null */
	const char *started_at;   /* NULL when absent */
	const char *ended_at;     /* NULL when absent: use the message timestamp */
	struct event_turn *turns; /* owned by the event */
	size_t nturns;
	struct event_json agent;    /* an object, or absent */
	struct event_json metadata; /* an object, or absent */
};

struct event_memory {
	const char *memory_id;
	const char *user_id;     /* NULL for shared rows (and when absent on delete) */
	const char *scope;       /* "user" | "shared"; NULL when absent on delete */
	const char *mtype;       /* NULL on delete */
	const char *key;         /* NULL on delete */
	struct event_json value; /* any JSON value (null too); absent on delete */
	long long ttl_days;      /* 0 when absent or null */
	const char *source;      /* NULL when absent or null */
};

struct event {
	enum event_type type;
	long long version;
	const char *event_id;
	long long customer_id;
	const char *occurred_at;
	struct event_call call;  /* EVENT_CALL_ENDED */
	struct event_memory mem; /* EVENT_MEMORY_PUT / EVENT_MEMORY_DELETE */
	char *raw;               /* owned copy of the event's JSON text, NUL-terminated */
	size_t raw_len;
	/* owned: turn texts and metadata rewritten after decoding (lib/redact_event), or NULL */
	char *rewritten;
	struct jscan_doc doc; /* owned: the strings above live in its arena */
};

/*
 * Decodes and validates one event. key/key_len: the Kafka message key (or the token's tenant
 * as decimal text) that customer_id must equal; NULL skips the check. lim may be NULL for the
 * defaults. On EVENT_OK *ev is filled and must be released with event_release(); on failure
 * *ev is empty and err holds "field: reason". Thread-safe; allocates.
 */
int event_decode(const char *buf, size_t len, const char *key, size_t key_len,
                 const struct event_limits *lim, struct event *ev, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same on a jansson object (serialised, then decoded: a convenience for code that builds
 * events as trees, not a fast path). root is borrowed. */
int event_decode_json(json_t *root, const char *key, size_t key_len, const struct event_limits *lim,
                      struct event *ev, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void event_release(struct event *ev);

/* Appends the event's canonical compact JSON (the fields of the structs, then the JSON
 * objects agent/metadata/value as given). Decoding the output yields an equal event. */
void event_encode(const struct event *ev, struct buf *out);

const char *event_status_code(int status);      /* "bad_json", "missing_field", ... */
const char *event_type_name(enum event_type t); /* "call.ended", ... */
const char *event_role_name(enum event_role r);

/* RFC 3339 date-time ("2026-11-20T15:04:05Z", fractions, ±HH:MM) to Unix milliseconds.
 * Returns 0 or -1 (bad syntax or impossible date). out may be NULL to only validate. */
int event_parse_time(const char *s, long long *out_ms) __attribute__((warn_unused_result));
/* A UUID in 8-4-4-4-12 hex form. */
bool event_is_uuid(const char *s);
/* Writes a random version-4 UUID (37 bytes with the NUL) from /dev/urandom (getrandom). */
void event_new_uuid(char out[37]);

#endif
