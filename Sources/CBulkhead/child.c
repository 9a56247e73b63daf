// The child path: everything between clone and execve.
//
// Rules (see docs/DESIGN.md): the child shares the parent's memory (CLONE_VM), so it
// calls no glibc function that touches errno, locks, malloc or stdio, and no Swift.
// Every system call below is a raw one that returns -errno. The order is fixed and
// commented; a failure is written to the error pipe as (step, errno, index).
#define _GNU_SOURCE
#include "bulkhead_child.h"
#include "raw_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BH_PATH_MAX 4096
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

// mount_setattr(2) (Linux 5.12): declared here, since <linux/mount.h> and glibc's
// <sys/mount.h> cannot be included together.
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
struct bh_mount_attr {
  unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#define BH_MOUNT_ATTR_RDONLY 0x1ULL
#define BH_AT_RECURSIVE 0x8000
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif

__attribute__((noreturn)) static void bh_fail(const bh_child_config *c, int step, long err,
                                              int index) {
  bh_child_error e = {.step = step, .err = (int32_t)(err < 0 ? -err : err), .index = index};
  bh_raw3(__NR_write, c->err_fd, &e, sizeof e);
  for (;;) bh_raw1(__NR_exit, 125);
}

static size_t bh_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

/// Writes `prefix` then `v` in decimal into buf (at least strlen(prefix) + 12
/// bytes), NUL-terminated; returns the length.
static size_t bh_format_number(char *buf, const char *prefix, unsigned v) {
  size_t i = 0;
  for (; prefix[i]; i++) buf[i] = prefix[i];
  char digits[12];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v && n < 11);
  while (n) buf[i++] = digits[--n];
  buf[i] = 0;
  return i;
}

/// Writes "/proc/self/fd/<fd>" into buf (at least 32 bytes).
static void bh_fd_path(char *buf, int fd) { bh_format_number(buf, "/proc/self/fd/", (unsigned)fd); }

