"""Bots and media (issue 18), forward mode: a message's files reach the bot as kotori elements after
the caption in `message` and as attachment objects with absolute signed links in `attachments`; a
bot uploads with its token and sends what it uploaded through the same send, under the same checks
as a person (its own upload, once, a chat it may write to), and the same upload limits."""

import os
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from accounts.services import bot_token_rotate, friendship_create
from bots import events
from chats.models import Message
from chats.services import message_send, private_chat_ensure
from groups import services as groups
from groups.models import Group
from media.models import Attachment
from media.storage import media_storage
from tests.media.s3_server import s3_media, s3_server  # noqa: F401

from .helpers import (
    BASE,
    bot_client,
    call,
    download,
    failed,
    make_group,
    ok,
    person_client,
    png,
    send_files,
    signed,
    upload,
)

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def public_base(settings: Any, media_root: Any) -> None:
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def team(alice: User, bob: User, bot: User) -> Group:
    return make_group(alice, bot, bob)


def stored_bytes(attachment_id: int) -> bytes:
    with media_storage().open(Attachment.objects.get(pk=attachment_id).file) as stored:
        return stored.read()


def for_bot(uploaded: dict) -> dict:
    """The attachment object a bot receives: the upload's, with absolute signed links."""
    return uploaded | {
        "url": signed(uploaded["id"]),
        "thumbnail": signed(uploaded["id"], "thumb") if uploaded["thumbnail"] else None,
    }


# ---- on_message -------------------------------------------------------------------------------------


async def test_a_photo_with_its_caption(sockets, team, bob, bot_token):
    socket = await sockets.bot(bot_token)
    photo = await call(upload, person_client(bob), png(), "cat.png")
    message = await call(send_files, bob, team.pk, "Look at this", photo["id"])
    event = await socket.event()
    [attachment] = event["attachments"]
    assert (event["event"], event["messageId"], event["userId"], event["groupId"]) == (
        "on_message",
        message.pk,
        bob.pk,
        team.pk,
    )
    assert event["message"] == f"Look at this\n[image,{attachment['url']}]"
    assert event["attachments"] == [for_bot(photo)]
    assert attachment["thumbnail"] == signed(photo["id"], "thumb")
    assert await call(download, attachment["url"]) == await call(stored_bytes, photo["id"])
    thumbnail = await call(download, attachment["thumbnail"])
    assert (thumbnail[:4], thumbnail[8:12]) == (b"RIFF", b"WEBP")


async def test_files_without_a_caption_in_a_private_chat(sockets, bot, bot_token, bob):
    await call(friendship_create, user_a=bob, user_b=bot)
    chat = await call(private_chat_ensure, user_a=bob, user_b=bot)
    socket = await sockets.bot(bot_token)
    client = person_client(bob)
    photo = await call(upload, client, png(), "a.png")
    paper = await call(upload, client, PDF, "paper.pdf")
    await call(send_files, bob, chat.pk, "", photo["id"], paper["id"])
    event = await socket.event()
    links = [a["url"] for a in event["attachments"]]
    assert event["message"] == f"[image,{links[0]}]\n[file,{links[1]}]"
    assert event["attachments"] == [for_bot(photo), for_bot(paper)]
    assert await call(download, links[1]) == PDF


async def test_without_a_public_base_url_links_are_relative_and_one_warning_says_so(
    sockets, settings, caplog, team, bob, bot_token
):
    settings.PUBLIC_BASE_URL = ""
    events._warn_relative_links.cache_clear()
    socket = await sockets.bot(bot_token)
    for caption in ("one", "two"):
        photo = await call(upload, person_client(bob), png(), "a.png")
        await call(send_files, bob, team.pk, caption, photo["id"])
        event = await socket.event()
        url = event["attachments"][0]["url"]
        assert url.startswith(f"/media/{photo['id']}/file?exp=")
        assert event["message"] == f"{caption}\n[image,{url}]"
    warnings = [r for r in caplog.records if r.name == "bots.events" and r.levelname == "WARNING"]
    assert [r.getMessage()[:32] for r in warnings] == ["PUBLIC_BASE_URL is not set: bots"]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="the S3 path runs on the PG+Redis leg")
