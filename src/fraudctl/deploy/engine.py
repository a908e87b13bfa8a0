"""Plan and apply across every provider of an environment.

`make_plan` reads the actual state once per provider and computes a Plan (a value). `apply` takes
the lock, re-plans under it (so it acts on what is there now), executes the writes in dependency
order, records each applied object, and waits until every connector, task and job is RUNNING."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudctl.config.project import SEARCH, Project
from fraudctl.config.settings import Flink, HttpService, Ksqldb, Settings, SettingsError
from fraudctl.deploy.model import DELETE, KIND_ORDER, Change, Plan
from fraudctl.deploy.providers import Progress, Provider
from fraudctl.deploy.providers.connect_rest import ConnectClient
from fraudctl.deploy.providers.connectors import ConnectorProvider
from fraudctl.deploy.providers.flink_jobs import FlinkJobProvider
from fraudctl.deploy.providers.kafka_acls import KafkaAclProvider
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.deploy.providers.postgres_ddl import PostgresDdlProvider
from fraudctl.deploy.providers.postgres_logins import PostgresLoginProvider
from fraudctl.deploy.providers.s3_lifecycle import S3LifecycleProvider
from fraudctl.deploy.providers.schema_subjects import SchemaRegistryClient, SchemaSubjectProvider
from fraudctl.deploy.providers.search_templates import SearchTemplateProvider
from fraudctl.deploy.providers.sink_members import SinkMembers
from fraudctl.deploy.providers.topics import TopicProvider
from fraudctl.deploy.state import StateStore, conninfo
from fraudctl.flink.job_config import job_properties
from fraudctl.ksqldb.client import KsqlClient
from fraudctl.query.access import FLINK_TABLES, topics_read
from fraudctl.render import jinja
from fraudctl.render.pipeline import render_environment, render_sql, sql_context


class DeployError(Exception):
    pass


class PlanNotApplied(DeployError):
    """The plan made under the lock was not applied; `plan` is it (to print), the message says why."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan


def kafka_admin_config(env: Settings) -> dict[str, str | int | float | bool]:
    """librdkafka settings of the environment's Kafka connection (secrets resolved here, at the edge)."""
    return dict(env.kafka.librdkafka())


def connect_client(env: Settings) -> ConnectClient:
    return ConnectClient(env.connect.url, env.connect.auth_pair())


def ksql_client(env: Settings) -> KsqlClient:
    """The environment's ksqlDB server, with its basic auth (`ksqldb.auth`, as every HTTP endpoint)."""
    ksql: Ksqldb = env.need("ksqldb")
    return KsqlClient(ksql.url, ksql.auth_pair())


def search_endpoint(env: Settings) -> tuple[str, tuple[str, str] | None]:
    search: HttpService = env.need("search")
    return search.url, search.auth_pair()


