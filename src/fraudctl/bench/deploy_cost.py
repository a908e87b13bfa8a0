"""`fraudctl bench deploy`: wall time of a no-change plan and a no-change apply, against the
baseline of reading the live state once (every provider's actual-state read), for the real repo
and for a generated repo with `connectors` connectors, on the live environment.

The generated repo's extra connectors are created on the live Connect worker before measuring and
removed afterwards (an apply of the real repo with --prune)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from fraudctl.config.project import Project, copy_declarations, load_project
from fraudctl.deploy.engine import Deployment
from fraudctl.deploy.model import KIND_ORDER
from fraudctl.deploy.state import StateStore


def _quiet(*_: object) -> None:
    pass


def _read_once(dep: Deployment, state: StateStore) -> None:
    records = state.records()
    for kind in KIND_ORDER:
        if kind not in dep.providers:
            continue  # the other engine's kind
        provider = dep.providers[kind]
        provider.actual(provider.desired(), records)


def _apply(dep: Deployment, state: StateStore, prune: bool = False) -> int:
    plan, problems = dep.reconcile(state, _quiet, 300, prune=prune)
    if problems:
        raise RuntimeError("; ".join(problems))
    return len(plan.writes)


def _measure(project: Project, env_name: str, rounds: int) -> dict[str, Any]:
    dep = Deployment.build(project, env_name)
    state = StateStore(env_name, dep.env)
    try:
        _apply(dep, state)  # converge first (untimed)
        # Creating many connectors sets off rebalances: wait until a no-change apply finds them settled.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            _apply(dep, state)
            if time.perf_counter() - t0 < 1.0:
                break
        times: dict[str, list[float]] = {"read_state": [], "plan": [], "apply": []}
        writes = 0
        for _ in range(rounds):  # alternate the three, so each sees the same machine noise
            t0 = time.perf_counter()
            _read_once(dep, state)
            times["read_state"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            dep.plan(state, prune=False)
            times["plan"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            writes += _apply(dep, state)
            times["apply"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        return {
            "connectors": len(dep.providers["connector"].desired()),
            "seconds_median": {k: round(v, 3) for k, v in med.items()},
            "writes_during_no_change_applies": writes,
            "ratio_to_read_state": {
                "plan": round(med["plan"] / med["read_state"], 2),
                "apply": round(med["apply"] / med["read_state"], 2),
            },
        }
    finally:
        state.close()


def generate(repo: Path, dest: Path, connectors: int) -> Path:
    copy_declarations(repo, dest)
    template = yaml.safe_load((dest / "connectors" / "alerts-search.yaml").read_text())
    existing = len(list((dest / "connectors").glob("*.yaml")))
    for i in range(connectors - existing):
        intent = dict(template, name=f"bench-search-{i:03d}", target={"index": f"bench-{i:03d}"})
        (dest / "connectors" / f"{intent['name']}.yaml").write_text(yaml.safe_dump(intent, sort_keys=False))
    return dest


def run(repo: Path, env_name: str, connectors: int, rounds: int) -> dict[str, Any]:
    real, _ = load_project(repo)
    result: dict[str, Any] = {"env": env_name, "rounds": rounds, "real": _measure(real, env_name, rounds)}
    with tempfile.TemporaryDirectory(prefix="fraud-bench-deploy-") as tmp:
        big, _ = load_project(generate(repo, Path(tmp) / "repo", connectors))
        try:
            result["generated"] = _measure(big, env_name, rounds)
        finally:
            dep = Deployment.build(real, env_name)  # remove the generated connectors again
            state = StateStore(env_name, dep.env)
            try:
                _apply(dep, state, prune=True)
            finally:
                state.close()
    return result
