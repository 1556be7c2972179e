"""REST API of chats and messages: the chat list, private chats, history, sending, editing,
deleting and reading, with the same real-time events as the WebSocket."""

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Friendship, User
from accounts.services import bot_create, friendship_create
from chats import selectors, services
from chats.models import Chat, ChatMember, Message, Role
from chats.realtime import render_for
from groups.models import Group, Mute
from groups.services import group_create
from imsuite.asgi import application
from tests.accounts.test_api import assert_error, check

pytestmark = pytest.mark.django_db

CHAT_KEYS = {
    "id",
    "type",
    "title",
    "member_count",
    "unread_count",
    "unread_mention_count",
    "last_read_message_id",
    "last_message",
    "last_activity_at",
    "peer",
    "peer_last_read_message_id",
    "last_delivered_message_id",
    "peer_last_delivered_message_id",
    "notify",
    "notify_until",
}


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Rate-limit counters live in the process-wide cache; each test starts with a full budget."""
    cache.clear()


def iso(value: datetime | None) -> str | None:
    """A datetime as the API and events carry it (ISO 8601, UTC as Z)."""
    return value and value.isoformat().replace("+00:00", "Z")


def message_body(row: Message, viewer: User) -> dict:
    """The exact API shape of a stored message as `viewer` sees it (client_msg_id: own messages only)."""
    row.refresh_from_db()
    own = row.sender_id == viewer.pk
    return {
        "id": row.pk,
        "chat_id": row.chat_id,
        "sender_id": row.sender_id,
        "content": row.content,
        "message_type": row.message_type,
        "reply_to_id": row.reply_to_id,
        "client_msg_id": row.client_msg_id if own else None,
        "created_at": iso(row.created_at),
        "is_edited": row.is_edited,
        "updated_at": iso(row.updated_at),
        "is_deleted": row.deleted_at is not None,
        "deleted_by": row.deleted_by_id,
        "deleted_at": iso(row.deleted_at),
        "attachments": [],
        "mentions": [] if row.deleted_at else (row.mentions or []),
    }


def chat_item(chat: Chat, viewer: User, title: str, unread: int) -> dict:
    """The exact API shape of one chat in the viewer's list, built from the stored rows."""
    chat.refresh_from_db()
    last = Message.objects.filter(chat=chat).order_by("-id").first()
    peer = (  # a private chat's other person
        ChatMember.objects.filter(chat=chat).exclude(user=viewer).select_related("user").get()
        if chat.type == Chat.Type.PRIVATE
        else None
    )
    return {
        "id": chat.pk,
        "type": chat.type,
        "title": title,
        "member_count": ChatMember.objects.filter(chat=chat).count(),
        "unread_count": unread,
        "unread_mention_count": ChatMember.objects.get(chat=chat, user=viewer).unread_mentions,
        "last_read_message_id": ChatMember.objects.get(chat=chat, user=viewer).last_read_message_id,
        "last_message": last and message_body(last, viewer),
        "last_activity_at": iso(chat.last_message_at or chat.created_at),
        "peer": peer and {"id": peer.user.pk, "nickname": peer.user.display_name, "avatar_url": ""},
        "peer_last_read_message_id": peer and peer.last_read_message_id,
        "last_delivered_message_id": ChatMember.objects.get(chat=chat, user=viewer).last_delivered_message_id,
        "peer_last_delivered_message_id": peer
        and max(peer.last_delivered_message_id, peer.last_read_message_id),
        "notify": "all",  # nobody here changes it (tests/chats/test_notify.py does)
        "notify_until": None,
    }


def frames(inbox, user: User) -> list[tuple[str, int | None, dict]]:
    """What the user's connections make of the events delivered to them so far: (type, seq, payload)
    per client frame. (Events may carry extras for other adapters, e.g. bots; clients never see them.)"""
    out = []
    for got in inbox.drain(user):
        assert got["type"] == "domain.event"
        name, payload = render_for(got["event"], got["data"], user.pk)
        out.append((name, got["data"].get("seq"), payload))
    return out


