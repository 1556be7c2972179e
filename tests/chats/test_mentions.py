"""Mentions (issue 19): parsing, Message.mentions in every message object, the @all rule, and each
member's unread mention count through sends, reads, edits and deletes."""

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import friendship_create
from chats import selectors, services
from chats.mentions import ChatNames, parse_mentions
from chats.models import ChatMember, Message
from chats.sending import SendRequest, message_send_many
from groups.models import Group
from groups.services import group_create, group_update, member_add, member_update
from imsuite.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


# ---- parsing ----------------------------------------------------------------------------------------

ME, BOB, ZHANG, ZHANGFENG, BOBSMITH, LI_A, LI_B = 1, 2, 3, 4, 5, 6, 7
MEMBERS = {
    ME: ("alice", "Alice"),
    BOB: ("bob", "Bob"),
    ZHANG: ("zhangsan", "张三"),
    ZHANGFENG: ("zsf", "张三丰"),
    BOBSMITH: ("bob.smith", "Robert"),
    LI_A: ("li_a", "李四"),
    LI_B: ("li_b", "李四"),
}


def names() -> ChatNames:
    chat = ChatNames()
    for user_id, member_names in MEMBERS.items():
        for name in member_names:
            chat.add(name, user_id)
    return chat


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("hi @bob", [BOB]),
        ("@BOB look", [BOB]),  # any case
        ("@Bob, @bob. @bob! (@bob) @bob?", [BOB]),  # punctuation after a name
        ("@bob.smith here", [BOBSMITH]),  # the longest name
        ("@bob.smithy", None),  # runs on into a letter: nobody
        ("@bobby", None),
        ("@bob-x", None),
        ("@bob-", [BOB]),
        ("@张三 你好", [ZHANG]),
        ("@张三你好", [ZHANG]),  # no space needed after a Chinese name
        ("@张三丰来了吗", [ZHANGFENG]),  # longest match: not 张三
        ("你好@张三", [ZHANG]),  # Chinese text right before the '@'
        ("\uff20张三", [ZHANG]),  # the fullwidth at sign
        ("@李四 开会", [LI_A, LI_B]),  # a shared nickname mentions each of them
        ("@zsf @bob @张三", [BOB, ZHANG, ZHANGFENG]),  # sorted ids
        ("write to a@bob.com or bob@example.com", None),  # e-mail addresses
        ("@alice it's me", None),  # the sender
        ("@dave hi", None),  # not a member
        ("@ bob", None),
        ("no at sign at all", None),
        ("@", None),
    ],
)
def test_parsing(text: str, mentions: list | None) -> None:
    assert parse_mentions(text, names(), ME, all_ok=True) == mentions


@pytest.mark.parametrize(
    ("text", "allowed", "mentions"),
    [
        ("@all meeting", True, ["all"]),
        ("@ALL meeting", True, ["all"]),
        ("@全体成员 开会", True, ["all"]),
        ("@全体成员开会", True, ["all"]),
        ("@all @bob @张三", True, ["all", BOB, ZHANG]),
        ("@all meeting", False, None),  # plain text without the right
        ("@all @bob", False, [BOB]),
        ("@allen", True, None),
        ("x@all", True, None),
    ],
)
def test_parsing_at_all(text: str, allowed: bool, mentions: list | None) -> None:
    assert parse_mentions(text, names(), ME, all_ok=allowed) == mentions


def test_a_member_called_all_is_never_mentioned_by_it() -> None:
    chat = names()
    chat.add("all", 9)
    assert parse_mentions("@all", chat, ME, all_ok=False) is None
    assert parse_mentions("@all", chat, ME, all_ok=True) == ["all"]


# ---- sending ---------------------------------------------------------------------------------------


@pytest.fixture
def dave(make_user: Callable[..., User]) -> User:
    return make_user("dave", nickname="Dave")


@pytest.fixture
def zhang(make_user: Callable[..., User]) -> User:
    return make_user("zhangsan", nickname="张三")


@pytest.fixture
def group(alice: User, bob: User, carol: User, zhang: User) -> Group:
    """Alice owns "Team" with Bob, Carol and 张三 as plain members."""
    for friend in (bob, carol, zhang):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk, zhang.pk])


