"""Level 3 of the Tcl check: run the script in the real tool, in a sandbox.

The sandbox is a fresh temporary folder holding a COPY of the design files and the script; the
tool runs there, in its own process group with a timeout (the whole group is killed, and the result
says so) and an address-space limit (RLIMIT_AS). Where the machine allows it (`unshare`, as root or
with user namespaces) the run also has no network and sees every file system but the sandbox
read-only, so even an absolute path in the script cannot touch the user's files; otherwise the
result's log notes the weaker confinement. A small Tcl wrapper sources the script and reports which script line each tool
command came from, so the tool's errors carry their lines.

    result = run_script(open("flow.tcl").read(), tool="yosys", design=[Path("top.v")])
    result.ok, result.errors        # [{"line": 7, "message": "Command syntax error: ..."}]
"""
from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

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
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(120.0, gt=0, le=3600)
    memory_mb: int = Field(4096, ge=64)
    confine: bool = True  # no network, and every file system but the sandbox read-only, where possible
    log_tail_chars: int = Field(4000, ge=0)


# Run inside `unshare -m -n`: bind the sandbox onto itself, give the run a private /tmp (the sandbox's
# .tmp folder, so files a script writes to /tmp/... are kept as artifacts and the real /tmp is never
# touched), remount every other file system read-only (in this private mount namespace only), then exec
# the tool. /proc, /sys and /dev stay as they are.
_CONFINE = r"""
sb="$1"; shift
mount --bind "$sb" "$sb" || exit 97
case "$sb" in /tmp/*) ;; *) mkdir -p "$sb/.tmp" && mount --bind "$sb/.tmp" /tmp ;; esac
for m in $(awk '{print $2}' /proc/self/mounts | sort -u); do
  case "$m" in "$sb"|/tmp|/proc*|/sys*|/dev*) ;; *) mount -o remount,bind,ro "$m" 2>/dev/null ;; esac
done
mount -o remount,bind,rw "$sb" 2>/dev/null
cd "$sb" || exit 97  # re-enter: the old working directory is the read-only one under the bind mount
exec "$@"
"""


@lru_cache(maxsize=1)
def confinement() -> tuple[list[str], str]:
    """How this machine can confine a run: (command prefix, level) with level "filesystem+network",
    "network" or "none". Probed once: a trial run must leave the sandbox writable and its parent read-only."""
    exe = shutil.which("unshare")
    if exe:
        with tempfile.TemporaryDirectory(prefix="chipassist-probe-", dir=sandbox_base()) as tmp:
            sb, outside = Path(tmp) / "sb", Path(tmp) / "outside"
            sb.mkdir()
            probe = f"touch ok; touch {outside} 2>/dev/null; exit 0"  # relative: the run starts in the sandbox
            for flags in (["-m", "-n"], ["-r", "-m", "-n"]):
                prefix = [exe, *flags, "--propagation", "private", "sh", "-c", _CONFINE, "sh"]
                if _try([*prefix, str(sb), "sh", "-c", probe]) and (sb / "ok").exists() and not outside.exists():
                    return prefix, "filesystem+network"
        for flags in (["-n"], ["-r", "-n"]):
            if _try([exe, *flags, "true"]):
                return [exe, *flags], "network"
    return [], "none"


def _try(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def tool_command(tool: str) -> list[str] | None:
    """How to run a Tcl file in ``tool`` (the wrapper's name is appended); None if not installed."""
    if tool == "yosys":
        exe = shutil.which("yosys")
        return [exe, "-Q", "-T", "-c"] if exe else None
    if tool == "openroad":
        exe = shutil.which("openroad")
        return [exe, "-no_init", "-no_splash", "-exit"] if exe else None
    raise ValueError(f"tool: unknown tool {tool!r}")


def _copy_design(design: list[Path], sandbox: Path) -> None:
    for src in design:
        dst = sandbox / src.name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)


def _limits(memory_mb: int):
    def apply() -> None:  # runs in the child between fork and exec
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


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


