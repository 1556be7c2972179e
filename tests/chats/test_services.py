"""Chat services: sending, editing, deleting and reading messages; private chats."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.services import friendship_create
from chats import services
from chats.models import Chat, ChatMember, Message, Role
from groups.models import Group, Mute
from groups.services import group_create
from imsuite.errors import DomainError, ErrorCode

pytestmark = pytest.mark.django_db


def iso(value: datetime | None) -> str | None:
    """A datetime as events carry it (ISO 8601, UTC as Z)."""
    return value and value.isoformat().replace("+00:00", "Z")


def refused(code: str, call, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        call(**kwargs)
    assert info.value.code == code
    return info.value


def wire(message: Message) -> dict:
    """The exact message data of message.new / message.edit, built from the stored row."""
    message.refresh_from_db()
    return {
        "id": message.pk,
        "chat_id": message.chat_id,
        "sender_id": message.sender_id,
        "content": message.content,
        "message_type": message.message_type,
        "reply_to_id": message.reply_to_id,
        "client_msg_id": message.client_msg_id,
        "created_at": iso(message.created_at),
        "is_edited": message.is_edited,
        "updated_at": iso(message.updated_at),
        "is_deleted": False,
        "deleted_by": None,
        "deleted_at": None,
        "attachments": [],
        "mentions": message.mentions or [],
    }


def event(name: str, data: dict) -> dict:
    return {"type": "domain.event", "event": name, "data": data}


def message_event(row: Message, chat: dict) -> dict:
    """The exact data of message.new / message.edit: seq, message, chat reference and sender."""
    sender = row.sender
    return {
        "seq": row.seq,
        "message": wire(row),
        "chat": chat,
        "sender": {"id": sender.pk, "nickname": sender.nickname, "avatar_url": sender.avatar_url},
    }


@pytest.fixture
def group(alice, bob, carol) -> Group:
    """Alice owns a group with Bob and Carol as members."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


@pytest.fixture
def outsider(make_user):
    return make_user("dave")


def send(actor, chat, content="hello", **kwargs) -> Message:
    return services.message_send(actor=actor, chat_id=chat.pk, content=content, **kwargs)[0]


def set_role(group: Group, user, role: str) -> None:
    ChatMember.objects.filter(chat_id=group.pk, user=user).update(role=role)


# message_send


def test_send_stores_trimmed_and_announces_to_every_member_after_commit(
    group, alice, bob, carol, outsider, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob, carol, outsider)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, created = services.message_send(actor=bob, chat_id=group.pk, content="  hi all \n")
    assert created is True
    assert len(callbacks) == 1
    assert list(Message.objects.values_list("chat_id", "sender_id", "content", "message_type")) == [
        (group.pk, bob.pk, "hi all", "text")
    ]
    assert Chat.objects.get(pk=group.pk).last_message_at == message.created_at
    expected = [
        event(
            "message.new",
            message_event(message, {"id": group.pk, "type": "group", "title": "Team"})
            | {"sender_profile": {"sex": "male", "age": 31, "role": "member", "level": "0", "card": ""}},
        )
    ]
    for member in (alice, bob, carol):
        assert inbox.drain(member) == expected
    assert inbox.drain(outsider) == []


@pytest.mark.parametrize("chat_id", ["other", 987654])
def test_send_by_non_member_is_not_found(pair, carol, moderator, chat_id):
    chat_id = pair.pk if chat_id == "other" else chat_id
    for actor in (carol, moderator):
        error = refused(ErrorCode.NOT_FOUND, services.message_send, actor=actor, chat_id=chat_id, content="x")
        assert error.details == {}
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty"),
        (" \n\t ", "empty"),
        (None, "type"),
        (42, "type"),
        (["hello"], "type"),
        ({"text": "hello"}, "type"),
        ("x" * 11, "too_long"),
    ],
)
def test_send_refuses_bad_content(pair, alice, settings, content, reason):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_LENGTH": 10}
    error = refused(ErrorCode.VALIDATION_ERROR, send, actor=alice, chat=pair, content=content)
    assert error.details == {"field": "content", "reason": reason}
    assert not Message.objects.exists()


