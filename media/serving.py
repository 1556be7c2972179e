"""GET /media/<id>/<variant>: the bytes of a signed link.

The signature is the permission (media.signing): links are handed only to those who may see the
message. What is served can never run in this site's origin: the type stored is the one read
from the bytes, `nosniff` stops the browser guessing another, anything but a raster image, audio or
video is a download, and a sandbox CSP covers the rest. The bytes never pass through a Python loop
in production: an object store answers a presigned link itself, and a proxy serves local files
through X-Accel-Redirect (MEDIA_ACCEL_REDIRECT_PREFIX); only the embedded mode streams the file."""

import os
import re
import time
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from imsuite.errors import DomainError, not_found

from .models import Attachment
from .signing import check_link
from .sniff import is_inline_safe
from .storage import media_storage

_RANGE = re.compile(r"bytes=([0-9]{1,15})?-([0-9]{1,15})?")
PRESIGNED_SECONDS = 300  # an object store's own link, made per request: only long enough to start


def serving_headers(mime: str, name: str) -> dict[str, str]:
    """Content-Type, Content-Disposition and the headers that keep a file from running as a page."""
    inline = is_inline_safe(mime)
    if inline:
        content_type = mime
    elif mime == "text/plain":
        content_type = "text/plain; charset=utf-8"
    else:  # a download: no type a browser or a plug-in might act on
        content_type = "application/octet-stream"
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition_header(not inline, name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }


@require_safe
def media_file(request: HttpRequest, attachment_id: int, variant: str) -> HttpResponse:
    try:
        check_link(attachment_id, variant, request.GET.get("exp", ""), request.GET.get("sig", ""))
        row = (
            Attachment.objects.filter(pk=attachment_id)
            .values_list("file", "thumbnail", "mime", "name")
            .first()
        )
        if row is None or (variant == "thumb" and not row[1]):
            raise not_found("File")
    except DomainError as error:
        return JsonResponse(error.as_dict(), status=error.http_status)
    file, thumbnail, mime, name = row
    if variant == "thumb":
        file, mime, name = thumbnail, "image/webp", name.rsplit(".", 1)[0] + ".webp"
    headers = serving_headers(mime, name)
    headers["Cache-Control"] = f"private, max-age={max(0, int(request.GET['exp']) - int(time.time()))}"
    return serve_stored(file, headers, request.headers.get("Range", ""))


def serve_stored(name: str, headers: dict[str, str], ranges: str = "") -> HttpResponse:
    """The stored file `name` with these headers (serving_headers' at least): streamed from disk
    (one byte range if asked), handed to the proxy (X-Accel-Redirect), or a 302 to the object
    store's presigned link; 404 NOT_FOUND for a file missing on disk."""
    storage = media_storage()
    try:
        path = storage.path(name)
    except NotImplementedError:  # an object store: the client fetches from it directly
        parameters = {
            "ResponseContentType": headers["Content-Type"],
            "ResponseContentDisposition": headers["Content-Disposition"],
        }
        response: Any = HttpResponseRedirect(
            storage.url(name, parameters=parameters, expire=PRESIGNED_SECONDS)
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
    prefix = getattr(settings, "MEDIA_ACCEL_REDIRECT_PREFIX", "")
    if prefix:
        response = HttpResponse(headers=headers)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + name
        return response
    try:
        handle = open(path, "rb")  # noqa: SIM115  (FileResponse closes it)
    except FileNotFoundError:
        error = not_found("File")
        return JsonResponse(error.as_dict(), status=error.http_status)
    size = os.fstat(handle.fileno()).st_size
    wanted = _byte_range(ranges, size)
    if wanted is None:
        response = FileResponse(handle)
        response.block_size = 64 * 1024  # Django reads 4 KiB at a time: 16 times the sends
    else:  # a player seeking in audio or video
        start, end = wanted
        handle.seek(start)
        response = StreamingHttpResponse(_part(handle, end - start + 1), status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    for header, value in headers.items():
        response[header] = value
    return response


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range of a `Range: bytes=a-b` (or `a-`, `-n`) header within the file; None for
    none, several or a malformed one (answered with the whole file, which RFC 9110 allows)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    elif last:
        start, end = max(0, size - int(last)), size - 1
    else:
        return None
    return (start, end) if start <= end else None


def _part(handle: IO[bytes], length: int) -> Iterator[bytes]:
    with handle:
        while length > 0:
            chunk = handle.read(min(length, 64 * 1024))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
