/*
 * Unit tests for lib/embed_json (the embeddings request and the strict answer parser) and
 * lib/embed's hashed provider, the fallback from a missing model to it, and normalisation. The openai provider's transfers are tested
 * against a fake server (tests/integration/test_embedder.py).
 */
#include <math.h>
#include <string.h>

#include "buf.h"
#include "embed.h"
#include "embed_json.h"
#include "metrics.h"
#include "unit.h"

UNIT_TEST(embed_json_request_escapes_and_batches)
{
	struct buf b = BUF_INIT;
	const char *texts[] = { "Caller: \"hi\"\nAgent: ok", "bad \xff byte" };
	size_t lens[] = { strlen(texts[0]), strlen(texts[1]) };
	embed_json_request(&b, "m1", texts, lens, 2, 256, true);
	CHECK_STR(buf_str(&b),
	          "{\"model\":\"m1\",\"input\":[\"Caller: \\\"hi\\\"\\u000aAgent: ok\","
	          "\"bad \\ufffd byte\"],\"encoding_format\":\"float\",\"dimensions\":256}");
	buf_free(&b);
}

UNIT_TEST(embed_json_parse_orders_by_index)
{
	const char *ans = "{\"object\":\"list\",\"data\":[{\"index\":1,\"embedding\":[3,4]},"
	                  "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1,-2.5]}],"
	                  "\"usage\":{\"prompt_tokens\":3}}";
	float out[4];
	char err[200];
	UNIT_REQUIRE(embed_json_parse(ans, strlen(ans), 2, 2, out, err, sizeof(err)) == 0);
	CHECK(out[0] == 1 && out[1] == -2.5f && out[2] == 3 && out[3] == 4);
}

UNIT_TEST(embed_json_parse_refuses_what_does_not_fit)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"data\":{}}",
		"{\"data\":[{\"index\":0,\"embedding\":[1,2]}]}", /* 1 of 2 */
		"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[1]}]}", /* twice */
		"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}", /* range */
		"{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1]}]}", /* dim */
		"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[\"x\"]}]}",
		"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1e300]}]}",
		"{\"data\":[{\"index\":\"0\",\"embedding\":[1]},{\"index\":1,\"embedding\":[1]}]}",
		"{\"data\":[],\"data\":[]}",
	};
	float out[4];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[200] = "";
		if (embed_json_parse(bad[i], strlen(bad[i]), 2, 1, out, err, sizeof(err)) == 0)
			unit_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
		CHECK(err[0] != '\0');
	}
}

UNIT_TEST(embed_hashed_provider_is_normalised_and_checks_dimensions)
{
	struct embed_settings s = { .provider = "hashed",
		                    .dimensions = 384,
		                    .max_input_bytes = 256 };
	char err[256];
	struct embedder *e = embed_open(&s, NULL, err, sizeof(err));
	UNIT_REQUIRE(e != NULL);
	CHECK_STR(embed_model_id(e), "hashed-ngram/1");
	CHECK_INT(embed_dim(e), 384);
	const char *texts[] = { "my windshield cracked on the highway", "" };
	size_t lens[] = { strlen(texts[0]), 0 };
	float v[2 * 384];
	UNIT_REQUIRE(embed_texts(e, texts, lens, 2, v, err, sizeof(err)) == 0);
	double n0 = 0, n1 = 0;
	for (int i = 0; i < 384; i++) {
		n0 += (double)v[i] * v[i];
		n1 += (double)v[384 + i] * v[384 + i];
	}
	CHECK(fabs(n0 - 1) < 1e-4 && fabs(n1 - 1) < 1e-4);
	embed_close(&e);
	CHECK(e == NULL);
	s.dimensions = 768; /* the hashed provider makes 384 */
	CHECK(embed_open(&s, NULL, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "embed.dimensions");
	struct embed_settings o = { .provider = "openai", .dimensions = 8, .max_input_bytes = 256 };
	CHECK(embed_open(&o, NULL, err, sizeof(err)) == NULL); /* no base_url, no model */
	CHECK_CONTAINS(err, "embed.base_url");
}

UNIT_TEST(embed_missing_model_refuses_or_falls_back_to_hashed_when_configured)
{
	struct embed_settings s = { .provider = "builtin-minilm",
		                    .model_dir = "/nonexistent/all-minilm-l6-v2",
		                    .dimensions = 384,
		                    .max_input_bytes = 256 };
	char err[512];
	CHECK(embed_open(&s, NULL, err, sizeof(err)) == NULL); /* the default: no fallback */
	CHECK_CONTAINS(err, "/nonexistent/all-minilm-l6-v2/");
	CHECK_CONTAINS(err, "scripts/deps.sh");
	s.fallback = "none";
	CHECK(embed_open(&s, NULL, err, sizeof(err)) == NULL);
	s.fallback = "hashed";
	struct metrics *m = metrics_new();
	struct embedder *e = embed_open(&s, m, err, sizeof(err));
	UNIT_REQUIRE(e != NULL);
	CHECK_STR(embed_model_id(e), "hashed-ngram/1");
	const char *text = "my windshield cracked";
	size_t len = strlen(text);
	float v[384], w[384];
	UNIT_REQUIRE(embed_texts(e, &text, &len, 1, v, err, sizeof(err)) == 0);
	struct embed_settings h = { .provider = "hashed",
		                    .dimensions = 384,
		                    .max_input_bytes = 256 };
	struct embedder *eh = embed_open(&h, NULL, err, sizeof(err));
	UNIT_REQUIRE(eh != NULL);
	UNIT_REQUIRE(embed_texts(eh, &text, &len, 1, w, err, sizeof(err)) == 0);
	CHECK(memcmp(v, w, sizeof(v)) == 0); /* the very vectors of the hashed provider */
	struct buf b = BUF_INIT;
	metrics_render(m, &b);
	CHECK_CONTAINS(buf_str(&b), "aimem_embed_fallback{provider=\"builtin-minilm\"} 1");
	buf_free(&b);
	embed_close(&eh);
	embed_close(&e);
	metrics_free(&m);
}

UNIT_TEST(embed_normalise_zero_vector_is_e0)
{
	float v[3] = { 0, 0, 0 }, w[2] = { 3, 4 };
	embed_normalise(v, 3);
	CHECK(v[0] == 1 && v[1] == 0 && v[2] == 0);
	embed_normalise(w, 2);
	CHECK(fabs(w[0] - 0.6) < 1e-6 && fabs(w[1] - 0.8) < 1e-6);
}
