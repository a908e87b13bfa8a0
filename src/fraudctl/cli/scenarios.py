"""`fraudctl scenarios run [--engine flink|ksqldb] [--env local] [PATH...] [--output json]`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import requests

from fraudctl.cli.output import EXIT_ERROR, EXIT_OK, emit_json, err_console, fail, out_console, output_option
from fraudctl.config.project import load_project
from fraudctl.config.settings import Flink, SettingsError
from fraudctl.deploy.engine import ksql_client
from fraudctl.ksqldb.client import KsqlError
from fraudctl.paths import repo_root
from fraudctl.scenarios.flink_runner import FlinkScenarioRunner
from fraudctl.scenarios.ksqldb_runner import KsqlScenarioRunner
from fraudctl.scenarios.model import Scenario, ScenarioError, load_scenario

DEFAULT_DIR = Path("tests") / "scenarios"


def _collect(paths: tuple[Path, ...], root: Path) -> list[Path]:
    targets = list(paths) or [root / DEFAULT_DIR]
    files: list[Path] = []
    for target in targets:
        files += sorted(target.glob("*.yaml")) if target.is_dir() else [target]
    return files


@click.group("scenarios")
def scenarios() -> None:
    """Golden scenarios: transactions in, exactly the expected alerts out, on a real engine."""


@scenarios.command("run")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--engine", type=click.Choice(["flink", "ksqldb"]), default="flink", show_default=True)
@click.option(
    "--env",
    "env_name",
    default="local",
    show_default=True,
    help="Endpoints and the parameters a scenario does not fix.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 8),
    default=4,
    show_default=True,
    help="Scenario jobs running at once.",
)
@output_option
def run(paths: tuple[Path, ...], engine: str, env_name: str, concurrency: int, output: str) -> None:
    """Run scenarios (default: every file in tests/scenarios). Exit 0 only when all pass."""
    root = repo_root()
    project, problems = load_project(root)
    if problems:
        fail("; ".join(p.text() for p in problems), output)
    if env_name not in project.environments:
        fail(f"unknown environment {env_name!r} (known: {', '.join(project.environment_names())})", output)
    try:
        env = project.settings(env_name)
    except SettingsError as exc:
        fail(str(exc), output)
    loaded: list[Scenario] = []
    for path in _collect(paths, root):
        try:
            loaded.append(load_scenario(path, str(path.relative_to(root)) if path.is_relative_to(root) else None))
        except ScenarioError as exc:
            fail(str(exc), output, errors=[p.to_json() for p in exc.problems])
    selected = [s for s in loaded if engine in s.engines]
    if engine == "ksqldb":
        client = ksql_client(env) if env.ksqldb else None
        url = client.url if client else ""
        try:
            if client is None:
                raise requests.ConnectionError("no ksqldb.url")
            client.info()
        except (requests.RequestException, KsqlError) as exc:
            where = url or f"(no ksqldb.url in environments/{env_name}.yaml)"
            fail(
                f"ksqlDB is not reachable at {where} ({type(exc).__name__}): start a server there (a local "
                "installation named by KSQLDB_HOME is started by `fraudctl local up`; Docker: docker-compose.yml) "
                "or choose an environment whose ksqldb.url names one. The same scenarios run with --engine flink.",
                output,
            )
    t0 = time.monotonic()

    def progress(name: str, state: str) -> None:
        err_console.print(f"  {name:<36} {state}", markup=False)

    runner: FlinkScenarioRunner | KsqlScenarioRunner
    if engine == "ksqldb":
        assert client is not None
        runner = KsqlScenarioRunner(
            project, env_name, env.kafka.bootstrap_servers, url, progress=progress, auth=client.auth
        )
    else:
        flink: Flink = env.need("flink")
        runner = FlinkScenarioRunner(
            project,
            env_name,
            env.kafka.bootstrap_servers,
            flink.sql_gateway_url,
            flink.rest_url,
            concurrency=concurrency,
            progress=progress,
        )
    outcomes = runner.run(selected)
    passed = sum(o.passed for o in outcomes)
    if output == "json":
        emit_json(
            {
                "ok": passed == len(outcomes),
                "engine": engine,
                "env": env_name,
                "seconds": round(time.monotonic() - t0, 1),
                "scenarios": [o.to_json() for o in outcomes],
            }
        )
    else:
        for o in outcomes:
            mark = "PASS" if o.passed else "FAIL"
            out_console.print(f"{mark} {o.scenario.name} ({o.seconds:.1f}s)", markup=False)
            for alert in o.missing:
                out_console.print(f"     missing:    {alert}", markup=False)
            for alert in o.unexpected:
                out_console.print(f"     unexpected: {alert}", markup=False)
            if o.error:
                out_console.print(f"     error: {o.error}", markup=False)
        out_console.print(f"{passed} passed, {len(outcomes) - passed} failed", markup=False)
    sys.exit(EXIT_OK if passed == len(outcomes) else EXIT_ERROR)
