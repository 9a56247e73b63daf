#define _GNU_SOURCE
#include "bulkhead_workloads.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
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
    // Reserve a slot before forking, so that racing processes never pass the cap.
    long slot = atomic_fetch_add(count, 1);
    if (max > 0 && slot >= max) {
      atomic_fetch_sub(count, 1);
      break;
    }
    pid_t pid = fork();
    if (pid < 0) {
      atomic_fetch_sub(count, 1);
      if (getpid() == root) *stop_errno = errno;
      break;
    }
    if (pid == 0) continue;  // the child forks on, too
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

void *bhw_alloc_touch(size_t size) {
  volatile char *p = malloc(size);
  if (!p) return 0;
  for (size_t i = 0; i < size; i += 4096) p[i] = (char)i;
  p[size - 1] = 1;
  return (void *)p;
}

int bhw_canary_round(size_t bytes, int *fork_err) {
  *fork_err = 0;
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) {
    *fork_err = errno;
  } else {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void *p = bhw_alloc_touch(bytes);
  if (!p) return 0;
  free(p);
  return 1;
}

long bhw_syscall6(long number, long a, long b, long c, long d, long e, long f) {
  long r = syscall(number, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}

int bhw_errno(void) { return errno; }

#include <fcntl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/mount.h>

static long bhw_ret(long r) { return r == -1 ? -errno : r; }

long bhw_try_named(const char *name, long arg, int *known, const char **allowed_note) {
  *known = 1;
  *allowed_note = "succeeded";
  if (!strcmp(name, "getpid")) return bhw_ret(syscall(SYS_getpid));
  if (!strcmp(name, "mount")) {
    // may_mount() comes before the filesystem type lookup: ENODEV means allowed.
    *allowed_note = "ENODEV: permitted, stopped by an unknown filesystem type";
    return bhw_ret(syscall(SYS_mount, "none", "/", "bulkhead-no-such-fs", 0, 0));
  }
  if (!strcmp(name, "umount") || !strcmp(name, "umount2")) {
    // The capability check precedes the lookup of a path that does not exist.
    *allowed_note = "ENOENT: permitted, stopped by a missing path";
    return bhw_ret(syscall(SYS_umount2, "/bulkhead-no-such-mount", 0));
  }
  if (!strcmp(name, "unshare")) {
    // A new network namespace for this thread only: harmless, and real.
    *allowed_note = "succeeded: the caller now has a new network namespace";
    return bhw_ret(syscall(SYS_unshare, arg ? arg : CLONE_NEWNET));
  }
  if (!strcmp(name, "reboot")) {
    // CAP_SYS_BOOT is checked before the magic numbers: EINVAL means allowed.
    *allowed_note = "EINVAL: permitted, stopped by a wrong magic number";
    return bhw_ret(syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, 0));
  }
  if (!strcmp(name, "kexec_load")) {
    *allowed_note = "EINVAL: permitted, stopped by invalid flags";
    return bhw_ret(syscall(SYS_kexec_load, 0, 0, 0, 0xffff0000UL));
  }
  if (!strcmp(name, "init_module")) {
    *allowed_note = "EFAULT/ENOEXEC: permitted, stopped by an empty module";
    return bhw_ret(syscall(SYS_init_module, 0, 0, ""));
  }
  if (!strcmp(name, "keyctl")) {
    // KEYCTL_GET_KEYRING_ID of the session keyring, without creating it.
    *allowed_note = "succeeded";
    return bhw_ret(syscall(SYS_keyctl, 0, -3, 0));
  }
  if (!strcmp(name, "bpf")) {
    // BPF_MAP_CREATE with no attributes: EINVAL or EFAULT once bpf() is permitted.
    *allowed_note = "EINVAL/EFAULT: permitted, stopped by empty attributes";
    return bhw_ret(syscall(SYS_bpf, 0, 0, 0));
  }
  if (!strcmp(name, "perf_event_open")) {
    *allowed_note = "EFAULT: permitted, stopped by a null attribute";
    return bhw_ret(syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
  }
  if (!strcmp(name, "ptrace")) {
    // PTRACE_SEIZE does not stop the tracee; detach at once.
    pid_t target = arg ? (pid_t)arg : getppid();
    long r = syscall(SYS_ptrace, PTRACE_SEIZE, target, 0, 0);
    if (r == 0) syscall(SYS_ptrace, PTRACE_DETACH, target, 0, 0);
    *allowed_note = "succeeded: seized and detached";
    return bhw_ret(r);
  }
  if (!strcmp(name, "clone3")) {
    // A too-small struct: EINVAL when clone3 is reachable, ENOSYS when filtered.
    *allowed_note = "EINVAL: reachable, stopped by a too-small argument";
    return bhw_ret(syscall(SYS_clone3, 0, 0));
  }
  if (!strcmp(name, "chroot")) {
    *allowed_note = "succeeded: chroot(\"/\") leaves the root where it was";
    return bhw_ret(syscall(SYS_chroot, "/"));
  }
  if (!strcmp(name, "setns")) {
    int fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long r = bhw_ret(syscall(SYS_setns, fd, 0));
    close(fd);
    *allowed_note = "succeeded: joined PID 1's network namespace";
    return r;
  }
  if (!strcmp(name, "mknod")) {
    // A block device node (major 8, sda's) on /dev/shm, removed at once: CAP_MKNOD
    // decides; the node is never opened.
    long r = bhw_ret(syscall(SYS_mknodat, AT_FDCWD, "/dev/shm/bulkhead-mknod", 060600, 0x0800));
    if (r == 0) unlink("/dev/shm/bulkhead-mknod");
    *allowed_note = "succeeded: created and removed a block device node";
    return r;
  }
  *known = 0;
  return -ENOSYS;
}

#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/// A pid this process did not start and that is not itself: its parent when it
/// has one in view, else PID 1 when that is someone else; 0 when none is visible.
static pid_t bhw_other_pid(void) {
  pid_t parent = getppid();
  if (parent > 0) return parent;
  return getpid() == 1 ? 0 : 1;
}

static long bhw_chroot_escape(void) {
  // The classic escape: chroot into a subdirectory, climb with "..", chroot ".".
  // It needs CAP_SYS_CHROOT; where it works, it only reaches the root this process
  // started from, and the check reports whether that root has anything above it.
  struct stat before, after;
  if (stat("/", &before) != 0) return -errno;
  char dir[64] = "/tmp/.bulkhead-chroot-";
  size_t len = strlen(dir);
  unsigned v = (unsigned)getpid();
  char digits[12];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) dir[len++] = digits[--n];
  dir[len] = 0;
  // After chroot(dir) the absolute path means something else (it would be looked
  // up inside dir), so the directory is removed through a descriptor of /tmp
  // taken before: nothing is left on the host, whether chroot worked or not.
  int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tmp < 0) return -errno;
  const char *name = dir + strlen("/tmp/");
  if (mkdirat(tmp, name, 0700) != 0 && errno != EEXIST) {
    long e = -errno;
    close(tmp);
    return e;
  }
  long r = chroot(dir) == 0 ? 0 : -errno;
  unlinkat(tmp, name, AT_REMOVEDIR);  // the directory is still our root; removing it is allowed
  close(tmp);
  if (r < 0) return r;
  for (int i = 0; i < 64; i++) (void)!chdir("..");
  if (chroot(".") != 0) return -errno;
  if (stat("/", &after) != 0) return -errno;
  return (after.st_dev == before.st_dev && after.st_ino == before.st_ino) ? 0 : 1;
}

