"""Pins (chats.pins): who may pin and unpin (the whole database unchanged on each refusal), the
pinned list, the exact live frames, the audit log, the bound, and the unpin that a recall makes."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from accounts.models import User
from chats import pins
from chats.models import Pin
from chats.realtime import render_for
from chats.services import message_delete, message_send
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from tests.accounts.test_api import assert_error, check
from tests.chats.forward_pin_world import ACTORS, build_world, client_of
from tests.chats.ws_helpers import message_body
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db

# Pin (and, with the message pinned by the owner, unpin) the member's message in Team; the blocked
# member acts on their own message in the private chat with the pal who blocked them. A number is
# the success status over REST ("ok" for the bot's service call); a word the reason of a 403.
PIN = {
    "anonymous": 401,
    "outsider": 404,
    "member": "not_admin",
    "admin": "ok",
    "owner": "ok",
    "moderator": "not_member",
    "bot": "not_admin",
    "banned": 404,
    "muted": "not_admin",
    "blocked": "blocked",
}
LIST = {
    "anonymous": 401,
    "outsider": 404,
    "member": "ok",
    "admin": "ok",
    "owner": "ok",
    "moderator": 404,
    "bot": "ok",
    "banned": 404,
    "muted": "ok",
    "blocked": "ok",
}
assert tuple(PIN) == tuple(LIST) == ACTORS


@pytest.fixture
def world(make_user: Callable[..., User]) -> SimpleNamespace:
    return build_world(make_user)


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def target(w: SimpleNamespace, who: str) -> Any:
    return w.to_pal if who == "blocked" else w.hello


def act(w: SimpleNamespace, who: str, client: Any, method: str) -> Any:
    """Pin ("put") or unpin ("delete") as this actor: a response over REST, the bot's service call
    ("ok" or its DomainError)."""
    message = target(w, who)
    if who == "bot":
        call = pins.message_pin if method == "put" else pins.message_unpin
        try:
            call(actor=w.bot, message_id=message.pk)
        except DomainError as error:
            return error
        return "ok"
    return getattr(client, method)(f"/api/messages/{message.pk}/pin")


def assert_refused(answer: Any, expected: int | str) -> None:
    if isinstance(answer, DomainError):
        assert (answer.code, answer.details.get("reason")) == ("PERMISSION_DENIED", expected)
    elif isinstance(expected, int):
        assert_error(answer, expected, {401: "AUTHENTICATION_FAILED", 404: "NOT_FOUND"}[expected])
    else:
        assert_error(answer, 403, "PERMISSION_DENIED", reason=expected)


@pytest.mark.parametrize("who", ACTORS)
def test_pin_matrix(world, who, api, client_for):
    w = world
    client = client_of(w, who, api, client_for)
    before = whole_database()
    answer = act(w, who, client, "put")
    if PIN[who] != "ok":
        assert_refused(answer, PIN[who])
        assert_unchanged(before)
        return
    actor = getattr(w, who)
    pin = Pin.objects.get()
    assert (pin.chat_id, pin.message_id, pin.pinned_by_id) == (w.gid, w.hello.pk, actor.pk)
    body = check(answer, 200)
    assert body["message"]["id"] == w.hello.pk
    assert body["pinned_by"] == {
        "id": actor.pk,
        "nickname": actor.display_name,
        "avatar_url": actor.avatar_url,
    }
    assert body["pinned_at"] == iso(pin.pinned_at)
    entry = AuditEntry.objects.order_by("-pk").first()
    assert (entry.action, entry.actor_id, entry.target_id, entry.group_id) == (
        "message.pin",
        actor.pk,
        w.hello.pk,
        w.gid,
    )


@pytest.mark.parametrize("who", ACTORS)
def test_unpin_matrix(world, who, api, client_for):
    w = world
    message = target(w, who)
    Pin.objects.create(chat_id=message.chat_id, message=message, pinned_by=w.owner)
    client = client_of(w, who, api, client_for)
    before = whole_database()
    answer = act(w, who, client, "delete")
    if PIN[who] != "ok":
        assert_refused(answer, PIN[who])
        assert_unchanged(before)
        return
    check(answer, 204)
    assert not Pin.objects.exists()
    entry = AuditEntry.objects.order_by("-pk").first()
    assert (entry.action, entry.target_id, entry.group_id) == ("message.unpin", w.hello.pk, w.gid)


@pytest.mark.parametrize("who", ACTORS)
def test_pinned_list_matrix(world, who, api, client_for):
    w = world
    message = target(w, who)
    Pin.objects.create(chat_id=message.chat_id, message=message, pinned_by=w.owner)
    client = client_of(w, who, api, client_for)
    before = whole_database()
    if who == "bot":
        items = pins.chat_pins(actor=w.bot, chat_id=w.gid)
        assert [item["message"]["id"] for item in items] == [w.hello.pk]
        return
    answer = client.get(f"/api/chats/{message.chat_id}/pins")
    if LIST[who] != "ok":
        assert_refused(answer, LIST[who])
    else:
        body = check(answer, 200)
        assert [(item["message"]["id"], item["message"]["content"]) for item in body] == [
            (message.pk, message.content)
        ]
    assert_unchanged(before)


def test_either_person_pins_in_a_private_chat(world, make_user, client_for):
    from accounts.services import friendship_create
    from chats.services import private_chat_ensure

    w = world
    carol = make_user("carol", nickname="Carol")
    friendship_create(user_a=w.owner, user_b=carol)
    chat = private_chat_ensure(user_a=w.owner, user_b=carol)
    first, _ = message_send(actor=w.owner, chat_id=chat.pk, content="one")
    audit_before = AuditEntry.objects.count()
    check(client_for(carol).put(f"/api/messages/{first.pk}/pin"), 200)
    check(client_for(w.owner).delete(f"/api/messages/{first.pk}/pin"), 204)
    check(client_for(w.owner).put(f"/api/messages/{first.pk}/pin"), 200)
    assert list(Pin.objects.values_list("chat_id", "message_id", "pinned_by_id")) == [
        (chat.pk, first.pk, w.owner.pk)
    ]
    assert AuditEntry.objects.count() == audit_before  # private chats' pins are not moderation


def test_list_is_newest_first_and_pinning_twice_changes_nothing(world, client_for, settings):
    w = world
    second, _ = message_send(actor=w.owner, chat_id=w.gid, content="second")
    pins.message_pin(actor=w.owner, message_id=w.hello.pk)
    pins.message_pin(actor=w.admin, message_id=second.pk)
    before = whole_database()
    pins.message_pin(actor=w.owner, message_id=second.pk)
    assert_unchanged(before)
    body = check(client_for(w.member).get(f"/api/chats/{w.gid}/pins"), 200)
    assert [(p["message"]["id"], p["pinned_by"]["id"]) for p in body] == [
        (second.pk, w.admin.pk),
        (w.hello.pk, w.owner.pk),
    ]


def test_a_chat_holds_at_most_the_bound(world, client_for, settings):
    w = world
    settings.IMSUITE = {**settings.IMSUITE, "PINS_PER_CHAT_MAX": 1}
    second, _ = message_send(actor=w.owner, chat_id=w.gid, content="second")
    pins.message_pin(actor=w.owner, message_id=w.hello.pk)
    client = client_for(w.owner)
    before = whole_database()
    assert_error(
        client.put(f"/api/messages/{second.pk}/pin"), 409, "CONFLICT", reason="too_many_pins", limit=1
    )
    assert_unchanged(before)


def test_a_recalled_message_is_unpinned_and_cannot_be_pinned(world, client_for):
    w = world
    pins.message_pin(actor=w.owner, message_id=w.hello.pk)
    message_delete(actor=w.member, message_id=w.hello.pk)
    assert not Pin.objects.exists()
    client = client_for(w.owner)
    before = whole_database()
    assert_error(client.put(f"/api/messages/{w.hello.pk}/pin"), 409, "CONFLICT", reason="deleted")
    assert_unchanged(before)


def frames(inbox, user: User) -> list[tuple[str, dict[str, Any]]]:
    return [render_for(event["event"], event["data"], user.pk) for event in inbox.drain(user)]


def test_pin_and_unpin_frames_reach_the_chat_members(world, inbox, django_capture_on_commit_callbacks):
    w = world
    inbox.listen(w.member, w.bot, w.outsider, w.banned)
    with django_capture_on_commit_callbacks(execute=True):
        pin = pins.message_pin(actor=w.admin, message_id=w.hello.pk)
    message = message_body(w.hello, w.bot)  # as everyone but its sender sees it
    pinned_by = {"id": w.admin.pk, "nickname": "Admin", "avatar_url": w.admin.avatar_url}
    pinned = {
        "chat_id": w.gid,
        "message_id": w.hello.pk,
        "pin": {"message": message, "pinned_by": pinned_by, "pinned_at": iso(pin.pinned_at)},
    }
    own = {**pinned, "pin": {**pinned["pin"], "message": message_body(w.hello, w.member)}}
    assert frames(inbox, w.member) == [("message.pinned", own)]  # the sender's own message
    assert frames(inbox, w.bot) == [("message.pinned", pinned)]
    assert frames(inbox, w.outsider) == frames(inbox, w.banned) == []
    with django_capture_on_commit_callbacks(execute=True):
        pins.message_unpin(actor=w.owner, message_id=w.hello.pk)
    unpinned = {"chat_id": w.gid, "message_id": w.hello.pk, "unpinned_by": w.owner.pk}
    assert frames(inbox, w.member) == frames(inbox, w.bot) == [("message.unpinned", unpinned)]
    with django_capture_on_commit_callbacks(execute=True):
        pins.message_pin(actor=w.admin, message_id=w.hello.pk)
        message_delete(actor=w.member, message_id=w.hello.pk)
    names = [name for name, _ in frames(inbox, w.bot)]
    assert names == ["message.pinned", "message.unpinned", "message.delete"]
