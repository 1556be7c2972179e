"""Constant SQL for the statements every connection runs as it opens and closes. The ORM builds
and compiles a query anew on every call, about 0.6 ms here against 0.1-0.3 ms for the statement
itself, and a burst of a thousand connections runs ten of them each (docs/performance.md). The
statements are written once, portable between PostgreSQL and SQLite, values passed as parameters."""

from datetime import datetime
from typing import Any

from django.db import connection


def fetch_all(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_value(sql: str, params: list[Any]) -> Any:
    """The first column of the first row, or None when there is no row."""
    rows = fetch_all(sql, params)
    return rows[0][0] if rows else None


def execute(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def placeholders(count: int) -> str:
    """`count` parameter markers for an IN list ("%s, %s, ..."): portable, unlike = ANY(array)."""
    return ", ".join(["%s"] * count)


def moment(value: datetime) -> Any:
    """A datetime as this database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)
