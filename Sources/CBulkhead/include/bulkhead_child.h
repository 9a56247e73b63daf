// The C side of Bulkhead: the only code that runs between clone and execve,
// plus shims for what Swift cannot call directly (raw system calls, macros).
//
// Everything the child needs is prepared by the parent in a `bh_child_config`:
// strings are NUL-terminated, arrays are counted, nothing is allocated after clone.
#ifndef BULKHEAD_CHILD_H
#define BULKHEAD_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The steps of the child path, in the order they run. A failure is reported
/// to the parent as (step, errno, index) over the error pipe.
typedef enum bh_step {
  BH_STEP_NONE = 0,
  BH_STEP_SIGNALS = 1,         // reset dispositions and mask
  BH_STEP_PDEATHSIG = 2,       // die with the supervisor
  BH_STEP_WAIT_GO = 3,         // wait for the parent (id maps, cgroups)
  BH_STEP_SETSID = 4,          // new session
  BH_STEP_HOSTNAME = 5,        // sethostname in the new UTS namespace
  BH_STEP_LOOPBACK = 6,        // bring lo up in the new network namespace
  BH_STEP_MOUNT_PRIVATE = 7,   // make / rprivate so nothing propagates back
  BH_STEP_BIND_ROOTFS = 8,     // bind the rootfs onto itself
  BH_STEP_OPEN_ROOTFS = 9,     // open it to resolve targets inside it
  BH_STEP_RESOLVE_TARGET = 10, // openat2(RESOLVE_IN_ROOT) a mount target
  BH_STEP_MKDIR = 11,          // create a mount point under a Bulkhead tmpfs
  BH_STEP_MKFILE = 12,         // create a file mount point
  BH_STEP_SYMLINK = 13,        // create a symlink (in /dev)
  BH_STEP_MOUNT = 14,          // one mount operation (index says which)
  BH_STEP_REMOUNT = 15,        // a read-only remount of a bind (index)
  BH_STEP_PIVOT_ROOT = 16,     // pivot_root(".", ".")
  BH_STEP_DETACH_OLD_ROOT = 17,// umount2(".", MNT_DETACH)
  BH_STEP_READONLY_ROOT = 18,  // remount / read-only
  BH_STEP_CHDIR = 19,          // the working directory
  BH_STEP_RLIMIT = 20,         // setrlimit (index)
  BH_STEP_NO_NEW_PRIVS = 21,   // prctl(PR_SET_NO_NEW_PRIVS)
  BH_STEP_FDS = 22,            // close every descriptor not passed
  BH_STEP_EXEC = 23,           // execve
  BH_STEP_CLONE = 24,          // clone itself (reported by the parent side)
  BH_STEP_CAPBSET = 25,        // drop from the bounding set (index: the capability)
  BH_STEP_SETGROUPS = 26,      // setgroups
  BH_STEP_SETGID = 27,         // setresgid
  BH_STEP_SETUID = 28,         // setresuid
  BH_STEP_CAPSET = 29,         // capset: effective, permitted, inheritable
  BH_STEP_AMBIENT = 30,        // clear the ambient set
  BH_STEP_SECCOMP = 31,        // load the seccomp filter
  BH_STEP_STDOUT = 32,         // dup2 the captured stdout
  BH_STEP_MKPATH = 33,         // create a missing mount point in a Bulkhead layer (index)
  BH_STEP_COPY = 34,           // copy a host file into the host view's /etc (index)
  BH_STEP_DOMAINNAME = 35,     // setdomainname (OCI)
  BH_STEP_MKNOD = 36,          // create a device node (OCI linux.devices, index)
  BH_STEP_SYSCTL = 37,         // write a sysctl under /proc/sys (OCI, index)
  BH_STEP_PROPAGATION = 38,    // set a mount's propagation (OCI, index)
  BH_STEP_UMASK = 39,          // umask (OCI)
  BH_STEP_PARK = 40,           // the create/start handshake (OCI exec.fifo)
  BH_STEP_KEEPCAPS = 41,       // PR_SET_KEEPCAPS around the uid change (OCI)
  BH_STEP_TERMINAL = 42,       // open a pty in the sandbox's devpts, make it the controlling terminal
  BH_STEP_CONSOLE_SEND = 43,   // send its master to the supervisor (SCM_RIGHTS)
  BH_STEP_CGROUP_NS = 44,      // unshare the cgroup namespace once placed in the cgroup
  BH_STEP_JOIN = 45,           // setns into a running container's namespaces (OCI exec)
} bh_step;

