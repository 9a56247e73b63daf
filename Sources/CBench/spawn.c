// The spawn loops of the cost lab: what a thread, a posix_spawn and a fork+exec
// cost from the call to the end of what was started (join or waitpid). They are in
// C so that the clock brackets the system calls and nothing of Swift's around them.
#define _GNU_SOURCE
#include "bulkhead_bench.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void *bhb_empty_thread(void *arg) { return arg; }

int bhb_spawn_threads(uint64_t *samples, size_t count) {
  for (size_t i = 0; i < count; i++) {
    pthread_t thread;
    uint64_t start = bhb_now_ns();
    int r = pthread_create(&thread, NULL, bhb_empty_thread, NULL);
    if (r != 0) return -r;
    pthread_join(thread, NULL);
    samples[i] = bhb_now_ns() - start;
  }
  return 0;
}

/// Waits for `pid` and checks that it exited with 0: a failed exec must not pass
/// for a fast spawn.
static int bhb_reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -errno;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -ECHILD;
  return 0;
}

int bhb_spawn_posix(const char *path, char *const argv[], char *const envp[], uint64_t *samples, size_t count) {
  for (size_t i = 0; i < count; i++) {
    pid_t pid;
    uint64_t start = bhb_now_ns();
    int r = posix_spawn(&pid, path, NULL, NULL, argv, envp);
    if (r != 0) return -r;
    r = bhb_reap(pid);
    if (r != 0) return r;
    samples[i] = bhb_now_ns() - start;
  }
  return 0;
}

int bhb_spawn_fork_exec(const char *path, char *const argv[], char *const envp[], uint64_t *samples, size_t count) {
  for (size_t i = 0; i < count; i++) {
    uint64_t start = bhb_now_ns();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      execve(path, argv, envp);
      _exit(127);
    }
    int r = bhb_reap(pid);
    if (r != 0) return r;
    samples[i] = bhb_now_ns() - start;
  }
  return 0;
}

void *bhb_resident_heap(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  // MAP_POPULATE may map the shared zero page for a read fault only; write one byte
  // per page so that every page is private, resident and has its own page-table entry.
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  for (size_t off = 0; off < bytes; off += (size_t)page) ((volatile char *)p)[off] = 1;
  return p;
}

void bhb_release_heap(void *heap, size_t bytes) {
  if (heap) munmap(heap, bytes);
}
