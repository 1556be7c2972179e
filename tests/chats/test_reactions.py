"""Reactions (chats.reactions): the service, REST, history, sync, admin, and who may react."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.blocking import block_create
from accounts.services import bot_create, friendship_create
from chats import reactions, services
from chats.api import history_body
from chats.models import Message, Reaction
from chats.selectors import history_page
from groups import services as group_services
from groups.services import group_create
from imsuite.errors import DomainError, ErrorCode
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db

THUMBS, HEART, FAMILY, FLAG_GB_SCT = (
    "👍",
    "❤️",
    "👨\u200d👩\u200d👧",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
)


@pytest.fixture
def w(make_user) -> SimpleNamespace:
    """A group "Team": owner, admin, member, bot_member (the owner's bot), blocked (whom the
    sender, member, blocked), muted (muted for an hour); outsider; kicked and banned, who were in it.
    `mid` is the member's message in it."""
    names = ("owner", "admin", "member", "blocked", "muted", "outsider", "kicked", "banned")
    u = {name: make_user(name, nickname=name.title()) for name in names}
    u["bot_member"], _ = bot_create(actor=u["owner"], username="bot_member")
    for name in ("admin", "member", "blocked", "muted", "kicked", "banned"):
        friendship_create(user_a=u["owner"], user_b=u[name])
    inside = ("admin", "member", "blocked", "muted", "kicked", "banned", "bot_member")
    group = group_create(actor=u["owner"], name="Team", member_ids=[u[n].pk for n in inside])
    group_services.member_update(actor=u["owner"], group_id=group.pk, user_id=u["admin"].pk, role="admin")
    group_services.group_ban(actor=u["owner"], group_id=group.pk, user_id=u["muted"].pk, duration=3600)
    group_services.member_kick(actor=u["owner"], group_id=group.pk, user_id=u["kicked"].pk)
    group_services.member_ban(actor=u["owner"], group_id=group.pk, user_id=u["banned"].pk)
    block_create(actor=u["member"], user_id=u["blocked"].pk)
    message, _ = services.message_send(actor=u["member"], chat_id=group.pk, content="hello")
    return SimpleNamespace(**u, gid=group.pk, mid=message.pk)


def react(actor, message_id, emoji=THUMBS, add=True) -> dict:
    return reactions.reaction_set(actor=actor, message_id=message_id, emoji=emoji, add=add)


def refused(code: str, actor, message_id, emoji=THUMBS, add=True) -> DomainError:
    with pytest.raises(DomainError) as info:
        react(actor, message_id, emoji, add)
    assert info.value.code == code
    return info.value


# ---- the emoji --------------------------------------------------------------------------------------


@pytest.mark.parametrize("emoji", [THUMBS, HEART, FAMILY, "👋🏽", "🇨🇳", "1️⃣", FLAG_GB_SCT, "©️"])
def test_an_emoji_is_accepted_as_written(emoji):
    assert reactions.clean_emoji(emoji) == emoji


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a",
        "ok",
        "👍 ",
        " 👍",
        "1",
        "👍!",
        "\u200d",
        "\ufe0f",
        "👍" * 9,
        "👨\u200d👩\u200d👧\u200d👦👍👍",
        None,
        5,
    ],
)
def test_anything_but_one_emoji_is_refused(value):
    with pytest.raises(DomainError) as info:
        reactions.clean_emoji(value)
    assert info.value.code == ErrorCode.VALIDATION_ERROR
    assert info.value.details["field"] == "emoji"


# ---- the service ------------------------------------------------------------------------------------


def test_react_stores_summarises_bumps_the_seq_and_announces(w, inbox, django_capture_on_commit_callbacks):
    inbox.listen(w.owner, w.member, w.outsider, w.kicked)
    seq_before = Message.objects.get(pk=w.mid).seq
    with django_capture_on_commit_callbacks(execute=True):
        answer = react(w.owner, w.mid, THUMBS)
    row = Message.objects.get(pk=w.mid)
    assert row.seq > seq_before
    assert row.reactions == [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk]}]
    assert list(Reaction.objects.values_list("message_id", "user_id", "emoji")) == [
        (w.mid, w.owner.pk, THUMBS)
    ]
    assert answer == {
        "message_id": w.mid,
        "chat_id": w.gid,
        "reactions": [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": True}],
    }
    data = {
        "seq": row.seq,
        "chat_id": w.gid,
        "message_id": w.mid,
        "emoji": THUMBS,
        "user_id": w.owner.pk,
        "added": True,
        "reactions": [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk]}],
    }
    expected = [{"type": "domain.event", "event": "message.reaction", "data": data}]
    assert inbox.drain(w.owner) == expected
    assert inbox.drain(w.member) == expected
    assert inbox.drain(w.outsider) == []
    assert inbox.drain(w.kicked) == []


