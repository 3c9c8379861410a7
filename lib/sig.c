/*
 * sig: flag-only signal handlers taken in one place (see sig.h). No signalfd and no
 * dedicated signal thread: ppoll's atomic mask swap is enough for a main loop that wakes
 * every few hundred milliseconds anyway.
 */
#include "sig.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static volatile sig_atomic_t sig_stop;
static volatile sig_atomic_t sig_reload;
static sigset_t sig_waitmask; /* the caller's mask minus our signals, used inside ppoll */
static void (*sig_reload_fn)(void *ctx); /* main thread only */
static void *sig_reload_ctx;

static void sig_on_stop(int signo)
{
	(void)signo;
	if (sig_stop)
		_exit(1);
	sig_stop = 1;
}

static void sig_handle_reload(int signo)
{
	(void)signo;
	sig_reload = 1;
}

void sig_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = sig_handle_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sigset_t ours, old;
	sigemptyset(&ours);
	sigaddset(&ours, SIGTERM);
	sigaddset(&ours, SIGINT);
	sigaddset(&ours, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ours, &old);
	sig_waitmask = old;
	sigdelset(&sig_waitmask, SIGTERM);
	sigdelset(&sig_waitmask, SIGINT);
	sigdelset(&sig_waitmask, SIGHUP);
}

bool sig_wait(int timeout_ms)
{
	sig_atomic_t before = sig_stop + sig_reload;
	struct timespec ts, *tsp = NULL;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	notify_watchdog(); /* the main loop turns: systemd's WatchdogSec (notify.h) */
	int rc = ppoll(NULL, 0, tsp, &sig_waitmask);
	bool taken = rc < 0 || sig_stop + sig_reload != before;
	if (sig_reload && sig_reload_fn != NULL) {
		sig_reload = 0;
		sig_reload_fn(sig_reload_ctx);
	}
	return taken;
}

void sig_on_reload(void (*fn)(void *ctx), void *ctx)
{
	sig_reload_fn = fn;
	sig_reload_ctx = ctx;
}

bool sig_stop_requested(void)
{
	return sig_stop != 0;
}

void sig_request_stop(void)
{
	sig_stop = 1;
}

bool sig_take_reload(void)
{
	if (!sig_reload)
		return false;
	sig_reload = 0;
	return true;
}
