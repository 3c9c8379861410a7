/*
 * summary_llm: the summarizer's llm.* settings rows (lib/llm_settings with the summary prompt
 * and the summary's fallback), shared by aimem-summarizer and `aimem summarize` so both read
 * the same keys with the same defaults and checks.
 *
 * A program embeds struct llm_settings in its settings struct, lists
 * SUMMARY_LLM_CFG_ITEMS(offsetof(struct its_settings, llm)) in its cfg table and opens the
 * model with llm_model_open.
 *
 * Not here: when to ask the model (the worker's batches, the CLI's lines), the policy's effect.
 */
#ifndef AIMEM_SUMMARY_LLM_H
#define AIMEM_SUMMARY_LLM_H

#include "llm_settings.h"

#define SUMMARY_LLM_PROMPT_DEFAULT "workers/summarizer/prompts/summarize.v2.txt"

/* The llm.* rows of a cfg table; base: the offset of the embedded struct llm_settings. */
#define SUMMARY_LLM_CFG_ITEMS(base)                                                                \
	LLM_CFG_ITEMS(base, SUMMARY_LLM_PROMPT_DEFAULT, "built-in summary")

#endif
