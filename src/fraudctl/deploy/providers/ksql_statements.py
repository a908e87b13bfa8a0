"""The detections as ksqlDB statements (the rendered `ksql/pipeline.sql`), one resource each.

- The server says what exists (LIST STREAMS/TABLES EXTENDED, SHOW QUERIES); fraudctl's record of
  what it applied (checksum and text, in the environment's PostgreSQL) says which version.
- A new statement is sent alone, in file order, passing the previous command sequence number;
  new queries read their input from the earliest offset.
- A changed statement that ksqlDB can apply in place is sent as CREATE OR REPLACE (the query keeps
  its committed offsets). One that it cannot (changed sources, join, grouping, window or key; any
  INSERT INTO) is refused by `plan` with the reason, unless `--recreate-from earliest|latest` is
  given: then its query (and every statement reading what it writes) is terminated, dropped and
  created again, reading from that offset. The plan says so.
- `--prune` terminates and drops only statements fraudctl recorded, readers first; topics stay."""

from __future__ import annotations

import time
from typing import Any

from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, DELETE, NOOP, REFUSED, REPLACE, UPDATE, Change, Resource
from fraudctl.deploy.providers import Progress
from fraudctl.deploy.state import Record
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.ksqldb.statements import (
    INSERT,
    QUERY,
    Statement,
    change_allowed_in_place,
    normalize,
    parse,
    parse_one,
    settings,
)

OFFSET_PROPERTY = "ksql.streams.auto.offset.reset"


class KsqlPlanError(Exception):
    pass


