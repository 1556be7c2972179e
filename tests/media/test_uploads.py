"""POST /api/uploads: each kind stored from its bytes, the exact attachment object back, and every
refusal with its exact body; GET /api/attachments/<id> for whom may see the file."""

import json
from types import SimpleNamespace
from typing import Any

import pytest

from media.models import Attachment
from media.storage import media_storage

from . import samples
from .helpers import attachment_object, refusal, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("link_clock")]


def stored_bytes(row: Attachment) -> bytes:
    with media_storage().open(row.file, "rb") as handle:
        return handle.read()


def uploaded(response: Any) -> tuple[Attachment, dict[str, Any]]:
    """The row behind a 201 answer, and the answer, checked to be exactly that row's object."""
    assert response.status_code == 201, response.content
    body = response.json()
    row = Attachment.objects.get(pk=body["id"])
    assert body == attachment_object(row, body["url"])
    return row, body


# ---- each kind -----------------------------------------------------------------------------------


def test_image_upload_is_measured_thumbnailed_and_private_to_its_uploader(alice, client_for):
    row, body = uploaded(upload(client_for(alice), samples.png(40, 30), "holiday.png", "image/png"))
    assert (body["kind"], body["name"], body["mime"], body["width"], body["height"]) == (
        "image",
        "holiday.png",
        "image/png",
        40,
        30,
    )
    assert (body["duration"], body["waveform"]) == (None, None)
    assert body["thumbnail"] is not None and row.thumbnail == row.file + ".thumb"
    assert (row.uploader_id, row.message_id, row.chat_id, row.attached_at) == (alice.pk, None, None, None)
    assert body["size"] == len(stored_bytes(row)) == media_storage().size(row.file)


def test_video_upload_keeps_its_duration_and_bytes(alice, client_for):
    row, body = uploaded(upload(client_for(alice), samples.mp4(), "clip.mp4", "video/mp4", duration="12.5"))
    assert (body["kind"], body["mime"], body["duration"], body["waveform"], body["thumbnail"]) == (
        "video",
        "video/mp4",
        12.5,
        None,
        None,
    )
    assert stored_bytes(row) == samples.mp4() and body["size"] == len(samples.mp4())


def test_voice_upload_keeps_duration_and_waveform(alice, client_for):
    waveform = [0, 12, 80, 255, 40] + [7] * 59  # 64 levels, the most there may be
    response = upload(
        client_for(alice),
        samples.ogg(),
        "note.ogg",
        "audio/ogg",
        kind="voice",
        duration="3.4",
        waveform=json.dumps(waveform),
    )
    row, body = uploaded(response)
    assert (body["kind"], body["mime"], body["duration"], body["waveform"]) == (
        "voice",
        "audio/ogg",
        3.4,
        waveform,
    )
    assert (body["width"], body["height"], body["thumbnail"]) == (None, None, None)
    assert stored_bytes(row) == samples.ogg()


def test_a_browser_recording_in_webm_is_a_voice_message(alice, client_for):
    """Chromium's MediaRecorder writes Opus in WebM, which reads as video/webm: as a voice message
    it is audio/webm; without kind it stays a video."""
    row, body = uploaded(upload(client_for(alice), samples.webm(), "voice.webm", kind="voice", duration="1"))
    assert (body["kind"], body["mime"], body["duration"]) == ("voice", "audio/webm", 1.0)
    assert stored_bytes(row) == samples.webm()
    _, body = uploaded(upload(client_for(alice), samples.webm(), "clip.webm"))
    assert (body["kind"], body["mime"]) == ("video", "video/webm")


def test_audio_without_kind_voice_is_a_file(alice, client_for):
    _, body = uploaded(upload(client_for(alice), samples.ogg(), "song.ogg", "audio/ogg"))
    assert (body["kind"], body["mime"], body["duration"], body["waveform"]) == (
        "file",
        "audio/ogg",
        None,
        None,
    )


def test_any_other_file_is_a_file_with_its_bytes_kept(alice, client_for):
    row, body = uploaded(upload(client_for(alice), samples.pdf(), "minutes.pdf", "application/pdf"))
    assert (body["kind"], body["mime"], body["width"], body["thumbnail"]) == (
        "file",
        "application/pdf",
        None,
        None,
    )
    assert stored_bytes(row) == samples.pdf()


def test_the_type_comes_from_the_bytes_not_the_name_or_the_header(alice, client_for):
    _, body = uploaded(upload(client_for(alice), samples.png(), "x.pdf", "application/pdf"))
    assert (body["kind"], body["mime"], body["name"]) == ("image", "image/png", "x.pdf")
    _, body = uploaded(upload(client_for(alice), samples.pdf(), "cat.png", "image/png"))
    assert (body["kind"], body["mime"]) == ("file", "application/pdf")


@pytest.mark.parametrize("content", [samples.HTML, samples.SVG], ids=["html", "svg"])
def test_html_and_svg_are_never_stored_as_a_type_a_browser_runs(alice, client_for, content):
    _, body = uploaded(upload(client_for(alice), content, "page.html", "text/html"))
    assert (body["kind"], body["mime"]) == ("file", "text/plain")  # never text/html or image/svg+xml


# ---- refusals --------------------------------------------------------------------------------------


def no_rows_nor_files(media_dir) -> None:
    assert not Attachment.objects.exists()
    assert not [path for path in media_dir.rglob("*") if path.is_file()]


