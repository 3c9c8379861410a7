/*
 * routes: request → event for every write route (see routes.h). All handlers run on MHD
 * threads; none blocks on the broker (the gateway defers the answer).
 */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "http_auth.h"
#include "http_body.h"
#include "log.h"
#include "xalloc.h"

static void ingest_now_rfc3339(char out[48])
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000) % 1000);
}

/* Authenticates with memory:write (http_auth.h); on failure replies and returns false. */
static bool ingest_auth(struct ingest *in, struct http_exchange *ex, struct auth_claims *claims)
{
	return http_auth(ex, in->auth, AUTH_SCOPE_WRITE, claims);
}

/* A body may repeat the token's tenant but never name another one (403). */
static bool ingest_same_tenant(struct http_exchange *ex, json_t *obj, long long tenant)
{
	json_t *v = json_object_get(obj, "customer_id");
	if (v == NULL || (json_is_integer(v) && json_integer_value(v) == tenant))
		return true;
	http_reply_error(ex, 403, "tenant_mismatch",
	                 "customer_id in the body differs from the token's tenant");
	return false;
}

/* Fills the event envelope: type (must match if given), version, event_id, occurred_at,
 * customer_id. Returns false after replying 400. */
static bool ingest_envelope(struct http_exchange *ex, json_t *ev, const char *type,
                            long long tenant)
{
	json_t *t = json_object_get(ev, "type");
	if (t != NULL && !(json_is_string(t) && strcmp(json_string_value(t), type) == 0)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "type: this route takes %s events", type);
		http_reply_error(ex, 400, "unknown_type", msg);
		return false;
	}
	json_object_set_new(ev, "type", json_string(type));
	if (json_object_get(ev, "version") == NULL)
		json_object_set_new(ev, "version", json_integer(1));
	if (json_object_get(ev, "event_id") == NULL) {
		char id[37];
		event_new_uuid(id);
		json_object_set_new(ev, "event_id", json_string(id));
	}
	if (json_object_get(ev, "occurred_at") == NULL) {
		char now[48];
		ingest_now_rfc3339(now);
		json_object_set_new(ev, "occurred_at", json_string(now));
	}
	json_object_set_new(ev, "customer_id", json_integer(tenant));
	return true;
}

/* Validates ev (a complete event object) and produces it; ok is the success body (owned
 * reference, dumped here). Consumes both references. */
static enum http_outcome ingest_submit(struct ingest *in, struct http_exchange *ex, json_t *ev,
                                       long long tenant, int ok_status, json_t *ok)
{
	struct event e;
	char err[256], key[24];
	snprintf(key, sizeof(key), "%lld", tenant);
	int rc = event_decode_json(ev, key, strlen(key), &in->limits, &e, err, sizeof(err));
	json_decref(ev);
	if (rc != EVENT_OK) {
		json_decref(ok);
		http_reply_error(ex, 400, event_status_code(rc), err);
		return HTTP_DONE;
	}
	if (json_is_null(json_object_get(ok, "event_id")))
		json_object_set_new(ok, "event_id", json_string(e.event_id));
	if (ok_status == 202) /* /v3: the event time (a call's: min_event_time of a context read) */
		json_object_set_new(ok, "occurred_at", json_string(e.occurred_at));
	char *body = json_dumps(ok, JSON_COMPACT);
	json_decref(ok);
	(void)redact_edge_event(in->redact, &e, true, NULL);
	enum http_outcome out = gateway_send(in->gw, ex, &e, ok_status, body);
	event_release(&e);
	return out;
}

/*
 * The fast path of POST /v3/calls: the envelope (type, version, a new event_id, customer_id
 * from the token, occurred_at) spliced in front of the client's body ('{' + envelope + ',' +
 * the body's members), then one strict scan that validates everything. No tree is built and
 * nothing is serialised again: the bytes validated are the bytes produced. Returns
 * EVENT_BAD_JSON when the splice is not valid JSON: a malformed body, an empty object, or a
 * body that carries envelope fields itself (duplicate keys), all of which the tree path
 * handles with precise answers. Any other status has been answered already.
 */
