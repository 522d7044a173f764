"""The Tcl sandbox against hostile scripts (issue 13, items 1, 2 and 4), with real bwrap, yosys and tclsh.

Each escape must fail AND leave no trace on the host; secrets in the server's environment, its index
and data dir must never come back; nothing the script starts may outlive the run. Runs wherever
bubblewrap can confine a run (see ``needs_sandbox``); elsewhere each test is skipped with the reason.
"""
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from assistant.tcl import sandbox as sb
from assistant.tcl.check import check_script
from assistant.tcl.run import RunConfig, run_script
from tests.tcl.conftest import needs_sandbox

pytestmark = needs_sandbox
FAST = RunConfig(timeout_s=20)


@pytest.fixture()
def token() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture()
def host_dir(token):
    """A folder on the host outside /tmp (as the index or data dir would be), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="chipassist-host-", dir=sb.sandbox_base()))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _shown(result) -> str:
    """Everything of a run a user could see."""
    return result.model_dump_json()


def _processes_with(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(f"{pid}: {cmd}")
    return found


def test_mount_tricks_as_root_do_not_escape(yosys, host_dir, token):
    marks = [Path(f"/tmp/MARK-{token}"), host_dir / "MARK"]
    script = (f'catch {{exec sh -c "umount /tmp; mount -o remount,bind,rw / && echo REMOUNTED; '
              f'echo escaped > {marks[0]}; echo escaped > {marks[1]}" 2>@1}} out\nputs $out\n')
    result = check_script(script, tool="yosys")
    assert result.run.ran and "REMOUNTED" not in result.run.log_tail
    assert not any(m.exists() for m in marks)
    assert [i.command for i in result.lint if i.problem == "unsafe"] == ["exec"] and not result.ok


def test_dev_shm_and_host_tmp_are_private(yosys, token):
    mark = Path(f"/dev/shm/chipassist-{token}")
    result = run_script(f'exec sh -c "echo x > {mark}; echo y > /tmp/chipassist-{token}"\n', config=FAST)
    assert result.ran  # the writes land in the run's own /dev/shm and /tmp, which vanish with it
    assert not mark.exists() and not Path(f"/tmp/chipassist-{token}").exists()


def test_nsenter_and_proc_1_root_reach_nothing(yosys, host_dir, token):
    secret = host_dir / "secret.txt"
    secret.write_text(f"TOPSECRET-{token}\n")
    script = f"""catch {{exec nsenter -t 1 -m -u -i -n -p sh -c "echo x > {host_dir}/MARK" 2>@1}} out
puts "nsenter: $out"
catch {{exec cat /proc/1/root{secret} 2>@1}} out
puts "proc1: $out"
if {{[catch {{open /proc/1/root{secret}}} err]}} {{ puts "open: $err" }} else {{ puts "open: [read $err]" }}
puts "pids: [llength [glob -directory /proc {{[0-9]*}}]]"
puts "status: [exec grep -E {{^(Seccomp|NoNewPrivs|CapEff):}} /proc/self/status]"
puts "root: [lsort [glob -tails -directory / *]]"
"""
    result = run_script(script, config=FAST)
    assert result.ok, result.errors
    log = result.log_tail
    assert not (host_dir / "MARK").exists() and f"TOPSECRET-{token}" not in _shown(result)
    assert "nsenter: nsenter:" in log  # it ran, and failed
    pids = int(log.split("pids: ")[1].split()[0])
    assert pids < 8  # its own PID namespace: bwrap, the tool, the grep; not the host's processes
    assert "Seccomp:\t2" in log and "NoNewPrivs:\t1" in log and "CapEff:\t0000000000000000" in log
    root = log.split("root: ")[1].splitlines()[0].split()
    assert set(root) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "tmp", "usr"}


def test_tool_writes_outside_the_sandbox_fail(yosys, design, token):
    etc = [Path(f"/etc/chipassist-{token}"), Path(f"/etc/chipassist-{token}.v")]
    script = (f"yosys read_verilog counter.v\nyosys tee -o {etc[0]} stat\nyosys write_verilog {etc[1]}\n")
    result = check_script(script, design=design, run_config=FAST)
    assert result.run.ran and not result.run.ok and "can't create file" in result.run.errors[0]["message"].lower()
    assert result.run.errors[0]["line"] == 2 and not any(p.exists() for p in etc)
    assert {(i.line, i.command) for i in result.lint if i.problem == "unsafe"} == {(2, "tee"), (3, "write_verilog")}
    usr = run_script(f"set f [open /usr/chipassist-{token} w]\n", config=FAST)
    assert not usr.ok and "read-only" in usr.errors[0]["message"]


def test_no_server_secrets_index_or_data_reach_the_run(yosys, host_dir, token, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", f"xoxb-{token}-slack")
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-{token}-openai-key-0000")
    monkeypatch.setenv("CHIPASSIST_TEST_SECRET_VALUE", f"Plain{token}Value")
    index = host_dir / "index"
    index.mkdir()
    (index / "chunks.jsonl").write_text(f'{{"text": "restricted chunk {token}"}}\n')
    script = f"""puts [array get ::env]
