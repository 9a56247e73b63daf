#define _GNU_SOURCE
#include "bulkhead_bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

int bhb_pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    return r == 0 ? 0 : -r;
}

int bhb_current_cpu(void) { return sched_getcpu(); }

uint64_t bhb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
