"""Pictures as others download them: EXIF orientation applied, location and every other piece of
metadata dropped, a thumbnail made; decompression bombs and files Pillow cannot read refused.
Runs in the request's worker thread, never on the event loop."""

import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from imsuite.errors import DomainError, validation_error

THUMBNAIL_SIZE = (320, 320)
# Pillow is offered these formats only (some others, such as EPS, run outside programs). A JPEG
# may open as MPO, what many phones write: a JPEG followed by more pictures (a depth map, a
# preview); the first is the photo.
_OPENED = ("JPEG", "PNG", "GIF", "WEBP")
_FORMATS = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
Source = str | Path | IO[bytes]


@dataclass
class ProcessedImage:
    data: bytes  # without metadata: a still picture encoded anew, an animation's frames as made
    mime: str
    width: int
    height: int
    thumbnail: bytes  # WebP


def _refuse(reason: str, message: str) -> DomainError:
    return validation_error("file", reason, message)


def unreadable() -> DomainError:
    return _refuse("corrupt", "This image cannot be read.")


def open_checked(source: Source) -> Image.Image:
    """The image (a path or an open file), its size checked against UPLOAD_MAX_PIXELS before any
    pixel is decoded."""
    limit = settings.IMSUITE["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source, formats=_OPENED)
            width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise _refuse("image_too_large", f"An image may have at most {limit} pixels.") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise unreadable() from error
    if width * height > limit or width < 1 or height < 1:
        image.close()
        raise _refuse("image_too_large", f"An image may have at most {limit} pixels.")
    return image


def process_image(source: Source) -> ProcessedImage:
    """Read, check and clean the picture (its type already sniffed as a raster image)."""
    image = open_checked(source)
    with image:
        mime = _FORMATS[image.format or ""]
        animated = image.format != "MPO" and getattr(image, "is_animated", False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
                upright = image if animated else ImageOps.exif_transpose(image)
                if animated or image.format == "GIF":  # frames kept as made, metadata blocks dropped
                    data = _FRAMES_KEPT[image.format or ""](_read(source))
                else:
                    data = _without_metadata(upright, mime, image.info)
                thumbnail = webp_thumbnail(upright)
        except (OSError, ValueError, SyntaxError, IndexError, Image.DecompressionBombWarning) as error:
            raise unreadable() from error
        width, height = upright.size
    return ProcessedImage(data=data, mime=mime, width=width, height=height, thumbnail=thumbnail)


def _without_metadata(image: Image.Image, mime: str, info: dict) -> bytes:
    """A still picture encoded anew with nothing but its pixels and colour profile: Pillow writes no
    EXIF, XMP or text chunks unless asked to; a JPEG's comment it would carry over, so it is
    emptied. An MPO keeps its first picture, as a JPEG."""
    out = io.BytesIO()
    options: dict = {"icc_profile": info.get("icc_profile")} if info.get("icc_profile") else {}
    if mime == "image/jpeg":
        image = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
        image.save(out, "JPEG", quality=90, comment=b"", **options)
    elif mime == "image/webp":
        image.save(out, "WEBP", quality=90, **options)
    else:
        image.save(out, "PNG", **options)
    return out.getvalue()


def _read(source: Source) -> bytes:
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    source.seek(0)
    return source.read()


# GIF extensions kept: the frames' timing and transparency, and the looping ones. Comments, XMP,
# colour profiles and any other application's data are dropped.
_GIF_GRAPHIC_CONTROL = 0xF9
_GIF_APPLICATION = 0xFF
_GIF_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _gif_without_metadata(data: bytes) -> bytes:
    """The GIF's frames byte for byte (an animation stays as it was made), without its metadata
    blocks. A file cut short raises IndexError."""
    pos = 13 + _gif_colour_table(data[10])
    out = [data[:pos]]
    while data[pos] != 0x3B:  # the trailer; anything after it is dropped too
        start = pos
        if data[pos] == 0x21:  # an extension: introducer, label, sub-blocks
            label = data[pos + 1]
            pos = _gif_sub_blocks(data, pos + 2)
            keep = label == _GIF_GRAPHIC_CONTROL or (
                label == _GIF_APPLICATION and data[start + 3 : start + 14] in _GIF_LOOPING
            )
        elif data[pos] == 0x2C:  # a frame: descriptor, colour table, LZW code size, sub-blocks
            pos = _gif_sub_blocks(data, pos + 10 + _gif_colour_table(data[pos + 9]) + 1)
            keep = True
        else:  # a stray byte between blocks: dropped, as decoders skip it
            pos += 1
            continue
        if keep:
            out.append(data[start:pos])
    out.append(b"\x3b")
    return b"".join(out)


def _gif_colour_table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _gif_sub_blocks(data: bytes, pos: int) -> int:
    """Where the sub-blocks starting at `pos` end (past their zero-length terminator)."""
    while data[pos]:
        pos += 1 + data[pos]
    return pos + 1


_WEBP_METADATA = (b"EXIF", b"XMP ")
_VP8X_METADATA_FLAGS = 0x08 | 0x04  # "has EXIF", "has XMP"


def _webp_without_metadata(data: bytes) -> bytes:
    """An animated WebP's chunks as they are (every frame untouched), less EXIF and XMP; the
    header's flags and the RIFF size follow."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("WebP: not a RIFF WEBP file")
    chunks = []
    for fourcc, chunk in _chunks(data, 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))):
        if fourcc == b"VP8X":
            chunk = chunk[:8] + bytes([chunk[8] & ~_VP8X_METADATA_FLAGS & 0xFF]) + chunk[9:]
        if fourcc not in _WEBP_METADATA:
            chunks.append(chunk)
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _chunks(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, bytes]]:
    """RIFF chunks (FourCC, little-endian size, payload padded to even) from pos to end."""
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + size + (size & 1)
        if stop > end + (size & 1):
            raise IndexError("WebP: cut short")
        yield fourcc, data[pos:stop].ljust(stop - pos, b"\0")
        pos = stop


# PNG chunks that draw the picture or its animation; text, EXIF, time and private chunks are not.
_PNG_DRAWING = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT"}
    | {b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD"}
)


def _png_without_metadata(data: bytes) -> bytes:
    """An animated PNG's chunks that draw it, as they are (each keeps its CRC)."""
    out, pos = [data[:8]], 8
    while True:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        end = pos + 12 + size
        if end > len(data):
            raise IndexError("PNG: cut short")
        if kind in _PNG_DRAWING:
            out.append(data[pos:end])
        if kind == b"IEND":
            return b"".join(out)
        pos = end


_FRAMES_KEPT: dict[str, Callable[[bytes], bytes]] = {
    "GIF": _gif_without_metadata,
    "WEBP": _webp_without_metadata,
    "PNG": _png_without_metadata,
}


def webp_thumbnail(image: Image.Image) -> bytes:
    """A WebP at most THUMBNAIL_SIZE (uploads, link previews)."""
    small = image.copy()
    small.thumbnail(THUMBNAIL_SIZE)
    has_alpha = small.mode in ("RGBA", "LA") or (small.mode == "P" and "transparency" in small.info)
    small = small.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    small.save(out, "WEBP", quality=80)
    return out.getvalue()
