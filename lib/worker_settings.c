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

enum prog_action worker_prog_start(struct worker_prog *wp, const struct prog_info *pi, int argc,
                                   char **argv)
{
	*wp = (struct worker_prog){ .info = pi };
	int argi = 0;
	sig_setup();
	enum prog_action action = prog_start(pi, argc, argv, &wp->cfg, &argi);
	if (action == PROG_RUN) {
		char err[512];
		int rc = worker_replay_args(argc, argv, argi, &wp->replay, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", pi->name, err);
			cfg_free(&wp->cfg);
			action = PROG_EXIT_USAGE;
		}
		wp->replaying = rc > 0;
	}
	wp->exit_code = action == PROG_EXIT_OK ? 0 : 2;
	if (action == PROG_RUN)
		wp->metrics = metrics_new();
	return action;
}

int worker_prog_run(struct worker_prog *wp, const struct worker_settings *s,
                    const struct metrics_settings *ms, const struct worker_ops *ops)
{
	char err[512];
	const struct worker_config wc =
	    worker_settings_config(s, wp->replaying ? &wp->replay : NULL);
	struct worker *w = worker_new(&wc, ops, wp->cfg, wp->metrics, err, sizeof(err));
	if (w == NULL) {
		fprintf(stderr, "%s: %s\n", wp->info->name, err);
		return 2;
	}
	int rc = worker_serve(w, wp->info->name, ms->bind, (int)ms->port);
	worker_free(&w);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}

void worker_prog_end(struct worker_prog *wp)
{
	metrics_free(&wp->metrics);
	cfg_free(&wp->cfg);
}
