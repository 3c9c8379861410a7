/*
 * worker_settings: the worker section's settings turned into a worker_config (see
 * worker_settings.h).
 */
#include "worker_settings.h"

#include <stdio.h>

#include "log.h"
#include "sig.h"

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

enum prog_action worker_prog_start(const struct prog_info *pi, int argc, char **argv,
                                   struct cfg **cfgp, struct worker_replay *replay, bool *replaying)
{
	int argi = 0;
	sig_setup();
	enum prog_action action = prog_start(pi, argc, argv, cfgp, &argi);
	if (action != PROG_RUN)
		return action;
	char err[512];
	int rc = worker_replay_args(argc, argv, argi, replay, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", pi->name, err);
		cfg_free(cfgp);
		return PROG_EXIT_USAGE;
	}
	*replaying = rc > 0;
	return PROG_RUN;
}

int worker_prog_run(const char *name, const struct worker_settings *s,
                    const struct metrics_settings *ms, const struct worker_replay *replay,
                    const struct worker_ops *ops, const struct cfg *cfg, struct metrics *m)
{
	char err[512];
	const struct worker_config wc = worker_settings_config(s, replay);
	struct worker *w = worker_new(&wc, ops, cfg, m, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 2;
	}
	int rc = worker_serve(w, name, ms->bind, (int)ms->port);
	worker_free(&w);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