/// One mount-namespace operation, applied in order before pivot_root.
/// `target` is an absolute path inside the rootfs, resolved with
/// RESOLVE_IN_ROOT so that symlinks in the rootfs cannot point a mount outside it.
typedef enum bh_op_kind {
  BH_OP_BIND = 1,    // source (host path) -> target; flags may hold MS_RDONLY
  BH_OP_TMPFS = 2,   // tmpfs on target, data = options
  BH_OP_PROC = 3,    // a fresh proc on target
  BH_OP_DEVPTS = 4,  // a new devpts instance on target
  BH_OP_MKDIR = 5,   // mkdir target (its parent must exist)
  BH_OP_MKFILE = 6,  // create an empty file at target (for file binds)
  BH_OP_SYMLINK = 7, // symlink: target -> source (source is the link text)
  BH_OP_MKPATH = 8,  // create target and its missing parents, only on the mount that
                     // holds `source` (a layer Bulkhead made); flags 1: the last one is a file
  BH_OP_OVERLAY = 9, // overlayfs on target, data = its options (lowerdir=...,upperdir=...)
  BH_OP_COPY = 10,   // copy the host file `source` into the directory target as `data`
  // The OCI front door (config.json applied literally):
  BH_OP_MOUNT = 11,    // mount(source, target, fstype, flags, data); a bind with more flags is
                       // remounted with them; then `propagation` (MS_SHARED...) if set
  BH_OP_MKNOD = 12,    // mknod the entry `data` in the directory target (mode, dev, uid, gid)
  BH_OP_SYSCTL = 13,   // after pivot_root: write `data` to the file target (/proc/sys/...)
  BH_OP_MASK = 14,     // after pivot_root: /dev/null on a file, a read-only tmpfs on a directory
  BH_OP_READONLY = 15, // after pivot_root: bind target on itself, read-only all the way down
} bh_op_kind;

/// BH_OP_MKPATH flags: the last component is a file; no layer check (OCI: the
/// engine's rootfs is the container's to write, as runc and crun treat it).
enum { BH_MKPATH_FILE = 1, BH_MKPATH_ANY_MOUNT = 2 };

typedef struct bh_op {
  int32_t kind;
  int32_t optional;  // 1: a target that does not exist is skipped (masked /proc paths)
  const char *source;
  const char *target;
  const char *data;
  unsigned long flags;
  const char *fstype;         // BH_OP_MOUNT
  unsigned long propagation;  // BH_OP_MOUNT: MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  uint64_t dev;               // BH_OP_MKNOD: makedev(major, minor)
  uint32_t mode;              // BH_OP_MKNOD: S_IFCHR/S_IFBLK/S_IFIFO | permissions
  uint32_t uid, gid;          // BH_OP_MKNOD: the node's owner
} bh_op;

typedef struct bh_rlimit {
  int32_t resource;
  struct rlimit limit;
} bh_rlimit;

