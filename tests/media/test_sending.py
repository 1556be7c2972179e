"""Sending uploads over REST: attachment_ids on POST /api/chats/<id>/messages, the derived
message_type, the attachments rendered alike in the answer, message.new, history and the chat list,
and the refusals (someone else's upload, a used one, too many, a chat one is not in)."""

from typing import Any

import pytest

from accounts.models import User
from chats.models import Message
from chats.realtime import render_for
from chats.sending import SendRequest, _Batch, message_send_many
from chats.services import message_delete, message_send
from groups.services import group_ban
from imsuite.errors import DomainError
from media.models import Attachment
from tests.chats.test_api import message_body

from .helpers import SAMPLES, refusal, rendered, upload_kind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("link_clock")]


def post(client: Any, chat_id: int, **body: Any) -> Any:
    return client.post(f"/api/chats/{chat_id}/messages", body, format="json")


def with_attachments(row: Message, viewer: User, got: dict[str, Any]) -> dict[str, Any]:
    """The exact REST message of a stored row for this viewer, its attachments those of the row
    (in the order sent) as `got` links them."""
    body = message_body(row, viewer)
    body["attachments"] = rendered(got["attachments"])
    assert [a["id"] for a in got["attachments"]] == [meta["id"] for meta in row.attachments or []]
    return body


def client_frames(inbox: Any, user: User) -> list[tuple[str, dict[str, Any]]]:
    """What the user's connections make of the events delivered to them: (type, payload)."""
    return [render_for(got["event"], got["data"], user.pk) for got in inbox.drain(user)]


# ---- sending each kind -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SAMPLES)
def test_send_each_kind_over_rest(
    group, alice, bob, carol, dave, client_for, inbox, django_capture_on_commit_callbacks, kind
):
    attachment_id = upload_kind(client_for(bob), kind)
    inbox.listen(alice, bob, carol, dave)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_for(bob), group.pk, content="look", attachment_ids=[attachment_id])
    assert response.status_code == 201, response.content
    body = response.json()
    row = Message.objects.get()
    assert (row.content, row.message_type, row.sender_id) == ("look", kind, bob.pk)
    assert body == with_attachments(row, bob, body)
    assert [a["id"] for a in body["attachments"]] == [attachment_id]
    stored = Attachment.objects.get(pk=attachment_id)
    assert (stored.message_id, stored.chat_id, stored.attached_at is not None) == (row.pk, group.pk, True)
    for member in (alice, bob, carol):
        [(name, payload)] = client_frames(inbox, member)
        assert name == "message.new"
        expected = with_attachments(row, member, payload["message"])
        if member != bob:
            del expected["client_msg_id"]
        assert payload["message"] == expected
    assert inbox.drain(dave) == []
    page = client_for(carol).get(f"/api/chats/{group.pk}/messages").json()
    assert page["results"] == [with_attachments(row, carol, page["results"][0])]


@pytest.mark.parametrize(
    "kinds, message_type",
    [
        (["image", "image"], "image"),
        (["video"], "video"),
        (["video", "video"], "video"),
        (["voice"], "voice"),
        (["file", "file"], "file"),
        (["image", "video"], "file"),
        (["image", "file"], "file"),
        (["voice", "voice"], "file"),
        (["voice", "image"], "file"),
    ],
)
def test_message_type_is_derived_from_the_attachments(pair, alice, client_for, kinds, message_type):
    client = client_for(alice)
    ids = [upload_kind(client, kind) for kind in kinds]
    response = post(client, pair.pk, content="", message_type="text", attachment_ids=ids)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["message_type"], body["content"]) == (message_type, "")
    assert [a["id"] for a in body["attachments"]] == ids  # in the order sent
    assert Message.objects.get().message_type == message_type


def test_the_caption_may_be_left_out(pair, alice, client_for):
    attachment_id = upload_kind(client_for(alice), "image")
    response = post(client_for(alice), pair.pk, attachment_ids=[attachment_id])
    assert response.status_code == 201, response.content
    assert (response.json()["content"], response.json()["message_type"]) == ("", "image")


