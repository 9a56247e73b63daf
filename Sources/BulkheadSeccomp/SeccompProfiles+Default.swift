#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

extension SeccompProfiles {
  /// Bulkhead's built-in `default` profile: an allow-list in the spirit of Docker's,
  /// written for Bulkhead.
  ///
  /// - What ordinary programs need is allowed (`allowed`, by category).
  /// - A few calls are allowed for some arguments only: `clone` without namespace
  ///   flags, `socket` for ordinary families, `personality` for the values Docker
  ///   allows, `ioctl` except the two that push input into a terminal.
  /// - Every other system call libseccomp knows fails with EPERM, by explicit rules:
  ///   the dangerous ones are listed with the reason (`denied`), the rest are every
  ///   name libseccomp knows for the native architecture that no rule mentions.
  /// - The default action, for what the profile cannot name (calls newer than the
  ///   installed libseccomp), is ENOSYS: "not implemented" makes glibc fall back to
  ///   an older call, where EPERM would make it fail. `clone3` gets ENOSYS for the
  ///   same reason: its flags sit in memory that seccomp cannot read, and glibc falls
  ///   back to `clone`, whose flags are checked, only on ENOSYS.
  ///
  /// The filter covers the native architecture only: a system call made through
  /// another ABI (`int 0x80` from x86_64) kills the calling thread.
  ///
  /// Built once per process: the rest of the names comes from libseccomp.
  public static func builtinDefault() -> SeccompProfile {
    builtinDefaultProfile
  }

  static let builtinDefaultProfile: SeccompProfile = {
    let eperm = SeccompAction.errno(EPERM)
    var rules: [SeccompRule] = []
    rules.append(SeccompRule(names: BuiltinDefault.allowed.flatMap(\.names), action: .allow))

    // clone(flags, ...): no CLONE_NEW* flag. s390 passes the stack first.
    let flagsIndex = ["s390", "s390x"].contains(runningArchitecture) ? 1 : 0
    rules.append(
      SeccompRule(
        names: ["clone"], action: .allow,
        arguments: [.noBits(BuiltinDefault.namespaceFlags, in: flagsIndex)]))
    rules.append(SeccompRule(names: ["clone"], action: eperm, arguments: [.always(flagsIndex)]))
    rules.append(SeccompRule(names: ["clone3"], action: .errno(ENOSYS)))

    // socket(family, ...): the families of ordinary programs. AF_NETLINK is how
    // glibc lists interfaces (getifaddrs, getaddrinfo with AI_ADDRCONFIG); the
    // kernel checks capabilities per netlink protocol. AF_PACKET and the rest
    // (AF_VSOCK, AF_ALG, AF_BLUETOOTH, AF_XDP, ...) fail with EPERM.
    for family in BuiltinDefault.socketFamilies {
      rules.append(
        SeccompRule(
          names: ["socket"], action: .allow,
          arguments: [SeccompArgument(index: 0, value: UInt64(family), op: .equal)]))
    }
    rules.append(SeccompRule(names: ["socket"], action: eperm, arguments: [.always(0)]))

    // personality(persona): the values Docker allows (PER_LINUX, PER_LINUX32,
    // UNAME26, PER_LINUX32|UNAME26, and 0xffffffff, the query), compared on all
    // 64 bits as Docker does.
    for persona in BuiltinDefault.personalities {
      rules.append(
        SeccompRule(
          names: ["personality"], action: .allow,
          arguments: [SeccompArgument(index: 0, value: persona, op: .equal)]))
    }
    rules.append(SeccompRule(names: ["personality"], action: eperm, arguments: [.always(0)]))

    // ioctl(fd, request, ...): TIOCSTI pushes bytes into a terminal's input and
    // TIOCLINUX (subcode 2, paste) does too: a sandboxed program sharing the
    // user's terminal could type commands into the shell it returns to. The
    // kernel reads the request as 32 bits, so only the low 32 are compared.
    for request in BuiltinDefault.terminalInjection {
      rules.append(SeccompRule(names: ["ioctl"], action: eperm, arguments: [.low32(1, equals: request)]))
    }
    rules.append(SeccompRule(names: ["ioctl"], action: .allow, arguments: [.always(1)]))

    rules.append(SeccompRule(names: BuiltinDefault.denied.flatMap(\.names), action: eperm))

    // Whatever else libseccomp knows: EPERM, so that only calls newer than the
    // library get the default ENOSYS.
    let mentioned = Set(rules.flatMap(\.names))
    let rest = LibSeccomp.nativeSyscallNames.filter { !mentioned.contains($0) }
    if !rest.isEmpty { rules.append(SeccompRule(names: rest, action: eperm)) }
    return SeccompProfile(defaultAction: .errno(ENOSYS), rules: rules)
  }()
}