enum {
  BH_CHILD_SETSID = 1 << 0,
  BH_CHILD_LOOPBACK_UP = 1 << 1,
  BH_CHILD_READONLY_ROOT = 1 << 2,
  BH_CHILD_NO_NEW_PRIVS = 1 << 3,
  BH_CHILD_SET_HOSTNAME = 1 << 4,
  BH_CHILD_CAPS = 1 << 5,      // apply cap_keep to the bounding, permitted, effective sets
  BH_CHILD_SET_IDS = 1 << 6,   // switch to uid/gid
  BH_CHILD_SETGROUPS = 1 << 7, // clear supplementary groups (not allowed when setgroups is denied)
  BH_CHILD_BECOME_ROOT = 1 << 8, // in a new user namespace: become its uid/gid 0
  // The OCI front door:
  BH_CHILD_OCI_CAPS = 1 << 9,       // the five sets as given (cap_bounding ... cap_ambient)
  BH_CHILD_GROUP_LIST = 1 << 10,    // setgroups(groups) instead of clearing them
  BH_CHILD_SET_DOMAINNAME = 1 << 11,
  BH_CHILD_SECCOMP_EARLY = 1 << 12, // noNewPrivileges false: load the filter while CAP_SYS_ADMIN is held
  BH_CHILD_LITERAL_ROOT = 1 << 13,  // remount / only for root.readonly, without Bulkhead's nodev
  BH_CHILD_SET_UMASK = 1 << 14,
  // A new cgroup namespace made after the parent placed the child in its cgroup
  // (v1 has no CLONE_INTO_CGROUP): made at clone, its root would be the parent's
  // cgroup and the workload would see its own path below it.
  BH_CHILD_UNSHARE_CGROUP = 1 << 15,
  // OCI exec --detach: leave the parent-death signal before execve (the engine,
  // not the exiting CLI, is the process's reaper from then on).
  BH_CHILD_CLEAR_PDEATHSIG = 1 << 16,
};

/// A namespace to join by path (OCI linux.namespaces[].path): an open descriptor and
/// its CLONE_NEW* type, which the kernel checks.
typedef struct bh_ns_join {
  int fd;
  int type;
} bh_ns_join;

/// Everything the child path reads. Owned by the parent, read-only in the child.
typedef struct bh_child_config {
  const char *file;          // the command: searched in `path_search` when it has no '/'
  const char *path_search;   // the PATH used to find `file` (inside the sandbox)
  char *const *argv;
  char *const *envp;
  const char *rootfs;        // NULL: no pivot_root (process level)
  const char *hostname;
  const char *cwd;           // NULL: leave it (process level) or "/" (container)
  const bh_op *ops;
  size_t op_count;
  size_t stage_op_count;     // the first ops: applied on the host's paths before the rootfs
                             // is bound (the staging tmpfs of the host view and overlays)
  const bh_rlimit *rlimits;
  size_t rlimit_count;
  const int *keep_fds;       // descriptors passed besides 0, 1, 2
  size_t keep_fd_count;
  int32_t flags;             // BH_CHILD_*
  int go_fd;                 // read end of the "go" pipe
  int go_write_fd;           // its write end: the child closes its own copy first
  int err_fd;                // write end of the CLOEXEC error pipe
  uint64_t cap_keep;         // capabilities kept (bit N = capability N)
  int32_t cap_last;          // the highest capability the kernel knows (cap_last_cap)
  uint32_t uid;              // with BH_CHILD_SET_IDS
  uint32_t gid;
  const void *seccomp_filter;     // struct sock_filter[seccomp_length], or NULL
  uint16_t seccomp_length;
  uint32_t seccomp_flags;         // SECCOMP_FILTER_FLAG_*
  int stdout_fd;             // >= 0: becomes the workload's stdout (dup2 onto 1)
  int console_fd;            // >= 0: a unix socket; the child opens a pty in its own /dev/ptmx,
                             // makes the slave its controlling terminal and stdio (and, in a
                             // container, /dev/console), and sends the master over this socket
  uint16_t console_rows;     // the pty's initial window size (0: left as the kernel makes it)
  uint16_t console_cols;
  // The OCI front door (zero/-1 for `bulkhead run`):
  const bh_op *post_ops;     // applied after pivot_root, on the new root: sysctl, masked, read-only paths
  size_t post_op_count;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  const uint32_t *groups;    // with BH_CHILD_GROUP_LIST
  size_t group_count;
  const char *domainname;
  uint32_t umask;
  int exec_fifo_fd;          // >= 0: park after setup (create) until `start` writes to the fifo
  unsigned long root_propagation; // MS_SHARED etc. (OCI linux.rootfsPropagation) for / after pivot_root; 0: rprivate
  int join_fd;               // >= 0: a pidfd of a container's init; setns(join_fd, join_flags) after go (OCI exec)
  uint64_t join_flags;       // CLONE_NEW* of the namespaces to join (the pid namespace is the parent's to join)
  const bh_ns_join *ns_joins; // OCI create: namespaces joined by path right after go (pid: the parent's)
  size_t ns_join_count;
} bh_child_config;