def test_text_and_url_messages_carry_no_attachments(pair, alice, bob, client_for):
    client = client_for(alice)
    assert post(client, pair.pk, content="plain").json()["attachments"] == []
    url = post(client, pair.pk, content="https://cdn.example.com/cat.png", message_type="image").json()
    assert (url["message_type"], url["attachments"]) == ("image", [])
    assert [
        m["attachments"] for m in client_for(bob).get(f"/api/chats/{pair.pk}/messages").json()["results"]
    ] == [
        [],
        [],
    ]


def test_chat_list_last_message_carries_the_attachments(pair, alice, bob, client_for):
    attachment_id = upload_kind(client_for(alice), "voice")
    sent = post(client_for(alice), pair.pk, content="", attachment_ids=[attachment_id]).json()
    [item] = client_for(bob).get("/api/chats").json()
    row = Message.objects.get(pk=sent["id"])
    expected = with_attachments(row, bob, item["last_message"])
    assert item["last_message"] == expected


def test_a_deleted_message_shows_no_attachments(pair, alice, bob, client_for):
    attachment_id = upload_kind(client_for(alice), "image")
    sent = post(client_for(alice), pair.pk, content="oops", attachment_ids=[attachment_id]).json()
    message_delete(actor=alice, message_id=sent["id"])
    [got] = client_for(bob).get(f"/api/chats/{pair.pk}/messages").json()["results"]
    assert (got["is_deleted"], got["content"], got["attachments"]) == (True, "", [])


# ---- refusals --------------------------------------------------------------------------------------


def unattached(*ids: int) -> None:
    rows = Attachment.objects.filter(pk__in=ids).values_list("message_id", "chat_id", "attached_at")
    assert list(rows) == [(None, None, None)] * len(ids)


def attachment_refusal(response: Any, reason: str) -> None:
    refusal(response, 400, "VALIDATION_ERROR", {"field": "attachment_ids", "reason": reason})


def test_someone_elses_upload_is_not_found(pair, alice, bob, client_for):
    bobs = upload_kind(client_for(bob), "image")
    attachment_refusal(post(client_for(alice), pair.pk, content="", attachment_ids=[bobs]), "not_found")
    attachment_refusal(
        post(client_for(alice), pair.pk, content="", attachment_ids=[bobs + 1000]), "not_found"
    )
    unattached(bobs)
    assert not Message.objects.exists()


def test_an_upload_is_sent_once(pair, group, alice, client_for):
    attachment_id = upload_kind(client_for(alice), "file")
    assert post(client_for(alice), pair.pk, content="", attachment_ids=[attachment_id]).status_code == 201
    for chat in (pair, group):
        attachment_refusal(
            post(client_for(alice), chat.pk, content="", attachment_ids=[attachment_id]), "used"
        )
    assert Message.objects.count() == 1
    assert Attachment.objects.get(pk=attachment_id).chat_id == pair.pk


