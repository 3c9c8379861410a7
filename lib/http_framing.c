/*
 * http_framing: header-block checks for lib/http (see http_framing.h). One pass over
 * MHD's parsed headers; it copies them as it goes, so handlers never read MHD's memory.
 */
#include "http_framing.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "num.h"

/* MHD 0.9.75 keeps a header's name and value in place in its read buffer ("Name:  value"),
 * so the value starts at most this many bytes past the name's end; see http_framing_cb. */
#define HTTP_FRAMING_MAX_OWS 64

struct http_framing_state {
	struct http_framing *f;
	struct buf *headers;
	size_t *nheaders;
};

bool http_framing_is_token(const char *s, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || (c != '\0' && strchr(tchar, c) != NULL);
		if (!ok)
			return false;
	}
	return true;
}

/* How MHD 0.9.75 built this header: a name joined from an obs-fold line is re-allocated
 * elsewhere in MHD's pool, so its value no longer follows it within a few bytes. test_http's
 * fold tests fail if an MHD upgrade changes this layout. */
static bool http_framing_was_folded(const char *key, size_t key_size, const char *value)
{
	uintptr_t name_end = (uintptr_t)key + key_size, v = (uintptr_t)value;
	return !(v > name_end && v <= name_end + 1 + HTTP_FRAMING_MAX_OWS);
}

/* MHD's iterator, once per request header, on the MHD thread. */
static enum MHD_Result http_framing_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                       size_t key_size, const char *value, size_t value_size)
{
	(void)kind;
	struct http_framing_state *st = cls;
	struct http_framing *f = st->f;
	if (value == NULL) {
		f->folded = true; /* not what MHD 0.9.75 hands out for a header line */
		value = "";
		value_size = 0;
	} else if (http_framing_was_folded(key, key_size, value)) {
		f->folded = true;
	}
	if (!http_framing_is_token(key, key_size))
		f->bad_name = true;
	if (memchr(value, '\r', value_size) != NULL || memchr(value, '\0', value_size) != NULL)
		f->bad_value = true;
	if (key_size == 14 && strncasecmp(key, "Content-Length", 14) == 0) {
		long long cl = 0;
		if (f->n_cl++ == 0 && num_parse_intn(value, value_size, 0, LLONG_MAX, &cl) == 0) {
			f->cl_valid = true;
			f->cl = (unsigned long long)cl;
		}
	} else if (key_size == 13 && strncasecmp(key, "Authorization", 13) == 0) {
		f->n_auth++;
	} else if (key_size == 17 && strncasecmp(key, "Transfer-Encoding", 17) == 0) {
		f->n_te++;
		if (value_size != 7 || strncasecmp(value, "chunked", 7) != 0)
			f->te_other = true;
	}
	buf_append(st->headers, key, key_size);
	buf_putc(st->headers, '\0');
	buf_append(st->headers, value, value_size);
	buf_putc(st->headers, '\0');
	(*st->nheaders)++;
	return MHD_YES;
}

void http_framing_read(struct MHD_Connection *conn, struct buf *headers, size_t *nheaders,
                       struct http_framing *f)
{
	memset(f, 0, sizeof(*f));
	struct http_framing_state st = { f, headers, nheaders };
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, http_framing_cb, &st);
}

const char *http_framing_verdict(const struct http_framing *f)
{
	if (f->bad_name)
		return "malformed header name";
	if (f->folded)
		return "folded header line";
	if (f->bad_value)
		return "CR or NUL in a header value";
	if (f->n_cl > 1)
		return "more than one Content-Length";
	if (f->n_te > 0 && f->n_cl > 0)
		return "Transfer-Encoding together with Content-Length";
	if (f->n_te > 1 || f->te_other)
		return "unsupported Transfer-Encoding";
	if (f->n_auth > 1)
		return "more than one Authorization header";
	return NULL;
}
