"""ACLs of the analysts' Kafka principal (`kafka.analyst`): read and describe exactly the topics
the query session's Kafka tables name, and read consumer groups under the query prefix; nothing
else, so a statement that slipped past the guard still cannot produce (the broker refuses).
An ACL of that principal that is not desired is deleted (always: a stray grant is a hole)."""

from __future__ import annotations

from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported without __all__
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from fraudctl.deploy.model import CREATE, DELETE, NOOP, Change, FieldChange, Resource
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record
from fraudctl.query.access import QUERY_GROUP_PREFIX

_TYPES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}


def _name(principal: str, kind: str, pattern: str, resource: str, operation: str) -> str:
    return f"{principal} {operation} {kind}:{resource}" + (" (prefix)" if pattern == "prefixed" else "")


class KafkaAclProvider(ReadyWhenWritten):
    kind = "kafka-acl"

    def __init__(self, admin_config: dict[str, str | int | float | bool], username: str, topics: list[str]) -> None:
        self.admin_config = admin_config
        self.principal = f"User:{username}"
        self.topics = topics
        self.writes = 0
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.admin_config)
        return self._admin

    def _resource(self, kind: str, pattern: str, resource: str, operation: str) -> Resource:
        spec = {
            "principal": self.principal,
            "type": kind,
            "pattern": pattern,
            "resource": resource,
            "operation": operation,
        }
        return Resource(self.kind, _name(self.principal, kind, pattern, resource, operation), spec)

    def desired(self) -> dict[str, Resource]:
        wanted = [self._resource("topic", "literal", t, op) for t in self.topics for op in ("READ", "DESCRIBE")]
        wanted.append(self._resource("group", "prefixed", QUERY_GROUP_PREFIX, "READ"))
        return {r.name: r for r in wanted}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        # None matches any name / host (the client's stubs type them as str).
        query = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            self.principal,
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        out = {}
        for b in self.admin.describe_acls(query).result(timeout=30):
            kind = {ResourceType.TOPIC: "topic", ResourceType.GROUP: "group"}.get(b.restype, b.restype.name.lower())
            pattern = "prefixed" if b.resource_pattern_type == ResourcePatternType.PREFIXED else "literal"
            operation = b.operation.name if b.permission_type == AclPermissionType.ALLOW else f"DENY {b.operation.name}"
            r = self._resource(kind, pattern, b.name, operation)
            out[r.name] = Resource(self.kind, r.name, {**r.spec, "host": b.host})
        return out

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        changes = []
        for name, want in sorted(desired.items()):
            if name in actual:
                changes.append(Change(self.kind, name, NOOP, desired=want, track=name not in managed))
            else:
                fields = tuple(FieldChange(k, None, v) for k, v in sorted(want.spec.items()))
                changes.append(Change(self.kind, name, CREATE, fields, desired=want))
        for name, have in sorted(actual.items()):
            if name not in desired:
                fields = tuple(FieldChange(k, v, None) for k, v in sorted(have.spec.items()))
                changes.append(Change(self.kind, name, DELETE, fields, "not granted by the repo"))
        return changes

    def apply(self, change: Change) -> None:
        if change.op == CREATE and change.desired is not None:
            s = change.desired.spec
            binding = AclBinding(
                _TYPES[s["type"]], s["resource"], _PATTERNS[s["pattern"]], self.principal, "*",
                AclOperation[s["operation"]], AclPermissionType.ALLOW,
            )  # fmt: skip
            for future in self.admin.create_acls([binding]).values():
                future.result(timeout=30)
        elif change.op == DELETE:
            before = {f.key: f.before for f in change.fields}
            operation = str(before["operation"])
            permission = AclPermissionType.DENY if operation.startswith("DENY ") else AclPermissionType.ALLOW
            restype = _TYPES.get(str(before["type"]), ResourceType.ANY)
            query = AclBindingFilter(
                restype, str(before["resource"]), _PATTERNS[str(before["pattern"])], self.principal,
                None,  # type: ignore[arg-type]
                AclOperation[operation.removeprefix("DENY ")], permission,
            )  # fmt: skip
            for future in self.admin.delete_acls([query]).values():
                future.result(timeout=30)
        self.writes += 1