@dataclass
class Deployment:
    """The providers of one environment, built from the rendered repo (no service called yet)."""

    project: Project
    env_name: str
    env: Settings
    providers: dict[str, Provider] = field(default_factory=dict)

    @classmethod
    def build(cls, project: Project, env_name: str, recreate_from: str | None = None) -> Deployment:
        """`recreate_from` (earliest|latest): allow ksqlDB statements that cannot change in place
        to be dropped and re-created, reading from that offset."""
        try:
            env = project.settings(env_name)
        except SettingsError as exc:
            raise DeployError(str(exc)) from exc
        engine = env.engine
        rendered, problems = render_environment(project, env_name)
        if problems:
            raise DeployError("the repo does not render: " + "; ".join(p.text() for p in problems))
        context = sql_context(project, env_name)
        dep = cls(project, env_name, env)
        dep.providers = {
            "postgres-ddl": PostgresDdlProvider(project.root / "postgres", conninfo(env, "fraudctl ddl")),
            "postgres-login": PostgresLoginProvider(env.need("postgres"), conninfo(env, "fraudctl logins")),
            "topic": TopicProvider(kafka_admin_config(env), rendered.topics),
            "search-template": SearchTemplateProvider(project.root / SEARCH, *search_endpoint(env)),
            "s3-lifecycle": S3LifecycleProvider(env, rendered.connectors),
            "connector": ConnectorProvider(
                connect_client(env), rendered.connectors, SinkMembers(kafka_admin_config(env))
            ),
        }
        if env.schema_registry is not None:
            registry = SchemaRegistryClient(env.schema_registry.url, env.schema_registry.auth_pair())
            dep.providers["schema-subject"] = SchemaSubjectProvider(registry)
        if env.kafka.analyst is not None:
            # The analysts' principal may read exactly what the query session's Kafka tables read.
            tables = jinja.render(project.templates, FLINK_TABLES, context)
            dep.providers["kafka-acl"] = KafkaAclProvider(
                kafka_admin_config(env), env.kafka.analyst.sasl.username, topics_read(tables)
            )
        if engine == "flink":
            flink: Flink = env.need("flink")
            dep.providers["flink-job"] = FlinkJobProvider(
                env_name,
                flink.rest_url,
                flink.sql_gateway_url,
                render_sql(project, "flink", context),
                context,
                job_properties(env),
            )
        else:
            dep.providers["ksql-statement"] = KsqlStatementProvider(
                ksql_client(env), render_sql(project, "ksql", context), recreate_from
            )
        return dep

    def plan(self, state: StateStore, prune: bool, destroy: bool = False) -> Plan:
        """With `destroy`, nothing is desired: every object fraudctl recorded is deleted."""
        records = state.records()
        changes: list[Change] = []
        for kind in (k for k in KIND_ORDER if k in self.providers):  # one engine's kind is absent
            provider = self.providers[kind]
            desired = {} if destroy else provider.desired()
            actual = provider.actual(desired, records)
            managed = {name for (k, name) in records if k == kind}
            changes += provider.plan(desired, actual, managed, prune or destroy)
        return Plan(self.env_name, tuple(changes), prune)

    def reconcile(
        self,
        state: StateStore,
        progress: Progress,
        timeout: float,
        prune: bool = False,
        destroy: bool = False,
        confirm: Callable[[Plan], bool] = lambda _plan: True,
        expected: str | None = None,
    ) -> tuple[Plan, list[str]]:
        """Lock, plan, check, apply: the one way every command changes an environment.
        `confirm` sees the plan first (a person answers, or --auto-approve); `expected` is a saved
        plan's fingerprint that the plan made now must match. Raises PlanNotApplied (with the plan)
        when the plan holds refusals, is stale, or is not confirmed; LockHeld when another apply runs."""
        with state.lock():
            plan = self.plan(state, prune, destroy)
            if expected is not None and plan.fingerprint != expected:
                raise PlanNotApplied(
                    "the saved plan is stale: the repo or the live state changed since it was made "
                    "(run `fraudctl plan` again and review it)",
                    plan,
                )
            if plan.refused:
                raise PlanNotApplied(
                    "the plan holds changes the targets cannot make, so nothing was applied: "
                    + "; ".join(f"{c.kind} {c.name}: {c.note}" for c in plan.refused),
                    plan,
                )
            if plan.has_changes and not confirm(plan):
                raise PlanNotApplied("not applied (confirm interactively, or pass --auto-approve)", plan)
            return plan, self.apply(state, plan, progress, timeout)

    def apply(self, state: StateStore, plan: Plan, progress: Progress, timeout: float) -> list[str]:
        """Executes `plan` (made under the same lock); returns problems (failed tasks with traces).
        Everything a write needs is in its change, so any Deployment of the environment can run it."""
        if plan.refused:
            raise PlanNotApplied("a plan with refused changes is never applied", plan)
        for change in plan.ordered_writes():
            progress(f"{change.kind} {change.name}", change.op, change.note)
            self.providers[change.kind].apply(change)
            if change.op == DELETE:
                state.forget(change.kind, change.name)
            elif change.desired is not None:
                state.record(change.kind, change.name, change.desired.checksum, change.desired.spec)
        for change in plan.changes:
            if change.track and change.desired is not None:
                # The service already matches (for example after an interrupted apply): record only.
                state.record(change.kind, change.name, change.desired.checksum, change.desired.spec)
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        # Every provider says when its writes are in effect (most at once: ReadyWhenWritten).
        for kind in (k for k in KIND_ORDER if k in self.providers):
            names = [c.name for c in plan.changes if c.kind == kind and c.op != DELETE and c.op != "orphan"]
            problems += self.providers[kind].wait(names, deadline, progress)
        return problems