static int ingest_fast_call(struct ingest *in, struct http_exchange *ex, long long tenant,
                            enum http_outcome *out)
{
	size_t len = 0, i = 0;
	const char *body = http_body(ex, &len);
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i >= len || body[i] != '{')
		return EVENT_BAD_JSON;
	char id[37], now[48], key[24];
	event_new_uuid(id);
	ingest_now_rfc3339(now);
	snprintf(key, sizeof(key), "%lld", tenant);
	struct buf value = BUF_INIT;
	buf_reserve(&value, len + 160);
	/* every spliced value is ours: a constant, a UUID, an integer, an RFC 3339 time */
	buf_appendf(&value,
	            "{\"type\":\"call.ended\",\"version\":1,\"event_id\":\"%s\",\"customer_id\":%s,"
	            "\"occurred_at\":\"%s\",",
	            id, key, now);
	buf_append(&value, body + i + 1, len - i - 1);
	struct event e;
	char err[256];
	int rc = event_decode(value.data, value.len, key, strlen(key), &in->limits, &e, err,
	                      sizeof(err));
	buf_free(&value);
	if (rc == EVENT_BAD_JSON)
		return rc;
	if (rc != EVENT_OK) {
		http_reply_error(ex, 400, event_status_code(rc), err);
		*out = HTTP_DONE;
		return rc;
	}
	json_t *ok = json_pack("{s:s, s:s, s:s}", "event_id", e.event_id, "call_id", e.call.call_id,
	                       "occurred_at", e.occurred_at);
	char *okbody = json_dumps(ok, JSON_COMPACT);
	json_decref(ok);
	(void)redact_edge_event(in->redact, &e, true, NULL);
	*out = gateway_send(in->gw, ex, &e, 202, okbody);
	event_release(&e);
	return EVENT_OK;
}

