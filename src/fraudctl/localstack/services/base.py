"""What every service of the local stack shares: the `Service` spec, the context the specs are
built from, and the helpers for running as the stack user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from fraudctl.config.environment import Environment
from fraudctl.config.settings import LocalStack, Settings
from fraudctl.localstack.health import Check, Health
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.process import ProcessSpec, running_pid

# PostgreSQL and Elasticsearch refuse to run as root; when fraudctl runs as root they run as this user.
STACK_USER = "fraudstack"
HOST = "127.0.0.1"


class StackError(Exception):
    """A service that cannot start; the message names the service, the port and the log file."""


@dataclass(frozen=True)
class Service:
    name: str
    ports: tuple[int, ...]
    spec: Callable[[], ProcessSpec]
    check: Check
    prepare: Callable[[], None] = lambda: None
    after_start: Callable[[], None] = lambda: None
    after: tuple[str, ...] = ()
    start_timeout: float = 120.0
    requires: tuple[Path, ...] = field(default=())
    # Why this service is not started (an optional service nothing installed); None: it is started.
    skip: str | None = None


@dataclass(frozen=True)
class StackContext:
    """One context for every service module: the `local` environment, the folders, the generated
    secrets and the user services run as. Building it has no side effect."""

    env: Environment
    layout: Layout
    secrets: Mapping[str, str]
    user: str | None
    jhome: Path

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @cached_property
    def local(self) -> LocalStack:
        local: LocalStack = self.settings.need("local_stack")
        return local

    @property
    def java(self) -> str:
        return str(self.jhome / "bin" / "java")

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.env.port_of('kafka.bootstrap_servers')}"

    def heap_mb(self, service: str, default: int) -> int:
        return dict(self.local.heap_mb).get(service, default)

    @property
    def log4j(self) -> Path:
        """The log4j2 configuration the Kafka and Connect JVMs share."""
        return self.layout.conf / "log4j2.properties"

    @property
    def kafka_classpath(self) -> str:
        return f"{self.layout.kafka_lib}/*"

    def render(self, template: str, target: Path, **values: object) -> None:
        """Renders `templates/stack/<template>` into `target` (strict: an unknown name is an error)."""
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.layout.repo / "templates" / "stack"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env.get_template(template).render(**values))

    def render_log4j(self) -> None:
        self.render("log4j2.properties.j2", self.log4j)

    def process(self, name: str, argv: list[str], **options: Any) -> ProcessSpec:
        """A service's process: its log is `logs/<name>.log`, it runs in the state folder;
        `options` are ProcessSpec's (env, user, stop_signal)."""
        return ProcessSpec(name, argv, self.layout.logs / f"{name}.log", self.layout.root, **options)

    def python_module(self, name: str, module: str, *args: str, **options: Any) -> ProcessSpec:
        """`python -m module args` with this interpreter (the project's virtualenv)."""
        return self.process(name, [sys.executable, "-m", module, *args], **options)

    def kafka_jvm(self, name: str, main_class: str, heap_mb: int, *args: str, **options: Any) -> ProcessSpec:
        """A JVM on Kafka's class path (the broker, the Connect worker) with the shared log4j2 setup."""
        return self.process(
            name, [*self.kafka_java(f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m"), main_class, *args], **options
        )

    def kafka_java(self, *jvm_options: str) -> list[str]:
        """`java [options] -Dlog4j2... -cp <Kafka's jars>`: what every Kafka tool and server starts with."""
        return [self.java, *jvm_options, f"-Dlog4j2.configurationFile={self.log4j}", "-cp", self.kafka_classpath]

    def pid_running(self, name: str, doing: str) -> Check:
        """The health check of a process that listens on no port: alive is healthy."""

        def check() -> Health:
            pid = running_pid(self.layout.run, name)
            return Health(pid is not None, f"{doing} (pid {pid})" if pid else "not running")

        return check


def java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if not java:
        raise StackError("java not found on PATH and JAVA_HOME not set: install a JDK 17+")
    return Path(os.path.realpath(java)).parents[1]


def stack_user() -> str | None:
    """The user PostgreSQL and Elasticsearch run as (None when not root); looks, creates nothing."""
    return STACK_USER if os.geteuid() == 0 else None


def ensure_stack_user() -> str | None:
    """Creates the unprivileged system user when running as root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(STACK_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", STACK_USER], check=True
        )
    return STACK_USER


def run_as(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a command as `user` with that user's own group and no other.
    `user=` alone keeps root's group, and a folder like /root (mode 701 once made traversable) then
    denies it: the group bits apply to a member of the folder's group, not the others' bits."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            continue
        os.chown(p, entry.pw_uid, entry.pw_gid)


def make_traversable(path: Path) -> None:
    """The stack user must be able to reach its folders under the repo: give others +x on parents."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        except PermissionError:
            break
