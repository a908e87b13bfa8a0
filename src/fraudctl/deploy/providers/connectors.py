"""Connectors through the Connect REST API. A config is sent only when it differs from the live one
(an unchanged PUT would still restart the connector); secrets are compared as their references."""

from __future__ import annotations

import time

from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, DELETE, UPDATE, Change, Resource
from fraudctl.deploy.providers import Progress
from fraudctl.deploy.providers.connect_rest import ConnectClient, ConnectError
from fraudctl.deploy.providers.sink_members import GroupMembers
from fraudctl.deploy.state import Record
from fraudctl.render.connectors import RenderedConnector


def failures(status: dict[str, object]) -> list[str]:
    """Each failed part of a connector, with Connect's trace (first lines)."""
    out = []
    connector = status.get("connector") or {}
    if isinstance(connector, dict) and connector.get("state") == "FAILED":
        out.append(f"connector {status.get('name')} FAILED:\n{_trace(connector)}")
    for task in status.get("tasks") or []:  # type: ignore[attr-defined]
        if task.get("state") == "FAILED":
            out.append(f"connector {status.get('name')} task {task.get('id')} FAILED:\n{_trace(task)}")
    return out


def _trace(part: dict[str, object]) -> str:
    lines = str(part.get("trace", "")).splitlines()
    causes = [line for line in lines if line.startswith("Caused by:")]
    return "\n".join((lines[:1] + causes[-2:]) or ["(no trace)"])


SETTLE_SECONDS = 5.0
# After a config write Connect restarts the tasks asynchronously; for this long a FAILED status may
# still be the previous generation's, so it is polled again rather than reported.
RESTART_GRACE_SECONDS = 20.0


class ConnectorProvider:
    kind = "connector"

    def __init__(
        self, client: ConnectClient, rendered: list[RenderedConnector], members: GroupMembers | None = None
    ) -> None:
        self.client = client
        self.rendered = {c.name: c for c in rendered}
        self.members = members
        self.written_at: dict[str, float] = {}
        # Each written sink's group, and its consumers before the write (the replaced tasks').
        self.members_before: dict[str, tuple[str, set[str]]] = {}

    def desired(self) -> dict[str, Resource]:
        return {name: Resource(self.kind, name, dict(c.config)) for name, c in self.rendered.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        return {
            name: Resource(self.kind, name, dict(info["info"]["config"]))
            for name, info in self.client.connectors().items()
        }

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        return diff.compute(self.kind, desired, actual, managed, prune)

    def apply(self, change: Change) -> None:
        if change.op in (CREATE, UPDATE) and change.desired is not None:
            group = self.rendered[change.name].consumer_group  # only what the repo renders is written
            if self.members is not None and group is not None:
                self.members_before[change.name] = (group, set(self.members.members(group)))
            self.client.request("PUT", f"/connectors/{change.name}/config", json=change.desired.spec)
            self.written_at[change.name] = time.monotonic()
        elif change.op == DELETE:
            self.client.request("DELETE", f"/connectors/{change.name}")

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]:
        """Until every named connector and each of its tasks is RUNNING; failures with their traces."""
        pending = set(names)
        problems: list[str] = []
        while pending and time.monotonic() < deadline:
            try:
                live = self.client.connectors()  # every status in one request
            except ConnectError as exc:
                progress("connectors", "waiting", str(exc))
                time.sleep(1)
                continue
            for name in sorted(pending):
                status = live.get(name, {}).get("status")
                if status is None:
                    progress(name, "waiting", "not listed yet")
                    continue
                failed = failures(status)
                tasks = status.get("tasks") or []
                states = [status["connector"]["state"], *[t["state"] for t in tasks]]
                fresh = time.monotonic() - self.written_at.get(name, float("-inf")) < RESTART_GRACE_SECONDS
                if failed and fresh:
                    progress(name, "waiting", "FAILED before the restart; checking again")
                elif failed:
                    problems += failed
                    pending.discard(name)
                elif tasks and all(s == "RUNNING" for s in states):
                    waiting_for = self._not_started(name, len(tasks), fresh)
                    if waiting_for:
                        progress(name, "starting", waiting_for)
                    else:
                        progress(name, "RUNNING", f"{len(tasks)} task(s)")
                        pending.discard(name)
                else:
                    progress(name, "waiting", "/".join(states))
            if pending:
                time.sleep(1)
        problems += [f"connector {n} not RUNNING before the timeout" for n in sorted(pending)]
        # A task can report RUNNING and fail a moment later (for example when it first connects to its
        # target): RUNNING has to hold for SETTLE_SECONDS before it counts.
        # Only connectors this apply wrote can be in that window; the others have been running.
        healthy = [
            n
            for n in names
            if n in self.written_at and n not in pending and not any(p.startswith(f"connector {n} ") for p in problems)
        ]
        if healthy:
            progress("connectors", "settling", f"checking again in {SETTLE_SECONDS:g} s")
            time.sleep(SETTLE_SECONDS)
            for name in healthy:
                problems += failures(self.client.status(name))
        self.written_at.clear()  # what this apply wrote; the next apply starts afresh
        self.members_before.clear()
        return problems

    def _not_started(self, name: str, tasks: int, fresh: bool) -> str | None:
        """Why a written sink whose tasks report RUNNING has not been seen to start, or None.

        Its new tasks have started once as many consumers joined its group as it has tasks, none of
        them the replaced tasks'. A write that did not change the task configs restarts no task: the
        old consumers are still all there when the grace period after the write has passed."""
        if self.members is None or name not in self.members_before:
            return None  # a source connector, or not written by this apply
        group, before = self.members_before[name]
        now = set(self.members.members(group))
        joined = len(now - before)
        if joined >= tasks or (not fresh and before and before <= now):
            return None
        return f"tasks RUNNING; {joined} of {tasks} new consumer(s) in group {group} (a task joins once started)"
