"""The confinement of a Tcl run: bubblewrap (bwrap) namespaces, a seccomp filter and resource limits.

A run sees only what the tool needs, read-only: /usr (with the /bin, /lib, /lib64, /sbin links),
/etc/ld.so.cache and /etc/alternatives, the tool's own folder when it is installed outside /usr;
plus a fresh /proc of its own PID namespace, a minimal read-only /dev (null, zero, random, tty) with
a private 16 MB /dev/shm, the sandbox folder (design copy and script) read-write at /sandbox, and the
sandbox's ``.tmp`` folder as its private /tmp. Everything else, the root included, is read-only. Never the index, the data dir, home folders, the repository or
the host's /tmp and /dev/shm. It runs as uid/gid 65534 (nobody) in new user, PID, network, IPC, UTS
and cgroup namespaces, with no capabilities, ``no_new_privs`` (bwrap sets it), no further user
namespaces (``--disable-userns``), its own session, and dies with its parent. When the server is root,
bwrap itself is started as nobody, so the sandbox maps to an unprivileged host user (which is also
what makes the kernel enforce the process cap: root's processes are exempt from RLIMIT_NPROC).
A seccomp filter (libseccomp via pyseccomp) refuses ptrace, mount, namespace, kexec, bpf, keyring,
perf, module and similar calls. Limits (CPU seconds, address space, processes, file size, no core
dumps) are set by prlimit inside the sandbox, so they apply to the tool and all it starts.

The environment is PATH, HOME=/tmp, TMPDIR=/tmp and LANG only: never the server's.

:func:`confinement` probes once whether all this works here; :func:`bwrap_command` builds the command.
Where it does not work, the run is refused (fail closed) with :data:`INSTALL_HINT`.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOBODY = 65534
SHM_MB = 16  # the run's private /dev/shm (memory-backed)
INSIDE = "/sandbox"  # where the sandbox folder is seen by the run
INSTALL_HINT = ("install bubblewrap and util-linux's prlimit (apt-get install bubblewrap util-linux), libseccomp "
                "(apt-get install libseccomp2; pip install pyseccomp) and allow user namespaces "
                "(sysctl user.max_user_namespaces > 0); only for trusted local use, RunConfig(confine=False) "
                "runs without a sandbox")

# Calls a Tcl/EDA run never needs and that are the usual first step of an escape or a kernel attack.
# The first group must be filterable for the sandbox to count as set up; the rest are added where the
# installed libseccomp knows them.
_REQUIRED_DENY = ["ptrace", "mount", "umount2", "setns", "unshare", "kexec_load", "bpf", "keyctl",
                  "perf_event_open"]
_MORE_DENY = ["process_vm_readv", "process_vm_writev", "pivot_root", "chroot", "kexec_file_load", "add_key",
              "request_key", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
              "syslog", "acct", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "fsopen", "fsconfig",
              "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "quotactl", "lookup_dcookie",
              "iopl", "ioperm", "vhangup", "uselib"]
_NAMESPACE_FLAGS = (0x10000000, 0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000, 0x02000000)
# CLONE_NEWUSER, NEWNS, NEWUTS, NEWIPC, NEWPID, NEWNET, NEWCGROUP
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C  # push input into the terminal


@dataclass(frozen=True)
class Confinement:
    """What the probe found: whether runs can be confined, and how."""
    ok: bool
    reason: str = ""  # why not (with INSTALL_HINT), when not ok
    drop_to_nobody: bool = False  # start bwrap as uid 65534 (the server is root)
    notes: tuple[str, ...] = ()  # weaker points to show in the run's log


@lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """The compiled BPF filter (default allow; the calls above fail with EPERM, clone3 with ENOSYS so
    libc falls back to clone, whose namespace flags are refused). Raises RuntimeError where libseccomp
    or pyseccomp is missing."""
    try:
        import pyseccomp as sc
    except Exception as e:  # ImportError, or OSError/AttributeError from a missing libseccomp.so
        raise RuntimeError(f"the seccomp filter cannot be built: {type(e).__name__}: {e}") from e
    f = sc.SyscallFilter(sc.ALLOW)
    for name in _REQUIRED_DENY:
        f.add_rule(sc.ERRNO(errno.EPERM), name)
    for name in _MORE_DENY:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except Exception:  # a call this libseccomp (or architecture) does not know: nothing to refuse
            pass
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in _NAMESPACE_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for req in (_TIOCSTI, _TIOCLINUX):
        f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, req))
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


def seccomp_fd() -> int:
    """A fresh file descriptor holding the filter, for bwrap's ``--seccomp FD`` (the caller closes it)."""
    fd = os.memfd_create("chipassist-seccomp")  # close-on-exec: only pass_fds hands it on
    os.write(fd, seccomp_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _ro_binds(tool_exe: str | None) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        p = Path("/") / link
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    for etc in ("/etc/ld.so.cache", "/etc/alternatives"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    if tool_exe:  # a tool installed outside /usr (OpenROAD in /opt/...): its folder and its lib/share,
        real = Path(tool_exe).resolve().parent  # but never more of a home folder than the tool's own folder
        if not str(real).startswith("/usr/"):
            in_home = str(real).startswith(("/home/", "/root/"))
            for p in (real, *(() if in_home else (real.parent / "lib", real.parent / "share"))):
                if p.is_dir():
                    args += ["--ro-bind", str(p), str(p)]
    return args


def bwrap_command(sandbox: Path, command: list[str], *, cpu_s: int, memory_mb: int, max_procs: int,
                  file_mb: int, seccomp: int | None, info_fd: int | None = None) -> list[str]:
    """The full command line that runs ``command`` (absolute tool path first) confined in ``sandbox``.
    bwrap writes the PID of the sandbox's init (the PID namespace's pid 1) as JSON to ``info_fd``."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    path = "/usr/local/bin:/usr/bin:/bin"
    tool_dir = str(Path(command[0]).parent)
    if tool_dir not in path.split(":"):
        path = f"{tool_dir}:{path}"
    mib = 1024 * 1024
    return [
        bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
        "--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "chipassist-sandbox",
        "--new-session", "--die-with-parent",
        *_ro_binds(command[0]),
        # a private /dev with a small private /dev/shm; then /dev and the root itself read-only, so the only
        # writable places are the sandbox, its /tmp (both watched for size) and that /dev/shm
        "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SHM_MB * mib), "--tmpfs", "/dev/shm",
        "--remount-ro", "/dev",
        "--bind", str(sandbox), INSIDE, "--bind", str(sandbox / ".tmp"), "/tmp", "--remount-ro", "/",
        "--chdir", INSIDE,
        "--clearenv", "--setenv", "PATH", path, "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        *(["--seccomp", str(seccomp)] if seccomp is not None else []),
        *(["--info-fd", str(info_fd)] if info_fd is not None else []),
        # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL a second later
        "--", prlimit, f"--cpu={cpu_s}:{cpu_s + 1}", f"--as={memory_mb * mib}", f"--nproc={max_procs}",
        f"--fsize={file_mb * mib}", "--core=0", "--", *command,
    ]


def read_child_pid(info_r: int, timeout_s: float = 10.0) -> int | None:
    """The sandbox init's PID from bwrap's ``--info-fd`` pipe (closes ``info_r``); None if bwrap failed early."""
    import json
    import select

    data = b""
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and select.select([info_r], [], [], deadline - time.monotonic())[0]:
            chunk = os.read(info_r, 4096)
            if not chunk:
                break
            data += chunk
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError, OSError):
        return None
    finally:
        os.close(info_r)


def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    """Wait until ``pid`` has exited (gone or a zombie): for the sandbox's init, that means the kernel has
    killed every process of its PID namespace."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def spawn_kwargs(conf: Confinement) -> dict:
    """Popen arguments that start bwrap as nobody where the probe chose that."""
    if conf.drop_to_nobody:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


def prepare(sandbox: Path, conf: Confinement) -> None:
    """Hand the sandbox folder to the user the run maps to (nobody, when bwrap is started as nobody)."""
    if not conf.drop_to_nobody:
        return
    for root, dirs, files in os.walk(sandbox):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, NOBODY, NOBODY)


def _trial(conf: Confinement, base: str | None) -> str | None:
    """Run a tiny confined command; None when it worked, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="chipassist-probe-", dir=base) as tmp:
        sb = Path(tmp)
        (sb / ".tmp").mkdir()
        prepare(sb, conf)
        fd = seccomp_fd()
        try:
            # the marker must appear in the sandbox, /usr must be read-only and mount must be refused
            probe = [shutil.which("sh") or "/bin/sh", "-c",
                     "touch ok && ! touch /usr/.chipassist_probe 2>/dev/null && ! mount -t tmpfs x /tmp 2>/dev/null"]
            cmd = bwrap_command(sb, probe, cpu_s=10, memory_mb=256, max_procs=16, file_mb=1, seccomp=fd)
            proc = subprocess.run(cmd, capture_output=True, timeout=30, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                  **spawn_kwargs(conf))
        except (OSError, subprocess.SubprocessError) as e:
            return f"{type(e).__name__}: {e}"
        finally:
            os.close(fd)
        if proc.returncode != 0 or not (sb / "ok").exists():
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            return f"bwrap failed (exit {proc.returncode}): {err[-1] if err else 'no message'}"
    return None


def sandbox_base() -> str | None:
    """Where sandboxes are made: outside /tmp when possible (the run's /tmp is the sandbox's .tmp)."""
    for base in (os.environ.get("CHIPASSIST_SANDBOX_DIR"), "/var/tmp"):
        if base and os.path.isdir(base) and os.access(base, os.W_OK):
            return base
    return None  # the system default (usually /tmp)


@lru_cache(maxsize=1)
def confinement() -> Confinement:
    """Whether (and how) this machine can confine a run. Probed once (``confinement.cache_clear()``
    probes again): a trial run must write its sandbox, find /usr read-only and be refused ``mount``."""
    base = sandbox_base()
    missing = [name for name in ("bwrap", "prlimit") if not shutil.which(name)]
    if missing:
        return Confinement(False, f"{' and '.join(missing)} not found: {INSTALL_HINT}")
    try:
        seccomp_program()
    except RuntimeError as e:
        return Confinement(False, f"{e}: {INSTALL_HINT}")
    tries = [Confinement(True, drop_to_nobody=True)] if os.geteuid() == 0 else []
    tries.append(Confinement(True, notes=("note: bwrap runs as root here (user namespaces are not allowed for "
                                          "nobody), so the kernel does not enforce the process cap",))
                 if os.geteuid() == 0 else Confinement(True))
    problems = []
    for conf in tries:
        problem = _trial(conf, base)
        if problem is None:
            return conf
        problems.append(problem)
    return Confinement(False, f"the sandbox cannot be set up here ({'; '.join(problems)}): {INSTALL_HINT}")
