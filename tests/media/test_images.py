"""Pictures through POST /api/uploads: what others download carries no metadata (EXIF, location,
XMP, comments, text) whatever the format, stands upright, keeps its transparency and animation,
and has a thumbnail; decompression bombs, corrupt and truncated files are refused with nothing
stored."""

from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from PIL import Image, ImageSequence

from media.models import Attachment
from tests.accounts.test_api import assert_error, check
from tests.media import pictures
from tests.media.conftest import stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


def upload(client, data: bytes, name: str = "photo.jpg"):
    file = BytesIO(data)
    file.name = name
    return client.post("/api/uploads", {"file": file}, format="multipart")


def download(url: str) -> bytes:
    """What anyone the link was handed to gets (the signed link is the permission)."""
    response = Client().get(url)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def opened(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


def near(pixel: tuple, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def assert_nothing_stored(media_dir: Path) -> None:
    assert stored_files(media_dir) == [] and Attachment.objects.count() == 0


# --- metadata --------------------------------------------------------------------------------

WITH_SECRETS: list[tuple[str, Callable[[], bytes], str, str, int]] = [
    ("jpeg", lambda: pictures.jpeg_with_secrets(pictures.halves((30, 20))), "image/jpeg", "JPEG", 1),
    ("png", pictures.png_with_secrets, "image/png", "PNG", 1),
    ("webp", pictures.webp_with_secrets, "image/webp", "WEBP", 1),
    ("mpo", pictures.mpo_with_secrets, "image/jpeg", "JPEG", 1),  # a phone's photo: its first picture
    ("gif", pictures.gif_with_secrets, "image/gif", "GIF", 1),
    ("animated-gif", lambda: pictures.gif_with_secrets(animated=True), "image/gif", "GIF", 3),
    ("animated-webp", pictures.animated_webp_with_secrets, "image/webp", "WEBP", 3),
    ("animated-png", pictures.animated_png_with_secrets, "image/png", "PNG", 3),
]


@pytest.mark.parametrize(
    ("make", "mime", "fmt", "frames"),
    [case[1:] for case in WITH_SECRETS],
    ids=[case[0] for case in WITH_SECRETS],
)
def test_no_metadata_reaches_anyone_who_downloads(alice, client_for, make, mime: str, fmt: str, frames: int):
    data = make()
    assert any(secret in data for secret in pictures.SECRETS)  # the upload has them
    body = check(upload(client_for(alice), data), 201)
    assert (body["kind"], body["mime"], body["width"], body["height"]) == ("image", mime, 30, 20)
    original = download(body["url"])
    assert [secret for secret in pictures.SECRETS if secret in original] == []
    image = opened(original)
    assert (image.format, getattr(image, "n_frames", 1), image.size) == (fmt, frames, (30, 20))
    exif = image.getexif()
    assert dict(exif) == {} and exif.get_ifd(pictures.GPS_IFD) == {}
    assert not {"comment", "xmp", "exif", "Comment", "XML:com.adobe.xmp"} & set(image.info)
    assert body["size"] == len(original) == Attachment.objects.get(pk=body["id"]).size
    thumbnail = download(body["thumbnail"])
    assert [secret for secret in pictures.SECRETS if secret in thumbnail] == []
    assert dict(opened(thumbnail).getexif()) == {}


def test_exif_orientation_is_applied_and_dropped(alice, client_for):
    # Stored 20x10, left half red; Orientation 6 shows it turned a quarter right: 10x20, red on top.
    data = pictures.jpeg_with_secrets(pictures.halves((20, 10)), orientation=6)
    body = check(upload(client_for(alice), data), 201)
    assert (body["width"], body["height"]) == (10, 20)
    image = opened(download(body["url"]))
    assert image.size == (10, 20) and pictures.ORIENTATION not in image.getexif()
    assert near(image.getpixel((5, 2)), pictures.RED) and near(image.getpixel((5, 17)), pictures.BLUE)
    thumbnail = opened(download(body["thumbnail"]))
    assert thumbnail.size == (10, 20) and near(thumbnail.getpixel((5, 2)), pictures.RED)


def test_a_thumbnail_is_made(alice, client_for):
    body = check(upload(client_for(alice), pictures.jpeg(pictures.halves((1000, 500)))), 201)
    response = Client().get(body["thumbnail"])
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    thumbnail = opened(b"".join(response.streaming_content))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (320, 160))
    assert near(thumbnail.getpixel((10, 80)), pictures.RED) and near(
        thumbnail.getpixel((310, 80)), pictures.BLUE
    )


def test_png_keeps_its_transparency(alice, client_for):
    body = check(upload(client_for(alice), pictures.png_with_alpha((64, 48)), "a.png"), 201)
    assert (body["mime"], body["width"], body["height"]) == ("image/png", 64, 48)
    image = opened(download(body["url"]))
    assert image.mode == "RGBA" and image.getpixel((5, 20))[3] == 0 and image.getpixel((60, 20))[3] == 255
    thumbnail = opened(download(body["thumbnail"]))
    assert thumbnail.mode == "RGBA" and thumbnail.getpixel((5, 20))[3] == 0


def test_an_animated_gif_keeps_every_frame_and_its_timing(alice, client_for):
    data = pictures.animated_gif()
    body = check(upload(client_for(alice), data, "dance.gif"), 201)
    assert (body["mime"], body["width"], body["height"]) == ("image/gif", 30, 20)
    original = download(body["url"])
    assert original == data  # nothing to drop: the frames byte for byte
    image = Image.open(BytesIO(original))
    assert image.is_animated and image.info["loop"] == 0
    shown = [
        (frame.info["duration"], frame.convert("RGB").getpixel((1, 1)))
        for frame in ImageSequence.Iterator(image)
    ]
    assert shown == list(zip(pictures.FRAME_DURATIONS, pictures.FRAME_COLOURS, strict=True))
    thumbnail = opened(download(body["thumbnail"]))
    assert near(thumbnail.getpixel((1, 1)), pictures.FRAME_COLOURS[0])


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        (pictures.bomb_png(8000), None),  # 64 M pixels > UPLOAD_MAX_PIXELS (50 M)
        (pictures.bomb_png(14000), None),  # 196 M: past Pillow's own bomb error too
        (pictures.jpeg(pictures.halves((200, 100))), 19_999),  # a lower limit from the environment
    ],
    ids=["64M-pixels", "196M-pixels", "limit-setting"],
)
def test_a_decompression_bomb_is_refused(alice, client_for, media_dir, settings, data: bytes, limit):
    if limit is not None:
        settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_MAX_PIXELS": limit}
    assert len(data) < 200_000  # small on the wire, huge in memory
    response = upload(client_for(alice), data, "small.png")
    assert_error(response, 400, "VALIDATION_ERROR", field="file", reason="image_too_large")
    assert_nothing_stored(media_dir)


@pytest.mark.parametrize(
    "data",
    [
        pictures.corrupt_jpeg(),
        pictures.truncated(pictures.jpeg(pictures.halves((300, 300)))),
        pictures.truncated(pictures.encoded(pictures.halves((300, 300)), "PNG")),
        pictures.truncated(pictures.gif_with_secrets(animated=True)),
        pictures.truncated(pictures.animated_webp_with_secrets()),
    ],
    ids=[
        "corrupt-jpeg",
        "truncated-jpeg",
        "truncated-png",
        "truncated-animated-gif",
        "truncated-animated-webp",
    ],
)
def test_a_corrupt_or_truncated_picture_is_refused(alice, client_for, media_dir, data: bytes):
    assert_error(upload(client_for(alice), data), 400, "VALIDATION_ERROR", field="file", reason="corrupt")
    assert_nothing_stored(media_dir)
