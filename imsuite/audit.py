"""The moderation audit log. Adapters say which door a request came through (`source`); services
record each moderation step inside their own transaction, so a refused or rolled-back step leaves
no entry and a committed one always has its entry."""

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from .models import AuditEntry

_source: contextvars.ContextVar[str] = contextvars.ContextVar(
    "audit_source", default=AuditEntry.Source.SYSTEM
)


@contextlib.contextmanager
def source(name: str) -> Iterator[None]:
    """Within this block (and the threads asgiref runs it in), audit entries carry `name`."""
    token = _source.set(name)
    try:
        yield
    finally:
        _source.reset(token)


def set_source(name: str) -> None:
    """For adapters whose whole context is one door (a consumer's event loop task)."""
    _source.set(name)


def record(
    actor: Any, action: str, target_type: str, target_id: int, group_id: int | None = None, **details: Any
) -> None:
    AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        group_id=group_id,
        details=details,
        source=_source.get(),
    )
