// The parent side of the clone: clone3 with CLONE_VM on a private stack, falling
// back to glibc's clone(). Sharing the address space (as posix_spawn does) keeps
// the cost of a spawn independent of the supervisor's heap: no page tables are
// copied. The child must then never touch shared state: see child.c.
#define _GNU_SOURCE
#include "bulkhead_child.h"
#include "raw_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#define BH_CLONE_INTO_CGROUP 0x200000000ULL

int bh_child_main(void *arg);

/// The kernel's struct clone_args (v2, with cgroup), declared here to avoid
/// <linux/sched.h> clashing with glibc's <sched.h>.
struct bh_clone_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

/// long bh_clone3(struct bh_clone_args *args, size_t size, int (*fn)(void *), void *arg)
/// In the child (return value 0, on the new stack) it calls fn(arg) and exits
/// with its result; in the parent it returns the pid or -errno.
long bh_clone3(struct bh_clone_args *args, size_t size, int (*fn)(void *), void *arg);

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl bh_clone3\n"
    ".type bh_clone3,@function\n"
    "bh_clone3:\n"
    "  mov %rcx, %r8\n"  // arg: syscall clobbers rcx
    "  mov $435, %eax\n"  // __NR_clone3
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  ret\n"
    "1:\n"
    "  xor %ebp, %ebp\n"  // outermost frame
    "  and $-16, %rsp\n"  // the ABI's alignment at the call: a fork runs on the caller's stack
    "  mov %r8, %rdi\n"
    "  call *%rdx\n"
    "  mov %eax, %edi\n"
    "  mov $60, %eax\n"  // __NR_exit
    "  syscall\n"
    "  hlt\n"
    ".size bh_clone3, .-bh_clone3\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl bh_clone3\n"
    ".type bh_clone3,%function\n"
    "bh_clone3:\n"
    "  mov x10, x2\n"
    "  mov x11, x3\n"
    "  mov x8, #435\n"
    "  svc #0\n"
    "  cbz x0, 1f\n"
    "  ret\n"
    "1:\n"
    "  mov x29, xzr\n"
    "  mov x0, x11\n"
    "  blr x10\n"
    "  mov x8, #93\n"
    "  svc #0\n"
    "  brk #0\n"
    ".size bh_clone3, .-bh_clone3\n");
#endif

