"""The whole database as comparable data, for authorization tests: a refused operation must leave
every table exactly as it was (the audit log, counters and side tables included), not only the rows
the test author thought of."""

from typing import Any

from django.apps import apps

# Tables a refusal may legitimately touch: none today. Add one only with the reason beside it.
IGNORED: set[str] = set()


def whole_database() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model's table (concrete models only, proxies read through their base)."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in IGNORED or meta.db_table in state:
            continue
        columns = [field.attname for field in meta.concrete_fields]
        state[meta.db_table] = list(model._base_manager.order_by("pk").values_list(*columns))
    return state


def assert_unchanged(before: dict[str, list[tuple[Any, ...]]]) -> None:
    """Name the tables that differ, so a failure says where the half-done write went."""
    after = whole_database()
    changed = sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))
    assert changed == [], f"a refusal changed {changed}"
