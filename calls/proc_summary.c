/*
 * proc_summary: request and outcome sentence picking and the summary text (see
 * proc_summary.h for the scores).
 */
#include "proc_summary.h"

#include <string.h>

#include "buf.h"
#include "proc.h"
#include "text.h"

#define SUMM_MIN_WORDS 3
#define SUMM_OUT_MIN_WORDS 4
#define SUMM_REQ_WINDOW 12 /* caller sentences considered by the fallback */
#define SUMM_QUOTE_MAX 170 /* bytes per quoted sentence */
#define SUMM_LEAD_CLAUSE 7 /* words in a droppable leading clause */
#define SUMM_TAIL_MIN 6
#define SUMM_TURN_DECAY 1.5f /* per earlier caller turn */
#define SUMM_SENT_DECAY 0.2f /* per earlier sentence of the same caller turn */
#define SUMM_WORD_BONUS 0.05f
#define SUMM_INTRO_WORDS 6 /* "Hi, this is Kelly Nguyen." is no request */

void proc_summary_init(struct proc_summary *s, size_t nturns)
{
	memset(s, 0, sizeof(*s));
	s->nturns = nturns;
	size_t tail = nturns * 2 / 5;
	if (tail < SUMM_TAIL_MIN)
		tail = SUMM_TAIL_MIN;
	s->tail_start = nturns > tail ? nturns - tail : 0;
	s->req.score = -1;
	s->out.score = -1;
}

static bool summ_question(const char *text, const struct text_span *sent)
{
	return sent->len > 0 && text[sent->off + sent->len - 1] == '?';
}

/* Drops leading clauses without a cue ("Hi, this is Kelly Nguyen,"): the first word kept. */
static size_t summ_trim_lead(const struct proc_tok *toks, size_t ntoks)
{
	size_t start = 0;
	for (int round = 0; round < 2; round++) {
		size_t end = start + 1;
		bool cue = toks[start].mark & PROC_MARK_CUE;
		while (end < ntoks && !(toks[end].flags & TEXT_W_BREAK)) {
			cue = cue || (toks[end].mark & PROC_MARK_CUE);
			end++;
		}
		if (end >= ntoks || cue || end - start > SUMM_LEAD_CLAUSE ||
		    ntoks - end < SUMM_MIN_WORDS)
			break;
		start = end;
	}
	return start;
}

/* Extends the request with the next sentence of the same turn when the request named no
 * topic and that sentence does ("Third time I'm calling. You charged me twice."). */
static bool summ_continue(struct proc_summary *s, size_t turn, size_t sent_idx, const char *text,
                          const struct text_span *sent, const struct proc_summ_feat *f)
{
	if (s->req.p == NULL || s->req_topics || turn != s->req_turn ||
	    sent_idx != s->req_sent + 1 || f->topics == 0 || s->req_extended)
		return false;
	size_t end = sent->off + sent->len, start = (size_t)(s->req.p - text);
	if (end - start > SUMM_QUOTE_MAX)
		return false;
	s->req.len = end - start;
	s->req_extended = true;
	return true;
}

static void summ_request(struct proc_summary *s, size_t turn, size_t sent_idx, const char *text,
                         const struct text_span *sent, const struct proc_tok *toks, size_t ntoks,
                         const struct proc_summ_feat *f)
{
	if (!s->caller_seen) {
		s->caller_seen = true;
		s->last_caller_turn = turn;
	} else if (turn != s->last_caller_turn) {
		s->caller_turns++;
		s->last_caller_turn = turn;
		s->turn_sentences = 0;
	}
	if (ntoks < SUMM_MIN_WORDS || s->caller_sentences >= SUMM_REQ_WINDOW ||
	    (f->intro && ntoks <= SUMM_INTRO_WORDS))
		return;
	s->caller_sentences++;
	bool q = summ_question(text, sent);
	float topics = f->topics > 3 ? 3.0f : (float)f->topics;
	float words = ntoks > 10 ? 10.0f : (float)ntoks;
	bool need = f->request >= 1 || (q && f->topics >= 1) || f->topics >= 2;
	float score = f->request + (q ? 1.0f : 0.0f) + topics * 0.75f + (need ? 2.0f : 0.0f) +
	              words * SUMM_WORD_BONUS - SUMM_TURN_DECAY * (float)s->caller_turns -
	              SUMM_SENT_DECAY * (float)s->turn_sentences++;
	if (score <= s->req.score) {
		(void)summ_continue(s, turn, sent_idx, text, sent, f);
		return;
	}
	size_t first = summ_trim_lead(toks, ntoks);
	size_t off = toks[first].off;
	s->req.p = text + off;
	s->req.len = sent->off + sent->len - off;
	s->req.score = score;
	s->req_turn = turn;
	s->req_sent = sent_idx;
	s->req_topics = f->topics;
	s->req_extended = false;
}

