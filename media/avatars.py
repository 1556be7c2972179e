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
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, ImageOps

from accounts.models import User
from imsuite.errors import validation_error

from .images import open_checked, unreadable
from .services import upload_admit
from .signing import absolute
from .sniff import HEAD_BYTES, RASTER_IMAGES, sniff
from .storage import media_storage

AVATAR_SIZE = 256
AVATAR_DIR = "avatars/"
AVATAR_PATH = "/media/avatars/"
NAME_RE = re.compile(r"[0-9a-f]{32}\.webp")
_URL_NAME_RE = re.compile(r"/media/avatars/([0-9a-f]{32}\.webp)\Z")
# The models whose `avatar_url` may name an uploaded avatar (looked up by name: media sits below groups).
HOLDERS = (("accounts", "User"), ("groups", "Group"))


def avatar_image(upload: UploadedFile) -> bytes:
    """The avatar made from an uploaded picture: upright, centre-cropped square, 256x256 WebP,
    no metadata. Refusals (VALIDATION_ERROR, field `file`): `type` (not a JPEG, PNG, GIF or WebP
    picture), `image_too_large` (more than UPLOAD_MAX_PIXELS pixels), `corrupt`."""
    upload.seek(0)
    if sniff(upload.read(HEAD_BYTES)) not in RASTER_IMAGES:
        raise validation_error("file", "type", "An avatar is a JPEG, PNG, GIF or WebP picture.")
    upload.seek(0)
    with open_checked(upload) as image:
        try:
            image.draft(None, (AVATAR_SIZE, AVATAR_SIZE))  # JPEG: decode at the smallest scale that fits
            upright = ImageOps.exif_transpose(image)
            square = ImageOps.fit(
                upright.convert("RGBA" if upright.has_transparency_data else "RGB"),
                (AVATAR_SIZE, AVATAR_SIZE),
                Image.Resampling.LANCZOS,
            )
        except (OSError, ValueError, SyntaxError) as error:
            raise unreadable() from error
    out = BytesIO()
    square.save(out, "WEBP", quality=85)  # WebP is written with only the metadata passed here: none
    return out.getvalue()


@contextmanager
def avatar_stored(*, actor: User, upload: UploadedFile) -> Iterator[str]:
    """Admit the upload (size, rate limit: media.services.upload_admit), make the avatar and store
    it; yields its URL for the caller to set. If the caller fails, the stored file goes again."""
    upload_admit(actor=actor, upload=upload)
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


def is_avatar_url(url: str) -> bool:
    """Whether this is the URL an upload here was given (relative while PUBLIC_BASE_URL is empty)."""
    name = avatar_name(url)
    return name is not None and url == absolute(AVATAR_PATH + name)


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
