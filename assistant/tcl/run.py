"""Level 3 of the Tcl check: run the script in the real tool, confined (see :mod:`assistant.tcl.sandbox`).

The sandbox is a fresh temporary folder holding a COPY of the design files and the script. The tool
runs there under bubblewrap: as nobody, with no capabilities, no network, a seccomp filter, its own
PID namespace, only /usr and the sandbox visible, a private /tmp (the sandbox's .tmp folder, so files
written to /tmp/x are kept as artifacts), a minimal environment and limits on wall time, CPU time,
memory, processes, file size, disk use and output. When the tool ends (or is stopped) its whole PID
namespace dies with it, so nothing it started outlives the run. Where confinement cannot be set up
the run is refused (fail closed) unless ``RunConfig(confine=False)`` asks for an unconfined run,
which is for trusted local use only. What the run prints back (errors, log tail) is trimmed and
scrubbed of anything that looks like a secret. A small Tcl wrapper sources the script and reports
which script line each tool command came from, so the tool's errors carry their lines.

    result = run_script(open("flow.tcl").read(), tool="yosys", design=[Path("top.v")])
    result.ok, result.errors        # [{"line": 7, "message": "Command syntax error: ..."}]
"""
from __future__ import annotations

import math
import os
import re
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assistant.tcl import sandbox as sb
from assistant.tcl.sandbox import sandbox_base  # noqa: F401  (re-exported: callers and tests use it here)
from assistant.types import RunResult

SCRIPT_NAME = "script.tcl"
RUN_LOG = "chipassist_run.log"  # the tool's full log, written next to the artifacts when they are kept
_MARK = "@@CHIPASSIST"

# Sources the script; each yosys call (and, after `yosys -import`, each imported command) first
# prints the script line it was called from, so yosys's own ERROR lines can be placed.
_WRAPPER = r"""
proc ::__ca_line {} {
    for {set l [info frame]} {$l > 0} {incr l -1} {
        set f [info frame $l]
        if {[dict exists $f file] && [file tail [dict get $f file]] eq "SCRIPT_TAIL"} { return [dict get $f line] }
    }
    return -1
}
proc ::__ca_wrap {c} {
    set orig ::__ca_orig_[string trimleft $c :]
    rename $c $orig
    proc $c args "puts stderr \"MARK line=\[::__ca_line\] cmd=$c\"; uplevel 1 \[list $orig {*}\$args\]"
}
if {[info commands ::yosys] ne ""} {
    rename ::yosys ::__ca_yosys
    proc ::yosys {args} {
        puts stderr "MARK line=[::__ca_line] cmd=[string range $args 0 200]"
        if {[lindex $args 0] eq "-import"} {
            set before [info commands ::*]
            ::__ca_yosys -import
            foreach c [info commands ::*] { if {$c ni $before} { ::__ca_wrap $c } }
            return
        }
        uplevel 1 [list ::__ca_yosys {*}$args]
    }
}
if {[catch {source SCRIPT} msg]} {
    puts stderr "MARK_TCL_ERROR $::errorInfo"
    puts stderr "MARK_END"
    exit 1
}
""".replace("MARK", _MARK)


def _wrapper(script_path: str) -> str:
    return _WRAPPER.replace("SCRIPT_TAIL", Path(script_path).name).replace("SCRIPT", script_path)


class RunConfig(BaseModel):
    """Limits of one run. Bad values are a pydantic ValidationError naming the field."""
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(120.0, gt=0, le=3600, allow_inf_nan=False)  # wall time
    memory_mb: int = Field(4096, ge=64)  # address space of each process
    cpu_s: int | None = Field(None, ge=1)  # CPU seconds of each process; default: the timeout, rounded up
    max_procs: int = Field(64, ge=4, le=4096)  # processes and threads of the run together
    max_output_bytes: int = Field(8_000_000, ge=1000)  # what the tool prints; the run is stopped past it
    disk_mb: int = Field(1024, ge=1)  # what the run may write in its sandbox (one file and all together)
    # True: confined by bubblewrap, or refused where it cannot be set up. False: NO sandbox (the tool
    # can read and write all the server's user can): only for trusted scripts on one's own machine.
    confine: bool = True
    log_tail_chars: int = Field(4000, ge=0)


