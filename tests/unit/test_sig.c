/* Unit tests for lib/sig: flag-only handlers, blocked delivery, second-signal exit. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sig.h"
#include "unit.h"

UNIT_TEST(sig_term_is_taken_only_in_sig_wait)
{
	sig_setup();
	CHECK(!sig_stop_requested());
	raise(SIGTERM); /* blocked: stays pending */
	CHECK(!sig_stop_requested());
	CHECK(sig_wait(0));
	CHECK(sig_stop_requested());
}

UNIT_TEST(sig_hup_requests_reload_once)
{
	sig_setup();
	raise(SIGHUP);
	CHECK(sig_wait(1000));
	CHECK(sig_take_reload());
	CHECK(!sig_take_reload());
	CHECK(!sig_stop_requested());
}

UNIT_TEST(sig_wait_times_out)
{
	sig_setup();
	CHECK(!sig_wait(20));
	CHECK(!sig_stop_requested());
}

static void *sig_thread_mask(void *arg)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	*(int *)arg = sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT);
	return NULL;
}

UNIT_TEST(sig_threads_started_after_setup_inherit_the_block)
{
	sig_setup();
	int blocked = 0;
	pthread_t t;
	UNIT_REQUIRE(pthread_create(&t, NULL, sig_thread_mask, &blocked) == 0);
	pthread_join(t, NULL);
	CHECK(blocked);
}

UNIT_TEST(sig_second_stop_exits_at_once)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		sig_setup();
		raise(SIGTERM);
		sig_wait(0);
		raise(SIGINT);
		sig_wait(0);
		_exit(0); /* not reached: the second signal exits with 1 */
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 1);
}

UNIT_TEST(sig_sigpipe_is_ignored)
{
	sig_setup();
	int fds[2];
	UNIT_REQUIRE(pipe(fds) == 0);
	close(fds[0]);
	CHECK(write(fds[1], "x", 1) == -1); /* EPIPE instead of death */
	close(fds[1]);
}

static int sig_reloads;
static void sig_count_reload(void *ctx)
{
	(void)ctx;
	sig_reloads++;
}

UNIT_TEST(sig_hup_runs_the_reload_function_in_sig_wait)
{
	sig_setup();
	sig_on_reload(sig_count_reload, NULL);
	raise(SIGHUP); /* blocked: nothing runs in the handler */
	CHECK_INT(sig_reloads, 0);
	CHECK(sig_wait(1000));
	CHECK_INT(sig_reloads, 1);
	CHECK(!sig_take_reload()); /* the function took it */
	CHECK(!sig_wait(0));
	CHECK_INT(sig_reloads, 1);
	sig_on_reload(NULL, NULL);
}
