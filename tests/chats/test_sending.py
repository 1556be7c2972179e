"""Sending many messages at once (chats.sending.message_send_many) and the per-loop send queue
(chats.send_queue): each request's own result in request order, one block of consecutive seqs,
one multi-row insert and one delivery of every message.new after the commit."""

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections as databases
from django.utils import timezone

from accounts.models import User
from accounts.services import friendship_create
from chats import sending, services
from chats.models import Chat, Message, SeqCounter
from chats.send_queue import get_send_queue
from chats.sending import SendRequest, message_send_many
from groups.models import Group, Mute
from groups.services import group_create
from imsuite.errors import DomainError, ErrorCode

from .ws_helpers import message_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_state")]

HOUR = timedelta(hours=1)
RATE_LIMITED = {"retry_after": 10, "limit": 3, "window_seconds": 10}


# ---- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def three_per_window(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most 3 messages per 10 seconds, with the clock fixed half a second into a window."""
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 3, "RATE_LIMIT_WINDOW_SECONDS": 10}
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=lambda: 1_700_000_000.5))


@pytest.fixture
def dave(make_user) -> User:
    return make_user("dave", nickname="Dave")


@pytest.fixture
def group(pair: Chat, alice: User, bob: User, carol: User) -> Group:
    """Alice (friends with Bob and Carol) owns "Team" with both of them."""
    friendship_create(user_a=alice, user_b=carol)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


def mute(group: Group, user: User, operator: User) -> Mute:
    return Mute.objects.create(group=group, user=user, until=timezone.now() + HOUR, operator=operator)


def send_one(actor: User, chat_id: int, content: str = "hello", **extra: Any) -> Message:
    message, created = services.message_send(actor=actor, chat_id=chat_id, content=content, **extra)
    assert created is True
    return message


def counter() -> int:
    """The seq counter's value (0 before the first message)."""
    return SeqCounter.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def rows() -> list[tuple]:
    return list(
        Message.objects.order_by("pk").values_list(
            "chat_id", "sender_id", "content", "message_type", "reply_to_id", "client_msg_id"
        )
    )


def error_of(result: Any) -> tuple[str, dict]:
    assert isinstance(result, DomainError), result
    return result.code, result.details


def stored(result: Any) -> Message:
    """The message of a (message, True) result, as stored."""
    assert isinstance(result, tuple), result
    message, created = result
    assert created is True
    assert message.pk is not None
    return Message.objects.get(pk=message.pk)


def profile(user: User, role: str = "member") -> dict:
    return {"sex": user.sex, "age": user.age or 0, "role": role, "level": "0", "card": ""}


def new_event(message_id: int, chat: dict, sender_profile: dict) -> dict:
    """The exact message.new an audience member receives, built from the stored row."""
    row = Message.objects.select_related("sender").get(pk=message_id)
    sender = row.sender
    return {
        "type": "domain.event",
        "event": "message.new",
        "data": {
            "seq": row.seq,
            "message": message_body(row, sender),
            "chat": chat,
            "sender": {"id": sender.pk, "nickname": sender.nickname, "avatar_url": sender.avatar_url},
            "sender_profile": sender_profile,
        },
    }


# ---- message_send_many ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # PostgreSQL refuses a NUL when the statement runs, not at commit
def test_unstorable_text_is_refused_alone_and_the_rest_of_the_batch_is_stored(
    alice: User, pair: Chat
) -> None:
    """PostgreSQL's text cannot hold a NUL, and no database a lone surrogate (not UTF-8): a content
    or client_msg_id with one is refused on both databases, and its neighbours in the batch are
    stored as if it had not come."""
    results = message_send_many(
        [
            SendRequest(alice, pair.pk, "a\x00b", client_msg_id="nul-1"),
            SendRequest(alice, pair.pk, "fine", client_msg_id="nul\x00"),
            SendRequest(alice, pair.pk, "a\ud800b", client_msg_id="sur-1"),
            SendRequest(alice, pair.pk, "fine", client_msg_id="sur\udfff"),
            SendRequest(alice, pair.pk, "fine too", client_msg_id="nul-3"),
        ]
    )
    assert [error_of(result) for result in results[:4]] == [
        (ErrorCode.VALIDATION_ERROR, {"field": field, "reason": f"{kind}_characters_not_allowed"})
        for kind in ("null", "surrogate")
        for field in ("content", "client_msg_id")
    ]
    assert rows() == [(pair.pk, alice.pk, "fine too", "text", None, "nul-3")]
    assert stored(results[4]).seq == counter()


