"""Uploading through the API and the exact attachment objects expected back, built from the rows."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from media import signing
from media.models import Attachment
from media.signing import media_path

from . import samples

ERROR_KEYS = {"error_code", "message", "details"}

SAMPLES: dict[str, tuple[bytes, str, dict[str, str]]] = {  # kind -> (bytes, name, extra form fields)
    "image": (samples.png(), "pic.png", {}),
    "video": (samples.mp4(), "clip.mp4", {"duration": "2.0"}),
    "voice": (samples.ogg(), "note.ogg", {"kind": "voice", "duration": "1.5", "waveform": "[1, 2, 3]"}),
    "file": (samples.pdf(), "doc.pdf", {}),
}


def upload_kind(client: Any, kind: str) -> int:
    content, name, fields = SAMPLES[kind]
    response = upload(client, content, name, **fields)
    assert response.status_code == 201 and response.json()["kind"] == kind, response.content
    return response.json()["id"]


def upload(client: Any, content: bytes, name: str = "file.bin", content_type: str = "", **fields: Any) -> Any:
    """POST /api/uploads as a browser's form would: the file part with its name and declared type,
    and any other fields as text parts."""
    part = SimpleUploadedFile(name, content, content_type=content_type or "application/octet-stream")
    return client.post("/api/uploads", {"file": part, **fields}, format="multipart")


def refusal(response: Any, status: int, code: str, details: dict[str, Any]) -> None:
    """The response is exactly this error: status, error_code and the whole of details."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["message"], str) and body["message"], body
    assert (body["error_code"], body["details"]) == (code, details), body


def link_expiry_of(url: str) -> int:
    """The expiry a link carries, checked to be one the server hands out now: at least
    MEDIA_URL_TTL_SECONDS ahead, at most a quarter of it more, on a multiple of that quarter."""
    expires = int(parse_qs(urlsplit(url).query)["exp"][0])
    ttl = settings.IMSUITE["MEDIA_URL_TTL_SECONDS"]
    step = max(1, ttl // 4)
    now = signing.time.time()  # the links' clock (tests may move it: conftest.link_clock)
    assert expires % step == 0, url
    assert now + ttl - 5 <= expires <= now + ttl + step + 5, (url, now)
    return expires


def attachment_object(row: Attachment, url: str) -> dict[str, Any]:
    """The exact attachment object of a stored row, with links expiring when `url` (one of the
    links actually handed out) does: every link of one rendering shares its expiry."""
    row.refresh_from_db()
    expires = link_expiry_of(url)
    return {
        "id": row.pk,
        "kind": row.kind,
        "name": row.name,
        "size": row.size,
        "mime": row.mime,
        "width": row.width,
        "height": row.height,
        "duration": row.duration,
        "waveform": row.waveform,
        "thumbnail": media_path(row.pk, "thumb", expires) if row.thumbnail else None,
        "url": media_path(row.pk, "file", expires),
    }


def rendered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attachment objects a client got, as expected from their rows."""
    return [attachment_object(Attachment.objects.get(pk=got["id"]), got["url"]) for got in objects]
