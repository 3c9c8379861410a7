/*
 * llm_json: request body, response envelope, error hints, Retry-After and the model
 * answer's JSON (see llm_json.h and llm.h).
 *
 * Error texts are built from jansson's error codes, never from its error text: that text
 * quotes the input ("near '...'", "invalid Unicode escape '...'"), and the input here is a
 * model's answer about a caller's transcript.
 */
#include "llm_json.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jscan.h"
#include "llm.h"
#include "num.h"

#define LLM_ANSWER_MAX ((size_t)64 << 20) /* far above any max_response_bytes in use */
#define LLM_RETRY_AFTER_MAX_S 100000000LL /* ~3 years; callers cap it much lower anyway */

/* ---- the request ---- */

static bool llm_json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A JSON string literal; runs of plain ASCII are copied at once (prompts are long). */
static void llm_json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		size_t run = i;
		while (run < n && llm_json_plain(p[run]))
			run++;
		if (run > i) {
			buf_append(b, p + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = p[i];
		size_t u;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n') {
			buf_append_str(b, "\\n");
		} else if (c == '\r') {
			buf_append_str(b, "\\r");
		} else if (c == '\t') {
			buf_append_str(b, "\\t");
		} else if (c < 0x20) {
			buf_appendf(b, "\\u%04x", c);
		} else if ((u = jscan_utf8_len(p + i, n - i)) > 0) {
			buf_append(b, p + i, u);
			i += u;
			continue;
		} else {
			buf_append_str(b, "\\ufffd");
		}
		i++;
	}
	buf_putc(b, '"');
}

void llm_json_request(struct buf *b, const char *model, double temperature, bool json_mode,
                      const char *system, const char *user)
{
	buf_append_str(b, "{\"model\":");
	llm_json_str(b, model);
	buf_append_str(b, ",\"messages\":[");
	if (system != NULL && system[0] != '\0') {
		buf_append_str(b, "{\"role\":\"system\",\"content\":");
		llm_json_str(b, system);
		buf_append_str(b, "},");
	}
	buf_append_str(b, "{\"role\":\"user\",\"content\":");
	llm_json_str(b, user);
	/* thousandths, printed by hand: "%g" would follow LC_NUMERIC ("0,2" is not JSON) */
	long long milli = llround(temperature * 1000.0);
	buf_appendf(b, "}],\"temperature\":%lld.%03lld", milli / 1000, milli % 1000);
	if (json_mode)
		buf_append_str(b, ",\"response_format\":{\"type\":\"json_object\"}");
	buf_putc(b, '}');
}

/* ---- answers ---- */

static const char *llm_json_reason(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "cut short";
	case json_error_end_of_input_expected:
		return "text after the JSON value";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "syntax error";
	}
}

static void llm_json_err(char *err, size_t errlen, const char *what, const json_error_t *jerr)
{
	snprintf(err, errlen, "%s (%s at line %d column %d)", what, llm_json_reason(jerr),
	         jerr->line, jerr->column);
}

static bool llm_json_token(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == n;
}

static const char *llm_json_hint_of(json_t *root)
{
	json_t *e = json_object_get(root, "error");
	const char *cands[] = { json_string_value(json_object_get(e, "code")),
		                json_string_value(json_object_get(e, "type")), json_string_value(e),
		                json_string_value(json_object_get(root, "type")) };
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (cands[i] != NULL && llm_json_token(cands[i]))
			return cands[i];
	return "";
}

void llm_json_error_hint(const char *body, size_t len, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	out[0] = '\0';
	json_t *root = json_loadb(body, len, 0, NULL);
	if (json_is_object(root))
		snprintf(out, outlen, "%s", llm_json_hint_of(root));
	json_decref(root);
}

int llm_json_envelope(const char *body, size_t len, json_t **root, const char **content,
                      size_t *clen, char *err, size_t errlen)
{
	*root = NULL;
	*content = NULL;
	*clen = 0;
	json_error_t jerr;
	json_t *r = json_loadb(body, len, 0, &jerr);
	if (r == NULL) {
		llm_json_err(err, errlen, "the answer's envelope is not JSON", &jerr);
		return -1;
	}
	json_t *choices = json_object_get(r, "choices");
	json_t *msg = json_object_get(json_array_get(choices, 0), "message");
	json_t *text = json_object_get(msg, "content");
	if (!json_is_object(r))
		snprintf(err, errlen, "the answer's envelope is not an object");
	else if (choices == NULL && json_object_get(r, "error") != NULL)
		snprintf(err, errlen, "an error object in a 2xx answer (%s)", llm_json_hint_of(r));
	else if (!json_is_array(choices) || json_array_size(choices) == 0)
		snprintf(err, errlen, "no choices in the answer");
	else if (!json_is_object(msg))
		snprintf(err, errlen, "no message in choices[0]");
	else if (json_is_string(text))
		goto ok;
	else if (json_is_string(json_object_get(msg, "refusal")))
		snprintf(err, errlen, "the model refused (message.refusal)");
	else
		snprintf(err, errlen, "message.content is missing or not a string");
	json_decref(r);
	return -1;
ok:
	*root = r;
	*content = json_string_value(text);
	*clen = json_string_length(text);
	return 0;
}

/* ---- the model's answer ---- */

static bool llm_json_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void llm_json_trim(const char **p, size_t *n)
{
	const char *s = *p;
	size_t len = *n;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	while (len > 0 && llm_json_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && llm_json_blank(s[len - 1]))
		len--;
	*p = s;
	*n = len;
}

