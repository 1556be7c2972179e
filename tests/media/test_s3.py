"""The S3 path against a real S3-compatible server (moto's standalone server over HTTP, see
s3_server.py): an upload lands in the bucket (a picture without its EXIF), a member's signed
/media/ link is answered 302 to a presigned URL on the store that gives the bytes with safe headers,
removal deletes the objects, and `manage.py media_bucket` creates the bucket.

PG+Redis leg only, as production is: the embedded leg keeps files on disk."""

import io
import os
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from accounts.models import User
from chats.models import Chat
from media.models import Attachment
from media.services import attachment_files_remove
from tests.e2e.conftest import free_port
from tests.media.s3_server import S3Server, s3_media, s3_server, s3_storage_config  # noqa: F401
from tests.media.test_core_path import pair, upload  # noqa: F401

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="the S3 path runs on the PG+Redis leg"
)


def stored_objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def photo_with_exif() -> bytes:
    """A 64x48 JPEG turned a quarter (EXIF orientation 6), with a camera name and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def sent(client: Any, chat: Chat, attachment_id: int) -> dict:
    """Send the attachment in the chat; the message as the sender's answer renders it."""
    response = client.post(
        f"/api/chats/{chat.pk}/messages", {"attachment_ids": [attachment_id]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def follow(client: Any, url: str, server: S3Server, bucket: str, key: str) -> tuple[dict[str, str], bytes]:
    """GET a signed /media/ link: 302 to a presigned URL of `key` on the store; fetch that."""
    response = client.get(url)
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(f"{server.endpoint_url}/{bucket}/{key}?")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query  # short, signed
    status, headers, body = fetch(location)
    assert status == 200
    return headers, body


def test_saved_files_land_in_the_bucket_and_never_replace_each_other(
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
) -> None:
    storage = storages["media"]
    first = storage.save("u/2026/12/" + "a" * 32, ContentFile(b"first bytes"))
    second = storage.save("u/2026/12/" + "a" * 32, ContentFile(b"second bytes"))
    assert first == "u/2026/12/" + "a" * 32 and second != first  # file_overwrite False
    assert stored_objects(s3_server, s3_media) == {first: b"first bytes", second: b"second bytes"}
    storage.delete(first)
    assert stored_objects(s3_server, s3_media) == {second: b"second bytes"}
    assert not storage.exists(first)


def test_objects_are_private(s3_server: S3Server, s3_media: str) -> None:  # noqa: F811
    name = storages["media"].save("u/2026/12/" + "b" * 32, ContentFile(b"x"))
    grants = s3_server.client().get_object_acl(Bucket=s3_media, Key=name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only
    assert all(grant["Grantee"].get("URI") is None for grant in grants)  # no AllUsers / AuthenticatedUsers


def test_presigned_links_give_the_bytes_with_the_headers_asked_for(s3_media: str) -> None:  # noqa: F811
    storage = storages["media"]
    name = storage.save("u/2026/12/" + "c" * 32, ContentFile(b"<svg onload=alert(1)></svg>"))
    disposition = "attachment; filename*=UTF-8''logo.svg"
    url = storage.url(
        name,
        parameters={
            "ResponseContentType": "application/octet-stream",
            "ResponseContentDisposition": disposition,
        },
        expire=60,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    status, headers, body = fetch(url)
    assert (status, body) == (200, b"<svg onload=alert(1)></svg>")
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == disposition


def test_links_are_signed_for_the_public_endpoint_when_it_differs(
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
    settings: Any,
) -> None:
    """The server writes through 127.0.0.1; clients are sent to the public name (here localhost)."""
    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    settings.STORAGES = {
        **settings.STORAGES,
        "media": s3_storage_config(s3_server, s3_media, public_endpoint_url=public),
    }
    storage = storages["media"]
    name = storage.save("u/2026/12/" + "d" * 32, ContentFile(b"public bytes"))
    assert stored_objects(s3_server, s3_media) == {name: b"public bytes"}
    url = storage.url(name, parameters={"ResponseContentType": "image/png"}, expire=30)
    assert url.startswith(f"{public}/{s3_media}/{name}?")
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]
    status, headers, body = fetch(url)
    assert (status, headers["content-type"], body) == (200, "image/png", b"public bytes")


def test_the_bucket_command_creates_the_bucket_once(s3_server: S3Server, settings: Any) -> None:  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "media": s3_storage_config(s3_server, "fresh-media-bucket")}
    out = io.StringIO()
    call_command("media_bucket", "--wait", "5", stdout=out)
    call_command("media_bucket", "--wait", "5", stdout=out)
    assert out.getvalue().splitlines() == [
        "Bucket fresh-media-bucket created.",
        "Bucket fresh-media-bucket already exists.",
    ]
    assert "fresh-media-bucket" in [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]


def test_the_bucket_command_gives_up_on_a_store_that_never_answers(
    s3_server: S3Server,  # noqa: F811
    settings: Any,
) -> None:
    nowhere = S3Server(f"http://127.0.0.1:{free_port()}", s3_server.log_path)
    settings.STORAGES = {**settings.STORAGES, "media": s3_storage_config(nowhere, "any-bucket")}
    with pytest.raises(CommandError, match=r"The object store did not answer within 0\.5 s"):
        call_command("media_bucket", "--wait", "0.5")


def test_the_bucket_command_has_nothing_to_do_with_filesystem_storage() -> None:
    out = io.StringIO()
    call_command("media_bucket", stdout=out)
    assert out.getvalue() == "Media storage is not S3: no bucket to create.\n"


@dataclass
class Conversation:
    """Alice and Bob's chat, with media kept in a bucket of the test's S3 server."""

    server: S3Server
    bucket: str
    chat: Chat
    alice: Any  # signed-in API clients
    bob: Any

    def objects(self) -> dict[str, bytes]:
        return stored_objects(self.server, self.bucket)

    def upload(self, data: bytes, name: str) -> Attachment:
        """Alice uploads a file; its row."""
        response = upload(self.alice, data, name)
        assert response.status_code == 201, response.json()
        return Attachment.objects.get(pk=response.json()["id"])

    def bob_downloads(self, url: str, key: str) -> tuple[dict[str, str], bytes]:
        return follow(self.bob, url, self.server, self.bucket, key)


@pytest.fixture
def conversation(
    s3_server: S3Server,  # noqa: F811
    s3_media: str,  # noqa: F811
    pair: Chat,  # noqa: F811
    alice: User,
    bob: User,
    client_for: Any,
) -> Conversation:
    return Conversation(s3_server, s3_media, pair, client_for(alice), client_for(bob))


def test_a_photo_is_stored_without_exif_and_members_get_it_from_the_store(conversation: Conversation) -> None:
    row = conversation.upload(photo_with_exif(), "holiday.jpg")
    objects = conversation.objects()
    assert set(objects) == {row.file, row.thumbnail} and row.thumbnail == row.file + ".thumb"
    stored = Image.open(io.BytesIO(objects[row.file]))
    assert (stored.format, stored.size) == ("JPEG", (48, 64))  # turned upright
    assert dict(stored.getexif()) == {} and b"SpyCam" not in objects[row.file]
    assert row.size == len(objects[row.file])
    assert Image.open(io.BytesIO(objects[row.thumbnail])).format == "WEBP"

    message = sent(conversation.alice, conversation.chat, row.pk)
    history = conversation.bob.get(f"/api/chats/{conversation.chat.pk}/messages").json()["results"]
    [attachment] = history[0]["attachments"]
    assert attachment["id"] == row.pk == message["attachments"][0]["id"]
    headers, body = conversation.bob_downloads(attachment["url"], row.file)
    assert body == objects[row.file]
    assert headers["content-type"] == "image/jpeg"
    assert headers["content-disposition"] == 'inline; filename="holiday.jpg"'
    headers, body = conversation.bob_downloads(attachment["thumbnail"], row.thumbnail)
    assert body == objects[row.thumbnail]
    assert headers["content-type"] == "image/webp"
    assert headers["content-disposition"] == 'inline; filename="holiday.webp"'


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><script>alert(document.cookie)</script></html>", "page.html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg"),
    ],
)
def test_a_page_or_svg_is_kept_byte_for_byte_and_comes_back_as_a_download(
    conversation: Conversation, data: bytes, name: str
) -> None:
    row = conversation.upload(data, name)
    assert (row.kind, row.thumbnail) == ("file", "")
    assert conversation.objects() == {row.file: data}
    [attachment] = sent(conversation.alice, conversation.chat, row.pk)["attachments"]
    headers, body = conversation.bob_downloads(attachment["url"], row.file)
    assert body == data
    assert headers["content-type"] == "text/plain; charset=utf-8"  # never text/html or image/svg+xml
    assert headers["content-disposition"] == f'attachment; filename="{name}"'


