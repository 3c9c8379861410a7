/*
 * personality_model: parsing the model's personality answer (see the header).
 */
#include "personality_model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "text.h"

/* A number, or a string holding only a finite decimal number; NAN otherwise. */
static double model_number(const json_t *v)
{
	if (json_is_number(v))
		return json_number_value(v);
	if (!json_is_string(v))
		return NAN;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	while (*end == ' ' || *end == '%')
		end++;
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d))
		return NAN;
	return d;
}

static void model_rationale(const json_t *v, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!json_is_string(v) || outlen == 0)
		return;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (memchr(s, 0, len) != NULL) /* text columns refuse NUL */
		return;
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
	                   s[len - 1] == '\r'))
		len--;
	size_t max = outlen - 1 < PERSONALITY_MODEL_RATIONALE_MAX ? outlen - 1
	                                                          : PERSONALITY_MODEL_RATIONALE_MAX;
	len = text_utf8_cut(s, len, max);
	memcpy(out, s, len);
	out[len] = '\0';
	for (char *p = out; *p; p++) /* one line */
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

int personality_model_parse(const char *content, size_t len, double default_confidence,
                            struct personality_result *out, char *rationale, size_t rlen, char *err,
                            size_t errlen)
{
	char perr[160];
	memset(out, 0, sizeof(*out));
	if (rlen > 0)
		rationale[0] = '\0';
	json_t *root = llm_parse_json(content, len, perr, sizeof(perr));
	if (root == NULL) {
		snprintf(err, errlen, "not a JSON object: %s", perr);
		return -1;
	}
	const json_t *scores = json_object_get(root, "scores");
	if (!json_is_object(scores))
		scores = root;
	unsigned missing = 0;
	for (int s = 0; s < PERSONALITY_NSCORES; s++) {
		double v = model_number(json_object_get(scores, personality_score_names[s]));
		if (isnan(v))
			missing++;
		out->score[s] = personality_clamp_score(v); /* NAN gives 50 */
	}
	if (missing > PERSONALITY_MODEL_MAX_MISSING) {
		snprintf(err, errlen, "%u of %d scores missing or not numbers", missing,
		         PERSONALITY_NSCORES);
		json_decref(root);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	double c = model_number(json_object_get(root, "confidence"));
	if (isnan(c))
		c = model_number(json_object_get(scores, "confidence"));
	out->confidence = personality_clamp_confidence(isnan(c) ? default_confidence : c);
	model_rationale(json_object_get(root, "rationale"), rationale, rlen);
	json_decref(root);
	return 0;
}
