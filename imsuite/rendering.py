"""Output schemas rendered from plain data without DRF's per-field machinery.

A DRF serializer renders a value by asking every field for its attribute and its representation:
4.7 ms for a 50-message history page on the benchmark machine, 0.8 ms compiled. `renderer` compiles an
output schema once into a function that reads each key and converts it with the field's own
`to_representation` (or `int`/`str`, which is what IntegerField's and CharField's are), so the
JSON is the serializer's, field for field, at a fraction of the cost."""

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, fields, serializers
from rest_framework.settings import api_settings

from . import patches

Render = Callable[[Mapping[str, Any]], dict[str, Any]]

_SAME_AS_TO_REPRESENTATION: dict[type[fields.Field], Callable[[Any], Any]] = {
    fields.IntegerField: int,
    fields.CharField: str,
}


@cache
def renderer(schema: type[serializers.Serializer]) -> Render:
    """The schema's rendering of a mapping (schemas whose fields read dotted or whole-object
    sources are refused when compiled)."""
    if not patches.active("compiled_rendering"):  # DRF's serializer changed: it renders itself
        return lambda data: dict(schema(data).data)
    return _compile(schema())


_SKIP = object()


def _compile(serializer: serializers.Serializer) -> Render:
    steps = []
    for field in serializer._readable_fields:
        if field.source == "*" or "." in field.source:
            raise TypeError(f"{type(serializer).__name__}.{field.field_name}: source {field.source!r}")
        steps.append((field.field_name, field.source, _converter(field), _when_missing(field)))

    def render(data: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, source, convert, when_missing in steps:
            value = data[source] if source in data else when_missing(source)
            if value is not _SKIP:
                out[name] = None if value is None else convert(value)
        return out

    return render


def _when_missing(field: fields.Field) -> Callable[[str], Any]:
    """What DRF does when the key is absent: the field's default, else None where null is
    allowed, else leave an optional field out, else fail."""
    if field.default is not fields.empty:
        return lambda _key: field.get_default()
    if field.allow_null:
        return lambda _key: None
    if not field.required:
        return lambda _key: _SKIP

    def fail(key: str) -> Any:
        raise KeyError(key)

    return fail


def _converter(field: fields.Field) -> Callable[[Any], Any]:
    if isinstance(field, serializers.ListSerializer):
        child = _compile(field.child)
        return lambda items: [child(item) for item in items]
    if isinstance(field, serializers.Serializer):
        return _compile(field)
    if type(field) is fields.BooleanField:
        return lambda value: value if value is True or value is False else field.to_representation(value)
    if type(field) is fields.DateTimeField and _plain_iso(field):
        return lambda value: _iso(value) if _aware(value) else field.to_representation(value)
    return _SAME_AS_TO_REPRESENTATION.get(type(field), field.to_representation)


def _plain_iso(field: fields.DateTimeField) -> bool:
    """ISO 8601 in the default time zone: no format or zone of the field's own, and time zones on."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    iso = isinstance(output_format, str) and output_format.lower() == ISO_8601
    return iso and settings.USE_TZ and not hasattr(field, "timezone")


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _iso(value: datetime) -> str:
    """DateTimeField's ISO 8601 for an aware datetime in the default zone (IM-Suite never activates
    another). DRF looks the zone up in asgiref's context-local storage for every value, which was
    most of the cost of a page."""
    text = value.astimezone(timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