def test_send_length_limit_counts_trimmed_content(pair, alice, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_LENGTH": 10}
    assert send(alice, pair, "  " + "x" * 10 + "  ").content == "x" * 10


@pytest.mark.parametrize(
    ("message_type", "content", "reason"),
    [
        ("text", "plain words", None),
        ("image", "https://cdn.example.com/a.png", None),
        ("file", "http://files.example.com/report.pdf", None),
        ("image", "ftp://example.com/a.png", "not_url"),
        ("file", "report.pdf", "not_url"),
        ("system", "joined", "choice"),
        ("sticker", "smile", "choice"),
    ],
)
def test_send_message_types(pair, alice, message_type, content, reason):
    if reason is None:
        message = send(alice, pair, content, message_type=message_type)
        assert Message.objects.filter(pk=message.pk, message_type=message_type, content=content).exists()
        return
    error = refused(
        ErrorCode.VALIDATION_ERROR, send, actor=alice, chat=pair, content=content, message_type=message_type
    )
    field = "content" if reason == "not_url" else "message_type"
    assert error.details == {"field": field, "reason": reason}
    assert not Message.objects.exists()


def test_reply_to_a_message_of_the_same_chat_only(pair, group, alice):
    original = send(alice, pair, "question")
    reply = send(alice, pair, "answer", reply_to_id=original.pk)
    assert Message.objects.get(pk=reply.pk).reply_to_id == original.pk
    for reply_to_id in (original.pk, 987654):
        error = refused(
            ErrorCode.VALIDATION_ERROR, send, actor=alice, chat=group, content="x", reply_to_id=reply_to_id
        )
        assert error.details == {"field": "reply_to_id", "reason": "not_in_chat"}
    assert Message.objects.filter(chat_id=group.pk).count() == 0


def test_repeated_client_msg_id_returns_the_original(pair, alice, django_capture_on_commit_callbacks):
    first, created = services.message_send(actor=alice, chat_id=pair.pk, content="once", client_msg_id="c-1")
    assert created is True
    with django_capture_on_commit_callbacks() as callbacks:
        again, created = services.message_send(
            actor=alice, chat_id=pair.pk, content="twice", client_msg_id="c-1"
        )
    assert (again.pk, again.content, created) == (first.pk, "once", False)
    assert callbacks == []
    assert list(Message.objects.values_list("content", "client_msg_id")) == [("once", "c-1")]


@pytest.mark.parametrize("client_msg_id", ["", "c" * 65, 17])
def test_send_refuses_malformed_client_msg_id(pair, alice, client_msg_id):
    error = refused(ErrorCode.VALIDATION_ERROR, send, actor=alice, chat=pair, client_msg_id=client_msg_id)
    assert error.details == {"field": "client_msg_id", "reason": "format"}


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("role", "own", "whole_group", "refused_until"),
    [
        (Role.MEMBER, HOUR, None, "own"),
        (Role.MEMBER, None, HOUR, "whole_group"),
        (Role.MEMBER, HOUR, 2 * HOUR, "whole_group"),
        (Role.MEMBER, -HOUR, None, None),
        (Role.MEMBER, None, -HOUR, None),
        (Role.ADMIN, None, HOUR, None),
        (Role.ADMIN, HOUR, None, "own"),
        (Role.OWNER, None, HOUR, None),
        (Role.OWNER, HOUR, 2 * HOUR, "own"),
    ],
)
def test_mutes_stop_sending(group, alice, bob, role, own, whole_group, refused_until):
    sender = alice if role == Role.OWNER else bob
    set_role(group, sender, role)
    now = timezone.now()
    mutes = {
        "own": own and Mute.objects.create(group=group, user=sender, until=now + own, operator=alice),
        "whole_group": whole_group
        and Mute.objects.create(group=group, user=None, until=now + whole_group, operator=alice),
    }
    if refused_until is None:
        assert send(sender, group, "still here").sender_id == sender.pk
        return
    error = refused(ErrorCode.PERMISSION_DENIED, send, actor=sender, chat=group)
    assert error.details == {"reason": "muted", "until": mutes[refused_until].until.isoformat()}
    assert not Message.objects.exists()


