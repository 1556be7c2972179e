"""Strict input fields: JSON types are checked, not coerced, and unknown keys are refused, so a
client bug shows up as a clear VALIDATION_ERROR instead of a silently different request."""

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

from .validation import validate


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictURLField(serializers.URLField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with its UTC offset ("Z" or "+08:00"): without one the same text
    would name a different moment for each client's time zone, so it is refused, not guessed."""

    default_error_messages = {"naive": "Give the time with its UTC offset (Z or +hh:mm)."}

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None  # well formed but impossible (a 13th month): DRF words the refusal
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class InputSerializer(serializers.Serializer):
    """Base of every input schema: refuses keys it does not know."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for every instance (re-running each field's
        # __init__), which cost more than the rest of a WebSocket frame. A shallow copy is enough
        # to give this instance its own binding: validation never changes a field's settings.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (documented in the OpenAPI schema)."""

    error_code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


ERROR_RESPONSES = {code: OpenApiResponse(ErrorSerializer) for code in (400, 401, 403, 404, 409, 429, 503)}


def _as_int(value: str) -> int | str:
    """Plain ASCII digits of sane length become an int; anything else stays text for the strict
    integer field to refuse ("²" is a digit to Python but not to int(); 5000 digits are too many)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else value


def query_input(
    schema: type[serializers.Serializer],
    request: Request,
    int_fields: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate the query parameters a schema knows (others are ignored, e.g. cache busters)."""
    return query_values(schema, request.query_params, int_fields, defaults)


def query_values(
    schema: type[serializers.Serializer],
    params: Mapping[str, str],
    int_fields: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """query_input for parameters already parsed (a repeated name: its last value, as QueryDict)."""
    raw: dict[str, Any] = dict(defaults or {})
    for name in schema().fields:
        if name in params:
            value = params[name]
            raw[name] = _as_int(value) if name in int_fields else value
    return validate(schema, raw)
