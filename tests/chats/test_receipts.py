"""Receipts and edit history over REST (issue 22): "seen by" in a group, delivery in a private
chat, a message's earlier texts; every kind of actor with its exact answer, and the whole database
unchanged by each refusal."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.blocking import block_create
from accounts.models import User
from accounts.services import bot_create, friendship_create
from chats import services
from chats.models import ChatMember, Message, MessageEdit
from chats.selectors import private_chat_id
from groups.services import group_create, member_ban, member_kick
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def world(make_user: Callable[..., User]) -> SimpleNamespace:
    """Alice owns "Team" with Bob, Carol (whom Alice blocked), Heidi and her bot; Erin was kicked
    and Frank banned; Dave is a stranger. Alice's message `said` was edited twice and Bob read it."""
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "heidi")
    w = SimpleNamespace(**{n: make_user(n, nickname=n.title()) for n in names})
    w.bot, w.bot_token = bot_create(actor=w.alice, username="helper", nickname="Helper")
    for friend in (w.bob, w.carol, w.erin, w.frank, w.heidi):
        friendship_create(user_a=w.alice, user_b=friend)
    members = [w.bob, w.carol, w.erin, w.frank, w.heidi, w.bot]
    w.group = group_create(actor=w.alice, name="Team", member_ids=[u.pk for u in members])
    w.said = services.message_send(actor=w.alice, chat_id=w.group.pk, content="first")[0]
    services.message_edit(actor=w.alice, message_id=w.said.pk, content="second")
    services.message_edit(actor=w.alice, message_id=w.said.pk, content="third")
    services.message_read(actor=w.bob, message_id=w.said.pk)
    member_kick(actor=w.alice, group_id=w.group.pk, user_id=w.erin.pk)
    member_ban(actor=w.alice, group_id=w.group.pk, user_id=w.frank.pk)
    block_create(actor=w.alice, user_id=w.carol.pk)
    w.pair = private_chat_id(w.alice.pk, w.bob.pk)
    w.to_bob = services.message_send(actor=w.alice, chat_id=w.pair, content="hi Bob")[0]
    return w


def ref(user: User) -> dict[str, Any]:
    return {"id": user.pk, "nickname": user.display_name, "avatar_url": user.avatar_url}


def as_actor(
    w: SimpleNamespace, who: str, client_for: Callable[[User], APIClient], moderator: User
) -> APIClient:
    if who == "anonymous":
        return APIClient()
    if who == "bot":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {w.bot_token}")
        return client
    return client_for(moderator if who == "moderator" else getattr(w, who))


# Who asks: alice the sender and owner, bob a member who read it, carol a member the sender blocked,
# erin kicked, frank banned, dave a stranger, a site moderator not in the group, Alice's bot (a
# member, with no REST door: bots speak their own protocols), anonymous. 404: NOT_FOUND; 401:
# AUTHENTICATION_FAILED.
MATRIX = {
    "alice": 200,
    "bob": 200,
    "carol": 200,
    "erin": 404,
    "frank": 404,
    "dave": 404,
    "moderator": 404,
    "bot": 401,
    "anonymous": 401,
}


def readers_body(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "message_id": w.said.pk,
        "read_count": 1,
        "unread_count": 3,  # Carol, Heidi and the bot; not the sender, not those who left
        "results": [{"user_id": w.bob.pk, "user": ref(w.bob)}],
        "next_after": None,
    }


def edits_body(w: SimpleNamespace) -> dict[str, Any]:
    edits = MessageEdit.objects.filter(message=w.said).order_by("id")
    return {
        "message_id": w.said.pk,
        "results": [
            {
                "content": text,
                "edited_at": e.edited_at.isoformat().replace("+00:00", "Z"),
                "editor_id": w.alice.pk,
            }
            for text, e in zip(("first", "second"), edits, strict=True)
        ],
    }


