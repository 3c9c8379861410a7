/*
 * erase_topic: the erasures topic, written by `aimem erase` and read back by --reapply (see
 * erase_topic.h). Single-threaded.
 */
#include "erase_topic.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "erase.h"
#include "num.h"
#include "topic.h"
#include "xalloc.h"

#define ERASE_TOPIC_TYPE "caller.erased"

int erase_topic_record(const struct cfg *cfg, const char *topic, long long customer_id,
                       const char *user_id, long long timeout_ms, char *err, size_t errlen)
{
	char key[200], when[32];
	snprintf(key, sizeof(key), "%lld:%s", customer_id, user_id);
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_t *v = json_pack("{s:s, s:i, s:I, s:s, s:s}", "type", ERASE_TOPIC_TYPE, "version", 1,
	                      "customer_id", (json_int_t)customer_id, "user_id", user_id,
	                      "erased_at", when);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (text == NULL) {
		snprintf(err, errlen, "cannot encode the erasure (user id not UTF-8?)");
		return -1;
	}
	int rc = -1, partition;
	long long offset;
	rd_kafka_t *rk = topic_producer_new(cfg, timeout_ms, err, errlen);
	if (rk != NULL) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(1);
		rd_kafka_header_add(h, "aimem-type", -1, ERASE_TOPIC_TYPE, -1);
		rc = topic_produce(rk, topic, key, strlen(key), text, strlen(text), h, &partition,
		                   &offset, err, errlen);
		rd_kafka_destroy(rk);
	}
	free(text);
	return rc;
}

/* One record of the topic: the latest per key wins (same key, same partition, in order). */
struct reapply_rec {
	char *key; /* owned */
	long long seq;
	long long customer_id;
	char *user_id; /* owned; NULL: a tombstone */
};

struct reapply_read {
	struct reapply_rec *v;
	size_t n, cap;
	struct erase_reapply_report *r;
	const char *topic;
};

/* The erasure a record's value names, checked against its key; -1 when it is not one. */
static int reapply_parse(const rd_kafka_message_t *rkm, const char *key, long long *customer_id,
                         char **user_id)
{
	json_error_t je;
	json_t *v = json_loadb(rkm->payload, rkm->len, JSON_REJECT_DUPLICATES, &je);
	const char *type = json_string_value(json_object_get(v, "type"));
	const char *user = json_string_value(json_object_get(v, "user_id"));
	json_t *cid = json_object_get(v, "customer_id");
	int rc = -1;
	char expect[200];
	if (type && strcmp(type, ERASE_TOPIC_TYPE) == 0 && user && *user && strlen(user) <= 128 &&
	    json_is_integer(cid) && json_integer_value(cid) >= 1 &&
	    json_integer_value(cid) <= INT32_MAX) {
		snprintf(expect, sizeof(expect), "%lld:%s", (long long)json_integer_value(cid),
		         user);
		if (strcmp(expect, key) == 0) {
			*customer_id = (long long)json_integer_value(cid);
			*user_id = xstrdup(user);
			rc = 0;
		}
	}
	json_decref(v);
	return rc;
}

static int reapply_collect(void *arg, const rd_kafka_message_t *rkm)
{
	struct reapply_read *rd = arg;
	rd->r->records++;
	if (rkm->key == NULL || rkm->key_len == 0 || rkm->key_len > 200) {
		rd->r->unreadable++;
		fprintf(stderr, "aimem erase --reapply: %s/%d/%lld: no usable key, skipped\n",
		        rd->topic, (int)rkm->partition, (long long)rkm->offset);
		return 0;
	}
	struct reapply_rec rec = { .key = xmemdup0(rkm->key, rkm->key_len),
		                   .seq = (long long)rd->n };
	if (rkm->payload != NULL && reapply_parse(rkm, rec.key, &rec.customer_id, &rec.user_id)) {
		rd->r->unreadable++;
		fprintf(stderr,
		        "aimem erase --reapply: %s/%d/%lld: not a caller.erased record for key %s, "
		        "skipped\n",
		        rd->topic, (int)rkm->partition, (long long)rkm->offset, rec.key);
		free(rec.key);
		return 0;
	}
	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 64;
		rd->v = xreallocarray(rd->v, rd->cap, sizeof(*rd->v));
	}
	rd->v[rd->n++] = rec;
	return 0;
}

static int reapply_cmp(const void *a, const void *b)
{
	const struct reapply_rec *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Erases each key's latest erasure; 0, or 1 when one failed. */
static int reapply_apply(PGconn *conn, struct reapply_read *rd, FILE *out)
{
	int rc = 0;
	qsort(rd->v, rd->n, sizeof(*rd->v), reapply_cmp);
	for (size_t i = 0; i < rd->n; i++) {
		struct reapply_rec *rec = &rd->v[i];
		if (i + 1 < rd->n && strcmp(rec->key, rd->v[i + 1].key) == 0)
			continue; /* a later record of the same caller decides */
		if (rec->user_id == NULL) {
			rd->r->withdrawn++;
			continue;
		}
		rd->r->callers++;
		struct erase_report er;
		char err[1024];
		if (erase_run(conn, rec->customer_id, rec->user_id, &er, err, sizeof(err)) != 0) {
			fprintf(stderr, "aimem erase --reapply: customer %lld caller %s: %s\n",
			        rec->customer_id, rec->user_id, err);
			rc = 1;
			continue;
		}
		rd->r->rows += er.total;
		if (er.total > 0)
			fprintf(out, "erased again: customer %lld caller %s (%lld rows)\n",
			        rec->customer_id, rec->user_id, er.total);
	}
	return rc;
}

int erase_topic_reapply(PGconn *conn, const struct cfg *cfg, const char *topic,
                        long long timeout_ms, FILE *out, struct erase_reapply_report *r, char *err,
                        size_t errlen)
{
	memset(r, 0, sizeof(*r));
	struct reapply_read rd = { .r = r, .topic = topic };
	rd_kafka_t *rk = topic_reader_new(cfg, "aimem-erase-reapply", true, err, errlen);
	if (rk == NULL)
		return -1;
	int rc = topic_read_all(rk, topic, timeout_ms, reapply_collect, &rd, err, errlen);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (rc == 0)
		rc = reapply_apply(conn, &rd, out);
	if (rc >= 0)
		fprintf(out,
		        "reapply: %lld records read from %s, %lld callers erased (%lld rows "
		        "deleted now), %lld withdrawn, %lld unreadable\n",
		        r->records, topic, r->callers, r->rows, r->withdrawn, r->unreadable);
	for (size_t i = 0; i < rd.n; i++) {
		free(rd.v[i].key);
		free(rd.v[i].user_id);
	}
	free(rd.v);
	return rc < 0 ? -1 : (rc || r->unreadable ? 1 : 0);
}
