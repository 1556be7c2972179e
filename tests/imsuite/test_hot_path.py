"""The hot path's building blocks: rate limits counted many at once, event data made plain without
a JSON round trip, events collected instead of delivered, and schemas validated from a prototype."""

import json
import math
import socket
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils.translation import gettext_lazy
from rest_framework.utils.encoders import JSONEncoder

from accounts.services import friendship_create
from chats import services
from chats.models import Chat, Message
from chats.schemas import MessageSendInput
from imsuite import ratelimit, ws
from imsuite.errors import DomainError, ErrorCode
from imsuite.events import DomainEvent, collected, plain, publish, publish_events
from imsuite.ratelimit import rate_limit, rate_limit_many
from imsuite.validation import validate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_state")]


class Boom(Exception):
    pass


class Clock:
    """The rate limiter's clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock fixed half a second into a 10-second window."""
    fixed = Clock(1_700_000_000.5)
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=fixed.time))
    return fixed


@pytest.fixture
def bucket() -> str:
    """A bucket no other test (or earlier run) has counted in."""
    return f"test-{uuid.uuid4().hex}"


def limited(limit: int, window_seconds: int, retry_after: int) -> tuple[str, str, dict]:
    return (
        ErrorCode.RATE_LIMITED,
        f"Too many requests: at most {limit} every {window_seconds} seconds.",
        {"retry_after": retry_after, "limit": limit, "window_seconds": window_seconds},
    )


def outcomes(results: list[DomainError | None]) -> list[tuple[str, str, dict] | None]:
    return [None if r is None else (r.code, r.message, r.details) for r in results]


# ---- rate_limit_many ------------------------------------------------------------------------------


def test_repeated_keys_count_one_use_each_in_order(clock, bucket):
    results = rate_limit_many(bucket, ["a", "b", "a", "a", "b", "a", "b"], 2, 10)
    refused = limited(2, 10, 10)
    assert outcomes(results) == [None, None, None, refused, None, refused, refused]
    # the refused uses counted too: the next call starts past the limit for both
    assert outcomes(rate_limit_many(bucket, ["b", "a", "c"], 2, 10)) == [refused, refused, None]


def test_uses_add_up_across_calls_until_the_limit(clock, bucket):
    assert outcomes(rate_limit_many(bucket, [7], 3, 10)) == [None]
    assert outcomes(rate_limit_many(bucket, [7, 7], 3, 10)) == [None, None]
    assert outcomes(rate_limit_many(bucket, [7, 7], 3, 10)) == [limited(3, 10, 10)] * 2
    assert rate_limit_many(bucket, [], 3, 10) == []


def test_keys_and_buckets_are_independent(clock, bucket):
    assert outcomes(rate_limit_many(bucket, [1, 1, 2], 1, 10)) == [None, limited(1, 10, 10), None]
    assert outcomes(rate_limit_many(bucket, [3], 1, 10)) == [None]
    assert outcomes(rate_limit_many(f"{bucket}-other", [1, 2], 1, 10)) == [None, None]
    assert outcomes(rate_limit_many(bucket, [2, 3, 4], 1, 10)) == [limited(1, 10, 10)] * 2 + [None]


def test_a_new_window_starts_a_new_count(clock, bucket):
    assert outcomes(rate_limit_many(bucket, ["k"] * 3, 2, 10)) == [None, None, limited(2, 10, 10)]
    clock.now = 1_700_000_009.75  # the same window, a quarter second before its end
    assert outcomes(rate_limit_many(bucket, ["k"], 2, 10)) == [limited(2, 10, 1)]
    clock.now = 1_700_000_010.0  # the next window
    assert outcomes(rate_limit_many(bucket, ["k", "k", "k"], 2, 10)) == [None, None, limited(2, 10, 10)]


