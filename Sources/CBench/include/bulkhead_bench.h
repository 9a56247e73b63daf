#ifndef BULKHEAD_BENCH_H
#define BULKHEAD_BENCH_H

#include <stdint.h>

/* The cost lab's C side: CPU placement and the clock. The IPC loops live beside
 * these (ipc.c); each returns its samples in nanoseconds. */

/* Pins the calling thread to one CPU; returns 0 or -errno. */
int bhb_pin_to_cpu(int cpu);

/* The CPU the calling thread runs on now (sched_getcpu), or -1. */
int bhb_current_cpu(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bhb_now_ns(void);

#endif
