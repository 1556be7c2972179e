"""Accepting certainly valid input of simple schemas in plain Python; DRF still words every refusal.

DRF's validation of one WebSocket frame (about 25 method calls per field) was the largest single
cost of a daphne process at 2,000 messages/s: 13 % of its time. For a schema made only of the
field kinds below, with no validate(), validate_<field>() or schema-level validators of its own,
`acceptor(schema)` returns a function that gives DRF's validated_data for the input it accepts,
and None for anything it is not sure of: missing required keys, unknown keys, wrong types, values
out of range, blanks, NUL or surrogate characters. That input goes through DRF as before, so every
error is DRF's, word for word. tests/imsuite/test_plain_accept.py compares the two on valid and
invalid input of every schema that has an acceptor.
"""

from collections.abc import Callable
from typing import Any

from django.core import validators as django_validators
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from . import patches

Acceptor = Callable[[Any], dict[str, Any] | None]
Check = Callable[[Any], Any]

UNSURE = object()  # a field check's "not certainly valid: ask DRF"
_SAFE_INT = 10**18  # DRF works on str(value); far below the lengths where that could differ

_LENGTH_VALIDATORS = {
    django_validators.MaxLengthValidator,
    django_validators.MinLengthValidator,
    django_validators.ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
}
_VALUE_VALIDATORS = {django_validators.MinValueValidator, django_validators.MaxValueValidator}


def _validators_are(field: serializers.Field, allowed: set[type]) -> bool:
    return all(type(validator) in allowed for validator in field.validators)


def _char_check(field: serializers.CharField) -> Check | None:
    if not _validators_are(field, _LENGTH_VALIDATORS):
        return None
    trim, allow_blank = field.trim_whitespace, field.allow_blank
    shortest, longest = field.min_length or 0, field.max_length

    def check(value: Any) -> Any:
        if type(value) is not str:
            return UNSURE
        if trim:
            value = value.strip()
        if not value:  # DRF answers a blank before any validator, so min_length does not apply
            return "" if allow_blank else UNSURE
        if len(value) < shortest or (longest is not None and len(value) > longest) or "\x00" in value:
            return UNSURE
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                return UNSURE
        return value

    return check


def _int_check(field: serializers.IntegerField) -> Check | None:
    if not _validators_are(field, _VALUE_VALIDATORS):
        return None
    lowest = -_SAFE_INT if field.min_value is None else field.min_value
    highest = _SAFE_INT if field.max_value is None else field.max_value

    def check(value: Any) -> Any:
        if type(value) is not int or not (lowest <= value <= highest) or abs(value) >= _SAFE_INT:
            return UNSURE
        return value

    return check


def _bool_check(field: serializers.BooleanField) -> Check | None:
    if field.validators:
        return None
    return lambda value: value if type(value) is bool else UNSURE


def _choice_check(field: serializers.ChoiceField) -> Check | None:
    if field.validators:
        return None
    choices = field.choice_strings_to_values

    def check(value: Any) -> Any:
        if type(value) is not str or not value or value not in choices:
            return UNSURE
        return choices[value]

    return check


def _json_check(field: serializers.JSONField) -> Check | None:
    if field.validators or field.binary or field.encoder is not None:
        return None
    return lambda value: value if type(value) in (str, int, float, bool) else UNSURE  # what json.dumps takes


def _list_check(field: serializers.ListField) -> Check | None:
    """A list of values its child accepts (length bounds are validators: left to DRF)."""
    maker = _field_checks().get(type(field.child))
    child = maker(field.child) if maker else None
    if child is None or field.validators or field.child.allow_null:
        return None

    def check(value: Any) -> Any:
        if type(value) is not list or (not value and not field.allow_empty):
            return UNSURE
        accepted = [child(item) for item in value]
        return UNSURE if UNSURE in accepted else accepted

    return check


def _field_checks() -> dict[type, Callable[[Any], Check | None]]:
    from .api_fields import StrictBooleanField, StrictCharField, StrictIntegerField  # they validate too

    return {
        StrictCharField: _char_check,
        StrictIntegerField: _int_check,
        StrictBooleanField: _bool_check,
        serializers.ChoiceField: _choice_check,
        serializers.JSONField: _json_check,
        serializers.ListField: _list_check,
    }


def acceptor(schema: type[serializers.Serializer]) -> Acceptor | None:
    """The plain-Python acceptor of the schema's input, or None if the schema has parts it does not
    reproduce (every field kind is matched exactly: a subclass may behave differently)."""
    if not patches.active("plain_accept"):  # DRF's fields changed: DRF validates everything
        return None
    if schema.validate is not serializers.Serializer.validate:
        return None
    prototype = schema()
    if prototype.get_validators():
        return None
    makers = _field_checks()
    plan: list[tuple[str, Check, bool, Any]] = []  # (name, check, allow_null, default)
    for name, field in prototype.fields.items():
        maker = makers.get(type(field))
        check = maker(field) if maker else None
        default = field.default
        if (
            check is None
            or field.read_only
            or field.source != name
            or hasattr(schema, f"validate_{name}")
            or (default is not drf_fields.empty and callable(default))
        ):
            return None
        plan.append((name, check, field.allow_null, UNSURE if field.required else default))
    known = frozenset(name for name, *_ in plan)

    def accept(data: Any) -> dict[str, Any] | None:
        if type(data) is not dict or not known.issuperset(data):
            return None
        accepted: dict[str, Any] = {}
        for name, check, allow_null, default in plan:
            if name not in data:
                if default is UNSURE:  # required: DRF words the refusal
                    return None
                if default is not drf_fields.empty:
                    accepted[name] = default
                continue
            value = data[name]
            if value is None:
                if not allow_null:
                    return None
                accepted[name] = None
                continue
            value = check(value)
            if value is UNSURE:
                return None
            accepted[name] = value
        return accepted

    return accept