def send(actor: User, group: Group, content: str) -> Message:
    return services.message_send(actor=actor, chat_id=group.pk, content=content)[0]


def counts(group: Group) -> dict[str, int]:
    rows = ChatMember.objects.filter(chat_id=group.pk).values_list("user__username", "unread_mentions")
    return dict(rows)


def test_sent_mentions_are_stored_and_announced(
    group, alice, bob, carol, zhang, dave, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(carol)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(bob, group, "@张三看一下 @CAROL, and @dave and @bob")
    assert Message.objects.get(pk=message.pk).mentions == sorted([zhang.pk, carol.pk])
    [event] = inbox.drain(carol)
    assert event["data"]["message"]["mentions"] == sorted([zhang.pk, carol.pk])
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 1, "zhangsan": 1}


def test_a_message_without_mentions_stores_null_and_shows_an_empty_list(group, bob, client_for):
    message = send(bob, group, "hello @nobody")
    assert Message.objects.filter(pk=message.pk, mentions__isnull=True).exists()
    page = client_for(bob).get(f"/api/chats/{group.pk}/messages").json()
    assert [m["mentions"] for m in page["results"]] == [[]]


@pytest.mark.parametrize(
    ("sender", "allowed", "mentions"),
    [
        ("alice", False, ["all"]),  # the owner
        ("carol", False, ["all"]),  # an admin
        ("bob", False, None),  # a plain member: plain text
        ("bob", True, ["all"]),  # ... where the group lets members use it
    ],
)
def test_at_all_is_for_owners_and_admins_or_everyone_where_allowed(
    group, alice, bob, carol, zhang, sender, allowed, mentions
):
    member_update(actor=alice, group_id=group.pk, user_id=carol.pk, role="admin")
    if allowed:
        group_update(actor=alice, group_id=group.pk, members_mention_all=True)
    actor = {"alice": alice, "bob": bob, "carol": carol}[sender]
    message = send(actor, group, "@all 开会了")
    assert Message.objects.get(pk=message.pk).mentions == mentions
    everyone_else = {
        name: int(bool(mentions) and name != sender) for name in ("alice", "bob", "carol", "zhangsan")
    }
    assert counts(group) == everyone_else


def test_in_a_private_chat_at_all_is_plain_text(alice, bob):
    friendship_create(user_a=alice, user_b=bob)
    chat_id = selectors.chat_list(alice)[0]["id"]
    message = services.message_send(actor=alice, chat_id=chat_id, content="@all @bob")[0]
    assert Message.objects.get(pk=message.pk).mentions == [bob.pk]


def test_a_batch_reads_names_once_and_counts_with_one_update(group, alice, bob, carol, zhang):
    def batch(texts: list[str]) -> int:
        with CaptureQueriesContext(connection) as queries:
            results = message_send_many([SendRequest(alice, group.pk, text) for text in texts])
        assert all(isinstance(result, tuple) for result in results), results
        return len(queries)

    batch(["warm up"])  # a process's first batch checks the seq counter once
    plain = batch(["one", "two", "three"])
    assert batch(["four", "five", "six", "seven"]) == plain  # a batch without '@' costs nothing more
    assert batch(["@bob a", "@carol b", "c", "@all d", "mail a@b.com"]) == plain + 2  # names + UPDATE
    assert counts(group) == {"alice": 0, "bob": 2, "carol": 2, "zhangsan": 1}
    assert list(
        Message.objects.filter(content__in=["c", "mail a@b.com"]).values_list("mentions", flat=True)
    ) == [
        None,
        None,
    ]


# ---- unread mention counts ------------------------------------------------------------------------


def test_reading_recounts_what_still_mentions_the_reader(group, alice, bob, carol, client_for):
    first = send(alice, group, "@bob first")
    plain = send(alice, group, "nothing for you")
    second = send(carol, group, "@bob second")
    send(alice, group, "@all third")
    assert counts(group) == {"alice": 0, "bob": 3, "carol": 1, "zhangsan": 1}
    bob_api = client_for(bob)

    def read(message: Message) -> dict:
        response = bob_api.post(f"/api/messages/{message.pk}/read")
        assert response.status_code == 200, response.content
        return response.json()

    assert read(first)["unread_mention_count"] == 2
    assert read(plain)["unread_mention_count"] == 2
    assert read(second) == {
        "chat_id": group.pk,
        "last_read_message_id": second.pk,
        "unread_count": 1,
        "unread_mention_count": 1,
    }
    listed = bob_api.get("/api/chats").json()
    assert [(c["id"], c["unread_mention_count"]) for c in listed if c["id"] == group.pk] == [(group.pk, 1)]
    assert read(first)["unread_mention_count"] == 1  # never back
    last = Message.objects.filter(chat_id=group.pk).latest("id")
    assert read(last)["unread_mention_count"] == 0
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 1, "zhangsan": 1}