/* Common start of every route: auth, body, tenant. Returns the body or NULL (replied). */
static json_t *ingest_begin(struct ingest *in, struct http_exchange *ex, struct auth_claims *c,
                            bool want_body)
{
	if (!ingest_auth(in, ex, c))
		return NULL;
	if (!want_body)
		return json_object();
	json_t *body = http_body_object(ex);
	if (body != NULL && !ingest_same_tenant(ex, body, c->customer_id)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/* ---- native routes (202) ------------------------------------------------------------ */

static enum http_outcome route_v3_calls(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	if (!ingest_auth(ctx, ex, &c))
		return HTTP_DONE;
	enum http_outcome out;
	if (ingest_fast_call(ctx, ex, c.customer_id, &out) != EVENT_BAD_JSON)
		return out;
	json_t *ev = http_body_object(ex);
	if (ev != NULL && !ingest_same_tenant(ex, ev, c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	if (ev == NULL || !ingest_envelope(ex, ev, "call.ended", c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	json_t *ok = json_pack("{s:n}", "event_id");
	json_t *call_id = json_object_get(ev, "call_id");
	if (call_id != NULL) /* absent: the validator names it */
		json_object_set(ok, "call_id", call_id);
	return ingest_submit(ctx, ex, ev, c.customer_id, 202, ok);
}

static void ingest_default_uuid(json_t *obj, const char *field)
{
	if (json_object_get(obj, field) == NULL) {
		char id[37];
		event_new_uuid(id);
		json_object_set_new(obj, field, json_string(id));
	}
}

static enum http_outcome route_v3_memories_put(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *ev = ingest_begin(ctx, ex, &c, true);
	if (ev == NULL || !ingest_envelope(ex, ev, "memory.put", c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	ingest_default_uuid(ev, "memory_id");
	json_t *ok =
	    json_pack("{s:n, s:O}", "event_id", "memory_id", json_object_get(ev, "memory_id"));
	return ingest_submit(ctx, ex, ev, c.customer_id, 202, ok);
}

static enum http_outcome route_v3_memories_delete(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *ev = ingest_begin(ctx, ex, &c, false);
	if (ev == NULL || !ingest_envelope(ex, ev, "memory.delete", c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	if (!event_is_uuid(http_param(ex, 0))) {
		json_decref(ev);
		http_reply_error(ex, 400, "bad_value",
		                 "memory_id: must be a UUID (8-4-4-4-12 hex)");
		return HTTP_DONE;
	}
	json_object_set_new(ev, "memory_id", json_string(http_param(ex, 0)));
	json_t *ok = json_pack("{s:n, s:s}", "event_id", "memory_id", http_param(ex, 0));
	return ingest_submit(ctx, ex, ev, c.customer_id, 202, ok);
}

/* ---- ChatStack-compatible routes (200, the previous service's shapes) ---------------- */

/* ChatStack's conversation roles → ours; NULL when unknown. */
static const char *compat_role(const char *role)
{
	static const struct {
		const char *from, *to;
	} map[] = {
		{ "user", "user" },       { "human", "user" },          { "caller", "user" },
		{ "customer", "user" },   { "assistant", "assistant" }, { "ai", "assistant" },
		{ "agent", "assistant" }, { "bot", "assistant" },       { "system", "system" },
		{ "tool", "tool" },       { "function", "tool" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(role, map[i].from) == 0)
			return map[i].to;
	return NULL;
}

/* conversation_history [[role, content], ...] (or [{"role","content"}]) → turns. */
static json_t *compat_turns(struct http_exchange *ex, json_t *history)
{
	if (!json_is_array(history) || json_array_size(history) == 0) {
		http_reply_error(
		    ex, 400, "bad_value",
		    "conversation_history: must be a non-empty array of [role, content]");
		return NULL;
	}
	json_t *turns = json_array();
	size_t i;
	json_t *item;
	json_array_foreach(history, i, item)
	{
		json_t *role =
		    json_is_array(item) ? json_array_get(item, 0) : json_object_get(item, "role");
		json_t *text = json_is_array(item) ? json_array_get(item, 1)
		                                   : json_object_get(item, "content");
		const char *mapped =
		    json_is_string(role) ? compat_role(json_string_value(role)) : NULL;
		if (mapped == NULL || !json_is_string(text)) {
			char msg[128];
			snprintf(
			    msg, sizeof(msg),
			    "conversation_history[%zu]: must be [role, content] with a known role",
			    i);
			http_reply_error(ex, 400, "bad_value", msg);
			json_decref(turns);
			return NULL;
		}
		json_array_append_new(turns, json_pack("{s:s, s:O}", "role", mapped, "text", text));
	}
	return turns;
}

static enum http_outcome route_v2_process_call(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *body = ingest_begin(ctx, ex, &c, true);
	if (body == NULL)
		return HTTP_DONE;
	json_t *turns = compat_turns(ex, json_object_get(body, "conversation_history"));
	if (turns == NULL) {
		json_decref(body);
		return HTTP_DONE;
	}
	json_t *ev = json_object();
	json_t *thread = json_object_get(body, "thread_id");
	char generated[48];
	if (json_is_string(thread) && json_string_length(thread) > 0) {
		json_object_set(ev, "call_id", thread); /* ChatStack's thread_id is the CallSid */
		json_object_set(ev, "thread_id", thread);
	} else {
		char id[37];
		event_new_uuid(id);
		snprintf(generated, sizeof(generated), "call-%s", id);
		json_object_set_new(ev, "call_id", json_string(generated));
	}
	json_t *user = json_object_get(body, "user_id");
	if (user != NULL)
		json_object_set(ev, "user_id", user);
	json_object_set_new(ev, "turns", turns);
	char now[48];
	ingest_now_rfc3339(now);
	json_object_set_new(ev, "ended_at", json_string(now));
	json_decref(body);
	if (!ingest_envelope(ex, ev, "call.ended", c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	/* ChatStack checks success and slices summary[:50]: both must be strings */
	json_t *ok = json_pack("{s:b, s:O, s:n, s:b, s:s, s:s}", "success", 1, "call_id",
	                       json_object_get(ev, "call_id"), "event_id", "queued", 1, "summary",
	                       "queued for summarization", "sentiment", "pending");
	return ingest_submit(ctx, ex, ev, c.customer_id, 200, ok);
}

/* POST /v1/memories[/user|/shared] and /memory/store share this: a memory.put event. */
static enum http_outcome compat_put(struct http_exchange *ex, struct ingest *in,
                                    struct auth_claims *c, json_t *body, const char *user_id,
                                    bool shared)
{
	json_t *ev = json_object();
	char id[37];
	event_new_uuid(id);
	json_object_set_new(ev, "memory_id", json_string(id));
	if (shared || user_id == NULL) {
		json_object_set_new(ev, "scope", json_string("shared"));
		json_object_set_new(ev, "user_id", json_null());
	} else {
		json_object_set_new(ev, "scope", json_string("user"));
		json_object_set_new(ev, "user_id", json_string(user_id));
	}
	json_t *type = json_object_get(body, "type");
	if (type != NULL)
		json_object_set(ev, "mtype", type);
	else
		json_object_set_new(ev, "mtype", json_string("fact"));
	json_t *key = json_object_get(body, "key");
	if (key != NULL)
		json_object_set(ev, "key", key);
	else
		json_object_set_new(ev, "key", json_string(id)); /* no key: a slot of its own */
	json_t *value = json_object_get(body, "value");
	if (value != NULL)
		json_object_set(ev, "value", value);
	json_t *ttl = json_object_get(body, "ttl_days");
	if (ttl != NULL)
		json_object_set(ev, "ttl_days", ttl);
	json_t *source = json_object_get(body, "source");
	if (source != NULL)
		json_object_set(ev, "source", source);
	if (!ingest_envelope(ex, ev, "memory.put", c->customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	json_t *ok = json_pack("{s:b, s:s, s:s, s:n, s:O, s:O, s:s, s:b}", "success", 1,
	                       "memory_id", id, "id", id, "event_id", "key",
	                       json_object_get(ev, "key"), "type", json_object_get(ev, "mtype"),
	                       "scope", shared || user_id == NULL ? "shared" : "user", "queued", 1);
	if (ok == NULL) /* key or type not JSON strings: the validator will say which */
		ok = json_pack("{s:b, s:s, s:s, s:n}", "success", 1, "memory_id", id, "id", id,
		               "event_id");
	return ingest_submit(in, ex, ev, c->customer_id, 200, ok);
}

/* user_id from the query (preferred) or the body; NULL when neither names one. */
static const char *compat_user_id(struct http_exchange *ex, json_t *body)
{
	const char *q = http_query(ex, "user_id");
	if (q != NULL && *q != '\0')
		return q;
	json_t *u = json_object_get(body, "user_id");
	return json_is_string(u) && json_string_length(u) > 0 ? json_string_value(u) : NULL;
}

static enum http_outcome route_v1_memories(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *body = ingest_begin(ctx, ex, &c, true);
	if (body == NULL)
		return HTTP_DONE;
	const char *scope = json_string_value(json_object_get(body, "scope"));
	bool shared = scope != NULL && strcmp(scope, "shared") == 0;
	enum http_outcome out = compat_put(ex, ctx, &c, body, compat_user_id(ex, body), shared);
	json_decref(body);
	return out;
}

static enum http_outcome route_v1_memories_user(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *body = ingest_begin(ctx, ex, &c, true);
	if (body == NULL)
		return HTTP_DONE;
	const char *user_id = compat_user_id(ex, body);
	enum http_outcome out;
	if (user_id == NULL) {
		http_reply_error(ex, 400, "missing_field", "user_id: required (query or body)");
		out = HTTP_DONE;
	} else {
		out = compat_put(ex, ctx, &c, body, user_id, false);
	}
	json_decref(body);
	return out;
}

static enum http_outcome route_v1_memories_shared(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *body = ingest_begin(ctx, ex, &c, true);
	if (body == NULL)
		return HTTP_DONE;
	enum http_outcome out = compat_put(ex, ctx, &c, body, NULL, true);
	json_decref(body);
	return out;
}

static enum http_outcome route_memory_store(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *body = ingest_begin(ctx, ex, &c, true);
	if (body == NULL)
		return HTTP_DONE;
	json_t *content = json_object_get(body, "content");
	if (content == NULL)
		content = json_object_get(body, "message"); /* the legacy name */
	if (!json_is_string(content)) {
		json_decref(body);
		http_reply_error(ex, 400, "missing_field", "content (or message): required string");
		return HTTP_DONE;
	}
	json_t *meta = json_object_get(body, "metadata");
	json_t *role = json_object_get(body, "role");
	json_t *req = json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "message", "value", "role",
	                        role ? role : json_null(), "content", content, "metadata",
	                        meta ? meta : json_null());
	enum http_outcome out = compat_put(ex, ctx, &c, req, compat_user_id(ex, body), false);
	json_decref(req);
	json_decref(body);
	return out;
}

static enum http_outcome route_v1_memories_delete(struct http_exchange *ex, void *ctx)
{
	struct auth_claims c;
	json_t *ev = ingest_begin(ctx, ex, &c, false);
	if (ev == NULL)
		return HTTP_DONE;
	const char *id = http_param(ex, 0);
	if (!event_is_uuid(id)) {
		json_decref(ev);
		http_reply_error(ex, 400, "bad_value",
		                 "memory id: must be a UUID (8-4-4-4-12 hex)");
		return HTTP_DONE;
	}
	json_object_set_new(ev, "memory_id", json_string(id));
	if (!ingest_envelope(ex, ev, "memory.delete", c.customer_id)) {
		json_decref(ev);
		return HTTP_DONE;
	}
	json_t *ok = json_pack("{s:b, s:s, s:n, s:b}", "success", 1, "memory_id", id, "event_id",
	                       "queued", 1);
	return ingest_submit(ctx, ex, ev, c.customer_id, 200, ok);
}

const struct http_route ingest_routes[] = {
	{ "POST", "/v3/calls", "v3_calls", route_v3_calls },
	{ "POST", "/v3/memories", "v3_memories_put", route_v3_memories_put },
	{ "DELETE", "/v3/memories/{}", "v3_memories_delete", route_v3_memories_delete },
	{ "POST", "/v2/process-call", "v2_process_call", route_v2_process_call },
	{ "POST", "/v1/memories", "v1_memories_put", route_v1_memories },
	{ "POST", "/v1/memories/user", "v1_memories_user", route_v1_memories_user },
	{ "POST", "/v1/memories/shared", "v1_memories_shared", route_v1_memories_shared },
	{ "DELETE", "/v1/memories/{}", "v1_memories_delete", route_v1_memories_delete },
	{ "POST", "/memory/store", "memory_store", route_memory_store },
};
const size_t ingest_nroutes = sizeof(ingest_routes) / sizeof(ingest_routes[0]);

bool ingest_ready(void *ctx, char *why, size_t whylen)
{
	struct ingest *in = ctx;
	return gateway_ready(in->gw, why, whylen);
}
