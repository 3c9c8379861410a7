/*
 * fuzz_cfg: libFuzzer target for the settings-file parser (cfg_load_text) over a table with
 * every item type, followed by --print-config rendering of whatever was accepted.
 */
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

struct fz_settings {
	char *s;
	char *e;
	long long i;
	bool b;
	long long d;
	long long z;
	char *secret;
};

static const struct cfg_item fz_items[] = {
	{ .key = "a.s",
	  .type = CFG_STRING,
	  .def = "x",
	  .offset = offsetof(struct fz_settings, s),
	  .help = "" },
	{ .key = "a.e",
	  .type = CFG_ENUM,
	  .def = "one",
	  .choices = "one|two|three",
	  .offset = offsetof(struct fz_settings, e),
	  .help = "" },
	{ .key = "a.i",
	  .type = CFG_INT,
	  .def = "1",
	  .min = -5,
	  .max = 1000000,
	  .offset = offsetof(struct fz_settings, i),
	  .help = "" },
	{ .key = "a.b",
	  .type = CFG_BOOL,
	  .def = "false",
	  .offset = offsetof(struct fz_settings, b),
	  .help = "" },
	{ .key = "a.d",
	  .type = CFG_DURATION,
	  .def = "1s",
	  .max = 86400000,
	  .offset = offsetof(struct fz_settings, d),
	  .help = "" },
	{ .key = "a.z",
	  .type = CFG_SIZE,
	  .def = "1KiB",
	  .max = 1LL << 40,
	  .offset = offsetof(struct fz_settings, z),
	  .help = "" },
	{ .key = "a.secret",
	  .type = CFG_STRING,
	  .flags = CFG_SECRET,
	  .offset = offsetof(struct fz_settings, secret),
	  .help = "" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_settings s = { 0 };
	struct cfg *c = cfg_new(fz_items, sizeof(fz_items) / sizeof(fz_items[0]), &s, "kafka.");
	char err[256];
	(void)cfg_load_text(c, (const char *)data, size, "fuzz", err, sizeof(err));
	struct buf out = BUF_INIT;
	cfg_print(c, &out);
	buf_free(&out);
	cfg_free(&c);
	return 0;
}
