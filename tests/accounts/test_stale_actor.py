"""A User loaded before a ban (what a WebSocket or bot connection holds) acts nowhere: every service
that acts for a person or bot asks the database whether the actor is still active, and refuses
with AUTHENTICATION_FAILED user_inactive, changing nothing."""

from collections.abc import Callable
from typing import Any

import pytest

from accounts import services as accounts
from accounts.models import FriendRequest, Friendship, User
from calls import services as calls
from calls.models import Call
from chats import services as chats
from chats.models import Chat, ChatMember, Message
from groups import services as groups
from groups.models import Group
from imsuite.errors import DomainError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_state")]


@pytest.fixture
def world(alice: User, bob: User, carol: User) -> dict[str, Any]:
    """Alice is friends with Bob, owns a bot and the group "Team" with Bob; Carol's friend request
    waits for Alice; one message of Alice's to Bob."""
    accounts.friendship_create(user_a=alice, user_b=bob)
    bot, _token = accounts.bot_create(actor=alice, username="alicebot")
    request = accounts.friend_request_send(actor=carol, user_id=alice.pk)
    group = groups.group_create(actor=alice, name="Team", member_ids=[bob.pk])
    low, high = sorted((alice.pk, bob.pk))
    pair = Chat.objects.get(private_key=f"{low}:{high}")
    message, _ = chats.message_send(actor=alice, chat_id=pair.pk, content="hello")
    return {"bob": bob, "bot": bot, "request": request, "group": group, "pair": pair, "message": message}


ACTIONS: dict[str, Callable[[User, dict[str, Any]], Any]] = {
    "message_edit": lambda a, w: chats.message_edit(actor=a, message_id=w["message"].pk, content="x"),
    "message_delete": lambda a, w: chats.message_delete(actor=a, message_id=w["message"].pk),
    "message_read": lambda a, w: chats.message_read(actor=a, message_id=w["message"].pk),
    "typing_relay": lambda a, w: chats.typing_relay(actor=a, chat_id=w["pair"].pk, is_typing=True),
    "private_chat_open": lambda a, w: chats.private_chat_open(actor=a, user_id=w["bob"].pk),
    "member_kick": lambda a, w: groups.member_kick(actor=a, group_id=w["group"].pk, user_id=w["bob"].pk),
    "group_create": lambda a, w: groups.group_create(actor=a, name="Another"),
    "presence_announce": lambda a, w: accounts.presence_announce(actor=a, is_online=False),
    "friend_request_answer": lambda a, w: accounts.friend_request_answer(
        actor=a, request_id=w["request"].pk, accept=True
    ),
    "friend_remove": lambda a, w: accounts.friend_remove(actor=a, user_id=w["bob"].pk),
    "user_update": lambda a, w: accounts.user_update(actor=a, user_id=a.pk, nickname="New"),
    "bot_token_rotate": lambda a, w: accounts.bot_token_rotate(actor=a, bot_id=w["bot"].pk),
    "call_offer": lambda a, w: calls.call_offer(actor=a, to_user=w["bob"].pk, call_type="audio", sdp="v=0"),
}


def state() -> tuple:
    """Everything the actions above could change."""
    return (
        list(Message.objects.order_by("pk").values_list("pk", "content", "deleted_at")),
        list(ChatMember.objects.order_by("pk").values_list("pk", "last_read_message_id")),
        Chat.objects.count(),
        Group.objects.count(),
        Friendship.objects.count(),
        list(FriendRequest.objects.values_list("status", flat=True)),
        list(User.objects.order_by("pk").values_list("nickname", "last_seen")),
        Call.objects.count(),
    )


@pytest.mark.parametrize("action", ACTIONS)
def test_a_deactivated_actor_loaded_before_the_ban_is_refused(world: dict, alice: User, action: str) -> None:
    stale = User.objects.get(pk=alice.pk)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    before = state()
    with pytest.raises(DomainError) as refused:
        ACTIONS[action](stale, world)
    assert (refused.value.code, refused.value.details) == (
        "AUTHENTICATION_FAILED",
        {"reason": "user_inactive"},
    )
    assert state() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_an_active_actor_is_not_refused(world: dict, alice: User, action: str) -> None:
    """The same calls succeed while the actor is active: the refusal above is the ban's doing."""
    ACTIONS[action](User.objects.get(pk=alice.pk), world)