@pytest.mark.parametrize(
    ("now", "window_seconds", "retry_after"),
    [
        (1_700_000_000.5, 10, 10),  # 9.5 s left, rounded up
        (1_700_000_007.25, 10, 3),  # 2.75 s left
        (1_700_000_007.25, 60, 33),  # window [1_699_999_980, 1_700_000_040)
        (1_700_000_039.99, 60, 1),  # never less than a second
    ],
)
def test_refusal_details(clock, bucket, now, window_seconds, retry_after):
    clock.now = now
    results = rate_limit_many(bucket, ["x", "x"], 1, window_seconds)
    assert outcomes(results) == [None, limited(1, window_seconds, retry_after)]
    assert results[1].http_status == 429


def test_rate_limit_raises_and_shares_the_budget(clock, bucket):
    assert rate_limit_many(bucket, ["u"], 2, 10) == [None]
    rate_limit(bucket, "u", 2, 10)
    with pytest.raises(DomainError) as info:
        rate_limit(bucket, "u", 2, 10)
    assert (info.value.code, info.value.message, info.value.details) == limited(2, 10, 10)
    assert outcomes(rate_limit_many(bucket, ["u"], 2, 10)) == [limited(2, 10, 10)]


def test_a_counter_expires_after_two_windows_from_its_first_use(clock, bucket):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        pytest.skip("the counters' TTL is Redis's (the embedded leg's cache is in-process)")
    client = cache._cache.get_client()
    key = cache.make_and_validate_key(f"rate:{bucket}:u:{int(clock.now // 10)}")
    assert rate_limit_many(bucket, ["u", "u"], 5, 10) == [None, None]
    assert (int(client.get(key)), client.ttl(key)) == (2, 20)
    client.expire(key, 7)  # time passes: a later use adds to the count and keeps the expiry
    assert rate_limit_many(bucket, ["u"], 5, 10) == [None]
    assert (int(client.get(key)), client.ttl(key)) == (3, 7)


# ---- plain ----------------------------------------------------------------------------------------


# With an integer past 64 bits, which orjson refuses, plain() walks the value in Python instead.
@pytest.mark.parametrize("large", [10**15, 10**20], ids=["orjson", "walked"])
def test_plain_gives_what_a_json_round_trip_gives(large):
    moment = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    value = {
        "at": moment,
        "on the second": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "elsewhere": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8))),
        "naive": datetime(2024, 1, 2, 3, 4, 5),
        "london in winter": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=ZoneInfo("Europe/London")),
        "london in summer": datetime(2024, 7, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/London")),
        "day": date(2024, 2, 29),
        "clock": time(3, 4, 5, 6),
        "lasted": timedelta(seconds=90),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1.5"),
        "pair": (1, "two", (3.5, None, moment)),
        7: {"ok": True, "no": False, 1.5: [None, 0, 0.0, -3, large], None: "null key", False: "false key"},
        "kind": Message.Type.IMAGE,
        "kinds": [Chat.Type.GROUP, (Message.Type.TEXT, {"nested": Chat.Type.PRIVATE})],
        "deep": [{"when": date(2000, 1, 1), 2: ({"at": moment},)}],
        "empty": {},
        "none": None,
        "nothing": [],
        "no pair": (),
        "text": "ünïcode ✓",
    }
    expected = json.loads(json.dumps(value, cls=JSONEncoder))
    result = plain(value)
    assert result == expected
    assert json.dumps(result) == json.dumps(expected)  # same types too: True is not 1, 0.0 is not 0
    assert result["at"] == "2024-01-02T03:04:05.678901Z"
    assert result["pair"] == [1, "two", [3.5, None, "2024-01-02T03:04:05.678901Z"]]
    assert list(result["7"]) == ["ok", "no", "1.5", "null", "false"]
    assert type(result["kind"]) is str
    assert type(result["kinds"][0]) is str
    assert type(result["kinds"][1][1]["nested"]) is str
    assert result["deep"] == [{"when": "2000-01-01", "2": [{"at": "2024-01-02T03:04:05.678901Z"}]}]


