"""`fraudctl bench validate`: wall time of `validate --all-envs` for the real repo and for a generated
repo `factor` times its size, run alternately in one process.

Size grows in connectors, topics and environments alike. Validation renders every connector for
every environment, so its work is environments x connectors; the report gives the time per file
and per unit of that work, so linear growth (constant cost per unit) can be read off directly."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fraudctl.config.project import copy_declarations
from fraudctl.validate.run import Report, validate


def grow(root: Path, factor: int) -> None:
    """Multiplies connectors (each with its own new topic), topics and environments by `factor`."""
    topics_doc = yaml.safe_load((root / "topics.yaml").read_text())
    topics = topics_doc["topics"]
    for path in sorted((root / "connectors").glob("*.yaml")):
        intent = yaml.safe_load(path.read_text())
        for i in range(1, factor):
            copy = dict(intent, name=f"{intent['name']}-g{i}")
            copy["topics"] = [f"{t}-g{i}" for t in intent["topics"]]
            for t in intent["topics"]:
                topics[f"{t}-g{i}"] = dict(topics[t])
            (root / "connectors" / f"{copy['name']}.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
    for name in list(topics):
        if "-g" not in name:
            for i in range(1, factor):
                topics.setdefault(f"{name}-g{i}", dict(topics[name]))
    (root / "topics.yaml").write_text(yaml.safe_dump(topics_doc, sort_keys=False))
    for path in sorted((root / "environments").glob("*.yaml")):
        env = yaml.safe_load(path.read_text())
        for i in range(1, factor):
            (root / "environments" / f"{path.stem}-g{i}.yaml").write_text(
                yaml.safe_dump(dict(env, name=f"{path.stem}-g{i}"), sort_keys=False)
            )


@dataclass(frozen=True)
class Measured:
    files: int
    work_units: int  # rendered connector configs + SQL statements
    seconds: float
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "work_units": self.work_units,
            "seconds_median": round(self.seconds, 4),
            "ms_per_file": round(1000 * self.seconds / self.files, 3),
            "ms_per_work_unit": round(1000 * self.seconds / self.work_units, 4),
            "valid": self.ok,
        }


def _files(root: Path) -> int:
    return sum(1 for d in ("environments", "connectors", "detections") for _ in (root / d).glob("*.yaml")) + 1


def _timed(root: Path) -> tuple[float, Report]:
    t0 = time.perf_counter()
    report = validate(root)
    return time.perf_counter() - t0, report


def run(repo: Path, factor: int = 20, rounds: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fraud-bench-") as tmp:
        base = copy_declarations(repo, Path(tmp) / "real")
        big = copy_declarations(repo, Path(tmp) / "generated")
        grow(big, factor)
        times: dict[str, list[float]] = {"real": [], "generated": []}
        reports: dict[str, Report] = {}
        _timed(base)  # warm caches (schemas, templates) once, outside the measurement
        for _ in range(rounds):  # alternate, so both see the same machine noise
            for name, root in (("real", base), ("generated", big)):
                seconds, reports[name] = _timed(root)
                times[name].append(seconds)
        measured = {
            name: Measured(
                files=_files(root),
                work_units=reports[name].checked["rendered connector configs"]
                + reports[name].checked["sql statements"],
                seconds=statistics.median(times[name]),
                ok=reports[name].ok,
            )
            for name, root in (("real", base), ("generated", big))
        }
    real, gen = measured["real"], measured["generated"]
    return {
        "factor": factor,
        "rounds": rounds,
        "real": real.to_json(),
        "generated": gen.to_json(),
        "ratio": {
            "files": round(gen.files / real.files, 2),
            "work_units": round(gen.work_units / real.work_units, 2),
            "seconds": round(gen.seconds / real.seconds, 2),
            # 1.0 means the cost per unit of work did not change with size (linear growth).
            "cost_per_work_unit": round((gen.seconds / gen.work_units) / (real.seconds / real.work_units), 2),
        },
    }