/// The tables of the built-in profile. Names of other architectures (the 32-bit
/// `*32`/`*64`/`*_time64` twins, `arch_prctl`, ARM's `set_tls`) are listed so the
/// profile means the same everywhere; libseccomp drops a rule for a call the
/// native architecture does not have. Names newer than the installed libseccomp
/// (fchmodat2, cachestat, ...) are skipped with a note and get ENOSYS, which is
/// what a kernel without them would say.
enum BuiltinDefault {
  struct Group {
    var category: String
    var names: [String]
  }

  static let allowed: [Group] = [
    Group(
      category: "read, write and position open files",
      names: [
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "lseek", "_llseek", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
        "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "sync_file_range2", "arm_sync_file_range",
        "fallocate", "ftruncate", "ftruncate64", "truncate", "truncate64", "readahead", "fadvise64",
        "fadvise64_64", "arm_fadvise64_64", "cachestat",
      ]),
    Group(
      category: "open, close and duplicate descriptors",
      names: [
        "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64",
        "flock", "pipe", "pipe2", "eventfd", "eventfd2", "memfd_create", "inotify_init", "inotify_init1",
        "inotify_add_watch", "inotify_rm_watch",
      ]),
    Group(
      category: "files and directories by name",
      names: [
        "stat", "lstat", "fstat", "stat64", "lstat64", "fstat64", "newfstatat", "fstatat64", "statx", "statfs",
        "fstatfs", "statfs64", "fstatfs64", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
        "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
        "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
        // mkfifo is mknod(S_IFIFO); device nodes need CAP_MKNOD and a mount without nodev.
        "mknod", "mknodat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
        "chown32", "fchown32", "lchown32", "umask", "utime", "utimes", "futimesat", "utimensat",
        "utimensat_time64",
      ]),
    Group(
      category: "extended attributes",
      names: [
        "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr",
        "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat", "setxattrat",
        "listxattrat", "removexattrat",
      ]),
    Group(
      category: "waiting for descriptors",
      names: [
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
      ]),
    Group(
      category: "asynchronous I/O (the io_* calls; io_uring stays denied, as in Docker)",
      names: [
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64",
      ]),
    Group(
      category: "memory",
      names: [
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
        "munlock", "mlockall", "munlockall", "membarrier", "remap_file_pages", "pkey_mprotect", "pkey_alloc",
        "pkey_free", "map_shadow_stack", "mseal",
      ]),
    Group(
      category: "processes and threads (clone is checked separately)",
      names: [
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid", "getpid",
        "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
        "set_robust_list", "get_robust_list", "rseq", "prctl", "arch_prctl", "set_thread_area",
        "get_thread_area", "set_tls", "cacheflush", "riscv_flush_icache", "pidfd_open", "pidfd_send_signal",
        "futex", "futex_time64", "futex_waitv", "futex_wait", "futex_wake", "futex_requeue",
      ]),
    Group(
      category: "scheduling and resource limits",
      names: [
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_getattr", "sched_setattr",
        "getpriority", "setpriority", "nice", "ioprio_get", "ioprio_set", "getrlimit", "setrlimit",
        "ugetrlimit", "prlimit64", "getrusage", "times", "getcpu",
      ]),
    Group(
      category: "identity and capabilities (the kernel checks the privilege)",
      names: [
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
        "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "getuid32",
        "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32", "setuid32",
        "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32", "setfsuid32",
        "setfsgid32", "capget", "capset",
      ]),
    Group(
      category: "signals",
      names: [
        "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
        "sigaltstack", "signalfd", "signalfd4", "pause", "restart_syscall", "sigaction", "signal", "sigprocmask",
        "sigpending", "sigsuspend", "sigreturn",
      ]),
    Group(
      category: "reading time, sleeping and timers",
      names: [
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "alarm", "getitimer", "setitimer",
        "timer_create", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
        "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_settime64",
        "timerfd_gettime", "timerfd_gettime64",
      ]),
    Group(
      category: "sockets (socket itself is checked separately)",
      names: [
        "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername", "sendto",
        "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown", "setsockopt",
        "getsockopt", "socketcall",
      ]),
    Group(
      category: "System V and POSIX IPC (isolated by the IPC namespace)",
      names: [
        "semget", "semop", "semtimedop", "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl",
        "msgget", "msgsnd", "msgrcv", "msgctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
      ]),
    Group(
      category: "system information and randomness",
      names: ["uname", "olduname", "oldolduname", "sysinfo", "getrandom"]),
    Group(
      category: "confining oneself further",
      names: ["seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"]),
  ]

