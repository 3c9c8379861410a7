/*
 * metrics_process: the process collector every program's /metrics ends with, under the
 * names Prometheus client libraries use (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
 * process_max_fds, process_start_time_seconds), and aimem_build_info{version="..."} 1.
 *
 * Read from /proc at each scrape (Linux only; a file that cannot be read leaves its metric
 * out rather than reporting a wrong value). It keeps no state and registers nothing in a
 * metrics registry: the values are the kernel's, not counters we move.
 */
#ifndef AIMEM_METRICS_PROCESS_H
#define AIMEM_METRICS_PROCESS_H

#include "buf.h"

/* Appends the process metrics and aimem_build_info in the text format 0.0.4. Thread-safe;
 * reads a few /proc files (no blocking beyond that). */
void metrics_process_render(struct buf *out);

#endif