/* 1: an object (*out set); 0: JSON but not an object (err set); -1: not JSON (*jerr). */
static int llm_json_load(const char *p, size_t n, json_t **out, json_error_t *jerr, char *err,
                         size_t errlen)
{
	json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, jerr);
	if (v == NULL)
		return -1;
	if (json_is_object(v)) {
		*out = v;
		return 1;
	}
	snprintf(err, errlen, "the answer is a JSON %s, not an object",
	         json_is_array(v) ? "array" : "scalar");
	json_decref(v);
	return 0;
}

static bool llm_json_tag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '+' || c == '-';
}

/* The inside of the first ``` fence: after the opening ``` and its language tag up to the
 * closing ``` (or the end, for an answer cut short). False if there is no fence. */
static bool llm_json_fence(const char *p, size_t n, const char **in, size_t *inlen)
{
	const char *f = memmem(p, n, "```", 3);
	if (f == NULL)
		return false;
	const char *s = f + 3, *end = p + n;
	while (s < end && llm_json_tag_char(*s))
		s++;
	const char *close = memmem(s, (size_t)(end - s), "```", 3);
	*in = s;
	*inlen = (size_t)((close ? close : end) - s);
	llm_json_trim(in, inlen);
	return true;
}

/* The offset of the '}' matching the '{' at p[0], or -1. Braces in strings do not count. */
static long llm_json_match(const char *p, size_t n)
{
	size_t depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{') {
			depth++;
		} else if (c == '}' && --depth == 0) {
			return (long)i;
		}
	}
	return -1;
}

/* Copies p[0, n) without the commas that directly precede '}' or ']' (outside strings). */
static void llm_json_strip_commas(const char *p, size_t n, struct buf *out)
{
	bool in_str = false;
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\' && i + 1 < n)
				buf_putc(out, p[i++]);
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == ',') {
			size_t j = i + 1;
			while (j < n && llm_json_blank(p[j]))
				j++;
			if (j < n && (p[j] == '}' || p[j] == ']'))
				continue;
		}
		buf_putc(out, p[i]);
	}
}

/* The one repair attempt: the first '{' with its matching '}', trailing commas dropped. */
static json_t *llm_json_repair(const char *p, size_t n, char *err, size_t errlen)
{
	const char *open = memchr(p, '{', n);
	if (open == NULL) {
		snprintf(err, errlen, "no JSON object in the answer");
		return NULL;
	}
	const char *before = open;
	while (before > p && llm_json_blank(before[-1]))
		before--;
	if (before > p && before[-1] == '[') {
		snprintf(err, errlen, "the answer is a JSON array, not an object");
		return NULL;
	}
	size_t rest = n - (size_t)(open - p);
	long close = llm_json_match(open, rest);
	if (close < 0) {
		snprintf(err, errlen, "unterminated JSON object in the answer");
		return NULL;
	}
	if (memchr(open + close + 1, '{', rest - (size_t)close - 1) != NULL) {
		snprintf(err, errlen, "more than one JSON object in the answer");
		return NULL;
	}
	struct buf b = BUF_INIT;
	llm_json_strip_commas(open, (size_t)close + 1, &b);
	json_error_t jerr;
	json_t *obj = NULL;
	if (llm_json_load(b.data, b.len, &obj, &jerr, err, errlen) < 0)
		llm_json_err(err, errlen, "invalid JSON in the answer", &jerr);
	buf_free(&b);
	return obj;
}

json_t *llm_parse_json(const char *content, size_t len, char *err, size_t errlen)
{
	const char *p = content != NULL ? content : "";
	size_t n = content != NULL ? len : 0;
	llm_json_trim(&p, &n);
	if (n == 0) {
		snprintf(err, errlen, "empty answer");
		return NULL;
	}
	if (n > LLM_ANSWER_MAX) {
		snprintf(err, errlen, "answer too large (%zu bytes)", n);
		return NULL;
	}
	json_t *obj = NULL;
	json_error_t jerr;
	int r = llm_json_load(p, n, &obj, &jerr, err, errlen);
	if (r >= 0)
		return obj;
	const char *in;
	size_t inlen;
	if (llm_json_fence(p, n, &in, &inlen)) {
		if (inlen == 0) {
			snprintf(err, errlen, "empty code fence in the answer");
			return NULL;
		}
		if (llm_json_load(in, inlen, &obj, &jerr, err, errlen) >= 0)
			return obj;
		p = in;
		n = inlen;
	}
	return llm_json_repair(p, n, err, errlen);
}

/* ---- Retry-After ---- */

long long llm_retry_after_ms(const char *value, size_t len, time_t now)
{
	const char *p = value != NULL ? value : "";
	size_t n = value != NULL ? len : 0;
	llm_json_trim(&p, &n);
	if (n == 0)
		return -1;
	size_t digits = 0;
	while (digits < n && p[digits] >= '0' && p[digits] <= '9')
		digits++;
	if (digits == n) {
		long long s = 0;
		int rc = num_parse_intn(p, n, 0, LLM_RETRY_AFTER_MAX_S, &s);
		if (rc == NUM_ERANGE)
			s = LLM_RETRY_AFTER_MAX_S;
		else if (rc != 0)
			return -1;
		return s * 1000;
	}
	char date[64];
	if (n >= sizeof(date))
		return -1;
	memcpy(date, p, n);
	date[n] = '\0';
	time_t t = curl_getdate(date, NULL);
	if (t == (time_t)-1)
		return -1;
	long long d = (long long)t - (long long)now;
	if (d <= 0)
		return 0;
	return (d > LLM_RETRY_AFTER_MAX_S ? LLM_RETRY_AFTER_MAX_S : d) * 1000;
}
