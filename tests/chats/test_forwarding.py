"""Forwarding (chats.forwarding): the authorization matrix with the whole database unchanged on
each refusal, the forward's mark and files, per-chat results, retries, events and bots."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from accounts.services import friendship_create
from bots.events import message_object
from chats.forwarding import message_forward
from chats.models import Message
from chats.realtime import render_for
from chats.selectors import message_event_data
from chats.services import message_delete, message_send, private_chat_ensure, sync_page
from imsuite.errors import DomainError
from media.models import Attachment
from media.services import attachment_upload, files_remove
from media.storage import media_storage
from tests.accounts.test_api import assert_error, check
from tests.chats.forward_pin_world import ACTORS, build_world, client_of
from tests.db_state import assert_unchanged, whole_database
from tests.media.conftest import png

pytestmark = pytest.mark.django_db

# The answer to "forward the member's message to Team" (the blocked member: to their private chat
# with the pal who blocked them): a status, or the details.reason of a 403.
FORWARD = {
    "anonymous": 401,
    "outsider": 404,
    "member": 200,
    "admin": 200,
    "owner": 200,
    "moderator": 404,
    "bot": 200,
    "banned": 404,
    "muted": "muted",
    "blocked": "blocked",
}
assert tuple(FORWARD) == ACTORS


@pytest.fixture
def world(make_user: Callable[..., User]) -> SimpleNamespace:
    return build_world(make_user)


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def origin(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "message_id": w.hello.pk,
        "chat_id": w.gid,
        "sender_id": w.member.pk,
        "sender_name": "Member",
        "sent_at": iso(w.hello.created_at),
    }


def forward_as(w: SimpleNamespace, who: str, client, chat_ids: list[int]) -> Any:
    """Forward `hello` as this actor: the response over REST, the bot through the service."""
    url = f"/api/messages/{w.hello.pk}/forward"
    if who == "bot":
        try:
            results = message_forward(actor=w.bot, message_id=w.hello.pk, chat_ids=chat_ids)
        except DomainError as error:
            return error
        return results
    return client.post(url, {"chat_ids": chat_ids}, format="json")


@pytest.mark.parametrize("who", ACTORS)
def test_forward_matrix(world, who, api, client_for):
    w = world
    target = w.pals.pk if who == "blocked" else w.gid
    expected = FORWARD[who]
    client = client_of(w, who, api, client_for)
    before = whole_database()
    count = Message.objects.count()
    answer = forward_as(w, who, client, [target])
    if expected == 200:
        actor = getattr(w, who)
        new = Message.objects.get(pk=Message.objects.order_by("-pk").values_list("pk", flat=True)[0])
        assert Message.objects.count() == count + 1
        assert (new.chat_id, new.sender_id, new.content, new.message_type) == (
            target,
            actor.pk,
            "hello team",
            "text",
        )
        assert new.forwarded_from == origin(w)
        assert new.mentions is None and new.client_msg_id is None
        if who == "bot":
            assert answer == [(target, (new, True))]
        else:
            body = check(answer, 200)
            assert [
                (r["chat_id"], r["message"]["id"], r["created"], r["error"]) for r in body["results"]
            ] == [(target, new.pk, True, None)]
            assert body["results"][0]["message"]["forwarded_from"] == origin(w)
        return
    if isinstance(expected, int):
        code = {401: "AUTHENTICATION_FAILED", 404: "NOT_FOUND"}[expected]
        assert_error(answer, expected, code)
    else:
        assert_error(answer, 403, "PERMISSION_DENIED", reason=expected)
    assert_unchanged(before)


def test_per_chat_results_send_where_allowed_and_refuse_the_rest(world, client_for):
    """One refused chat does not hold back the others; each has its own answer."""
    w = world
    body = check(
        client_for(w.member).post(
            f"/api/messages/{w.hello.pk}/forward", {"chat_ids": [w.pals.pk, w.gid, 999999]}, format="json"
        ),
        200,
    )
    new = Message.objects.get(chat_id=w.gid, forwarded_from__isnull=False)
    results = body["results"]
    assert [r["chat_id"] for r in results] == [w.pals.pk, w.gid, 999999]
    assert (results[0]["message"], results[0]["created"]) == (None, False)
    assert results[0]["error"]["error_code"] == "PERMISSION_DENIED"
    assert results[0]["error"]["details"] == {"reason": "blocked"}
    assert (results[1]["message"]["id"], results[1]["created"], results[1]["error"]) == (new.pk, True, None)
    assert results[2]["error"]["error_code"] == "NOT_FOUND" and results[2]["message"] is None
    assert Message.objects.filter(forwarded_from__isnull=False).count() == 1


@pytest.mark.parametrize(
    ("chat_ids", "field", "reason"),
    [([], "chat_ids", None), ([1] * 2, "chat_ids", "duplicate"), (list(range(1, 12)), "chat_ids", "count")],
)
def test_bad_targets_are_refused_and_change_nothing(world, client_for, chat_ids, field, reason):
    w = world
    client = client_for(w.member)
    before = whole_database()
    body = assert_error(
        client.post(f"/api/messages/{w.hello.pk}/forward", {"chat_ids": chat_ids}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert field in str(body["details"])
    if reason:
        assert reason in str(body["details"])
    assert_unchanged(before)


def test_a_retry_with_the_same_client_msg_id_stores_nothing_more(world, client_for):
    w = world
    url = f"/api/messages/{w.hello.pk}/forward"
    first = check(
        client_for(w.admin).post(url, {"chat_ids": [w.gid], "client_msg_id": "f-1"}, format="json"), 200
    )
    again = check(
        client_for(w.admin).post(url, {"chat_ids": [w.gid], "client_msg_id": "f-1"}, format="json"), 200
    )
    new = Message.objects.get(forwarded_from__isnull=False)
    assert new.client_msg_id == f"f-1/{w.gid}"
    assert [r["created"] for r in first["results"]] == [True]
    assert [r["created"] for r in again["results"]] == [False]
    assert first["results"][0]["message"]["id"] == again["results"][0]["message"]["id"] == new.pk


def test_the_mark_stays_when_the_original_is_recalled_and_a_forward_of_a_forward_names_the_first(world):
    w = world
    [(_, (first, _))] = message_forward(actor=w.admin, message_id=w.hello.pk, chat_ids=[w.gid])
    message_delete(actor=w.member, message_id=w.hello.pk)
    [(_, (second, _))] = message_forward(actor=w.owner, message_id=first.pk, chat_ids=[w.gid])
    first.refresh_from_db()
    assert first.forwarded_from == second.forwarded_from == origin(w)
    assert first.content == second.content == "hello team"


def test_a_recalled_message_cannot_be_forwarded(world, client_for):
    w = world
    message_delete(actor=w.member, message_id=w.hello.pk)
    client = client_for(w.admin)
    before = whole_database()
    answer = client.post(f"/api/messages/{w.hello.pk}/forward", {"chat_ids": [w.gid]}, format="json")
    assert_error(answer, 409, "CONFLICT", reason="deleted")
    assert_unchanged(before)


def test_a_forward_mentions_nobody(world, make_user):
    w = world
    text, _ = message_send(actor=w.owner, chat_id=w.gid, content="@Admin look")
    assert text.mentions == [w.admin.pk]
    [(_, (new, _))] = message_forward(actor=w.member, message_id=text.pk, chat_ids=[w.gid])
    assert new.mentions is None


def test_the_event_is_message_new_with_the_mark(world, inbox, django_capture_on_commit_callbacks):
    w = world
    inbox.listen(w.owner)
    with django_capture_on_commit_callbacks(execute=True):
        [(_, (new, _))] = message_forward(actor=w.admin, message_id=w.hello.pk, chat_ids=[w.gid])
    [event] = inbox.drain(w.owner)
    assert event["event"] == "message.new"
    frame_type, payload = render_for("message.new", event["data"], w.owner.pk)
    assert frame_type == "message.new"
    assert payload["message"]["id"] == new.pk
    assert payload["message"]["forwarded_from"] == origin(w)
    assert payload["message"]["content"] == "hello team"


def test_bots_see_the_mark_as_an_addition(world):
    w = world
    [(_, (new, _))] = message_forward(actor=w.admin, message_id=w.hello.pk, chat_ids=[w.gid])
    assert message_object(message_event_data(new), w.bot.pk)["forwardedFrom"] == origin(w)
    assert "forwardedFrom" not in message_object(message_event_data(w.hello), w.bot.pk)


# --- files ------------------------------------------------------------------------------------------


@pytest.fixture
def with_photo(world, media_root, make_user) -> SimpleNamespace:
    """The owner sends a photo to Team; carol, the member's friend, shares a private chat with them."""
    w = world
    w.carol = make_user("carol", nickname="Carol")
    friendship_create(user_a=w.member, user_b=w.carol)
    w.with_carol = private_chat_ensure(user_a=w.member, user_b=w.carol)
    photo = attachment_upload(
        actor=w.owner, upload=SimpleUploadedFile("p.png", png(), content_type="image/png")
    )
    w.photo_message, _ = message_send(actor=w.owner, chat_id=w.gid, content="", attachment_ids=[photo.pk])
    w.photo = photo
    return w


