"""The local stack's supervisor: `fraudctl local up` starts it last and `down` stops it first. It
restarts any service of the stack whose process died (a crash, an OOM kill, `kill -9`), waits for
that service's health check, and records each restart in `.local/run/restarts.jsonl`, which
`fraudctl local status` reports. A service that dies again within a minute is restarted after a
growing pause (2 s, 4 s, ... up to 60 s), so a crash loop does not spin.

It also restarts failed connectors and tasks of the Connect worker (as Strimzi's `autoRestart`
does), with the same growing pause: a sink that lost its database in a restart (the JDBC sink fails
its task instead of retrying) resumes from its committed offsets once the database is back.

The Flink job needs nothing of it beyond its TaskManager: Flink's restart strategy restores the job
from its latest checkpoint once a TaskManager is registered again."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fraudctl.localstack import process, secrets
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import SUPERVISOR, Service, build_services, stack_user

log = logging.getLogger("fraudctl.supervisor")
CHECK_EVERY_S = 1.0
CONNECT_CHECK_EVERY_S = 5.0
LOOP_WINDOW_S = 60.0


@dataclass(frozen=True)
class Restart:
    service: str
    at: str  # UTC, RFC 3339
    pid: int
    healthy_after_s: float | None  # None: not healthy before its start timeout
    detail: str


def restarts_file(layout: Layout) -> Path:
    return layout.run / "restarts.jsonl"


def read_restarts(layout: Layout) -> list[Restart]:
    out: list[Restart] = []
    with contextlib.suppress(OSError):
        for line in restarts_file(layout).read_text().splitlines():
            with contextlib.suppress(ValueError, TypeError):
                out.append(Restart(**json.loads(line)))
    return out


def _record(layout: Layout, service: str, pid: int, healthy_after_s: float | None, detail: str) -> None:
    restart = Restart(service, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), pid, healthy_after_s, detail)
    with restarts_file(layout).open("a") as f:
        f.write(json.dumps(asdict(restart)) + "\n")


def _kill_orphans(pgid: int) -> None:
    """The dead leader's group may keep children (a JVM behind a start script): stop them, unless a
    live process now owns that number as its own group (a recycled id is not ours)."""
    if Path(f"/proc/{pgid}").exists():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Supervisor:
    def __init__(self, services: list[Service], layout: Layout, connect_url: str | None = None) -> None:
        self.services = [s for s in services if s.skip is None and s.name != SUPERVISOR]
        self.layout = layout
        self.connect_url = connect_url
        self.next_connect_check = 0.0
        self.pids = {s.name: process.running_pid(layout.run, s.name) for s in self.services}
        self.recent: dict[str, list[float]] = {}
        self.running = True

    def stop(self, *_: object) -> None:
        self.running = False

    def run(self) -> None:
        while self.running:
            for svc in self.services:
                if not self.running:
                    break
                if process.running_pid(self.layout.run, svc.name) is None:
                    self._restart(svc)
            if self.connect_url and time.monotonic() >= self.next_connect_check:
                self.next_connect_check = time.monotonic() + CONNECT_CHECK_EVERY_S
                self._restart_failed_connectors()
            time.sleep(CHECK_EVERY_S)

    def _restart_failed_connectors(self) -> None:
        from fraudctl.deploy.providers.connect_rest import ConnectClient, ConnectError

        client = ConnectClient(str(self.connect_url), None, retries=0)
        try:
            failed = client.failed()
        except ConnectError:
            return  # the worker is down or starting: its process is watched above
        for name, tasks in failed.items():
            key = f"connector {name}"
            if self._pause(key, first=5.0) > 0:
                continue  # restarted a moment ago: give it time
            try:
                client.restart_failed(name)
            except ConnectError as exc:
                log.warning("restarting %s failed: %s", key, exc)
                continue
            detail = f"failed task(s) {tasks} restarted" if tasks else "failed connector restarted"
            log.info("%s: %s", key, detail)
            _record(self.layout, key, 0, None, detail)

    def _pause(self, key: str, first: float) -> float:
        """How long `key` must wait before its next restart: nothing after a quiet minute, else
        `first` doubled per restart within it, at most a minute. Counts this restart when it is 0."""
        now = time.monotonic()
        recent = [t for t in self.recent.get(key, []) if now - t < LOOP_WINDOW_S]
        wait = 0.0 if not recent else max(0.0, min(first * 2 ** (len(recent) - 1), LOOP_WINDOW_S) - (now - recent[-1]))
        if wait == 0:
            self.recent[key] = [*recent, now]
        return wait

    def _restart(self, svc: Service) -> None:
        old = self.pids.get(svc.name)
        if old is not None:
            process.exited(old)  # reap it if it was our child
            _kill_orphans(old)
        pause = self._pause(svc.name, first=2.0)
        if pause > 0:
            log.warning("%s died again within %.0f s: restarting in %.0f s", svc.name, LOOP_WINDOW_S, pause)
        while self.running and pause > 0:
            time.sleep(min(pause, 0.5))
            pause = self._pause(svc.name, first=2.0)
        if not self.running:
            return
        pid = process.spawn(svc.spec(), self.layout.run)
        self.pids[svc.name] = pid
        log.info("%s (pid %s) was not running: restarted as pid %d", svc.name, old, pid)
        started = time.monotonic()
        healthy: float | None = None
        detail = ""
        while self.running and time.monotonic() - started < svc.start_timeout:
            if process.exited(pid):
                detail = "exited while starting"
                break
            state = svc.check()
            detail = state.detail
            if state.ok:
                try:
                    svc.after_start()
                except Exception as exc:  # noqa: BLE001 - recorded, and retried on its next death
                    detail = f"after start: {exc}"
                healthy = round(time.monotonic() - started, 1)
                break
            time.sleep(0.5)
        _record(self.layout, svc.name, pid, healthy, detail)
        log.info("%s restarted: %s", svc.name, f"healthy after {healthy} s" if healthy is not None else detail)


def main() -> None:
    from fraudctl.config.environment import load_environment

    parser = argparse.ArgumentParser(prog="python -m fraudctl.localstack.supervisor", description=__doc__)
    parser.add_argument("--env", required=True)
    parser.add_argument("--state-dir", required=True, type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    layout = Layout(args.state_dir)
    env = load_environment(args.env)
    services = build_services(env, layout, secrets.load(layout.secrets_file), stack_user())
    supervisor = Supervisor(services, layout, str(env.require("connect.url")))
    restarts_file(layout).unlink(missing_ok=True)  # restarts are counted from this start of the stack
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    log.info("supervising %s", ", ".join(s.name for s in supervisor.services))
    supervisor.run()
    log.info("stopped")


if __name__ == "__main__":
    main()
