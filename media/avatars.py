"""Uploaded avatars of people and groups.

The picture is read with Pillow from the bytes (never trusting a name or a header), turned upright
by its EXIF orientation, cropped to a centred square and made a 256x256 WebP that carries no
metadata. It is stored as `avatars/<32 hex>.webp` in the media storage and is public by link: the
random name is the secret, like a profile picture on any chat service (GET /media/avatars/<name>).

Whoever sets `avatar_url` calls `avatar_replaced` in the same transaction; once it commits, the
file the old URL named is removed unless some row still names it (a URL copied into another
profile keeps the file alive rather than breaking someone else's picture).
"""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from imsuite.errors import validation_error


def media_storage():  # until the core's media.storage lands
    from django.core.files.storage import storages

    return storages["media"]


def absolute(path: str) -> str:  # until the core's media.signing lands
    return settings.PUBLIC_BASE_URL + path


AVATAR_SIZE = 256
AVATAR_DIR = "avatars/"
AVATAR_PATH = "/media/avatars/"
NAME_RE = re.compile(r"[0-9a-f]{32}\.webp")
_URL_NAME_RE = re.compile(r"/media/avatars/([0-9a-f]{32}\.webp)\Z")
# The raster formats people pick as a picture. Pillow reads many more (some through outside
# programs, such as EPS through Ghostscript); none of those is offered to it.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# The models whose `avatar_url` may name an uploaded avatar (looked up by name: media sits below them).
HOLDERS = (("accounts", "User"), ("groups", "Group"))


def avatar_image(upload: UploadedFile) -> bytes:
    """The avatar made from an uploaded picture: upright, centre-cropped square, 256x256 WebP,
    no metadata. Refusals: VALIDATION_ERROR field `file`, reason `empty`, `too_large` (413), `type`
    (not a picture), `image_too_large` (more than UPLOAD_MAX_PIXELS pixels), `corrupt`."""
    limit = settings.IMSUITE["UPLOAD_MAX_BYTES"]
    if not upload.size:
        raise validation_error("file", "empty", "The file is empty.")
    if upload.size > limit:
        raise too_large(limit)
    upload.seek(0)
    try:
        with Image.open(upload, formats=FORMATS) as image:
            if image.width * image.height > settings.IMSUITE.get("UPLOAD_MAX_PIXELS", 50_000_000):
                raise image_too_large()
            image.draft(None, (AVATAR_SIZE, AVATAR_SIZE))  # JPEG: decode at the smallest scale that fits
            upright = ImageOps.exif_transpose(image)
            square = ImageOps.fit(
                upright.convert("RGBA" if upright.has_transparency_data else "RGB"),
                (AVATAR_SIZE, AVATAR_SIZE),
                Image.Resampling.LANCZOS,
            )
    except UnidentifiedImageError as exc:
        raise validation_error("file", "type", "An avatar is a JPEG, PNG, GIF or WebP picture.") from exc
    except Image.DecompressionBombError as exc:
        raise image_too_large() from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # what Pillow raises for broken data
        raise validation_error("file", "corrupt", "This picture cannot be read.") from exc
    out = BytesIO()
    square.save(out, "WEBP", quality=85)  # WebP is written with only the metadata passed here: none
    return out.getvalue()


@contextmanager
def avatar_stored(upload: UploadedFile) -> Iterator[str]:
    """Make and store the avatar; yields its URL for the caller to set. If the caller fails, the
    stored file is removed again."""
    name = f"{secrets.token_hex(16)}.webp"
    media_storage().save(AVATAR_DIR + name, ContentFile(avatar_image(upload)))
    try:
        yield absolute(AVATAR_PATH + name)
    except BaseException:
        media_storage().delete(AVATAR_DIR + name)
        raise


def avatar_name(url: str) -> str | None:
    """The stored name an avatar URL of ours points at (None for an outside URL)."""
    match = _URL_NAME_RE.search(url or "")
    return match.group(1) if match else None


def avatar_replaced(old_url: str, new_url: str) -> None:
    """Call inside the transaction that changes an avatar_url: after it commits, the uploaded file
    the old URL named is removed, unless a row still names it."""
    name = avatar_name(old_url)
    if name and old_url != new_url:
        transaction.on_commit(lambda: _remove_unused(name))


def _remove_unused(name: str) -> None:
    for app_label, model_name in HOLDERS:
        holder = apps.get_model(app_label, model_name)
        if holder.objects.filter(avatar_url__endswith=AVATAR_PATH + name).exists():
            return
    media_storage().delete(AVATAR_DIR + name)


def image_too_large():
    return validation_error("file", "image_too_large", "This picture has too many pixels.")


def too_large(limit: int):
    return validation_error("file", "too_large", f"The file is larger than {limit} bytes.")


def upload_rate_limit(actor) -> None:  # until the core's lands
    from imsuite.ratelimit import rate_limit

    limits = settings.IMSUITE
    rate_limit("upload", actor.pk, limits["RATE_LIMIT_UPLOADS"], limits["RATE_LIMIT_UPLOADS_WINDOW_SECONDS"])
