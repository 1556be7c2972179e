"""Every list the doors show costs the same number of queries for 1 item as for 10: REST list
endpoints, the bots' list actions and the admin's changelists (no query per row)."""

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import FriendRequest, Notification, User
from accounts.services import bot_create, friend_request_send, friendship_create, notification_send
from bots import actions
from bots.models import ReverseEndpoint
from calls.models import Call
from chats.models import Chat
from chats.services import message_send
from groups.models import Group
from groups.services import group_ban, group_create, join_request_create, member_add, notice_create
from media.models import Attachment
from previews.models import LinkPreview, MessageLinkPreview
from push.models import PushSubscription

pytestmark = pytest.mark.django_db

Fetch = Callable[[], list[Any]]
Check = Callable[[Callable[[], None], Fetch], None]


@pytest.fixture
def same_queries_for_one_and_ten(
    django_assert_num_queries: Any,
) -> Callable[[Callable[[], None], Fetch], None]:
    """add() puts one more item in the list, fetch() reads the list: reading ten items must take as
    many queries as reading one."""

    def check(add: Callable[[], None], fetch: Fetch) -> None:
        add()
        fetch()  # the first read warms what every later one finds cached (content types, sessions)
        with CaptureQueriesContext(connection) as one:
            assert len(fetch()) == 1
        for _ in range(9):
            add()
        with django_assert_num_queries(len(one)):
            assert len(fetch()) == 10

    return check


@pytest.fixture
def names() -> Callable[[str], str]:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}{next(counter)}"


@pytest.fixture
def friend_of(make_user: Callable[..., User]) -> Callable[[User], User]:
    def make(user: User) -> User:
        friend = make_user()
        friendship_create(user_a=user, user_b=friend)
        return friend

    return make


def listed(client: Any, url: str, key: str | None = None) -> Fetch:
    def fetch() -> list[Any]:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        return body[key] if key else body

    return fetch


# ---- REST ------------------------------------------------------------------------------------


def test_groups(alice, bob, client_for, same_queries_for_one_and_ten, names):
    """Each group is listed with the viewer's role, its size and its whole-group mute."""
    friendship_create(user_a=alice, user_b=bob)

    def add() -> None:
        group = group_create(actor=alice, name=names("team"), member_ids=[bob.pk])
        group_ban(actor=alice, group_id=group.pk, duration=600)

    same_queries_for_one_and_ten(add, listed(client_for(bob), "/api/groups"))
    listed_groups = listed(client_for(bob), "/api/groups")()
    assert {(g["my_role"], g["member_count"], g["muted_until"] is not None) for g in listed_groups} == {
        ("member", 2, True)
    }


def chats_of_new_friends(
    user: User, friend_of: Callable[[User], User], names: Callable[[str], str]
) -> Callable:
    """An add(): a new friend's private chat and a group of theirs with `user`, each with a message."""

    def add() -> None:
        friend = friend_of(user)
        chat = Chat.objects.get(type=Chat.Type.PRIVATE, members__user=friend)
        message_send(actor=friend, chat_id=chat.pk, content="hello findme")
        group = group_create(actor=friend, name=names("team"), member_ids=[user.pk])
        message_send(actor=friend, chat_id=group.pk, content="hello all, findme")

    return add


def test_chats(alice, client_for, friend_of, same_queries_for_one_and_ten, names):
    """Each round adds a private chat and a group, each with an unread message."""
    add = chats_of_new_friends(alice, friend_of, names)
    chats = listed(client_for(alice), "/api/chats")
    same_queries_for_one_and_ten(add, lambda: [c for c in chats() if c["type"] == "private"])
    assert sorted((c["type"], c["unread_count"], c["member_count"]) for c in chats()) == [
        *[("group", 1, 2)] * 10,
        *[("private", 1, 2)] * 10,
    ]


