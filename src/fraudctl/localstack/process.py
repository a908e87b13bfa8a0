"""Starting and stopping one service process: detached, in its own process group, with a pid file
that also records the process start time so a recycled pid is never mistaken for ours."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fraudctl.localstack import secrets as local_secrets


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    log_file: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    # Run as this system user when fraudctl runs as root (PostgreSQL and Elasticsearch refuse root).
    user: str | None = None
    # What asks the process to stop (PostgreSQL: SIGINT, its "fast" shutdown; SIGTERM would wait
    # for every client to disconnect). Kept in the pid file, so `down` uses it.
    stop_signal: int = signal.SIGTERM


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the ')' that closes the command name.
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def running_pid(run_dir: Path, name: str) -> int | None:
    """The pid of our process for this service, if it is alive; stale pid files are removed."""
    path = _pid_file(run_dir, name)
    try:
        pid_text, ticks = path.read_text().split()[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if _start_ticks(pid) != ticks or exited(pid):
        # Gone, recycled, or a zombie (dead; our own child not reaped yet, for example one the
        # supervisor restarted): not running.
        path.unlink(missing_ok=True)
        return None
    return pid


def spawn(spec: ProcessSpec, run_dir: Path) -> int:
    spec.log_file.parent.mkdir(parents=True, exist_ok=True)
    # Least privilege: a process gets the stack's secrets it is handed (spec.env), never the others
    # a caller may hold in its own environment.
    env = {**{k: v for k, v in os.environ.items() if k not in local_secrets.NAMES}, **spec.env}
    user = spec.user if os.geteuid() == 0 else None
    uid: int | None = None
    gid: int | None = None
    if user:
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
        env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    with open(spec.log_file, "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(spec.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, not from user input
            spec.argv,
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
        )
    pid: int = proc.pid
    ticks = _start_ticks(pid) or "0"
    _pid_file(run_dir, spec.name).write_text(f"{pid} {ticks} {int(spec.stop_signal)}\n")
    return pid


def exited(pid: int) -> bool:
    """True when the child has exited (reaps it if it is ours)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    except ChildProcessError:
        pass
    return _start_ticks(pid) is None or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop(run_dir: Path, name: str, timeout: float = 30.0) -> bool:
    """Stops the service's whole process group: TERM, then KILL after the timeout. False if not running."""
    pid = running_pid(run_dir, name)
    if pid is None:
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = pid
    try:
        fields = _pid_file(run_dir, name).read_text().split()
        stop_signal = int(fields[2]) if len(fields) > 2 else signal.SIGTERM
    except (OSError, ValueError):
        stop_signal = signal.SIGTERM
    _signal_group(pgid, stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exited(pid) and not _group_alive(pgid):
            break
        time.sleep(0.2)
    else:
        _signal_group(pgid, signal.SIGKILL)
        time.sleep(0.5)
    _pid_file(run_dir, name).unlink(missing_ok=True)
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid and not _is_zombie(int(entry.name)):
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False
