"""imsuite.plain_accept: for every input schema it can take, validate() answers exactly as DRF does
(the same validated data, or the same VALIDATION_ERROR details), on valid and invalid input; and
the plain path really is taken for valid input of the hot WebSocket frames."""

import importlib
import itertools
from typing import Any

import pytest
from rest_framework import serializers

from imsuite import validation
from imsuite.errors import DomainError
from imsuite.plain_accept import acceptor

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these

SCHEMA_MODULES = (
    "accounts.serializers",
    "bots.actions",
    "bots.api",
    "calls.api",
    "chats.schemas",
    "chats.serializers",
    "groups.serializers",
)
HOT = ("MessageSendInput", "MessageRef", "TypingInput", "PingInput", "PresenceInput", "HistoryQuery")

# Values worth trying in any field: types DRF coerces or refuses, blanks, padding, limits, NUL,
# lone surrogates, huge numbers, the choices of our schemas and near misses of them.
POOL = [
    None,
    "",
    "   ",
    "x",
    "  padded  ",
    "a" * 64,
    "a" * 65,
    "a\x00b",
    "a\ud800b",
    "你好",
    "text",
    "image",
    "file",
    "TEXT",
    "1",
    0,
    1,
    -1,
    50,
    101,
    10**18,
    10**30,
    True,
    False,
    1.0,
    [],
    {},
    [1],  # lists, for attachment_ids
    [1, 2, 2],
    [0],
    ["1"],
    [1, None],
    [[1]],
    [True],
    [1.0],
]


def _our_schemas() -> list[type[serializers.Serializer]]:
    for name in SCHEMA_MODULES:
        importlib.import_module(name)
    found, todo = set(), [serializers.Serializer]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in {m.split(".")[0] for m in SCHEMA_MODULES}:
                found.add(sub)
    return sorted(found, key=lambda schema: (schema.__module__, schema.__name__))


SCHEMAS = [schema for schema in _our_schemas() if acceptor(schema) is not None]


def _valid_value(field: serializers.Field) -> Any:
    if isinstance(field, serializers.ListField):
        return [_valid_value(field.child)]
    if isinstance(field, serializers.BooleanField):
        return True
    if isinstance(field, serializers.ChoiceField):
        return next(iter(field.choice_strings_to_values))
    if isinstance(field, serializers.IntegerField):
        return max(field.min_value or 0, 1)
    return "hello"[: getattr(field, "max_length", None) or 5]


def _payloads(schema: type[serializers.Serializer]) -> list[Any]:
    fields = schema().fields
    base = {name: _valid_value(field) for name, field in fields.items()}
    payloads: list[Any] = [base, {}, None, [], "text", {**base, "unknown": 1}]
    for name in fields:
        payloads.append({key: value for key, value in base.items() if key != name})
        payloads.extend({**base, name: value} for value in POOL)
    names = list(fields)
    for first, second in itertools.combinations(names, 2):  # two fields off at once
        payloads.append({**base, first: None, second: ""})
    return payloads


def _answer(schema: type[serializers.Serializer], data: Any) -> tuple[str, Any]:
    try:
        return "ok", dict(validation.validate(schema, data))
    except DomainError as exc:
        return "error", (exc.code, exc.message, exc.details)


def _drf_answer(schema: type[serializers.Serializer], data: Any, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as patch:
        patch.setitem(validation._acceptors, schema, None)  # DRF alone
        return _answer(schema, data)


def test_the_hot_schemas_have_an_acceptor():
    assert {schema.__name__ for schema in SCHEMAS} >= set(HOT)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: f"{schema.__module__}.{schema.__name__}")
def test_validate_answers_as_drf_does(schema, monkeypatch):
    accept = acceptor(schema)
    taken = 0
    for data in _payloads(schema):
        expected = _drf_answer(schema, data, monkeypatch)
        assert _answer(schema, data) == expected, data
        if accept(data) is not None:
            taken += 1
            assert expected[0] == "ok", data  # the plain path accepts only what DRF accepts
    assert taken >= 2, "the plain path was never taken"


def test_the_plain_path_returns_drfs_values_for_a_message_send(monkeypatch):
    from chats.models import Message
    from chats.schemas import MessageSendInput

    data = {"chat_id": 7, "content": "  hi  ", "client_msg_id": "c-1", "reply_to_id": None}
    accepted = acceptor(MessageSendInput)(data)
    assert accepted == {
        "content": "  hi  ",  # not trimmed: the service trims and refuses blanks with its own reason
        "message_type": Message.Type.TEXT,
        "reply_to_id": None,
        "client_msg_id": "c-1",
        "chat_id": 7,
        "attachment_ids": None,
    }
    with_files = {"chat_id": 7, "attachment_ids": [3, 4]}
    assert acceptor(MessageSendInput)(with_files) == {
        "chat_id": 7,
        "content": "",
        "message_type": Message.Type.TEXT,
        "attachment_ids": [3, 4],
    }
    assert acceptor(MessageSendInput)(with_files) == _drf_answer(MessageSendInput, with_files, monkeypatch)[1]
    assert type(accepted["message_type"]) is Message.Type
    assert accepted == _drf_answer(MessageSendInput, data, monkeypatch)[1]


def test_schemas_with_parts_it_does_not_reproduce_get_no_acceptor():
    class Checked(serializers.Serializer):
        name = serializers.CharField()

        def validate_name(self, value: str) -> str:
            return value.upper()

    class Whole(serializers.Serializer):
        name = serializers.CharField()

        def validate(self, attrs: dict) -> dict:
            return attrs

    class Email(serializers.Serializer):
        address = serializers.EmailField()

    assert [acceptor(schema) for schema in (Checked, Whole, Email)] == [None, None, None]