def message_frame(name: str, row: Message, viewer: User, title: str) -> tuple[str, int, dict]:
    """The exact message.new / message.edit client frame of a stored message for one viewer."""
    row.refresh_from_db()
    chat = Chat.objects.get(pk=row.chat_id)
    message = message_body(row, viewer)
    if row.sender_id != viewer.pk:
        del message["client_msg_id"]  # a frame leaves it out where REST shows null
    payload = {"message": message, "chat": {"id": chat.pk, "type": chat.type, "title": title}}
    if name == "message.new":
        payload["sender"] = {"id": row.sender.pk, "nickname": row.sender.nickname, "avatar_url": ""}
    return name, row.seq, payload


def send(actor: User, chat: Chat, content: str = "hello", **kwargs: Any) -> Message:
    return services.message_send(actor=actor, chat_id=chat.pk, content=content, **kwargs)[0]


def post_message(client, chat_id: int, content: Any = "hello", **extra: Any):
    return client.post(f"/api/chats/{chat_id}/messages", {"content": content, **extra}, format="json")


def history(client, chat_id: int, **params: Any):
    return client.get(f"/api/chats/{chat_id}/messages", params)


def fill(chat: Chat, sender: User, count: int) -> list[int]:
    """`count` messages in one go (history reads do not care how they were sent); their ids, oldest first."""
    Message.objects.bulk_create([Message(chat=chat, sender=sender, content=f"m{i}") for i in range(count)])
    return list(Message.objects.filter(chat=chat).order_by("id").values_list("id", flat=True))


def set_role(group: Group, user: User, role: str) -> None:
    ChatMember.objects.filter(chat_id=group.pk, user=user).update(role=role)


def rows() -> list[tuple]:
    return list(Message.objects.order_by("pk").values_list("pk", "chat_id", "sender_id", "content"))


