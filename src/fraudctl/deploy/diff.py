"""Pure change computation: (desired, actual, managed) -> changes. No I/O, fully unit-tested."""

from __future__ import annotations

from typing import Any

from fraudctl.deploy.model import CREATE, DELETE, NOOP, ORPHAN, UPDATE, Change, FieldChange, Resource


def field_changes(
    desired: dict[str, Any], actual: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> tuple[FieldChange, ...]:
    """Key-by-key differences. A key only the live object has is drift and is shown as removed."""
    keys = sorted((set(desired) | set(actual)) - ignore)
    return tuple(FieldChange(k, actual.get(k), desired.get(k)) for k in keys if desired.get(k) != actual.get(k))


def compute(
    kind: str,
    desired: dict[str, Resource],
    actual: dict[str, Resource],
    managed: set[str],
    prune: bool,
    ignore: frozenset[str] = frozenset(),
) -> list[Change]:
    """Changes for one kind. Only objects fraudctl recorded as its own (`managed`) are ever deleted;
    without `prune` they are listed as orphans and left alone."""
    changes: list[Change] = []
    for name in sorted(desired):
        want = desired[name]
        have = actual.get(name)
        if have is None:
            changes.append(Change(kind, name, CREATE, field_changes(want.spec, {}, ignore), desired=want))
            continue
        diffs = field_changes(want.spec, have.spec, ignore)
        if diffs:
            changes.append(Change(kind, name, UPDATE, diffs, desired=want))
        else:
            changes.append(Change(kind, name, NOOP, desired=want, track=name not in managed))
    for name in sorted(set(actual) - set(desired)):
        if name not in managed:
            continue  # not ours (created by hand or by another tool): never touched
        if prune:
            changes.append(Change(kind, name, DELETE, field_changes({}, actual[name].spec, ignore)))
        else:
            changes.append(Change(kind, name, ORPHAN, note="no longer in the repo; deleted only with --prune"))
    return changes


def never_deleted(changes: list[Change], note: str) -> list[Change]:
    """For kinds fraudctl never drops (tables, login users): a delete becomes an orphan saying so."""
    return [Change(c.kind, c.name, ORPHAN, (), note) if c.op == DELETE else c for c in changes]
