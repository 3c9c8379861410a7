/*
 * notify: the systemd service notification protocol (sd_notify(3)), so a unit can be
 * Type=notify with WatchdogSec=: READY=1 once the program serves, STOPPING=1 when it starts
 * its shutdown, WATCHDOG=1 while its main loop turns, STATUS= for `systemctl status`.
 *
 * The protocol is one datagram of "KEY=value" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace); we write it here (about
 * sixty lines) rather than link libsystemd: nothing else of it is needed, the programs run
 * unchanged in containers where it would be dead weight, and the wire format is a stable,
 * documented interface. Without $NOTIFY_SOCKET (not under systemd, or Type=simple) every call
 * is a no-op returning 1.
 *
 * Not here: socket activation, file-descriptor store, credentials.
 *
 * Thread: any thread; nothing blocks (a datagram socket, MSG_DONTWAIT). notify_watchdog keeps
 * its last-sent time in a static: call it from one thread (the main loop's sig_wait does).
 */
#ifndef AIMEM_NOTIFY_H
#define AIMEM_NOTIFY_H

#include <stdbool.h>

/* Sends state ("READY=1\nSTATUS=serving") as one datagram. Returns 0 when sent, 1 when there is
 * no $NOTIFY_SOCKET, -1 when the socket could not be reached (errno set; callers ignore it: a
 * notification is advice, never a reason to stop). */
int notify_send(const char *state);
/* READY=1 with a STATUS= line (status may be NULL). */
int notify_ready(const char *status);
/* STOPPING=1. */
int notify_stopping(void);
/* STATUS=<status> alone (one line: newlines become spaces). */
int notify_status(const char *status);
/* WATCHDOG=1, at most once per half of $WATCHDOG_USEC (and only when $WATCHDOG_PID, if set,
 * is this process). Cheap enough to call on every loop turn. Returns what notify_send
 * returned, or 1 when no watchdog is configured or it is not due yet. */
int notify_watchdog(void);
/* The watchdog interval systemd asked for, in microseconds; 0 when none. */
long long notify_watchdog_usec(void);

#endif
