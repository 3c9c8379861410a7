/*
 * loadgen: a small keep-alive HTTP/1.1 load generator for our benchmarks.
 *
 *   loadgen --port P [--host 127.0.0.1] [--method POST] [--path /v3/calls] [--body FILE]
 *           [--header "Name: value"]... [--connections 64] [--seconds 10] [--rate R]
 *           [--requests FILE] [--floor PATH] [--floor-seconds S]
 *
 * --requests FILE: complete raw HTTP requests separated by NUL bytes, sent in turn (each
 * new request takes the next one), e.g. random callers of many tenants with their tokens;
 * --method/--path/--body/--header are then ignored.
 *
 * Every connection sends one request at a time. With --rate 0 (default) it sends the next
 * request as soon as the answer arrived (closed loop: the maximum rate). With --rate R the
 * requests follow one fixed schedule (request k due at start + k/R), each sent on an idle
 * connection at its due time: the loop sleeps to the exact due time on a timerfd (no polling
 * tick), and latency is measured from the scheduled start, so a stalled server (or a moment
 * with every connection busy) is charged for the requests it delayed (no coordinated
 * omission); "late" counts requests sent more than 100 us after they were due.
 *
 * --floor PATH (e.g. /healthz): first the same schedule (rate, connections) against GET PATH
 * of the same server for --floor-seconds (default 5), printed as the "floor" line: what this
 * tool, the kernel and the HTTP server add by themselves, measured in the same run.
 *
 * Prints requests, statuses, rate and p50/p90/p99/p99.9/max latency. Single-threaded epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "num.h"
#include "xalloc.h"

#define LG_MAX_LAT 2000000

struct lg_conn {
	int fd;
	const struct buf *req; /* the request being sent */
	size_t sent;           /* bytes of the request written */
	struct buf in;         /* response bytes so far */
	double started;        /* when the current request was (scheduled to be) sent */
	bool busy;
};

struct lg {
	const char *host;
	int port;
	int conns;
	double seconds, rate;
	struct buf req;
	struct buf *reqs; /* --requests: the requests, used in turn */
	size_t nreqs, next_req;
	long long done, errors, late, status[6];
	double *lat;
	size_t nlat;
};

static double lg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lg_connect(const struct lg *g)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g->port) };
	inet_pton(AF_INET, g->host, &sa.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Returns the length of a complete response in c->in, or 0 while incomplete. */
static size_t lg_complete(struct lg_conn *c, int *status)
{
	const char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	size_t head = (size_t)(end - c->in.data) + 4;
	long long clen = 0;
	const char *cl = memmem(c->in.data, head, "Content-Length:", 15);
	if (cl == NULL)
		cl = memmem(c->in.data, head, "content-length:", 15);
	if (cl != NULL) {
		cl += 15;
		while (*cl == ' ')
			cl++;
		if (num_parse_intn(cl, strcspn(cl, "\r"), 0, 1LL << 30, &clen) != NUM_OK)
			clen = 0;
	}
	if (c->in.len < head + (size_t)clen)
		return 0;
	long long st = 0;
	if (c->in.len < 12 || num_parse_intn(c->in.data + 9, 3, 100, 599, &st) != NUM_OK)
		st = 0;
	*status = (int)st;
	return head + (size_t)clen;
}

static void lg_record(struct lg *g, struct lg_conn *c, int status, double now)
{
	g->done++;
	g->status[status >= 100 && status < 600 ? status / 100 : 0]++;
	if (g->nlat < LG_MAX_LAT)
		g->lat[g->nlat++] = now - c->started;
}

/* Sends what is left of the current request; returns -1 on a dead connection. */
static int lg_send(struct lg *g, struct lg_conn *c)
{
	(void)g;
	while (c->sent < c->req->len) {
		ssize_t n =
		    send(c->fd, c->req->data + c->sent, c->req->len - c->sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		c->sent += (size_t)n;
	}
	return 0;
}

static void lg_start(struct lg *g, struct lg_conn *c, double when)
{
	c->busy = true;
	c->sent = 0;
	c->req = g->nreqs ? &g->reqs[g->next_req++ % g->nreqs] : &g->req;
	c->started = when;
	buf_reset(&c->in);
	if (lg_send(g, c) < 0)
		g->errors++;
}

static int lg_read(struct lg *g, struct lg_conn *c, double now)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0)
			return -1;
		buf_append(&c->in, chunk, (size_t)n);
	}
	int status = 0;
	if (c->busy && lg_complete(c, &status) > 0) {
		lg_record(g, c, status, now);
		c->busy = false;
		if (strstr(buf_str(&c->in), "Connection: close") != NULL)
			return -1;
	}
	return 0;
}

