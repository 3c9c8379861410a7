/*
 * llm_settings: the llm.* settings turned into a client, prompt and processor name (see llm_settings.h).
 */
#include "llm_settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int llm_settings_temperature(const char *text, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(*out) || *out < 0 || *out > 2)
		return -1;
	return 0;
}

int llm_model_open(const struct llm_settings *s, bool use_model, struct metrics *m,
                   struct llm_model *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->max_prompt_bytes = (size_t)s->max_prompt;
	if (llm_policy_parse(s->policy, &out->policy) != 0) {
		snprintf(err, errlen, "llm.policy: unknown policy");
		return -1;
	}
	if (!use_model)
		return 0;
	if (s->transfer.base_url == NULL || s->transfer.model == NULL) {
		snprintf(err, errlen, "processor llm needs llm.base_url and llm.model");
		return -1;
	}
	double temperature;
	if (llm_settings_temperature(s->temperature, &temperature) != 0) {
		snprintf(err, errlen, "llm.temperature: a number from 0 to 2");
		return -1;
	}
	char version[32];
	if (llm_prompt_version(s->prompt, version, sizeof(version)) != 0) {
		snprintf(err, errlen, "llm.prompt: the file name needs a version (name.v1.txt)");
		return -1;
	}
	out->prompt = llm_load_prompt(s->prompt, err, errlen);
	if (out->prompt == NULL)
		return -1;
	snprintf(out->processor, sizeof(out->processor), "llm:%s/%s", s->transfer.model, version);
	struct llm_config lc = llm_transfer_config(&s->transfer);
	lc.temperature = temperature;
	lc.json_mode = s->json_mode;
	out->client = llm_new(&lc, m, err, errlen);
	if (out->client == NULL) {
		llm_model_close(out);
		return -1;
	}
	return 0;
}

void llm_model_close(struct llm_model *l)
{
	llm_free(&l->client);
	free(l->prompt);
	l->prompt = NULL;
}

int llm_model_check(const struct llm_settings *s, bool use_model, char *err, size_t errlen)
{
	struct llm_model l;
	if (llm_model_open(s, use_model, NULL, &l, err, errlen) != 0)
		return -1;
	llm_model_close(&l);
	return 0;
}
