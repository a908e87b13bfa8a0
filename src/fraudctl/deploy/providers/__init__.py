"""One provider per resource kind: desired state, actual state, apply, wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fraudctl.deploy import diff
from fraudctl.deploy.model import Change, Resource
from fraudctl.deploy.state import Record

# (object, state, detail): what a long wait shows as it goes.
Progress = Callable[[str, str, str], None]


class Provider(Protocol):
    kind: str

    def desired(self) -> dict[str, Resource]: ...

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]: ...

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]: ...

    def apply(self, change: Change) -> None: ...

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]: ...


class ReadyWhenWritten:
    """For kinds a service applies at once (DDL, templates, bucket rules): the plan is the plain
    difference, and there is nothing to wait for after a write."""

    kind: str

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        return diff.compute(self.kind, desired, actual, managed, prune)

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]:
        return []
