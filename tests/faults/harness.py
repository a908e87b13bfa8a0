"""One fault case: the demo's generated traffic (with injected frauds) runs against the applied
local stack, a fault is injected when half of it is sent, and when the run is over what every
place holds is compared, as id sets, with what was produced:

- every produced transaction in the raw S3 archive (distinct ids = produced ids; duplicates
  counted), every alert seen on `fraud-alerts` (read_committed) in PostgreSQL and in the search
  index, no alert on a transaction outside the injected stories, every injected rule fraud caught;
- no dead letter for the run (its traffic holds no bad record);
- afterwards every connector, task and the Flink job RUNNING again (`fraudctl status`).

Faults act on the real processes: SIGKILL to a service's process group (the supervisor started by
`fraudctl local up` restarts it), a clean restart, or a proxy in front of a service refusing
connections (localstack/faultproxy.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fraudctl.config.project import load_project
from fraudctl.demo.run import Run, RunOptions
from fraudctl.kafka_clients import read_to_end
from fraudctl.localstack import process
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.supervisor import read_restarts
from tests.cli import ROOT, fraudctl

DLQ_TOPICS = ("dlq-stream", "dlq-enrichment", "dlq-sinks")
RATE, DURATION_S = 20.0, 50.0  # about 1,000 transactions per case


@dataclass
class CaseReport:
    case: str
    produced: int = 0
    archived_distinct: int = 0
    archive_duplicates: int = 0
    alerts_expected: int = 0
    alerts_postgres: int = 0
    alerts_index: int = 0
    dead_letters: int = 0
    lost_transactions: int = 0
    lost_alerts_postgres: int = 0
    lost_alerts_index: int = 0
    unexpected_alerts: int = 0
    missed_rule_frauds: int = 0
    restarted: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (
            self.lost_transactions
            or self.lost_alerts_postgres
            or self.lost_alerts_index
            or self.unexpected_alerts
            or self.missed_rule_frauds
            or self.archive_duplicates
            or self.dead_letters
        )


REPORTS: list[CaseReport] = []


def say(message: str) -> None:
    print(f"[faults] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run_case(name: str, fault: Callable[[], None], home: Path | None = None) -> CaseReport:
    """`home`: the repo copy the fault applied, when it did (status compares the stack with it)."""
    t0 = time.monotonic()
    project, problems = load_project(ROOT)
    assert not problems
    layout = Layout.default()
    restarts_before = len(read_restarts(layout))
    run = Run(
        project,
        "local",
        RunOptions(rate=RATE, duration_s=DURATION_S, seed=11, frauds_per_kind=1, drain_s=240, sinks_timeout_s=300),
        run_id=f"fault{name.replace('-', '')}{datetime.now(UTC).strftime('%H%M%S')}",
        midway=fault,
    )
    run.observer.on_step = lambda msg: say(f"{name}: {msg}")
    summary = run.execute()
    ev = run.evidence
    archive = ev.sinks["s3"]
    expected = set(ev.alerts)
    report = CaseReport(
        case=name,
        produced=len(ev.sent),
        archived_distinct=archive.distinct,
        archive_duplicates=archive.records - archive.distinct,
        alerts_expected=len(expected),
        alerts_postgres=len(ev.sinks["postgres"].ids),
        alerts_index=len(ev.sinks["search"].ids),
        dead_letters=dead_letters(run.run_id),
        lost_transactions=len(ev.sent - archive.ids),
        lost_alerts_postgres=len(expected - ev.sinks["postgres"].ids),
        lost_alerts_index=len(expected - ev.sinks["search"].ids),
        unexpected_alerts=len(
            {a for a in expected | ev.sinks["postgres"].ids if a.split(":", 1)[-1] not in ev.injected}
            | (ev.sinks["postgres"].ids - expected)
            | (ev.sinks["search"].ids - expected)
        ),
        missed_rule_frauds=summary["rule_based_injected"] - summary["rule_based_caught"],
        restarted=[r.service for r in read_restarts(layout)[restarts_before:]],
    )
    assert archive.ids <= ev.sent, "the archive holds a transaction of this run that was never acknowledged"
    wait_all_running(home)
    report.seconds = round(time.monotonic() - t0, 1)
    REPORTS.append(report)
    say(f"{name}: {json.dumps(asdict(report))}")
    return report


def dead_letters(run_id: str) -> int:
    """Records of the run in any dead-letter topic (read from the start to the end)."""
    return sum(
        run_id.encode() in (msg.value() or b"")
        for topic in DLQ_TOPICS
        for msg in read_to_end({"bootstrap.servers": bootstrap()}, topic, deadline_s=60, must_finish=True)
    )


def bootstrap() -> str:
    from fraudctl.config.environment import load_environment

    return str(load_environment("local").require("kafka.bootstrap_servers"))


def wait_all_running(home: Path | None = None, deadline_s: float = 300) -> None:
    """Every connector, task and the Flink job RUNNING (and as `home` declares them), polled until
    the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        res = fraudctl("status", "--env", "local", "-o", "json", home=home, timeout=120)
        if res.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the pipeline is not healthy again after the fault:\n{res.stdout[-3000:]}")
        time.sleep(3)