/// What the child writes to the error pipe before it exits.
typedef struct bh_child_error {
  int32_t step;
  int32_t err;
  int32_t index;
} bh_child_error;

/// The result of `bh_spawn`.
typedef struct bh_spawn_result {
  pid_t pid;        // > 0 on success
  int pidfd;        // the child's pidfd (CLOEXEC)
  int err;          // errno of clone on failure
  int used_clone3;  // 1 when clone3 was used, 0 when it fell back to clone
} bh_spawn_result;

/// Starts the child path with `clone3` (falling back to `clone` when clone3 is
/// unavailable), sharing the parent's memory (CLONE_VM) on a private stack so the
/// cost does not grow with the parent's heap. All signals are blocked around the
/// call; the child resets every disposition before it unblocks them.
/// `stack` must stay mapped until the error pipe reports EOF.
/// `cgroup_fd` >= 0 asks for CLONE_INTO_CGROUP (cgroup v2; clone3 only).
/// Zeroes `config` and sets every descriptor field to -1 ("none"): zero would mean
/// descriptor 0. Every plan starts from this, so a new descriptor field is off by
/// default for all of them.
void bh_child_config_init(bh_child_config *config);

bh_spawn_result bh_spawn(const bh_child_config *config, uint64_t namespace_flags, void *stack,
                         size_t stack_size, int cgroup_fd);

/// The OCI `create`: clone3 without CLONE_VM (the parked init outlives this process
/// and must not share its memory), so the child runs on a copy of the caller's stack.
bh_spawn_result bh_spawn_fork(const bh_child_config *config, uint64_t namespace_flags, int cgroup_fd);

/// The records of the create handshake on the error pipe (step BH_STEP_NONE):
/// index 0 armed, 1 parked (every step done, waiting for the commit byte on the
/// go pipe), 2 released (the parent-death signal cleared; blocking on exec.fifo).
enum { BH_RECORD_ARMED = 0, BH_RECORD_PARKED = 1, BH_RECORD_RELEASED = 2 };

// Shims for Swift.
int bh_pidfd_send_signal(int pidfd, int sig);
/// waitid(P_PIDFD, ...) with the rusage argument glibc does not expose.
int bh_waitid_pidfd(int pidfd, siginfo_t *info, struct rusage *usage, int options);
int bh_siginfo_code(const siginfo_t *info);
int bh_siginfo_status(const siginfo_t *info);
pid_t bh_siginfo_pid(const siginfo_t *info);
int bh_prctl_set_child_subreaper(void);
int bh_pidfd_open(pid_t pid);
/// setns(2) (for the pid namespace of an OCI exec: it only changes where children go).
int bh_setns(int fd, int nstype);
/// pipe2(O_CLOEXEC), which needs _GNU_SOURCE.
int bh_pipe_cloexec(int fds[2]);
/// renameat2(RENAME_NOREPLACE): the OCI state directory appears once, never over another.
int bh_rename_noreplace(const char *from, const char *to);
/// The step's name, for error messages ("pivot_root", "mount", ...).
const char *bh_step_name(int32_t step);
/// Receives one descriptor sent with SCM_RIGHTS on `sock` (MSG_DONTWAIT); -1 with errno when none.
int bh_recv_fd(int sock);

#ifdef __cplusplus
}
#endif
#endif