@pytest.mark.parametrize("q", ["findme", "me"])  # through the index, and the short terms' window
def test_message_search(alice, client_for, friend_of, same_queries_for_one_and_ten, names, q):
    """Each round adds a private chat and a group, each with a message found."""
    found = listed(client_for(alice), f"/api/search/messages?q={q}&limit=50", key="results")
    same_queries_for_one_and_ten(
        chats_of_new_friends(alice, friend_of, names),
        lambda: [r for r in found() if r["chat"]["type"] == "private"],
    )
    assert len(found()) == 20


def test_friends(alice, client_for, friend_of, same_queries_for_one_and_ten):
    same_queries_for_one_and_ten(lambda: friend_of(alice), listed(client_for(alice), "/api/friends"))


def test_friend_requests(alice, make_user, client_for, same_queries_for_one_and_ten):
    def add() -> None:
        friend_request_send(actor=make_user(), user_id=alice.pk)

    same_queries_for_one_and_ten(add, listed(client_for(alice), "/api/friends/requests"))


def test_user_search(alice, make_user, client_for, same_queries_for_one_and_ten, names):
    same_queries_for_one_and_ten(
        lambda: make_user(names("findme")), listed(client_for(alice), "/api/users?search=findme")
    )


def test_bots(alice, client_for, same_queries_for_one_and_ten, names):
    same_queries_for_one_and_ten(
        lambda: bot_create(actor=alice, username=names("bot")), listed(client_for(alice), "/api/bots")
    )


def test_reverse_endpoints(alice, client_for, same_queries_for_one_and_ten, names):
    bot, _ = bot_create(actor=alice, username="alicebot")

    def add() -> None:
        ReverseEndpoint.objects.create(
            bot=bot, url=f"wss://bots.example/{names('ws')}", access_token="secret"
        )

    same_queries_for_one_and_ten(add, listed(client_for(alice), f"/api/bots/{bot.pk}/reverse-endpoints"))


def test_calls(alice, make_user, client_for, same_queries_for_one_and_ten, names):
    def add() -> None:
        Call.objects.create(
            call_id=names("call"),
            caller=alice,
            callee=make_user(),
            call_type=Call.Type.AUDIO,
            state=Call.State.ENDED,
            outcome=Call.Outcome.MISSED,
            ended_at=timezone.now(),
            end_reason="timeout",
        )

    same_queries_for_one_and_ten(add, listed(client_for(alice), "/api/calls", key="results"))


def test_group_members(alice, client_for, friend_of, same_queries_for_one_and_ten):
    """Listed with their users and mutes; one in two is muted."""
    group = group_create(actor=alice, name="Team")
    added = itertools.count()

    def add() -> None:
        friend = friend_of(alice)
        member_add(actor=alice, group_id=group.pk, user_id=friend.pk)
        if next(added) % 2:
            group_ban(actor=alice, group_id=group.pk, user_id=friend.pk, duration=600)

    members = listed(client_for(alice), f"/api/groups/{group.pk}/members")
    same_queries_for_one_and_ten(add, lambda: members()[1:])  # the owner is always there


def test_join_requests(alice, make_user, client_for, same_queries_for_one_and_ten):
    group = group_create(actor=alice, name="Team")

    def add() -> None:
        join_request_create(actor=make_user(), group_id=group.pk, comment="let me in")

    same_queries_for_one_and_ten(add, listed(client_for(alice), f"/api/groups/{group.pk}/join-requests"))


def test_notices(alice, client_for, same_queries_for_one_and_ten):
    group = group_create(actor=alice, name="Team")

    def add() -> None:
        notice_create(actor=alice, group_id=group.pk, content="read me")

    same_queries_for_one_and_ten(add, listed(client_for(alice), f"/api/groups/{group.pk}/notices"))


# ---- bot actions -----------------------------------------------------------------------------


def test_bot_group_list(alice, same_queries_for_one_and_ten, names):
    bot, _ = bot_create(actor=alice, username="alicebot")

    def add() -> None:
        group_create(actor=alice, name=names("team"), member_ids=[bot.pk])

    same_queries_for_one_and_ten(add, lambda: actions.get_group_list(bot, {}))
    assert {g["memberCount"] for g in actions.get_group_list(bot, {})} == {2}


