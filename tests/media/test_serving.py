"""GET /media/<id>/<variant>: signed links that need no token, expire and cannot be forged, the
exact bytes, and headers that never let an uploaded page or SVG run in the site's origin."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from media.models import Attachment
from media.signing import media_path
from media.storage import media_storage

from . import samples
from .helpers import link_expiry_of, refusal, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("link_clock")]

INLINE = "inline"


def uploaded(client: Any, content: bytes, name: str, **fields: Any) -> dict[str, Any]:
    response = upload(client, content, name, **fields)
    assert response.status_code == 201, response.content
    return response.json()


def fetch(url: str) -> Any:
    """A link opened as an <img> tag would: no Authorization header, no cookie."""
    return Client().get(url)


def body_of(response: Any) -> bytes:
    """The whole body; the test client closes a streamed response once it is read."""
    return b"".join(response.streaming_content) if response.streaming else response.content


SAFE = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'"}


def safety_headers(response: Any) -> dict[str, str]:
    return {
        "X-Content-Type-Options": response["X-Content-Type-Options"],
        "Content-Security-Policy": response["Content-Security-Policy"],
    }


# ---- the bytes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, name, fields, mime",
    [
        (samples.mp4(), "clip.mp4", {}, "video/mp4"),
        (samples.ogg(), "note.ogg", {"kind": "voice"}, "audio/ogg"),
    ],
    ids=["video", "voice"],
)
def test_audio_and_video_are_served_inline_with_their_bytes(alice, client_for, content, name, fields, mime):
    got = uploaded(client_for(alice), content, name, **fields)
    response = fetch(got["url"])
    assert response.status_code == 200
    assert body_of(response) == content
    assert (response["Content-Type"], response["Content-Disposition"].split(";")[0]) == (mime, INLINE)
    assert safety_headers(response) == SAFE


def test_an_image_and_its_thumbnail_are_served_inline(alice, client_for):
    got = uploaded(client_for(alice), samples.png(400, 200), "wide.png")
    row = Attachment.objects.get(pk=got["id"])
    response = fetch(got["url"])
    assert response.status_code == 200
    assert body_of(response) == media_storage().open(row.file).read()
    assert (response["Content-Type"], response["Content-Disposition"].split(";")[0]) == ("image/png", INLINE)
    thumbnail = fetch(got["thumbnail"])
    assert thumbnail.status_code == 200
    assert body_of(thumbnail) == media_storage().open(row.thumbnail).read()
    assert thumbnail["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("content", [samples.HTML, samples.SVG], ids=["html", "svg"])
def test_html_and_svg_are_downloads_that_never_run(alice, client_for, content):
    got = uploaded(client_for(alice), content, "evil.svg", content_type="image/svg+xml")
    response = fetch(got["url"])
    assert response.status_code == 200
    assert body_of(response) == content
    assert response["Content-Disposition"] == 'attachment; filename="evil.svg"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"  # stored as text/plain (sniffed)
    assert safety_headers(response) == SAFE


def test_a_pdf_is_a_download_as_octet_stream(alice, client_for):
    got = uploaded(client_for(alice), samples.pdf(), "minutes 12 ü.pdf")
    response = fetch(got["url"])
    assert response.status_code == 200
    assert body_of(response) == samples.pdf()
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''minutes%2012%20%C3%BC.pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


# ---- links that must not work ----------------------------------------------------------------------


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return parts.path + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def test_a_link_works_until_it_expires(alice, client_for, settings, link_clock):
    settings.IMSUITE = {**settings.IMSUITE, "MEDIA_URL_TTL_SECONDS": 40}
    got = uploaded(client_for(alice), samples.pdf(), "a.pdf")
    expires = link_expiry_of(got["url"])  # 40 to 50 s ahead, on a multiple of 10 s
    link_clock.now = expires
    assert body_of(fetch(got["url"])) == samples.pdf()
    link_clock.now = expires + 1
    refusal(fetch(got["url"]), 403, "PERMISSION_DENIED", {"reason": "link_expired"})
    fresh = client_for(alice).get(f"/api/attachments/{got['id']}").json()
    assert link_expiry_of(fresh["url"]) > expires
    assert body_of(fetch(fresh["url"])) == samples.pdf()


def test_a_link_signed_with_a_past_time(alice, client_for, link_clock):
    got = uploaded(client_for(alice), samples.pdf(), "a.pdf")
    response = fetch(media_path(got["id"], "file", int(link_clock.now) - 1))
    refusal(response, 403, "PERMISSION_DENIED", {"reason": "link_expired"})


@pytest.mark.parametrize(
    "forge",
    [
        lambda got: with_query(got["url"], sig="A" * 24),
        lambda got: with_query(got["url"], exp=str(link_expiry_of(got["url"]) + 3600)),
        lambda got: with_query(got["url"], exp="1e12"),
        lambda got: got["url"].split("?")[0],
        lambda got: got["url"].replace(f"/media/{got['id']}/", f"/media/{got['id'] + 1}/"),
        lambda got: got["url"].replace("/file?", "/thumb?"),
    ],
    ids=["signature", "later expiry", "not a number", "no query", "other id", "other variant"],
)
def test_a_forged_link(alice, client_for, forge):
    got = uploaded(client_for(alice), samples.pdf(), "a.pdf")
    uploaded(client_for(alice), samples.pdf(), "b.pdf")  # the other id exists
    refusal(fetch(forge(got)), 403, "PERMISSION_DENIED", {"reason": "bad_signature"})


def test_a_good_link_to_a_file_that_is_gone(alice, client_for):
    got = uploaded(client_for(alice), samples.pdf(), "a.pdf")
    row = Attachment.objects.get(pk=got["id"])
    media_storage().delete(row.file)
    refusal(fetch(got["url"]), 404, "NOT_FOUND", {})
    row.delete()
    refusal(fetch(media_path(got["id"], "file")), 404, "NOT_FOUND", {})


def test_a_thumbnail_link_of_a_file_without_one(alice, client_for):
    got = uploaded(client_for(alice), samples.pdf(), "a.pdf")
    assert got["thumbnail"] is None
    refusal(fetch(media_path(got["id"], "thumb")), 404, "NOT_FOUND", {})