/// Runs in the forked child; `other` was chosen by the caller (its parent, or PID 1
/// when that is not the caller), 0 when no such process is in view.
/// mknod-block, as far as the harm: a block node for the disk of the first line of
/// /proc/partitions (else 8:0), in the first of /dev, /tmp, /dev/shm where one can be
/// created, then opened read-only (never read) and removed. A node on a nodev mount
/// (or one the devices cgroup refuses) is created but cannot be opened: stage 1.
static long bhw_mknod_block(long *reach, int *reach_kind, int *stage) {
  unsigned major = 8, minor = 0;
  FILE *partitions = fopen("/proc/partitions", "re");
  if (partitions) {
    char line[256];
    while (fgets(line, sizeof line, partitions)) {
      unsigned ma, mi;
      if (sscanf(line, " %u %u", &ma, &mi) == 2) {
        major = ma;
        minor = mi;
        break;
      }
    }
    fclose(partitions);
  }
  static const char *const dirs[] = {"/dev", "/tmp", "/dev/shm"};
  long first_error = -ENOENT;
  long open_error = 0;
  for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char path[64];
    snprintf(path, sizeof path, "%s/.bulkhead-mknod-%d", dirs[i], (int)getpid());
    dev_t dev = makedev(major, minor);
    if (mknod(path, S_IFBLK | 0600, dev) != 0) {
      long e = -errno;
      if (e == -EPERM) return e;  // CAP_MKNOD (or the devices cgroup) decides, wherever
      if (i == 0) first_error = e;
      continue;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    long e = fd < 0 ? -errno : 0;
    unlink(path);
    reach[0] = (long)major;
    reach[1] = (long)minor;
    if (fd >= 0) {
      close(fd);
      *reach_kind = 'd';
      return 0;
    }
    open_error = e;
  }
  if (open_error) {
    *stage = 1;
    return open_error;
  }
  return first_error;
}