async def test_a_link_from_the_object_store(sockets, s3_media, team, bob, bot_token):  # noqa: F811
    """In production the bytes come from the object store: the bot's link answers 302 to a presigned
    URL there, which gives them."""
    socket = await sockets.bot(bot_token)
    paper = await call(upload, person_client(bob), PDF, "paper.pdf")
    await call(send_files, bob, team.pk, "", paper["id"])
    event = await socket.event()
    url = event["attachments"][0]["url"]
    assert event["message"] == f"[file,{url}]"
    assert (await call(Client().get, url.removeprefix(BASE))).status_code == 302
    assert await call(download, url) == PDF


@pytest.mark.parametrize(
    ("url", "element"),
    [
        (
            "https://h.test/media/1/file?exp=1&sig=a-b_c",
            "[image,https://h.test/media/1/file?exp=1&sig=a-b_c]",
        ),
        ("https://h.test/a,b/[c]/file?x=[1]", "[image,https://h.test/a%2Cb/%5Bc%5D/file?x=%5B1%5D]"),
        ("http://[::1]:8080/m/1/file", "[image,http://[::1]:8080/m/1/file]"),
        ("/m,1/file", "[image,/m%2C1/file]"),
    ],
)
def test_an_element_never_carries_what_would_end_or_split_it(url, element):
    """kotori's syntax has no escaping: commas and brackets of a link are percent-encoded, except an
    IPv6 host's brackets (they are its syntax)."""
    assert events.message_text("", [{"kind": "image", "url": url}]) == element


# ---- a bot uploads and sends ------------------------------------------------------------------------


async def test_a_bot_uploads_with_its_token_and_sends_the_file(sockets, team, bob, bot, bot_token):
    socket = await sockets.bot(bot_token)
    person = await sockets.person(bob)
    photo = await call(upload, bot_client(bot_token), png(64, 48), "chart.png")
    assert (photo["kind"], photo["width"], photo["height"]) == ("image", 64, 48)
    reply = await socket.act(
        "send_group_msg", echo=7, groupId=team.pk, message="Today's chart", attachmentIds=[photo["id"]]
    )
    stored = await call(lambda: Message.objects.get(sender=bot))
    assert reply == ok({"messageId": stored.pk}, 7)
    assert (stored.content, stored.message_type, [a["id"] for a in stored.attachments]) == (
        "Today's chart",
        "image",
        [photo["id"]],
    )
    seen = await person.until("message.new", lambda payload: payload["sender"]["id"] == bot.pk)
    assert [a["id"] for a in seen["message"]["attachments"]] == [photo["id"]]
    await socket.nothing()  # no event for its own message


async def test_a_bot_sends_a_private_file(sockets, alice, bot, bot_token):
    socket = await sockets.bot(bot_token)
    paper = await call(upload, bot_client(bot_token), PDF, "report.pdf")
    reply = await socket.act("send_private_msg", userId=alice.pk, message="", attachmentIds=[paper["id"]])
    assert reply["status"] == "ok", reply
    stored = await call(Message.objects.get, pk=reply["data"]["messageId"])
    assert (stored.content, stored.message_type, stored.sender_id) == ("", "file", bot.pk)


def someone_elses(bob: User, bot: User, team: Group, bot_token: str) -> int:
    return upload(person_client(bob), png(), "bobs.png")["id"]


def already_sent(bob: User, bot: User, team: Group, bot_token: str) -> int:
    attachment = upload(bot_client(bot_token), png(), "once.png")
    message_send(actor=bot, chat_id=team.pk, content="", attachment_ids=[attachment["id"]])
    return attachment["id"]


def unknown(bob: User, bot: User, team: Group, bot_token: str) -> int:
    return 10**9


@pytest.mark.parametrize(
    ("make_id", "reason"),
    [(someone_elses, "not_found"), (already_sent, "used"), (unknown, "not_found")],
    ids=["another user's", "already sent", "unknown"],
)
async def test_refused_attachments(sockets, team, bob, bot, bot_token, make_id, reason):
    attachment_id = await call(make_id, bob, bot, team, bot_token)
    socket = await sockets.bot(bot_token)
    before = await call(Message.objects.count)
    reply = await socket.act(
        "send_group_msg", echo="x", groupId=team.pk, message="", attachmentIds=[attachment_id]
    )
    assert reply == failed(1400, "x", f"(attachmentIds: {reason})")
    assert await call(Message.objects.count) == before


def not_a_member(alice: User, bob: User, bot: User, team: Group) -> int:
    return make_group(bob, alice, name="Not the bot's").pk


