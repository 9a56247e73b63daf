import BulkheadSeccomp

/// The documents `spec` and `features` print.
public enum OCIDocuments {
  /// runc's default config.json, for a rootfs at `rootfs` (relative to the bundle),
  /// with `terminal` false (so it runs without an engine to receive the pty).
  public static func defaultConfig(rootless: Bool) -> String {
    let caps = """
      "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"
      """
    let namespaces =
      rootless
      ? #"{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}"#
      : #"{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}"#
    return """
      {
        "ociVersion": "\(OCIConfig.specVersion)",
        "process": {
          "terminal": false,
          "user": {"uid": 0, "gid": 0},
          "args": ["sh"],
          "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
          "cwd": "/",
          "capabilities": {
            "bounding": [\(caps)],
            "effective": [\(caps)],
            "permitted": [\(caps)],
            "ambient": [\(caps)]
          },
          "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
          "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "bulkhead",
        "mounts": [
          {"destination": "/proc", "type": "proc", "source": "proc"},
          {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
          {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
          {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
          {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
          {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
          {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
          "resources": {"devices": [{"allow": false, "access": "rwm"}]},
          "namespaces": [\(namespaces)],
          "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
          "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
      }

      """
  }

  /// The seccomp actions the profile reader takes (SCMP_ACT_NOTIFY needs a
  /// supervisor and is refused) and the operators it compiles.
  static let seccompActions = [
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
  ]
  static var seccompOperators: String {
    SeccompArgument.Operator.allCases.map { "\"\($0.rawValue)\"" }.sorted().joined(separator: ", ")
  }

  public static let features = """
    {
      "ociVersionMin": "1.0.0",
      "ociVersionMax": "\(OCIConfig.specVersion)",
      "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
      "mountOptions": ["async", "atime", "bind", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"],
      "linux": {
        "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "uts"],
        "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
        "seccomp": {"enabled": true, "actions": [\(seccompActions.map { "\"\($0)\"" }.joined(separator: ", "))], "operators": [\(seccompOperators)]},
        "apparmor": {"enabled": false},
        "selinux": {"enabled": false}
      },
      "annotations": {"org.opencontainers.runtime-spec.features": "bulkhead: no user namespaces, no createContainer or startContainer hooks, no update yet"}
    }

    """
}
