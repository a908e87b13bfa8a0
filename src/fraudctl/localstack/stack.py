"""`fraudctl local up | down | status`: bring the stack's services up in dependency order, each
waited on through its real health check; stop only what the stack started."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fraudctl.config.environment import Environment
from fraudctl.localstack import process, secrets
from fraudctl.localstack.health import HOST_FREE_CHECK_HOST, port_free, port_open
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import Service, StackError, build_services, ensure_stack_user, stack_user

# What a caller shows while waiting: (service, state, seconds waited, detail).
Progress = Callable[[str, str, float, str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # up | down | unhealthy | starting | not configured (an optional service not installed)
    pid: int | None
    ports: tuple[int, ...]
    detail: str
    log: str
    seconds: float | None = None
    started: bool = False  # started by this call (False: it was already running)
    # Restarts by the supervisor since it started (localstack/supervisor.py), and the last one's time.
    restarts: int = 0
    last_restart: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _services(env: Environment, layout: Layout, prepare_host: bool = False) -> list[Service]:
    """The stack's service specs. Only `up` prepares the host (folders, generated secrets, the
    stack's system user); `status` and `down` read what is there and change nothing."""
    if prepare_host:
        layout.ensure()
        return build_services(env, layout, secrets.load_or_create(layout.secrets_file), ensure_stack_user())
    return build_services(env, layout, secrets.load(layout.secrets_file), stack_user())


def _waves(services: list[Service]) -> list[list[Service]]:
    """Services grouped so that each group's `after` dependencies are all in earlier groups."""
    placed: set[str] = set()
    pending = list(services)
    waves: list[list[Service]] = []
    while pending:
        wave = [s for s in pending if set(s.after) <= placed]
        if not wave:
            raise StackError(f"dependency cycle among {[s.name for s in pending]}")
        waves.append(wave)
        placed |= {s.name for s in wave}
        pending = [s for s in pending if s.name not in placed]
    return waves


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"


def up(env: Environment, layout: Layout, progress: Progress, timeout_scale: float = 1.0) -> list[ServiceStatus]:
    if not (layout.opt / ".installed").is_file():
        raise StackError("the stack's artifacts are not installed under .local/opt: run `make setup` first")
    services = _services(env, layout, prepare_host=True)
    # Check every service that must start before starting any: a taken port or a missing artifact
    # fails fast and leaves nothing half-started.
    for svc in services:
        if svc.skip is None and process.running_pid(layout.run, svc.name) is None:
            _check_can_start(svc, env, layout)
    results: list[ServiceStatus] = []
    started: list[str] = []
    try:
        _up_waves(services, layout, progress, timeout_scale, results, started)
    except BaseException:
        # A failed `up` leaves nothing it started running (what was already up stays up).
        for name in reversed(started):
            if process.stop(layout.run, name):
                progress(name, "stopped", 0.0, "stopped again: the stack did not come up")
        raise
    return results


def _up_waves(
    services: list[Service],
    layout: Layout,
    progress: Progress,
    timeout_scale: float,
    results: list[ServiceStatus],
    started: list[str],
) -> None:
    for wave in _waves(services):
        waiting: list[tuple[Service, int, float]] = []
        to_start: list[Service] = []
        for svc in wave:
            log = layout.logs / f"{svc.name}.log"
            pid = process.running_pid(layout.run, svc.name)
            if svc.skip is not None and pid is None:
                progress(svc.name, "not started", 0.0, svc.skip)
                results.append(ServiceStatus(svc.name, "not configured", None, svc.ports, svc.skip, str(log)))
                continue
            if pid is not None:
                state = svc.check()
                if state.ok:
                    progress(svc.name, "already up", 0.0, state.detail)
                    results.append(ServiceStatus(svc.name, "up", pid, svc.ports, state.detail, str(log), 0.0))
                else:
                    waiting.append((svc, pid, time.monotonic()))  # started earlier, still coming up
                continue
            to_start.append(svc)
        for svc in to_start:
            svc.prepare()
            pid = process.spawn(svc.spec(), layout.run)
            started.append(svc.name)
            progress(svc.name, "starting", 0.0, f"pid {pid}")
            waiting.append((svc, pid, time.monotonic()))
        results.extend(_wait(waiting, layout, progress, timeout_scale))


