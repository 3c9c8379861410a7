/*
 * sig: signal handling for daemons and long CLI commands.
 *
 * The handlers only set flags. sig_setup() installs them and blocks SIGTERM, SIGINT and
 * SIGHUP in the calling thread, so every thread created afterwards (librdkafka's, MHD's,
 * curl's resolver) inherits the block and signals are only ever taken by the main thread
 * inside sig_wait(), which unblocks them for the duration of the wait (ppoll). Call it
 * first in main(), before any library creates a thread. SIGPIPE is ignored.
 *
 * A second SIGTERM or SIGINT while a stop is already requested exits at once (_exit(1)):
 * the operator's way out of a drain that hangs.
 */
#ifndef AIMEM_SIG_H
#define AIMEM_SIG_H

#include <stdbool.h>

void sig_setup(void);
/* Sleeps until a signal arrives or timeout_ms passes (0: just takes pending signals; <0:
 * no timeout). Returns true if a signal was taken. Main thread only. */
bool sig_wait(int timeout_ms);
/* A stop was requested (SIGTERM or SIGINT). Any thread. */
bool sig_stop_requested(void);
/* Asks the program to stop as if signalled (used by tests and fatal paths). */
void sig_request_stop(void);
/* A reload was requested (SIGHUP); reading it clears it. */
bool sig_take_reload(void);

#endif