def test_plain_does_not_change_its_input():
    inner = {"at": datetime(2024, 1, 2, tzinfo=UTC)}
    value = {"list": [inner], "tuple": (1, 2)}
    result = plain(value)
    assert value == {"list": [{"at": datetime(2024, 1, 2, tzinfo=UTC)}], "tuple": (1, 2)}
    assert result == {"list": [{"at": "2024-01-02T00:00:00Z"}], "tuple": [1, 2]}
    assert result["list"][0] is not inner


def test_plain_str_subclass_keys_are_plain_strings():
    value = {Message.Type.TEXT: 1, Chat.Type.GROUP: {Message.Type.FILE: 2}}
    assert plain(value) == json.loads(json.dumps(value, cls=JSONEncoder)) == {"text": 1, "group": {"file": 2}}


# ---- frames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("large", [10**15, 10**20], ids=["orjson", "json"])
def test_a_frame_is_written_as_json_writes_it(large):
    """ws.dumps (orjson, json for what orjson refuses) writes what json with Django's encoder
    wrote: datetimes in UTC as ISO 8601 with Z, times to the millisecond, lazy text, keys as strings."""
    value = {
        "at": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "elsewhere": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8))),
        "day": date(2024, 2, 29),
        "clock": time(3, 4, 5, 678901),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("1.50"),
        "greeting": gettext_lazy("Hello"),
        "kind": Message.Type.IMAGE,
        7: [None, True, 0.5, -3, large, (1, "two")],
        "text": "中文 ünïcode ✓",
    }
    assert ws.dumps(value) == (
        '{"at":"2024-01-02T03:04:05.678901Z","elsewhere":"2024-01-01T19:04:05Z","day":"2024-02-29",'
        '"clock":"03:04:05.678","id":"12345678-1234-5678-1234-567812345678","amount":"1.50",'
        f'"greeting":"Hello","kind":"image","7":[null,true,0.5,-3,{large},[1,"two"]],'
        '"text":"中文 ünïcode ✓"}'
    )


def test_a_frame_keeps_a_lone_surrogate_escaped():
    """orjson refuses a lone surrogate (not UTF-8); json writes it escaped, as before."""
    assert ws.dumps({"text": "a\ud800b"}) == '{"text":"a\\ud800b"}'


def test_a_frame_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        ws.dumps({"set": {1, 2}})


# ---- collected ------------------------------------------------------------------------------------


def test_collected_hands_committed_events_over_and_delivers_nothing(
    alice, bob, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob)
    other = DomainEvent(name="test.other", audience=frozenset({bob.pk}), data={"n": 2})
    with collected() as events, django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            first = publish("test.happened", [alice.pk], {"n": 1})
            publish_events([other])
        assert events == []  # nothing before the commit
    assert len(callbacks) == 2
    assert events == [first, other]
    assert events[0] is first
    assert inbox.drain(alice) == []
    assert inbox.drain(bob) == []
    # outside the block, events are delivered again
    with django_capture_on_commit_callbacks(execute=True):
        publish("test.after", [alice.pk], {"n": 3})
    assert inbox.drain(alice) == [{"type": "domain.event", "event": "test.after", "data": {"n": 3}}]
    assert events == [first, other]


def test_collected_takes_a_sends_message_events(alice, bob, inbox, django_capture_on_commit_callbacks):
    friendship_create(user_a=alice, user_b=bob)
    inbox.listen(alice, bob)
    chat_id = Chat.objects.get(type=Chat.Type.PRIVATE).pk
    with collected() as events, django_capture_on_commit_callbacks(execute=True):
        message, created = services.message_send(actor=alice, chat_id=chat_id, content="hi")
    assert created is True
    assert [(e.name, e.audience, e.data["seq"], e.data["message"]["id"]) for e in events] == [
        ("message.new", frozenset({alice.pk, bob.pk}), message.seq, message.pk)
    ]
    assert inbox.drain(alice) == []
    assert inbox.drain(bob) == []


