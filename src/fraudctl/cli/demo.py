"""`fraudctl demo`: the main job on the embedded local stack.

What it does today: brings the local stack up, creates the pipeline's topics, and shows status.
The detections, connectors, scoring step and traffic generator are not built yet; the demo says
so instead of pretending."""

from __future__ import annotations

import time

import click

from fraudctl.cli.output import StackProgress, emit_json, err_console, fail, output_option
from fraudctl.config.environment import EnvironmentError_, load_environment
from fraudctl.localstack import stack
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import StackError
from fraudctl.topics import create_missing, load_topics

NOT_YET = (
    "detections (ksqlDB/Flink SQL)",
    "sources and sinks (Connect)",
    "scoring service and enrichment",
    "traffic generator and alert summary",
)


@click.command("demo")
@output_option
def demo(output: str) -> None:
    """Start the local stack, create the pipeline's topics, show status."""
    t0 = time.monotonic()
    try:
        env = load_environment("local")
        results = stack.up(env, Layout.default(), StackProgress())
        created, present = create_missing(str(env.require("kafka.bootstrap_servers")), load_topics(env))
    except (StackError, EnvironmentError_) as exc:
        fail(str(exc), output)
    summary = {
        "ok": True,
        "seconds": round(time.monotonic() - t0, 1),
        "services": {r.name: r.state for r in results},
        "topics_created": created,
        "topics_present": present,
        "not_built_yet": list(NOT_YET),
    }
    if output == "json":
        emit_json(summary)
        return
    err_console.print(
        f"Stack: {len(results)} services up. Topics created: {', '.join(created) or 'none'}; "
        f"already present: {', '.join(present) or 'none'}."
    )
    err_console.print("Not built yet, so not part of this demo: " + "; ".join(NOT_YET) + ".")
    err_console.print("Stop the stack with `.venv/bin/fraudctl local down`.")
