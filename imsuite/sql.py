"""Constant SQL for the statements every connection runs as it opens and closes. The ORM builds
and compiles a query anew on every call, about 0.6 ms here against 0.1-0.3 ms for the statement
itself, and a burst of a thousand connections runs ten of them each (docs/performance.md). The
statements are written once, portable between PostgreSQL and SQLite, values passed as parameters."""

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


def fetch_all(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_value(sql: str, params: list[Any]) -> Any:
    """The first column of the first row, or None when there is no row."""
    rows = fetch_all(sql, params)
    return rows[0][0] if rows else None


def execute(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def on_postgresql() -> bool:
    """Whether a statement may use what only PostgreSQL has (a data-modifying WITH)."""
    return connection.vendor == "postgresql"


def placeholders(count: int) -> str:
    """`count` parameter markers for an IN list ("%s, %s, ..."): portable, unlike = ANY(array)."""
    return ", ".join(["%s"] * count)


def moment(value: datetime) -> Any:
    """A datetime as this database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns as `alias.column, ...`, in the order `instance` takes them."""
    return ", ".join(
        f"{alias}.{connection.ops.quote_name(field.column)}" for field in model._meta.concrete_fields
    )


def instances(model: type[M], rows: list[tuple[Any, ...]]) -> list[M]:
    """Model instances from rows of `columns(model, ...)`, as the ORM would load them (SQLite
    keeps datetimes as text and booleans as integers; the fields' converters turn them back).
    A RawQuerySet did the same in about twice the time: it resolves the columns per query."""
    wrapper = connections[connection.alias]
    converters, names = _converters(model, wrapper), _attnames(model)
    loaded = []
    for row in rows:
        if converters:
            row = list(row)
            for index, column, convert in converters:
                for converter in convert:
                    row[index] = converter(row[index], column, wrapper)
        loaded.append(model.from_db(wrapper.alias, names, row))
    return loaded


def instance(model: type[M], values: tuple[Any, ...]) -> M:
    return instances(model, [values])[0]


@lru_cache(maxsize=64)
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@lru_cache(maxsize=64)  # per thread's connection: its operations are bound to it
def _converters(model: type[Model], wrapper: BaseDatabaseWrapper) -> list[tuple[int, Any, list[Callable]]]:
    table = model._meta.db_table
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(table)
        convert = wrapper.ops.get_db_converters(column) + field.get_db_converters(wrapper)
        if convert:
            found.append((index, column, convert))
    return found
