"""Input validation shared by every adapter: one schema per operation, one error shape."""

import copy
from typing import Any

from rest_framework import serializers

from . import patches
from .errors import DomainError, ErrorCode
from .plain_accept import Acceptor, acceptor


def _first_error(detail: Any) -> tuple[str | None, str]:
    """The first (field, code) in a DRF error tree, for details.field and details.reason."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            _, code = _first_error(value)
            return (None if key == "non_field_errors" else key), code
    if isinstance(detail, list) and detail:
        return _first_error(detail[0])
    return None, getattr(detail, "code", "invalid")


def validation_details(exc: serializers.ValidationError) -> dict[str, Any]:
    """{"field", "reason", "fields"} for a schema's refusal."""
    field, reason = _first_error(exc.detail)
    details: dict[str, Any] = {"reason": reason}
    if field:
        details["field"] = _text(field)
    if isinstance(exc.detail, dict):
        details["fields"] = {_text(k): [_text(m) for m in _flat(value)] for k, value in exc.detail.items()}
    return details


def _text(value: Any) -> str:
    """Keys and messages may echo input; a lone surrogate in it ("\\ud800") cannot be encoded as UTF-8."""
    return str(value).encode("utf-8", "backslashreplace").decode()


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for sub in value for item in _flat(sub)]
    if isinstance(value, dict):
        return [item for sub in value.values() for item in _flat(sub)]
    return [value]


_prototypes: dict[type[serializers.Serializer], serializers.Serializer] = {}


_acceptors: dict[type[serializers.Serializer], Acceptor | None] = {}


def validate(schema: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Run an input schema outside DRF views (WebSocket, bots): a DomainError on refusal. Input
    that is certainly valid is accepted in plain Python (imsuite.plain_accept), the rest by DRF."""
    if schema not in _acceptors:
        _acceptors[schema] = acceptor(schema)
    accept = _acceptors[schema]
    accepted = accept(data) if accept is not None else None
    if accepted is not None:
        return accepted
    serializer = _fresh(schema)
    serializer.initial_data = data
    if not serializer.is_valid():
        exc = serializers.ValidationError(serializer.errors)
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is not valid.", validation_details(exc))
    return serializer.validated_data


def _fresh(schema: type[serializers.Serializer]) -> serializers.Serializer:
    """An unbound instance of the schema, copied from one built once: building a DRF serializer
    (its own __init__, then a copy of every field) cost more than the rest of a WebSocket frame.
    Fields keep no per-validation state, so the copy shares them; each copy has its own results."""
    if not patches.active("serializer_copies"):  # DRF keeps its state otherwise: a new one each time
        return schema()
    prototype = _prototypes.get(schema)
    if prototype is None:
        prototype = _prototypes[schema] = schema()
        prototype.fields  # noqa: B018  (built and bound once, kept in the prototype's __dict__)
    return copy.copy(prototype)
