"""What the analysts' Kafka principal may do, derived from the query session's own tables: read
(and describe) exactly the topics those tables name, and use consumer groups under one prefix.
`fraudctl apply` keeps these ACLs (deploy/providers/kafka_acls.py); the query session's Kafka
tables log in as that principal (templates/flink/queries/_tables.sql.j2)."""

from __future__ import annotations

import re

# The tables a Flink query session defines (temporary, per session).
FLINK_TABLES = "flink/queries/_tables.sql.j2"
# The consumer groups of the query session's Kafka tables: `<prefix>-<environment>`.
QUERY_GROUP_PREFIX = "fraudctl-query"


def topics_read(tables_sql: str) -> list[str]:
    """The topics of the Kafka tables in the rendered query-session SQL."""
    topics = []
    for block in re.split(r";\s*\n", tables_sql):
        if re.search(r"'connector'\s*=\s*'kafka'", block):
            topics += re.findall(r"'topic'\s*=\s*'([^']+)'", block)
    return sorted(set(topics))
