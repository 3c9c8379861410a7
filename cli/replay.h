/*
 * replay: `aimem replay --group summarizer|personality|memories --from <RFC 3339|earliest>
 * [--to <RFC 3339>] [--customer N] [--dry-run] [--worker-config FILE]` runs that worker
 * program (the aimem-<group> binary next to aimem) in its replay mode, so the same worker code
 * reprocesses the range (lib/worker: a temporary consumer beside the live group, whose stored
 * offsets it never touches). The worker reads its usual settings (AIMEM_* environment, or the
 * file given with --worker-config) and prints the report.
 */
#ifndef AIMEM_CLI_REPLAY_H
#define AIMEM_CLI_REPLAY_H

/* argv[0] is "replay". Execs the worker (returns only on error): 2 for bad arguments, 1 when
 * the program cannot be started. */
int replay_exec(int argc, char **argv);

#endif