def test_too_many(pair, alice, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_ATTACHMENTS": 2, "RATE_LIMIT_UPLOADS": 100}
    ids = [upload_kind(client_for(alice), "file") for _ in range(3)]
    attachment_refusal(post(client_for(alice), pair.pk, content="", attachment_ids=ids), "too_many")
    unattached(*ids)
    assert post(client_for(alice), pair.pk, content="", attachment_ids=ids[:2]).status_code == 201


def test_an_upload_sent_to_a_chat_one_is_not_in(pair, carol, client_for):
    carols = upload_kind(client_for(carol), "image")
    response = post(client_for(carol), pair.pk, content="", attachment_ids=[carols])
    refusal(response, 404, "NOT_FOUND", {})
    unattached(carols)
    assert not Message.objects.exists()


def test_attachments_of_a_message_that_fails_stay_unused(pair, alice, bob, client_for):
    """One bad id refuses the whole message; the good uploads are not taken."""
    mine = upload_kind(client_for(alice), "image")
    bobs = upload_kind(client_for(bob), "image")
    attachment_refusal(post(client_for(alice), pair.pk, content="", attachment_ids=[mine, bobs]), "not_found")
    unattached(mine, bobs)
    assert post(client_for(alice), pair.pk, content="", attachment_ids=[mine]).status_code == 201


# ---- GET /api/attachments/<id> ---------------------------------------------------------------------


def fresh_links(client: Any, attachment_id: int) -> Any:
    return client.get(f"/api/attachments/{attachment_id}")


def test_fresh_links_for_the_uploader_then_the_chats_members(
    group, alice, bob, carol, dave, moderator, client_for
):
    attachment_id = upload_kind(client_for(bob), "image")
    got = fresh_links(client_for(bob), attachment_id)
    assert got.status_code == 200 and got.json() == rendered([got.json()])[0]
    for other in (alice, dave, moderator):  # an upload not sent yet is the uploader's alone
        refusal(fresh_links(client_for(other), attachment_id), 404, "NOT_FOUND", {})
    post(client_for(bob), group.pk, content="", attachment_ids=[attachment_id])
    for reader in (alice, bob, carol, moderator):
        got = fresh_links(client_for(reader), attachment_id)
        assert got.status_code == 200 and got.json() == rendered([got.json()])[0]
    refusal(fresh_links(client_for(dave), attachment_id), 404, "NOT_FOUND", {})
    refusal(fresh_links(client_for(alice), attachment_id + 1000), 404, "NOT_FOUND", {})


def test_fresh_links_end_with_the_message_or_the_membership(group, alice, bob, carol, client_for):
    attachment_id = upload_kind(client_for(bob), "voice")
    sent = post(client_for(bob), group.pk, content="", attachment_ids=[attachment_id]).json()
    assert fresh_links(client_for(carol), attachment_id).status_code == 200
    assert client_for(carol).post(f"/api/groups/{group.pk}/leave").status_code == 204
    refusal(fresh_links(client_for(carol), attachment_id), 404, "NOT_FOUND", {})
    message_delete(actor=bob, message_id=sent["id"])
    for member in (alice, bob):
        refusal(fresh_links(client_for(member), attachment_id), 404, "NOT_FOUND", {})


def test_fresh_links_need_a_signed_in_user(api, alice, client_for):
    attachment_id = upload_kind(client_for(alice), "file")
    response = fresh_links(api, attachment_id)
    assert (response.status_code, response.json()["error_code"]) == (401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize(
    "body, details",
    [
        ({"attachment_ids": []}, {"field": "attachment_ids", "reason": "empty"}),
        ({"attachment_ids": "1"}, {"field": "attachment_ids", "reason": "not_a_list"}),
        ({"attachment_ids": [0]}, {"field": "attachment_ids", "reason": "min_value"}),
        ({"attachment_ids": ["1"]}, {"field": "attachment_ids", "reason": "invalid"}),
        ({"attachment_ids": "dup"}, {"field": "attachment_ids", "reason": "duplicate"}),
        ({"content": "hi", "message_type": "voice"}, {"field": "message_type", "reason": "choice"}),
    ],
)
def test_bad_attachment_ids(pair, alice, client_for, body, details):
    mine = upload_kind(client_for(alice), "image")
    if body.get("attachment_ids") == "dup":
        body = {"attachment_ids": [mine, mine]}
    response = post(client_for(alice), pair.pk, **body)
    got = response.json()
    assert (response.status_code, got["error_code"]) == (400, "VALIDATION_ERROR"), got
    assert {key: got["details"].get(key) for key in details} == details, got
    unattached(mine)


# ---- editing, retrying and racing ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "file", "voice"])
def test_the_caption_of_a_message_with_files_is_edited_like_text(
    pair, alice, bob, client_for, inbox, django_capture_on_commit_callbacks, kind
):
    attachment_id = upload_kind(client_for(alice), kind)
    sent = post(client_for(alice), pair.pk, content="", attachment_ids=[attachment_id]).json()
    inbox.listen(bob)
    with django_capture_on_commit_callbacks(execute=True):
        edited = client_for(alice).patch(
            f"/api/messages/{sent['id']}", {"content": " a caption "}, format="json"
        )
    assert edited.status_code == 200, edited.content
    row = Message.objects.get()
    assert (row.content, row.message_type, row.is_edited) == ("a caption", kind, True)
    assert edited.json() == with_attachments(row, alice, edited.json())
    [(name, payload)] = client_frames(inbox, bob)
    assert name == "message.edit"
    assert payload["message"]["attachments"] == edited.json()["attachments"]
    cleared = client_for(alice).patch(f"/api/messages/{sent['id']}", {"content": ""}, format="json")
    assert (cleared.status_code, cleared.json()["content"]) == (200, "")


def test_a_retry_with_the_same_client_msg_id_answers_the_original(pair, alice, client_for):
    attachment_id = upload_kind(client_for(alice), "image")
    body = {"content": "", "attachment_ids": [attachment_id], "client_msg_id": "pic-1"}
    first = post(client_for(alice), pair.pk, **body)
    again = post(client_for(alice), pair.pk, **body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.count() == 1


def test_one_batch_sending_one_upload_twice_stores_it_once(pair, group, alice, client_for):
    """Two sends of one upload in the same batch (a WebSocket's frames stored together): the first
    takes it, the second is refused as used."""
    attachment_id = upload_kind(client_for(alice), "file")
    first, second = message_send_many(
        [
            SendRequest(alice, pair.pk, "", attachment_ids=[attachment_id]),
            SendRequest(alice, group.pk, "", attachment_ids=[attachment_id]),
        ]
    )
    message, created = first
    assert created and message.attachments[0]["id"] == attachment_id
    assert isinstance(second, DomainError) and second.details == {"field": "attachment_ids", "reason": "used"}
    assert Attachment.objects.get(pk=attachment_id).message_id == message.pk


def test_a_muted_member_keeps_the_upload(group, alice, bob, client_for):
    group_ban(actor=alice, group_id=group.pk, user_id=bob.pk, duration=600)
    attachment_id = upload_kind(client_for(bob), "image")
    response = post(client_for(bob), group.pk, content="", attachment_ids=[attachment_id])
    assert (response.status_code, response.json()["details"]["reason"]) == (403, "muted")
    unattached(attachment_id)


def test_a_reply_with_files(pair, alice, bob, client_for):
    question = post(client_for(bob), pair.pk, content="the photo?").json()
    attachment_id = upload_kind(client_for(alice), "image")
    response = post(
        client_for(alice), pair.pk, content="here", attachment_ids=[attachment_id], reply_to_id=question["id"]
    )
    assert response.status_code == 201, response.content
    assert (response.json()["reply_to_id"], response.json()["message_type"]) == (question["id"], "image")


def test_an_upload_taken_by_another_send_after_the_check(pair, alice, client_for, monkeypatch):
    """Another process's send claims the file between this send's check and its insert: this
    message is not stored (its seq and row roll back) and the answer is `used`."""
    attachment_id = upload_kind(client_for(alice), "image")
    other = message_send(actor=alice, chat_id=pair.pk, content="meanwhile")[0]
    count_rate = _Batch.count_rate

    def then_taken(batch: _Batch) -> None:
        count_rate(batch)
        Attachment.objects.filter(pk=attachment_id).update(message=other, chat_id=pair.pk)

    monkeypatch.setattr(_Batch, "count_rate", then_taken)
    attachment_refusal(post(client_for(alice), pair.pk, content="", attachment_ids=[attachment_id]), "used")
    assert list(Message.objects.values_list("pk", flat=True)) == [other.pk]
    assert Attachment.objects.get(pk=attachment_id).message_id == other.pk
