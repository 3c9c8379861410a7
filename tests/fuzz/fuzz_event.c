/*
 * fuzz_event: libFuzzer target for the event decoder. Bytes go in as a Kafka value with key
 * "7"; whatever decodes is encoded again and must decode to the same encoding. Then the
 * redactor is applied as the gateway applies it (every kind, recorded): the text it leaves to
 * produce must decode, and no turn or memory value string in it may hold a card.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "redact.h"
#include "redact_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No string value under token t holds a card (object keys are kept as they are). */
static void fz_no_card(const struct jscan_doc *d, size_t t)
{
	const struct jscan_token *tk = &d->tok[t];
	if (tk->type == JSCAN_STRING && redact_holds_card(jscan_str(d, t), tk->count))
		abort();
	if (tk->type != JSCAN_OBJECT && tk->type != JSCAN_ARRAY)
		return;
	size_t k = t + 1;
	for (uint32_t i = 0; i < tk->count; i++) {
		if (tk->type == JSCAN_OBJECT)
			k++; /* the key */
		fz_no_card(d, k);
		k = d->tok[k].next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev, again;
	char err[256];
	if (event_decode((const char *)data, size, "7", 1, NULL, &ev, err, sizeof(err)) != EVENT_OK)
		return 0;
	struct buf a = BUF_INIT, b = BUF_INIT;
	event_encode(&ev, &a);
	if (event_decode(a.data, a.len, "7", 1, NULL, &again, err, sizeof(err)) != EVENT_OK)
		abort(); /* our own encoding must always decode */
	event_encode(&again, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	event_release(&again);
	buf_free(&a);
	buf_free(&b);
	static struct redact_edge *edge;
	if (edge == NULL) {
		struct redact_settings s = { "card,cvv,expiry,ssn,bank_account,routing,iban,email,"
			                     "phone,dob,address",
			                     NULL };
		edge = redact_edge_new(&s, NULL, err, sizeof(err));
		if (edge == NULL)
			abort();
	}
	(void)redact_edge_event(edge, &ev, true, NULL);
	const struct event_limits lim = { (size_t)-1, (size_t)-1, (size_t)-1 };
	if (event_decode(ev.raw, ev.raw_len, "7", 1, &lim, &again, err, sizeof(err)) != EVENT_OK)
		abort(); /* the redacted text to produce must decode */
	for (size_t i = 0; i < again.call.nturns; i++)
		if (redact_holds_card(again.call.turns[i].text, again.call.turns[i].text_len))
			abort();
	if (again.type == EVENT_MEMORY_PUT && again.mem.value.ptr != NULL) {
		struct jscan_doc d = JSCAN_DOC_INIT;
		if (jscan_parse(&d, again.mem.value.ptr, again.mem.value.len, err, sizeof(err)) ==
		    0)
			fz_no_card(&d, 0);
		jscan_doc_free(&d);
	}
	event_release(&again);
	event_release(&ev);
	return 0;
}