def _check_can_start(svc: Service, env: Environment, layout: Layout) -> None:
    log = layout.logs / f"{svc.name}.log"
    for path in svc.requires:
        if not path.exists():
            raise StackError(f"{svc.name}: artifact missing: {path} (run `make setup`)")
    for port in svc.ports:
        if not port_free(HOST_FREE_CHECK_HOST, port):
            raise StackError(
                f"{svc.name}: port {port} on {HOST_FREE_CHECK_HOST} is already in use by a process the "
                f"stack did not start; stop it or change the port in {env.path}. Log: {log}"
            )


def _wait(
    waiting: list[tuple[Service, int, float]], layout: Layout, progress: Progress, timeout_scale: float
) -> list[ServiceStatus]:
    done: list[ServiceStatus] = []
    pending = list(waiting)
    while pending:
        still: list[tuple[Service, int, float]] = []
        for svc, pid, started in pending:
            log = layout.logs / f"{svc.name}.log"
            waited = time.monotonic() - started
            if process.exited(pid):
                raise StackError(
                    f"{svc.name}: process {pid} exited while starting "
                    f"(ports {', '.join(map(str, svc.ports)) or '-'})."
                    f" Log: {log}\n{_log_tail(log)}"
                )
            state = svc.check()
            if state.ok:
                svc.after_start()
                progress(svc.name, "up", waited, state.detail)
                done.append(
                    ServiceStatus(svc.name, "up", pid, svc.ports, state.detail, str(log), round(waited, 1), True)
                )
            elif waited > svc.start_timeout * timeout_scale:
                raise StackError(
                    f"{svc.name}: not healthy after {waited:.0f}s ({state.detail}). Log: {log}\n{_log_tail(log)}"
                )
            else:
                progress(svc.name, "starting", waited, state.detail)
                still.append((svc, pid, started))
        pending = still
        if pending:
            time.sleep(0.5)
    return done


def down(env: Environment, layout: Layout, progress: Progress, purge: bool = False) -> list[str]:
    """Stops, in reverse start order, every service whose pid file the stack wrote; nothing else."""
    stopped: list[str] = []
    for wave in reversed(_waves(_services(env, layout))):
        for svc in wave:
            t0 = time.monotonic()
            if process.stop(layout.run, svc.name):
                stopped.append(svc.name)
                progress(svc.name, "stopped", time.monotonic() - t0, "")
    if purge:
        for d in (layout.data, layout.conf, layout.logs, layout.run):
            shutil.rmtree(d, ignore_errors=True)
        layout.secrets_file.unlink(missing_ok=True)
    return stopped


def status(env: Environment, layout: Layout) -> list[ServiceStatus]:
    from fraudctl.localstack.supervisor import read_restarts

    restarts: dict[str, list[str]] = {}
    for r in read_restarts(layout):
        restarts.setdefault(r.service, []).append(r.at)
    return [
        replace(s, restarts=len(times), last_restart=times[-1] if times else None)
        for s in _status(env, layout)
        for times in [restarts.get(s.name, [])]
    ]


def _status(env: Environment, layout: Layout) -> list[ServiceStatus]:
    out: list[ServiceStatus] = []
    for svc in _services(env, layout):
        log = str(layout.logs / f"{svc.name}.log")
        pid = process.running_pid(layout.run, svc.name)
        if pid is None and svc.skip is not None:
            out.append(ServiceStatus(svc.name, "not configured", None, svc.ports, svc.skip, log))
            continue
        if pid is None:
            foreign = [p for p in svc.ports if port_open(HOST_FREE_CHECK_HOST, p, 0.2)]
            detail = (
                f"not started by the stack, but port {foreign[0]} answers (another process)"
                if foreign
                else "not running"
            )
            out.append(ServiceStatus(svc.name, "down", None, svc.ports, detail, log))
            continue
        state = svc.check()
        out.append(ServiceStatus(svc.name, "up" if state.ok else "unhealthy", pid, svc.ports, state.detail, log))
    return out