MAX_FILES = 20_000  # files a run may create in its sandbox
MAX_ERRORS, MAX_ERROR_CHARS = 50, 500  # what of the tool's errors is shown back
_NOT_ARTIFACTS = (".yosys_history",)  # yosys's command history in HOME (/tmp): not something the script wrote


def tool_command(tool: str) -> list[str] | None:
    """How to run a Tcl file in ``tool`` (the wrapper's name is appended); None if not installed."""
    if tool == "yosys":
        exe = shutil.which("yosys")
        return [exe, "-Q", "-T", "-c"] if exe else None
    if tool == "openroad":
        exe = shutil.which("openroad")
        return [exe, "-no_init", "-no_splash", "-exit"] if exe else None
    raise ValueError(f"tool: unknown tool {tool!r}")


def parse_log(log: str, script_name: str = SCRIPT_NAME) -> tuple[list[dict], int | None]:
    """Tool errors with their script lines, and the last script line reached."""
    errors: list[dict] = []
    line: int | None = None
    lines = log.splitlines()
    for i, text in enumerate(lines):
        if text.startswith(_MARK + " line="):
            m = re.match(rf"{_MARK} line=(-?\d+)", text)
            line = int(m.group(1)) if m and int(m.group(1)) > 0 else line
        elif text.startswith(_MARK + "_TCL_ERROR "):
            info = [text[len(_MARK) + 11:]]
            for more in lines[i + 1:]:
                if more.startswith(_MARK + "_END"):
                    break
                info.append(more)
            where = re.findall(rf'\(file "[^"]*{re.escape(Path(script_name).name)}" line (\d+)\)', "\n".join(info))
            errors.append({"line": int(where[-1]) if where else line, "message": info[0].strip()})
        elif text.startswith("ERROR:") or re.match(r"^\[ERROR [A-Z]+-\d+\]", text):
            errors.append({"line": line, "message": text.removeprefix("ERROR:").strip()})
    return errors, line


def _artifact_name(rel: Path) -> str:
    """Sandbox-relative path as the script saw it: files under the private /tmp are shown as /tmp/..."""
    return "/tmp/" + "/".join(rel.parts[1:]) if rel.parts[0] == ".tmp" else str(rel)


def _copy_design(design: list[Path], sandbox: Path) -> None:
    for src in design:
        dst = sandbox / src.name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)


def _regular_files(root: Path) -> set[Path]:
    """Regular files under root, never following a link (a script can leave links to host files)."""
    found = set()
    for folder, _, files in os.walk(root, followlinks=False):
        for name in files:
            p = Path(folder) / name
            if stat.S_ISREG(os.lstat(p).st_mode):
                found.add(p)
    return found


def _disk_use(root: Path) -> tuple[int, int]:
    """(bytes allocated, entries) under root."""
    used = count = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            count += 1
            try:
                used += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
        if count > MAX_FILES:
            break
    return used, count