def test_deleting_a_mention_takes_it_from_those_who_have_not_read_it(group, alice, bob, carol, zhang):
    named = send(alice, group, "@bob @carol look")
    everyone = send(alice, group, "@all look")
    services.message_read(actor=carol, message_id=everyone.pk)
    assert counts(group) == {"alice": 0, "bob": 2, "carol": 0, "zhangsan": 1}
    services.message_delete(actor=alice, message_id=named.pk)
    assert counts(group) == {"alice": 0, "bob": 1, "carol": 0, "zhangsan": 1}
    services.message_delete(actor=alice, message_id=everyone.pk)
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 0, "zhangsan": 0}
    services.message_delete(actor=alice, message_id=everyone.pk)  # again: nothing changes
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 0, "zhangsan": 0}


def test_an_edit_parses_anew_and_moves_the_counts(group, alice, bob, carol, zhang, client_for):
    message = send(alice, group, "@bob look")
    assert counts(group) == {"alice": 0, "bob": 1, "carol": 0, "zhangsan": 0}
    response = client_for(alice).patch(
        f"/api/messages/{message.pk}", {"content": "@carol @张三 look"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["mentions"] == sorted([carol.pk, zhang.pk])
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 1, "zhangsan": 1}
    services.message_edit(actor=alice, message_id=message.pk, content="nobody")
    assert Message.objects.get(pk=message.pk).mentions is None
    assert counts(group) == {"alice": 0, "bob": 0, "carol": 0, "zhangsan": 0}


def test_mentions_sent_before_someone_joined_never_count_for_them(group, alice, bob, dave):
    friendship_create(user_a=alice, user_b=dave)
    zero = send(alice, group, "zero")
    before = send(alice, group, "@all before")
    member_add(actor=alice, group_id=group.pk, user_id=dave.pk)
    send(alice, group, "@all after")
    assert counts(group)["dave"] == 1
    services.message_read(actor=dave, message_id=zero.pk)  # recounted: "before" is not his
    assert counts(group)["dave"] == 1
    services.message_delete(actor=alice, message_id=before.pk)  # nor is its deletion
    assert counts(group) == {"alice": 0, "bob": 1, "carol": 1, "zhangsan": 1, "dave": 1}


def test_a_deleted_message_shows_no_mentions(group, alice, bob, client_for):
    message = send(alice, group, "@bob secret")
    body = client_for(alice).delete(f"/api/messages/{message.pk}").json()
    assert (body["is_deleted"], body["mentions"]) == (True, [])


# ---- the group's setting -----------------------------------------------------------------------------


def test_owner_and_admins_switch_at_all_for_members(group, alice, bob, carol, client_for):
    member_update(actor=alice, group_id=group.pk, user_id=carol.pk, role="admin")
    url = f"/api/groups/{group.pk}"
    assert client_for(bob).get(url).json()["members_mention_all"] is False
    for actor, value in ((alice, True), (carol, False)):
        response = client_for(actor).patch(url, {"members_mention_all": value}, format="json")
        assert (response.status_code, response.json()["members_mention_all"]) == (200, value)
        assert Group.objects.get(pk=group.pk).members_mention_all is value
    refused = client_for(bob).patch(url, {"members_mention_all": True}, format="json")
    assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED")
    wrong = client_for(alice).patch(url, {"members_mention_all": "yes"}, format="json")
    assert (wrong.status_code, wrong.json()["details"]["field"]) == (400, "members_mention_all")
    assert Group.objects.get(pk=group.pk).members_mention_all is False
    with pytest.raises(DomainError):
        group_update(actor=alice, group_id=group.pk, members_mention_all="yes")