@pytest.mark.parametrize("operation", ["readers", "edits"])
@pytest.mark.parametrize(("who", "status"), MATRIX.items())
def test_who_may_see_readers_and_edits(world, client_for, moderator, operation, who, status):
    client = as_actor(world, who, client_for, moderator)
    before = whole_database()
    resp = client.get(f"/api/messages/{world.said.pk}/{operation}")
    assert_unchanged(before)  # reading changes nothing, whoever asks
    if status == 200:
        assert check(resp, 200) == (readers_body if operation == "readers" else edits_body)(world)
    elif status == 404:
        assert_error(resp, 404, "NOT_FOUND")
    else:
        assert_error(resp, 401, "AUTHENTICATION_FAILED")


DELIVERED = {
    "bob": 200,
    "alice": 200,
    "carol": 404,
    "dave": 404,
    "moderator": 404,
    "bot": 401,
    "anonymous": 401,
}


@pytest.mark.parametrize(("who", "status"), DELIVERED.items())
def test_who_may_acknowledge_delivery(world, client_for, moderator, who, status):
    client = as_actor(world, who, client_for, moderator)
    before = whole_database()
    resp = client.post(
        f"/api/chats/{world.pair}/delivered", {"up_to_message_id": world.to_bob.pk}, format="json"
    )
    if status == 200:
        body = {"chat_id": world.pair, "up_to_message_id": world.to_bob.pk, "moved": True}
        assert check(resp, 200) == body
        positions = dict(
            ChatMember.objects.filter(chat_id=world.pair).values_list("user_id", "last_delivered_message_id")
        )
        other = world.bob if who == "alice" else world.alice
        assert positions == {getattr(world, who).pk: world.to_bob.pk, other.pk: 0}
        return
    assert_unchanged(before)
    if status == 404:
        assert_error(resp, 404, "NOT_FOUND")
    else:
        assert_error(resp, 401, "AUTHENTICATION_FAILED")


def test_delivery_is_not_kept_in_groups_nor_past_another_chats_message(world, client_for):
    bob = client_for(world.bob)
    before = whole_database()
    resp = bob.post(
        f"/api/chats/{world.group.pk}/delivered", {"up_to_message_id": world.said.pk}, format="json"
    )
    assert_error(resp, 400, "VALIDATION_ERROR", field="chat_id", reason="not_private")
    # a message of another chat moves nothing (the position is a message of this chat)
    resp = bob.post(f"/api/chats/{world.pair}/delivered", {"up_to_message_id": world.said.pk}, format="json")
    assert check(resp, 200) == {"chat_id": world.pair, "up_to_message_id": world.said.pk, "moved": False}
    for bad in ({}, {"up_to_message_id": "7"}, {"up_to_message_id": 0}):
        resp = bob.post(f"/api/chats/{world.pair}/delivered", bad, format="json")
        assert_error(resp, 400, "VALIDATION_ERROR", field="up_to_message_id")
    assert_unchanged(before)


def test_delivery_never_moves_back_and_shows_in_the_chat_list(world, client_for):
    bob, alice = client_for(world.bob), client_for(world.alice)
    older = world.to_bob.pk
    newer = services.message_send(actor=world.alice, chat_id=world.pair, content="more")[0].pk
    url = f"/api/chats/{world.pair}/delivered"
    assert check(bob.post(url, {"up_to_message_id": newer}, format="json"), 200)["moved"] is True
    assert check(bob.post(url, {"up_to_message_id": older}, format="json"), 200)["moved"] is False
    assert check(bob.post(url, {"up_to_message_id": newer}, format="json"), 200)["moved"] is False
    chat = check(alice.get(f"/api/chats/{world.pair}"), 200)
    assert (chat["peer_last_delivered_message_id"], chat["peer_last_read_message_id"]) == (newer, 0)
    assert check(bob.get(f"/api/chats/{world.pair}"), 200)["last_delivered_message_id"] == newer
    third = services.message_send(actor=world.alice, chat_id=world.pair, content="third")[0].pk
    services.message_read(actor=world.bob, message_id=third)  # reading is receiving
    chat = check(alice.get(f"/api/chats/{world.pair}"), 200)
    assert (chat["peer_last_delivered_message_id"], chat["peer_last_read_message_id"]) == (third, third)