def _unconfined_limits(config: RunConfig, cpu_s: int):
    def apply() -> None:  # runs in the child between fork and exec (unconfined runs only)
        mib = 1024 * 1024
        for what, value in ((resource.RLIMIT_AS, config.memory_mb * mib), (resource.RLIMIT_CPU, cpu_s),
                            (resource.RLIMIT_FSIZE, config.disk_mb * mib), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(what, (value, value))
    return apply


def _spawn(argv: list[str], sandbox: Path, config: RunConfig, conf: sb.Confinement | None,
           cpu_s: int) -> tuple[subprocess.Popen, int | None]:
    """Start the tool: confined by bwrap (``conf``), or, with ``conf`` None, unconfined for trusted local use
    (limits still set, and still never the server's environment). Returns the process and the read end
    of bwrap's info pipe (None unconfined)."""
    seccomp = info_r = info_w = None
    if conf is not None:
        sb.prepare(sandbox, conf)
        seccomp = sb.seccomp_fd()
        info_r, info_w = os.pipe()
        argv = sb.bwrap_command(sandbox, argv, cpu_s=cpu_s, memory_mb=config.memory_mb, max_procs=config.max_procs,
                                file_mb=config.disk_mb, seccomp=seccomp, info_fd=info_w)
        kw = {**sb.spawn_kwargs(conf), "pass_fds": (seccomp, info_w), "env": {"PATH": "/usr/bin:/bin"}}
    else:
        kw = {"preexec_fn": _unconfined_limits(config, cpu_s), "env": {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(sandbox / ".tmp"),
            "TMPDIR": str(sandbox / ".tmp"), "LANG": "C.UTF-8"}}
    try:
        proc = subprocess.Popen(argv, cwd=sandbox, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    except BaseException:
        if info_r is not None:
            os.close(info_r)
        raise
    finally:
        for fd in (seccomp, info_w):
            if fd is not None:
                os.close(fd)
    return proc, info_r


def _read_output(proc: subprocess.Popen, config: RunConfig, sandbox: Path) -> tuple[bytes, str | None]:
    """The tool's output, read as it comes, and why the run was stopped early ("timeout", "output",
    "disk") or None. A tool that has exited is not waited on for long: children it left in the
    background may hold the pipe open (confined runs have none left: their PID namespace is gone)."""
    deadline = time.monotonic() + config.timeout_s
    out, size, exited_at, next_disk = [], 0, None, 0.0
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if now >= deadline:
                return b"".join(out), "timeout"
            if sel.select(timeout=min(0.2, deadline - now)):
                data = os.read(fd, 65536)
                if not data:
                    break
                out.append(data[:config.max_output_bytes - size])
                size += len(out[-1])
                if size >= config.max_output_bytes:
                    return b"".join(out), "output"
            if now >= next_disk:
                used, count = _disk_use(sandbox)
                if used > config.disk_mb * 1024 * 1024 or count > MAX_FILES:
                    return b"".join(out), "disk"
                next_disk = now + 0.5
            if proc.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > 0.5:
                    break
    return b"".join(out), None


def _stop(proc: subprocess.Popen, init_pid: int | None) -> None:
    """Kill the sandbox's init (the kernel then kills its whole PID namespace) and the run's process group
    (bwrap), reap bwrap and wait for the namespace to be empty, so nothing the script started outlives
    the run or touches the sandbox while its files are collected."""
    for kill, pid in ((os.kill, init_pid), (os.killpg, proc.pid)):
        if pid:
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    proc.wait()
    proc.stdout.close()
    if init_pid:
        sb.wait_gone(init_pid)


def _stopped_message(why: str, config: RunConfig) -> str:
    return {
        "timeout": f"timed out after {config.timeout_s:g} s: the tool was killed (an endless loop, or a design too big?)",
        "output": f"printed over {config.max_output_bytes:,} bytes: the tool was stopped (a loop printing forever?)",
        "disk": f"wrote over {config.disk_mb:,} MB or {MAX_FILES:,} files in its sandbox: the tool was stopped",
    }[why]


def _exit_message(tool: str, code: int, cpu_s: int) -> str:
    if code in (128 + signal.SIGXCPU, -signal.SIGXCPU):
        return f"CPU time limit of {cpu_s} s reached: {tool} was killed"
    return f"{tool} exited with code {code}"


def _scrub(text: str, secrets: list[str]) -> str:
    from corpora.curate import scrub_secrets

    return scrub_secrets(text, values=secrets)[0]


def _shown_errors(errors: list[dict], secrets: list[str]) -> list[dict]:
    """The errors as shown to users: at most MAX_ERRORS, each trimmed, secrets scrubbed."""
    # scrub first: trimming first could cut a secret so that it no longer matches
    shown = [{**e, "message": _scrub(str(e.get("message", "")), secrets)[:MAX_ERROR_CHARS]} for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        shown.append({"line": None, "message": f"... and {len(errors) - MAX_ERRORS} more errors (see the log)"})
    return shown


def run_script(script: str, *, tool: str = "yosys", design: list[Path] | None = None,
               config: RunConfig | None = None, artifacts_dir: Path | None = None,
               script_name: str = SCRIPT_NAME, secrets: Iterable[str] = ()) -> RunResult:
    """Run ``script`` in ``tool`` inside a fresh, confined sandbox.

    ``script_name`` is the script's path inside the sandbox (e.g. "flows/synth.tcl", so a script that
    finds its RTL relative to itself, `[info script]/../rtl`, works with ``design=[Path("rtl")]``).
    With ``artifacts_dir``, the files the script wrote are copied there (those written to /tmp/x under
    tmp/x; links and other non-regular files never), with the full log as RUN_LOG. ``secrets`` are
    values (API keys, tokens) to redact from what is returned, besides the server's secret-looking
    environment variables and anything shaped like a key. Where the sandbox cannot be set up the run
    is refused: ``ran`` False, ``skipped_reason`` says what to install.
    """
    from assistant.config import secret_values

    config = config or RunConfig()
    if Path(script_name).is_absolute() or ".." in Path(script_name).parts:
        raise ValueError(f"script_name: must be a relative path inside the sandbox, got {script_name!r}")
    cmd = tool_command(tool)
    if cmd is None:
        return RunResult(ran=False, ok=True, tool=tool,
                         skipped_reason=f"{tool} is not installed on this machine: run skipped (levels 1-2 only)")
    conf = sb.confinement() if config.confine else None
    if conf is not None and not conf.ok:
        return RunResult(ran=False, ok=True, tool=tool,
                         skipped_reason=f"run refused: {conf.reason} (levels 1-2 only)")
    secrets = sorted(set(secret_values()) | {s for s in secrets if s}, key=len, reverse=True)
    cpu_s = config.cpu_s or math.ceil(config.timeout_s) + 1
    with tempfile.TemporaryDirectory(prefix="chipassist-run-", dir=sandbox_base(), ignore_cleanup_errors=True) as tmp:
        sandbox = Path(tmp)
        _copy_design(list(design or []), sandbox)
        (sandbox / script_name).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / script_name).write_text(script, encoding="utf-8")
        (sandbox / "chipassist_wrap.tcl").write_text(_wrapper(script_name), encoding="utf-8")
        (sandbox / ".tmp").mkdir()  # the run's private /tmp (and TMPDIR: yosys's ABC temp folders)
        before = _regular_files(sandbox)
        proc, info_r = _spawn([*cmd, "chipassist_wrap.tcl"], sandbox, config, conf, cpu_s)
        init_pid = None
        try:
            init_pid = sb.read_child_pid(info_r) if info_r is not None else None
            out, stopped = _read_output(proc, config, sandbox)
        finally:
            _stop(proc, init_pid)  # always: whatever the run left behind dies with its PID namespace
        log = out.decode("utf-8", errors="replace")
        errors, last_line = parse_log(log, script_name)
        code = proc.returncode
        if stopped:
            errors.append({"line": last_line, "message": _stopped_message(stopped, config)})
        elif code != 0 and not errors:
            errors.append({"line": last_line, "message": _exit_message(tool, code, cpu_s)})
        created = sorted(p for p in _regular_files(sandbox) - before
                         if "yosys-abc-" not in str(p.relative_to(sandbox)) and p.name not in _NOT_ARTIFACTS)
        clean = _scrub("\n".join(ln for ln in log.splitlines() if not ln.startswith(_MARK)), secrets)
        if artifacts_dir is not None:
            Path(artifacts_dir).mkdir(parents=True, exist_ok=True)
            for p in created:
                dst = Path(artifacts_dir) / _artifact_name(p.relative_to(sandbox)).lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, dst, follow_symlinks=False)
            (Path(artifacts_dir) / RUN_LOG).write_text(clean, encoding="utf-8")
        notes = list(conf.notes) if conf is not None else [
            "note: run WITHOUT a sandbox (confine=False): the script could read and write what this user can"]
        tail = clean[-config.log_tail_chars:] if config.log_tail_chars else ""
        return RunResult(ran=True, ok=not errors and code == 0 and not stopped, tool=tool,
                         returncode=None if stopped == "timeout" else code, timed_out=stopped == "timeout",
                         errors=_shown_errors(errors, secrets), log_tail="\n".join(notes + [tail]).strip(),
                         artifacts=[_artifact_name(p.relative_to(sandbox)) for p in created])
