/*
 * llm_xfer: the transfer engine of lib/llm, and the struct bodies that llm.c and llm_xfer.c
 * share. Not for workers: they use llm.h.
 *
 * llm.c owns configuration, the client's life and llm_submit; llm_xfer.c owns the request
 * queues, the curl multi loop (llm_poll), the curl callbacks, retries and their timers, and
 * running the completion callbacks. Everything here runs on the client's one thread.
 *
 * A request is in exactly one place: the ready queue (new, or a retry whose time has
 * come), an in-flight slot (its easy handle added to the multi handle), or the waiting
 * list (a retry timer). Slots own their easy handles for the client's life, so the
 * handles' options are set once and the multi handle's connection cache keeps connections
 * alive between requests.
 */
#ifndef AIMEM_LLM_XFER_H
#define AIMEM_LLM_XFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "backoff.h"
#include "buf.h"
#include "llm.h"
#include "metrics.h"

#define LLM_CLIENT_MAGIC 0x6c6c6d43u /* "llmC" */
#define LLM_REQ_MAGIC 0x6c6c6d52u    /* "llmR" */
#define LLM_NSTATUS 5                /* LLM_OK .. LLM_ERR_CANCELLED, as -status */

struct llm_req {
	unsigned magic;
	struct llm_client *c;
	struct llm_req *next; /* ready queue or waiting list */
	char *body;           /* the request body (owned) */
	size_t body_len;
	llm_done_fn done;
	void *opaque; /* the caller's, borrowed */
	unsigned attempts;
	unsigned slot;
	long long due_ms;      /* waiting: when the retry may start */
	long long started_ms;  /* this attempt's start */
	long long retry_after; /* this attempt's Retry-After in ms, -1 if none */
	bool too_large;        /* this attempt's body passed max_response_bytes */
	bool raw;              /* llm_submit_raw: hand the 2xx body on unparsed */
	struct backoff bo;
	struct buf resp; /* this attempt's body, at most max_response_bytes */
};

struct llm_client {
	unsigned magic;
	struct llm_config cfg; /* strings below are our copies; api_key is not kept */
	char *url;
	char *model;
	CURLM *multi;
	struct curl_slist *headers; /* carries the key: never logged */
	CURL **easy;                /* [max_in_flight], created on first use */
	struct llm_req **slot;      /* [max_in_flight], NULL when free */
	unsigned *free_slots;       /* stack of free slot numbers */
	unsigned nfree;
	struct llm_req *ready, *ready_tail;
	struct llm_req *waiting;
	size_t nready, nwaiting, ninflight;
	bool closing;
	bool busy; /* inside llm_poll or a callback: llm_poll/llm_free must not nest */
	struct llm_stats st;
	struct metrics *own_m;
	struct metrics_counter *requests[LLM_NSTATUS];
	struct metrics_counter *retries;
	struct metrics_histogram *seconds;
	struct metrics_gauge *in_flight;
};

/* Appends req (owned by the client from now on) to the ready queue. */
void llm_xfer_enqueue(struct llm_client *c, struct llm_req *req);
/* Takes every request off its slot, queue or timer and runs its callback with
 * LLM_ERR_CANCELLED (c->closing must be set, so callbacks cannot submit more). */
void llm_xfer_cancel_all(struct llm_client *c);

#endif