def test_readers_follow_the_read_positions_and_page_by_user_id(world, client_for):
    later = services.message_send(actor=world.bob, chat_id=world.group.pk, content="later")[0]
    for reader in (world.heidi, world.carol, world.alice):
        services.message_read(actor=reader, message_id=later.pk)
    alice = client_for(world.alice)
    # reading the later message is reading the earlier one too (positions are cumulative)
    body = check(alice.get(f"/api/messages/{world.said.pk}/readers"), 200)
    readers = sorted((world.bob, world.carol, world.heidi), key=lambda u: u.pk)
    assert [r["user_id"] for r in body["results"]] == [u.pk for u in readers]
    assert (body["read_count"], body["unread_count"]) == (3, 1)  # the bot has not
    # Bob's own message: read by Alice, Carol, Heidi; Bob (the sender) is neither count
    first = check(alice.get(f"/api/messages/{later.pk}/readers?limit=2"), 200)
    readers = sorted((world.alice, world.carol, world.heidi), key=lambda u: u.pk)
    assert [r["user_id"] for r in first["results"]] == [u.pk for u in readers[:2]]
    assert (first["read_count"], first["unread_count"], first["next_after"]) == (3, 1, readers[1].pk)
    rest = check(alice.get(f"/api/messages/{later.pk}/readers?limit=2&after={first['next_after']}"), 200)
    assert [r["user_id"] for r in rest["results"]] == [readers[2].pk]
    assert rest["next_after"] is None
    assert_error(
        alice.get(f"/api/messages/{later.pk}/readers?limit=201"), 400, "VALIDATION_ERROR", field="limit"
    )


def test_edits_keep_each_replaced_text_and_a_recall_forgets_them(world, client_for):
    alice, bob = client_for(world.alice), client_for(world.bob)
    check(
        alice.patch(f"/api/messages/{world.said.pk}", {"content": "third"}, format="json"), 200
    )  # same text
    assert [e["content"] for e in check(bob.get(f"/api/messages/{world.said.pk}/edits"), 200)["results"]] == [
        "first",
        "second",
    ]
    check(alice.patch(f"/api/messages/{world.said.pk}", {"content": "fourth"}, format="json"), 200)
    body = check(bob.get(f"/api/messages/{world.said.pk}/edits"), 200)
    assert [e["content"] for e in body["results"]] == ["first", "second", "third"]
    never = services.message_send(actor=world.bob, chat_id=world.group.pk, content="plain")[0]
    assert check(bob.get(f"/api/messages/{never.pk}/edits"), 200) == {"message_id": never.pk, "results": []}
    check(bob.delete(f"/api/messages/{world.said.pk}"), 403)  # not Bob's to recall
    check(alice.delete(f"/api/messages/{world.said.pk}"), 200)
    assert check(bob.get(f"/api/messages/{world.said.pk}/edits"), 200) == {
        "message_id": world.said.pk,
        "results": [],
    }
    assert MessageEdit.objects.filter(message_id=world.said.pk).count() == 0
    assert Message.objects.get(pk=world.said.pk).content == ""


def test_a_refused_edit_keeps_no_history(world, client_for):
    bob = client_for(world.bob)
    before = whole_database()
    resp = bob.patch(f"/api/messages/{world.said.pk}", {"content": "mine now"}, format="json")
    assert_error(resp, 403, "PERMISSION_DENIED", reason="not_sender")
    assert_unchanged(before)


def test_admin_shows_the_edits_on_the_message_page(world, staff):
    page = staff.get(f"/admin/chats/message/{world.said.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "first" in html and "second" in html
    assert html.index("first") < html.index("second")