def test_forwarded_files_are_copies_readable_by_the_target_chat_only(with_photo, client_for, api):
    w = with_photo
    body = check(
        client_for(w.member).post(
            f"/api/messages/{w.photo_message.pk}/forward", {"chat_ids": [w.with_carol.pk]}, format="json"
        ),
        200,
    )
    [sent] = body["results"][0]["message"]["attachments"]
    copy = Attachment.objects.get(pk=sent["id"])
    assert copy.pk != w.photo.pk
    assert (copy.file, copy.thumbnail, copy.uploader_id, copy.chat_id) == (
        w.photo.file,
        w.photo.thumbnail,
        w.member.pk,
        w.with_carol.pk,
    )
    assert Message.objects.get(pk=body["results"][0]["message"]["id"]).message_type == "image"
    fetched = api.get(sent["url"])  # the message's signed link
    assert fetched.status_code == 200
    with media_storage().open(w.photo.file) as stored:
        assert b"".join(fetched.streaming_content) == stored.read()
    check(client_for(w.carol).get(f"/api/attachments/{copy.pk}"), 200)
    assert_error(client_for(w.owner).get(f"/api/attachments/{copy.pk}"), 404, "NOT_FOUND")
    assert_error(client_for(w.carol).get(f"/api/attachments/{w.photo.pk}"), 404, "NOT_FOUND")


