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
 * no timeout). Returns true if a signal was taken. Main thread only. Every main loop and
 * every backoff passes through here, so it also sends systemd's WATCHDOG=1 when due
 * (notify.h): a main thread that stops coming back here is restarted by WatchdogSec. When a
 * reload function is set (sig_on_reload), a SIGHUP taken here runs it before returning. */
bool sig_wait(int timeout_ms);
/* What SIGHUP does: fn(ctx) runs on the main thread inside sig_wait (never in the signal
 * handler), so a program reloads even while its main thread is in a loop it does not own
 * (lib/worker's). With fn set, sig_take_reload no longer sees the request. NULL removes it.
 * lib/prog sets it for every program (prog_on_reload). */
void sig_on_reload(void (*fn)(void *ctx), void *ctx);
/* A stop was requested (SIGTERM or SIGINT). Any thread. */
bool sig_stop_requested(void);
/* Asks the program to stop as if signalled (used by tests and fatal paths). */
void sig_request_stop(void);
/* A reload was requested (SIGHUP); reading it clears it. */
bool sig_take_reload(void);

#endif
