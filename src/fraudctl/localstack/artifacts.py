"""Fetching and unpacking everything the local stack runs: Maven artifacts (stack/pom.xml), the
in-repo Connect sinks (connect-plugins/), and the Flink distribution that PyFlink's wheels carry.

Each step is skipped when a stamp shows its inputs have not changed, so `make setup` is fast the
second time."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from fraudctl.localstack.layout import DEBEZIUM_VERSION, ELASTICSEARCH_VERSION, FLINK_VERSION, Layout

Report = Callable[[str], None]

# Jars added to the Flink distribution's lib/ (versions pinned in stack/pom.xml).
FLINK_LIB_JARS = (
    f"flink-sql-gateway-{FLINK_VERSION}.jar",
    "flink-sql-connector-kafka-5.0.0-2.2.jar",
    "flink-connector-jdbc-core-4.0.0-2.0.jar",
    "flink-connector-jdbc-postgres-4.0.0-2.0.jar",
    "postgresql-42.7.4.jar",
)
FLINK_WHEELS = (f"apache-flink=={FLINK_VERSION}", f"apache-flink-libraries=={FLINK_VERSION}")
DEBEZIUM_PLUGINS = ("debezium-connector-postgres", "debezium-connector-jdbc")


class ArtifactError(Exception):
    pass


def _junit_summary(reports: Path) -> str:
    """What the plugins' JUnit run did, from Surefire's reports (the build fails on any failure)."""
    suites = [ET.parse(p).getroot() for p in sorted(reports.glob("TEST-*.xml"))]
    tests = sum(int(s.get("tests", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return f"{tests} JUnit tests in {len(suites)} classes passed ({skipped} skipped)"


def _digest(paths: Iterable[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(str(p).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _stamped(layout: Layout, name: str, digest: str) -> bool:
    stamp = layout.artifacts / f".stamp-{name}"
    return stamp.is_file() and stamp.read_text() == digest


def _stamp(layout: Layout, name: str, digest: str) -> None:
    (layout.artifacts / f".stamp-{name}").write_text(digest)


def _run(argv: list[str], cwd: Path, what: str) -> None:
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).splitlines()[-30:])
        raise ArtifactError(f"{what} failed ({' '.join(argv)} in {cwd}):\n{tail}")


def fetch_all(layout: Layout, report: Report) -> None:
    layout.artifacts.mkdir(parents=True, exist_ok=True)
    if not shutil.which("mvn"):
        raise ArtifactError("mvn not found: install Maven (Debian package 'maven')")
    if not shutil.which("java"):
        raise ArtifactError("java not found: install a JDK 17+ (Debian package 'openjdk-17-jdk-headless')")
    repo = layout.repo

    digest = _digest([repo / "stack/pom.xml"])
    if _stamped(layout, "maven", digest):
        report("maven artifacts: up to date")
    else:
        report("maven artifacts: resolving stack/pom.xml (Kafka, Connect, Debezium, Elasticsearch, Flink jars)")
        shutil.rmtree(layout.kafka_lib, ignore_errors=True)
        _run(["mvn", "-B", "-q", "package"], repo / "stack", "Maven resolution of stack/pom.xml")
        _stamp(layout, "maven", digest)

    sources = [repo / "connect-plugins/pom.xml", *(repo / "connect-plugins/src").rglob("*.*")]
    digest = _digest(sources)
    if _stamped(layout, "connect-plugins", digest):
        report("connect-plugins: up to date")
    else:
        report("connect-plugins: building the in-repo S3 and search sinks")
        shutil.rmtree(layout.artifacts / "plugins/fraud-sinks", ignore_errors=True)
        _run(["mvn", "-B", "-q", "package"], repo / "connect-plugins", "Build of connect-plugins")
        report(f"connect-plugins: {_junit_summary(repo / 'connect-plugins/target/surefire-reports')}")
        _stamp(layout, "connect-plugins", digest)

    wheels = layout.artifacts / "wheels"
    digest = _digest([], ",".join(FLINK_WHEELS))
    if _stamped(layout, "flink-wheels", digest):
        report("flink distribution: up to date")
    else:
        report(f"flink distribution: downloading PyFlink {FLINK_VERSION} wheels (about 320 MB)")
        wheels.mkdir(parents=True, exist_ok=True)
        _run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), *FLINK_WHEELS],
            layout.artifacts,
            "Download of the PyFlink wheels",
        )
        _stamp(layout, "flink-wheels", digest)


def install_all(layout: Layout, report: Report) -> None:
    """Unpacks the fetched artifacts into .local/opt. Each part is redone only when the artifacts it
    comes from changed (a rebuilt Connect plugin does not unpack Flink or Elasticsearch again)."""
    layout.opt.mkdir(parents=True, exist_ok=True)
    marker = layout.opt / ".installed"
    a = layout.artifacts
    parts: list[tuple[str, list[Path], Callable[[Layout], None]]] = [
        ("connect-plugins", [a / ".stamp-maven", a / ".stamp-connect-plugins"], _install_plugins),
        ("elasticsearch", [a / ".stamp-maven"], _install_elasticsearch),
        ("flink", [a / ".stamp-maven", a / ".stamp-flink-wheels"], _install_flink),
    ]
    done = []
    for name, stamps, install in parts:
        part_marker = layout.opt / f".installed-{name}"
        digest = _digest([p for p in stamps if p.exists()], f"install-v2-{name}")
        if part_marker.is_file() and part_marker.read_text() == digest:
            continue
        report(f"unpacking {name} into .local/opt")
        install(layout)
        part_marker.write_text(digest)
        done.append(name)
    if not done:
        report("unpacked stack: up to date")
    # The marker the stack and the tests look for: every part is in place.
    marker.write_text("ok")


def _install_plugins(layout: Layout) -> None:
    shutil.rmtree(layout.plugins, ignore_errors=True)
    layout.plugins.mkdir(parents=True)
    for name in DEBEZIUM_PLUGINS:
        archive = layout.archives / f"{name}-{DEBEZIUM_VERSION}-plugin.tar.gz"
        if not archive.is_file():
            raise ArtifactError(f"missing artifact {archive} (run `make setup`)")
        with tarfile.open(archive) as tar:
            tar.extractall(layout.plugins, filter="data")  # each tar holds one folder named after the plugin
    sinks = layout.artifacts / "plugins/fraud-sinks"
    if not sinks.is_dir():
        raise ArtifactError(f"missing artifact {sinks} (run `make setup`)")
    shutil.copytree(sinks, layout.plugins / "fraud-sinks")


def _install_elasticsearch(layout: Layout) -> None:
    archive = layout.archives / f"elasticsearch-{ELASTICSEARCH_VERSION}.zip"
    if not archive.is_file():
        raise ArtifactError(f"missing artifact {archive} (run `make setup`)")
    shutil.rmtree(layout.elasticsearch_home, ignore_errors=True)
    _unzip(archive, layout.opt, lambda n: n)


def _install_flink(layout: Layout) -> None:
    home = layout.flink_home
    shutil.rmtree(home, ignore_errors=True)
    wheels = layout.artifacts / "wheels"
    found = sorted(wheels.glob("apache_flink*.whl"))
    if len(found) < 2:
        raise ArtifactError(f"missing PyFlink wheels in {wheels} (run `make setup`)")
    # The distribution is the wheels' pyflink/ folder without its Python modules:
    # scripts and config from apache-flink, jars from apache-flink-libraries.
    wanted = ("pyflink/bin/", "pyflink/conf/", "pyflink/lib/", "pyflink/opt/", "pyflink/plugins/")
    for wheel in found:
        _unzip(wheel, home, lambda n: n[len("pyflink/") :] if n.startswith(wanted) else None)
    for script in (home / "bin").glob("*.sh"):
        script.chmod(0o755)
    (home / "bin/flink").chmod(0o755)
    for jar in FLINK_LIB_JARS:
        src = layout.archives / jar
        if not src.is_file():
            raise ArtifactError(f"missing artifact {src} (run `make setup`)")
        shutil.copy2(src, home / "lib" / jar)
    (home / "log").mkdir(exist_ok=True)


def _unzip(archive: Path, dest: Path, rename: Callable[[str], str | None]) -> None:
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            target_name = rename(info.filename)
            if not target_name or info.is_dir():
                continue
            target = dest / target_name
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