catch {{exec env}} out; puts $out
catch {{exec cat {index}/chunks.jsonl 2>@1}} out; puts $out
catch {{exec sh -c "cat /proc/*/environ" 2>@1}} out; puts $out
error "failing with [array get ::env]"
"""
    result = run_script(script, config=FAST)
    assert result.ran and not result.ok
    shown = _shown(result)
    assert token not in shown, shown
    assert "HOME /tmp" in result.log_tail and "PATH" in result.log_tail  # the minimal environment is there


def test_known_secret_values_are_scrubbed_from_the_output(yosys, token, monkeypatch):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", f"Sign{token}Secret")
    script = (f'puts "xoxb-1234567890-abcdefghij xapp-1-A0-{token} sk-proj-{token}abcdefghijklmnop"\n'
              f'puts "Sign{token}Secret and Extra{token}Value"\nerror "Sign{token}Secret"\n')
    result = run_script(script, config=FAST, secrets=[f"Extra{token}Value"])
    shown = _shown(result)
    assert token not in shown and "xoxb-1234567890" not in shown
    assert "[REDACTED:slack_token]" in result.log_tail and "[REDACTED:openai_key]" in result.log_tail
    assert "[REDACTED:setting]" in result.errors[0]["message"]


def test_no_network_even_to_a_host_loopback_listener(yosys):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        result = run_script(f"set s [socket 127.0.0.1 {port}]\nputs connected\n", config=FAST)
        assert not result.ok and "connection refused" in result.errors[0]["message"].lower()
        with pytest.raises(socket.timeout):
            listener.accept()


def test_background_and_setsid_children_die_with_the_run(yosys, token):
    secs = 30 + int(token[:4], 16) % 60  # a duration no other test uses, to find leftovers by name
    script = (f"exec setsid sleep {secs} >@stdout 2>@stderr &\n"
              f"exec sh -c \"sleep {secs + 1} >/dev/null 2>&1 &\"\n"
              f"exec sleep {secs + 2} >@stdout &\nputs done\n")
    t0 = time.monotonic()
    result = run_script(script, config=RunConfig(timeout_s=60))
    assert time.monotonic() - t0 < 10  # children holding the output do not make it look timed out
    assert result.ok and not result.timed_out and "done" in result.log_tail
    time.sleep(0.3)
    assert not any(_processes_with(f"sleep {secs + i}") for i in range(3))
    # and when the run is killed (timeout), its children go with it
    killed = run_script(f"exec setsid sleep {secs + 3} >@stdout 2>@stderr &\nwhile 1 {{}}\n",
                        config=RunConfig(timeout_s=2))
    assert killed.timed_out and not _processes_with(f"sleep {secs + 3}")


def test_process_cap_bounds_a_fork_bomb(yosys, token):
    script = f"""set failed 0
for {{set i 0}} {{$i < 200}} {{incr i}} {{ if {{[catch {{exec sleep 1 &}}]}} {{ incr failed }} }}
puts "failed $failed"
after 1500
catch {{exec sh -c {{b() {{ b | b & }}; b}} bomb-{token} >/dev/null 2>/dev/null &}}
after 1500
puts alive
"""
    t0 = time.monotonic()
    result = run_script(script, config=RunConfig(timeout_s=30, max_procs=32))
    assert time.monotonic() - t0 < 15 and result.ok, result.errors
    assert int(result.log_tail.split("failed ")[1].split()[0]) >= 150  # at most ~30 of the 200 started
    assert "alive" in result.log_tail  # the bomb filled the cap, not the machine, and the run went on
    time.sleep(0.3)
    assert not _processes_with(f"bomb-{token}")


def test_output_flood_is_capped(yosys):
    t0 = time.monotonic()
    result = run_script("while 1 { puts [string repeat x 1000] }\n",
                        config=RunConfig(timeout_s=60, max_output_bytes=200_000, log_tail_chars=500))
    assert time.monotonic() - t0 < 20 and not result.ok and not result.timed_out
    assert "printed over 200,000 bytes" in result.errors[-1]["message"] and len(result.log_tail) <= 500


def test_disk_and_cpu_limits_stop_the_run(yosys):
    disk = run_script("while 1 { set f [open big[incr i] w]; puts $f [string repeat x 1000000]; close $f }\n",
                      config=RunConfig(timeout_s=60, disk_mb=20))
    assert not disk.ok and ("wrote over 20 MB" in disk.errors[-1]["message"]
                            or "file too large" in disk.errors[-1]["message"].lower())
    t0 = time.monotonic()
    cpu = run_script("while 1 {}\n", config=RunConfig(timeout_s=60, cpu_s=1))
    assert time.monotonic() - t0 < 15 and not cpu.ok and not cpu.timed_out
    assert "CPU time limit of 1 s" in cpu.errors[-1]["message"]


def test_links_left_in_the_sandbox_are_not_copied_out(yosys, host_dir, tmp_path):
    secret = host_dir / "server_secret.txt"
    secret.write_text("server-only\n")
    result = run_script(f"exec ln -s {secret} leak.txt\nset f [open real.txt w]; puts $f ok; close $f\n",
                        config=FAST, artifacts_dir=tmp_path / "art")
    assert result.ok and result.artifacts == ["real.txt"]
    assert not (tmp_path / "art" / "leak.txt").exists()


def test_fails_closed_without_bubblewrap(yosys, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"  # a PATH with the tool but no bwrap
    bin_dir.mkdir()
    for tool in ("yosys", "prlimit", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    sb.confinement.cache_clear()
    try:
        result = run_script("puts hi\n", config=FAST)
        assert not result.ran and "run refused" in result.skipped_reason and "bubblewrap" in result.skipped_reason
        assert "bwrap" in result.skipped_reason
        check = check_script("yosys read_verilog nothere.v\n")
        assert not check.run.ran and "apt-get install bubblewrap" in check.run.skipped_reason
        trusted = run_script("puts hi\n", config=RunConfig(timeout_s=20, confine=False))  # the documented opt-out
        assert trusted.ran and trusted.ok and "WITHOUT a sandbox" in trusted.log_tail
    finally:
        monkeypatch.undo()
        sb.confinement.cache_clear()
    assert sb.confinement().ok