def test_several_emoji_per_person_counted_in_order_and_toggled(w):
    react(w.owner, w.mid, THUMBS)
    react(w.member, w.mid, HEART)
    react(w.member, w.mid, THUMBS)
    react(w.blocked, w.mid, THUMBS)  # whom the sender blocked: counted like anyone in a group
    assert Message.objects.get(pk=w.mid).reactions == [
        {"emoji": THUMBS, "count": 3, "user_ids": [w.owner.pk, w.member.pk, w.blocked.pk]},
        {"emoji": HEART, "count": 1, "user_ids": [w.member.pk]},
    ]
    answer = react(w.member, w.mid, THUMBS, add=False)
    assert answer["reactions"] == [
        {"emoji": THUMBS, "count": 2, "user_ids": [w.owner.pk, w.blocked.pk], "me": False},
        {"emoji": HEART, "count": 1, "user_ids": [w.member.pk], "me": True},
    ]
    react(w.member, w.mid, HEART, add=False)
    react(w.owner, w.mid, THUMBS, add=False)
    react(w.blocked, w.mid, THUMBS, add=False)
    assert Message.objects.get(pk=w.mid).reactions is None
    assert not Reaction.objects.exists()


def test_the_summary_names_the_first_five(w, make_user):
    people = [w.owner, w.admin, w.member, w.blocked, w.bot_member]
    for person in people:
        react(person, w.mid)
    for i in range(2):
        extra = make_user(f"extra{i}")
        friendship_create(user_a=w.owner, user_b=extra)
        group_services.member_add(actor=w.owner, group_id=w.gid, user_id=extra.pk)
        react(extra, w.mid)
    [item] = Message.objects.get(pk=w.mid).reactions
    assert item == {"emoji": THUMBS, "count": 7, "user_ids": [p.pk for p in people]}


