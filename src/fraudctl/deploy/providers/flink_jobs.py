"""The detections as one Flink job per environment, submitted through the SQL Gateway.

The job's name carries the checksum of its rendered SQL (`fraudctl:<env>:detections:<checksum>`),
so the cluster itself says whether the running job is current. A changed job is replaced the way
Flink supports: stop with a savepoint, then submit the new SQL restoring from it (state is kept for
operators that still match; state of changed operators is dropped, and those operators rebuild it
from the records they read after the restart). Kafka offsets are part of the savepoint, so reading
resumes exactly where the old job stopped."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

from fraudctl.config.secrets import resolve_embedded
from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, DELETE, ORPHAN, REPLACE, UPDATE, Change, Resource, checksum
from fraudctl.deploy.providers import Progress
from fraudctl.deploy.state import Record
from fraudctl.flink.gateway import FlinkSession, GatewayError, job_root_cause

log = logging.getLogger(__name__)

JOB = "detections"
TERMINAL = {"FINISHED", "CANCELED", "FAILED"}
REPLACE_NOTE = (
    "stop with savepoint, resubmit restoring from it: reading resumes at the savepoint's "
    "offsets; operators that still match keep their state, added ones start empty"
)


class FlinkJobError(Exception):
    pass


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in sorted(value.items()):
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


class FlinkJobProvider:
    kind = "flink-job"

    def __init__(
        self,
        env_name: str,
        rest_url: str,
        gateway_url: str,
        sql: str,
        context: dict[str, Any],
        properties: dict[str, str],
    ) -> None:
        """`properties`: the job's session settings (flink/job_config.py), its name aside."""
        self.env_name = env_name
        self.rest = rest_url.rstrip("/")
        self.gateway = gateway_url
        self.sql = sql
        self.properties = properties
        # What the job is: its SQL and the settings it is submitted with (the name carries it).
        self.sql_checksum = checksum([sql, sorted(properties.items())])
        spec: dict[str, Any] = {"sql_checksum": self.sql_checksum}
        _flatten("rules", {r["name"]: r["params"] for r in context["rules"]}, spec)
        _flatten("stream", context["stream"], spec)
        self.spec = spec
        self.jobs: dict[str, str] = {}  # resource name -> running job id
        # (job id, savepoint) of a job a replace stopped but never resubmitted, when no job runs.
        self.interrupted: tuple[str, str] | None = None
        self.writes = 0

    def job_name(self, sql_checksum: str) -> str:
        return f"fraudctl:{self.env_name}:{JOB}:{sql_checksum}"

    def desired(self) -> dict[str, Resource]:
        return {JOB: Resource(self.kind, JOB, self.spec)}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        jobs = requests.get(f"{self.rest}/jobs/overview", timeout=15).json().get("jobs", [])
        prefix = f"fraudctl:{self.env_name}:"
        out: dict[str, Resource] = {}
        self.jobs = {}
        for job in sorted(jobs, key=lambda j: -int(j.get("start-time", 0))):
            if not str(job["name"]).startswith(prefix) or job["state"] in TERMINAL:
                continue
            running = str(job["name"]).split(":")[-1]
            # The newest running job is the environment's; any older one is a leftover (interrupted apply).
            name = JOB if JOB not in out else f"{JOB}#{job['jid']}"
            record = records.get((self.kind, JOB))
            if running == self.sql_checksum:
                spec = dict(self.spec)
            elif record is not None and record.spec.get("sql_checksum") == running:
                spec = dict(record.spec)
            else:
                spec = {"sql_checksum": running}
            out[name] = Resource(self.kind, name, spec)
            self.jobs[name] = str(job["jid"])
        self.interrupted = None if JOB in out else self._interrupted_replace(jobs)
        return out

    def _interrupted_replace(self, jobs: list[dict[str, Any]]) -> tuple[str, str] | None:
        """A replace stops the job with a savepoint, then submits the new one from it. When the
        apply died in between, the environment's newest job is FINISHED (only stop-with-savepoint
        finishes a streaming job) with a savepoint: the next create restores from it, or every
        rule's state would be lost. A cancelled job (destroy) is not restored from."""
        ours = [j for j in jobs if str(j["name"]).startswith(f"fraudctl:{self.env_name}:{JOB}:")]
        if not ours:
            return None
        newest = max(ours, key=lambda j: int(j.get("start-time", 0)))
        if newest["state"] != "FINISHED":
            return None
        resp = requests.get(f"{self.rest}/jobs/{newest['jid']}/checkpoints", timeout=15)
        savepoint = (resp.json().get("latest") or {}).get("savepoint") or {} if resp.ok else {}
        path = savepoint.get("external_path")
        return (str(newest["jid"]), str(path)) if path else None

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        # Every job named fraudctl:<env>: is this repo's by construction, so leftovers are always removed;
        # the desired job itself keeps its real record status (an unrecorded one is tracked on apply).
        leftovers = set(actual) - set(desired)
        changes = diff.compute(self.kind, desired, actual, managed | leftovers, prune=True)
        out = []
        for c in changes:
            live = {"job_id": self.jobs[c.name]} if c.name in self.jobs else {}  # the running job it acts on
            if c.op == CREATE and c.name == JOB and self.interrupted:
                stopped, savepoint = self.interrupted
                note = f"restores from the savepoint of job {stopped}, stopped by a replace that never resubmitted"
                c = Change(c.kind, c.name, CREATE, c.fields, note, c.desired, context={"restore_from": savepoint})
            elif c.op == UPDATE:
                c = Change(c.kind, c.name, REPLACE, c.fields, REPLACE_NOTE, c.desired, context=live)
            elif c.op == DELETE and c.name != JOB:
                c = Change(c.kind, c.name, DELETE, (), "leftover job of an interrupted apply", c.desired, context=live)
            elif c.op == DELETE and not prune:
                c = Change(c.kind, c.name, ORPHAN, (), "no longer in the repo; cancelled only with --prune")
            elif c.op == DELETE:
                c = Change(c.kind, c.name, DELETE, c.fields, c.note, c.desired, context=live)
            out.append(c)
        return out

    def apply(self, change: Change) -> None:
        if change.op == CREATE:
            self.jobs[change.name] = self._submit(change.context.get("restore_from"))
        elif change.op == REPLACE:
            job_id = str(change.context["job_id"])
            restore: str | None
            try:
                restore = self._stop_with_savepoint(job_id)
            except FlinkJobError as exc:
                # A job that cannot take a savepoint (restarting after a failure: not every task
                # runs) is cancelled and replaced from its latest completed checkpoint, which the
                # cluster retains on cancellation: a fix for a failing job must be deployable.
                restore = self._latest_checkpoint(job_id)
                if restore is None:
                    raise FlinkJobError(f"{exc}; and the job has no completed checkpoint to restore from") from exc
                log.warning("%s; replacing it from its latest checkpoint %s", exc, restore)
                self._cancel(job_id)
            self.jobs[change.name] = self._submit(restore)
        elif change.op == DELETE:
            requests.patch(f"{self.rest}/jobs/{change.context['job_id']}?mode=cancel", timeout=15)
            self.writes += 1

    def _latest_checkpoint(self, job_id: str) -> str | None:
        resp = requests.get(f"{self.rest}/jobs/{job_id}/checkpoints", timeout=15)
        latest = (resp.json().get("latest") or {}).get("completed") or {} if resp.ok else {}
        path = latest.get("external_path")
        return str(path) if path else None

    def _cancel(self, job_id: str) -> None:
        requests.patch(f"{self.rest}/jobs/{job_id}?mode=cancel", timeout=15).raise_for_status()
        self.writes += 1
        deadline = time.monotonic() + 120
        while requests.get(f"{self.rest}/jobs/{job_id}", timeout=15).json().get("state") not in TERMINAL:
            if time.monotonic() > deadline:
                raise FlinkJobError(f"job {job_id} not cancelled after 120 s")
            time.sleep(0.5)

    def _submit(self, savepoint: str | None) -> str:
        props = {**self.properties, "pipeline.name": self.job_name(self.sql_checksum)}
        if savepoint:
            # Flink 2 names. Skipping unclaimed state lets an added or removed statement restore: the
            # operators that no longer exist drop their state, new ones start empty.
            props.update(
                {"execution.state-recovery.path": savepoint, "execution.state-recovery.ignore-unclaimed-state": "true"}
            )
        # ${env:NAME} references (for example SASL passwords) are resolved only here, at submission.
        text, _values = resolve_embedded(self.sql)
        try:
            with FlinkSession(self.gateway, props) as session:
                job_id = session.submit_pipeline(text)
        except GatewayError as exc:
            if savepoint:
                raise FlinkJobError(
                    f"the new job did not start from savepoint {savepoint} (the old job is stopped; the next "
                    f"apply starts it from the consumer group's committed offsets): {exc}"
                ) from exc
            raise
        self.writes += 1
        return job_id

    def _stop_with_savepoint(self, job_id: str) -> str:
        resp = requests.post(f"{self.rest}/jobs/{job_id}/stop", json={"drain": False}, timeout=30)
        resp.raise_for_status()
        self.writes += 1
        trigger = resp.json()["request-id"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            data = requests.get(f"{self.rest}/jobs/{job_id}/savepoints/{trigger}", timeout=15).json()
            if data.get("status", {}).get("id") == "COMPLETED":
                operation = data.get("operation", {})
                if "location" in operation:
                    return str(operation["location"])
                cause = operation.get("failure-cause") or {}
                # The cause's first line says why; its serialized form and stack are no reading matter.
                trace = str(cause.get("stack-trace") or cause).splitlines()
                reason = next((ln for ln in reversed(trace) if ln.startswith("Caused by:")), trace[0] if trace else "")
                raise FlinkJobError(f"savepoint of job {job_id} failed: {reason.removeprefix('Caused by: ')}")
            time.sleep(1)
        raise FlinkJobError(f"savepoint of job {job_id} not complete after 180 s")

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]:
        pending = {n: self.jobs[n] for n in names if n in self.jobs}
        problems: list[str] = []
        while pending and time.monotonic() < deadline:
            for name, jid in list(pending.items()):
                job = requests.get(f"{self.rest}/jobs/{jid}", timeout=15).json()
                vertices = [v.get("status") for v in job.get("vertices", [])]
                if job.get("state") in TERMINAL:
                    problems.append(f"flink job {name} ({jid}) {job.get('state')}: {job_root_cause(self.rest, jid)}")
                    del pending[name]
                elif job.get("state") == "RUNNING" and vertices and all(v == "RUNNING" for v in vertices):
                    progress(f"flink {name}", "RUNNING", f"job {jid}, {len(vertices)} tasks")
                    del pending[name]
                else:
                    progress(f"flink {name}", "waiting", str(job.get("state")))
            if pending:
                time.sleep(1)
        problems += [f"flink job {n} not RUNNING before the timeout" for n in pending]
        return problems