# --- faults ---------------------------------------------------------------------------------------


def _pid(service: str) -> int:
    pid = process.running_pid(Layout.default().run, service)
    assert pid is not None, f"{service} is not running"
    return pid


def kill9(service: str) -> Callable[[], None]:
    """SIGKILL to the service's whole process group, then wait until the supervisor restarted it."""

    def fault() -> None:
        layout = Layout.default()
        before = len(read_restarts(layout))
        pid = _pid(service)
        say(f"kill -9 {service} (pid {pid})")
        os.killpg(os.getpgid(pid), signal.SIGKILL)
        wait_restarted(layout, service, before)

    return fault


def restart(service: str) -> Callable[[], None]:
    """A clean stop (SIGTERM); the supervisor starts it again."""

    def fault() -> None:
        layout = Layout.default()
        before = len(read_restarts(layout))
        say(f"stopping {service}")
        process.stop(layout.run, service)
        wait_restarted(layout, service, before)

    return fault


def wait_restarted(layout: Layout, service: str, before: int, deadline_s: float = 240) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        done = [r for r in read_restarts(layout)[before:] if r.service == service]
        if done and done[-1].healthy_after_s is not None:
            say(f"{service} restarted by the supervisor, healthy after {done[-1].healthy_after_s} s")
            return
        time.sleep(0.5)
    raise AssertionError(f"the supervisor did not bring {service} back within {deadline_s:.0f} s")


def unreachable(service: str, seconds: float = 60) -> Callable[[], None]:
    """The service's proxy refuses connections for `seconds` (the outage itself is the fault)."""

    def fault() -> None:
        pid = _pid(f"{service}-proxy")
        say(f"{service} unreachable for {seconds:.0f} s")
        os.kill(pid, signal.SIGUSR1)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGUSR2)
        say(f"{service} reachable again")

    return fault


def killed_apply(workdir: Path) -> Callable[[], None]:
    """A replace (here: the checkpoint interval changed, which changes nothing the rules decide)
    whose `apply` is killed after the old job's stop-with-savepoint and before the new job is
    submitted (the SQL Gateway is paused with SIGSTOP so the kill lands in between). The next
    `plan` must restore from that savepoint and the next `apply` do it; state lost would show as
    unexpected alerts (every user's next payment a "new device")."""
    from fraudctl.config.project import copy_declarations

    def fault() -> None:
        home = copy_declarations(ROOT, workdir / "repo")
        (home / ".local").symlink_to(Layout.default().root)  # the same stack, its secrets and state
        local = home / "environments/local.yaml"
        text = local.read_text()
        assert "checkpoint_interval: 2s" in text
        local.write_text(text.replace("checkpoint_interval: 2s", "checkpoint_interval: 3s"))
        rest = "http://127.0.0.1:8081"
        running = _running_job(rest)
        gateway = _pid("flink-sql-gateway")
        os.kill(gateway, signal.SIGSTOP)
        try:
            say(f"apply of a replace started; SQL Gateway paused; waiting for job {running} to stop with a savepoint")
            apply = subprocess.Popen(
                [sys.executable, "-m", "fraudctl", "apply", "--env", "local", "--auto-approve"],
                cwd=home,
                env={**os.environ, "FRAUDCTL_HOME": str(home)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 180
            while _job_state(rest, running) != "FINISHED":
                assert time.monotonic() < deadline, "the replace did not stop the job with a savepoint"
                assert apply.poll() is None, "apply ended before the savepoint"
                time.sleep(0.2)
            apply.kill()
            apply.wait()
            say("apply killed after the savepoint, before the resubmit")
        finally:
            os.kill(gateway, signal.SIGCONT)
        plan = fraudctl("plan", "--env", "local", "-o", "json", home=home)
        job = [c for c in json.loads(plan.stdout)["changes"] if c["kind"] == "flink-job"]
        assert [c["op"] for c in job] == ["create"] and "restores from the savepoint" in job[0]["note"], plan.stdout
        res = fraudctl("apply", "--env", "local", "--auto-approve", home=home)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        say("the next apply restored the job from that savepoint")

    return fault


def _running_job(rest: str) -> str:
    import requests

    jobs = requests.get(f"{rest}/jobs/overview", timeout=15).json()["jobs"]
    [job] = [j for j in jobs if j["name"].startswith("fraudctl:local:detections:") and j["state"] == "RUNNING"]
    return str(job["jid"])


def _job_state(rest: str, jid: str) -> str:
    import requests

    return str(requests.get(f"{rest}/jobs/{jid}", timeout=15).json().get("state"))


def reapply_repo() -> None:
    """Back to the repo's own declarations after a case that applied a changed copy."""
    res = fraudctl("apply", "--env", "local", "--auto-approve")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
