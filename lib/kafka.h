/*
 * kafka: librdkafka set-up shared by producers and consumers.
 *
 * Builds an rd_kafka_conf_t that logs through our logger and carries every "kafka.*"
 * setting of the program's configuration verbatim (kcat's -X). It does not wrap the
 * produce or consume APIs: programs call librdkafka directly, in its own idiom.
 */
#ifndef AIMEM_KAFKA_H
#define AIMEM_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "cfg.h"

/*
 * Returns a new conf (owned; rd_kafka_new takes it only on success, destroy it otherwise)
 * with the log callback set to log_rdkafka_cb and every passthrough pair of c applied with
 * its "kafka." prefix removed; with a c, kafka.bootstrap.servers must be among them. c may be
 * NULL (tools that set everything themselves). NULL with err naming the key on failure.
 */
rd_kafka_conf_t *kafka_conf_new(const struct cfg *c, char *err, size_t errlen);

/* Sets one property; err names the key and librdkafka's reason. Returns 0 or -1. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

/* The kafka.* settings of a program's table (prog_info.passthrough): kept verbatim for
 * librdkafka (AIMEM_KAFKA_BOOTSTRAP_SERVERS is kafka.bootstrap.servers), applied here. */
#define KAFKA_CFG_PASSTHROUGH "kafka."

#define KAFKA_TOPIC_CALLS "aimem.calls.v1"       /* call.ended events */
#define KAFKA_TOPIC_MEMORIES "aimem.memories.v1" /* memory.put / memory.delete events */

/* The topics.* rows of a cfg table; off: the offset of a char * field; help_text: what the
 * program does with the topic ("call.ended topic"). */
/* clang-format off */
#define KAFKA_TOPICS_CALLS_CFG_ITEM(off, help_text) \
	{ .key = "topics.calls", .type = CFG_STRING, .def = KAFKA_TOPIC_CALLS, .offset = (off), \
	  .help = (help_text) }
#define KAFKA_TOPICS_MEMORIES_CFG_ITEM(off, help_text) \
	{ .key = "topics.memories", .type = CFG_STRING, .def = KAFKA_TOPIC_MEMORIES, .offset = (off), \
	  .help = (help_text) }
/* clang-format on */

#endif
