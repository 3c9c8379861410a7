/*
 * kafka: rd_kafka_conf_t construction (see kafka.h).
 */
#include "kafka.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t errlen)
{
	char why[512];
	if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka.%s: %s", key, why);
		return -1;
	}
	return 0;
}

/* A program's configuration must name the brokers: librdkafka would otherwise start and
 * wait forever on nothing. */
static int kafka_conf_require_bootstrap(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	char value[512];
	size_t vlen = sizeof(value);
	if (rd_kafka_conf_get(conf, "bootstrap.servers", value, &vlen) == RD_KAFKA_CONF_OK &&
	    value[0] != '\0')
		return 0;
	snprintf(err, errlen,
	         "kafka.bootstrap.servers is required (AIMEM_KAFKA_BOOTSTRAP_SERVERS)");
	return -1;
}

rd_kafka_conf_t *kafka_conf_new(const struct cfg *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_rdkafka_cb);
	size_t n = c ? cfg_passthrough_count(c) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *key, *value;
		cfg_passthrough_get(c, i, &key, &value);
		const char *dot = strchr(key, '.');
		if (kafka_conf_set(conf, dot ? dot + 1 : key, value, err, errlen) != 0) {
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (c != NULL && kafka_conf_require_bootstrap(conf, err, errlen) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}