  /// Denied with EPERM, and why. Everything else not allowed is denied too; these
  /// are written out so the reasons are on record and the tests can name them.
  static let denied: [Group] = [
    Group(
      category: "mounts and namespaces: the sandbox's shape is Bulkhead's to set",
      names: [
        "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
        "open_tree", "mount_setattr", "unshare", "setns",
        // The sandbox already provides the root; a chroot inside it serves only
        // the classic escape that needs a second root.
        "chroot",
      ]),
    Group(
      category: "the machine: rebooting, kernels, modules, swap, accounting, quotas",
      names: [
        "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "query_module", "get_kernel_syms", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
        "_sysctl", "sysfs", "ustat", "nfsservctl", "vhangup", "uselib", "lookup_dcookie",
        // The host's name is Bulkhead's to set, before seccomp.
        "sethostname", "setdomainname",
      ]),
    Group(
      category: "the clock: seccomp cannot see inside struct timex, so adjtimex's read-only form goes too",
      names: [
        "settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex", "clock_adjtime",
        "clock_adjtime64",
      ]),
    Group(
      category: "other processes' memory and state",
      names: [
        "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "process_mrelease", "kcmp",
        "pidfd_getfd",
      ]),
    Group(
      category: "kernel attack surface beyond ordinary programs",
      names: [
        "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup",
        "io_uring_enter", "io_uring_register", "fanotify_init", "fanotify_mark", "memfd_secret", "modify_ldt",
        "vm86", "vm86old", "iopl", "ioperm", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind",
        "migrate_pages", "move_pages",
      ]),
    Group(
      category: "file handles bypass the path walk (the 'shocker' escape)",
      names: ["open_by_handle_at", "name_to_handle_at"]),
  ]

  /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
  /// | CLONE_NEWPID | CLONE_NEWNET (include/uapi/linux/sched.h): Docker's mask.
  static let namespaceFlags: UInt64 = 0x7e02_0000

  /// AF_UNIX, AF_INET, AF_INET6, AF_NETLINK.
  static let socketFamilies: [Int32] = [1, 2, 10, 16]

  /// PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, and the query 0xffffffff.
  static let personalities: [UInt64] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]

  /// TIOCSTI and TIOCLINUX (include/uapi/asm-generic/ioctls.h; the same on every
  /// architecture Bulkhead builds for).
  static let terminalInjection: [UInt32] = [0x5412, 0x541c]
}
