"""Media on the real server (daphne over TCP, 127.0.0.1): a file uploaded over HTTP as multipart,
sent over a real WebSocket, received by the other member with its attachment, and downloaded through
the signed link with exactly the bytes uploaded, by a client that sends no token."""

import asyncio
import http.client
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import recv_frame, send_frame
from tests.e2e.test_ws import (  # noqa: F401  (no_server_tracebacks: autouse, daphne logs no traceback)
    Opener,
    Person,
    as_seen_by_others,
    chat_ref,
    check,
    expect_connect,
    expect_presence,
    no_server_tracebacks,
    two_friends,
)
from tests.e2e.test_ws import (
    http as rest,
)
from tests.media import samples

# More than REQUEST_MAX_BYTES (1 MiB), which JSON bodies may not pass and uploads may.
FILE_BYTES = secrets.token_bytes(3 * 1024 * 1024 + 17)


@dataclass
class Download:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    base_url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Download:
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return Download(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def multipart(fields: dict[str, str], name: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser builds it, and its Content-Type."""
    boundary = f"----imsuite{secrets.token_hex(8)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def upload(base_url: str, person: Person, name: str, content: bytes, **fields: str) -> dict[str, Any]:
    body, content_type = multipart(fields, name, content, "application/octet-stream")
    headers = {
        "Authorization": f"Bearer {person.token}",
        "Content-Type": content_type,
        "Accept": "application/json",
    }
    reply = await asyncio.to_thread(request, base_url, "POST", "/api/uploads", body, headers)
    assert reply.status == 201, reply.body[:2000]
    return json.loads(reply.body)


def without_link(attachment: dict[str, Any]) -> dict[str, Any]:
    """The attachment object but its signed link (whose expiry moves on every quarter TTL)."""
    return {key: value for key, value in attachment.items() if key != "url"}


async def test_upload_send_receive_and_download(daphne_url: str, ws_clients: Opener) -> None:
    ann, ben, chat_id = await two_friends(daphne_url)
    attachment = await upload(daphne_url, ann, "report.bin", FILE_BYTES)
    assert without_link(attachment) == {
        "id": attachment["id"],
        "kind": "file",
        "name": "report.bin",
        "size": len(FILE_BYTES),
        "mime": "application/octet-stream",
        "width": None,
        "height": None,
        "duration": None,
        "waveform": None,
        "thumbnail": None,
    }
    assert attachment["url"].startswith(f"/media/{attachment['id']}/file?exp=")

    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=0)
    ben_ws = await ws_clients(daphne_url, query=f"token={ben.token}")
    await expect_connect(ben_ws, ben, last_seq=0)
    await expect_presence(ann_ws, ben, True)

    await send_frame(
        ann_ws,
        "message.send",
        {
            "chat_id": chat_id,
            "content": "the report",
            "attachment_ids": [attachment["id"]],
            "client_msg_id": "a1",
        },
    )
    ack = await recv_frame(ann_ws)
    sent = ack["payload"]["message"]
    assert (sent["message_type"], sent["content"], sent["client_msg_id"]) == ("file", "the report", "a1")
    [attached] = sent["attachments"]
    assert without_link(attached) == without_link(attachment)
    check(ack, "message.new", {"message": sent, "chat": chat_ref(chat_id, "Ben"), "sender": ann.ref()}, seq=1)
    got = await recv_frame(ben_ws)
    check(
        got,
        "message.new",
        {"message": as_seen_by_others(sent), "chat": chat_ref(chat_id, "Ann"), "sender": ann.ref()},
        seq=1,
    )

    # History over real HTTP (the ASGI fast path of history pages) renders the same attachment.
    page = await rest(daphne_url, "GET", f"/api/chats/{chat_id}/messages", token=ben.token, expect=200)
    [stored] = page["results"][0]["attachments"]
    assert without_link(stored) == without_link(attached)
    assert urlsplit(stored["url"]).path == urlsplit(attached["url"]).path

    download = await asyncio.to_thread(request, daphne_url, "GET", attached["url"])
    assert download.status == 200
    assert download.body == FILE_BYTES
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == 'attachment; filename="report.bin"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_voice_message_with_its_fields_over_http(daphne_url: str) -> None:
    ann, _, _ = await two_friends(daphne_url)
    voice = await upload(
        daphne_url, ann, "note.ogg", samples.ogg(), kind="voice", duration="2.5", waveform="[0,9,255]"
    )
    assert (voice["kind"], voice["mime"], voice["duration"], voice["waveform"]) == (
        "voice",
        "audio/ogg",
        2.5,
        [0, 9, 255],
    )
    download = await asyncio.to_thread(request, daphne_url, "GET", voice["url"])
    assert (download.status, download.body, download.headers["Content-Type"]) == (
        200,
        samples.ogg(),
        "audio/ogg",
    )
