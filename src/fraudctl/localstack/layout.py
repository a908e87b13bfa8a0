"""Folders of the local stack under .local/ (git-ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fraudctl.paths import repo_root, state_dir

# Versions of what is unpacked from the archives `make setup` fetched (stack/pom.xml pins them too).
ELASTICSEARCH_VERSION = "8.19.4"
FLINK_VERSION = "2.2.1"
DEBEZIUM_VERSION = "3.6.0.Final"


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(state_dir())

    @property
    def repo(self) -> Path:
        return repo_root()

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def kafka_lib(self) -> Path:
        return self.artifacts / "kafka-lib"

    @property
    def archives(self) -> Path:
        return self.artifacts / "archives"

    @property
    def opt(self) -> Path:
        """Unpacked distributions (Elasticsearch, Flink) and Connect plugins."""
        return self.root / "opt"

    @property
    def plugins(self) -> Path:
        return self.opt / "connect-plugins"

    @property
    def elasticsearch_home(self) -> Path:
        return self.opt / f"elasticsearch-{ELASTICSEARCH_VERSION}"

    @property
    def flink_home(self) -> Path:
        return self.opt / f"flink-{FLINK_VERSION}"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.env"

    def ensure(self) -> None:
        for d in (self.conf, self.data, self.logs, self.run, self.opt):
            d.mkdir(parents=True, exist_ok=True)