def test_dissolved_group_refuses_messages(group, alice):
    Group.objects.filter(pk=group.pk).update(dissolved_at=timezone.now())
    error = refused(ErrorCode.PERMISSION_DENIED, send, actor=alice, chat=group)
    assert error.details == {"reason": "dissolved"}
    assert not Message.objects.exists()


# message_edit


def test_edit_by_sender_marks_and_announces(pair, alice, bob, inbox, django_capture_on_commit_callbacks):
    message = send(alice, pair, "frist")
    inbox.listen(alice, bob)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        edited = services.message_edit(actor=alice, message_id=message.pk, content="  first ")
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.is_edited, row.created_at) == ("first", True, message.created_at)
    assert before <= row.updated_at <= timezone.now()
    assert edited.updated_at == row.updated_at
    titles = {str(alice.pk): bob.nickname, str(bob.pk): alice.nickname}
    chat = {"id": pair.pk, "type": "private", "title": None, "titles": titles}
    expected = [event("message.edit", message_event(row, chat))]
    assert inbox.drain(alice) == expected
    assert inbox.drain(bob) == expected


def test_edit_by_others(pair, alice, bob, carol, moderator):
    message = send(alice, pair, "mine")
    for actor in (bob, moderator):
        error = refused(
            ErrorCode.PERMISSION_DENIED,
            services.message_edit,
            actor=actor,
            message_id=message.pk,
            content="x",
        )
        assert error.details == {"reason": "not_sender"}
    refused(ErrorCode.NOT_FOUND, services.message_edit, actor=carol, message_id=message.pk, content="x")
    assert Message.objects.get(pk=message.pk).content == "mine"


@pytest.mark.parametrize(("age", "allowed"), [(50, True), (61, False)])
def test_edit_window(pair, alice, settings, age, allowed):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_EDIT_WINDOW_SECONDS": 60}
    message = send(alice, pair, "old")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    if allowed:
        assert services.message_edit(actor=alice, message_id=message.pk, content="new").content == "new"
    else:
        error = refused(
            ErrorCode.PERMISSION_DENIED,
            services.message_edit,
            actor=alice,
            message_id=message.pk,
            content="new",
        )
        assert error.details == {"reason": "edit_window", "window_seconds": 60}
    assert Message.objects.get(pk=message.pk).is_edited is allowed


def test_edit_deleted_message_conflicts(pair, alice):
    message = send(alice, pair, "gone")
    services.message_delete(actor=alice, message_id=message.pk)
    error = refused(
        ErrorCode.CONFLICT, services.message_edit, actor=alice, message_id=message.pk, content="x"
    )
    assert error.details == {"reason": "deleted"}
    assert Message.objects.get(pk=message.pk).content == ""


@pytest.mark.parametrize(
    ("message_type", "original", "content", "reason"),
    [("text", "hi", "  ", "empty"), ("image", "https://example.com/a.png", "not a url", "not_url")],
)
def test_edit_validates_content(pair, alice, message_type, original, content, reason):
    message = send(alice, pair, original, message_type=message_type)
    error = refused(
        ErrorCode.VALIDATION_ERROR, services.message_edit, actor=alice, message_id=message.pk, content=content
    )
    assert error.details == {"field": "content", "reason": reason}
    assert Message.objects.get(pk=message.pk).content == original


# message_delete


@pytest.mark.parametrize(
    ("deleter", "role"), [("bob", None), ("alice", None), ("carol", Role.ADMIN), ("moderator", None)]
)
def test_delete_allowed(
    request, group, alice, bob, carol, inbox, django_capture_on_commit_callbacks, deleter, role
):
    actor = request.getfixturevalue(deleter)
    if role:
        set_role(group, actor, role)
    message = send(bob, group, "regrettable")
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_delete(actor=actor, message_id=message.pk)
    row = Message.objects.get(pk=message.pk)
    assert (row.content, row.sender_id, row.deleted_by_id, row.is_deleted) == ("", bob.pk, actor.pk, True)
    expected = event(
        "message.delete",
        {
            "seq": row.seq,
            "message_id": message.pk,
            "chat_id": group.pk,
            "sender_id": bob.pk,
            "deleted_by": actor.pk,
            "deleted_at": iso(row.deleted_at),
            "chat_type": "group",
        },
    )
    for member in (alice, bob, carol):
        assert inbox.drain(member) == [expected]