def sandbox_base() -> str | None:
    """Where sandboxes are made: outside /tmp when possible, so the run's private /tmp cannot hide them."""
    for base in (os.environ.get("CHIPASSIST_SANDBOX_DIR"), "/var/tmp"):
        if base and os.path.isdir(base) and os.access(base, os.W_OK):
            return base
    return None  # the system default (usually /tmp): the run then shares the real /tmp


def _artifact_name(rel: Path) -> str:
    """Sandbox-relative path as the script saw it: files under the private /tmp are shown as /tmp/..."""
    return "/tmp/" + "/".join(rel.parts[1:]) if rel.parts[0] == ".tmp" else str(rel)


def run_script(script: str, *, tool: str = "yosys", design: list[Path] | None = None,
               config: RunConfig | None = None, artifacts_dir: Path | None = None,
               script_name: str = SCRIPT_NAME) -> RunResult:
    """Run ``script`` in ``tool`` inside a fresh sandbox.

    ``script_name`` is the script's path inside the sandbox (e.g. "flows/synth.tcl", so a script that
    finds its RTL relative to itself, `[info script]/../rtl`, works with ``design=[Path("rtl")]``).
    With ``artifacts_dir``, the files the script wrote are copied there (those written to /tmp/x under
    tmp/x), with the full log as RUN_LOG.
    """
    config = config or RunConfig()
    cmd = tool_command(tool)
    if cmd is None:
        return RunResult(ran=False, ok=True, tool=tool,
                         skipped_reason=f"{tool} is not installed on this machine: run skipped (levels 1-2 only)")
    prefix, level = confinement() if config.confine else ([], "none")
    if Path(script_name).is_absolute() or ".." in Path(script_name).parts:
        raise ValueError(f"script_name: must be a relative path inside the sandbox, got {script_name!r}")
    with tempfile.TemporaryDirectory(prefix="chipassist-run-", dir=sandbox_base()) as tmp:
        sandbox = Path(tmp)
        if level == "filesystem+network":
            prefix = [*prefix, str(sandbox)]
        _copy_design(list(design or []), sandbox)
        (sandbox / script_name).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / script_name).write_text(script, encoding="utf-8")
        (sandbox / "chipassist_wrap.tcl").write_text(_wrapper(script_name), encoding="utf-8")
        (sandbox / ".tmp").mkdir()  # the run's private /tmp (and TMPDIR: yosys's ABC temp folders)
        env = {**os.environ, "TMPDIR": str(sandbox / ".tmp")}
        before = {p for p in sandbox.rglob("*")}
        proc = subprocess.Popen([*prefix, *cmd, "chipassist_wrap.tcl"], cwd=sandbox,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_limits(config.memory_mb), env=env)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=config.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the tool and anything it started
            out, _ = proc.communicate()
        log = out.decode("utf-8", errors="replace")
        errors, last_line = parse_log(log, script_name)
        if timed_out:
            errors.append({"line": last_line, "message": f"timed out after {config.timeout_s:g} s: the tool "
                                                         "was killed (an endless loop, or a design too big?)"})
        elif proc.returncode != 0 and not errors:
            errors.append({"line": last_line, "message": f"{tool} exited with code {proc.returncode}"})
        created = sorted(p for p in sandbox.rglob("*")
                         if p not in before and p.is_file() and not p.name.startswith("yosys-abc-")
                         and "yosys-abc-" not in str(p))
        clean = "\n".join(ln for ln in log.splitlines() if not ln.startswith(_MARK))
        if artifacts_dir is not None:
            Path(artifacts_dir).mkdir(parents=True, exist_ok=True)
            for p in created:
                dst = Path(artifacts_dir) / _artifact_name(p.relative_to(sandbox)).lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dst)
            (Path(artifacts_dir) / RUN_LOG).write_text(clean, encoding="utf-8")
        notes = [] if level == "filesystem+network" or not config.confine else [
            f"note: this machine allows only '{level}' confinement: the run could reach the network or "
            "write outside the sandbox"]
        return RunResult(ran=True, ok=not errors and proc.returncode == 0, tool=tool,
                         returncode=None if timed_out else proc.returncode, timed_out=timed_out, errors=errors,
                         log_tail="\n".join(notes + [clean[-config.log_tail_chars:]]).strip(),
                         artifacts=[_artifact_name(p.relative_to(sandbox)) for p in created])