def test_too_large(alice, client_for, settings, media_dir):
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_MAX_BYTES": 100}
    uploaded(upload(client_for(alice), b"a" * 100, "fits.txt"))
    response = upload(client_for(alice), b"a" * 101, "big.txt")
    refusal(response, 413, "VALIDATION_ERROR", {"field": "file", "reason": "too_large", "max_bytes": 100})
    assert Attachment.objects.count() == 1


def test_quota(alice, bob, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_QUOTA_BYTES": 150}
    uploaded(upload(client_for(alice), b"a" * 100, "one.txt"))
    response = upload(client_for(alice), b"b" * 51, "two.txt")
    details = {"field": "file", "reason": "quota", "used": 100, "quota": 150}
    refusal(response, 413, "VALIDATION_ERROR", details)
    uploaded(upload(client_for(alice), b"c" * 50, "three.txt"))  # exactly the quota
    uploaded(upload(client_for(bob), b"d" * 120, "bobs.txt"))  # a quota is one person's
    assert Attachment.objects.filter(uploader=alice).count() == 2


def test_empty_file(alice, client_for, media_dir):
    refusal(
        upload(client_for(alice), b"", "nothing.txt"),
        400,
        "VALIDATION_ERROR",
        {"field": "file", "reason": "empty"},
    )
    no_rows_nor_files(media_dir)


def test_voice_that_is_not_audio(alice, client_for, media_dir):
    response = upload(client_for(alice), samples.png(), "note.ogg", "audio/ogg", kind="voice")
    refusal(response, 400, "VALIDATION_ERROR", {"field": "file", "reason": "type"})
    no_rows_nor_files(media_dir)


def test_missing_file_field(alice, client_for, media_dir):
    response = client_for(alice).post("/api/uploads", {"kind": "voice"}, format="multipart")
    refusal(response, 400, "VALIDATION_ERROR", {"field": "file", "reason": "required"})
    no_rows_nor_files(media_dir)


def test_a_body_that_is_not_multipart(alice, client_for, media_dir):
    response = client_for(alice).post("/api/uploads", {"file": "aGVsbG8="}, format="json")
    refusal(response, 415, "UNSUPPORTED_MEDIA_TYPE", {"reason": "unsupported_media_type"})
    no_rows_nor_files(media_dir)


@pytest.mark.parametrize(
    "fields, field, reason",
    [
        ({"kind": "image"}, "kind", "choice"),
        ({"duration": "-1"}, "duration", "range"),
        ({"duration": "86400.5"}, "duration", "range"),
        ({"duration": "soon"}, "duration", "range"),
        ({"duration": "nan"}, "duration", "range"),
        ({"waveform": "[256]"}, "waveform", "format"),
        ({"waveform": json.dumps([1] * 65)}, "waveform", "format"),
        ({"waveform": "not json"}, "waveform", "format"),
        ({"waveform": '{"a": 1}'}, "waveform", "format"),
        ({"waveform": "[" * 5000 + "]" * 5000}, "waveform", "format"),
        ({"waveform": "[1.0, NaN]"}, "waveform", "format"),
        ({"waveform": "[true]"}, "waveform", "format"),
        ({"caption": "hi"}, "caption", "unknown_field"),
    ],
)
def test_bad_fields(alice, client_for, media_dir, fields, field, reason):
    response = upload(client_for(alice), samples.ogg(), "note.ogg", **{"kind": "voice", **fields})
    refusal(response, 400, "VALIDATION_ERROR", {"field": field, "reason": reason})
    no_rows_nor_files(media_dir)


def test_duration_and_waveform_at_their_limits(alice, client_for):
    waveform = [255] * 64
    response = upload(
        client_for(alice),
        samples.ogg(),
        "n.ogg",
        kind="voice",
        duration="86400",
        waveform=json.dumps(waveform),
    )
    _, body = uploaded(response)
    assert (body["duration"], body["waveform"]) == (86400.0, waveform)


def test_rate_limit(alice, bob, client_for, settings, monkeypatch):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_UPLOADS": 2, "RATE_LIMIT_UPLOADS_WINDOW_SECONDS": 60}
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=lambda: 1_700_000_010.5))
    for n in range(2):
        uploaded(upload(client_for(alice), b"x", f"{n}.txt"))
    response = upload(client_for(alice), b"x", "third.txt")
    refusal(response, 429, "RATE_LIMITED", {"retry_after": 30, "limit": 2, "window_seconds": 60})
    assert response["Retry-After"] == "30"
    uploaded(upload(client_for(bob), b"x", "bobs.txt"))
    assert Attachment.objects.filter(uploader=alice).count() == 2


def test_upload_needs_a_signed_in_user(api):
    response = upload(api, b"x", "x.txt")
    assert (response.status_code, response.json()["error_code"]) == (401, "AUTHENTICATION_FAILED")


def test_a_large_upload_moved_into_storage_is_closed_at_once(alice, media_root, monkeypatch):
    """Django closes uploads with the response, which a client going away skips: the moved temporary
    file's finalizer then failed to remove it, a traceback on the server's stderr."""
    import gc
    import sys

    from django.core.files.uploadedfile import TemporaryUploadedFile

    from media.services import attachment_upload

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    upload = TemporaryUploadedFile("big.bin", "application/octet-stream", 300_000, None)
    upload.write(b"\x01\x02" * 150_000)
    upload.seek(0)
    attachment = attachment_upload(actor=alice, upload=upload)
    assert upload.closed
    assert (media_root / attachment.file).read_bytes() == b"\x01\x02" * 150_000
    del upload
    gc.collect()
    assert unraisable == []