def test_links_send_clients_to_the_public_endpoint(conversation: Conversation, settings: Any) -> None:
    public = conversation.server.endpoint_url.replace("127.0.0.1", "localhost")
    settings.STORAGES = {
        **settings.STORAGES,
        "media": s3_storage_config(conversation.server, conversation.bucket, public_endpoint_url=public),
    }
    row = conversation.upload(b"notes, plain text\n", "notes.txt")
    [attachment] = sent(conversation.alice, conversation.chat, row.pk)["attachments"]
    public_server = S3Server(public, conversation.server.log_path)
    headers, body = follow(conversation.bob, attachment["url"], public_server, conversation.bucket, row.file)
    assert body == b"notes, plain text\n"
    assert headers["content-disposition"] == 'attachment; filename="notes.txt"'


def test_removed_attachments_leave_nothing_in_the_bucket(conversation: Conversation) -> None:
    photo = conversation.upload(photo_with_exif(), "a.jpg")
    kept = conversation.upload(b"%PDF-1.4 kept", "kept.pdf")
    [attachment] = sent(conversation.alice, conversation.chat, photo.pk)["attachments"]
    assert len(conversation.objects()) == 3
    assert attachment_files_remove(Attachment.objects.filter(pk=photo.pk)) == 1
    assert conversation.objects() == {kept.file: b"%PDF-1.4 kept"}
    assert not Attachment.objects.filter(pk=photo.pk).exists()
    gone = conversation.bob.get(attachment["url"])
    assert (gone.status_code, gone.json()["error_code"]) == (404, "NOT_FOUND")