/// Opens `path` (absolute, inside the new root) as O_PATH, never leaving the rootfs:
/// RESOLVE_IN_ROOT treats ".." and absolute symlinks as if the rootfs were "/".
static long bh_resolve(int rootfd, const char *path, int extra_flags) {
  struct open_how how = {
      .flags = (uint64_t)(O_PATH | O_CLOEXEC | extra_flags),
      .mode = 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  return bh_raw4(__NR_openat2, rootfd, path, &how, sizeof how);
}

/// The mount flags a user namespace locks on a mount: a remount must repeat them.
static unsigned long bh_locked_flags(const char *path) {
  struct statfs sf;
  if (bh_raw2(__NR_statfs, path, &sf) < 0) return 0;
  unsigned long out = 0;
  if (sf.f_flags & ST_NOSUID) out |= MS_NOSUID;
  if (sf.f_flags & ST_NODEV) out |= MS_NODEV;
  if (sf.f_flags & ST_NOEXEC) out |= MS_NOEXEC;
  if (sf.f_flags & ST_NOATIME) out |= MS_NOATIME;
  if (sf.f_flags & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (sf.f_flags & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

static void bh_readonly(const bh_child_config *c, int rootfd, const char *target, int index);
static void bh_oci_mount(const bh_child_config *c, int rootfd, const bh_op *op, int index);

static void bh_reset_signals(const bh_child_config *c) {
  // The parent blocked every signal around clone; its handlers are Swift's and
  // must never run here. Reset every disposition, then unblock.
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl = {SIG_DFL, 0, 0, 0};
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    bh_raw4(__NR_rt_sigaction, sig, &dfl, 0, 8);  // EINVAL for reserved ones: fine
  }
  uint64_t empty = 0;
  long r = bh_raw4(__NR_rt_sigprocmask, SIG_SETMASK, &empty, 0, 8);
  if (r < 0) bh_fail(c, BH_STEP_SIGNALS, r, 0);
}

static void bh_loopback_up(const bh_child_config *c) {
  long s = bh_raw3(__NR_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) bh_fail(c, BH_STEP_LOOPBACK, s, 0);
  struct ifreq ifr;
  char *p = (char *)&ifr;
  for (size_t i = 0; i < sizeof ifr; i++) p[i] = 0;
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  long r = bh_raw3(__NR_ioctl, s, SIOCGIFFLAGS, &ifr);
  if (r < 0) bh_fail(c, BH_STEP_LOOPBACK, r, 0);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  r = bh_raw3(__NR_ioctl, s, SIOCSIFFLAGS, &ifr);
  if (r < 0) bh_fail(c, BH_STEP_LOOPBACK, r, 0);
  bh_raw1(__NR_close, s);
}

/// The id of the mount that holds `fd` (statx STATX_MNT_ID, Linux 5.8).
static long bh_mount_id(int fd, uint64_t *id) {
  struct statx stx;
  long r = bh_raw5(__NR_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx);
  if (r < 0) return r;
  if (!(stx.stx_mask & STATX_MNT_ID)) return -ENOSYS;
  *id = stx.stx_mnt_id;
  return 0;
}

/// BH_OP_MKPATH: creates `op->target` and its missing parents inside the root, but
/// only on the mount that holds `op->source` (a layer Bulkhead made: the host view's
/// root, an overlay, /tmp, a --tmpfs). Every parent is resolved with RESOLVE_IN_ROOT,
/// so a symlink to "/" or ".." lands inside the root; a parent on any other mount (a
/// rootfs Bulkhead must not write to, a host bind) is refused with EROFS.
static void bh_make_path(const bh_child_config *c, int rootfd, const bh_op *op, int index) {
  char buf[BH_PATH_MAX];
  size_t n = bh_strlen(op->target);
  if (n == 0 || n >= BH_PATH_MAX || op->target[0] != '/') bh_fail(c, BH_STEP_MKPATH, ENAMETOOLONG, index);
  for (size_t i = 0; i <= n; i++) buf[i] = op->target[i];
  int any_mount = (op->flags & BH_MKPATH_ANY_MOUNT) != 0;
  uint64_t layer_id = 0;
  long r = 0;
  if (!any_mount) {
    long layer = bh_resolve(rootfd, op->source, O_DIRECTORY);
    if (layer < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, layer, index);
    r = bh_mount_id((int)layer, &layer_id);
    bh_raw1(__NR_close, layer);
    if (r < 0) bh_fail(c, BH_STEP_MKPATH, r, index);
  }
  size_t start = 1;
  while (start < n) {
    size_t end = start;
    while (end < n && buf[end] != '/') end++;
    if (end == start) {  // "//"
      start++;
      continue;
    }
    int last = end >= n;
    char saved = buf[end];
    buf[end] = 0;
    long fd = bh_resolve(rootfd, buf, 0);
    if (fd >= 0) {
      bh_raw1(__NR_close, fd);
    } else if (fd != -ENOENT) {
      bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
    } else {
      // buf[start..end) is missing: create it in its parent, if that is the layer.
      long dir;
      if (start == 1) {
        dir = bh_resolve(rootfd, "/", O_DIRECTORY);
      } else {
        buf[start - 1] = 0;
        dir = bh_resolve(rootfd, buf, O_DIRECTORY);
        buf[start - 1] = '/';
      }
      if (dir < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, dir, index);
      uint64_t id = 0;
      r = any_mount ? 0 : bh_mount_id((int)dir, &id);
      if (r == 0 && !any_mount && id != layer_id) r = -EROFS;
      if (r == 0) {
        if (last && (op->flags & BH_MKPATH_FILE)) {
          r = bh_raw4(__NR_openat, dir, buf + start, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
          if (r >= 0) {
            bh_raw1(__NR_close, r);
            r = 0;
          }
        } else {
          r = bh_raw3(__NR_mkdirat, dir, buf + start, 0755);
        }
        if (r == -EEXIST) r = 0;
      }
      bh_raw1(__NR_close, dir);
      if (r < 0) bh_fail(c, BH_STEP_MKPATH, r, index);
    }
    buf[end] = saved;
    start = end + 1;
  }
}

/// BH_OP_COPY: the host file `op->source` (read on the host's paths, before
/// pivot_root) copied into the directory `op->target` of the root as `op->data`.
static void bh_copy_file(const bh_child_config *c, int rootfd, const bh_op *op, int index) {
  long in = bh_raw4(__NR_openat, AT_FDCWD, op->source, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  if ((in == -ENOENT || in == -ENOTDIR) && op->optional) return;
  if (in < 0) bh_fail(c, BH_STEP_COPY, in, index);
  long dir = bh_resolve(rootfd, op->target, O_DIRECTORY);
  if (dir < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, dir, index);
  long out = bh_raw4(__NR_openat, dir, op->data, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  bh_raw1(__NR_close, dir);
  if (out < 0) bh_fail(c, BH_STEP_COPY, out, index);
  for (;;) {
    long r = bh_raw4(__NR_sendfile, out, in, 0, 1L << 30);
    if (r == 0) break;
    if (r == -EINTR) continue;
    if (r < 0) bh_fail(c, BH_STEP_COPY, r, index);
  }
  bh_raw1(__NR_close, out);
  bh_raw1(__NR_close, in);
}

/// One operation of the mount plan, relative to the (not yet pivoted) rootfs.
static void bh_apply_op(const bh_child_config *c, int rootfd, const bh_op *op, int index) {
  char fdpath[32];
  switch (op->kind) {
    case BH_OP_MKDIR:
    case BH_OP_MKFILE:
    case BH_OP_SYMLINK: {
      // target is the directory to create in (resolved inside the rootfs), data the
      // entry's name; the *at calls take the O_PATH descriptor directly.
      long dir = bh_resolve(rootfd, op->target, O_DIRECTORY);
      if (dir < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, dir, index);
      long r;
      int step;
      if (op->kind == BH_OP_MKDIR) {
        step = BH_STEP_MKDIR;
        r = bh_raw3(__NR_mkdirat, dir, op->data, 0755);
      } else if (op->kind == BH_OP_MKFILE) {
        step = BH_STEP_MKFILE;
        r = bh_raw4(__NR_openat, dir, op->data, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (r >= 0) {
          bh_raw1(__NR_close, r);
          r = 0;
        }
      } else {
        step = BH_STEP_SYMLINK;
        r = bh_raw3(__NR_symlinkat, op->source, dir, op->data);
      }
      if (r == -EEXIST) r = 0;
      bh_raw1(__NR_close, dir);
      if (r < 0) bh_fail(c, step, r, index);
      return;
    }
    case BH_OP_MKPATH:
      bh_make_path(c, rootfd, op, index);
      return;
    case BH_OP_MOUNT:
      bh_oci_mount(c, rootfd, op, index);
      return;
    case BH_OP_MKNOD: {
      long dir = bh_resolve(rootfd, op->target, O_DIRECTORY);
      if (dir < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, dir, index);
      long r = bh_raw4(__NR_mknodat, dir, op->data, op->mode, op->dev);
      if (r == -EEXIST) r = 0;
      // mknod honours the umask: set the mode exactly, then the owner.
      if (r == 0) r = bh_raw4(__NR_fchmodat, dir, op->data, op->mode & 07777, 0);
      if (r == 0) r = bh_raw5(__NR_fchownat, dir, op->data, op->uid, op->gid, AT_SYMLINK_NOFOLLOW);
      bh_raw1(__NR_close, dir);
      if (r < 0) bh_fail(c, BH_STEP_MKNOD, r, index);
      return;
    }
    case BH_OP_SYSCTL: {
      long fd = bh_raw4(__NR_openat, AT_FDCWD, op->target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
      if (fd < 0) bh_fail(c, BH_STEP_SYSCTL, fd, index);
      long r = bh_raw3(__NR_write, fd, op->data, bh_strlen(op->data));
      bh_raw1(__NR_close, fd);
      if (r < 0) bh_fail(c, BH_STEP_SYSCTL, r, index);
      return;
    }
    case BH_OP_MASK: {
      long fd = bh_resolve(rootfd, op->target, 0);
      if (fd == -ENOENT) return;
      if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
      struct statx stx;
      long r = bh_raw5(__NR_statx, fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx);
      if (r < 0) bh_fail(c, BH_STEP_MOUNT, r, index);
      bh_fd_path(fdpath, (int)fd);
      if ((stx.stx_mode & S_IFMT) == S_IFDIR)
        r = bh_raw5(__NR_mount, "tmpfs", fdpath, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
      else
        r = bh_raw5(__NR_mount, "/dev/null", fdpath, 0, MS_BIND, 0);
      bh_raw1(__NR_close, fd);
      if (r < 0) bh_fail(c, BH_STEP_MOUNT, r, index);
      return;
    }
    case BH_OP_READONLY: {
      long fd = bh_resolve(rootfd, op->target, 0);
      if (fd == -ENOENT) return;
      if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
      bh_fd_path(fdpath, (int)fd);
      long r = bh_raw5(__NR_mount, fdpath, fdpath, 0, MS_BIND | MS_REC, 0);
      bh_raw1(__NR_close, fd);
      if (r < 0) bh_fail(c, BH_STEP_MOUNT, r, index);
      bh_readonly(c, rootfd, op->target, index);
      return;
    }
    case BH_OP_COPY:
      bh_copy_file(c, rootfd, op, index);
      return;
    case BH_OP_BIND:
    case BH_OP_TMPFS:
    case BH_OP_OVERLAY:
    case BH_OP_PROC:
    case BH_OP_DEVPTS: {
      long fd = bh_resolve(rootfd, op->target, 0);
      if (fd == -ENOENT && op->optional) return;
      if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
      bh_fd_path(fdpath, (int)fd);
      long r;
      if (op->kind == BH_OP_BIND) {
        r = bh_raw5(__NR_mount, op->source, fdpath, 0, MS_BIND | MS_REC, 0);
      } else if (op->kind == BH_OP_TMPFS) {
        r = bh_raw5(__NR_mount, "tmpfs", fdpath, "tmpfs", op->flags, op->data);
      } else if (op->kind == BH_OP_OVERLAY) {
        r = bh_raw5(__NR_mount, "overlay", fdpath, "overlay", op->flags, op->data);
      } else if (op->kind == BH_OP_PROC) {
        r = bh_raw5(__NR_mount, "proc", fdpath, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
      } else {
        r = bh_raw5(__NR_mount, "devpts", fdpath, "devpts", MS_NOSUID | MS_NOEXEC, op->data);
      }
      bh_raw1(__NR_close, fd);
      if (r < 0) bh_fail(c, BH_STEP_MOUNT, r, index);
      if (op->kind == BH_OP_BIND && (op->flags & MS_RDONLY)) bh_readonly(c, rootfd, op->target, index);
      return;
    }
    default:
      bh_fail(c, BH_STEP_MOUNT, EINVAL, index);
  }
}

/// Makes the mount at `target` read-only all the way down.
static void bh_readonly(const bh_child_config *c, int rootfd, const char *target, int index) {
  char fdpath[32];
  // Resolve again: an older descriptor names the directory under the new mount.
  long fd = bh_resolve(rootfd, target, 0);
  if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
  // Read-only all the way down: a bind is recursive (MS_REC), and a remount
  // would make only its top read-only, leaving the host's submounts under it
  // writable. mount_setattr(AT_RECURSIVE) reaches them all; before 5.12, or
  // under an outer seccomp profile that does not know it (EPERM), the remount
  // of the top is what there is.
  struct bh_mount_attr attr = {BH_MOUNT_ATTR_RDONLY, 0, 0, 0};
  long r = bh_raw5(__NR_mount_setattr, fd, "", AT_EMPTY_PATH | BH_AT_RECURSIVE, &attr, sizeof attr);
  if (r == -ENOSYS || r == -EPERM) {
    bh_fd_path(fdpath, (int)fd);
    unsigned long locked = bh_locked_flags(fdpath);
    r = bh_raw5(__NR_mount, 0, fdpath, 0, MS_REMOUNT | MS_BIND | MS_RDONLY | locked, 0);
  }
  bh_raw1(__NR_close, fd);
  if (r < 0) bh_fail(c, BH_STEP_REMOUNT, r, index);
}

/// BH_OP_MOUNT: one entry of the OCI config's `mounts`, in order. A bind is made
/// first and then remounted with its flags (the kernel ignores them on MS_BIND);
/// recursive read-only through mount_setattr as for `bulkhead run`'s binds.
static void bh_oci_mount(const bh_child_config *c, int rootfd, const bh_op *op, int index) {
  char fdpath[32];
  long fd = bh_resolve(rootfd, op->target, 0);
  if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
  bh_fd_path(fdpath, (int)fd);
  long r;
  int bind = (op->flags & MS_BIND) != 0;
  if (bind) {
    r = bh_raw5(__NR_mount, op->source, fdpath, 0, op->flags & (MS_BIND | MS_REC), 0);
  } else {
    r = bh_raw5(__NR_mount, op->source, fdpath, op->fstype, op->flags, op->data);
  }
  bh_raw1(__NR_close, fd);
  if (r < 0) bh_fail(c, BH_STEP_MOUNT, r, index);
  // The descriptor named the directory under the new mount: resolve again.
  fd = bh_resolve(rootfd, op->target, 0);
  if (fd < 0) bh_fail(c, BH_STEP_RESOLVE_TARGET, fd, index);
  bh_fd_path(fdpath, (int)fd);
  unsigned long extra = op->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_RDONLY);
  if (bind && extra) {
    unsigned long locked = bh_locked_flags(fdpath);
    r = bh_raw5(__NR_mount, 0, fdpath, 0, MS_REMOUNT | MS_BIND | extra | locked | (op->flags & MS_RDONLY), 0);
    if (r < 0) bh_fail(c, BH_STEP_REMOUNT, r, index);
  }
  if (op->propagation) {
    r = bh_raw5(__NR_mount, 0, fdpath, 0, op->propagation, 0);
    if (r < 0) bh_fail(c, BH_STEP_PROPAGATION, r, index);
  }
  bh_raw1(__NR_close, fd);
  if (bind && (op->flags & MS_RDONLY)) bh_readonly(c, rootfd, op->target, index);
}

static void bh_enter_rootfs(const bh_child_config *c) {
  // Nothing mounted from here on may propagate back to the host. A root meant to be
  // a slave or shared (OCI rootfsPropagation) starts as a slave, so the host's
  // mounts still come in; its own kind is set on the new root after pivot_root.
  unsigned long first = (c->root_propagation & (MS_SLAVE | MS_SHARED)) ? MS_REC | MS_SLAVE : MS_REC | MS_PRIVATE;
  long r = bh_raw5(__NR_mount, 0, "/", 0, first, 0);
  if (r < 0) bh_fail(c, BH_STEP_MOUNT_PRIVATE, r, 0);
  // The staging layer (the host view's root, overlay upper layers): on the host's
  // paths, in this namespace only, before the rootfs (which may live in it) is bound.
  if (c->stage_op_count) {
    long hostfd = bh_raw4(__NR_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (hostfd < 0) bh_fail(c, BH_STEP_OPEN_ROOTFS, hostfd, 0);
    for (size_t i = 0; i < c->stage_op_count && i < c->op_count; i++)
      bh_apply_op(c, (int)hostfd, &c->ops[i], (int)i);
    bh_raw1(__NR_close, hostfd);
  }
  // A bind of the rootfs onto itself makes it a mount point pivot_root accepts.
  r = bh_raw5(__NR_mount, c->rootfs, c->rootfs, 0, MS_BIND | MS_REC, 0);
  if (r < 0) bh_fail(c, BH_STEP_BIND_ROOTFS, r, 0);
  long rootfd = bh_raw4(__NR_openat, AT_FDCWD, c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (rootfd < 0) bh_fail(c, BH_STEP_OPEN_ROOTFS, rootfd, 0);
  for (size_t i = c->stage_op_count; i < c->op_count; i++) bh_apply_op(c, (int)rootfd, &c->ops[i], (int)i);
  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves
  // no path back to the host's tree (the runc way: no directory needed in the rootfs).
  r = bh_raw1(__NR_fchdir, rootfd);
  if (r < 0) bh_fail(c, BH_STEP_PIVOT_ROOT, r, 0);
  bh_raw1(__NR_close, rootfd);
  r = bh_raw2(__NR_pivot_root, ".", ".");
  if (r < 0) bh_fail(c, BH_STEP_PIVOT_ROOT, r, 0);
  r = bh_raw2(__NR_umount2, ".", MNT_DETACH);
  if (r < 0) bh_fail(c, BH_STEP_DETACH_OLD_ROOT, r, 0);
  r = bh_raw1(__NR_chdir, "/");
  if (r < 0) bh_fail(c, BH_STEP_DETACH_OLD_ROOT, r, 0);
  // The root's propagation, on the new root (as runc does: before pivot_root it
  // would be the host's root mount whose propagation changes).
  if (c->root_propagation) {
    r = bh_raw5(__NR_mount, 0, "/", 0, c->root_propagation, 0);
    if (r < 0) bh_fail(c, BH_STEP_PROPAGATION, r, -1);
  }
  // Only the root mount: /proc, /dev and /tmp keep their own flags. nodev always
  // (a node made in a writable rootfs must not open a host disk), read-only unless --rw.
  // The OCI config's sysctls, masked and read-only paths, on the new root.
  if (c->post_op_count) {
    long newroot = bh_raw4(__NR_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (newroot < 0) bh_fail(c, BH_STEP_OPEN_ROOTFS, newroot, 0);
    for (size_t i = 0; i < c->post_op_count; i++) bh_apply_op(c, (int)newroot, &c->post_ops[i], (int)(c->op_count + i));
    bh_raw1(__NR_close, newroot);
  }
  unsigned long locked = bh_locked_flags("/");
  unsigned long ro = (c->flags & BH_CHILD_READONLY_ROOT) ? MS_RDONLY : 0;
  if (c->flags & BH_CHILD_LITERAL_ROOT) {
    // OCI: root.readonly as configured, nothing added.
    if (ro) {
      r = bh_raw5(__NR_mount, 0, "/", 0, MS_REMOUNT | MS_BIND | ro | locked, 0);
      if (r < 0) bh_fail(c, BH_STEP_READONLY_ROOT, r, 0);
    }
    return;
  }
  r = bh_raw5(__NR_mount, 0, "/", 0, MS_REMOUNT | MS_BIND | MS_NODEV | ro | locked, 0);
  if (r < 0) bh_fail(c, BH_STEP_READONLY_ROOT, r, 0);
}

/// The workload's terminal: a pty from the sandbox's own /dev/ptmx (a container's
/// devpts instance, the host's at the process level), its slave the controlling
/// terminal (we are a session leader without one) and 0, 1, 2, bound on
/// /dev/console in a container (runtime-spec), its master sent to the supervisor,
/// which relays it to bulkhead's own terminal.
static void bh_terminal(const bh_child_config *c) {
  long master = bh_raw4(__NR_openat, AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (master < 0) bh_fail(c, BH_STEP_TERMINAL, master, 0);
  int unlock = 0;
  long r = bh_raw3(__NR_ioctl, master, TIOCSPTLCK, &unlock);
  if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 1);
  long slave = bh_raw3(__NR_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) bh_fail(c, BH_STEP_TERMINAL, slave, 2);
  if (c->console_rows && c->console_cols) {
    struct winsize ws = {.ws_row = c->console_rows, .ws_col = c->console_cols, .ws_xpixel = 0, .ws_ypixel = 0};
    r = bh_raw3(__NR_ioctl, slave, TIOCSWINSZ, &ws);
    if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 3);
  }
  r = bh_raw3(__NR_ioctl, slave, TIOCSCTTY, 0);
  if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 4);
  if (c->rootfs) {
    char fdpath[32];
    bh_fd_path(fdpath, (int)slave);
    r = bh_raw5(__NR_mount, fdpath, "/dev/console", 0, MS_BIND, 0);
    if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 5);
  }
  // The pty's name as the data ("/dev/pts/N", what conmon and containerd's console
  // receivers read), the master as the ancillary part.
  unsigned number = 0;
  r = bh_raw3(__NR_ioctl, master, TIOCGPTN, &number);
  if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 7);
  char name[32];
  size_t len = bh_format_number(name, "/dev/pts/", number);
  struct iovec iov = {.iov_base = name, .iov_len = len};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  for (size_t i = 0; i < sizeof control.buf; i++) control.buf[i] = 0;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = (int)master;
  unsigned char *data = CMSG_DATA(cm);
  for (size_t i = 0; i < sizeof fd; i++) data[i] = ((unsigned char *)&fd)[i];
  r = bh_raw3(__NR_sendmsg, c->console_fd, &msg, MSG_NOSIGNAL);
  if (r < 0) bh_fail(c, BH_STEP_CONSOLE_SEND, r, 0);
  bh_raw1(__NR_close, master);
  for (int target = 0; target < 3; target++) {
    r = bh_raw3(__NR_dup3, slave, target, 0);
    if (r < 0) bh_fail(c, BH_STEP_TERMINAL, r, 6);
  }
  if (slave > 2) bh_raw1(__NR_close, slave);
}

/// The OCI capability sets and identity (runc's order): bounding set, then keep the
/// permitted set across the uid change (PR_SET_KEEPCAPS), groups, gid, uid, then
/// capset of effective/permitted/inheritable and the ambient set raised one by one.
static void bh_oci_credentials(const bh_child_config *c) {
  long r;
  for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
    if (c->cap_bounding & (1ULL << cap)) continue;
    r = bh_raw2(__NR_prctl, PR_CAPBSET_DROP, cap);
    if (r < 0 && r != -EINVAL) bh_fail(c, BH_STEP_CAPBSET, r, cap);
  }
  r = bh_raw5(__NR_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (r < 0) bh_fail(c, BH_STEP_KEEPCAPS, r, 0);
  r = (c->flags & BH_CHILD_GROUP_LIST) ? bh_raw2(__NR_setgroups, c->group_count, c->groups)
                                       : bh_raw2(__NR_setgroups, 0, 0);
  if (r < 0) bh_fail(c, BH_STEP_SETGROUPS, r, 0);
  r = bh_raw3(__NR_setresgid, c->gid, c->gid, c->gid);
  if (r < 0) bh_fail(c, BH_STEP_SETGID, r, (int)c->gid);
  r = bh_raw3(__NR_setresuid, c->uid, c->uid, c->uid);
  if (r < 0) bh_fail(c, BH_STEP_SETUID, r, (int)c->uid);
  r = bh_raw5(__NR_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (r < 0) bh_fail(c, BH_STEP_KEEPCAPS, r, 1);
  // A change of credentials clears the parent-death signal: set it again, or, for a
  // detached exec, leave it clear (here, not later: a seccomp filter loaded early
  // may not allow another prctl).
  r = bh_raw2(__NR_prctl, PR_SET_PDEATHSIG, (c->flags & BH_CHILD_CLEAR_PDEATHSIG) ? 0 : SIGKILL);
  if (r < 0) bh_fail(c, BH_STEP_PDEATHSIG, r, 1);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)c->cap_effective;
  data[1].effective = (uint32_t)(c->cap_effective >> 32);
  data[0].permitted = (uint32_t)c->cap_permitted;
  data[1].permitted = (uint32_t)(c->cap_permitted >> 32);
  data[0].inheritable = (uint32_t)c->cap_inheritable;
  data[1].inheritable = (uint32_t)(c->cap_inheritable >> 32);
  r = bh_raw2(__NR_capset, &header, data);
  if (r < 0) bh_fail(c, BH_STEP_CAPSET, r, 0);
  r = bh_raw5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (r < 0 && r != -EINVAL) bh_fail(c, BH_STEP_AMBIENT, r, 0);
  for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
    if (!(c->cap_ambient & (1ULL << cap))) continue;
    // The kernel admits only a capability both permitted and inheritable (EPERM
    // otherwise); runc's default config lists ambient ones without inheritable,
    // and runc and crun go on without them: so does Bulkhead.
    r = bh_raw5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    if (r < 0 && r != -EPERM) bh_fail(c, BH_STEP_AMBIENT, r, cap);
  }
}

static void bh_close_fds(const bh_child_config *c) {
  // Mark everything above 2 close-on-exec (the error pipe already is: its EOF
  // tells the parent that execve succeeded), then clear the flag on passed ones.
  long r = bh_raw3(__NR_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (r < 0) {
    for (int fd = 3; fd < 65536; fd++) bh_raw3(__NR_fcntl, fd, F_SETFD, FD_CLOEXEC);
  }
  for (size_t i = 0; i < c->keep_fd_count; i++) {
    r = bh_raw3(__NR_fcntl, c->keep_fds[i], F_SETFD, 0);
    if (r < 0) bh_fail(c, BH_STEP_FDS, r, c->keep_fds[i]);
  }
}

/// Capabilities and identity, in the order that keeps each step possible: the
/// bounding set first (needs CAP_SETPCAP), then groups, gid, uid (raw syscalls:
/// glibc's setuid would broadcast to threads we do not have), then the sets.
static void bh_credentials(const bh_child_config *c) {
  long r;
  if (c->flags & BH_CHILD_CAPS) {
    for (int cap = 0; cap <= c->cap_last && cap < 64; cap++) {
      if (c->cap_keep & (1ULL << cap)) continue;
      r = bh_raw2(__NR_prctl, PR_CAPBSET_DROP, cap);
      if (r < 0 && r != -EINVAL) bh_fail(c, BH_STEP_CAPBSET, r, cap);
    }
  }
  if (c->flags & BH_CHILD_SET_IDS) {
    if (c->flags & BH_CHILD_SETGROUPS) {
      r = bh_raw2(__NR_setgroups, 0, 0);
      if (r < 0) bh_fail(c, BH_STEP_SETGROUPS, r, 0);
    }
    r = bh_raw3(__NR_setresgid, c->gid, c->gid, c->gid);
    if (r < 0) bh_fail(c, BH_STEP_SETGID, r, (int)c->gid);
    r = bh_raw3(__NR_setresuid, c->uid, c->uid, c->uid);
    if (r < 0) bh_fail(c, BH_STEP_SETUID, r, (int)c->uid);
    // A change of credentials clears the parent-death signal: set it again.
    r = bh_raw2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (r < 0) bh_fail(c, BH_STEP_PDEATHSIG, r, 1);
  }
  if (c->flags & BH_CHILD_CAPS) {
    // A non-root uid has lost its permitted set already; asking for it back fails.
    uint64_t keep = (c->flags & BH_CHILD_SET_IDS) && c->uid != 0 ? 0 : c->cap_keep;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = data[0].permitted = (uint32_t)keep;
    data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
    data[0].inheritable = data[1].inheritable = 0;
    r = bh_raw2(__NR_capset, &header, data);
    if (r < 0) bh_fail(c, BH_STEP_CAPSET, r, 0);
    r = bh_raw5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (r < 0 && r != -EINVAL) bh_fail(c, BH_STEP_AMBIENT, r, 0);
  }
}

/// The last step before execve: from here on only what the filter allows.
static void bh_seccomp(const bh_child_config *c) {
  if (!c->seccomp_filter) return;
  struct sock_fprog prog = {.len = c->seccomp_length, .filter = (struct sock_filter *)c->seccomp_filter};
  long r = bh_raw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, c->seccomp_flags, &prog);
  if (r < 0) bh_fail(c, BH_STEP_SECCOMP, r, 0);
}

/// execvpe without allocation (execve on arm64 and x86_64 alike; no legacy calls): PATH search in a stack buffer, the same error rules.
__attribute__((noreturn)) static void bh_exec(const bh_child_config *c) {
  const char *file = c->file;
  long r;
  int has_slash = 0;
  for (const char *p = file; *p; p++)
    if (*p == '/') has_slash = 1;
  if (has_slash || c->path_search == 0) {
    r = bh_raw3(__NR_execve, file, c->argv, c->envp);
    bh_fail(c, BH_STEP_EXEC, r, 0);
  }
  char buf[BH_PATH_MAX];
  size_t flen = bh_strlen(file);
  int seen_eacces = 0;
  const char *p = c->path_search;
  for (;;) {
    const char *end = p;
    while (*end && *end != ':') end++;
    size_t dlen = (size_t)(end - p);
    if (dlen == 0) {
      buf[0] = '.';
      dlen = 1;
    } else if (dlen < BH_PATH_MAX) {
      for (size_t i = 0; i < dlen; i++) buf[i] = p[i];
    }
    if (dlen + 1 + flen + 1 <= BH_PATH_MAX) {
      buf[dlen] = '/';
      for (size_t i = 0; i <= flen; i++) buf[dlen + 1 + i] = file[i];
      r = bh_raw3(__NR_execve, buf, c->argv, c->envp);
      switch (-r) {
        case EACCES:
          seen_eacces = 1;
          break;
        case ENOENT:
        case ENOTDIR:
        case ESTALE:
        case ENODEV:
        case ETIMEDOUT:
          break;
        default:
          bh_fail(c, BH_STEP_EXEC, r, 0);
      }
    }
    if (!*end) break;
    p = end + 1;
  }
  bh_fail(c, BH_STEP_EXEC, seen_eacces ? EACCES : ENOENT, 0);
}

/// Whether `path` is a regular file this process may execute (runc's LookPath test).
static long bh_executable(const char *path) {
  struct statx stx;
  long r = bh_raw5(__NR_statx, AT_FDCWD, path, 0, STATX_TYPE | STATX_MODE, &stx);
  if (r < 0) return r;
  if ((stx.stx_mode & S_IFMT) != S_IFREG) return -EACCES;
  return bh_raw4(__NR_faccessat, AT_FDCWD, path, X_OK, 0);
}

/// The command's path, searched in PATH as bh_exec would, before the init parks:
/// a missing command must fail `create` (engines map runc's text to exit 127).
/// The parked init is a copy (no CLONE_VM), so a static buffer is its own.
static char bh_resolved[BH_PATH_MAX];
static const char *bh_lookup(const bh_child_config *c) {
  const char *file = c->file;
  for (const char *p = file; *p; p++) {
    if (*p == '/') {
      long r = bh_executable(file);
      if (r < 0) bh_fail(c, BH_STEP_EXEC, r, 1);
      return file;
    }
  }
  size_t flen = bh_strlen(file);
  int seen_eacces = 0;
  const char *p = c->path_search ? c->path_search : "";
  for (;;) {
    const char *end = p;
    while (*end && *end != ':') end++;
    size_t dlen = (size_t)(end - p);
    if (dlen > 0 && dlen + 1 + flen + 1 <= BH_PATH_MAX) {
      for (size_t i = 0; i < dlen; i++) bh_resolved[i] = p[i];
      bh_resolved[dlen] = '/';
      for (size_t i = 0; i <= flen; i++) bh_resolved[dlen + 1 + i] = file[i];
      long r = bh_executable(bh_resolved);
      if (r == 0) return bh_resolved;
      if (r == -EACCES) seen_eacces = 1;
    }
    if (!*end) break;
    p = end + 1;
  }
  bh_fail(c, BH_STEP_EXEC, seen_eacces ? EACCES : ENOENT, 1);
}

/// The OCI create/start split. Every setup step is done: tell the parent (parked),
/// wait for its commit byte (the state is on disk), leave the parent-death signal
/// (the CLI exits, the engine is our subreaper), say so (released), then block on
/// exec.fifo until `start` writes one byte. Only then execve.
/// Closes every descriptor above 2 except the three a parked init needs: while it
/// waits it must not hold the caller's pipes open (a reader would wait for EOF).
static void bh_close_all_but(int a, int b, int c3) {
  int keep[3] = {a, b, c3};
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
  unsigned from = 3;
  for (int i = 0; i < 3; i++) {
    if (keep[i] < 3) continue;
    if ((unsigned)keep[i] > from) bh_raw3(__NR_close_range, from, (unsigned)keep[i] - 1, 0);
    from = (unsigned)keep[i] + 1;
  }
  bh_raw3(__NR_close_range, from, ~0U, 0);
}

__attribute__((noreturn)) static void bh_park_and_exec(const bh_child_config *c) {
  const char *path = bh_lookup(c);
  if (c->keep_fd_count == 0) bh_close_all_but(c->go_fd, c->err_fd, c->exec_fifo_fd);
  bh_child_error rec = {.step = BH_STEP_NONE, .err = 0, .index = BH_RECORD_PARKED};
  long r = bh_raw3(__NR_write, c->err_fd, &rec, sizeof rec);
  if (r != (long)sizeof rec) bh_fail(c, BH_STEP_PARK, r < 0 ? r : EIO, 0);
  char byte = 0;
  do {
    r = bh_raw3(__NR_read, c->go_fd, &byte, 1);
  } while (r == -EINTR);
  if (r != 1) bh_fail(c, BH_STEP_PARK, r < 0 ? r : ECANCELED, 1);
  bh_raw1(__NR_close, c->go_fd);
  r = bh_raw2(__NR_prctl, PR_SET_PDEATHSIG, 0);
  if (r < 0) bh_fail(c, BH_STEP_PARK, r, 2);
  rec.index = BH_RECORD_RELEASED;
  r = bh_raw3(__NR_write, c->err_fd, &rec, sizeof rec);
  bh_raw1(__NR_close, c->err_fd);
  // Nobody reads the error pipe any more: from here a failure is an exit status.
  do {
    r = bh_raw3(__NR_read, c->exec_fifo_fd, &byte, 1);
  } while (r == -EINTR);
  if (r != 1) {
    for (;;) bh_raw1(__NR_exit, 125);
  }
  bh_raw1(__NR_close, c->exec_fifo_fd);
  r = bh_raw3(__NR_execve, path, c->argv, c->envp);
  for (;;) bh_raw1(__NR_exit, r == -ENOENT ? 127 : 126);
}

/// The child's entry point. Never returns.
int bh_child_main(void *arg) {
  const bh_child_config *c = (const bh_child_config *)arg;
  long r;

  // 1. Signals: default dispositions, empty mask.
  bh_reset_signals(c);
  // 2. Die with the supervisor. The go pipe below closes the race with a parent
  //    that died before this prctl: its write end closes and read returns 0.
  r = bh_raw2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (r < 0) bh_fail(c, BH_STEP_PDEATHSIG, r, 0);
  // 3. Tell the parent that the death signal is armed, then wait until it has
  //    written id maps and placed us in our cgroup. The parent writes "go" only
  //    after "armed", so a parent that dies later kills us through PDEATHSIG, and
  //    one that died earlier leaves no writer (our own copy of the write end is
  //    closed first): read returns 0 and we leave.
  bh_raw1(__NR_close, c->go_write_fd);
  bh_child_error armed = {.step = BH_STEP_NONE, .err = 0, .index = 0};
  r = bh_raw3(__NR_write, c->err_fd, &armed, sizeof armed);
  if (r != (long)sizeof armed) {
    for (;;) bh_raw1(__NR_exit, 125);
  }
  char go = 0;
  do {
    r = bh_raw3(__NR_read, c->go_fd, &go, 1);
  } while (r == -EINTR);
  if (r != 1) bh_fail(c, BH_STEP_WAIT_GO, r < 0 ? r : ECANCELED, 0);
  // A parked init (OCI create) reads the go pipe once more, for the commit byte.
  if (c->exec_fifo_fd < 0) bh_raw1(__NR_close, c->go_fd);
  // 3a. OCI exec: into the container's namespaces, all at once through its init's
  //     pidfd (the mount namespace's root and cwd come with it).
  if (c->join_fd >= 0) {
    r = bh_raw2(__NR_setns, c->join_fd, c->join_flags);
    if (r < 0) bh_fail(c, BH_STEP_JOIN, r, 0);
    bh_raw1(__NR_close, c->join_fd);
  }
  for (size_t i = 0; i < c->ns_join_count; i++) {
    r = bh_raw2(__NR_setns, c->ns_joins[i].fd, c->ns_joins[i].type);
    if (r < 0) bh_fail(c, BH_STEP_JOIN, r, (int)i + 1);
    bh_raw1(__NR_close, c->ns_joins[i].fd);
  }
  // 3a'. Now in its cgroup: a cgroup namespace rooted there.
  if (c->flags & BH_CHILD_UNSHARE_CGROUP) {
    r = bh_raw1(__NR_unshare, CLONE_NEWCGROUP);
    if (r < 0) bh_fail(c, BH_STEP_CGROUP_NS, r, 0);
  }
  // 3b. In a user namespace whose map does not hold our host uid (root with
  //     --userns), we are nobody inside until we switch to its root: mounts would
  //     create files owned by an unmapped id (EOVERFLOW).
  if (c->flags & BH_CHILD_BECOME_ROOT) {
    if (c->flags & BH_CHILD_SETGROUPS) {
      r = bh_raw2(__NR_setgroups, 0, 0);
      if (r < 0) bh_fail(c, BH_STEP_SETGROUPS, r, 0);
    }
    r = bh_raw3(__NR_setresgid, 0, 0, 0);
    if (r < 0) bh_fail(c, BH_STEP_SETGID, r, 0);
    r = bh_raw3(__NR_setresuid, 0, 0, 0);
    if (r < 0) bh_fail(c, BH_STEP_SETUID, r, 0);
    r = bh_raw2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (r < 0) bh_fail(c, BH_STEP_PDEATHSIG, r, 1);
  }
  // 4. A new session: no controlling terminal, so TIOCSTI cannot reach the caller's.
  if (c->flags & BH_CHILD_SETSID) {
    r = bh_raw0(__NR_setsid);
    if (r < 0) bh_fail(c, BH_STEP_SETSID, r, 0);
  }
  // 5. UTS and network namespaces.
  if (c->flags & BH_CHILD_SET_HOSTNAME) {
    r = bh_raw2(__NR_sethostname, c->hostname, bh_strlen(c->hostname));
    if (r < 0) bh_fail(c, BH_STEP_HOSTNAME, r, 0);
  }
  if (c->flags & BH_CHILD_SET_DOMAINNAME) {
    r = bh_raw2(__NR_setdomainname, c->domainname, bh_strlen(c->domainname));
    if (r < 0) bh_fail(c, BH_STEP_DOMAINNAME, r, 0);
  }
  if (c->flags & BH_CHILD_LOOPBACK_UP) bh_loopback_up(c);
  // 6. The filesystem: mounts, pivot_root, old root detached, root read-only.
  if (c->rootfs) bh_enter_rootfs(c);
  if (c->cwd) {
    r = bh_raw1(__NR_chdir, c->cwd);
    if (r < 0) bh_fail(c, BH_STEP_CHDIR, r, 0);
  }
  // 6b. A terminal of the sandbox's own (after the mounts: its devpts; after setsid).
  if (c->console_fd >= 0) bh_terminal(c);
  // 7. Resource limits.
  for (size_t i = 0; i < c->rlimit_count; i++) {
    r = bh_raw4(__NR_prlimit64, 0, c->rlimits[i].resource, &c->rlimits[i].limit, 0);
    if (r < 0) bh_fail(c, BH_STEP_RLIMIT, r, (int)i);
  }
  if (c->flags & BH_CHILD_SET_UMASK) bh_raw1(__NR_umask, c->umask);
  // 8. Capabilities and identity: bounding set, groups, gid, uid, the other sets.
  //    OCI with noNewPrivileges false: the filter loads first, while CAP_SYS_ADMIN
  //    is still held (without no_new_privs the kernel demands it).
  if (c->flags & BH_CHILD_SECCOMP_EARLY) bh_seccomp(c);
  if (c->flags & BH_CHILD_OCI_CAPS)
    bh_oci_credentials(c);
  else
    bh_credentials(c);
  // 9. No privileges gained through execve (setuid bits, file capabilities).
  if (c->flags & BH_CHILD_NO_NEW_PRIVS) {
    r = bh_raw5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) bh_fail(c, BH_STEP_NO_NEW_PRIVS, r, 0);
  }
  // 10. Only 0, 1, 2 and the passed descriptors survive execve (stdout may be a
  //     pipe of the supervisor's: dup2 clears close-on-exec on the copy).
  if (c->stdout_fd >= 0 && c->stdout_fd != 1) {
    r = bh_raw3(__NR_dup3, c->stdout_fd, 1, 0);  // dup3: arm64 has no dup2
    if (r < 0) bh_fail(c, BH_STEP_STDOUT, r, 0);
  }
  bh_close_fds(c);
  // 11. seccomp, last: the filter need only allow what execve and the error report use
  //     (and, for a parked init, read, write, prctl and close).
  if (!(c->flags & BH_CHILD_SECCOMP_EARLY)) bh_seccomp(c);
  // 12. execve. On success the error pipe closes with no data. An OCI init parks first.
  if (c->exec_fifo_fd >= 0) bh_park_and_exec(c);
  bh_exec(c);
}