@pytest.fixture
def group(alice, bob, carol) -> Group:
    """Alice owns "Team" with Bob and Carol as members."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


@pytest.fixture
def dave(make_user) -> User:
    return make_user("dave", nickname="Dave")


# --- the chat list ---------------------------------------------------------------------------


def test_chat_list_items_newest_activity_first(alice, bob, carol, client_for):
    friendship_create(user_a=alice, user_b=carol)
    with_carol = Chat.objects.get(type="private", members__user=carol)
    friendship_create(user_a=alice, user_b=bob)
    with_bob = Chat.objects.get(type="private", members__user=bob)
    team = Chat.objects.get(pk=group_create(actor=alice, name="Team", member_ids=[bob.pk]).pk)
    body = check(client_for(alice).get("/api/chats"), 200)
    assert [set(item) for item in body] == [CHAT_KEYS] * 3
    assert body == [
        chat_item(team, alice, "Team", 0),
        chat_item(with_bob, alice, "Bob", 0),
        chat_item(with_carol, alice, "Carol", 0),
    ]
    assert body[0]["last_message"] is None
    hello = send(carol, with_carol, "hello Alice")
    body = check(client_for(alice).get("/api/chats"), 200)
    assert [item["id"] for item in body] == [with_carol.pk, team.pk, with_bob.pk]
    assert body[0] == chat_item(with_carol, alice, "Carol", 1)
    assert body[0]["last_message"]["content"] == "hello Alice"
    assert body[0]["last_activity_at"] == iso(Message.objects.get(pk=hello.pk).created_at)
    assert [
        (item["title"], item["member_count"]) for item in check(client_for(bob).get("/api/chats"), 200)
    ] == [
        ("Team", 2),
        ("Alice", 2),
    ]


def test_unread_count_and_reading(group, alice, bob, carol, client_for):
    chat = Chat.objects.get(pk=group.pk)
    first = send(bob, chat, "one")
    send(alice, chat, "my own words are never unread")
    third = send(carol, chat, "three")
    send(bob, chat, "four")
    recalled = send(carol, chat, "oops")
    services.message_delete(actor=carol, message_id=recalled.pk)
    alices = client_for(alice)

    def unread() -> int:
        [item] = [i for i in check(alices.get("/api/chats"), 200) if i["id"] == chat.pk]
        assert item == chat_item(chat, alice, "Team", item["unread_count"])
        return item["unread_count"]

    def read(message: Message) -> dict:
        return check(alices.post(f"/api/messages/{message.pk}/read"), 200)

    assert unread() == 3
    assert read(third) == {
        "chat_id": chat.pk,
        "last_read_message_id": third.pk,
        "unread_count": 1,
        "unread_mention_count": 0,
    }
    assert unread() == 1
    assert read(first) == {
        "chat_id": chat.pk,
        "last_read_message_id": third.pk,
        "unread_count": 1,
        "unread_mention_count": 0,
    }
    assert ChatMember.objects.get(chat=chat, user=alice).last_read_message_id == third.pk
    assert read(recalled) == {
        "chat_id": chat.pk,
        "last_read_message_id": recalled.pk,
        "unread_count": 0,
        "unread_mention_count": 0,
    }
    assert unread() == 0
    newer = send(bob, chat, "five")
    assert unread() == 1
    assert check(client_for(bob).get(f"/api/chats/{chat.pk}"), 200)["unread_count"] == 2  # Alice's, Carol's
    assert read(newer)["unread_count"] == 0


def test_read_announces_to_reader_and_sender_only(
    group, alice, bob, carol, client_for, inbox, django_capture_on_commit_callbacks
):
    message = send(alice, Chat.objects.get(pk=group.pk), "did you see this")
    inbox.listen(alice, bob, carol)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        check(client_for(carol).post(f"/api/messages/{message.pk}/read"), 200)
    [(name, seq, payload)] = frames(inbox, carol)
    assert frames(inbox, alice) == [(name, seq, payload)]
    assert inbox.drain(bob) == []
    assert (name, seq) == ("message.read", None)
    assert {**payload, "read_at": None} == {
        "message_id": message.pk,
        "chat_id": group.pk,
        "read_by": carol.pk,
        "read_at": None,
    }
    assert before <= datetime.fromisoformat(payload["read_at"]) <= timezone.now()


@pytest.mark.parametrize("which", ["other_chat", "unknown"])
def test_read_of_a_message_one_cannot_see(pair, alice, bob, carol, dave, moderator, client_for, which):
    friendship_create(user_a=carol, user_b=dave)
    message = send(carol, Chat.objects.get(members__user=dave), "private")
    message_id = message.pk if which == "other_chat" else 987654
    for reader in (alice, bob, moderator):
        body = assert_error(client_for(reader).post(f"/api/messages/{message_id}/read"), 404, "NOT_FOUND")
        assert body["details"] == {}
    assert not ChatMember.objects.filter(last_read_message_id__gt=0).exists()


def test_last_message_hides_others_client_msg_id(pair, alice, bob, client_for):
    send(alice, pair, "mine", client_msg_id="alice-1")
    [for_alice] = check(client_for(alice).get("/api/chats"), 200)
    [for_bob] = check(client_for(bob).get("/api/chats"), 200)
    assert for_alice["last_message"]["client_msg_id"] == "alice-1"
    assert for_bob["last_message"]["client_msg_id"] is None


# --- private chats ---------------------------------------------------------------------------


def test_open_private_chat_with_a_friend(alice, bob, client_for):
    Friendship.objects.bulk_create([Friendship(user=alice, friend=bob), Friendship(user=bob, friend=alice)])
    assert not Chat.objects.exists()
    body = check(client_for(alice).post("/api/chats/private", {"user_id": bob.pk}, format="json"), 200)
    chat = Chat.objects.get()
    assert body == chat_item(chat, alice, "Bob", 0)
    assert (chat.type, body["member_count"]) == ("private", 2)
    again = check(client_for(bob).post("/api/chats/private", {"user_id": alice.pk}, format="json"), 200)
    assert again == chat_item(chat, bob, "Alice", 0)
    assert Chat.objects.count() == 1
    assert (
        check(client_for(alice).post("/api/chats/private", {"user_id": bob.pk}, format="json"), 200) == body
    )


def test_open_private_chat_with_own_bot(alice, client_for):
    bot, _token = bot_create(actor=alice, username="alicebot", nickname="Robo")
    Friendship.objects.filter(user=bot).delete()
    Friendship.objects.filter(friend=bot).delete()
    Chat.objects.all().delete()
    body = check(client_for(alice).post("/api/chats/private", {"user_id": bot.pk}, format="json"), 200)
    assert body == chat_item(Chat.objects.get(), alice, "Robo", 0)


@pytest.mark.parametrize("target", ["stranger", "self", "someone_elses_bot", "unknown", "deactivated_friend"])
def test_open_private_chat_refused(alice, bob, carol, client_for, target):
    friendship_create(user_a=alice, user_b=bob)
    bot, _token = bot_create(actor=carol, username="carolbot")
    if target == "deactivated_friend":
        User.objects.filter(pk=bob.pk).update(is_active=False)
    user_id = {
        "stranger": carol.pk,
        "self": alice.pk,
        "someone_elses_bot": bot.pk,
        "unknown": 987654,
        "deactivated_friend": bob.pk,
    }[target]
    before = list(Chat.objects.values_list("pk", flat=True))
    response = client_for(alice).post("/api/chats/private", {"user_id": user_id}, format="json")
    assert assert_error(response, 403, "PERMISSION_DENIED")["details"] == {"reason": "not_friends"}
    assert list(Chat.objects.values_list("pk", flat=True)) == before


@pytest.mark.parametrize(
    ("data", "field"), [({}, "user_id"), ({"user_id": "2"}, "user_id"), ({"id": 2}, "id")]
)
def test_open_private_chat_validation(alice, client_for, data, field):
    body = assert_error(
        client_for(alice).post("/api/chats/private", data, format="json"), 400, "VALIDATION_ERROR"
    )
    assert body["details"]["field"] == field


def test_private_chat_names_the_peer_and_how_far_they_read(pair, alice, bob, client_for):
    mine = send(alice, pair, "did you read this?")
    item = check(client_for(alice).get(f"/api/chats/{pair.pk}"), 200)
    assert item["peer"] == {"id": bob.pk, "nickname": "Bob", "avatar_url": ""}
    assert item["peer_last_read_message_id"] == 0
    check(client_for(bob).post(f"/api/messages/{mine.pk}/read"), 200)
    assert check(client_for(alice).get("/api/chats"), 200)[0]["peer_last_read_message_id"] == mine.pk
    assert check(client_for(bob).get("/api/chats"), 200)[0]["peer"]["id"] == alice.pk


# --- one chat --------------------------------------------------------------------------------


def test_chat_detail_for_members(group, pair, alice, bob, client_for):
    send(bob, pair, "hi")
    assert check(client_for(alice).get(f"/api/chats/{pair.pk}"), 200) == chat_item(pair, alice, "Bob", 1)
    assert check(client_for(bob).get(f"/api/chats/{group.pk}"), 200) == chat_item(
        Chat.objects.get(pk=group.pk), bob, "Team", 0
    )


@pytest.mark.parametrize("who", ["carol", "moderator"])
@pytest.mark.parametrize("chat", ["pair", "unknown"])
def test_chat_detail_for_others_is_not_found(request, pair, client_for, who, chat):
    chat_id = pair.pk if chat == "pair" else 987654
    response = client_for(request.getfixturevalue(who)).get(f"/api/chats/{chat_id}")
    assert assert_error(response, 404, "NOT_FOUND")["details"] == {}


# --- history ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "sizes"), [(None, [50, 50, 20]), (40, [40, 40, 40]), (100, [100, 20]), (1, [1] * 120)]
)
def test_history_cursor_walks_every_message_once(pair, group, alice, bob, client_for, limit, sizes):
    other = Chat.objects.get(pk=group.pk)
    for _ in range(3):  # other chats' messages interleave with this chat's ids
        fill(other, alice, 7)
        fill(pair, bob, 40)
    expected = list(Message.objects.filter(chat=pair).order_by("-id").values_list("id", flat=True))
    assert len(expected) == 120
    client = client_for(alice)
    seen: list[int] = []
    got_sizes: list[int] = []
    before = None
    for _ in range(len(sizes)):
        params = {
            key: value for key, value in {"before": before, "limit": limit}.items() if value is not None
        }
        body = check(history(client, pair.pk, **params), 200)
        assert set(body) == {"results", "next_before"}
        page = [message["id"] for message in body["results"]]
        seen += page
        got_sizes.append(len(page))
        before = body["next_before"]
        assert before == (page[-1] if len(seen) < 120 else None)
        if before is None:
            break
    assert got_sizes == sizes
    assert seen == expected
    assert before is None


def test_history_page_shape(pair, alice, bob, client_for):
    asked = send(alice, pair, "question?", client_msg_id="alice-1")
    answered = send(bob, pair, "answer!", reply_to_id=asked.pk, client_msg_id="bob-1")
    picture = send(bob, pair, "https://cdn.example.com/a.png", message_type="image")
    recalled = send(alice, pair, "regrettable")
    services.message_delete(actor=alice, message_id=recalled.pk)
    edited = send(bob, pair, "typo")
    services.message_edit(actor=bob, message_id=edited.pk, content="fixed")
    newest_first = [edited, recalled, picture, answered, asked]
    for viewer in (alice, bob):
        body = check(history(client_for(viewer), pair.pk), 200)
        assert body == {"results": [message_body(m, viewer) for m in newest_first], "next_before": None}
    deleted = check(history(client_for(bob), pair.pk, limit=2), 200)["results"][1]
    assert (deleted["id"], deleted["is_deleted"], deleted["content"], deleted["deleted_by"]) == (
        recalled.pk,
        True,
        "",
        alice.pk,
    )
    mine = {m["id"]: m["client_msg_id"] for m in check(history(client_for(alice), pair.pk), 200)["results"]}
    theirs = {m["id"]: m["client_msg_id"] for m in check(history(client_for(bob), pair.pk), 200)["results"]}
    assert (mine[asked.pk], mine[answered.pk], theirs[asked.pk], theirs[answered.pk]) == (
        "alice-1",
        None,
        None,
        "bob-1",
    )


def test_history_before_the_first_message_is_empty(pair, alice, client_for):
    first, *_ = fill(pair, alice, 3)
    assert check(history(client_for(alice), pair.pk, before=first), 200) == {
        "results": [],
        "next_before": None,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"before": "x"}, "before"),
        ({"before": "0"}, "before"),
        ({"before": "-5"}, "before"),
    ],
)
def test_history_validation(pair, alice, client_for, params, field):
    body = assert_error(history(client_for(alice), pair.pk, **params), 400, "VALIDATION_ERROR")
    assert body["details"]["field"] == field


@pytest.mark.parametrize("limit", [1, 100])
def test_history_limit_bounds_are_allowed(pair, alice, client_for, limit):
    fill(pair, alice, 101)
    assert len(check(history(client_for(alice), pair.pk, limit=limit), 200)["results"]) == limit


@pytest.mark.parametrize("who", ["carol", "moderator"])
def test_history_for_non_members_is_not_found(request, pair, alice, client_for, who):
    send(alice, pair, "private")
    client = client_for(request.getfixturevalue(who))
    for chat_id in (pair.pk, 987654):
        assert assert_error(history(client, chat_id), 404, "NOT_FOUND")["details"] == {}


def test_history_is_keyset_paginated_without_offset(pair, alice, client_for):
    ids = fill(pair, alice, 120)
    client = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        body = check(history(client, pair.pk, before=ids[60], limit=10), 200)
    assert [m["id"] for m in body["results"]] == ids[50:60][::-1]
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "chats_message"' in q["sql"]]
    assert reads, "the history query was not captured"
    assert any("LIMIT 11" in sql and f'"id" < {ids[60]}' in sql for sql in reads), reads
    assert not [sql for sql in queries.captured_queries if "OFFSET" in sql["sql"].upper()]


def test_a_page_walks_the_chats_own_index_behind_newer_messages_of_other_chats(pair, group, alice, bob):
    """A quiet chat's page must not walk the primary key backwards through every newer message of
    other chats: the statement can only be ordered by the (chat_id, id) index."""
    ids = fill(pair, alice, 60)
    fill(group.chat, bob, 300)  # newer, elsewhere
    sql, params = selectors.HISTORY_SQL[True], [pair.pk, alice.pk, pair.pk, pair.pk, ids[30], 11]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE chats_message")
            cursor.execute("SET LOCAL enable_seqscan = off")  # left with the indexes only:
            cursor.execute("SET LOCAL enable_sort = off")  # ORDER BY id alone could use the pkey
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = [str(row) for row in cursor.fetchall()]
    # Only the messages' access path matters: the membership check may use any key it likes.
    messages = [step for step in plan if "chats_message " in step or step.endswith("chats_message")]
    assert messages and all("message_history" in step for step in messages), plan
    page, next_before = selectors.history_page(pair.pk, ids[30], 10, member_id=alice.pk)
    assert ([m.pk for m in page], next_before) == (ids[20:30][::-1], ids[20])


# --- sending ---------------------------------------------------------------------------------


def test_post_message_stores_and_announces_to_every_member(
    group, alice, bob, carol, dave, client_for, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob, carol, dave)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_message(client_for(bob), group.pk, "  hi all \n", client_msg_id="bob-1")
    body = check(response, 201)
    row = Message.objects.get()
    assert (row.chat_id, row.sender_id, row.content, row.message_type, row.client_msg_id) == (
        group.pk,
        bob.pk,
        "hi all",
        "text",
        "bob-1",
    )
    assert body == message_body(row, bob)
    assert row.seq > 0
    for member in (alice, bob, carol):
        assert frames(inbox, member) == [message_frame("message.new", row, member, "Team")]
    assert inbox.drain(dave) == []


def test_post_message_in_private_chat_with_reply_and_type(
    pair, alice, bob, client_for, inbox, django_capture_on_commit_callbacks
):
    question = send(bob, pair, "picture?")
    inbox.listen(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_message(
            client_for(alice),
            pair.pk,
            "https://cdn.example.com/cat.png",
            message_type="image",
            reply_to_id=question.pk,
        )
    body = check(response, 201)
    row = Message.objects.get(pk=body["id"])
    assert body == message_body(row, alice)
    assert (row.message_type, row.reply_to_id, row.client_msg_id) == ("image", question.pk, None)
    assert frames(inbox, alice) == [message_frame("message.new", row, alice, "Bob")]
    assert frames(inbox, bob) == [message_frame("message.new", row, bob, "Alice")]


def test_repeated_client_msg_id_answers_the_original(
    pair, alice, bob, client_for, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    first = check(post_message(client, pair.pk, "once", client_msg_id="c-1"), 201)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = check(post_message(client, pair.pk, "twice", client_msg_id="c-1"), 200)
    assert again == first
    assert callbacks == []
    assert list(Message.objects.values_list("pk", "content", "client_msg_id")) == [
        (first["id"], "once", "c-1")
    ]
    other = check(post_message(client_for(bob), pair.pk, "bob's own", client_msg_id="c-1"), 201)
    assert other["id"] != first["id"]  # client ids are per sender
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"content": ""}, "content", "empty"),
        ({"content": " \n\t "}, "content", "empty"),
        ({"content": "x" * 11}, "content", "too_long"),
        ({"content": "cat.png", "message_type": "image"}, "content", "not_url"),
        ({"content": "report.pdf", "message_type": "file"}, "content", "not_url"),
        ({"content": "hi", "reply_to_id": "other_chat"}, "reply_to_id", "not_in_chat"),
        ({"content": "hi", "reply_to_id": 987654}, "reply_to_id", "not_in_chat"),
        ({}, "content", "empty"),  # content is optional only beside attachment_ids
        ({"content": 42}, "content", "invalid"),
        ({"content": None}, "content", "null"),
        ({"content": "hi", "message_type": "system"}, "message_type", "invalid_choice"),
        ({"content": "hi", "message_type": "sticker"}, "message_type", "invalid_choice"),
        ({"content": "hi", "reply_to_id": "1"}, "reply_to_id", "invalid"),
        ({"content": "hi", "client_msg_id": ""}, "client_msg_id", "blank"),
        ({"content": "hi", "client_msg_id": "c" * 65}, "client_msg_id", "max_length"),
        ({"content": "hi", "chat_id": 1}, "chat_id", "unknown_field"),
    ],
)
def test_post_message_validation(pair, group, alice, client_for, settings, data, field, reason):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_LENGTH": 10}
    elsewhere = send(alice, Chat.objects.get(pk=group.pk), "elsewhere")
    if data.get("reply_to_id") == "other_chat":
        data = {**data, "reply_to_id": elsewhere.pk}
    before = rows()
    response = client_for(alice).post(f"/api/chats/{pair.pk}/messages", data, format="json")
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert (body["details"]["field"], body["details"]["reason"]) == (field, reason)
    assert rows() == before


def test_content_at_the_length_limit_is_accepted(pair, alice, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_LENGTH": 10}
    assert check(post_message(client_for(alice), pair.pk, "  " + "x" * 10 + " "), 201)["content"] == "x" * 10


@pytest.mark.parametrize("whom", ["member", "everyone"])
def test_muted_member_cannot_post(group, alice, bob, client_for, whom):
    until = timezone.now() + timedelta(hours=1)
    Mute.objects.create(group=group, user=bob if whom == "member" else None, until=until, operator=alice)
    body = assert_error(post_message(client_for(bob), group.pk), 403, "PERMISSION_DENIED")
    assert body["details"] == {"reason": "muted", "until": until.isoformat()}
    assert not Message.objects.exists()


@pytest.mark.parametrize("who", ["carol", "moderator"])
def test_post_to_a_chat_one_is_not_in_is_not_found(request, pair, client_for, who):
    client = client_for(request.getfixturevalue(who))
    for chat_id in (pair.pk, 987654):
        assert assert_error(post_message(client, chat_id), 404, "NOT_FOUND")["details"] == {}
    assert not Message.objects.exists()


# --- rate limit, shared with the WebSocket -----------------------------------------------------


@pytest.fixture
def three_per_window(settings, monkeypatch) -> dict:
    """At most 3 messages per 10 seconds, with the clock fixed half a second into a window."""
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 3, "RATE_LIMIT_WINDOW_SECONDS": 10}
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=lambda: 1_700_000_000.5))
    return {"retry_after": 10, "limit": 3, "window_seconds": 10}


def test_rate_limit(pair, alice, bob, client_for, three_per_window):
    client = client_for(alice)
    sent = [check(post_message(client, pair.pk, f"n{i}", client_msg_id=f"c{i}"), 201)["id"] for i in range(3)]
    body = assert_error(post_message(client, pair.pk, "one too many"), 429, "RATE_LIMITED")
    assert body["details"] == three_per_window
    assert [pk for pk, *_ in rows()] == sent
    assert check(post_message(client, pair.pk, "retry", client_msg_id="c0"), 200)["id"] == sent[0]
    assert check(post_message(client_for(bob), pair.pk, "someone else's budget"), 201)["sender_id"] == bob.pk


def ws_exchange(user: User, frames: list[dict]) -> list[dict]:
    """Connect a real client WebSocket as `user`, send each frame and collect one answer per frame."""

    token = RefreshToken.for_user(user).access_token

    async def run() -> list[dict]:
        communicator = WebsocketCommunicator(application, f"/ws?token={token}")
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["type"] == "connect"
        answers = []
        for frame in frames:
            await communicator.send_to(text_data=json.dumps(frame))
            answers.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return answers

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_rate_limit_is_shared_with_the_websocket(alice, bob, client_for, three_per_window):
    friendship_create(user_a=alice, user_b=bob)
    pair = Chat.objects.get(type="private")
    client = client_for(alice)
    for i in range(2):
        check(post_message(client, pair.pk, f"rest {i}"), 201)
    send_frame = {
        "type": "message.send",
        "payload": {"chat_id": pair.pk, "content": "ws", "message_type": "text"},
    }
    [ack] = ws_exchange(alice, [send_frame])
    assert (ack["type"], ack["payload"]["message"]["content"]) == ("message.new", "ws")
    assert (
        assert_error(post_message(client, pair.pk, "rest 3"), 429, "RATE_LIMITED")["details"]
        == three_per_window
    )
    [refused] = ws_exchange(alice, [send_frame])
    assert refused["type"] == "error"
    assert refused["payload"]["error_code"] == "RATE_LIMITED"
    assert refused["payload"]["details"]["retry_after"] == 10
    assert list(Message.objects.order_by("pk").values_list("content", flat=True)) == [
        "rest 0",
        "rest 1",
        "ws",
    ]


# --- editing ---------------------------------------------------------------------------------


def test_edit_by_sender(pair, alice, bob, client_for, inbox, django_capture_on_commit_callbacks):
    message = send(alice, pair, "frist", client_msg_id="a-1")
    inbox.listen(alice, bob)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        body = check(
            client_for(alice).patch(f"/api/messages/{message.pk}", {"content": " first "}, format="json"), 200
        )
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.is_edited, row.created_at) == ("first", True, message.created_at)
    assert before <= row.updated_at <= timezone.now()
    assert body == message_body(row, alice)
    assert frames(inbox, alice) == [message_frame("message.edit", row, alice, "Bob")]
    assert frames(inbox, bob) == [message_frame("message.edit", row, bob, "Alice")]


@pytest.mark.parametrize(
    ("who", "age", "content", "status", "code", "reason"),
    [
        ("bob", 0, "mine now", 403, "PERMISSION_DENIED", "not_sender"),
        ("moderator", 0, "mine now", 403, "PERMISSION_DENIED", "not_sender"),
        ("carol", 0, "mine now", 404, "NOT_FOUND", None),
        ("alice", 61, "too late", 403, "PERMISSION_DENIED", "edit_window"),
        ("alice", 0, "   ", 400, "VALIDATION_ERROR", "empty"),
        ("alice", 0, 5, 400, "VALIDATION_ERROR", "invalid"),
    ],
)
def test_edit_refused(request, pair, alice, client_for, settings, who, age, content, status, code, reason):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_EDIT_WINDOW_SECONDS": 60}
    message = send(alice, pair, "original")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    client = client_for(request.getfixturevalue(who))
    body = assert_error(
        client.patch(f"/api/messages/{message.pk}", {"content": content}, format="json"), status, code
    )
    assert body["details"].get("reason") == reason
    assert Message.objects.values_list("content", "is_edited").get(pk=message.pk) == ("original", False)


def test_edit_inside_the_window(pair, alice, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_EDIT_WINDOW_SECONDS": 60}
    message = send(alice, pair, "original")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=50))
    body = check(
        client_for(alice).patch(f"/api/messages/{message.pk}", {"content": "better"}, format="json"), 200
    )
    assert (body["content"], body["is_edited"]) == ("better", True)


# --- deleting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deleter", "role"), [("bob", Role.MEMBER), ("alice", Role.OWNER), ("carol", Role.ADMIN)]
)
def test_delete_allowed(
    request, group, alice, bob, carol, client_for, inbox, django_capture_on_commit_callbacks, deleter, role
):
    actor = request.getfixturevalue(deleter)
    set_role(group, actor, role)
    message = send(bob, Chat.objects.get(pk=group.pk), "regrettable")
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        body = check(client_for(actor).delete(f"/api/messages/{message.pk}"), 200)
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.sender_id, row.deleted_by_id, row.is_deleted) == ("", bob.pk, actor.pk, True)
    assert body == message_body(row, actor)
    deleted = {
        "message_id": row.pk,
        "chat_id": group.pk,
        "deleted_by": actor.pk,
        "deleted_at": iso(row.deleted_at),
    }
    for member in (alice, bob, carol):
        assert frames(inbox, member) == [("message.delete", row.seq, deleted)]
    shown = check(history(client_for(carol), group.pk), 200)["results"]
    assert [(m["id"], m["content"], m["is_deleted"]) for m in shown] == [(row.pk, "", True)]


@pytest.mark.parametrize(
    ("where", "who", "status", "code"),
    [
        ("group", "carol", 403, "PERMISSION_DENIED"),  # a plain member, not the sender
        ("pair", "bob", 403, "PERMISSION_DENIED"),  # the other person of a private chat
        ("group", "dave", 404, "NOT_FOUND"),
        ("pair", "carol", 404, "NOT_FOUND"),
        ("unknown", "alice", 404, "NOT_FOUND"),
    ],
)
def test_delete_refused(request, pair, group, alice, client_for, where, who, status, code):
    message = send(alice, pair if where == "pair" else Chat.objects.get(pk=group.pk), "keep me")
    message_id = 987654 if where == "unknown" else message.pk
    body = assert_error(
        client_for(request.getfixturevalue(who)).delete(f"/api/messages/{message_id}"), status, code
    )
    assert body["details"] == ({"reason": "not_allowed"} if status == 403 else {})
    assert Message.objects.values_list("content", "deleted_at").get(pk=message.pk) == ("keep me", None)


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/chats"),
        ("post", "/api/chats/private"),
        ("get", "/api/chats/1"),
        ("get", "/api/chats/1/messages"),
        ("post", "/api/chats/1/messages"),
        ("patch", "/api/messages/1"),
        ("delete", "/api/messages/1"),
        ("post", "/api/messages/1/read"),
    ],
)
def test_chat_endpoints_need_a_signed_in_user(api, method, url):
    assert_error(getattr(api, method)(url), 401, "AUTHENTICATION_FAILED")
