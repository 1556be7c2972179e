"""Pictures as others download them: EXIF orientation applied, location and every other piece of
metadata dropped, a thumbnail made; decompression bombs and files Pillow cannot read refused.
Runs in the request's worker thread, never on the event loop."""

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from imsuite.errors import DomainError, validation_error

THUMBNAIL_SIZE = (320, 320)
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass
class ProcessedImage:
    data: bytes | None  # the picture re-encoded without metadata; None keeps the uploaded bytes
    mime: str
    width: int
    height: int
    thumbnail: bytes  # WebP


def _refuse(reason: str, message: str) -> DomainError:
    return validation_error("file", reason, message)


def open_checked(path: str | Path) -> Image.Image:
    """The image at `path`, its size checked against UPLOAD_MAX_PIXELS before any pixel is decoded."""
    limit = settings.IMSUITE["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise _refuse("image_too_large", f"An image may have at most {limit} pixels.") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise _refuse("corrupt", "This image cannot be read.") from error
    if width * height > limit or width < 1 or height < 1:
        image.close()
        raise _refuse("image_too_large", f"An image may have at most {limit} pixels.")
    return image


def process_image(path: str | Path) -> ProcessedImage:
    """Read, check and clean the picture at `path` (its type already sniffed as a raster image)."""
    image = open_checked(path)
    with image:
        mime = _FORMATS.get(image.format or "", "")
        if not mime:
            raise _refuse("type", "Images are JPEG, PNG, GIF or WebP.")
        animated = getattr(image, "is_animated", False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
                upright = image if animated else ImageOps.exif_transpose(image)
                data = None if animated else _without_metadata(upright, image.format, image.info)
                thumbnail = _thumbnail(upright)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as error:
            raise _refuse("corrupt", "This image cannot be read.") from error
        width, height = upright.size
    return ProcessedImage(data=data, mime=mime, width=width, height=height, thumbnail=thumbnail)


def _without_metadata(image: Image.Image, fmt: str, info: dict) -> bytes:
    """The picture encoded anew with nothing but its pixels and colour profile: Pillow writes no
    EXIF, XMP, comments or text chunks unless asked to. (An animated GIF or WebP is kept as
    uploaded: GIF has no EXIF, and re-encoding every frame costs more than it gains.)"""
    out = io.BytesIO()
    options: dict = {"icc_profile": info.get("icc_profile")} if info.get("icc_profile") else {}
    if fmt == "JPEG":
        image = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
        image.save(out, "JPEG", quality=90, **options)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=90, **options)
    elif fmt == "GIF":
        image.save(out, "GIF")
    else:
        image.save(out, "PNG", **options)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail(THUMBNAIL_SIZE)
    has_alpha = small.mode in ("RGBA", "LA") or (small.mode == "P" and "transparency" in small.info)
    small = small.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    small.save(out, "WEBP", quality=80)
    return out.getvalue()
