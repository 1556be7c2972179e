"""The core media path end to end through REST: upload, send, render, download."""

import io

import pytest
from PIL import Image

from accounts.services import friendship_create
from chats.models import Chat, Message
from media.models import Attachment


@pytest.fixture
def pair(alice, bob) -> Chat:
    friendship_create(user_a=alice, user_b=bob)
    return Chat.objects.get(type=Chat.Type.PRIVATE, members__user=bob)


def png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def upload(client, data: bytes, name: str, **fields):
    return client.post("/api/uploads", {"file": named(data, name), **fields}, format="multipart")


def named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_image_uploaded_sent_rendered_and_downloaded(pair, alice, bob, client_for):
    response = upload(client_for(alice), png(), "red.pdf")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("kind", "name", "mime", "width", "height")} == {
        "kind": "image",
        "name": "red.pdf",
        "mime": "image/png",
        "width": 40,
        "height": 20,
    }
    assert body["url"].startswith(f"/media/{body['id']}/file?exp=") and body["thumbnail"].startswith(
        f"/media/{body['id']}/thumb?"
    )
    sent = client_for(alice).post(
        f"/api/chats/{pair.pk}/messages", {"content": "look", "attachment_ids": [body["id"]]}, format="json"
    )
    assert sent.status_code == 201, sent.json()
    message = sent.json()
    assert message["message_type"] == "image" and message["content"] == "look"
    assert [a["id"] for a in message["attachments"]] == [body["id"]]
    history = client_for(bob).get(f"/api/chats/{pair.pk}/messages").json()["results"]
    url = history[0]["attachments"][0]["url"]
    download = client_for(bob).get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png" and download["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(b"".join(download.streaming_content))).size == (40, 20)
    assert Attachment.objects.get(pk=body["id"]).message_id == message["id"]
    again = client_for(alice).post(
        f"/api/chats/{pair.pk}/messages", {"attachment_ids": [body["id"]]}, format="json"
    )
    assert again.status_code == 400 and again.json()["details"]["reason"] == "used"
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=2-5", 206, (2, 5)),
        ("bytes=10-", 206, (10, 19)),
        ("bytes=-4", 206, (16, 19)),
        ("bytes=5-999", 206, (5, 19)),
        ("bytes=30-40", 200, None),  # beyond the end: the whole file
        ("bytes=1-2,4-5", 200, None),  # several ranges: the whole file
        ("items=1-2", 200, None),
    ],
)
def test_a_player_seeks_with_a_byte_range(alice, client_for, header, status, part):
    data = bytes(range(65, 85))  # 20 bytes of text
    body = upload(client_for(alice), data, "notes.txt").json()
    response = client_for(alice).get(body["url"], HTTP_RANGE=header)
    assert response.status_code == status
    got = b"".join(response.streaming_content)
    assert response["Accept-Ranges"] == "bytes"
    if part is None:
        assert got == data and "Content-Range" not in response
    else:
        assert got == data[part[0] : part[1] + 1]
        assert response["Content-Range"] == f"bytes {part[0]}-{part[1]}/20"
        assert response["Content-Length"] == str(part[1] - part[0] + 1)
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