def test_bot_friend_list(alice, friend_of, same_queries_for_one_and_ten):
    bot, _ = bot_create(actor=alice, username="alicebot")  # alice is its first friend
    friends = itertools.count()

    def add() -> None:
        if next(friends):
            friend_of(bot)

    same_queries_for_one_and_ten(add, lambda: actions.get_friend_list(bot, {}))


def test_bot_group_member_list(alice, friend_of, same_queries_for_one_and_ten):
    bot, _ = bot_create(actor=alice, username="alicebot")
    group = group_create(actor=alice, name="Team", member_ids=[bot.pk])

    def add() -> None:
        member_add(actor=alice, group_id=group.pk, user_id=friend_of(alice).pk)

    same_queries_for_one_and_ten(add, lambda: actions.get_group_member_list(bot, {"groupId": group.pk})[2:])


# ---- admin -----------------------------------------------------------------------------------


def test_admin_changelists(alice, moderator, make_user, friend_of, names):
    """Every changelist of the admin, with one more row of every model per round."""
    staff = Client()
    staff.force_login(moderator)

    def add_everything() -> None:
        person = friend_of(alice)
        bot, _ = bot_create(actor=person, username=names("bot"))
        ReverseEndpoint.objects.create(bot=bot, url="wss://bots.example/ws")
        PushSubscription.objects.create(
            user=person, kind="unifiedpush", endpoint=f"https://push.example/{bot.pk}"
        )
        FriendRequest.objects.create(from_user=make_user(), to_user=person, message="hi")
        notification_send(actor=moderator, title="note", message="text", user_ids=[person.pk])
        group = group_create(actor=person, name=names("team"), member_ids=[bot.pk])
        group_ban(actor=person, group_id=group.pk, user_id=bot.pk, duration=600)
        notice_create(actor=person, group_id=group.pk, content="read me")
        join_request_create(actor=make_user(), group_id=group.pk)
        message, _ = message_send(actor=person, chat_id=group.pk, content="hello")
        Attachment.objects.create(  # the changelist never reads the bytes
            uploader=person,
            kind="file",
            name="notes.txt",
            size=5,
            mime="text/plain",
            file=names("u/"),
            message=message,
            chat_id=group.pk,
            attached_at=message.created_at,
        )
        Call.objects.create(
            call_id=names("call"), caller=person, callee=alice, call_type="video", state="ended"
        )
        preview = LinkPreview.objects.create(
            url_hash=names("h"), url="https://example.org/", status="ok", fetched_at=timezone.now()
        )
        MessageLinkPreview.objects.create(message_id=message.pk, preview=preview)

    def changelist_queries() -> dict[str, int]:
        counts = {}
        for model in admin.site._registry:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            with CaptureQueriesContext(connection) as queries:
                assert staff.get(url).status_code == 200, url
            counts[url] = len(queries)
        return counts

    add_everything()
    changelist_queries()  # warm
    one = changelist_queries()
    for _ in range(9):
        add_everything()
    assert changelist_queries() == one
    assert Group.objects.count() == Notification.objects.count() == 10


def test_admin_group_page(alice, moderator, friend_of):
    """A group's page lists its members with their mutes."""
    staff = Client()
    staff.force_login(moderator)
    group = group_create(actor=alice, name="Team")
    url = reverse("admin:groups_group_change", args=[group.pk])

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(url)
        assert response.status_code == 200
        return len(queries)

    def add() -> None:
        friend = friend_of(alice)
        member_add(actor=alice, group_id=group.pk, user_id=friend.pk)
        group_ban(actor=alice, group_id=group.pk, user_id=friend.pk, duration=600)

    add()
    page_queries()
    one = page_queries()
    for _ in range(9):
        add()
    assert page_queries() == one
    assert staff.get(url).content.decode().count("<td>member</td>") == 10
