"""Group services: creating a group."""

import pytest

from accounts.services import bot_create, friendship_create
from chats.models import Chat, ChatMember
from groups.models import Group
from groups.services import group_create
from imsuite.errors import DomainError, ErrorCode

pytestmark = pytest.mark.django_db


def refused_create(code: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        group_create(**kwargs)
    assert info.value.code == code
    assert not Group.objects.exists()
    assert not Chat.objects.filter(type=Chat.Type.GROUP).exists()
    return info.value


def test_create_with_friends_and_own_bots(alice, bob, carol, inbox, django_capture_on_commit_callbacks):
    friendship_create(user_a=alice, user_b=bob)
    bot, _token = bot_create(actor=alice, username="alicebot")
    inbox.listen(alice, bob, bot, carol)
    with django_capture_on_commit_callbacks(execute=True):
        group = group_create(actor=alice, name="  Team  ", member_ids=[bot.pk, bob.pk, alice.pk, bob.pk])
    row = Group.objects.select_related("chat").get()
    assert (row.pk, row.chat_id, row.chat.type, row.name, row.owner_id, row.avatar_url) == (
        group.pk,
        group.pk,
        "group",
        "Team",
        alice.pk,
        "",
    )
    assert sorted(ChatMember.objects.filter(chat_id=group.pk).values_list("user_id", "role")) == [
        (alice.pk, "owner"),
        (bob.pk, "member"),
        (bot.pk, "member"),
    ]
    expected = {
        "type": "domain.event",
        "event": "group.created",
        "data": {
            "group_id": group.pk,
            "name": "Team",
            "owner_id": alice.pk,
            "member_ids": sorted([alice.pk, bob.pk, bot.pk]),
        },
    }
    for member in (alice, bob, bot):
        assert inbox.drain(member) == [expected]
    assert inbox.drain(carol) == []


def test_create_alone(alice):
    group = group_create(actor=alice, name="Solo", avatar_url="https://example.com/g.png")
    assert group.avatar_url == "https://example.com/g.png"
    assert list(ChatMember.objects.filter(chat_id=group.pk).values_list("user_id", "role")) == [
        (alice.pk, "owner")
    ]


def test_create_refuses_strangers_and_others_bots(alice, bob, carol):
    friendship_create(user_a=alice, user_b=bob)
    bobs_bot, _token = bot_create(actor=bob, username="bobbot")
    strangers = sorted([carol.pk, bobs_bot.pk, 987654])
    error = refused_create(
        ErrorCode.PERMISSION_DENIED, actor=alice, name="Team", member_ids=[bob.pk, *strangers]
    )
    assert error.details == {"reason": "not_friends", "user_ids": strangers}


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "empty"), ("   ", "empty"), (None, "empty"), (7, "empty"), ("x" * 65, "too_long")],
)
def test_create_refuses_bad_name(alice, name, reason):
    error = refused_create(ErrorCode.VALIDATION_ERROR, actor=alice, name=name)
    assert error.details == {"field": "name", "reason": reason}


def test_name_of_64_characters_after_trimming_is_accepted(alice):
    assert group_create(actor=alice, name=f"  {'x' * 64}  ").name == "x" * 64