class KsqlStatementProvider:
    kind = "ksql-statement"

    def __init__(self, client: KsqlClient, sql: str, recreate_from: str | None = None) -> None:
        self.client = client
        self.statements = parse(sql)
        self.settings = settings(sql)  # the pipeline's SET lines, sent with every query it creates
        self.by_name = {s.name: s for s in self.statements}
        self.recreate_from = recreate_from
        self.writes = 0
        self._recorded: dict[str, Statement] = {}
        self._live_queries: list[dict[str, Any]] = []
        self._dropped: set[str] = set()

    def desired(self) -> dict[str, Resource]:
        return {s.name: Resource(self.kind, s.name, {"checksum": s.checksum, "sql": s.sql}) for s in self.statements}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        sources = self.client.sources()
        self._live_queries = self.client.queries()
        self._recorded = {
            name: parse_one(str(r.spec["sql"])) for (kind, name), r in records.items() if kind == self.kind
        }
        out: dict[str, Resource] = {}
        for name in set(desired) | set(self._recorded):
            known = self._recorded.get(name) or self.by_name[name]
            if known.kind == INSERT:
                live = self._insert_query(known) or (
                    self._insert_query(self.by_name[name]) if name in self.by_name else None
                )
                if live is None:
                    continue
                text = str(live.get("queryString", known.sql))
            elif name in sources:
                text = str(sources[name].get("statement") or known.sql)
            else:
                continue
            # The server may reformat what it stores: when its text is the desired one, it is current;
            # otherwise the recorded version is what was applied.
            if name in self.by_name and normalize(text) == normalize(self.by_name[name].sql):
                version = self.by_name[name]
            else:
                version = known
            out[name] = Resource(self.kind, name, {"checksum": version.checksum, "sql": version.sql})
        return out

    def _insert_query(self, statement: Statement) -> dict[str, Any] | None:
        wanted = normalize(statement.sql).rstrip(";")
        for query in self._live_queries:
            if normalize(str(query.get("queryString", ""))).rstrip(";") == wanted:
                return query
        return None

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        changes = {c.name: c for c in diff.compute(self.kind, desired, actual, managed, prune, frozenset({"sql"}))}
        refused: dict[str, str] = {}
        recreate: set[str] = set()
        for name, change in list(changes.items()):
            if change.op != UPDATE:
                continue
            old = self._recorded.get(name) or parse_one(str(actual[name].spec["sql"]))
            reason = change_allowed_in_place(old, self.by_name[name])
            if reason is None:
                changes[name] = Change(
                    self.kind, name, UPDATE, change.fields, "CREATE OR REPLACE: the query keeps its offsets",
                    change.desired,
                )  # fmt: skip
            elif self.recreate_from:
                recreate.add(name)
            else:
                refused[name] = (
                    f"ksqlDB cannot apply this change in place: {reason}. To terminate, drop and re-create it "
                    "(with every statement that reads it), pass --recreate-from earliest (reprocess the input "
                    "topics' retained records) or latest (only new records; what arrives in between is not "
                    "evaluated)"
                )
        for name, reason in refused.items():
            changes[name] = Change(self.kind, name, REFUSED, changes[name].fields, reason, changes[name].desired)
        for name in self._readers_of(recreate):
            if name in actual:
                recreate.add(name)
        # What apply drops before the first re-creation, readers first, as it was recorded.
        drops = {
            n: (self._recorded.get(n) or self.by_name[n]).sql
            for n in (s.name for s in self.statements)
            if n in recreate
        }
        ordered: list[Change] = []
        for statement in self.statements:  # file order is dependency order
            if statement.name not in changes or changes[statement.name].op == DELETE:
                continue  # deleted below, readers first (a destroy deletes every statement)
            change = changes.pop(statement.name)
            if statement.name in recreate:
                change = Change(
                    self.kind,
                    statement.name,
                    REPLACE,
                    change.fields,
                    f"terminate, drop and re-create; reads again from the {self.recreate_from} offset",
                    change.desired,
                    context={"drops": drops, "offset": self.recreate_from},
                )
            ordered.append(change)
        leftovers = [
            Change(c.kind, c.name, c.op, c.fields, c.note, c.desired, c.track,
                   context={"recorded_sql": self._recorded[c.name].sql} if c.name in self._recorded else {})
            for c in sorted(changes.values(), key=lambda c: self._drop_rank(c.name))
        ]  # fmt: skip
        return ordered + leftovers

    def _readers_of(self, names: set[str]) -> set[str]:
        """Every statement reading, directly or not, what `names` write (they must be re-created too)."""
        out: set[str] = set()
        frontier = {n for n in names if self.by_name[n].kind != INSERT}
        while frontier:
            nxt = {s.name for s in self.statements if set(s.sources) & frontier and s.name not in out}
            out |= nxt
            frontier = {n for n in nxt if self.by_name[n].kind != INSERT}
        return out

    def _drop_rank(self, name: str) -> tuple[int, int, int]:
        """Readers before what they read. Statements no longer in the file first (what read them is
        gone from the file too), inserts, then queries, then sources; those still in the file (a
        destroy) in reverse file order, which is reverse dependency order."""
        statement = self._recorded.get(name)
        kind = statement.kind if statement else QUERY
        rank = {INSERT: 0, QUERY: 1}.get(kind, 2)
        if name not in self.by_name:
            return (0, rank, 0)
        return (1, -self.statements.index(self.by_name[name]), rank)

    def apply(self, change: Change) -> None:
        if change.op == CREATE:
            self.client.execute(self.by_name[change.name].sql, {**self.settings, OFFSET_PROPERTY: "earliest"})
        elif change.op == UPDATE:
            self.client.execute(self.by_name[change.name].or_replace(), self.settings)
        elif change.op == REPLACE:
            self._drop_for_recreate(dict(change.context["drops"]))
            offset = str(change.context["offset"])
            self.client.execute(self.by_name[change.name].sql, {**self.settings, OFFSET_PROPERTY: offset})
        elif change.op == DELETE:
            self._drop(parse_one(str(change.context["recorded_sql"])))
        elif change.op == NOOP:
            return
        self.writes += 1

    def _drop_for_recreate(self, drops: dict[str, str]) -> None:
        """Before the first re-creation: drops every statement being re-created (`drops`: name ->
        recorded text, in file order), readers first."""
        for name, sql in reversed(list(drops.items())):
            if name not in self._dropped:
                self._drop(parse_one(sql))
                self._dropped.add(name)

    def _drop(self, statement: Statement) -> None:
        self._live_queries = self.client.queries()  # what runs now (apply may run on a fresh provider)
        if statement.kind == INSERT:
            query = self._insert_query(statement)
            if query is not None:
                self.client.execute(f"TERMINATE {query['id']}")
            return
        source = self.client.sources().get(statement.name)
        if source is None:
            return
        for query in source.get("writeQueries", []):
            self.client.execute(f"TERMINATE {query['id']}")
        self.client.execute(f"DROP {statement.object_type} IF EXISTS {statement.name}")

    def query_states(self, names: list[str]) -> dict[str, str]:
        """The state of the persistent query behind each named statement (sources have none)."""
        return {name: state for name, (_id, state) in self.live_queries(names).items()}

    def live_queries(self, names: list[str]) -> dict[str, tuple[str | None, str]]:
        """(query id, state) of the persistent query behind each named statement."""
        sources = self.client.sources()
        self._live_queries = self.client.queries()
        out: dict[str, tuple[str | None, str]] = {}
        for statement in (self.by_name[n] for n in names if n in self.by_name):
            query: dict[str, Any] | None = None
            if statement.kind == INSERT:
                query = self._insert_query(statement)
            elif statement.kind == QUERY:
                writers = (sources.get(statement.name) or {}).get("writeQueries", [])
                query = writers[0] if writers else None
            else:
                continue
            out[statement.name] = (str(query["id"]), _state(query)) if query else (None, "MISSING")
        return out

    def wait(self, names: list[str], deadline: float, progress: Progress) -> list[str]:
        while True:
            bad = {n: s for n, s in self.query_states(names).items() if s != "RUNNING"}
            if not bad:
                return []
            if time.monotonic() > deadline:
                return [f"ksqlDB query for {n} is {s}" for n, s in sorted(bad.items())]
            for name, state in sorted(bad.items()):
                progress(f"ksql {name}", "waiting", state)
            time.sleep(2)


def _state(query: dict[str, Any]) -> str:
    if "state" in query:
        return str(query["state"])
    counts = query.get("statusCount") or {}
    return "RUNNING" if counts.get("RUNNING") else (next(iter(counts), "UNKNOWN") if counts else "UNKNOWN")
