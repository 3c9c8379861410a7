/*
 * fuzz_event: libFuzzer target for the event decoder. Bytes go in as a Kafka value with key
 * "7"; whatever decodes is encoded again and must decode to the same encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	event_release(&ev);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
