#define _GNU_SOURCE
#include "bulkhead_workloads.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void bhw_segv(void) {
  volatile int *volatile p = 0;
  *p = 1;
}

int bhw_fpe(int divisor) {
  volatile int d = divisor;
  volatile int n = 1;
  return n / d;
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
int bhw_stack_overflow(int depth) {
  volatile char frame[4096];
  frame[0] = (char)depth;
  frame[sizeof frame - 1] = (char)depth;
  return bhw_stack_overflow(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

long bhw_fork_bomb(long max, int *stop_errno) {
  _Atomic long *count =
      mmap(0, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (count == MAP_FAILED) {
    *stop_errno = errno;
    return -1;
  }
  pid_t root = getpid();
  *stop_errno = 0;
  for (;;) {
    if (max > 0 && atomic_load(count) >= max) break;
    pid_t pid = fork();
    if (pid < 0) {
      if (getpid() == root) *stop_errno = errno;
      break;
    }
    if (pid == 0) continue;  // the child forks on, too
    atomic_fetch_add(count, 1);
  }
  if (getpid() != root) {
    for (;;) pause();  // the bomb's processes stay until the sandbox ends
  }
  // Let the others reach their limit before reporting.
  usleep(100 * 1000);
  return atomic_load(count);
}

long bhw_orphan(unsigned seconds) {
  int fds[2];
  if (pipe(fds) != 0) return -errno;
  pid_t child = fork();
  if (child < 0) return -errno;
  if (child == 0) {
    setsid();  // leave the workload's session and process group
    pid_t grandchild = fork();
    if (grandchild == 0) {
      close(fds[0]);
      pid_t me = getpid();
      (void)!write(fds[1], &me, sizeof me);
      close(fds[1]);
      // Detach from the workload's stdio as a daemon would, so nothing waits on it.
      close(0);
      close(1);
      close(2);
      sleep(seconds);
      _exit(0);
    }
    _exit(grandchild < 0 ? 1 : 0);
  }
  close(fds[1]);
  pid_t orphan = -1;
  long n = read(fds[0], &orphan, sizeof orphan);
  close(fds[0]);
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return n == (long)sizeof orphan ? (long)orphan : -EIO;
}

long bhw_syscall6(long number, long a, long b, long c, long d, long e, long f) {
  long r = syscall(number, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}

int bhw_errno(void) { return errno; }