def test_a_copy_keeps_its_file_when_the_original_goes(with_photo):
    w = with_photo
    [(_, (new, _))] = message_forward(
        actor=w.member, message_id=w.photo_message.pk, chat_ids=[w.with_carol.pk]
    )
    copy = Attachment.objects.get(message=new)
    assert files_remove([w.photo]) == [w.photo]
    assert not Attachment.objects.filter(pk=w.photo.pk).exists()
    assert media_storage().exists(copy.file) and media_storage().exists(copy.thumbnail)
    assert files_remove([copy]) == [copy]
    assert not media_storage().exists(copy.file)


def test_history_and_sync_show_the_mark(world, client_for):
    w = world
    [(_, (new, _))] = message_forward(actor=w.admin, message_id=w.hello.pk, chat_ids=[w.gid])
    page = check(client_for(w.owner).get(f"/api/chats/{w.gid}/messages"), 200)["results"]
    assert [(m["id"], m.get("forwarded_from")) for m in page] == [(new.pk, origin(w)), (w.hello.pk, None)]
    changes = sync_page(actor=w.owner, after=new.seq - 1, since=new.seq - 1)
    assert [(name, data["message"]["id"], data["message"]["forwarded_from"]) for name, data in changes] == [
        ("message.new", new.pk, origin(w))
    ]