def test_mixed_batch_answers_each_request_in_order_and_stores_only_the_valid(
    pair, group, alice, bob, carol, dave, django_capture_on_commit_callbacks
):
    question = send_one(alice, pair.pk, "question")
    muted = mute(group, carol, alice)
    before, seq_before = rows(), counter()
    requests = [
        SendRequest(alice, pair.pk, "  fine  ", client_msg_id="ok-1"),
        SendRequest(dave, pair.pk, "not my chat"),
        SendRequest(bob, pair.pk, " \n\t "),
        SendRequest(alice, pair.pk, "bad id", client_msg_id=""),
        SendRequest(carol, group.pk, "let me talk"),
        SendRequest(bob, group.pk, "wrong thread", reply_to_id=question.pk),
        SendRequest(bob, group.pk, "fine too", reply_to_id=None),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        results = message_send_many(requests)

    assert len(results) == len(requests)
    first, last = stored(results[0]), stored(results[6])
    assert error_of(results[1]) == (ErrorCode.NOT_FOUND, {})
    assert str(results[1]) == "Chat not found."
    assert error_of(results[2]) == (ErrorCode.VALIDATION_ERROR, {"field": "content", "reason": "empty"})
    assert error_of(results[3]) == (
        ErrorCode.VALIDATION_ERROR,
        {"field": "client_msg_id", "reason": "format"},
    )
    assert error_of(results[4]) == (
        ErrorCode.PERMISSION_DENIED,
        {"reason": "muted", "until": muted.until.isoformat()},
    )
    assert error_of(results[5]) == (
        ErrorCode.VALIDATION_ERROR,
        {"field": "reply_to_id", "reason": "not_in_chat"},
    )
    assert rows() == [
        *before,
        (pair.pk, alice.pk, "fine", "text", None, "ok-1"),
        (group.pk, bob.pk, "fine too", "text", None, None),
    ]
    assert (first.seq, last.seq) == (seq_before + 1, seq_before + 2)
    assert counter() == seq_before + 2
    assert len(callbacks) == 1


def test_checks_run_in_the_documented_order(pair, group, alice, bob, carol, dave):
    """A request wrong in several ways gets the first refusal of: client_msg_id format, membership,
    retry, content, mute, reply_to."""
    alice_original = send_one(alice, pair.pk, "original", client_msg_id="a-1")
    carol_original = send_one(carol, group.pk, "before the mute", client_msg_id="c-1")
    question = send_one(alice, pair.pk, "question")
    mute(group, carol, alice)
    before = rows()
    results = message_send_many(
        [
            SendRequest(dave, pair.pk, "", client_msg_id="x" * 65),  # format before membership
            SendRequest(dave, pair.pk, ""),  # membership before content
            SendRequest(alice, pair.pk, "", message_type="sticker", client_msg_id="a-1"),  # retry first
            SendRequest(carol, group.pk, "again", client_msg_id="c-1"),  # retry before the mute
            SendRequest(carol, group.pk, ""),  # content before the mute
            SendRequest(carol, group.pk, "hm", reply_to_id=question.pk),  # mute before reply_to
            SendRequest(bob, group.pk, "", reply_to_id=question.pk),  # content before reply_to
            SendRequest(bob, group.pk, "x", message_type="system"),  # only text, image and file
        ]
    )
    assert [error_of(r) if isinstance(r, DomainError) else (r[0].pk, r[1]) for r in results] == [
        (ErrorCode.VALIDATION_ERROR, {"field": "client_msg_id", "reason": "format"}),
        (ErrorCode.NOT_FOUND, {}),
        (alice_original.pk, False),
        (carol_original.pk, False),
        (ErrorCode.VALIDATION_ERROR, {"field": "content", "reason": "empty"}),
        (ErrorCode.PERMISSION_DENIED, {"reason": "muted", "until": Mute.objects.get().until.isoformat()}),
        (ErrorCode.VALIDATION_ERROR, {"field": "content", "reason": "empty"}),
        (ErrorCode.VALIDATION_ERROR, {"field": "message_type", "reason": "choice"}),
    ]
    assert rows() == before


def test_dissolved_group_refuses_its_requests_only(pair, group, alice, bob):
    Group.objects.filter(pk=group.pk).update(dissolved_at=timezone.now())
    results = message_send_many([SendRequest(bob, group.pk, "anyone?"), SendRequest(bob, pair.pk, "hi")])
    assert error_of(results[0]) == (ErrorCode.PERMISSION_DENIED, {"reason": "dissolved"})
    assert stored(results[1]).content == "hi"
    assert rows() == [(pair.pk, bob.pk, "hi", "text", None, None)]


def test_a_sender_deactivated_since_connecting_is_refused_in_the_batch(pair, group, alice, bob):
    """Connections hold the User loaded when they opened: the batch reads is_active itself."""
    stale_bob = User.objects.get(pk=bob.pk)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert stale_bob.is_active
    results = message_send_many(
        [
            SendRequest(stale_bob, pair.pk, "still here?"),
            SendRequest(alice, pair.pk, "hi"),
            SendRequest(stale_bob, group.pk, "and here?"),
        ]
    )
    inactive = (ErrorCode.AUTHENTICATION_FAILED, {"reason": "user_inactive"})
    assert (error_of(results[0]), error_of(results[2])) == (inactive, inactive)
    assert stored(results[1]).content == "hi"
    assert rows() == [(pair.pk, alice.pk, "hi", "text", None, None)]


def test_one_batch_takes_consecutive_seqs_in_request_order(pair, group, alice, bob, carol):
    send_one(bob, pair.pk, "warm-up")  # the counter exists and is not at 0
    seq_before = counter()
    assert seq_before >= 1
    requests = [
        SendRequest(carol, group.pk, "one"),
        SendRequest(alice, pair.pk, "two", client_msg_id="a-2"),
        SendRequest(bob, group.pk, "https://cdn.example.com/3.png", message_type="image"),
        SendRequest(alice, group.pk, "four"),
    ]
    results = message_send_many(requests)
    messages = [stored(result) for result in results]
    columns = [f.attname for f in Message._meta.concrete_fields]
    for (answered, _), row in zip(results, messages, strict=True):  # the answer is the row, field for field
        assert [getattr(answered, c) for c in columns] == [getattr(row, c) for c in columns]
        assert (answered._state.adding, answered._state.db) == (False, row._state.db)
    assert (messages[0].is_edited, messages[0].updated_at, messages[0].deleted_at) == (False, None, None)
    assert [m.content for m in messages] == ["one", "two", "https://cdn.example.com/3.png", "four"]
    assert [m.seq for m in messages] == [seq_before + n for n in (1, 2, 3, 4)]
    assert [m.created_seq for m in messages] == [m.seq for m in messages]
    assert counter() == seq_before + 4
    assert sorted(m.pk for m in messages) == [m.pk for m in messages]  # inserted in request order
    moment = messages[0].created_at
    assert all(m.created_at == moment for m in messages)
    assert Chat.objects.get(pk=pair.pk).last_message_at == moment
    assert Chat.objects.get(pk=group.pk).last_message_at == moment


def test_retry_of_a_stored_client_msg_id_returns_the_original_and_stores_nothing(
    pair, alice, bob, django_capture_on_commit_callbacks
):
    original = send_one(alice, pair.pk, "once", client_msg_id="c-1")
    before, seq_before = rows(), counter()
    with django_capture_on_commit_callbacks() as callbacks:
        [result] = message_send_many([SendRequest(alice, pair.pk, "twice", client_msg_id="c-1")])
    message, created = result
    assert (message.pk, message.content, message.seq, created) == (original.pk, "once", original.seq, False)
    assert callbacks == []
    assert rows() == before
    assert counter() == seq_before
    # the same client_msg_id is someone else's own
    other = stored(message_send_many([SendRequest(bob, pair.pk, "mine", client_msg_id="c-1")])[0])
    assert (other.sender_id, other.client_msg_id, other.seq) == (bob.pk, "c-1", seq_before + 1)


def test_twins_in_one_batch_store_one_row(pair, alice, bob, django_capture_on_commit_callbacks):
    seq_before = counter()
    with django_capture_on_commit_callbacks() as callbacks:
        results = message_send_many(
            [
                SendRequest(alice, pair.pk, "first", client_msg_id="t-1"),
                SendRequest(bob, pair.pk, "between"),
                SendRequest(alice, pair.pk, "second", client_msg_id="t-1"),
            ]
        )
    first, between = stored(results[0]), stored(results[1])
    twin, created = results[2]
    assert (twin.pk, twin.content, created) == (first.pk, "first", False)
    assert rows() == [
        (pair.pk, alice.pk, "first", "text", None, "t-1"),
        (pair.pk, bob.pk, "between", "text", None, None),
    ]
    assert (first.seq, between.seq, counter()) == (seq_before + 1, seq_before + 2, seq_before + 2)
    assert len(callbacks) == 1


def test_a_twin_of_a_refused_send_is_checked_on_its_own(pair, alice):
    """Sent one after the other, an empty message is refused and a valid retry under the same
    client_msg_id is stored: a batch gives the same answers."""
    results = message_send_many(
        [
            SendRequest(alice, pair.pk, "   ", client_msg_id="t-2"),
            SendRequest(alice, pair.pk, "fixed", client_msg_id="t-2"),
        ]
    )
    assert isinstance(results[0], DomainError)
    assert (results[0].code, results[0].details["reason"]) == ("VALIDATION_ERROR", "empty")
    message, created = results[1]
    assert (message.content, message.client_msg_id, created) == ("fixed", "t-2", True)
    assert rows() == [(pair.pk, alice.pk, "fixed", "text", None, "t-2")]


def test_rate_limit_refuses_exactly_the_requests_past_the_limit(
    pair, group, alice, bob, three_per_window, django_capture_on_commit_callbacks
):
    original = send_one(alice, pair.pk, "first of three", client_msg_id="r-0")
    requests = [
        SendRequest(alice, pair.pk, "a1"),
        SendRequest(alice, pair.pk, ""),  # refused before the rate limit: not counted
        SendRequest(alice, pair.pk, "again", client_msg_id="r-0"),  # a retry: not counted
        SendRequest(bob, pair.pk, "b1"),
        SendRequest(alice, group.pk, "a2"),
        SendRequest(alice, pair.pk, "a3"),
        SendRequest(bob, group.pk, "b2"),
        SendRequest(alice, pair.pk, "a4"),
        SendRequest(bob, pair.pk, "b3"),
        SendRequest(bob, pair.pk, "b4"),
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        results = message_send_many(requests)

    def outcome(result: Any) -> Any:
        if isinstance(result, DomainError):
            return (result.code, result.details)
        return (result[0].content, result[1])

    assert [outcome(r) for r in results] == [
        ("a1", True),
        (ErrorCode.VALIDATION_ERROR, {"field": "content", "reason": "empty"}),
        ("first of three", False),
        ("b1", True),
        ("a2", True),
        (ErrorCode.RATE_LIMITED, RATE_LIMITED),
        ("b2", True),
        (ErrorCode.RATE_LIMITED, RATE_LIMITED),
        ("b3", True),
        (ErrorCode.RATE_LIMITED, RATE_LIMITED),
    ]
    assert str(results[5]) == "Too many requests: at most 3 every 10 seconds."
    assert [content for _, _, content, *_ in rows()] == ["first of three", "a1", "b1", "a2", "b2", "b3"]
    assert len(callbacks) == 1
    # the window is used up for both; the retry still answers with the original
    later = message_send_many(
        [
            SendRequest(alice, pair.pk, "a5"),
            SendRequest(bob, pair.pk, "b5"),
            SendRequest(alice, pair.pk, "x", client_msg_id="r-0"),
        ]
    )
    assert error_of(later[0]) == (ErrorCode.RATE_LIMITED, RATE_LIMITED)
    assert error_of(later[1]) == (ErrorCode.RATE_LIMITED, RATE_LIMITED)
    assert (later[2][0].pk, later[2][1]) == (original.pk, False)
    assert Message.objects.count() == 6


def test_a_client_msg_id_that_raced_in_falls_back_to_one_at_a_time(
    pair, alice, bob, monkeypatch, django_capture_on_commit_callbacks
):
    original = send_one(alice, pair.pk, "stored elsewhere", client_msg_id="dup")
    seq_before = counter()
    # the retry lookup misses it, as if it had been stored after the lookup: the insert conflicts
    monkeypatch.setattr(sending, "_messages_by_client_id", lambda keys: [])
    with django_capture_on_commit_callbacks() as callbacks:
        results = message_send_many(
            [
                SendRequest(bob, pair.pk, "b1", client_msg_id="k-1"),
                SendRequest(alice, pair.pk, "the race", client_msg_id="dup"),
                SendRequest(bob, pair.pk, "b2"),
            ]
        )
    b1, b2 = stored(results[0]), stored(results[2])
    message, created = results[1]
    assert (message.pk, message.content, created) == (original.pk, "stored elsewhere", False)
    assert rows() == [
        (pair.pk, alice.pk, "stored elsewhere", "text", None, "dup"),
        (pair.pk, bob.pk, "b1", "text", None, "k-1"),
        (pair.pk, bob.pk, "b2", "text", None, None),
    ]
    assert (b1.seq, b2.seq) == (seq_before + 1, seq_before + 2)
    assert [b1.created_seq, b2.created_seq] == [b1.seq, b2.seq]
    assert counter() == seq_before + 2
    assert len(callbacks) == 2  # one transaction per stored message after the conflict


def test_one_delivery_after_commit_carries_every_new_message(
    pair, group, alice, bob, carol, dave, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob, carol, dave)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        results = message_send_many(
            [
                SendRequest(bob, pair.pk, "to alice", client_msg_id="b-1"),
                SendRequest(dave, group.pk, "not a member"),
                SendRequest(carol, group.pk, "to the team"),
                SendRequest(alice, group.pk, "welcome", reply_to_id=None),
            ]
        )
        assert inbox.drain(alice, wait=0.05) == []  # nothing before the commit
    assert len(callbacks) == 1
    assert error_of(results[1]) == (ErrorCode.NOT_FOUND, {})
    to_alice, to_team, welcome = (stored(results[i]).pk for i in (0, 2, 3))
    private = {
        "id": pair.pk,
        "type": "private",
        "title": None,
        "titles": {str(alice.pk): "Bob", str(bob.pk): "Alice"},
    }
    team = {"id": group.pk, "type": "group", "title": "Team"}
    expected = {
        "pair": new_event(to_alice, private, profile(bob)),
        "team": new_event(to_team, team, profile(carol)),
        "welcome": new_event(welcome, team, profile(alice, role="owner")),
    }
    assert inbox.drain(alice) == [expected["pair"], expected["team"], expected["welcome"]]
    assert inbox.drain(bob) == [expected["pair"], expected["team"], expected["welcome"]]
    assert inbox.drain(carol) == [expected["team"], expected["welcome"]]
    assert inbox.drain(dave) == []


def test_a_batch_refused_entirely_stores_and_publishes_nothing(
    pair, alice, dave, django_capture_on_commit_callbacks
):
    seq_before = counter()
    with django_capture_on_commit_callbacks() as callbacks:
        results = message_send_many([SendRequest(dave, pair.pk, "x"), SendRequest(alice, pair.pk, 7)])
    assert error_of(results[0]) == (ErrorCode.NOT_FOUND, {})
    assert error_of(results[1]) == (ErrorCode.VALIDATION_ERROR, {"field": "content", "reason": "type"})
    assert callbacks == []
    assert rows() == []
    assert counter() == seq_before
    assert message_send_many([]) == []


def test_message_send_raises_the_refusal_of_its_one_request(pair, dave):
    with pytest.raises(DomainError) as info:
        services.message_send(actor=dave, chat_id=pair.pk, content="x")
    assert (info.value.code, info.value.details) == (ErrorCode.NOT_FOUND, {})
    assert rows() == []


# ---- the send queue -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_send_queue_batches_in_submission_order(pair, group, alice, bob, carol, dave, inbox):
    inbox.listen(alice, bob, carol)
    queue = get_send_queue()
    assert get_send_queue() is queue
    first = queue.submit(SendRequest(alice, pair.pk, "one", client_msg_id="q-1"))
    await asyncio.sleep(0)  # one turn of the loop: the first batch leaves with "one" alone
    rest = [
        queue.submit(SendRequest(bob, group.pk, "two")),
        queue.submit(SendRequest(dave, pair.pk, "not my chat")),
        queue.submit(SendRequest(carol, group.pk, "three")),
        queue.submit(SendRequest(alice, pair.pk, "one, again", client_msg_id="q-1")),
    ]
    results = await asyncio.gather(first, *rest)  # a DomainError is a result, not a raise
    await queue.delivering

    assert isinstance(results[2], DomainError)
    assert (results[2].code, results[2].details) == (ErrorCode.NOT_FOUND, {})
    assert [created for _, created in (results[0], results[1], results[3], results[4])] == [
        True,
        True,
        True,
        False,
    ]
    ids = [results[i][0].pk for i in (0, 1, 3)]
    assert results[4][0].pk == ids[0]  # the second batch saw the first one's commit

    def read() -> list[tuple]:
        return [
            Message.objects.filter(pk=pk).values_list("content", "seq", "created_seq", "created_at").get()
            for pk in ids
        ]

    (one, s1, c1, t1), (two, s2, c2, t2), (three, s3, c3, t3) = await sync_to_async(read)()
    assert (one, two, three) == ("one", "two", "three")
    assert [s2, s3] == [s1 + 1, s1 + 2]
    assert [c1, c2, c3] == [s1, s2, s3]
    assert t1 < t2 == t3  # "one" left alone; "two" and "three" together, in one transaction
    assert await sync_to_async(Message.objects.count)() == 3
    assert await sync_to_async(counter)() == s3

    def seqs(user: User) -> list[tuple[str, int, int]]:
        return [(e["event"], e["data"]["seq"], e["data"]["message"]["id"]) for e in inbox.drain(user)]

    everyone = [("message.new", s1, ids[0]), ("message.new", s2, ids[1]), ("message.new", s3, ids[2])]
    assert seqs(alice) == everyone
    assert seqs(bob) == everyone
    assert seqs(carol) == everyone[1:]
    await sync_to_async(databases.close_all)()


def test_a_chats_activity_is_updated_in_place(pair, group, alice, bob):
    """Every batch moves its chats' last_message_at: with no index on it (and, on PostgreSQL, room
    left on each page), the update is heap-only and leaves no bloat for VACUUM to clean up."""
    with databases["default"].cursor() as cursor:
        indexes = databases["default"].introspection.get_constraints(cursor, Chat._meta.db_table)
        assert [name for name, index in indexes.items() if "last_message_at" in index["columns"]] == []
        if databases["default"].vendor != "postgresql":
            return
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Chat._meta.db_table])
        assert cursor.fetchone()[0] == ["fillfactor=50"]
        hot = "SELECT pg_stat_get_xact_tuples_hot_updated(%s::regclass)"
        cursor.execute(hot, [Chat._meta.db_table])
        before = cursor.fetchone()[0]
        message_send_many([SendRequest(alice, pair.pk, "one"), SendRequest(bob, group.pk, "two")])
        cursor.execute(hot, [Chat._meta.db_table])
        assert cursor.fetchone()[0] - before == 2
