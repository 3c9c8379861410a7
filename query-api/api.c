/*
 * api: the helpers every route shares (see api.h).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_auth.h"
#include "log.h"
#include "num.h"
#include "text.h"

bool api_auth(struct http_exchange *ex, const struct query_api *api, struct auth_claims *c)
{
	return http_auth(ex, api->auth, AUTH_SCOPE_READ, c);
}

bool api_user_id(struct http_exchange *ex, const char *user_id)
{
	size_t len = user_id ? strlen(user_id) : 0;
	bool ok = len >= 1 && len <= 128 && text_utf8_valid(user_id, len);
	for (size_t i = 0; ok && i < len; i++)
		ok = (unsigned char)user_id[i] >= 0x20 && user_id[i] != 0x7f;
	if (!ok)
		http_reply_error(ex, 400, "bad_value",
		                 "user_id: 1..128 bytes of printable UTF-8 required");
	return ok;
}

bool api_int_arg(struct http_exchange *ex, const char *name, long long def, long long min,
                 long long max, long long *out)
{
	const char *v = http_query(ex, name);
	if (v == NULL) {
		*out = def;
		return true;
	}
	if (num_parse_int(v, min, max, out) != 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s: an integer from %lld to %lld", name, min, max);
		http_reply_error(ex, 400, "bad_value", msg);
		return false;
	}
	return true;
}

void api_reply_db_error(struct http_exchange *ex, const struct qdb_stmt *st, int rc,
                        const char *err)
{
	if (rc == QDB_ERROR) {
		log_error("read failed statement=%s error=\"%s\" request_id=%s", st->name, err,
		          http_request_id(ex));
		http_reply_error(ex, 500, "internal", "the read failed");
		return;
	}
	log_warn("read unavailable statement=%s error=\"%s\" request_id=%s", st->name, err,
	         http_request_id(ex));
	http_add_header(ex, "Retry-After", "1");
	http_reply_error(ex, 503, rc == QDB_TIMEOUT ? "timeout" : "unavailable",
	                 rc == QDB_TIMEOUT ? "the read took too long; retry"
	                                   : "the database is not reachable; retry");
}

PGresult *api_query(struct http_exchange *ex, const struct query_api *api, long long tenant,
                    const struct qdb_stmt *st, const char *const *params)
{
	PGresult *res = NULL;
	char err[512];
	int rc = qdb_query(api->db, tenant, st, params, &res, err, sizeof(err));
	if (rc == QDB_OK)
		return res;
	api_reply_db_error(ex, st, rc, err);
	return NULL;
}

/* Whether an If-None-Match value names tag (a list, weak forms, or "*"). */
static bool api_etag_matches(const char *inm, const char *tag)
{
	size_t tlen = strlen(tag);
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p == '*')
			return true;
		size_t n = strcspn(p, ", \t");
		if (n == tlen && memcmp(p, tag, n) == 0)
			return true;
		p += n;
	}
	return false;
}

void api_reply_tagged(struct http_exchange *ex, const char *json, size_t len, const char *tag)
{
	http_add_header(ex, "ETag", tag);
	http_add_header(ex, "Cache-Control", "private, no-cache");
	const char *inm = http_header(ex, "If-None-Match");
	if (inm != NULL && api_etag_matches(inm, tag)) {
		http_reply(ex, 304, "application/json", "", 0);
		return;
	}
	http_reply_json(ex, 200, json, len);
}

void api_reply(struct http_exchange *ex, const char *json, size_t len, bool etag)
{
	if (etag) {
		char tag[24];
		uint64_t h = text_fnv(14695981039346656037ULL, json, len);
		snprintf(tag, sizeof(tag), "\"%016llx\"", (unsigned long long)h);
		api_reply_tagged(ex, json, len, tag);
		return;
	}
	http_reply_json(ex, 200, json, len);
}

void api_escape(const char *s, size_t len, struct buf *out)
{
	json_t *j = json_stringn(s, len);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	if (text == NULL) /* only for invalid UTF-8, which no caller passes */
		abort();
	buf_append(out, text + 1, strlen(text) - 2);
	free(text);
	json_decref(j);
}