def test_a_repeat_changes_nothing_and_announces_nothing(w, inbox, django_capture_on_commit_callbacks):
    react(w.owner, w.mid)
    inbox.listen(w.owner)
    before = whole_database()
    with django_capture_on_commit_callbacks(execute=True):
        again = react(w.owner, w.mid)
        gone = react(w.admin, w.mid, HEART, add=False)
    assert_unchanged(before)
    assert inbox.drain(w.owner) == []
    assert again["reactions"] == [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": True}]
    assert gone["reactions"] == [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": False}]


def test_at_most_twenty_different_emoji(w):
    emoji = [chr(0x1F600 + i) for i in range(reactions.MAX_DISTINCT)]
    for e in emoji:
        react(w.owner, w.mid, e)
    before = whole_database()
    error = refused(ErrorCode.CONFLICT, w.member, w.mid, "🦄")
    assert error.details == {"reason": "too_many_reactions", "limit": 20}
    assert_unchanged(before)
    react(w.member, w.mid, emoji[0])  # one already there still takes more people
    assert Message.objects.get(pk=w.mid).reactions[0]["count"] == 2


# The authorization matrix of adding (and removing) a reaction on a group message. A number is the
# answer over REST; a word is the details.reason of a 403 or 409; 404 NOT_FOUND.
ALLOWED = ("owner", "admin", "member", "blocked", "bot_member")
REFUSED = {
    "outsider": (ErrorCode.NOT_FOUND, None),
    "kicked": (ErrorCode.NOT_FOUND, None),
    "banned": (ErrorCode.NOT_FOUND, None),
    "moderator": (ErrorCode.NOT_FOUND, None),  # moderators read reactions, they do not react
    "muted": (ErrorCode.PERMISSION_DENIED, "muted"),
}


@pytest.mark.parametrize("actor", ALLOWED)
@pytest.mark.parametrize("add", [True, False])
def test_members_react_and_unreact(w, actor, add):
    person = getattr(w, actor)
    if not add:
        react(person, w.mid)
    react(person, w.mid, add=add)
    assert list(Reaction.objects.values_list("user_id", "emoji")) == ([(person.pk, THUMBS)] if add else [])


@pytest.mark.parametrize("actor", sorted(REFUSED))
@pytest.mark.parametrize("add", [True, False])
def test_others_are_refused_and_nothing_changes(w, moderator, actor, add):
    person = moderator if actor == "moderator" else getattr(w, actor)
    react(w.owner, w.mid)
    before = whole_database()
    code, reason = REFUSED[actor]
    error = refused(code, person, w.mid, add=add)
    assert error.details.get("reason") == reason
    assert_unchanged(before)


def test_a_recalled_message_takes_no_reactions_and_shows_none(w, client_for):
    react(w.owner, w.mid)
    services.message_delete(actor=w.member, message_id=w.mid)
    before = whole_database()
    assert refused(ErrorCode.CONFLICT, w.admin, w.mid).details == {"reason": "deleted"}
    assert_unchanged(before)
    page = check(client_for(w.owner).get(f"/api/chats/{w.gid}/messages"), 200)
    assert "reactions" not in page["results"][0]
    listed = check(client_for(w.owner).get(f"/api/messages/{w.mid}/reactions"), 200)
    assert listed == {"message_id": w.mid, "chat_id": w.gid, "reactions": []}


def test_a_private_chat_across_a_block_takes_no_reactions(alice, bob):
    friendship_create(user_a=alice, user_b=bob)
    chat = services.private_chat_open(actor=alice, user_id=bob.pk)
    message, _ = services.message_send(actor=alice, chat_id=chat.pk, content="hi")
    react(bob, message.pk)
    block_create(actor=alice, user_id=bob.pk)
    before = whole_database()
    for actor in (alice, bob):  # either way, and removing too
        assert refused(ErrorCode.PERMISSION_DENIED, actor, message.pk, HEART).details == {"reason": "blocked"}
        assert refused(ErrorCode.PERMISSION_DENIED, actor, message.pk, add=False).details == {
            "reason": "blocked"
        }
    assert_unchanged(before)


# ---- REST -------------------------------------------------------------------------------------------


def test_rest_add_remove_and_list(w, client_for):
    owner, member = client_for(w.owner), client_for(w.member)
    url = f"/api/messages/{w.mid}/reactions"
    body = check(owner.post(url, {"emoji": THUMBS}, format="json"), 200)
    assert body == {
        "message_id": w.mid,
        "chat_id": w.gid,
        "reactions": [{"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": True}],
    }
    check(member.post(url, {"emoji": THUMBS}, format="json"), 200)
    check(member.post(url, {"emoji": HEART}, format="json"), 200)
    listed = check(owner.get(url), 200)
    ref = {"id": w.member.pk, "nickname": "Member", "avatar_url": ""}
    assert [
        (r["emoji"], r["count"], r["me"], [u["id"] for u in r["users"]]) for r in listed["reactions"]
    ] == [
        (THUMBS, 2, True, [w.owner.pk, w.member.pk]),
        (HEART, 1, False, [w.member.pk]),
    ]
    assert listed["reactions"][1]["users"] == [ref]
    removed = check(member.delete(f"{url}/{THUMBS}"), 200)
    assert removed["reactions"] == [
        {"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": False},
        {"emoji": HEART, "count": 1, "user_ids": [w.member.pk], "me": True},
    ]
    check(member.delete(f"{url}/{THUMBS}"), 200)  # idempotent
    assert Reaction.objects.count() == 2


def test_rest_refusals(w, api, client_for, moderator):
    url = f"/api/messages/{w.mid}/reactions"
    react(w.owner, w.mid)
    clients = {
        person: client_for(person)
        for person in (w.outsider, w.kicked, w.banned, w.muted, w.member, moderator)
    }
    before = whole_database()
    assert_error(api.post(url, {"emoji": THUMBS}, format="json"), 401, "AUTHENTICATION_FAILED")
    assert_error(api.get(url), 401, "AUTHENTICATION_FAILED")
    assert_error(api.delete(f"{url}/{THUMBS}"), 401, "AUTHENTICATION_FAILED")
    for person in (w.outsider, w.kicked, w.banned):
        assert_error(clients[person].post(url, {"emoji": THUMBS}, format="json"), 404, "NOT_FOUND")
        assert_error(clients[person].get(url), 404, "NOT_FOUND")
        assert_error(clients[person].delete(f"{url}/{THUMBS}"), 404, "NOT_FOUND")
    muted = clients[w.muted]
    assert_error(muted.post(url, {"emoji": THUMBS}, format="json"), 403, "PERMISSION_DENIED", reason="muted")
    assert_error(muted.post(url, {"emoji": "ok"}, format="json"), 400, "VALIDATION_ERROR", field="emoji")
    assert_error(muted.post(url, {}, format="json"), 400, "VALIDATION_ERROR", field="emoji")
    assert_error(clients[w.member].delete(f"{url}/abc"), 400, "VALIDATION_ERROR", field="emoji")
    assert_error(
        clients[w.member].post("/api/messages/999999/reactions", {"emoji": THUMBS}, format="json"),
        404,
        "NOT_FOUND",
    )
    assert_error(clients[moderator].post(url, {"emoji": THUMBS}, format="json"), 404, "NOT_FOUND")
    assert_unchanged(before)
    # the muted person and a moderator still read them
    for reader in (w.muted, moderator):
        assert check(clients[reader].get(url), 200)["reactions"][0]["count"] == 1


def test_rest_is_rate_limited(w, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_REACTIONS": 2}
    client = client_for(w.member)
    url = f"/api/messages/{w.mid}/reactions"
    check(client.post(url, {"emoji": THUMBS}, format="json"), 200)
    check(client.delete(f"{url}/{THUMBS}"), 200)
    before = whole_database()
    assert_error(client.post(url, {"emoji": THUMBS}, format="json"), 429, "RATE_LIMITED")
    assert_unchanged(before)


# ---- history and sync -------------------------------------------------------------------------------


def test_history_carries_reactions_only_when_any_with_me(w, client_for):
    plain, _ = services.message_send(actor=w.owner, chat_id=w.gid, content="no reactions")
    react(w.owner, w.mid)
    react(w.member, w.mid, HEART)
    for viewer, mine in ((w.owner, (True, False)), (w.member, (False, True)), (w.admin, (False, False))):
        page = check(client_for(viewer).get(f"/api/chats/{w.gid}/messages"), 200)["results"]
        assert [m["id"] for m in page] == [plain.pk, w.mid]
        assert "reactions" not in page[0]
        assert page[1]["reactions"] == [
            {"emoji": THUMBS, "count": 1, "user_ids": [w.owner.pk], "me": mine[0]},
            {"emoji": HEART, "count": 1, "user_ids": [w.member.pk], "me": mine[1]},
        ]
        window = check(client_for(viewer).get(f"/api/chats/{w.gid}/messages?around={w.mid}"), 200)["results"]
        assert [m.get("reactions") for m in window] == [m.get("reactions") for m in page]


def test_history_reads_one_query_more_only_for_a_page_with_reactions(w):
    page, _ = history_page(w.gid, None, 50, member_id=w.owner.pk)
    with CaptureQueriesContext(connection) as queries:
        history_body(page, None, w.owner.pk)
    assert len(queries) == 0
    react(w.owner, w.mid)
    page, _ = history_page(w.gid, None, 50, member_id=w.owner.pk)
    with CaptureQueriesContext(connection) as queries:
        body = history_body(page, None, w.owner.pk)
    assert len(queries) == 1
    assert body["results"][0]["reactions"][0]["me"] is True


def test_sync_brings_the_reacted_message_as_an_edit_with_its_reactions(w):
    since = Message.objects.get(pk=w.mid).seq
    react(w.member, w.mid)
    react(w.owner, w.mid, HEART)
    changes = services.sync_page(actor=w.member, after=since, since=since)
    assert [(name, data["message"]["id"]) for name, data in changes] == [("message.edit", w.mid)]
    assert changes[0][1]["seq"] == Message.objects.get(pk=w.mid).seq
    assert changes[0][1]["message"]["reactions"] == [
        {"emoji": THUMBS, "count": 1, "user_ids": [w.member.pk], "me": True},
        {"emoji": HEART, "count": 1, "user_ids": [w.owner.pk], "me": False},
    ]


def test_admin_message_page_shows_its_reactions(w, staff):
    react(w.owner, w.mid, HEART)
    page = staff.get(f"/admin/chats/message/{w.mid}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    inline = text[text.index('id="reaction_set-group"') :]
    assert HEART in inline
    assert f'<a href="/admin/accounts/user/{w.owner.pk}/change/">{w.owner}</a>' in inline
    assert 'name="reaction_set-0-emoji"' not in inline  # read-only: no form field


# ---- bots -------------------------------------------------------------------------------------------


def test_no_bot_dialect_has_a_reaction_event(w):
    """The sandbox document, kotori's sandbox schemas and OneBot v11 have no reaction event: a bot
    hears nothing of reactions (a frame they cannot parse would be an error to them)."""
    from bots import dialects

    data = react(w.owner, w.mid) | {"seq": 1, "emoji": THUMBS, "user_id": w.owner.pk, "added": True}
    assert sorted(dialects.DIALECTS) == ["kotori", "onebot11", "onebot11_string", "sandbox"]
    for dialect in dialects.DIALECTS.values():
        assert "message.reaction" not in dialect.event_names()
        assert dialect.event("message.reaction", data, w.bot_member.pk) is None