def test_collected_gets_nothing_from_a_rolled_back_transaction(
    alice, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice)
    with collected() as events, django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            publish("test.happened", [alice.pk], {"n": 1})
            raise Boom
        with transaction.atomic():
            kept = publish("test.kept", [alice.pk], {"n": 2})
    assert len(callbacks) == 1
    assert events == [kept]
    assert inbox.drain(alice) == []


# ---- validate -------------------------------------------------------------------------------------


def refusal(schema: Any, data: Any) -> dict:
    with pytest.raises(DomainError) as info:
        validate(schema, data)
    assert (info.value.code, info.value.message) == (ErrorCode.VALIDATION_ERROR, "The request is not valid.")
    return info.value.details


def test_validate_gives_each_call_its_own_result():
    full = {"chat_id": 5, "content": " hi ", "client_msg_id": "c-1", "reply_to_id": 9, "message_type": "file"}
    first = validate(MessageSendInput, full)
    first_copy = dict(first)
    assert first_copy == {
        "chat_id": 5,
        "content": " hi ",
        "client_msg_id": "c-1",
        "reply_to_id": 9,
        "message_type": "file",
        "attachment_ids": None,
    }
    assert refusal(MessageSendInput, {"chat_id": 0, "content": 3}) == {
        "reason": "invalid",
        "field": "content",
        "fields": {
            "content": ["Must be a string."],
            "chat_id": ["Ensure this value is greater than or equal to 1."],
        },
    }
    assert dict(first) == first_copy  # the refusal left the first result alone
    second = validate(MessageSendInput, {"chat_id": 6, "content": "x"})
    assert dict(second) == {  # nothing of the first's
        "chat_id": 6,
        "content": "x",
        "message_type": "text",
        "attachment_ids": None,
    }
    assert second is not first
    assert dict(first) == first_copy
    # a refusal after a valid call sees only its own data
    assert refusal(MessageSendInput, {"content": "x"}) == {
        "reason": "required",
        "field": "chat_id",
        "fields": {"chat_id": ["This field is required."]},
    }
    assert dict(second) == {"chat_id": 6, "content": "x", "message_type": "text", "attachment_ids": None}


def test_validate_still_refuses_unknown_fields_and_non_objects():
    assert validate(MessageSendInput, {"chat_id": 1, "content": "ok"})["chat_id"] == 1
    assert refusal(MessageSendInput, {"chat_id": 1, "content": "x", "extra": 1, "another": 2}) == {
        "reason": "unknown_field",
        "field": "another",
        "fields": {"another": ["Unknown field."], "extra": ["Unknown field."]},
    }
    assert refusal(MessageSendInput, [1]) == {
        "reason": "invalid",
        "fields": {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
    }
    assert dict(validate(MessageSendInput, {"chat_id": 2, "content": "ok"})) == {
        "chat_id": 2,
        "content": "ok",
        "message_type": "text",
        "attachment_ids": None,
    }


def test_an_unreachable_cache_counts_nothing_and_refuses_nothing(settings, caplog, monkeypatch, bucket):
    """Redis away (a restart): sends go on with PostgreSQL alone, with one warning, instead of an
    INTERNAL_ERROR for a counter. A real Redis client against a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the cache connects
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    monkeypatch.setattr(ratelimit, "_warned_at", -math.inf)
    assert rate_limit_many(bucket, ["a", "a", "b"], 1, 10) == [None, None, None]
    rate_limit(bucket, "a", 1, 10)  # raises nothing
    warnings = [r.getMessage() for r in caplog.records if r.name == "imsuite.ratelimit"]
    assert len(warnings) == 1 and warnings[0].startswith(
        "rate limits are not counted: the cache cannot be reached"
    )
