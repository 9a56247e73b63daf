// Faults that Swift cannot express directly (it traps on integer division by zero
// and on a null dereference before the hardware sees them), and the fork bomb,
// whose children must not run Swift code after fork.
#ifndef BULKHEAD_WORKLOADS_H
#define BULKHEAD_WORKLOADS_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// Writes through a null pointer: the MMU raises SIGSEGV.
void bhw_segv(void);
/// Integer division by zero: SIGFPE on x86_64; aarch64 has no such trap and returns 0.
int bhw_fpe(int divisor);
/// Recurses with a large frame until the guard page: SIGSEGV.
int bhw_stack_overflow(int depth);
/// Forks until fork fails or `max` processes were created (0: no cap), counting in
/// shared memory; every process then sleeps. Returns the count in the original
/// process and stores the errno that stopped it (0 when the cap did).
long bhw_fork_bomb(long max, int *stop_errno);
/// Daemonises a grandchild (fork, setsid, fork) that sleeps `seconds` and returns
/// its pid (via a pipe), or -errno.
long bhw_orphan(unsigned seconds);
/// malloc(size) and write to every page through a volatile pointer, so that the
/// memory is really charged (an optimiser may drop a malloc+memset whose result is
/// never read). Returns NULL when malloc fails.
void *bhw_alloc_touch(size_t size);

/* One round of the crash lab's canary: fork a child that exits at once (and reap
 * it), then allocate and touch `bytes` and free them. *fork_err is 0 or the errno
 * of fork; returns 1 when the allocation succeeded. */
int bhw_canary_round(size_t bytes, int *fork_err);
/// The raw syscall(2), for try-syscall: returns the result or -errno.
long bhw_syscall6(long number, long a, long b, long c, long d, long e, long f);
/// errno after a failed libc call.
int bhw_errno(void);


/// One harmless attempt at a privileged system call, by name. Each uses an argument
/// the kernel rejects only *after* its permission check (a bad magic number, an
/// unknown filesystem type, invalid flags), so EPERM means "denied" and the other
/// errno means "the permission check passed", without changing the system.
/// Returns the result or -errno; *known is 0 for an unknown name. *note says which
/// errno means "allowed" for this call.
long bhw_try_named(const char *name, long arg, int *known, const char **allowed_note);

/// Result of an active check: `value` >= 0 when the operation was permitted,
/// -errno when refused; `killed` is the signal that ended the attempt (a seccomp
/// kill action), 0 otherwise; `skipped` when there was nothing to try it on.
/// `reach` says what a permitted attempt reached, by `reach_kind`: 'n' the network
/// namespace of the raw socket (reach[0] its inode, from SIOCGSKNS), 'r' the
/// directory /proc/1/root opened (reach[0] st_dev, reach[1] st_ino), 'd' the block
/// device node opened after mknod (reach[0] major, reach[1] minor); 0: nothing.
/// `stage` is 1 when a two-step check (mknod-block: create, then open) was refused
/// at its second step.
typedef struct bhw_check_result {
  long value;
  int killed;
  int skipped;
  int reach_kind;
  int stage;
  long reach[2];
} bhw_check_result;

/// One privileged operation attempted for real, in a forked child so that its
/// effects (a new namespace, a chroot, a kill by seccomp) never reach the caller.
/// Names: mount, unshare-user, unshare-net, setns-host, ptrace, kill, reboot, keyctl,
/// bpf, perf_event_open, init_module, write-proc-sys, proc-1-root, raw-socket,
/// mknod-block, chroot-escape, tiocsti. Each uses an argument that makes a
/// permitted call harmless (see workloads.c).
bhw_check_result bhw_check(const char *name);
#endif
