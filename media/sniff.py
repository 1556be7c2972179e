"""The MIME type of an upload, read from its first bytes: never from its name or the client's header,
which anyone can set to make a page look like a picture."""

import filetype

HEAD_BYTES = 8192
# Pictures Pillow re-encodes and browsers show inline; any other image type is served as a file.
RASTER_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# An animated PNG is a PNG to every browser (and to Pillow): a picture, not a file to download.
_SAME_AS = {"image/apng": "image/png"}


def sniff(head: bytes) -> str:
    """The type of content starting with `head`: a known binary format, text/plain for UTF-8
    text (HTML and SVG included: they are only ever served as text or as a download), or
    application/octet-stream."""
    kind = filetype.guess(head)
    if kind is not None:
        return _SAME_AS.get(kind.mime, kind.mime)
    if _is_text(head):
        return "text/plain"
    return "application/octet-stream"


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut at the end of the head is still text
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


def is_inline_safe(mime: str) -> bool:
    """Whether the browser may show it in place: raster images, audio and video run no script."""
    return mime in RASTER_IMAGES or mime.startswith(("audio/", "video/"))
