/*
 * notify: sd_notify's datagram, written by hand (see notify.h for why no libsystemd).
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "num.h"

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@') /* abstract namespace: a leading NUL, the length says where it ends */
		sa.sun_path[0] = '\0';
	socklen_t salen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
	                      (const struct sockaddr *)&sa, salen);
	int saved = errno;
	close(fd);
	errno = saved;
	return sent == (ssize_t)strlen(state) ? 0 : -1;
}

/* "KEY=" followed by value with newlines flattened, appended to out. */
static void notify_line(char *out, size_t outlen, const char *key, const char *value)
{
	size_t o = strlen(out);
	int k = snprintf(out + o, outlen - o, "%s=", key);
	if (k < 0 || (size_t)k >= outlen - o)
		return;
	o += (size_t)k;
	for (const char *p = value; *p && o + 2 < outlen; p++)
		out[o++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
	out[o++] = '\n';
	out[o] = '\0';
}

int notify_ready(const char *status)
{
	char msg[512] = "READY=1\n";
	if (status != NULL)
		notify_line(msg, sizeof(msg), "STATUS", status);
	return notify_send(msg);
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=stopping\n");
}

int notify_status(const char *status)
{
	char msg[512] = "";
	notify_line(msg, sizeof(msg), "STATUS", status);
	return notify_send(msg);
}

long long notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long v, p;
	if (usec == NULL || num_parse_int(usec, 1, 1LL << 50, &v) != NUM_OK)
		return 0;
	if (pid != NULL && (num_parse_int(pid, 1, 1LL << 31, &p) != NUM_OK || p != getpid()))
		return 0; /* meant for another process (a parent that exec'd us keeps its env) */
	return v;
}

int notify_watchdog(void)
{
	static long long last_us = -1; /* main thread only (notify.h) */
	long long every = notify_watchdog_usec() / 2;
	if (every <= 0)
		return 1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (last_us >= 0 && now - last_us < every)
		return 1;
	int rc = notify_send("WATCHDOG=1\n");
	if (rc == 0)
		last_us = now;
	return rc;
}