static int lg_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double lg_pct(const struct lg *g, double p)
{
	if (g->nlat == 0)
		return 0;
	size_t i = (size_t)(p * (double)(g->nlat - 1));
	return g->lat[i] * 1000.0;
}

/* Arms the timer at the absolute monotonic time t (seconds). */
static void lg_arm(int tfd, double t)
{
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)t;
	its.it_value.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm it */
	timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void lg_reconnect(struct lg *g, int ep, struct lg_conn *c)
{
	g->errors++;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = lg_connect(g);
	c->busy = false;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Starts every request that is due (rate mode) or every idle connection (closed loop);
 * returns the next due time (or end). */
static double lg_dispatch(struct lg *g, struct lg_conn *cs, double *due, double now, double end)
{
	double step = g->rate > 0 ? 1.0 / g->rate : 0;
	for (int i = 0; i < g->conns; i++) {
		struct lg_conn *c = &cs[i];
		if (c->busy || c->fd < 0)
			continue;
		if (g->rate <= 0) {
			lg_start(g, c, now);
			continue;
		}
		if (*due > now || *due >= end)
			break;
		if (now - *due > 100e-6)
			g->late++;
		lg_start(g, c, *due); /* latency counts from when it was due */
		*due += step;
	}
	if (g->rate > 0 && *due <= now)
		return end; /* due but every connection busy: the next answer wakes the loop */
	return g->rate > 0 && *due < end ? *due : end;
}

static void lg_run(struct lg *g, const char *label)
{
	int ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
	struct lg_conn *cs = xcalloc((size_t)g->conns, sizeof(*cs));
	for (int i = 0; i < g->conns; i++) {
		cs[i].fd = lg_connect(g);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
			                  .data.ptr = &cs[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	double t0 = lg_now(), end = t0 + g->seconds, due = t0;
	struct epoll_event evs[256];
	for (;;) {
		double now = lg_now();
		if (now >= end)
			break;
		lg_arm(tfd, lg_dispatch(g, cs, &due, now, end));
		int n = epoll_wait(ep, evs, 256, -1); /* the timer or a socket wakes it */
		now = lg_now();
		for (int i = 0; i < n; i++) {
			struct lg_conn *c = evs[i].data.ptr;
			if (c == NULL) { /* the timer: drain its count */
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					break;
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && c->busy && lg_send(g, c) < 0)
				evs[i].events |= EPOLLHUP;
			if (((evs[i].events & EPOLLIN) && lg_read(g, c, now) < 0) ||
			    (evs[i].events & (EPOLLHUP | EPOLLERR)))
				lg_reconnect(g, ep, c);
		}
	}
	double took = lg_now() - t0;
	qsort(g->lat, g->nlat, sizeof(double), lg_cmp);
	printf("%s%lld requests in %.1f s = %.0f req/s; 2xx %lld 3xx %lld 4xx %lld 5xx %lld "
	       "errors %lld late %lld; latency ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
	       label, g->done, took, (double)g->done / took, g->status[2], g->status[3],
	       g->status[4], g->status[5], g->errors, g->late, lg_pct(g, 0.50), lg_pct(g, 0.90),
	       lg_pct(g, 0.99), lg_pct(g, 0.999), lg_pct(g, 1.0));
	fflush(stdout);
	for (int i = 0; i < g->conns; i++) {
		if (cs[i].fd >= 0)
			close(cs[i].fd);
		buf_free(&cs[i].in);
	}
	free(cs);
	close(tfd);
	close(ep);
}

/* The floor: the same schedule against GET path of the same server (see the file comment). */
static void lg_floor(const struct lg *g, const char *path, double seconds)
{
	struct lg f = *g;
	f.seconds = seconds;
	f.reqs = NULL;
	f.nreqs = 0;
	f.next_req = 0;
	f.done = f.errors = f.late = 0;
	memset(f.status, 0, sizeof(f.status));
	f.nlat = 0;
	f.req = (struct buf)BUF_INIT;
	buf_appendf(&f.req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, g->host);
	char label[300];
	snprintf(label, sizeof(label), "loadgen floor (GET %s, same schedule): ", path);
	lg_run(&f, label);
	buf_free(&f.req);
}

int main(int argc, char **argv)
{
	struct lg g = { .host = "127.0.0.1", .conns = 64, .seconds = 10 };
	const char *method = "POST", *path = "/", *body_file = NULL, *reqs_file = NULL;
	const char *floor_path = NULL;
	double floor_seconds = 5;
	struct buf headers = BUF_INIT;
	long long v;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *val = argv[i + 1];
		if (strcmp(k, "--host") == 0)
			g.host = val;
		else if (strcmp(k, "--port") == 0 && num_parse_int(val, 1, 65535, &v) == NUM_OK)
			g.port = (int)v;
		else if (strcmp(k, "--method") == 0)
			method = val;
		else if (strcmp(k, "--path") == 0)
			path = val;
		else if (strcmp(k, "--body") == 0)
			body_file = val;
		else if (strcmp(k, "--requests") == 0)
			reqs_file = val;
		else if (strcmp(k, "--floor") == 0)
			floor_path = val;
		else if (strcmp(k, "--floor-seconds") == 0 &&
		         num_parse_int(val, 1, 3600, &v) == NUM_OK)
			floor_seconds = (double)v;
		else if (strcmp(k, "--header") == 0)
			buf_appendf(&headers, "%s\r\n", val);
		else if (strcmp(k, "--connections") == 0 &&
		         num_parse_int(val, 1, 10000, &v) == NUM_OK)
			g.conns = (int)v;
		else if (strcmp(k, "--seconds") == 0 && num_parse_int(val, 1, 3600, &v) == NUM_OK)
			g.seconds = (double)v;
		else if (strcmp(k, "--rate") == 0 && num_parse_int(val, 0, 10000000, &v) == NUM_OK)
			g.rate = (double)v;
		else {
			fprintf(stderr,
			        "loadgen: bad option %s (see the header of bench/loadgen.c)\n", k);
			return 2;
		}
	}
	if (g.port == 0) {
		fprintf(stderr, "loadgen: --port is required\n");
		return 2;
	}
	char *body = NULL;
	size_t blen = 0;
	char err[256];
	if (body_file && (body = file_read(body_file, 64 << 20, &blen, err, sizeof(err))) == NULL) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 2;
	}
	buf_appendf(&g.req, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", method, path, g.host,
	            buf_str(&headers));
	if (body)
		buf_appendf(&g.req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
		            blen);
	buf_append_str(&g.req, "\r\n");
	if (body)
		buf_append(&g.req, body, blen);
	char *all = NULL;
	size_t alen = 0;
	if (reqs_file && (all = file_read(reqs_file, 1 << 30, &alen, err, sizeof(err))) == NULL) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 2;
	}
	for (size_t off = 0; all && off < alen;) {
		size_t n = strnlen(all + off, alen - off);
		if (n > 0) {
			g.reqs = xreallocarray(g.reqs, g.nreqs + 1, sizeof(*g.reqs));
			g.reqs[g.nreqs] = (struct buf)BUF_INIT;
			buf_append(&g.reqs[g.nreqs++], all + off, n);
		}
		off += n + 1;
	}
	free(all);
	g.lat = xmallocarray(LG_MAX_LAT, sizeof(double));
	if (floor_path != NULL)
		lg_floor(&g, floor_path, floor_seconds);
	lg_run(&g, "loadgen: ");
	for (size_t i = 0; i < g.nreqs; i++)
		buf_free(&g.reqs[i]);
	free(g.reqs);
	free(g.lat);
	free(body);
	buf_free(&headers);
	buf_free(&g.req);
	return g.errors > g.done / 100 ? 1 : 0;
}
