"""Drafts (issue 22): kept per person and chat over REST or the draft.update frame, heard as
draft.updated by the person's other connections only (never by the saving one, never by anyone
else), superseded by the person's next message in the chat without the send touching them."""

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import User
from accounts.services import bot_create, friendship_create
from chats import drafts, services
from chats.models import Draft
from groups.models import Group
from groups.services import group_create, member_add, member_kick
from imsuite.errors import DomainError
from tests.accounts.test_api import assert_error, check
from tests.chats import test_ws
from tests.chats.ws_helpers import call, error_frame, iso
from tests.db_state import assert_unchanged, whole_database

ws, fresh = test_ws.ws, test_ws.fresh  # the WebSocket tests' fixtures


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def team(alice: User, bob: User, carol: User) -> Group:
    """Alice owns "Team" with Bob and Carol."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


def stored(user: User) -> list[tuple[int, str, int | None]]:
    return list(
        Draft.objects.filter(user=user).order_by("chat_id").values_list("chat_id", "text", "reply_to_id")
    )


def body(draft: Draft) -> dict[str, Any]:
    return {
        "chat_id": draft.chat_id,
        "text": draft.text,
        "reply_to_id": draft.reply_to_id,
        "updated_at": iso(draft.updated_at),
    }


def draft_frame(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "draft.updated", "payload": payload}


# ---- REST -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_put_keeps_one_draft_per_chat_and_get_lists_it(team, bob, client_for):
    client = client_for(bob)
    hello = services.message_send(actor=bob, chat_id=team.pk, content="hello")[0]
    answer = check(client.put(f"/api/chats/{team.pk}/draft", {"text": "half a th"}, format="json"), 200)
    answer = check(
        client.put(
            f"/api/chats/{team.pk}/draft", {"text": "half a thought", "reply_to_id": hello.pk}, format="json"
        ),
        200,
    )
    row = Draft.objects.get(user=bob)
    assert answer == body(row)
    assert stored(bob) == [(team.pk, "half a thought", hello.pk)]
    assert row.base_message_id == hello.pk
    assert check(client.get("/api/drafts"), 200) == [body(row)]


@pytest.mark.django_db
def test_delete_and_blank_text_clear_the_draft(team, bob, client_for):
    client = client_for(bob)
    check(client.put(f"/api/chats/{team.pk}/draft", {"text": "soon gone"}, format="json"), 200)
    assert check(client.delete(f"/api/chats/{team.pk}/draft"), 204) is None
    assert stored(bob) == []
    assert check(client.delete(f"/api/chats/{team.pk}/draft"), 204) is None  # clearing nothing is fine
    check(client.put(f"/api/chats/{team.pk}/draft", {"text": "again"}, format="json"), 200)
    answer = check(client.put(f"/api/chats/{team.pk}/draft", {"text": "  \n "}, format="json"), 200)
    assert (answer["text"], answer["reply_to_id"]) == ("", None)
    assert stored(bob) == []
    assert check(client.get("/api/drafts"), 200) == []


@pytest.mark.django_db
def test_a_message_sent_afterwards_supersedes_the_draft_and_a_later_draft_counts_again(team, bob, client_for):
    client = client_for(bob)
    check(client.put(f"/api/chats/{team.pk}/draft", {"text": "typed on the phone"}, format="json"), 200)
    services.message_send(actor=team.owner, chat_id=team.pk, content="someone else's message")
    assert [d["text"] for d in check(client.get("/api/drafts"), 200)] == ["typed on the phone"]
    services.message_send(actor=bob, chat_id=team.pk, content="typed on the phone")  # from any device
    assert check(client.get("/api/drafts"), 200) == []
    check(client.put(f"/api/chats/{team.pk}/draft", {"text": "a new one"}, format="json"), 200)
    assert [d["text"] for d in check(client.get("/api/drafts"), 200)] == ["a new one"]


@pytest.mark.django_db
def test_size_and_reply_are_checked_and_a_refusal_changes_nothing(team, alice, bob, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_LENGTH": 10}
    private = services.private_chat_open(actor=alice, user_id=bob.pk)
    elsewhere = services.message_send(actor=alice, chat_id=private.pk, content="private")[0]
    client = client_for(bob)
    before = whole_database()
    cases = [
        ({"text": "x" * 11}, "text", "too_long"),
        ({"text": "ok", "reply_to_id": elsewhere.pk}, "reply_to_id", "not_in_chat"),
        ({"text": 5}, "text", None),
        ({}, "text", None),
    ]
    for data, field, reason in cases:
        error = assert_error(
            client.put(f"/api/chats/{team.pk}/draft", data, format="json"),
            400,
            "VALIDATION_ERROR",
            field=field,
        )
        if reason:
            assert error["details"]["reason"] == reason
    assert_unchanged(before)
    assert (
        check(client.put(f"/api/chats/{team.pk}/draft", {"text": "x" * 10}, format="json"), 200)["text"]
        == "x" * 10
    )


@pytest.mark.django_db
def test_the_rate_limit_refuses_past_its_budget(team, bob, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_DRAFTS": 2}
    client = client_for(bob)
    for text in ("a", "b"):
        check(client.put(f"/api/chats/{team.pk}/draft", {"text": text}, format="json"), 200)
    before = whole_database()
    assert_error(client.put(f"/api/chats/{team.pk}/draft", {"text": "c"}, format="json"), 429, "RATE_LIMITED")
    assert_unchanged(before)
    assert stored(bob) == [(team.pk, "b", None)]


# ---- who may: the authorization matrix ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ["anonymous", "stranger", "kicked", "bot", "deactivated"])
def test_only_members_keep_drafts_and_a_refusal_changes_nothing(
    team, alice, bob, make_user, client_for, api, actor
):
    check(client_for(bob).put(f"/api/chats/{team.pk}/draft", {"text": "mine"}, format="json"), 200)
    if actor == "bot":
        bot, _token = bot_create(actor=alice, username="helper")
        before = whole_database()
        for call_it in (
            lambda: drafts.draft_save(actor=bot, chat_id=team.pk, text="beep"),
            lambda: drafts.draft_clear(actor=bot, chat_id=team.pk),
            lambda: drafts.draft_list(actor=bot),
        ):
            with pytest.raises(DomainError) as refused:
                call_it()
            assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": "bot"})
        assert_unchanged(before)
        return
    if actor == "anonymous":
        client, status, code = api, 401, "AUTHENTICATION_FAILED"
    else:
        person = bob if actor == "kicked" else make_user("dave")
        client, status, code = client_for(person), 404, "NOT_FOUND"
        if actor == "kicked":
            member_kick(actor=alice, group_id=team.pk, user_id=bob.pk)
        if actor == "deactivated":
            User.objects.filter(pk=person.pk).update(is_active=False)
            status, code = 401, "AUTHENTICATION_FAILED"
    before = whole_database()
    assert_error(client.put(f"/api/chats/{team.pk}/draft", {"text": "sneaky"}, format="json"), status, code)
    assert_error(client.delete(f"/api/chats/{team.pk}/draft"), status, code)
    assert_unchanged(before)
    if actor in ("kicked", "stranger"):  # a draft of a chat one is no longer in is not shown
        assert check(client.get("/api/drafts"), 200) == []
    else:
        assert_error(client.get("/api/drafts"), status, code)


@pytest.mark.django_db
def test_a_draft_from_before_leaving_stays_hidden_after_rejoining(team, alice, bob):
    drafts.draft_save(actor=bob, chat_id=team.pk, text="before the kick")
    member_kick(actor=alice, group_id=team.pk, user_id=bob.pk)
    member_add(actor=alice, group_id=team.pk, user_id=bob.pk)
    assert drafts.draft_list(actor=bob) == []


# ---- live: the person's other connections only ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_frame_saves_and_only_the_other_devices_hear_it(ws, team, alice, bob):
    a1, b1, b2 = [await ws.connect(user) for user in (alice, bob, bob)]
    await b1.send("draft.update", {"chat_id": team.pk, "text": "from the laptop"})
    frame = await b2.frame()
    row = await call(Draft.objects.get, user=bob)
    assert frame == draft_frame(body(row))
    await b1.nothing()  # no echo to the saving connection
    await a1.nothing()
    await b2.send("draft.update", {"chat_id": team.pk, "text": ""})  # cleared on the phone
    cleared = await b1.frame()
    assert cleared["type"] == "draft.updated"
    assert {k: cleared["payload"][k] for k in ("chat_id", "text", "reply_to_id")} == {
        "chat_id": team.pk,
        "text": "",
        "reply_to_id": None,
    }
    await b2.nothing()
    await a1.nothing()
    assert await call(stored, user=bob) == []


@pytest.mark.django_db(transaction=True)
async def test_a_rest_save_reaches_every_connection_of_the_person(ws, team, alice, bob, client_for):
    a1, b1, b2 = [await ws.connect(user) for user in (alice, bob, bob)]
    client = await call(client_for, user=bob)
    response = await call(
        client.put, path=f"/api/chats/{team.pk}/draft", data={"text": "rest"}, format="json"
    )
    answer = check(response, 200)
    for device in (b1, b2):
        assert await device.frame() == draft_frame(answer)
    await a1.nothing()


@pytest.mark.django_db(transaction=True)
async def test_a_refused_frame_is_an_error_and_changes_nothing(ws, team, alice, bob, make_user):
    dave = await call(make_user, username="dave")
    d1 = await ws.connect(dave)
    b1 = await ws.connect(bob)
    error = await d1.error("draft.update", {"chat_id": team.pk, "text": "not mine"})
    assert error == error_frame("NOT_FOUND", event="draft.update")
    error = await b1.error("draft.update", {"chat_id": team.pk})
    assert error["payload"]["error_code"] == "VALIDATION_ERROR"
    assert error["payload"]["details"]["field"] == "text"
    await b1.nothing()
    await call(member_kick, actor=alice, group_id=team.pk, user_id=bob.pk)
    await b1.frames(1)  # group.member_removed
    error = await b1.error("draft.update", {"chat_id": team.pk, "text": "after the kick"})
    assert error == error_frame("NOT_FOUND", event="draft.update")
    assert await call(Draft.objects.count) == 0
