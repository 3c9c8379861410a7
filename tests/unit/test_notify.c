/* Unit tests for lib/notify: the datagrams a fake $NOTIFY_SOCKET receives, the watchdog's
 * rate and its $WATCHDOG_PID guard, and no-ops without systemd. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "unit.h"

/* A datagram socket bound at a fresh path (or in the abstract namespace when abstract), set
 * as $NOTIFY_SOCKET. Returns the fd. */
static int fake_systemd(char *path, size_t pathlen, bool abstract)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	UNIT_REQUIRE(fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(path, pathlen, "%s/aimem-notify-%d-%d", abstract ? "@" : "/tmp", (int)getpid(),
	         rand());
	size_t n = strlen(path);
	memcpy(sa.sun_path, path, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (abstract)
		sa.sun_path[0] = '\0';
	else
		len++;
	UNIT_REQUIRE(bind(fd, (struct sockaddr *)&sa, len) == 0);
	setenv("NOTIFY_SOCKET", path, 1);
	return fd;
}

/* The next datagram, or "" when none is waiting. */
static const char *received(int fd)
{
	static char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

UNIT_TEST(notify_sends_ready_stopping_and_status)
{
	char path[128];
	int fd = fake_systemd(path, sizeof(path), false);
	CHECK_INT(notify_ready("serving\nnow"), 0);
	CHECK_STR(received(fd), "READY=1\nSTATUS=serving now\n");
	CHECK_INT(notify_status("waiting for the broker"), 0);
	CHECK_STR(received(fd), "STATUS=waiting for the broker\n");
	CHECK_INT(notify_stopping(), 0);
	CHECK_STR(received(fd), "STOPPING=1\nSTATUS=stopping\n");
	close(fd);
	unlink(path);
	/* the socket gone: an error to report, never a crash */
	CHECK_INT(notify_ready(NULL), -1);
	unsetenv("NOTIFY_SOCKET");
}

UNIT_TEST(notify_reaches_an_abstract_socket)
{
	char path[128];
	int fd = fake_systemd(path, sizeof(path), true);
	CHECK_INT(notify_ready(NULL), 0);
	CHECK_STR(received(fd), "READY=1\n");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

UNIT_TEST(notify_is_a_no_op_without_systemd)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_ready("x"), 1);
	CHECK_INT(notify_stopping(), 1);
	setenv("NOTIFY_SOCKET", "relative/path", 1); /* neither a path nor @abstract */
	CHECK_INT(notify_ready(NULL), -1);
	unsetenv("NOTIFY_SOCKET");
}

UNIT_TEST(notify_watchdog_every_half_interval_for_this_pid)
{
	char path[128], pid[32];
	int fd = fake_systemd(path, sizeof(path), false);
	unsetenv("WATCHDOG_USEC");
	CHECK_INT(notify_watchdog(), 1); /* no WatchdogSec */
	CHECK_STR(received(fd), "");
	setenv("WATCHDOG_USEC", "200000", 1); /* 200 ms: a ping at most every 100 ms */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1); /* for another process */
	CHECK_INT(notify_watchdog_usec(), 0);
	CHECK_INT(notify_watchdog(), 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(notify_watchdog_usec(), 200000);
	CHECK_INT(notify_watchdog(), 0);
	CHECK_STR(received(fd), "WATCHDOG=1\n");
	CHECK_INT(notify_watchdog(), 1); /* not due yet */
	CHECK_STR(received(fd), "");
	usleep(120000);
	CHECK_INT(notify_watchdog(), 0);
	CHECK_STR(received(fd), "WATCHDOG=1\n");
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}