static long bhw_check_in_child(const char *name, pid_t other, int *skipped, long *reach, int *reach_kind,
                               int *stage) {
  int known = 0;
  const char *note = 0;
  if (!strcmp(name, "mount")) return bhw_try_named("mount", 0, &known, &note);
  if (!strcmp(name, "unshare-user")) return bhw_ret(syscall(SYS_unshare, CLONE_NEWUSER));
  if (!strcmp(name, "unshare-net")) return bhw_ret(syscall(SYS_unshare, CLONE_NEWNET));
  if (!strcmp(name, "setns-host")) {
    // Only a host namespace in view can be joined: PID 1's, when PID 1 is not the caller.
    if (getppid() == 1) {
      *skipped = 1;
      return 0;
    }
    int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long r = bhw_ret(syscall(SYS_setns, fd, CLONE_NEWNS));
    close(fd);
    return r;
  }
  if (!strcmp(name, "ptrace") || !strcmp(name, "kill")) {
    pid_t target = other;
    if (target == 0) {
      *skipped = 1;
      return 0;
    }
    if (!strcmp(name, "kill")) return bhw_ret(kill(target, 0));  // signal 0: the permission check only
    return bhw_try_named("ptrace", target, &known, &note);
  }
  if (!strcmp(name, "reboot") || !strcmp(name, "keyctl") || !strcmp(name, "bpf") ||
      !strcmp(name, "perf_event_open") || !strcmp(name, "init_module"))
    return bhw_try_named(name, 0, &known, &note);
  if (!strcmp(name, "write-proc-sys")) {
    // Opened for writing, never written.
    int fd = open("/proc/sys/kernel/domainname", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
  }
  if (!strcmp(name, "proc-1-root")) {
    // What it opened is told by its identity: the caller compares it with roots it knows.
    int fd = open("/proc/1/root/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) == 0) {
      reach[0] = (long)st.st_dev;
      reach[1] = (long)st.st_ino;
      *reach_kind = 'r';
    }
    close(fd);
    return 0;
  }
  if (!strcmp(name, "raw-socket")) {
    // The kernel's own answer to "which network does it reach": the socket's netns.
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) return -errno;
    // SIOCGSKNS needs CAP_NET_ADMIN over the namespace; without it, the socket was
    // made in the caller's own network namespace, which /proc/self/ns/net names.
    int ns = ioctl(fd, SIOCGSKNS);
    struct stat st;
    if (ns >= 0 ? fstat(ns, &st) == 0 : stat("/proc/self/ns/net", &st) == 0) {
      reach[0] = (long)st.st_ino;
      *reach_kind = 'n';
    }
    if (ns >= 0) close(ns);
    close(fd);
    return 0;
  }
  if (!strcmp(name, "mknod-block")) return bhw_mknod_block(reach, reach_kind, stage);
  if (!strcmp(name, "chroot-escape")) return bhw_chroot_escape();
  if (!strcmp(name, "tiocsti")) {
    // A null pointer: EFAULT comes only after the permission checks, and nothing
    // is ever pushed into the terminal.
    return bhw_ret(syscall(SYS_ioctl, 0, 0x5412, 0));
  }
  *skipped = 2;
  return -EINVAL;
}

bhw_check_result bhw_check(const char *name) {
  bhw_check_result result = {.value = -ENOSYS, .killed = 0, .skipped = 0};
  int fds[2];
  if (pipe(fds) != 0) {
    result.value = -errno;
    return result;
  }
  pid_t other = bhw_other_pid();
  pid_t child = fork();
  if (child < 0) {
    result.value = -errno;
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (child == 0) {
    close(fds[0]);
    int skipped = 0, reach_kind = 0, stage = 0;
    long reach[2] = {0, 0};
    long value = bhw_check_in_child(name, other, &skipped, reach, &reach_kind, &stage);
    long out[6] = {value, skipped, reach_kind, stage, reach[0], reach[1]};
    (void)!write(fds[1], out, sizeof out);
    _exit(0);
  }
  close(fds[1]);
  long in[6] = {0, 0, 0, 0, 0, 0};
  long n = read(fds[0], in, sizeof in);
  close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    result.killed = WTERMSIG(status);
    result.value = 0;
  } else if (n == (long)sizeof in) {
    result.value = in[0];
    result.skipped = (int)in[1];
    result.reach_kind = (int)in[2];
    result.stage = (int)in[3];
    result.reach[0] = in[4];
    result.reach[1] = in[5];
  } else {
    result.value = -EIO;
  }
  return result;
}