bh_spawn_result bh_spawn(const bh_child_config *config, uint64_t namespace_flags, void *stack,
                         size_t stack_size, int cgroup_fd) {
  bh_spawn_result result = {.pid = -1, .pidfd = -1, .err = 0, .used_clone3 = 1};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  int pidfd = -1;
  struct bh_clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_VM | CLONE_PIDFD | namespace_flags;
  if (cgroup_fd >= 0) {
    args.flags |= BH_CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  args.stack = (uint64_t)(uintptr_t)stack;
  args.stack_size = stack_size;
  long r = bh_clone3(&args, sizeof args, bh_child_main, (void *)config);
  if ((r == -ENOSYS || r == -EPERM) && cgroup_fd < 0) {
    // clone3 unknown to the kernel, or denied by an outer seccomp profile that
    // predates it (Docker's answers EPERM for unknown syscalls on old versions).
    result.used_clone3 = 0;
    r = clone(bh_child_main, (char *)stack + stack_size,
              (int)(CLONE_VM | CLONE_PIDFD | namespace_flags | SIGCHLD), (void *)config, &pidfd);
    if (r < 0) r = -errno;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r < 0) {
    result.err = (int)-r;
    return result;
  }
  result.pid = (pid_t)r;
  result.pidfd = pidfd;
  return result;
}

bh_spawn_result bh_spawn_fork(const bh_child_config *config, uint64_t namespace_flags, int cgroup_fd) {
  bh_spawn_result result = {.pid = -1, .pidfd = -1, .err = 0, .used_clone3 = 1};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  struct bh_clone_args args;
  memset(&args, 0, sizeof args);
  // No CLONE_VM and no stack: a fork, continuing on a copy of this stack.
  args.flags = CLONE_PIDFD | namespace_flags;
  if (cgroup_fd >= 0) {
    args.flags |= BH_CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  long r = bh_clone3(&args, sizeof args, bh_child_main, (void *)config);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r < 0) {
    result.err = (int)-r;
    return result;
  }
  result.pid = (pid_t)r;
  result.pidfd = pidfd;
  return result;
}

void bh_child_config_init(bh_child_config *config) {
  memset(config, 0, sizeof *config);
  config->go_fd = -1;
  config->go_write_fd = -1;
  config->err_fd = -1;
  config->stdout_fd = -1;
  config->console_fd = -1;
  config->join_fd = -1;
  config->exec_fifo_fd = -1;
}

int bh_pidfd_send_signal(int pidfd, int sig) {
  return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int bh_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int bh_setns(int fd, int nstype) { return setns(fd, nstype); }

int bh_waitid_pidfd(int pidfd, siginfo_t *info, struct rusage *usage, int options) {
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
  return (int)syscall(SYS_waitid, P_PIDFD, pidfd, info, options, usage);
}

int bh_siginfo_code(const siginfo_t *info) { return info->si_code; }
int bh_siginfo_status(const siginfo_t *info) { return info->si_status; }
pid_t bh_siginfo_pid(const siginfo_t *info) { return info->si_pid; }

int bh_prctl_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

const char *bh_step_name(int32_t step) {
  switch ((bh_step)step) {
    case BH_STEP_NONE: return "none";
    case BH_STEP_SIGNALS: return "reset signals";
    case BH_STEP_PDEATHSIG: return "set parent-death signal";
    case BH_STEP_WAIT_GO: return "wait for the supervisor";
    case BH_STEP_SETSID: return "setsid";
    case BH_STEP_HOSTNAME: return "sethostname";
    case BH_STEP_LOOPBACK: return "bring up lo";
    case BH_STEP_MOUNT_PRIVATE: return "make / rprivate";
    case BH_STEP_BIND_ROOTFS: return "bind the rootfs";
    case BH_STEP_OPEN_ROOTFS: return "open the rootfs";
    case BH_STEP_RESOLVE_TARGET: return "resolve a mount target in the rootfs";
    case BH_STEP_MKDIR: return "create a mount point";
    case BH_STEP_MKFILE: return "create a file mount point";
    case BH_STEP_SYMLINK: return "create a symlink";
    case BH_STEP_MOUNT: return "mount";
    case BH_STEP_REMOUNT: return "remount read-only";
    case BH_STEP_PIVOT_ROOT: return "pivot_root";
    case BH_STEP_DETACH_OLD_ROOT: return "detach the old root";
    case BH_STEP_READONLY_ROOT: return "remount / (nodev, read-only unless --rw)";
    case BH_STEP_CHDIR: return "chdir";
    case BH_STEP_RLIMIT: return "setrlimit";
    case BH_STEP_NO_NEW_PRIVS: return "set no_new_privs";
    case BH_STEP_FDS: return "keep a passed descriptor";
    case BH_STEP_EXEC: return "execve";
    case BH_STEP_CLONE: return "clone";
    case BH_STEP_CAPBSET: return "drop from the bounding set";
    case BH_STEP_SETGROUPS: return "setgroups";
    case BH_STEP_SETGID: return "setresgid";
    case BH_STEP_SETUID: return "setresuid";
    case BH_STEP_CAPSET: return "capset";
    case BH_STEP_AMBIENT: return "clear the ambient set";
    case BH_STEP_SECCOMP: return "load the seccomp filter";
    case BH_STEP_STDOUT: return "redirect stdout";
    case BH_STEP_MKPATH: return "create a mount point in a Bulkhead layer";
    case BH_STEP_COPY: return "copy a host file into the host view";
    case BH_STEP_TERMINAL: return "open the terminal";
    case BH_STEP_CONSOLE_SEND: return "send the terminal to the supervisor";
    case BH_STEP_CGROUP_NS: return "unshare the cgroup namespace";
    case BH_STEP_JOIN: return "join the container's namespaces";
    case BH_STEP_DOMAINNAME: return "setdomainname";
    case BH_STEP_MKNOD: return "mknod";
    case BH_STEP_SYSCTL: return "write a sysctl";
    case BH_STEP_PROPAGATION: return "set mount propagation";
    case BH_STEP_UMASK: return "umask";
    case BH_STEP_PARK: return "park the init until start";
    case BH_STEP_KEEPCAPS: return "PR_SET_KEEPCAPS";
  }
  return "unknown step";
}

int bh_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int bh_recv_fd(int sock) {
  char name[64];  // the pty's name; only the descriptor is used
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  errno = EBADMSG;
  return -1;
}

int bh_rename_noreplace(const char *from, const char *to) {
  return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}