static void summ_outcome(struct proc_summary *s, size_t turn, const char *text,
                         const struct text_span *sent, size_t ntoks, const struct proc_summ_feat *f)
{
	if (turn < s->tail_start || ntoks < SUMM_OUT_MIN_WORDS || f->action + f->outcome < 1)
		return;
	size_t span = s->nturns - s->tail_start;
	float recency = span ? 0.3f * (float)(turn - s->tail_start) / (float)span : 0;
	float score = f->action + f->outcome - 2 * f->closing -
	              (summ_question(text, sent) ? 1.0f : 0.0f) + recency;
	if (score < 1 || score < s->out.score)
		return;
	s->out.p = text + sent->off;
	s->out.len = sent->len;
	s->out.score = score;
}

void proc_summary_sentence(struct proc_summary *s, bool caller, size_t turn, size_t sent_idx,
                           const char *text, const struct text_span *sent,
                           const struct proc_tok *toks, size_t ntoks,
                           const struct proc_summ_feat *f)
{
	if (caller)
		summ_request(s, turn, sent_idx, text, sent, toks, ntoks, f);
	else
		summ_outcome(s, turn, text, sent, ntoks, f);
}

/* Appends a quoted sentence, capitalised, cut at a word boundary with "...". */
static void summ_quote(struct buf *b, const char *p, size_t len)
{
	size_t n = len;
	bool cut = false;
	if (n > SUMM_QUOTE_MAX) {
		n = text_utf8_cut(p, len, SUMM_QUOTE_MAX);
		size_t sp = n;
		while (sp > SUMM_QUOTE_MAX / 2 && p[sp - 1] != ' ')
			sp--;
		if (sp > SUMM_QUOTE_MAX / 2)
			n = sp - 1;
		while (n > 0 && (p[n - 1] == ',' || p[n - 1] == ' '))
			n--;
		cut = true;
	}
	buf_putc(b, '"');
	if (n > 0 && p[0] >= 'a' && p[0] <= 'z') {
		buf_putc(b, (char)(p[0] - 'a' + 'A'));
		buf_append(b, p + 1, n - 1);
	} else {
		buf_append(b, p, n);
	}
	if (cut)
		buf_append_str(b, "...");
	buf_putc(b, '"');
}

static void summ_topics(struct buf *b, const char *const *topics, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_str(b, i + 1 == n ? " and " : ", ");
		for (const char *c = topics[i]; *c; c++)
			buf_putc(b, *c == '_' ? ' ' : *c);
	}
}

static const char *summ_stock_outcome(const char *resolution)
{
	if (strcmp(resolution, "resolved") == 0)
		return "Outcome: resolved on the call.";
	if (strcmp(resolution, "escalated") == 0)
		return "Outcome: escalated.";
	if (strcmp(resolution, "follow_up") == 0)
		return "Outcome: a follow-up was promised.";
	return "Outcome: not resolved on the call.";
}

char *proc_summary_compose(const struct proc_summary *s, const char *who, const char *const *topics,
                           size_t ntopics, const char *resolution)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, who ? who : "An unnamed caller");
	if (s->req.p == NULL && s->caller_sentences == 0 && ntopics == 0) {
		buf_append_str(&b, " hung up before stating a request. ");
		buf_append_str(&b, summ_stock_outcome(resolution));
		return buf_detach(&b);
	}
	if (ntopics) {
		buf_append_str(&b, " called about ");
		summ_topics(&b, topics, ntopics);
		buf_putc(&b, '.');
	} else {
		buf_append_str(&b, " called.");
	}
	if (s->req.p) {
		buf_append_str(&b, " Request: ");
		summ_quote(&b, s->req.p, s->req.len);
	} else {
		buf_append_str(&b, " No clear request was stated.");
	}
	if (s->out.p) {
		buf_appendf(&b, " Outcome (%s): ",
		            strcmp(resolution, "follow_up") == 0 ? "follow-up" : resolution);
		summ_quote(&b, s->out.p, s->out.len);
	} else {
		buf_putc(&b, ' ');
		buf_append_str(&b, summ_stock_outcome(resolution));
	}
	if (b.len > PROC_SUMMARY_MAX) {
		b.len = text_utf8_cut(b.data, b.len, PROC_SUMMARY_MAX);
		b.data[b.len] = '\0';
	}
	return buf_detach(&b);
}
