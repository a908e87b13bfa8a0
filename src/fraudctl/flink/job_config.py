"""The settings a pipeline job is submitted with, from the environment: one place for `apply`,
`bench detections` and the golden scenarios, so what is measured and tested is what is deployed."""

from __future__ import annotations

from fraudctl.config.settings import Settings


def job_properties(env: Settings) -> dict[str, str]:
    """Session properties of the detections job (the job's name is the caller's)."""
    # Event times are UTC wall-clock times: CURRENT_TIMESTAMP reads in UTC too.
    props = {"table.local-time-zone": "UTC"}
    # Exactly-once output is visible when a checkpoint completes: the interval is part of latency.
    props["execution.checkpointing.interval"] = str(env.stream.checkpoint_interval)
    flink = env.flink
    if flink is not None and flink.state_backend is not None:
        props["state.backend.type"] = flink.state_backend
    if flink is not None and flink.buffer_timeout is not None:
        props["execution.buffer-timeout.interval"] = str(flink.buffer_timeout)
    return props
