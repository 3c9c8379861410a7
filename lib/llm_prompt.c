/*
 * llm_prompt: prompt files and the unavailability policy names of lib/llm (declared in
 * llm.h, the module's public API; they have no header of their own).
 *
 * A prompt file is plain UTF-8 text whose name carries its version ("summarize.v1.txt"),
 * so a worker can record which prompt produced a row. No templating: the workers put the
 * transcript in the user message, never into the prompt text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "jscan.h"
#include "llm.h"
#include "llm_json.h"

#define LLM_PROMPT_MAX (256 * 1024)

int llm_prompt_version(const char *path, char *out, size_t outlen)
{
	if (path == NULL)
		return -1;
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	/* dot-separated components after the first: "summarize" "v1" "txt" */
	for (const char *p = strchr(base, '.'); p != NULL; p = strchr(p + 1, '.')) {
		const char *s = p + 1;
		size_t n = strcspn(s, ".");
		if (n >= 2 && s[0] == 'v' && strspn(s + 1, "0123456789") == n - 1) {
			if (n >= outlen)
				return -1;
			memcpy(out, s, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -1;
}

static bool llm_prompt_utf8(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = jscan_utf8_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *llm_load_prompt(const char *path, char *err, size_t errlen)
{
	char version[16];
	if (path == NULL || llm_prompt_version(path, version, sizeof(version)) != 0) {
		snprintf(err, errlen, "%s: the file name carries no version (name.vN.txt)",
		         path ? path : "(null)");
		return NULL;
	}
	size_t len = 0;
	char *text = file_read(path, LLM_PROMPT_MAX, &len, err, errlen);
	if (text == NULL)
		return NULL;
	const char *why = NULL;
	if (strlen(text) != len)
		why = "holds a NUL byte";
	else if (!llm_prompt_utf8(text, len))
		why = "is not valid UTF-8";
	else if (strspn(text, " \t\r\n") == len)
		why = "is empty";
	if (why != NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(text);
		return NULL;
	}
	return text;
}

static const char *const llm_policy_names[] = { "fallback", "wait", "dead-letter" };

int llm_policy_parse(const char *s, enum llm_policy *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(llm_policy_names) / sizeof(llm_policy_names[0]);
	     i++) {
		if (strcmp(s, llm_policy_names[i]) == 0) {
			*out = (enum llm_policy)i;
			return 0;
		}
	}
	return -1;
}

const char *llm_policy_name(enum llm_policy p)
{
	return (unsigned)p < sizeof(llm_policy_names) / sizeof(llm_policy_names[0])
	           ? llm_policy_names[p]
	           : "unknown";
}
