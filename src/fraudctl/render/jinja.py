"""The one Jinja2 environment every artifact is rendered with: StrictUndefined (a missing value is
an error), filters for durations and SQL literals, and errors mapped to template file and line."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from fraudctl.config.durations import duration_ms
from fraudctl.config.source import Problem


class RenderError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.text())
        self.problem = problem


def _duration_s(value: object) -> int:
    return max(1, duration_ms(value) // 1000)


def _flink_interval(value: object) -> str:
    ms = duration_ms(value)
    for unit, size in (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000)):
        if ms % size == 0:
            return f"INTERVAL '{ms // size}' {unit}"
    return f"INTERVAL '{ms / 1000:.3f}' SECOND"


def _flink_ttl(value: object) -> str:
    return f"{duration_ms(value)} ms"


def _ksql_duration(value: object) -> str:
    ms = duration_ms(value)
    for unit, size in (("DAYS", 86_400_000), ("HOURS", 3_600_000), ("MINUTES", 60_000), ("SECONDS", 1000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} MILLISECONDS"


def _ksql_advance(value: object) -> str:
    """A hopping window's advance: a tenth of its size, at least one second."""
    return f"{max(1000, duration_ms(value) // 10) // 1000} SECONDS"


def _tojson(value: object) -> str:
    # Typed settings (a Secret prints as its reference) and plain values alike.
    return json.dumps(value, default=str)


def _sql_str(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _strict(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Filters see undefined values first: raise Jinja's own error, which names the variable."""

    def wrapper(value: Any) -> Any:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return fn(value)

    return wrapper


@cache
def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    filters: dict[str, Callable[[Any], Any]] = {
        "tojson": _tojson,
        "duration_ms": duration_ms,
        "duration_s": _duration_s,
        "flink_interval": _flink_interval,
        "flink_ttl": _flink_ttl,
        "ksql_duration": _ksql_duration,
        "ksql_advance": _ksql_advance,
        "sql_str": _sql_str,
    }
    env.filters.update({name: _strict(fn) for name, fn in filters.items()})
    # Names of the code that templates (and imported macros, which see no render context) use.
    from fraudctl.config.settings import FLINK_KAFKA_SHADE, FLINK_TRANSACTION_TIMEOUT_MS
    from fraudctl.query.access import QUERY_GROUP_PREFIX

    env.globals.update(
        FLINK_KAFKA_SHADE=FLINK_KAFKA_SHADE,
        FLINK_TRANSACTION_TIMEOUT_MS=FLINK_TRANSACTION_TIMEOUT_MS,
        QUERY_GROUP_PREFIX=QUERY_GROUP_PREFIX,
    )
    return env


def _template_line(exc: BaseException, templates: Path) -> tuple[str, int | None]:
    """The innermost template frame of a rendering error (Jinja2 rewrites tracebacks to templates)."""
    where: tuple[str, int | None] = ("", None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            path = Path(frame.filename)
            try:
                shown = str(path.resolve().relative_to(templates.resolve().parent))
            except ValueError:
                shown = str(path)
            where = (shown, frame.lineno)
    return where


def render(templates: Path, name: str, context: dict[str, Any]) -> str:
    env = environment(templates)
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(Problem(f"templates/{name}", None, "", f"template not found: {exc.name}")) from exc
    except jinja2.TemplateSyntaxError as exc:
        shown = f"templates/{exc.name or name}"
        raise RenderError(Problem(shown, exc.lineno, "", f"template syntax error: {exc.message}")) from exc
    except jinja2.UndefinedError as exc:
        file, line = _template_line(exc, templates)
        variable = str(exc.message or "").replace("'", "").split(" is undefined")[0].split(" has no attribute ")
        key = variable[-1].strip() if variable else ""
        raise RenderError(
            Problem(file or f"templates/{name}", line, key, f"undefined variable: {exc.message}")
        ) from exc
    except (ValueError, TypeError) as exc:
        file, line = _template_line(exc, templates)
        raise RenderError(Problem(file or f"templates/{name}", line, "", f"cannot render: {exc}")) from exc
