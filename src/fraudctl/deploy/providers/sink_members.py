"""Which Kafka consumers of a sink connector's tasks have joined its group.

Connect reports a task RUNNING before it calls the task's `start()`, which is where a sink first
opens its target (a JDBC sink's connection pool, for one). A sink task's consumer joins the
connector's group only after `start()` returned, so a member that joined after the config was
written proves the new task started. A consumer's member id is new for every consumer instance,
which is what tells the new task from the one the write replaced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient


class GroupMembers(Protocol):
    def members(self, group: str) -> dict[str, str]: ...


class SinkMembers:
    def __init__(self, admin_config: Mapping[str, str | int | float | bool]) -> None:
        self.admin_config = dict(admin_config)
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:  # built on first use: `plan` never needs it
            self._admin = AdminClient(self.admin_config)
        return self._admin

    def members(self, group: str) -> dict[str, str]:
        """member id -> client id of each consumer of a settled (stable) group; empty while the group
        rebalances or if Kafka does not answer (the caller polls again)."""
        try:
            [future] = self.admin.describe_consumer_groups([group], request_timeout=10).values()
            described = future.result()
        except KafkaException:
            return {}
        if described.state != ConsumerGroupState.STABLE:
            return {}
        # A task may hold no partition (more tasks than partitions) and has still started.
        return {m.member_id: m.client_id for m in described.members}