def muted(alice: User, bob: User, bot: User, team: Group) -> int:
    groups.group_ban(actor=alice, group_id=team.pk, user_id=bot.pk, duration=600)
    return team.pk


@pytest.mark.parametrize(("make_group_id", "retcode"), [(not_a_member, 1404), (muted, 1403)])
async def test_a_bot_cannot_send_its_file_where_it_may_not_write(
    sockets, alice, bob, bot, bot_token, team, make_group_id, retcode
):
    group_id = await call(make_group_id, alice, bob, bot, team)
    socket = await sockets.bot(bot_token)
    photo = await call(upload, bot_client(bot_token), png(), "a.png")
    reply = await socket.act("send_group_msg", groupId=group_id, message="", attachmentIds=[photo["id"]])
    assert reply == failed(retcode)
    assert await call(Attachment.objects.filter(pk=photo["id"], message__isnull=True).exists)


@pytest.mark.parametrize("ids", ["1", [1, "2"], [0], [True], {"id": 1}])
async def test_attachment_ids_of_the_wrong_type(sockets, team, bot_token, ids):
    socket = await sockets.bot(bot_token)
    reply = await socket.act("send_group_msg", groupId=team.pk, message="x", attachmentIds=ids)
    assert reply == failed(1400, mentions="attachmentIds")


@pytest.mark.parametrize("kind", ["image", "file"])
async def test_a_bot_sends_an_image_or_file_by_url_as_an_element(sockets, team, bot, bot_token, kind):
    """What kotori's sandbox adapter sends for an image by URL, alone in the message."""
    socket = await sockets.bot(bot_token)
    url = "https://example.com/pics/a,b.png?s=1"
    reply = await socket.act("send_group_msg", groupId=team.pk, message=f" [{kind},{url}]\n")
    stored = await call(Message.objects.get, pk=reply["data"]["messageId"])
    assert (stored.message_type, stored.content, stored.attachments) == (kind, url, None)


@pytest.mark.parametrize(
    "text",
    ["see [image,https://example.com/a.png]", "[image,ftp://example.com/a.png]", "[voice,https://e.com/a]"],
)
async def test_other_text_stays_text(sockets, team, bot_token, text):
    socket = await sockets.bot(bot_token)
    reply = await socket.act("send_group_msg", groupId=team.pk, message=text)
    stored = await call(Message.objects.get, pk=reply["data"]["messageId"])
    assert (stored.message_type, stored.content) == ("text", text)


# ---- the bot token on REST ----------------------------------------------------------------------------


def test_the_bot_token_reads_its_attachment(bot_token):
    photo = upload(bot_client(bot_token), png(), "a.png")
    response = bot_client(bot_token).get(f"/api/attachments/{photo['id']}")
    assert response.status_code == 200
    assert response.json()["id"] == photo["id"]


def revoked(alice: User, bot: User, token: str) -> str:
    bot_token_rotate(actor=alice, bot_id=bot.pk)
    return token


@pytest.mark.parametrize(
    "make_token",
    [lambda alice, bot, token: "imb_" + "x" * 43, revoked],
    ids=["unknown", "revoked"],
)
def test_a_bad_bot_token_is_refused(alice, bot, bot_token, make_token):
    response = bot_client(make_token(alice, bot, bot_token)).post(
        "/api/uploads", {"file": SimpleUploadedFile("a.png", png())}, format="multipart"
    )
    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"
    assert response.json()["details"]["reason"] == "token_invalid"
    assert not Attachment.objects.exists()


def test_the_bot_token_opens_no_other_endpoint(bot_token):
    response = bot_client(bot_token).get("/api/users/me")
    assert response.status_code == 401


def test_bot_uploads_count_against_the_rate_limit(settings, bot_token):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_UPLOADS": 2}
    client = bot_client(bot_token)
    for _ in range(2):
        upload(client, png(), "a.png")
    response = client.post("/api/uploads", {"file": SimpleUploadedFile("a.png", png())}, format="multipart")
    assert (response.status_code, response.json()["error_code"]) == (429, "RATE_LIMITED")


def test_bot_uploads_count_against_the_quota(settings, bot_token):
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_QUOTA_BYTES": len(PDF) + 10}
    client = bot_client(bot_token)
    upload(client, PDF, "a.pdf")
    response = client.post("/api/uploads", {"file": SimpleUploadedFile("b.pdf", PDF)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["details"]["reason"] == "quota"
