"""A throw-away run of rendered statements on a ksqlDB server (scenarios, benchmarks): create them
in order, remember exactly the queries they started, and remove exactly those and their objects
afterwards, readers first, so nothing else on a shared server is touched."""

from __future__ import annotations

from fraudctl.ksqldb.client import KsqlClient
from fraudctl.ksqldb.statements import INSERT, QUERY, Statement


def create(client: KsqlClient, statements: list[Statement], properties: dict[str, str]) -> list[str]:
    """Sends each statement; returns the ids of the persistent queries they started, in order."""
    query_ids: list[str] = []
    for statement in statements:
        for entity in client.execute(statement.sql, properties):
            query_id = (entity.get("commandStatus") or {}).get("queryId")
            if query_id:
                query_ids.append(str(query_id))
    return query_ids


def remove(client: KsqlClient, statements: list[Statement], query_ids: list[str]) -> None:
    """Terminates the run's queries, then drops its streams and tables, readers first, with the
    topics its queries created (declared sources keep their topics)."""
    for query_id in reversed(query_ids):
        client.execute(f"TERMINATE {query_id}")
    for statement in reversed(statements):
        if statement.kind == INSERT:
            continue
        delete = " DELETE TOPIC" if statement.kind == QUERY else ""
        client.execute(f"DROP {statement.object_type} IF EXISTS {statement.name}{delete}")