def test_delete_refused(pair, group, alice, bob, carol, outsider):
    in_group = send(alice, group, "owner's words")
    in_pair = send(alice, pair, "private words")
    for actor, message in ((bob, in_group), (bob, in_pair)):
        error = refused(
            ErrorCode.PERMISSION_DENIED, services.message_delete, actor=actor, message_id=message.pk
        )
        assert error.details == {"reason": "not_allowed"}
    for actor, message in ((outsider, in_group), (carol, in_pair)):
        refused(ErrorCode.NOT_FOUND, services.message_delete, actor=actor, message_id=message.pk)
    assert list(Message.objects.order_by("pk").values_list("content", "deleted_at")) == [
        ("owner's words", None),
        ("private words", None),
    ]


def test_delete_twice_is_harmless(group, alice, bob, django_capture_on_commit_callbacks):
    message = send(bob, group, "oops")
    services.message_delete(actor=bob, message_id=message.pk)
    first = Message.objects.values("deleted_by", "deleted_at", "content").get(pk=message.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.message_delete(actor=alice, message_id=message.pk)
    assert again.pk == message.pk
    assert callbacks == []
    assert Message.objects.values("deleted_by", "deleted_at", "content").get(pk=message.pk) == first
    assert first["deleted_by"] == bob.pk


# message_read


def last_read(chat, user) -> int:
    return ChatMember.objects.get(chat_id=chat.pk, user=user).last_read_message_id


def test_read_moves_forward_only(group, alice, bob, django_capture_on_commit_callbacks):
    older, newer = send(alice, group, "one"), send(alice, group, "two")
    services.message_read(actor=bob, message_id=newer.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        member = services.message_read(actor=bob, message_id=older.pk)
    assert callbacks == []
    assert member.last_read_message_id == newer.pk
    assert last_read(group, bob) == newer.pk
    assert last_read(group, alice) == 0


def test_read_is_announced_to_reader_and_sender_only(
    group, alice, bob, carol, inbox, django_capture_on_commit_callbacks
):
    message = send(alice, group, "did you see this")
    inbox.listen(alice, bob, carol)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_read(actor=carol, message_id=message.pk)
    after = timezone.now()
    assert last_read(group, carol) == message.pk
    [got] = inbox.drain(carol)
    assert inbox.drain(alice) == [got]
    assert inbox.drain(bob) == []
    read_at = got["data"].pop("read_at")
    assert before <= datetime.fromisoformat(read_at) <= after
    assert got == event(
        "message.read", {"message_id": message.pk, "chat_id": group.pk, "read_by": carol.pk, "origin": None}
    )


def test_read_by_non_member_is_not_found(group, alice, outsider, moderator):
    message = send(alice, group, "members only")
    for actor in (outsider, moderator):
        refused(ErrorCode.NOT_FOUND, services.message_read, actor=actor, message_id=message.pk)
    refused(ErrorCode.NOT_FOUND, services.message_read, actor=alice, message_id=987654)
    assert not ChatMember.objects.filter(chat_id=group.pk, last_read_message_id__gt=0).exists()


# private_chat_ensure


def test_private_chat_ensure_one_chat_per_pair(alice, bob, carol):
    chat = services.private_chat_ensure(user_a=alice, user_b=bob)
    assert services.private_chat_ensure(user_a=bob, user_b=alice).pk == chat.pk
    other = services.private_chat_ensure(user_a=carol, user_b=alice)
    assert other.pk != chat.pk
    low, high = sorted((alice.pk, bob.pk))
    assert (chat.type, chat.private_key) == ("private", f"{low}:{high}")
    assert Chat.objects.count() == 2
    assert sorted(ChatMember.objects.filter(chat=chat).values_list("user_id", "role")) == [
        (low, "member"),
        (high, "member"),
    ]
