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
	{ "a.s", CFG_STRING, "x", 0, 0, NULL, 0, offsetof(struct fz_settings, s), "" },
	{ "a.e", CFG_ENUM, "one", 0, 0, "one|two|three", 0, offsetof(struct fz_settings, e), "" },
	{ "a.i", CFG_INT, "1", -5, 1000000, NULL, 0, offsetof(struct fz_settings, i), "" },
	{ "a.b", CFG_BOOL, "false", 0, 0, NULL, 0, offsetof(struct fz_settings, b), "" },
	{ "a.d", CFG_DURATION, "1s", 0, 86400000, NULL, 0, offsetof(struct fz_settings, d), "" },
	{ "a.z", CFG_SIZE, "1KiB", 0, 1LL << 40, NULL, 0, offsetof(struct fz_settings, z), "" },
	{ "a.secret", CFG_STRING, NULL, 0, 0, NULL, CFG_SECRET,
	  offsetof(struct fz_settings, secret), "" },
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
