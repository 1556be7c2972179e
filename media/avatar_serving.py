"""GET /media/avatars/<name>: uploaded avatars, public by link (the name is 128 random bits) and
never changed under their name (a new avatar is a new name), so browsers may keep them for a year.
Served like attachments (media.serving): from disk, through the proxy, or by the object store."""

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from imsuite.errors import not_found

from .avatars import AVATAR_DIR, NAME_RE
from .serving import serve_stored, serving_headers

CACHE_FOREVER = "public, max-age=31536000, immutable"


def public_webp(directory: str, name: str, pattern: re.Pattern[str], what: str) -> HttpResponse:
    """A stored WebP that is public by its name and never changed under it (avatars, link
    preview thumbnails); NOT_FOUND for a name that is not of the pattern."""
    if not pattern.fullmatch(name):
        error = not_found(what)
        return JsonResponse(error.as_dict(), status=error.http_status)
    headers = {**serving_headers("image/webp", name), "Cache-Control": CACHE_FOREVER}
    return serve_stored(directory + name, headers)


@require_safe
def avatar_file(request: HttpRequest, name: str) -> HttpResponse:
    return public_webp(AVATAR_DIR, name, NAME_RE, "Avatar")
