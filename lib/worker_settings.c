/*
 * worker_settings: the worker section's settings turned into a worker_config (see
 * worker_settings.h).
 */
#include "worker_settings.h"

struct worker_config worker_settings_config(const struct worker_settings *s,
                                            const struct worker_replay *replay)
{
	return (struct worker_config){
		.group = s->group,
		.topic = s->topic,
		.db_url = s->db_url,
		.batch_max = (size_t)s->batch_max,
		.batch_ms = s->batch_ms,
		.retry_base_ms = s->retry_base_ms,
		.retry_cap_ms = s->retry_cap_ms,
		.limits = { .max_event_bytes = (size_t)s->event_max_bytes,
		            .max_turns = event_default_limits.max_turns,
		            .max_text_bytes = event_default_limits.max_text_bytes },
		.replay = replay,
		.stall_ms = s->stall_ms,
	};
}
