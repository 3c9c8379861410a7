/*
 * metrics_process: process metrics from /proc (see metrics_process.h). /proc/self/stat's
 * fields after the command name (which may hold spaces and parentheses, hence the search
 * for the last ')') give CPU ticks, start time in ticks since boot, virtual size and
 * resident pages; /proc/stat's btime anchors the start time to the Unix epoch.
 */
#include "metrics_process.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "file.h"

#ifndef AIMEM_VERSION
#define AIMEM_VERSION "dev"
#endif

struct metrics_process_stat {
	unsigned long long utime, stime, starttime, vsize;
	long long rss_pages;
};

/* 0 when /proc/self/stat parsed. */
static int metrics_process_stat(struct metrics_process_stat *st)
{
	char err[128];
	size_t len = 0;
	char *text = file_read("/proc/self/stat", 4096, &len, err, sizeof(err));
	if (text == NULL)
		return -1;
	const char *p = strrchr(text, ')');
	/* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime cutime cstime priority nice num_threads itrealvalue
	 * starttime(22) vsize rss(24) */
	int n = p ? sscanf(p + 1,
	                   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d"
	                   " %*d %*d %*d %llu %llu %lld",
	                   &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss_pages)
	          : 0;
	free(text);
	return n == 5 ? 0 : -1;
}

/* Seconds since the epoch at boot, or -1. */
static long long metrics_process_btime(void)
{
	char err[128];
	size_t len = 0;
	char *text = file_read("/proc/stat", 1 << 20, &len, err, sizeof(err));
	if (text == NULL)
		return -1;
	const char *b = strstr(text, "\nbtime ");
	long long btime = -1;
	if (b == NULL || sscanf(b + 7, "%lld", &btime) != 1)
		btime = -1;
	free(text);
	return btime;
}

/* Open descriptors (not counting the one reading the folder), or -1. */
static long long metrics_process_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	long long n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

static void metrics_process_one(struct buf *out, const char *name, const char *type,
                                const char *help, const char *value)
{
	buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name,
	            value);
}

void metrics_process_render(struct buf *out)
{
	char v[64];
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct metrics_process_stat st;
	if (metrics_process_stat(&st) == 0 && ticks > 0 && page > 0) {
		snprintf(v, sizeof(v), "%.2f", (double)(st.utime + st.stime) / (double)ticks);
		metrics_process_one(out, "process_cpu_seconds_total", "counter",
		                    "Total user and system CPU time spent in seconds.", v);
		snprintf(v, sizeof(v), "%lld", st.rss_pages * (long long)page);
		metrics_process_one(out, "process_resident_memory_bytes", "gauge",
		                    "Resident memory size in bytes.", v);
		snprintf(v, sizeof(v), "%llu", st.vsize);
		metrics_process_one(out, "process_virtual_memory_bytes", "gauge",
		                    "Virtual memory size in bytes.", v);
		long long btime = metrics_process_btime();
		if (btime >= 0) {
			snprintf(v, sizeof(v), "%.2f",
			         (double)btime + (double)st.starttime / (double)ticks);
			metrics_process_one(
			    out, "process_start_time_seconds", "gauge",
			    "Start time of the process since unix epoch in seconds.", v);
		}
	}
	long long fds = metrics_process_fds();
	if (fds >= 0) {
		snprintf(v, sizeof(v), "%lld", fds);
		metrics_process_one(out, "process_open_fds", "gauge",
		                    "Number of open file descriptors.", v);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)rl.rlim_cur);
		metrics_process_one(out, "process_max_fds", "gauge",
		                    "Maximum number of open file descriptors.", v);
	}
	buf_append_str(out, "# HELP aimem_build_info The running build: always 1, labelled with"
	                    " its version.\n# TYPE aimem_build_info gauge\n"
	                    "aimem_build_info{version=\"" AIMEM_VERSION "\"} 1\n");
}
