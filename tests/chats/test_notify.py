"""Per-chat notification settings (issue 19): a member sets what they are told of a chat's messages
(all, mentions only, muted, optionally until a time) over REST or a client frame; every connection
of theirs hears chat.notify, nobody else does; an until that has come reads as "all" everywhere
(chats.selectors.notify_level, the chat list) without being rewritten. Times are set through the
rows' notify_until, never by sleeping."""

import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as tz
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.services import friendship_create
from bots.events import render_for_bot
from chats import selectors, services
from chats.models import Chat, ChatMember
from chats.realtime import render_for
from groups.models import Group
from groups.services import group_create
from imsuite.errors import DomainError
from tests.accounts.test_api import assert_error, check
from tests.chats import test_ws
from tests.chats.ws_helpers import call, error_frame, iso

ws, fresh = test_ws.ws, test_ws.fresh  # the WebSocket tests' fixtures

HOUR = timedelta(hours=1)


@pytest.fixture
def team(alice: User, bob: User, carol: User) -> Group:
    """Alice (friends with Bob and Carol, so two private chats too) owns "Team" with both."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


def setting(user: User, chat_id: int) -> tuple[str, datetime | None]:
    """What is stored for the member."""
    return ChatMember.objects.values_list("notify", "notify_until").get(chat_id=chat_id, user=user)


def notify_event(chat_id: int, notify: str, until: datetime | None) -> dict[str, Any]:
    """The chat.notify event as the inbox hands it out."""
    data = {"chat_id": chat_id, "notify": notify, "until": iso(until)}
    return {"type": "domain.event", "event": "chat.notify", "data": data}


def notify_frame(chat_id: int, notify: str, until: datetime | None) -> dict[str, Any]:
    """The chat.notify client frame."""
    return {"type": "chat.notify", "payload": {"chat_id": chat_id, "notify": notify, "until": iso(until)}}


def private_chat(a: User, b: User) -> Chat:
    return Chat.objects.get(private_key=":".join(str(pk) for pk in sorted((a.pk, b.pk))))


def later(delta: timedelta = HOUR) -> datetime:
    """A time in the future, to the second (as a client would send it)."""
    return (timezone.now() + delta).replace(microsecond=0)


# ---- the service -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("notify", "delta"),
    [("muted", HOUR), ("muted", None), ("mentions", HOUR), ("mentions", None), ("all", None)],
)
def test_a_member_sets_their_own_setting_and_only_they_hear_it(
    team, alice, bob, carol, inbox, django_capture_on_commit_callbacks, notify, delta
):
    ChatMember.objects.filter(chat_id=team.pk, user=bob).update(notify="muted")  # "all" is a change too
    until = delta and later(delta)
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        answer = services.chat_notify_set(actor=bob, chat_id=team.pk, notify=notify, until=until)
    assert answer == {"chat_id": team.pk, "notify": notify, "until": until}
    assert setting(bob, team.pk) == (notify, until)
    assert setting(alice, team.pk) == setting(carol, team.pk) == ("all", None)
    assert inbox.drain(bob) == [notify_event(team.pk, notify, until)]
    assert inbox.drain(alice, wait=0.1) == inbox.drain(carol, wait=0.1) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("notify", "delta", "field", "reason"),
    [
        ("loud", None, "notify", "invalid_choice"),
        ("all", HOUR, "until", "with_all"),
        ("muted", -timedelta(seconds=1), "until", "past"),
        ("mentions", -HOUR, "until", "past"),
    ],
)
def test_a_refused_setting_changes_nothing_and_tells_nobody(
    team, bob, inbox, django_capture_on_commit_callbacks, notify, delta, field, reason
):
    inbox.listen(bob)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError) as refused:
        services.chat_notify_set(
            actor=bob, chat_id=team.pk, notify=notify, until=delta and timezone.now() + delta
        )
    assert (refused.value.code, refused.value.details) == (
        "VALIDATION_ERROR",
        {"field": field, "reason": reason},
    )
    assert setting(bob, team.pk) == ("all", None)
    assert inbox.drain(bob, wait=0.1) == []


@pytest.mark.django_db
def test_only_ones_own_membership_a_stranger_gets_not_found(team, bob, make_user):
    dave = make_user("dave")
    for chat_id in (team.pk, 987654):
        with pytest.raises(DomainError) as refused:
            services.chat_notify_set(actor=dave, chat_id=chat_id, notify="muted")
        assert refused.value.code == "NOT_FOUND"
    assert not ChatMember.objects.filter(user=dave).exists()
    assert setting(bob, team.pk) == ("all", None)


NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("notify", "until", "level"),
    [
        ("all", None, "all"),
        ("mentions", None, "mentions"),
        ("mentions", NOW + SECOND, "mentions"),
        ("mentions", NOW, "all"),
        ("muted", None, "muted"),
        ("muted", NOW + SECOND, "muted"),
        ("muted", NOW, "all"),  # the moment it runs out, as group mutes do
        ("muted", NOW - HOUR, "all"),
    ],
)
def test_notify_level_is_the_shared_rule(notify, until, level):
    member = ChatMember(notify=notify, notify_until=until)
    assert selectors.notify_level(member, NOW) == level
    expected_until = until if level != "all" else None
    assert selectors.effective_notify(member, NOW) == (level, expected_until)


def test_bots_never_hear_of_it():
    data = {"chat_id": 1, "notify": "muted", "until": None}
    assert render_for_bot("chat.notify", data, 5) is None
    assert render_for("chat.notify", data, 5) == ("chat.notify", data)


# ---- REST ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rest_put_sets_it_and_every_device_of_the_member_hears(
    team, alice, bob, client_for, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob)
    until = later(8 * HOUR)
    body = {"notify": "muted", "until": until.astimezone(tz(timedelta(hours=8))).isoformat()}  # Beijing time
    with django_capture_on_commit_callbacks(execute=True):
        answer = check(client_for(bob).put(f"/api/chats/{team.pk}/notify", body, format="json"), 200)
    assert answer == {"chat_id": team.pk, "notify": "muted", "until": iso(until)}
    assert setting(bob, team.pk) == ("muted", until)
    assert inbox.drain(bob) == [notify_event(team.pk, "muted", until)]
    assert inbox.drain(alice, wait=0.1) == []

    answer = check(
        client_for(bob).put(f"/api/chats/{team.pk}/notify", {"notify": "mentions"}, format="json"), 200
    )
    assert answer == {"chat_id": team.pk, "notify": "mentions", "until": None}
    assert setting(bob, team.pk) == ("mentions", None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"notify": "loud"}, {"field": "notify", "reason": "invalid_choice"}),
        ({}, {"field": "notify", "reason": "required"}),
        ({"notify": "muted", "until": "2030-01-01T08:00:00"}, {"field": "until", "reason": "naive"}),
        ({"notify": "muted", "until": "tomorrow"}, {"field": "until", "reason": "invalid"}),
        ({"notify": "muted", "until": 1893456000}, {"field": "until", "reason": "invalid"}),
        ({"notify": "muted", "for": 3600}, {"field": "for", "reason": "unknown_field"}),
        ({"notify": "muted", "until": "2020-01-01T08:00:00Z"}, {"field": "until", "reason": "past"}),
        ({"notify": "all", "until": "2030-01-01T08:00:00Z"}, {"field": "until", "reason": "with_all"}),
    ],
)
def test_rest_refusals(team, bob, client_for, body, details):
    response = client_for(bob).put(f"/api/chats/{team.pk}/notify", body, format="json")
    assert_error(response, 400, "VALIDATION_ERROR", **details)
    assert setting(bob, team.pk) == ("all", None)


@pytest.mark.django_db
def test_rest_a_chat_one_is_not_in_is_not_found(team, client_for, make_user):
    dave = make_user("dave")
    for chat_id in (team.pk, 987654):
        response = client_for(dave).put(f"/api/chats/{chat_id}/notify", {"notify": "muted"}, format="json")
        assert_error(response, 404, "NOT_FOUND")


@pytest.mark.django_db
def test_the_chat_list_carries_the_setting_as_it_holds_now(team, alice, bob, carol, client_for):
    private = private_chat(alice, bob)
    until = later()
    services.chat_notify_set(actor=bob, chat_id=team.pk, notify="muted", until=until)
    services.chat_notify_set(actor=bob, chat_id=private.pk, notify="mentions")

    def listed() -> dict[int, tuple[str, str | None]]:
        body = check(client_for(bob).get("/api/chats"), 200)
        return {item["id"]: (item["notify"], item["notify_until"]) for item in body}

    assert listed() == {team.pk: ("muted", iso(until)), private.pk: ("mentions", None)}
    one = check(client_for(bob).get(f"/api/chats/{team.pk}"), 200)
    assert (one["notify"], one["notify_until"]) == ("muted", iso(until))
    assert {item["id"]: item["notify"] for item in check(client_for(alice).get("/api/chats"), 200)} == {
        team.pk: "all",
        private.pk: "all",
        private_chat(alice, carol).pk: "all",
    }

    # The until comes: the list says "all" with no until, though the row is left as it was.
    ran_out = timezone.now() - SECOND
    ChatMember.objects.filter(chat_id=team.pk, user=bob).update(notify_until=ran_out)
    assert listed() == {team.pk: ("all", None), private.pk: ("mentions", None)}
    assert setting(bob, team.pk) == ("muted", ran_out)
    member = ChatMember.objects.get(chat_id=team.pk, user=bob)
    assert selectors.notify_level(member, timezone.now()) == "all"


# ---- the client frame ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_frame_change_reaches_every_connection_of_the_member_and_nobody_else(
    ws, team, alice, bob, carol
):
    a1, b1, b2, c1 = [await ws.connect(user) for user in (alice, bob, bob, carol)]
    until = later(HOUR)
    await b1.send("chat.notify", {"chat_id": team.pk, "notify": "muted", "until": iso(until)})
    expected = notify_frame(team.pk, "muted", until)
    assert await b1.frame() == expected  # the asking connection's answer
    assert await b2.frame() == expected  # the second device follows live
    for device in (a1, c1):
        await device.nothing()
    assert await call(setting, user=bob, chat_id=team.pk) == ("muted", until)

    await b2.send("chat.notify", {"chat_id": team.pk, "notify": "all"})  # back, from the other device
    for device in (b2, b1):
        assert await device.frame() == notify_frame(team.pk, "all", None)
    assert await call(setting, user=bob, chat_id=team.pk) == ("all", None)
    for device in (a1, c1):
        await device.nothing()


@pytest.mark.django_db(transaction=True)
async def test_a_rest_change_reaches_the_members_open_connections(ws, team, alice, bob, client_for):
    a1, b1, b2 = [await ws.connect(user) for user in (alice, bob, bob)]
    client = await call(client_for, user=bob)
    response = await call(
        client.put, path=f"/api/chats/{team.pk}/notify", data={"notify": "mentions"}, format="json"
    )
    assert response.status_code == 200, response.content
    for device in (b1, b2):
        assert await device.frame() == notify_frame(team.pk, "mentions", None)
    await a1.nothing()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("payload", "code", "details"),
    [
        (
            {"chat_id": "team", "notify": "muted", "until": "past"},
            "VALIDATION_ERROR",
            {"field": "until", "reason": "past"},
        ),
        (
            {"chat_id": "team", "notify": "all", "until": "later"},
            "VALIDATION_ERROR",
            {"field": "until", "reason": "with_all"},
        ),
        ({"chat_id": 987654, "notify": "muted"}, "NOT_FOUND", {}),
        ({"chat_id": "private", "notify": "muted"}, "NOT_FOUND", {}),  # Alice and Carol's: not Bob's
    ],
)
async def test_a_refused_frame_is_an_error_and_changes_nothing(
    ws, team, alice, bob, carol, payload, code, details
):
    times = {"past": iso(timezone.now() - HOUR), "later": iso(later())}
    ids = {"team": team.pk, "private": (await call(private_chat, a=alice, b=carol)).pk}
    sent = {key: ids.get(value, times.get(value, value)) for key, value in payload.items()}
    b1 = await ws.connect(bob)
    error = await b1.error("chat.notify", sent)
    assert error == error_frame(code, **details, event="chat.notify")
    assert await call(setting, user=bob, chat_id=team.pk) == ("all", None)
    await b1.alive()


@pytest.mark.django_db(transaction=True)
async def test_a_frame_missing_a_field_is_refused_by_its_schema(ws, team, bob):
    b1 = await ws.connect(bob)
    error = await b1.error("chat.notify", {"chat_id": team.pk})
    assert error["payload"]["error_code"] == "VALIDATION_ERROR"
    assert {k: error["payload"]["details"][k] for k in ("field", "reason", "event")} == {
        "field": "notify",
        "reason": "required",
        "event": "chat.notify",
    }


@pytest.mark.django_db
def test_admin_shows_each_members_setting_in_the_chat_page(team, bob, staff):
    services.chat_notify_set(actor=bob, chat_id=team.pk, notify="mentions")
    page = staff.get(f"/admin/chats/chat/{team.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    shown = re.findall(r'<td class="field-notify">\s*<p>(\w+)</p>', html)
    assert sorted(shown) == ["All", "All", "Mentions"]  # Alice and Carol; Bob
    assert "Notify until" in html
